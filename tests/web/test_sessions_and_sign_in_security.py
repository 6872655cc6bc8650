"""Issue #12, items 1-3: sessions that really end, fair sign-in throttling, and security headers."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from portal.models import AuditEvent, User
from portal.services.signin import disable_user, end_sessions
from tests.portal_fixtures import TEST_PASSWORD, csrf_token, post_form, sign_in

ROOT = Path(__file__).resolve().parents[2]
COOKIE = "fbqbo_session"


def _cookie(client) -> str:  # type: ignore[no-untyped-def]
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    return cookie.value


def _replay(client, value: str):  # type: ignore[no-untyped-def]
    client.set_cookie(COOKIE, value)
    return client.get("/setup/")


def _attempt(client, email, password, address="10.0.0.1"):  # type: ignore[no-untyped-def]
    client.environ_base["REMOTE_ADDR"] = address
    return post_form(client, "/sign-in", "/sign-in", {"email": email, "password": password})


# ---------------------------------------------------------------- 1. sessions end on the server
def test_an_old_cookie_after_sign_out_no_longer_opens_setup(client, make_account, admin_of):
    admin = admin_of(make_account(enabled=True))
    sign_in(client, admin)
    copied = _cookie(client)
    assert client.get("/setup/").status_code == 200
    assert post_form(client, "/setup/", "/sign-out").status_code == 302
    replayed = _replay(client, copied)
    assert replayed.status_code == 302 and "/sign-in" in replayed.headers["Location"]


def test_sign_out_ends_the_users_sessions_in_every_browser(app, make_account, admin_of):
    admin = admin_of(make_account(enabled=True))
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, admin)
    sign_in(phone, admin)
    post_form(laptop, "/setup/", "/sign-out")
    assert phone.get("/setup/").status_code == 302
    sign_in(phone, admin)  # signing in again works, with a fresh session
    assert phone.get("/setup/").status_code == 200


def test_support_disabling_a_user_ends_their_sessions(client, session, make_account, admin_of, support_user):
    admin = admin_of(make_account(enabled=True))
    sign_in(client, admin)
    copied = _cookie(client)
    user = session.get(User, admin.id)
    disable_user(session, user, actor=session.get(User, support_user.id))
    session.commit()
    assert _replay(client, copied).status_code == 302
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "auth.user_disabled"))
    assert event is not None and event.actor_id == support_user.id


def test_ending_sessions_stops_a_live_cookie_even_for_an_active_user(client, session, make_account, admin_of):
    admin = admin_of(make_account(enabled=True))
    sign_in(client, admin)
    end_sessions(session.get(User, admin.id))  # what a password change does
    session.commit()
    assert client.get("/setup/").status_code == 302


# ---------------------------------------------------------------- 2. throttling that cannot lock others out
@pytest.fixture
def settings_overrides():
    return {"signin_max_failures": 3, "signin_base_delay_seconds": 60}


def test_one_clients_wrong_passwords_do_not_lock_out_another_client(app, make_account, admin_of):
    admin = admin_of(make_account(enabled=True))
    attacker, owner = app.test_client(), app.test_client()
    for _ in range(3):
        assert _attempt(attacker, admin.email, "wrong", "203.0.113.9").status_code == 401
    blocked = _attempt(attacker, admin.email, TEST_PASSWORD, "203.0.113.9")
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= 60
    assert _attempt(owner, admin.email, TEST_PASSWORD, "198.51.100.7").status_code == 302


def test_a_locked_address_does_not_lock_out_others_behind_the_same_client(client, make_account, admin_of, support_user):
    admin = admin_of(make_account())
    for _ in range(4):
        _attempt(client, admin.email, "wrong")
    assert _attempt(client, admin.email, TEST_PASSWORD).status_code == 429
    assert _attempt(client, support_user.email, TEST_PASSWORD).status_code == 302  # support, same address


def test_the_clients_high_bound_still_stops_a_spray_of_addresses(client, support_user):
    for number in range(30):  # 10 × the per-address bound
        _attempt(client, f"probe{number}@example.com", "wrong")
    blocked = _attempt(client, support_user.email, TEST_PASSWORD)
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers


def test_failed_sign_ins_are_audited_without_the_password(client, session, make_account, admin_of):
    admin = admin_of(make_account())
    _attempt(client, admin.email, "hunter2-secret")
    _attempt(client, "nobody@example.com", "hunter2-secret")
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.sign_in_failed").order_by(AuditEvent.id)).all()
    assert [event.details["email_typed"] for event in events] == [admin.email, "nobody@example.com"]
    assert events[0].account_id == admin.account_id and events[1].account_id is None
    assert events[0].details["client_address"] == "10.0.0.1"
    for event in events:
        assert "hunter2" not in event.summary and "hunter2" not in repr(event.details)


# ---------------------------------------------------------------- 3. headers
def _get_routes(app) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted({rule.rule for rule in app.url_map.iter_rules() if "GET" in rule.methods and not rule.arguments})


def test_every_page_sends_a_real_csp_and_no_store(app, client, make_account, admin_of):
    admin = admin_of(make_account(enabled=True))
    sign_in(client, admin)
    routes = _get_routes(app)
    assert "/setup/" in routes and "/sign-in" in routes
    for path in routes:
        response = client.get(path)
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, path
        assert "unsafe-inline" not in policy
        assert response.headers["Cache-Control"] == "no-store", path
    static = client.get("/static/app.css")
    assert "no-store" not in static.headers.get("Cache-Control", "")
    static.close()


def test_templates_have_no_inline_script_or_style():
    inline = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=", re.IGNORECASE)
    offenders = [str(path) for path in (ROOT / "templates").rglob("*.html") if inline.search(path.read_text())]
    assert offenders == []


def test_a_cross_origin_post_with_a_valid_token_is_refused(client, make_account, admin_of):
    admin = admin_of(make_account(enabled=True))
    sign_in(client, admin)
    token = csrf_token(client, "/setup/")
    for headers in ({"Origin": "https://evil.example"}, {"Referer": "https://evil.example/page"}, {"Origin": "null"}):
        refused = client.post("/sign-out", data={"csrf_token": token}, headers=headers)
        assert refused.status_code == 400, headers
        assert "another site" in refused.get_data(as_text=True)
    assert client.get("/setup/").status_code == 200  # still signed in
    same_origin = client.post("/sign-out", data={"csrf_token": token}, headers={"Origin": "http://localhost"})
    assert same_origin.status_code == 302


def test_a_cross_origin_sign_in_is_refused(client, make_account, admin_of):
    admin = admin_of(make_account(enabled=True))
    token = csrf_token(client, "/sign-in")
    response = client.post("/sign-in", data={"email": admin.email, "password": TEST_PASSWORD, "csrf_token": token},
                           headers={"Origin": "https://evil.example"})
    assert response.status_code == 400


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_gunicorn_sends_no_server_banner(tmp_path):
    port = _free_port()
    env = {**os.environ, "PORTAL_ENV": "development", "INSTANCE_PATH": str(tmp_path / "instance"),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.db'}", "REDIS_URL": "redis://127.0.0.1:1/0"}
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1", "wsgi:app"],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    headers = response.headers
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("gunicorn did not start")
                time.sleep(0.2)
        assert headers.get("Server") is None
        assert headers["Cache-Control"] == "no-store"
    finally:
        process.terminate()
        process.wait(timeout=10)
