"""Connect QuickBooks: the OAuth happy path and every failure path, through the emulator."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, text

from portal.models import AuditEvent, QboConnection
from tests.integration.conftest import callback_path, connect, live, start_connect


def test_connect_stores_the_company_and_its_setup_and_audits(enabled, session, qbo):
    realm = qbo.create_company(name="Maple Books Sandbox", country="CA", home_currency="CAD", tax="codes", multicurrency=True)
    connect(enabled.client, qbo, realm_id=realm)
    connection = live(session, enabled.account)
    assert connection.realm_id == realm and connection.company_name == "Maple Books Sandbox"
    assert (connection.country, connection.home_currency, connection.multicurrency, connection.tax_setup) == ("CA", "CAD", True, "codes")
    assert connection.auto_apply_credit is False
    assert connection.access_token_expires_at and connection.refresh_token_expires_at
    page = enabled.client.get("/setup/connect").get_data(as_text=True)
    assert "Maple Books Sandbox" in page and "Tax codes" in page
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "qbo.connected")).details["realm_id"] == realm
    overview = enabled.client.get("/setup/").get_data(as_text=True)
    assert 'data-step="connect" data-state="done"' in overview
    assert 'data-step="taxes"' in overview  # a Canadian company with tax on gets the Tax Mapping step


def test_tokens_are_never_stored_in_plain_text(enabled, session, qbo):
    realm = qbo.create_company(name="Secretive Co")
    url = start_connect(enabled.client)
    params = qbo.authorize(url, realm_id=realm)
    enabled.client.get(callback_path(params))
    connection = live(session, enabled.account)
    raw = session.execute(text("SELECT * FROM qbo_connections WHERE id = :id"), {"id": connection.id}).mappings().one()
    dumped = " ".join(str(value) for value in raw.values())
    app_vault = enabled.client.application.extensions.get("portal.vault")
    access = app_vault.decrypt(connection.access_token_ciphertext)
    refresh = app_vault.decrypt(connection.refresh_token_ciphertext)
    assert access not in dumped and refresh not in dumped and params["code"] not in dumped
    page = enabled.client.get("/setup/connect").get_data(as_text=True)
    assert access not in page and refresh not in page


def _nothing_connected(session, enabled):
    assert live(session, enabled.account) is None
    assert session.scalar(select(func.count()).select_from(QboConnection)) == 0


def test_wrong_state_is_refused_and_changes_nothing(enabled, session, qbo):
    realm = qbo.create_company(name="Wrong State Co")
    params = qbo.authorize(start_connect(enabled.client), realm_id=realm)
    params["state"] = "forged-" + params["state"]
    response = enabled.client.get(callback_path(params))
    assert response.status_code == 400
    assert "This connection could not be verified" in response.get_data(as_text=True)
    _nothing_connected(session, enabled)


def test_state_from_another_session_is_refused(enabled, session, qbo, app, make_account, admin_of):
    from tests.portal_fixtures import sign_in

    realm = qbo.create_company(name="Other Session Co")
    params = qbo.authorize(start_connect(enabled.client), realm_id=realm)
    other = app.test_client()
    other_admin = admin_of(make_account(enabled=True))
    sign_in(other, other_admin)
    response = other.get(callback_path(params))  # someone else's browser replays the redirect
    assert response.status_code == 400
    assert session.scalar(select(func.count()).select_from(QboConnection)) == 0


def test_missing_code_is_refused(enabled, session, qbo):
    realm = qbo.create_company(name="No Code Co")
    params = qbo.authorize(start_connect(enabled.client), realm_id=realm)
    del params["code"]
    response = enabled.client.get(callback_path(params))
    assert response.status_code == 400
    assert "incomplete" in response.get_data(as_text=True)
    _nothing_connected(session, enabled)


def test_access_denied_says_cancelled_and_changes_nothing(enabled, session, qbo):
    qbo.create_company(name="Denied Co")
    params = qbo.authorize(start_connect(enabled.client), decision="deny")
    assert params["error"] == "access_denied"
    response = enabled.client.get(callback_path(params))
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "Connection cancelled" in body and "nothing was changed" in body
    _nothing_connected(session, enabled)


def test_callback_cannot_be_replayed(enabled, session, qbo):
    realm = qbo.create_company(name="Replay Co")
    params = qbo.authorize(start_connect(enabled.client), realm_id=realm)
    assert enabled.client.get(callback_path(params)).status_code == 302
    again = enabled.client.get(callback_path(params))
    assert again.status_code == 400  # the state was used up


def test_a_second_company_is_refused_while_connected(enabled, session, qbo):
    first = qbo.create_company(name="First Co")
    connect(enabled.client, qbo, realm_id=first)
    second = qbo.create_company(name="Second Co")
    params = qbo.authorize(start_connect(enabled.client), realm_id=second)
    response = enabled.client.get(callback_path(params))
    assert response.status_code == 400
    assert "connected to First Co" in response.get_data(as_text=True)
    assert live(session, enabled.account).realm_id == first


def _age_last_check(session, account, minutes=6):
    connection = live(session, account)
    connection.company_checked_at -= timedelta(minutes=minutes)
    session.commit()


def test_auto_apply_credits_blocks_and_is_rechecked_once_the_last_check_is_a_few_minutes_old(enabled, session, qbo):
    realm = qbo.create_company(name="Auto Credits Co", auto_apply_credits=True)
    connect(enabled.client, qbo, realm_id=realm)
    overview = enabled.client.get("/setup/").get_data(as_text=True)
    assert 'data-test="auto-apply-warning"' in overview
    assert "Account and settings → Advanced → Automation" in overview
    qbo.set_preferences(realm, auto_apply_credits=False)  # the user turns it off in QuickBooks
    assert 'data-test="auto-apply-warning"' in enabled.client.get("/setup/").get_data(as_text=True)  # checked at connect, just now
    _age_last_check(session, enabled.account)
    overview = enabled.client.get("/setup/").get_data(as_text=True)
    assert 'data-test="auto-apply-warning"' not in overview
    qbo.set_preferences(realm, auto_apply_credits=True)  # and back on
    _age_last_check(session, enabled.account)
    assert 'data-test="auto-apply-warning"' in enabled.client.get("/setup/connect").get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "qbo.auto_apply_credits_on")) == 1


def test_company_facts_for_us_automated_tax(enabled, session, qbo):
    realm = qbo.create_company(name="Stars and Stripes Co", country="US", tax="us_automated")
    connect(enabled.client, qbo, realm_id=realm)
    connection = live(session, enabled.account)
    assert connection.tax_setup == "us_automated"
    assert "every line is sent non-taxable" in enabled.client.get("/setup/connect").get_data(as_text=True)
