"""What a job runs with: built once per worker process from Settings (never at import time).

`job_context()` is the sync's: a ServiceContext (settings, database, vault, Redis) without a Flask
app. RQ forks a work horse per job; a horse inherits the parent's connection pool, whose sockets
it must not share, so the first use in a new process disposes the inherited pool (the parent keeps
its connections) and opens its own.
`job_app()` is kept for jobs that use Flask-bound services (maintenance).
"""
from __future__ import annotations

import os

from flask import Flask

_app: Flask | None = None
_context = None  # ServiceContext
_context_pid: int | None = None


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


def job_context():
    """The ServiceContext of this process (background: waits are the job's, not a person's)."""
    global _context, _context_pid
    if _context is None:
        from jobs.queues import redis_connection
        from portal.crypto import Vault
        from portal.db import Database
        from portal.services.context import ServiceContext
        from portal.settings import Settings

        if _app is not None:
            from portal.extensions import service_context

            with _app.app_context():
                base = service_context()
            _context = ServiceContext(base.settings, base.database, base.vault, base.redis, interactive=False)
        else:
            settings = Settings.from_env()
            _context = ServiceContext(settings, Database(settings.database_url), Vault(settings.encryption_keys),
                                      redis_connection(settings.redis_url), interactive=False)
    if _context_pid != os.getpid():
        # First use in this process: in a forked work horse the pool inherited from the parent holds
        # the parent's sockets; forget them (the parent keeps them). The process that opened them
        # keeps its pool as it is.
        if getattr(_context.database, "pid", None) != os.getpid():
            _context.database.engine.dispose(close=False)
            _context.database.pid = os.getpid()
        _context_pid = os.getpid()
    return _context


def use_context(context) -> None:
    """Let a test or an embedding process give jobs their context."""
    global _context, _context_pid
    _context, _context_pid = context, None
