"""Alembic environment: runs migrations on the connection or URL handed in by portal.migrate."""
from __future__ import annotations

from alembic import context

from portal.db import build_engine
from portal.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things in place
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    url = config.attributes.get("database_url")
    if not url:
        raise RuntimeError("portal.migrate needs a database URL or a connection")
    engine = build_engine(url)
    with engine.connect() as conn:
        run_migrations(conn)
        conn.commit()
    engine.dispose()
