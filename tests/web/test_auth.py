"""Sign-in, sign-out, throttling of failed sign-ins, and the session cookie."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.models import AuditEvent
from portal.services.signin import WRONG_CREDENTIALS
from tests.portal_fixtures import TEST_PASSWORD, csrf_token, post_form, sign_in


def _attempt(client, email, password):
    return post_form(client, "/sign-in", "/sign-in", {"email": email, "password": password})


def test_sign_in_lands_admin_on_their_screen_and_audits(client, session, make_account, admin_of):
    admin = admin_of(make_account(enabled=True))
    response = _attempt(client, admin.email.upper(), TEST_PASSWORD)  # addresses are case-insensitive
    assert response.status_code == 302
    assert client.get("/", follow_redirects=True).request.path == "/setup/"
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "auth.signed_in", AuditEvent.actor_id == admin.id))


def test_support_lands_on_console(client, support_user):
    sign_in(client, support_user)
    assert client.get("/", follow_redirects=True).request.path == "/support/"


def test_wrong_password_and_unknown_email_get_the_same_message(client, make_account, admin_of):
    admin = admin_of(make_account())
    wrong_password = _attempt(client, admin.email, "not the password")
    unknown_email = _attempt(client, "nobody@example.com", "not the password")
    for response in (wrong_password, unknown_email):
        assert response.status_code == 401
        assert WRONG_CREDENTIALS in response.get_data(as_text=True)
    assert "nobody@example.com" in unknown_email.get_data(as_text=True)  # the form keeps what was typed
    assert "no such user" not in unknown_email.get_data(as_text=True).lower()


def test_inactive_user_cannot_sign_in(client, make_account, make_user):
    user = make_user(account=make_account(), active=False)
    response = _attempt(client, user.email, TEST_PASSWORD)
    assert response.status_code == 401
    assert WRONG_CREDENTIALS in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "email,password,field,message",
    [
        ("", "x", "email", "Enter your email address."),
        ("not-an-email", "x", "email", "Enter a valid email address"),
        ("a" * 250 + "@example.com", "x", "email", "at most 254 characters"),
        ("someone@example.com", "", "password", "Enter your password."),
        ("someone@example.com", "p" * 300, "password", "at most 256 characters"),
    ],
)
def test_bad_input_is_explained_next_to_the_field(client, email, password, field, message):
    response = _attempt(client, email, password)
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert f'class="field-error" id="{field}-error" data-field="{field}">' in body
    assert message in body


@pytest.fixture
def settings_overrides():
    return {"signin_max_failures": 3, "signin_base_delay_seconds": 60}


def test_repeated_failures_are_slowed_down_even_with_the_right_password(client, make_account, admin_of):
    admin = admin_of(make_account())
    for _ in range(3):
        assert _attempt(client, admin.email, "wrong").status_code == 401
    blocked = _attempt(client, admin.email, TEST_PASSWORD)
    assert blocked.status_code == 429
    assert "Too many failed sign-in attempts. Try again in" in blocked.get_data(as_text=True)


def test_throttle_treats_unknown_addresses_the_same(client):
    for _ in range(3):
        _attempt(client, "ghost@example.com", "wrong")
    assert _attempt(client, "ghost@example.com", "wrong").status_code == 429


def test_throttle_also_applies_per_client_address_with_a_higher_bound(client, make_account, admin_of):
    # Issue #12: a few wrong addresses from one client no longer lock out a correct sign-in from it;
    # only the client's much higher bound (10 × the per-address one) does.
    admin, other = admin_of(make_account(enabled=True)), admin_of(make_account())
    for number in range(3):  # three different addresses typed from one client
        _attempt(client, f"probe{number}@example.com", "wrong")
    assert _attempt(client, admin.email, TEST_PASSWORD).status_code == 302
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/setup/")})
    for number in range(3, 30):
        _attempt(client, f"probe{number}@example.com", "wrong")
    assert _attempt(client, other.email, TEST_PASSWORD).status_code == 429


def test_sign_out_needs_a_post_with_csrf(client, make_account, admin_of):
    admin = admin_of(make_account(enabled=True))
    sign_in(client, admin)
    assert client.get("/sign-out").status_code == 405
    assert client.post("/sign-out").status_code == 400  # no CSRF token
    response = post_form(client, "/setup/", "/sign-out")
    assert response.status_code == 302
    assert client.get("/setup/").status_code == 302  # back to sign-in


def test_next_parameter_is_followed_only_within_the_site(client, make_account, admin_of):
    admin = admin_of(make_account(enabled=True))
    token = csrf_token(client, "/sign-in")
    response = client.post("/sign-in?next=https://evil.example/steal", data={"email": admin.email, "password": TEST_PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/"
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/setup/")})
    token = csrf_token(client, "/sign-in")
    response = client.post("/sign-in?next=/setup/", data={"email": admin.email, "password": TEST_PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/setup/"


def test_session_cookie_is_httponly_and_samesite_lax(client, make_account, admin_of):
    admin = admin_of(make_account())
    response = sign_in(client, admin)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("fbqbo_session="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http here


def test_session_cookie_is_secure_over_https(client, make_account, admin_of):
    admin = admin_of(make_account())
    token_page = client.get("/sign-in", base_url="https://portal.example")
    token = token_page.get_data(as_text=True).split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post(
        "/sign-in", base_url="https://portal.example",
        data={"email": admin.email, "password": TEST_PASSWORD, "csrf_token": token},
        headers={"Referer": "https://portal.example/sign-in"},
    )
    assert response.status_code == 302
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("fbqbo_session="))
    assert "Secure" in cookie
