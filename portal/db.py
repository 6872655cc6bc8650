"""Engine and session handling.

One `Database` per app (or worker) holds the engine and the session factory. Views get the
request's session from `portal.extensions.db_session()`; services receive a session as an argument
and never open their own, so a use case runs in whatever transaction its caller chose.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def build_engine(url: str, **kwargs: object) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        _make_sqlite_transactional(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _make_sqlite_transactional(engine: Engine) -> None:
    """Let SQLAlchemy, not the sqlite3 module, issue BEGIN.

    Python's sqlite3 module starts transactions lazily and never around SAVEPOINT, which breaks
    nested transactions (and with them the per-test rollback). Turning off its transaction handling
    and emitting BEGIN ourselves is the recipe SQLAlchemy documents. Foreign keys are also off by
    default in SQLite; we want them enforced exactly as PostgreSQL does.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # Write-ahead log: a request reading the database does not block a token refresh from
        # committing in its own transaction (in the default journal mode any reader would).
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN")


class Database:
    def __init__(self, url: str, **engine_kwargs: object) -> None:
        self.url = url
        self.engine = build_engine(url, **engine_kwargs)
        self.pid = os.getpid()  # the process whose connections the pool holds (see jobs.context)
        self.session_factory: sessionmaker[Session] = sessionmaker(bind=self.engine, expire_on_commit=False)

    def new_session(self) -> Session:
        return self.session_factory()

    @contextmanager
    def session_scope(self) -> Iterator[Session]:
        """A session that commits when the block succeeds and rolls back when it raises."""
        session = self.new_session()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
