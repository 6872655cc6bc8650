"""CSRF on every form, and styled error pages that never show a stack trace."""
from __future__ import annotations

import re

import pytest

from tests.portal_fixtures import sign_in


def _post_routes(app):
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods:
            yield rule.endpoint, re.sub(r"<(?:\w+(?:\([^)]*\))?:)?\w+>", "1", rule.rule)


def test_every_post_without_csrf_token_answers_400(app, client, make_account, admin_of, make_user, support_user):
    """Signed in with the role each route needs, a POST without a token is refused with 400."""
    enabled_admin = admin_of(make_account(enabled=True))
    disabled_admin = admin_of(make_account(enabled=False))
    users = {"support": support_user, "setup": enabled_admin, "sync": enabled_admin, "matching": enabled_admin, "reports": enabled_admin,
             "landing": disabled_admin, "auth": enabled_admin}
    routes = list(_post_routes(app))
    assert len(routes) >= 4
    for endpoint, url in routes:
        blueprint = endpoint.split(".")[0]
        if blueprint == "webhooks":
            continue  # CSRF-exempt by design: Fusebill posts there (tests/web/test_webhooks.py checks its key)
        client.delete_cookie("fbqbo_session")
        if endpoint != "auth.sign_in":
            sign_in(client, users[blueprint])
        response = client.post(url, data={"enablement-reason": "valid reason text", "enablement-action": "enable", "decline-reason": "valid reason"})
        assert response.status_code == 400, endpoint
        assert "This form has expired" in response.get_data(as_text=True), endpoint


def test_unknown_url_gets_a_styled_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert "Page not found" in body and 'class="card narrow error-page"' in body


def test_wrong_method_gets_a_styled_405_with_allow_header(client):
    response = client.delete("/sign-in")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert "Not allowed" in response.get_data(as_text=True)


@pytest.fixture
def failing_app(settings, migrated_database, db_connection):
    from portal import create_app

    application = create_app(settings, database=migrated_database.database)

    @application.get("/healthz-broken", endpoint="public_broken")
    def broken():
        raise RuntimeError("secret internal detail")

    return application


def test_unhandled_exception_renders_the_500_page_without_details(failing_app, caplog):
    response = failing_app.test_client().get("/healthz-broken")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Something went wrong" in body
    assert "secret internal detail" not in body and "Traceback" not in body
    incident = re.search(r"Reference: <code>([0-9a-f]+)</code>", body).group(1)
    assert any(incident in record.getMessage() for record in caplog.records)
