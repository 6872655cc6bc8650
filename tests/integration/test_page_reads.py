"""Pages only read: a GET writes nothing, and a page view does not spend the sync's QBO budget
(the company is re-checked at most every few minutes, and never by waiting on the rate limiter)."""
from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from redis import Redis
from sqlalchemy import select, text

from portal.migrate import upgrade
from portal.models import QboConnection
from portal.services.accounts import create_account, create_user
from tests.integration.conftest import connect, live
from tests.portal_fixtures import TEST_PASSWORD, fresh_database, sign_in
from tests.support.helpers import save_key, writes_recorded

SETUP_PAGES = ("/setup/", "/setup/connect", "/setup/ledgers", "/setup/taxes", "/setup/environment", "/setup/settings", "/setup/disconnect")


@pytest.fixture
def admin_client(client, session, migrated_database):
    """An admin of an account made the way the support console makes one (services.accounts)."""
    account = create_account(session, "Page Reads Ltd", f"FB-PR-{uuid.uuid4().hex[:8]}")
    account.integration_enabled = True
    admin = create_user(session, f"owner-{uuid.uuid4().hex[:8]}@example.com", TEST_PASSWORD, "admin", account=account)
    session.commit()
    sign_in(client, admin)
    return client, account


def test_an_account_has_both_environments_from_its_creation(session):
    account = create_account(session, "Both Envs Ltd", "FB-BOTH")
    session.flush()
    from portal.models import Environment

    kinds = set(session.scalars(select(Environment.kind).where(Environment.account_id == account.id)))
    assert kinds == {"sandbox", "production"}


def test_a_get_of_any_setup_page_writes_nothing(admin_client, session, qbo, fusebill_staging, migrated_database):
    client, account = admin_client
    engine = migrated_database.database.engine
    with writes_recorded(engine) as before_connect:
        for page in SETUP_PAGES:
            assert client.get(page).status_code in (200, 302), page
    assert before_connect == []

    realm = qbo.create_company(name="Read Only Co", country="CA", home_currency="CAD", tax="codes")
    connect(client, qbo, realm_id=realm)
    with writes_recorded(engine) as saving:
        assert save_key(client, fusebill_staging.create_account("sandbox")).status_code == 302
    assert saving  # (the recorder sees a POST's writes)
    with writes_recorded(engine) as after_connect:
        for page in SETUP_PAGES:
            assert client.get(page).status_code == 200, page
    assert after_connect == []


def _recheck_due(session, account) -> QboConnection:
    connection = live(session, account)
    connection.company_checked_at -= timedelta(minutes=10)
    session.commit()
    return connection


def test_two_page_views_within_a_few_minutes_recheck_the_company_once(admin_client, session, qbo):
    client, account = admin_client
    realm = qbo.create_company(name="Budget Co", auto_apply_credits=True)
    connect(client, qbo, realm_id=realm)
    total = lambda: qbo.request_counts(realm)["total"]  # noqa: E731

    before = total()
    for page in ("/setup/", "/setup/connect", "/setup/"):
        client.get(page)
    assert total() == before  # checked at connect, just now: no page re-checks

    qbo.set_preferences(realm, auto_apply_credits=False)
    _recheck_due(session, account)
    before = total()
    first = client.get("/setup/").get_data(as_text=True)
    assert total() == before + 2  # CompanyInfo + Preferences, once
    assert 'data-test="auto-apply-warning"' not in first  # and the page shows what it found
    client.get("/setup/connect")
    client.get("/setup/")
    assert total() == before + 2


def test_a_page_view_never_waits_on_the_rate_limiter(admin_client, session, qbo, redis_url):
    client, account = admin_client
    realm = qbo.create_company(name="Busy Co", auto_apply_credits=True)
    connect(client, qbo, realm_id=realm)
    qbo.set_preferences(realm, auto_apply_credits=False)
    connection = _recheck_due(session, account)
    checked_at = connection.company_checked_at

    # The sync has used this company's minute of QBO calls.
    redis = Redis.from_url(redis_url)
    key = f"fbqbo:rate:qbo:{realm}:60s"
    now = float(redis.time()[0])
    redis.zadd(key, {f"sync-{number}": now for number in range(500)})
    redis.expire(key, 120)
    try:
        before = qbo.request_counts(realm)["total"]
        started = time.monotonic()
        page = client.get("/setup/")
        elapsed = time.monotonic() - started
    finally:
        redis.delete(key)
    assert page.status_code == 200 and elapsed < 3, elapsed
    assert qbo.request_counts(realm)["total"] == before  # nothing sent
    body = page.get_data(as_text=True)
    assert 'data-test="auto-apply-warning"' in body  # the last known set-up, not an error
    assert "Could not re-check" not in body
    session.expire_all()
    unchanged = session.get(QboConnection, connection.id)
    assert unchanged.company_checked_at == checked_at and not unchanged.company_check_error


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_0004_gives_older_accounts_both_environments(backend, tmp_path):
    with fresh_database(backend, tmp_path, migrate=False) as fresh:
        with fresh.database.engine.connect() as connection:
            upgrade(connection=connection, revision="0003")
            connection.execute(text("INSERT INTO accounts (name, fusebill_account_id, integration_enabled, active_environment, created_at) "
                                    "VALUES ('Old', 'FB-OLD', true, 'sandbox', CURRENT_TIMESTAMP), ('Half', 'FB-HALF', true, 'sandbox', CURRENT_TIMESTAMP)"))
            half = connection.execute(text("SELECT id FROM accounts WHERE fusebill_account_id = 'FB-HALF'")).scalar_one()
            connection.execute(text("INSERT INTO environments (account_id, kind, display_name_parts, update_display_names, new_customers, schedule, created_at) "
                                    "VALUES (:id, 'sandbox', '[\"company_name\", \"last_name\"]', true, 'create', 'off', CURRENT_TIMESTAMP)"), {"id": half})
            connection.commit()
            upgrade(connection=connection, revision="0004")
            connection.commit()
            rows = connection.execute(text("SELECT a.fusebill_account_id, e.kind, e.display_name_parts FROM environments e "
                                           "JOIN accounts a ON a.id = e.account_id ORDER BY a.fusebill_account_id, e.kind")).all()
    kinds = [(account, kind) for account, kind, _parts in rows]
    assert kinds == [("FB-HALF", "production"), ("FB-HALF", "sandbox"), ("FB-OLD", "production"), ("FB-OLD", "sandbox")]
    assert "last_name" in str(rows[1][2])  # an existing environment is left as it was
