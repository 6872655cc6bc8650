"""A connection whose refresh token is about to expire offers Reconnect before it is too late, and
reconnecting renews the same connection in place."""
from __future__ import annotations

from datetime import timedelta

from portal.models import utcnow
from tests.integration.conftest import connect, live


def test_an_expiring_connection_offers_reconnect_which_renews_it_in_place(enabled, session, qbo):
    realm = qbo.create_company(name="Expiring Soon Co")
    connect(enabled.client, qbo, realm_id=realm)
    connection = live(session, enabled.account)
    connection.refresh_token_expires_at = utcnow() + timedelta(days=5)
    session.commit()
    page = enabled.client.get("/setup/connect").get_data(as_text=True)
    assert 'data-test="reconnect"' in page and "Reconnect to Expiring Soon Co" in page
    connect(enabled.client, qbo, realm_id=realm)
    renewed = live(session, enabled.account)
    assert renewed.id == connection.id and renewed.refresh_token_expires_at - utcnow() > timedelta(days=90)
