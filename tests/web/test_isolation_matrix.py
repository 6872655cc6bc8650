"""Tenant isolation (issue #11 item 4): every route of the app's URL map × (anonymous, admin of account
A, admin of account B, support) × ids belonging to account A.

- Every route must have a rule in RULES: a new route without one fails
  `test_every_route_has_an_isolation_rule`, so nobody adds a page without deciding who may use it.
- Admin B never reads or changes A's objects: 404 or 403, A's rows unchanged afterwards, and none of
  B's pages shows A's marker text. Admin A reaches each of its own ids (so a 404 for B means
  something).
- Support-only routes answer 403 to both admins; admin pages answer 403 to support; anonymous GETs go
  to sign-in, other methods are refused.

POSTs carry a valid CSRF token of the caller's own session, so a refusal comes from the access rules,
never from a missing token.
"""
from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.models import (
    Account, CustomerMatch, EnablementRequest, Environment, ReconciliationReport, SyncRecord,
    SyncRun, TaxMapping, utcnow,
)
from tests.portal_fixtures import complete_set_up, csrf_token, sign_in

MARK = "ZZ-ACCOUNT-A-ONLY"
PUBLIC, WEBHOOK, SIGNED_IN, LANDING, GATED, SUPPORT = "public", "webhook", "signed_in", "landing", "gated", "support"

# endpoint -> (class, the kind of id in its URL or None)
RULES: dict[str, tuple[str, str | None]] = {
    "static": (PUBLIC, None), "health": (PUBLIC, None), "auth.sign_in": (PUBLIC, None),
    "webhooks.fusebill": (WEBHOOK, None),  # authenticated by its own URL token and key (tests/sync/test_webhooks_*)
    "home": (SIGNED_IN, None), "auth.sign_out": (SIGNED_IN, None),
    "landing.disabled": (LANDING, None), "landing.request_it": (LANDING, None),
    "setup.overview": (GATED, None), "setup.connect": (GATED, None), "setup.connect_callback": (GATED, None),
    "setup.connect_relink": (GATED, None), "setup.connect_start": (GATED, None), "setup.disconnect_page": (GATED, None),
    "setup.environment": (GATED, None), "setup.environment_key": (GATED, "kind"), "setup.environment_switch": (GATED, None),
    "setup.ledgers": (GATED, None), "setup.ledgers_create": (GATED, None), "setup.sync_settings": (GATED, None),
    "setup.taxes": (GATED, None), "setup.taxes_add": (GATED, None), "setup.taxes_discover": (GATED, None),
    "setup.taxes_delete_rule": (GATED, "tax_rule"), "setup.taxes_ignore_rule": (GATED, "tax_rule"),
    "setup.taxes_unignore_rule": (GATED, "tax_rule"),
    "sync.index": (GATED, None), "sync.start": (GATED, None), "sync.records": (GATED, None), "sync.records_csv": (GATED, None),
    "sync.retry_all_failed": (GATED, None), "sync.retry_record": (GATED, "record"), "sync.run": (GATED, "run"),
    "sync.run_progress_json": (GATED, "run"),
    "reports.index": (GATED, None), "reports.check": (GATED, None), "reports.show": (GATED, "report"), "reports.export": (GATED, "report"),
    "matching.index": (GATED, None), "matching.find": (GATED, None), "matching.bulk": (GATED, None), "matching.accept_all": (GATED, None),
    "matching.qbo_customers": (GATED, None), "matching.decide": (GATED, "match"),
    "support.accounts": (SUPPORT, None), "support.account": (SUPPORT, "account"), "support.audit_log": (SUPPORT, None),
    "support.change_enablement": (SUPPORT, "account"), "support.decline": (SUPPORT, "request"), "support.health": (SUPPORT, None),
    "support.pause": (SUPPORT, "account"), "support.resume": (SUPPORT, "account"), "support.reconnects": (SUPPORT, None),
    "support.requeue": (SUPPORT, "run"), "support.run": (SUPPORT, "run"),
    "devmail.index": (SIGNED_IN, None), "devmail.show": (SIGNED_IN, "mail"),  # development only (absent here)
}
NOT_A_PAGE = {"setup.connect_callback"}  # Intuit's redirect: answers with a redirect, never a page
VARIABLE = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def _environment(session, account_id: int) -> Environment:  # type: ignore[no-untyped-def]
    return session.scalar(select(Environment).where(Environment.account_id == account_id, Environment.kind == "sandbox"))


def _objects(session, account: Account, environment: Environment, realm: str, admin_id: int) -> dict[str, int | str]:  # type: ignore[no-untyped-def]
    """One object of every id kind, belonging to `account`, each carrying MARK where it has text."""
    run = SyncRun(environment_id=environment.id, realm_id=realm, status="partial", trigger="manual", counts={"failed": 1},
                  started_at=utcnow() - timedelta(minutes=5), finished_at=utcnow() - timedelta(minutes=4), customers_done=1, customers_total=1)
    session.add(run)
    session.flush()
    record = SyncRecord(environment_id=environment.id, entity_type="invoice", fusebill_id="5531", customer_id="101", label=f"Invoice {MARK}",
                        state="failed", reason=f"refused {MARK}", run_id=run.id, attempts=1)
    report = ReconciliationReport(environment_id=environment.id, realm_id=realm, status="done", customers_checked=1, matched=1,
                                  finished_at=utcnow())
    match = CustomerMatch(environment_id=environment.id, realm_id=realm, fusebill_customer_id="101", name=f"Customer {MARK}",
                          email="a@example.com", fusebill_status="Active", currency="USD")
    rule = TaxMapping(environment_id=environment.id, realm_id=realm, fusebill_tax_key=f"name:{MARK.lower()}", fusebill_tax_name=f"Tax {MARK}",
                      fusebill_tax_rate=Decimal("5"), source="manual")
    request = EnablementRequest(account_id=account.id, requested_by_id=admin_id, message=MARK)
    session.add_all([record, report, match, rule, request])
    session.commit()
    return {"run": run.id, "record": record.id, "report": report.id, "match": match.id, "tax_rule": rule.id, "account": account.id,
            "request": request.id, "kind": "sandbox", "mail": "none"}


def _state(session, ids) -> tuple:  # type: ignore[no-untyped-def]
    """What a cross-account write would change."""
    session.expire_all()
    record, run, match, rule = (session.get(SyncRecord, ids["record"]), session.get(SyncRun, ids["run"]), session.get(CustomerMatch, ids["match"]),
                                session.get(TaxMapping, ids["tax_rule"]))
    account = session.get(Account, ids["account"])
    return (record.state, record.reason, run.status, match is not None, rule is not None and rule.qbo_tax_code_id,
            getattr(rule, "ignored_at", None), account.integration_enabled, getattr(account, "syncs_paused_at", None),
            session.get(EnablementRequest, ids["request"]).status,
            len(session.scalars(select(SyncRun).where(SyncRun.environment_id == run.environment_id)).all()))


def _url(rule, ids) -> str:  # type: ignore[no-untyped-def]
    kind = RULES[rule.endpoint][1]

    def value(match: re.Match) -> str:
        converter, name = match.group(1) or "string", match.group(2)
        if kind is not None:
            return str(ids[kind])
        return {"int": "1", "path": "app.css"}.get(converter, "x") if name != "filename" else "app.css"
    return VARIABLE.sub(value, rule.rule)


def _routes(app):  # type: ignore[no-untyped-def]
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.endpoint, r.rule)):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_every_route_has_an_isolation_rule(app):
    missing = sorted({rule.endpoint for rule, _ in _routes(app) if rule.endpoint not in RULES})
    assert missing == [], f"routes with no rule in the isolation matrix: {missing}"


@pytest.fixture
def two_accounts(app, session, make_account, admin_of, support_user):  # type: ignore[no-untyped-def]
    account_a, account_b = make_account(name=f"Alpha {MARK}", enabled=True), make_account(name="Bravo Ltd", enabled=True)
    admin_a, admin_b = admin_of(account_a), admin_of(account_b)
    ids = _objects(session, account_a, complete_set_up(app, session, account_a, "9001"), "9001", admin_a.id)
    complete_set_up(app, session, account_b, "9002")
    clients = {}
    for name, user in (("admin_a", admin_a), ("admin_b", admin_b), ("support", support_user)):
        clients[name] = app.test_client()
        sign_in(clients[name], user)
    clients["anonymous"] = app.test_client()
    tokens = {name: csrf_token(client, "/support/" if name == "support" else "/setup/") for name, client in clients.items() if name != "anonymous"}
    return ids, clients, tokens


def _call(client, method: str, url: str, token: str | None):  # type: ignore[no-untyped-def]
    if method == "GET":
        response = client.get(url)
    else:
        response = client.open(url, method=method, data={"csrf_token": token} if token else {}, headers={"Origin": "http://localhost"})
    # Read and close it, as a WSGI server does: a streamed response (CSV) keeps its request context
    # pushed until closed, which in the test client would leak its user into the next request.
    response.get_data()
    response.close()
    return response


def test_no_cross_account_read_or_write_and_every_role_is_held_to_its_pages(app, session, two_accounts):
    ids, clients, tokens = two_accounts
    before = _state(session, ids)
    problems = []
    for rule, method in _routes(app):
        kind, id_kind = RULES[rule.endpoint]
        if kind in (PUBLIC, WEBHOOK):
            continue
        url = _url(rule, ids)
        anonymous = _call(clients["anonymous"], method, url, None)
        if method == "GET" and not (anonymous.status_code == 302 and "/sign-in" in anonymous.headers.get("Location", "")):
            problems.append(("anonymous", method, url, anonymous.status_code))
        if method != "GET" and anonymous.status_code not in (400, 401, 403):
            problems.append(("anonymous", method, url, anonymous.status_code))
        if kind == SUPPORT:
            for admin in ("admin_a", "admin_b"):
                answer = _call(clients[admin], method, url, tokens[admin])
                if answer.status_code != 403:
                    problems.append((admin, method, url, answer.status_code))
            if method == "GET" and _call(clients["support"], method, url, tokens["support"]).status_code != 200:
                problems.append(("support", method, url, "support cannot open its own page"))
            continue
        if kind in (GATED, LANDING):
            answer = _call(clients["support"], method, url, tokens["support"])
            if answer.status_code != 403:
                problems.append(("support", method, url, answer.status_code, answer.headers.get("Location")))
        if kind != GATED:
            continue
        other = _call(clients["admin_b"], method, url, tokens["admin_b"])
        body = other.get_data(as_text=True)
        if MARK in body:
            problems.append(("admin_b", method, url, "shows account A's data"))
        if id_kind not in (None, "kind") and other.status_code not in (403, 404):
            problems.append(("admin_b", method, url, other.status_code, other.headers.get("Location")))
        if id_kind not in (None, "kind") and method == "GET":
            own = _call(clients["admin_a"], method, url, tokens["admin_a"])
            if own.status_code != 200:
                problems.append(("admin_a", method, url, f"cannot open its own object: {own.status_code}"))
        if method == "GET" and id_kind is None and rule.endpoint not in NOT_A_PAGE:
            answer = _call(clients["admin_b"], method, url, None)
            if answer.status_code >= 500:
                problems.append(("admin_b", method, url, answer.status_code))
    assert problems == [], "\n".join(map(str, problems))
    assert _state(session, ids) == before, "an admin of another account changed account A's rows"


def test_admin_a_sees_its_own_marked_data_so_the_marker_check_can_fail(two_accounts):
    ids, clients, _ = two_accounts
    assert MARK in clients["admin_a"].get("/sync/records?customer=101").get_data(as_text=True)
    assert MARK not in clients["admin_b"].get("/sync/records?customer=101").get_data(as_text=True)
