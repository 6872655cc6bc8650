"""The Customers page: the list of Fusebill customers with their likely QBO match (filled through the
scan's own storing code, `record_scan`, from Fusebill- and QBO-shaped records), its filters and
paging, each choice, bulk choices, every refusal, and another account's rows answering 404."""
from __future__ import annotations

import html
import re

import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import func, select

from jobs.queues import DEFAULT
from portal.models import AuditEvent, Environment, QboConnection, SyncLink, SyncRecord
from portal.models.matching import CustomerDecision, CustomerMatch, MatchScan
from portal.services.matching import record_scan
from tests.portal_fixtures import csrf_token, post_form, sign_in
from tests.support.helpers import writes_recorded

REALM = "9130"

FUSEBILL = [
    {"id": 101, "companyName": "Acme Ltd", "primaryEmail": "acme@example.com", "status": "Active", "currency": "USD"},
    {"id": 102, "companyName": "Beta Co", "primaryEmail": "shared@example.com", "status": "Active", "currency": "USD"},
    {"id": 103, "companyName": "Gamma, Inc.", "primaryEmail": None, "status": "Active", "currency": "USD"},
    {"id": 104, "firstName": "Dana", "lastName": "Delta", "primaryEmail": "dana@example.com", "status": "Hold", "currency": "USD"},
    {"id": 105, "companyName": "Epsilon", "primaryEmail": "eps@example.com", "status": "Active", "currency": "USD"},
    {"id": 106, "companyName": "Zeta", "primaryEmail": "zeta@example.com", "status": "Active", "currency": "USD"},
    {"id": 107, "companyName": "Eta", "primaryEmail": "eta@example.com", "status": "Active", "currency": "USD"},
    {"id": 108, "companyName": "Draft Only", "primaryEmail": "acme@example.com", "status": "Draft", "currency": "USD"},
    {"id": 109, "companyName": "Theta", "primaryEmail": "theta@example.com", "status": "Active", "currency": "EUR"},
]
QBO = [
    {"Id": "1", "DisplayName": "Acme Limited", "PrimaryEmailAddr": {"Address": "  ACME@Example.com "}, "SyncToken": "3"},
    {"Id": "2", "DisplayName": "Beta Company", "PrimaryEmailAddr": {"Address": "shared@example.com"}},
    {"Id": "3", "DisplayName": "Beta (old)", "PrimaryEmailAddr": {"Address": "Shared@example.com"}},
    {"Id": "4", "DisplayName": "GAMMA   inc", "CompanyName": "Gamma Incorporated"},
    {"Id": "5", "DisplayName": "Dana Delta (FB-104)", "Notes": "fusebill:customer:104"},
    {"Id": "6", "DisplayName": "Zeta (FB-106)", "Notes": "fusebill:customer:106"},
    {"Id": "7", "DisplayName": "Spare Customer", "PrimaryEmailAddr": {"Address": "spare@example.com"}},
    {"Id": "8", "DisplayName": "Euro Customer", "CurrencyRef": {"value": "GBP"}},
]


def _text(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.get_data(as_text=True))


def _environment(session, account_id: int) -> Environment:  # type: ignore[no-untyped-def]
    return session.scalar(select(Environment).where(Environment.account_id == account_id, Environment.kind == "sandbox"))


def _scanned(session, account_id: int, fusebill=FUSEBILL, qbo=QBO, realm=REALM, link_106=True) -> Environment:  # type: ignore[no-untyped-def]
    """A connected sandbox whose last Find matches read these customers; 106 is already synced to QBO 6,
    107 was parked by "don't create"."""
    environment = _environment(session, account_id)
    environment.fusebill_api_key_ciphertext = "not-a-real-ciphertext"
    session.add(QboConnection(environment_id=environment.id, realm_id=realm, company_name=f"Books {realm}"))
    if link_106:
        session.add(SyncLink(environment_id=environment.id, realm_id=realm, entity_type="customer", fusebill_id="106", part="",
                             customer_id="106", qbo_type="Customer", qbo_id="6", qbo_sync_token="0", payload_hash="x"))
        session.add(SyncRecord(environment_id=environment.id, entity_type="customer", fusebill_id="107", customer_id="107", label="Customer Eta",
                               state="skipped", reason="waiting for a decision: new customers are not created (setting “don't create”)"))
    session.flush()
    scan = MatchScan(environment_id=environment.id, realm_id=realm, status="running")
    session.add(scan)
    session.flush()
    record_scan(session, scan, [dict(c) for c in fusebill], [dict(q) for q in qbo])
    scan.status = "succeeded"
    from portal.models import utcnow

    scan.finished_at = utcnow()
    session.commit()
    return environment


def _row_ids(session, environment_id: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {m.fusebill_customer_id: m.id for m in session.scalars(select(CustomerMatch).where(CustomerMatch.environment_id == environment_id))}


def _decision(session, environment_id: int, customer: str) -> CustomerDecision | None:  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.scalar(select(CustomerDecision).where(CustomerDecision.environment_id == environment_id,
                                                         CustomerDecision.fusebill_customer_id == customer))


def _rows(body: str) -> dict[str, str]:
    """Fusebill customer id → its row's status, as the page shows them."""
    return dict(re.findall(r'data-customer="(\d+)" data-status="([a-z_]+)"', body))


def _decide(client, row_id: int, choice: str, qbo_id: str = "", **extra):  # type: ignore[no-untyped-def]
    return post_form(client, "/matching/", f"/matching/rows/{row_id}/decide", {"choice": choice, "qbo_customer_id": qbo_id, **extra})


@pytest.fixture
def admin(client, make_account, admin_of):  # type: ignore[no-untyped-def]
    account = make_account(enabled=True)
    user = admin_of(account)
    sign_in(client, user)
    return user


@pytest.fixture
def listed(session, admin):  # type: ignore[no-untyped-def]
    environment = _scanned(session, admin.account_id)
    return environment, _row_ids(session, environment.id)


# ------------------------------------------------------------------ the list
def test_without_a_connection_the_page_says_connect_first(client, admin):
    body = _text(client.get("/matching/"))
    assert 'data-test="not-connected"' in body and 'data-test="find-matches"' not in body
    assert post_form(client, "/sync/", "/matching/find", {}).status_code == 302
    assert "Connect QuickBooks first" in _text(client.get("/matching/"))


def test_the_list_shows_each_customer_with_its_likely_match_and_basis(client, listed):
    body = _text(client.get("/matching/"))
    assert 'data-nav="matching.index"' in body and ">Customers</a>" in body
    assert _rows(body) == {"101": "suggested", "102": "ambiguous", "103": "suggested", "104": "suggested", "105": "no_match",
                           "106": "linked", "107": "waiting", "109": "no_match"}  # 108 is a draft: never synced, not listed
    row = body[body.find('data-customer="101"'):][:3000]
    assert "Acme Ltd" in row and "acme@example.com" in row
    assert "<code>1</code> Acme Limited" in row and "ACME@Example.com" in row and "matched by email" in row
    assert "matched by name" in body[body.find('data-customer="103"'):][:3000]
    marker_row = body[body.find('data-customer="104"'):][:3000]
    assert "Dana Delta" in marker_row and "<code>5</code>" in marker_row and "matched by its Fusebill marker" in marker_row
    ambiguous = body[body.find('data-customer="102"'):][:3000]
    assert "2 QuickBooks customers have this email" in ambiguous and "<code>2</code> Beta Company" in ambiguous and "<code>3</code> Beta (old)" in ambiguous
    assert 'value=""' in ambiguous[ambiguous.find('name="qbo_customer_id"'):][:400]  # not picked for the admin
    assert "Linked to <code>6</code> Zeta (FB-106)" in body[body.find('data-customer="106"'):][:3000]
    assert "re-pointing existing books to another QuickBooks customer is not supported" in body
    assert "Last searched" in body and "8 Fusebill customers, 8 QuickBooks customers" in body


def test_filters_and_paging(client, listed, monkeypatch):
    for status, expected in {"suggested": {"101", "103", "104"}, "ambiguous": {"102"}, "no_match": {"105", "109"}, "linked": {"106"},
                             "waiting": {"107"}, "dont_sync": set()}.items():
        body = _text(client.get(f"/matching/?status={status}"))
        assert set(_rows(body)) == expected, status
        assert f'data-filter="{status}" aria-current="page"' in body
    from portal.services import matching

    monkeypatch.setattr(matching, "PER_PAGE", 3)
    first, second = _text(client.get("/matching/")), _text(client.get("/matching/?page=2"))
    assert list(_rows(first)) == ["101", "102", "103"] and list(_rows(second)) == ["104", "105", "106"]
    assert "Page 1 of 3" in first and 'rel="next" href="/matching/?page=2"' in first and "Page 2 of 3" in second


def test_a_get_writes_nothing(client, listed, migrated_database):
    with writes_recorded(migrated_database.database.engine) as seen:
        for page in ("/matching/", "/matching/?status=waiting", "/matching/?page=9", "/matching/qbo-customers?q=beta"):
            assert client.get(page).status_code == 200, page
    assert seen == []


def test_the_qbo_customers_page_finds_one_to_pick_and_says_who_owns_it(client, listed):
    body = _text(client.get("/matching/qbo-customers?q=beta"))
    assert re.findall(r'data-qbo="(\d+)"', body) == ["2", "3"]
    everyone = _text(client.get("/matching/qbo-customers"))
    zeta = everyone[everyone.find('data-qbo="6"'):][:600]
    assert "Fusebill customer <code>106</code>" in zeta
    assert "free to link" in everyone[everyone.find('data-qbo="7"'):][:600]


# ------------------------------------------------------------------ one row's choice
def test_link_to_the_suggestion_is_saved_audited_and_shown_with_who_and_when(client, session, admin, listed):
    environment, rows = listed
    response = _decide(client, rows["101"], "link", "1", status="suggested")
    assert response.status_code == 302 and response.headers["Location"].endswith("/matching/?status=suggested")
    decision = _decision(session, environment.id, "101")
    assert (decision.choice, decision.qbo_customer_id, decision.realm_id, decision.qbo_sync_token) == ("link", "1", REALM, "3")
    assert decision.decided_by_label == admin.email and decision.applied_at is None
    body = _text(client.get("/matching/"))
    assert _rows(body)["101"] == "decided"
    row = body[body.find('data-customer="101"'):][:4000]
    assert "Chosen: link to QuickBooks customer 1 (Acme Limited)" in row and f"by {admin.email}" in row and "UTC" in row
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "matching.decided"))
    assert event.actor_id == admin.id and "Fusebill customer 101" in event.summary and event.details["customers"] == {"101": "1"}


def test_create_dont_sync_and_link_to_a_typed_id(client, session, listed):
    environment, rows = listed
    assert _decide(client, rows["105"], "create").status_code == 302
    assert _decision(session, environment.id, "105").choice == "create"
    assert _decide(client, rows["105"], "dont_sync").status_code == 302
    assert _decision(session, environment.id, "105").choice == "dont_sync"
    assert _rows(_text(client.get("/matching/?status=dont_sync"))) == {"105": "dont_sync"}
    assert _decide(client, rows["102"], "link", " 3 ").status_code == 302  # one of the ambiguous candidates, typed
    decision = _decision(session, environment.id, "102")
    assert (decision.choice, decision.qbo_customer_id, decision.qbo_name) == ("link", "3", "Beta (old)")
    # "don't sync" is allowed for a customer already synced (its records are then skipped).
    assert _decide(client, rows["106"], "dont_sync").status_code == 302
    assert _rows(_text(client.get("/matching/")))["106"] == "dont_sync"
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "matching.decided")) == 4


@pytest.mark.parametrize("customer, choice, qbo_id, message", [
    ("105", "link", "6", "QuickBooks customer 6 (Zeta (FB-106)) is already linked to Fusebill customer 106."),
    ("103", "link", "5", "carries the marker of Fusebill customer 104"),
    ("106", "link", "7", "Fusebill customer 106 is already synced to QuickBooks customer 6: re-pointing a customer's existing books"),
    ("106", "create", "", "is already synced to QuickBooks customer 6"),
    ("105", "link", "999", "No QuickBooks customer with id 999 was found by the last Find matches"),
    ("105", "link", "", "Enter or pick the QuickBooks customer to link to."),
    ("105", "link", "abc", "A QuickBooks customer id is a number"),
    ("109", "link", "8", "QuickBooks customer 8 is in GBP and Fusebill customer 109 in EUR"),
])
def test_a_refused_choice_is_shown_next_to_its_row_and_saves_nothing(client, session, listed, customer, choice, qbo_id, message):
    environment, rows = listed
    response = _decide(client, rows[customer], choice, qbo_id)
    assert response.status_code in (400, 422)
    body = _text(response)
    row = body[body.find(f'data-customer="{customer}"'):]
    row = row[:row.find("</tr>")]
    assert 'data-test="row-error"' in row and message in row, row[-800:]
    assert f'value="{qbo_id.strip()}"' in row  # what was typed is kept
    assert _decision(session, environment.id, customer) is None
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "matching.decided")) == 0


def test_a_qbo_customer_is_chosen_for_one_fusebill_customer_only(client, session, listed):
    environment, rows = listed
    assert _decide(client, rows["101"], "link", "7").status_code == 302
    response = _decide(client, rows["105"], "link", "7")
    assert response.status_code == 422 and "is already chosen for Fusebill customer 101" in _text(response)
    assert _decision(session, environment.id, "105") is None


def test_decisions_need_the_csrf_token(client, listed):
    _, rows = listed
    assert client.post(f"/matching/rows/{rows['101']}/decide", data={"choice": "create"}).status_code == 400
    assert client.post("/matching/bulk", data={"action": "create", "rows": [rows["101"]]}).status_code == 400
    assert client.post("/matching/accept-all").status_code == 400
    assert client.post("/matching/find").status_code == 400


# ------------------------------------------------------------------ bulk
def test_bulk_link_saves_the_suggested_ones_and_reports_the_rest(client, session, listed):
    environment, rows = listed
    token = csrf_token(client, "/matching/")
    response = client.post("/matching/bulk", data={"csrf_token": token, "action": "link", "rows": [rows["101"], rows["102"], rows["103"], rows["105"]],
                                                   "status": "", "page": "1"})
    assert response.status_code == 302
    assert {c: _decision(session, environment.id, c) is not None for c in ("101", "102", "103", "105")} == {
        "101": True, "102": False, "103": True, "105": False}
    assert _decision(session, environment.id, "103").qbo_customer_id == "4"
    body = _text(client.get("/matching/"))
    flashes = body[body.find('class="flashes"'):][:3000]
    assert "Saved for 2 customers" in flashes and "Not saved for 2 customers" in flashes
    assert "Fusebill customer 102: Several QuickBooks customers could be this one" in flashes
    assert "Fusebill customer 105: There is no suggested match" in flashes
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "matching.decided"))
    assert set(event.details["customers"]) == {"101", "103"} and set(event.details["refused"]) == {"102", "105"}


def test_bulk_dont_sync_and_a_bulk_without_rows(client, session, listed):
    environment, rows = listed
    token = csrf_token(client, "/matching/")
    assert client.post("/matching/bulk", data={"csrf_token": token, "action": "dont_sync", "rows": [rows["105"], rows["109"]]}).status_code == 302
    assert {_decision(session, environment.id, c).choice for c in ("105", "109")} == {"dont_sync"}
    response = client.post("/matching/bulk", data={"csrf_token": token, "action": "create"})
    assert response.status_code == 302
    assert "Tick at least one customer first." in _text(client.get("/matching/"))


def test_accept_all_links_every_suggested_match_and_nothing_else(client, session, listed):
    environment, _ = listed
    assert post_form(client, "/matching/", "/matching/accept-all", {}).status_code == 302
    session.expire_all()
    chosen = {d.fusebill_customer_id: d.qbo_customer_id for d in session.scalars(select(CustomerDecision).where(
        CustomerDecision.environment_id == environment.id))}
    assert chosen == {"101": "1", "103": "4", "104": "5"}
    assert post_form(client, "/matching/", "/matching/accept-all", {}).status_code == 302
    assert "There is no suggested match waiting to be accepted." in _text(client.get("/matching/"))


# ------------------------------------------------------------------ accounts and Find matches
def test_another_accounts_rows_are_404(client, session, listed, make_account, admin_of):
    other = make_account(enabled=True)
    other_environment = _scanned(session, other.id, realm="7777", link_106=False)
    theirs = _row_ids(session, other_environment.id)
    assert _decide(client, theirs["101"], "create").status_code == 404
    assert _decide(client, 987654, "create").status_code == 404
    token = csrf_token(client, "/matching/")
    assert client.post("/matching/bulk", data={"csrf_token": token, "action": "create", "rows": [theirs["105"]]}).status_code == 404
    assert session.scalar(select(func.count()).select_from(CustomerDecision)) == 0
    # Their list is theirs: the other admin sees their own rows, and their ids are not in ours.
    mine = _text(client.get("/matching/"))
    assert f'data-row="{theirs["101"]}"' not in mine
    fresh = client.application.test_client()
    sign_in(fresh, admin_of(other))
    assert f'data-row="{theirs["101"]}"' in _text(fresh.get("/matching/"))


def test_the_pages_are_gated(client, make_account, admin_of, support_user):
    assert client.get("/matching/").status_code == 302
    assert client.post("/matching/find").status_code == 401
    sign_in(client, support_user)
    assert client.get("/matching/").status_code == 403
    fresh = client.application.test_client()
    sign_in(fresh, admin_of(make_account(enabled=False)))
    assert fresh.get("/matching/").headers["Location"].endswith("/integration-disabled/")


def test_find_matches_queues_one_scan_at_a_time(client, session, admin, settings):
    environment = _environment(session, admin.account_id)
    environment.fusebill_api_key_ciphertext = "not-a-real-ciphertext"
    session.add(QboConnection(environment_id=environment.id, realm_id=REALM, company_name="Books"))
    session.commit()
    queue = Queue(DEFAULT, connection=Redis.from_url(settings.redis_url))
    try:
        for _ in range(2):
            response = post_form(client, "/matching/", "/matching/find", {})
            assert response.status_code == 302 and response.headers["Location"].endswith("/matching/")
        scans = list(session.scalars(select(MatchScan).where(MatchScan.environment_id == environment.id)))
        assert [(s.status, s.realm_id) for s in scans] == [("queued", REALM)]
        job = queue.fetch_job(f"match-scan-{scans[0].id}")
        assert job is not None and job.func_name == "jobs.matching.find_matches" and job.args == (scans[0].id,)
        body = _text(client.get("/matching/"))
        assert "Finding matches" in body and 'http-equiv="refresh"' in body
        assert 'data-test="find-matches" disabled' in body
    finally:
        for scan in session.scalars(select(MatchScan)):
            job = queue.fetch_job(f"match-scan-{scan.id}")
            if job is not None:
                job.delete()
