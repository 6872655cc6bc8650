"""The app a job runs in: built once per worker process, on first use (never at import time)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from flask import Flask
from sqlalchemy.orm import Session

_app: Flask | None = None


def job_app() -> Flask:
    global _app
    if _app is None:
        from portal import create_app

        _app = create_app()
    return _app


def use_app(app: Flask | None) -> None:
    """Let a test or an embedding process decide which app jobs run in."""
    global _app
    _app = app


@contextmanager
def job_session() -> Iterator[Session]:
    """An app context and a database session that commits on success and rolls back on error."""
    app = job_app()
    with app.app_context():
        from portal.extensions import database

        with database().session_scope() as session:
            yield session
