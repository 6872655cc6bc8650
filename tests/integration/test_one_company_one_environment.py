"""One QuickBooks company is live in one place only: connecting it from another environment of the
same account, or from another Fusebill account, is refused."""
from __future__ import annotations

from sqlalchemy import select

from portal.models import QboConnection
from tests.integration.conftest import callback_path, connect, start_connect
from tests.portal_fixtures import post_form, sign_in


def test_a_company_live_in_another_environment_or_account_is_refused(enabled, session, qbo, app, make_account, admin_of):
    realm = qbo.create_company(name="Shared Co")
    connect(enabled.client, qbo, realm_id=realm)
    post_form(enabled.client, "/setup/environment", "/setup/environment/switch", {"target": "production", "confirm": "y", "override_reason": "testing the guard here"})
    params = qbo.authorize(start_connect(enabled.client), realm_id=realm)
    response = enabled.client.get(callback_path(params))
    assert response.status_code == 400 and "connected to this account&#39;s sandbox environment" in response.get_data(as_text=True)
    other = app.test_client()
    sign_in(other, admin_of(make_account(enabled=True)))
    params = qbo.authorize(start_connect(other), realm_id=realm)
    response = other.get(callback_path(params))
    assert response.status_code == 400 and "another Fusebill account" in response.get_data(as_text=True)
    assert len(session.scalars(select(QboConnection).where(QboConnection.realm_id == realm)).all()) == 1
