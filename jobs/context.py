"""The app a job runs in: built once per worker process, on first use (never at import time)."""
from __future__ import annotations

from flask import Flask

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
