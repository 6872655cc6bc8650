"""A token refresh in the middle of a request commits in its own transaction, on SQLite and
PostgreSQL, with real commits (not the per-test rollback fixture)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import create_app
from portal.models import Account, LedgerChoice, QboConnection, User, utcnow
from tests.integration.conftest import connect
from tests.portal_fixtures import TEST_PASSWORD, _test_password_hash, fresh_database, make_settings, post_form, sign_in


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_token_refresh_in_the_middle_of_a_request_commits(backend, tmp_path, redis_url, qbo, fusebill_staging, fusebill_production):
    """With its own transaction, while the request has read (and on SQLite, in the default journal
    mode, would hold a lock): the per-test rollback fixture cannot show this, real commits can."""
    with fresh_database(backend, tmp_path) as fresh:
        settings = make_settings(fresh.url, redis_url, tmp_path / "instance", qbo_emulator_url=qbo.url,
                                 fusebill_staging_url=fusebill_staging.url, fusebill_production_url=fusebill_production.url)
        app = create_app(settings, database=fresh.database)
        client = app.test_client()
        with fresh.database.session_scope() as session:
            account = Account(name="Real Commits", fusebill_account_id=f"FB-RC-{backend}", integration_enabled=True)
            session.add(account)
            session.flush()
            admin = User(email=f"rc-{backend}@example.com", password_hash=_test_password_hash(), role="admin", account_id=account.id)
            session.add(admin)
        sign_in(client, admin, TEST_PASSWORD)
        realm = qbo.create_company(name="Real Commits Co")
        connect(client, qbo, realm_id=realm)
        with fresh.database.session_scope() as session:
            connection = session.scalar(select(QboConnection).where(QboConnection.realm_id == realm))
            connection.access_token_expires_at = utcnow() + timedelta(minutes=1)  # due for refresh
            version = connection.token_version
        assert client.get("/setup/").status_code == 200  # the visit re-checks the company: refresh first
        assert post_form(client, "/setup/ledgers", "/setup/ledgers/create", {"ledger": "deferred_revenue"}).status_code == 302
        with fresh.database.session_scope() as session:
            connection = session.scalar(select(QboConnection).where(QboConnection.realm_id == realm))
            assert connection.token_version == version + 1 and connection.last_refresh_error is None
            assert session.scalar(select(LedgerChoice)) is not None
