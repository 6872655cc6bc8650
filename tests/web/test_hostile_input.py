"""Hostile web input (issue #11 item 3): every POST route of the URL map, with a valid CSRF token,
gets oversized and mistyped values in every field any of the portal's forms has — and never answers
5xx; bodies over the size limit (a 10 MB webhook included) are refused with 413; a webhook body that
is not JSON is a 400; an expired OAuth state is refused and connects nothing. (Missing CSRF tokens,
forged and replayed OAuth states, webhook keys, replays and `next` redirects have their own tests:
test_csrf_and_errors, tests/integration/test_connect, tests/sync/test_webhooks_*, test_auth.)"""
from __future__ import annotations

import inspect
import re

import pytest
from flask_wtf import FlaskForm
from wtforms.fields.core import UnboundField

from portal.models import SyncRecord, SyncRun, utcnow
from tests.portal_fixtures import complete_set_up, csrf_token, sign_in

CALLS_FUSEBILL = {"setup.taxes_discover"}
VARIABLE = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
HOSTILE_VALUES = (
    "x" * 10_000,  # oversized (each field; the whole body stays under the 1 MB limit)
    "-1", "1e999", "9" * 40, "2026-02-30", "%00\x00<script>", "=cmd|' /C calc'!A0 ‮", "😀" * 50, "",
)


def _form_classes(base: type) -> list[type]:
    found = []
    for sub in base.__subclasses__():
        found.append(sub)
        found.extend(_form_classes(sub))
    return found


def _field_names() -> set[str]:
    """Every field of every form class of the portal (plus the prefixed names the environment page uses)."""
    import portal.auth.forms, portal.landing.forms, portal.matching.forms, portal.setup.forms, portal.support.forms, portal.sync.forms  # noqa: F401, E401

    names: set[str] = set()
    for form in _form_classes(FlaskForm):
        if form.__module__.startswith("portal."):
            names.update(name for name, value in inspect.getmembers(form) if isinstance(value, UnboundField))
    names.discard("csrf_token")
    return names | {f"key-{kind}-{field}" for kind in ("sandbox", "production") for field in ("api_key", "environment")}


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    # Fusebill and QBO "reachable" at a closed local port: calls fail fast, as when they are down.
    return {"fusebill_staging_url": "http://127.0.0.1:9", "fusebill_production_url": "http://127.0.0.1:9", "qbo_emulator_url": "http://127.0.0.1:9"}


@pytest.fixture
def signed_in_admin(app, session, make_account, admin_of, client):  # type: ignore[no-untyped-def]
    account = make_account(enabled=True)
    environment = complete_set_up(app, session, account, "9101")
    run = SyncRun(environment_id=environment.id, realm_id="9101", status="partial", trigger="manual", counts={}, started_at=utcnow(),
                  finished_at=utcnow())
    session.add(run)
    session.flush()
    record = SyncRecord(environment_id=environment.id, entity_type="invoice", fusebill_id="1", customer_id="1", state="failed", run_id=run.id)
    session.add(record)
    session.commit()
    sign_in(client, admin_of(account))
    return {"int": str(record.id), "run_id": str(run.id), "kind": "sandbox"}


def test_every_post_route_survives_oversized_and_mistyped_fields(app, client, signed_in_admin):
    fields = _field_names()
    assert {"api_key", "company_name", "rate", "reason", "sync_start_date", "qbo_customer_id"} <= fields, sorted(fields)
    token = csrf_token(client, "/setup/")
    errors = []
    routes = [rule for rule in app.url_map.iter_rules() if "POST" in rule.methods and not rule.endpoint.startswith(("webhooks.", "support."))]
    assert len(routes) > 20
    for rule in routes:
        url = VARIABLE.sub(lambda m: signed_in_admin["kind"] if m.group(2) == "kind" else (signed_in_admin["run_id"] if m.group(2) == "run_id"
                                                                                        else signed_in_admin["int"]), rule.rule)
        if rule.endpoint == "auth.sign_out":
            continue  # would end this session (it takes no fields)
        # A route that calls Fusebill waits out its client's retries (seconds): two values are enough there.
        for value in HOSTILE_VALUES[:2] if rule.endpoint in CALLS_FUSEBILL else HOSTILE_VALUES:
            data = {name: value for name in fields}
            data["csrf_token"] = token
            response = client.post(url, data=data, headers={"Origin": "http://localhost"})
            # 502/503: Fusebill or QBO unreachable, said on a page of ours (never a crash, which is 500)
            if response.status_code == 500 or response.status_code > 503:
                errors.append((url, value[:20], response.status_code))
    assert errors == []


def test_every_post_route_refuses_a_body_over_the_limit(app, client, signed_in_admin):
    token = csrf_token(client, "/setup/")
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.endpoint.startswith(("landing.", "support.")):
            continue  # the gate answers an admin's POST there before any body is read
        url = VARIABLE.sub("1", rule.rule).replace("/1", "/sandbox", 1) if "<kind>" in rule.rule else VARIABLE.sub("1", rule.rule)
        response = client.post(url, data={"csrf_token": token, "name": "x" * (2 * 1024 * 1024)})
        assert response.status_code == 413, (url, response.status_code)


def test_a_10_mb_webhook_body_is_refused_without_reading_it(client):
    response = client.post("/webhooks/fusebill/some-token", data=b"{" + b"x" * (10 * 1024 * 1024), headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_an_expired_oauth_state_is_refused_and_connects_nothing(client, app, session, make_account, admin_of):
    from datetime import timedelta

    from portal.models import QboConnection

    account = make_account(enabled=True)
    sign_in(client, admin_of(account))
    from portal.setup.routes import OAUTH_SESSION_KEY

    with client.session_transaction() as browser:  # a connection started 16 minutes ago (the limit is 15)
        browser[OAUTH_SESSION_KEY] = {"state": "s" * 32, "environment": "sandbox", "started_at": (utcnow() - timedelta(minutes=16)).isoformat()}
    response = client.get(f"/setup/connect/callback?state={'s' * 32}&code=abc&realmId=123")
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)
    assert session.query(QboConnection).count() == 0
