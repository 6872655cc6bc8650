"""Refresh before expiry, rotation persisted, invalid_grant → Reconnect, and two workers at once."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.clients import qbo as qbo_client
from portal.models import Account, AuditEvent, Environment, QboConnection, utcnow
from portal.services.qbo_tokens import ReconnectRequired, call_qbo, valid_tokens
from tests.integration.conftest import connect, live
from tests.portal_fixtures import fresh_database, make_settings


def _ctx(app):
    from portal.extensions import service_context

    with app.app_context():
        return service_context()


def _token_calls(qbo, realm):
    return qbo.request_counts(realm).get("token", {})


def test_expiring_access_token_is_refreshed_and_the_rotated_refresh_token_kept(enabled, session, app, qbo):
    realm = qbo.create_company(name="Refresh Co")
    connect(enabled.client, qbo, realm_id=realm)
    ctx = _ctx(app)
    before = live(session, enabled.account)
    old_refresh = ctx.vault.decrypt(before.refresh_token_ciphertext)
    version_before = before.token_version
    before.access_token_expires_at = utcnow() + timedelta(minutes=2)  # inside the refresh margin
    session.commit()
    tokens = valid_tokens(ctx, before.id)
    after = live(session, enabled.account)
    assert after.token_version == version_before + 1
    assert tokens.refresh_token != old_refresh  # rotated …
    assert ctx.vault.decrypt(after.refresh_token_ciphertext) == tokens.refresh_token  # … and persisted
    assert after.access_token_expires_at - utcnow() > timedelta(minutes=55)
    assert after.last_refreshed_at is not None and after.last_refresh_error is None
    # the stored token is the one that works from now on
    setup = call_qbo(ctx, after.id, lambda api: api.company_setup())
    assert setup.company_name == "Refresh Co"


def test_a_401_on_a_token_we_thought_valid_refreshes_once_and_retries(enabled, session, app, qbo):
    realm = qbo.create_company(name="Expired Early Co")
    connect(enabled.client, qbo, realm_id=realm)
    ctx = _ctx(app)
    connection = live(session, enabled.account)
    version_before = connection.token_version
    qbo.set_faults(expire_tokens=True)  # QBO expires every current access token now
    try:
        setup = call_qbo(ctx, connection.id, lambda api: api.company_setup())
    finally:
        qbo.set_faults(expire_tokens=False)
    assert setup.company_name == "Expired Early Co"
    assert live(session, enabled.account).token_version == version_before + 1


def test_invalid_grant_marks_reconnect_audits_and_shows_a_banner(enabled, session, app, qbo):
    realm = qbo.create_company(name="Revoked Co")
    connect(enabled.client, qbo, realm_id=realm)
    ctx = _ctx(app)
    connection = live(session, enabled.account)
    # The user removes the app in QuickBooks: the grant is revoked at Intuit.
    qbo_client.revoke(qbo_client.intuit_app(ctx.settings, "sandbox"), ctx.vault.decrypt(connection.refresh_token_ciphertext))
    with pytest.raises(ReconnectRequired):
        valid_tokens(ctx, connection.id, force_refresh=True)
    connection = live(session, enabled.account)
    assert connection.needs_reconnect and connection.last_refresh_failed_at is not None
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "qbo.refresh_failed"))
    assert event.details["error"] == "invalid_grant"
    overview = enabled.client.get("/setup/").get_data(as_text=True)
    assert 'data-test="reconnect-banner"' in overview and 'data-step="connect" data-state="todo"' in overview
    page = enabled.client.get("/setup/connect").get_data(as_text=True)
    assert 'data-test="reconnect"' in page
    # Reconnecting to the same company renews the same connection.
    connect(enabled.client, qbo, realm_id=realm)
    renewed = live(session, enabled.account)
    assert renewed.id == connection.id and not renewed.needs_reconnect
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "qbo.reconnected")) is not None


def test_refresh_token_near_expiry_is_warned_once(enabled, session, qbo):
    realm = qbo.create_company(name="Expiring Co")
    connect(enabled.client, qbo, realm_id=realm)
    connection = live(session, enabled.account)
    connection.refresh_token_expires_at = utcnow() + timedelta(days=10)
    session.commit()
    for _ in range(2):
        page = enabled.client.get("/setup/").get_data(as_text=True)
        assert 'data-test="expiry-banner"' in page
    warnings = session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "qbo.refresh_token_expiring"))
    assert warnings == 1


# ------------------------------------------------------------------ two workers at once
@pytest.fixture(params=["sqlite", "postgresql"])
def committed_database(request, tmp_path):
    """A real database (real commits, many connections), not the per-test rollback one."""
    with fresh_database(request.param, tmp_path) as fresh:
        yield fresh.url, fresh.database


def test_two_concurrent_refreshes_leave_one_working_token(committed_database, redis_url, tmp_path, qbo, fusebill_staging, fusebill_production):
    from portal import create_app

    url, database = committed_database
    settings = make_settings(url, redis_url, tmp_path / "instance", qbo_emulator_url=qbo.url,
                             fusebill_staging_url=fusebill_staging.url, fusebill_production_url=fusebill_production.url)
    app = create_app(settings, database=database)
    ctx = _ctx(app)
    realm = qbo.create_company(name="Race Co")
    issued = qbo.tokens(realm, client_id=qbo_client.EMULATOR_CLIENT_ID, client_secret=qbo_client.EMULATOR_CLIENT_SECRET)
    with database.session_scope() as session:
        account = Account(name="Race", fusebill_account_id="FB-RACE", integration_enabled=True)
        session.add(account)
        session.flush()
        environment = Environment(account_id=account.id, kind="sandbox")
        session.add(environment)
        session.flush()
        connection = QboConnection(
            environment_id=environment.id, realm_id=realm, company_name="Race Co", token_version=0,
            access_token_ciphertext=ctx.vault.encrypt(issued["access_token"]), access_token_expires_at=utcnow() - timedelta(seconds=1),
            refresh_token_ciphertext=ctx.vault.encrypt(issued["refresh_token"]), refresh_token_expires_at=utcnow() + timedelta(days=100),
        )
        session.add(connection)
        session.flush()
        connection_id = connection.id
    refreshes_before = _token_calls(qbo, realm).get("refresh_token", 0)

    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker() -> None:
        barrier.wait()
        try:
            results.append(valid_tokens(ctx, connection_id))
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert _token_calls(qbo, realm).get("refresh_token", 0) - refreshes_before == 1  # one refresh, not two
    assert results[0].refresh_token == results[1].refresh_token == results[0].refresh_token
    with database.session_scope() as session:
        stored = session.get(QboConnection, connection_id)
        assert ctx.vault.decrypt(stored.refresh_token_ciphertext) == results[0].refresh_token
        assert stored.token_version == 1
    # the stored refresh token is the live one: refreshing with it works
    assert valid_tokens(ctx, connection_id, force_refresh=True).version == 2
