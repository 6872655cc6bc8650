"""Disconnect: typed confirmation, revoke at Intuit, this environment's links only, history kept; re-link on reconnect."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.clients import AuthenticationError
from portal.clients import qbo as qbo_client
from portal.models import AuditEvent, Environment, QboConnection, SyncLink
from tests.integration.conftest import connect, live
from tests.portal_fixtures import post_form


def _links(session, environment_id):
    return session.scalar(select(func.count()).select_from(SyncLink).where(SyncLink.environment_id == environment_id))


def test_disconnect_warns_about_duplicates_and_needs_the_company_name(enabled, session, qbo):
    realm = qbo.create_company(name="Careful Co")
    connect(enabled.client, qbo, realm_id=realm)
    page = enabled.client.get("/setup/disconnect").get_data(as_text=True)
    assert "Every link between Fusebill records and QuickBooks records" in page and "duplicates" in page
    wrong = post_form(enabled.client, "/setup/disconnect", "/setup/disconnect", {"company_name": "Careless Co"})
    assert wrong.status_code == 400
    assert 'data-field="company_name">That is not the company name. Type “Careful Co” (letter case doesn&#39;t matter).' in wrong.get_data(as_text=True)
    empty = post_form(enabled.client, "/setup/disconnect", "/setup/disconnect", {"company_name": "  "})
    assert empty.status_code == 400 and 'data-field="company_name">' in empty.get_data(as_text=True)
    assert live(session, enabled.account) is not None


def test_disconnect_revokes_removes_this_environments_links_and_keeps_history(enabled, session, app, qbo, make_account):
    realm = qbo.create_company(name="Leaving Co")
    connect(enabled.client, qbo, realm_id=realm)
    connection = live(session, enabled.account)
    with app.app_context():
        from portal.extensions import vault

        refresh_token = vault().decrypt(connection.refresh_token_ciphertext)
    other_account = make_account(enabled=True)
    other_env = session.scalar(select(Environment).where(Environment.account_id == other_account.id, Environment.kind == "sandbox"))
    production = session.scalar(select(Environment).where(Environment.account_id == enabled.account.id, Environment.kind == "production"))
    for environment_id in (connection.environment_id, connection.environment_id, other_env.id, production.id):
        session.add(SyncLink(environment_id=environment_id, realm_id=realm, entity_type="invoice",
                             fusebill_id=str(_links(session, environment_id) + 1), qbo_type="Invoice", qbo_id="1"))
        session.flush()
    session.commit()

    response = post_form(enabled.client, "/setup/disconnect", "/setup/disconnect", {"company_name": "leaving co"}, follow_redirects=True)
    assert "Disconnected from Leaving Co. 2 links were removed" in response.get_data(as_text=True)
    session.expire_all()
    assert live(session, enabled.account) is None
    kept = session.get(QboConnection, connection.id)
    assert kept.disconnected_at is not None and kept.refresh_token_ciphertext is None and kept.access_token_ciphertext is None
    assert _links(session, connection.environment_id) == 0
    assert _links(session, other_env.id) == 1 and _links(session, production.id) == 1
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "qbo.disconnected"))
    assert event.details["links_removed"] == 2 and event.details["revoked"] is True
    with pytest.raises(AuthenticationError):  # revoked at Intuit: the old refresh token is dead
        qbo_client.refresh(qbo_client.intuit_app(app.extensions["portal.settings"], "sandbox"), refresh_token)
    assert 'data-test="connect-qbo"' in enabled.client.get("/setup/connect").get_data(as_text=True)


def test_reconnecting_to_the_same_company_is_recognised_and_offers_relinking(enabled, session, qbo):
    realm = qbo.create_company(name="Boomerang Co")
    connect(enabled.client, qbo, realm_id=realm)
    first = live(session, enabled.account)
    post_form(enabled.client, "/setup/disconnect", "/setup/disconnect", {"company_name": "Boomerang Co"})
    response_realm = connect(enabled.client, qbo, realm_id=realm)
    assert response_realm == realm
    second = live(session, enabled.account)
    assert second.id != first.id and second.previous_connection_id == first.id and second.relink_existing is True
    page = enabled.client.get("/setup/connect").get_data(as_text=True)
    assert 'data-test="relink-offer"' in page and "You were connected to Boomerang Co before" in page
    post_form(enabled.client, "/setup/connect", "/setup/connect/relink", {"relink": "no"})
    session.expire_all()
    assert live(session, enabled.account).relink_existing is False
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "qbo.relink_choice")).details == {"relink_existing": False}
    assert "re-linked" in session.scalars(select(AuditEvent.summary).where(AuditEvent.action == "qbo.connected").order_by(AuditEvent.id)).all()[-1]


def test_a_new_company_after_disconnect_is_not_offered_relinking(enabled, session, qbo):
    connect(enabled.client, qbo, realm_id=qbo.create_company(name="Old Co"))
    post_form(enabled.client, "/setup/disconnect", "/setup/disconnect", {"company_name": "Old Co"})
    connect(enabled.client, qbo, realm_id=qbo.create_company(name="New Co"))
    assert live(session, enabled.account).previous_connection_id is None
    assert 'data-test="relink-offer"' not in enabled.client.get("/setup/connect").get_data(as_text=True)


def test_disconnect_with_redis_down_says_so_and_changes_nothing(enabled, session, qbo, app):
    """The token lock cannot be taken (an outside-service error, with no form field): the page says
    why instead of answering 500, and the connection stays."""
    connect(enabled.client, qbo, realm_id=qbo.create_company(name="Lockless Co"))
    app.extensions["portal.settings"] = app.extensions["portal.settings"].with_overrides(redis_url="redis://127.0.0.1:9/0")
    app.extensions.pop("portal.redis", None)
    response = post_form(enabled.client, "/setup/disconnect", "/setup/disconnect", {"company_name": "Lockless Co"})
    assert response.status_code == 400
    assert "The token lock (Redis) is unavailable; try again shortly." in response.get_data(as_text=True)
    session.expire_all()
    assert live(session, enabled.account) is not None
