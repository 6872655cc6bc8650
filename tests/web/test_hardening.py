"""Headers, redirects and odd input that must never get past the portal or make it fail."""
from __future__ import annotations

import pytest

from tests.portal_fixtures import TEST_PASSWORD, csrf_token, sign_in


def test_pages_cannot_be_framed_or_sniffed(client):
    response = client.get("/sign-in")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("target", ["https://evil.example/x", "//evil.example", "/\\evil.example", "/%2F%2Fevil.example", "\t/evil", "javascript:alert(1)"])
def test_sign_in_never_redirects_off_site(client, make_account, admin_of, target):
    admin = admin_of(make_account(enabled=True))
    token = csrf_token(client, "/sign-in")
    response = client.post("/sign-in", query_string={"next": target}, data={"email": admin.email, "password": TEST_PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/"


def test_sign_in_starts_a_fresh_session(client, make_account, admin_of):
    admin = admin_of(make_account(enabled=True))
    with client.session_transaction() as browser:
        browser["planted"] = "by an attacker"
    sign_in(client, admin)
    with client.session_transaction() as browser:
        assert "planted" not in browser and browser["_user_id"] == str(admin.id)


def test_an_expired_session_on_the_oauth_callback_keeps_the_code_out_of_next(client):
    response = client.get("/setup/connect/callback?code=SECRET-CODE&state=s&realmId=1")
    assert response.status_code == 302
    assert "SECRET-CODE" not in response.headers["Location"]
    assert response.headers["Location"].endswith("next=/setup/connect/callback")


@pytest.mark.parametrize("path", ["/support/accounts/99999999999999999999", "/support/accounts/2147483648"])
def test_absurd_ids_are_a_styled_404(client, support_user, path):
    sign_in(client, support_user)
    response = client.get(path)
    assert response.status_code == 404 and "Page not found" in response.get_data(as_text=True)
