"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import IntegrityError

from portal.migrate import downgrade, upgrade
from portal.models import Base, EnablementRequest, User
from tests.portal_fixtures import fresh_database


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    with fresh_database(request.param, tmp_path, migrate=False) as fresh:
        yield fresh.database


def test_migrations_match_the_models_and_round_trip(empty_database):
    with empty_database.engine.connect() as connection:
        upgrade(connection=connection)
        connection.commit()
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        downgrade(connection=connection)
        connection.commit()
        upgrade(connection=connection)
        connection.commit()


def test_database_refuses_a_second_pending_request_and_an_admin_without_account(session, make_account, admin_of):
    account = make_account()
    admin = admin_of(account)
    session.add(EnablementRequest(account_id=account.id, requested_by_id=admin.id))
    session.commit()
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.add(EnablementRequest(account_id=account.id, requested_by_id=admin.id))
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.add(User(email="x@example.com", password_hash="x", role="admin", account_id=None))
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.add(User(email="y@example.com", password_hash="x", role="support", account_id=account.id))
