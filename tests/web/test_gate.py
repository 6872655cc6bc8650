"""The enablement gate: one rule set, covering every route, including URLs typed by hand."""
from __future__ import annotations

import re

import pytest

from tests.portal_fixtures import sign_in

SAMPLE_VALUES = {"int": "1", "string": "x", "path": "x", "uuid": "00000000-0000-0000-0000-000000000000"}


def _routes(app, blueprint: str):
    """(method, url) for every rule of a blueprint, with sample values for URL variables."""
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(blueprint + "."):
            continue
        url = re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", lambda m: SAMPLE_VALUES.get(m.group(1) or "string", "x"), rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, url


def test_there_are_setup_routes_to_gate(app):
    assert len(list(_routes(app, "setup"))) >= 1


def test_every_setup_route_sends_a_disabled_account_to_the_landing_screen(app, client, make_account, admin_of):
    sign_in(client, admin_of(make_account(enabled=False)))
    for method, url in _routes(app, "setup"):
        response = client.open(url, method=method)
        if method == "GET":
            assert response.status_code == 302, url
            assert response.headers["Location"].endswith("/integration-disabled/"), url
        else:
            assert response.status_code == 403, (method, url)


def test_hand_typed_setup_url_variants_are_gated(client, make_account, admin_of):
    sign_in(client, admin_of(make_account(enabled=False)))
    for url in ("/setup/", "/setup/?step=connect", "/setup/ledgers", "/setup/connect/callback?code=x&state=y&realmId=1"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"] == "/integration-disabled/", url
    assert client.get("/setup").status_code == 308  # Flask's slash redirect, which then lands on the gate
    assert client.get("/setup", follow_redirects=True).request.path == "/integration-disabled/"
    assert client.get("/setup/unknown-page").status_code == 404


def test_enabled_account_sees_setup_and_not_the_landing_screen(client, make_account, admin_of):
    sign_in(client, admin_of(make_account(enabled=True)))
    assert client.get("/setup/").status_code == 200
    response = client.get("/integration-disabled/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/setup/")


def test_support_routes_answer_403_to_admins(app, client, make_account, admin_of):
    sign_in(client, admin_of(make_account(enabled=True)))
    routes = list(_routes(app, "support"))
    assert routes
    for method, url in routes:
        assert client.open(url, method=method).status_code == 403, (method, url)


def test_setup_and_landing_answer_403_to_support(app, client, support_user):
    sign_in(client, support_user)
    for blueprint in ("setup", "landing"):
        for method, url in _routes(app, blueprint):
            assert client.open(url, method=method).status_code == 403, (method, url)


@pytest.mark.parametrize("blueprint", ["setup", "landing", "support"])
def test_anonymous_visitors_are_sent_to_sign_in(app, client, blueprint):
    for method, url in _routes(app, blueprint):
        response = client.open(url, method=method)
        if method == "GET":
            assert response.status_code == 302 and "/sign-in" in response.headers["Location"], url
        else:
            assert response.status_code in (400, 401), (method, url)  # CSRF or sign-in, never through


def test_anonymous_get_keeps_where_they_were_going(client):
    response = client.get("/support/?q=acme")
    assert response.headers["Location"].startswith("/sign-in?next=")
    assert "acme" in response.headers["Location"]


# ------------------------------------------------------------------ deny by default
def test_every_route_of_the_portal_is_classified(app):
    from portal.gate import classification

    unclassified = []
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.rsplit(".", 1)[0] if "." in rule.endpoint else None
        if classification(rule.endpoint, blueprint) is None:
            unclassified.append(rule.endpoint)
    assert unclassified == []
    blueprints = set(app.blueprints)
    assert blueprints == {"auth", "landing", "setup", "support", "sync", "webhooks", "matching", "reports"} | (blueprints & {"devmail"}), blueprints
    # The one public blueprint: Fusebill calls it, each request authenticated by its URL token and key.
    assert classification("webhooks.fusebill", "webhooks") == "public"


def test_the_future_sync_pages_are_for_enabled_admins():
    from portal.gate import classification

    assert classification("sync.start", "sync") == "gated"


def test_a_blueprint_nobody_classified_is_refused_to_everyone(app, client, make_account, admin_of, support_user):
    from flask import Blueprint

    unplaced = Blueprint("unplaced", __name__, url_prefix="/unplaced")
    unplaced.add_url_rule("/", "index", lambda: "secret report", methods=["GET", "POST"])
    app.register_blueprint(unplaced)

    anonymous = client.get("/unplaced/")
    assert anonymous.status_code == 403 and "secret report" not in anonymous.get_data(as_text=True)
    assert client.post("/unplaced/").status_code in (400, 403)  # CSRF or the gate, never through
    sign_in(client, admin_of(make_account(enabled=True)))
    assert client.get("/unplaced/").status_code == 403
    other = app.test_client()
    sign_in(other, support_user)
    assert other.get("/unplaced/").status_code == 403
