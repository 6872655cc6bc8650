"""Customer matching honoured by the engine, through the real pieces: the portal's Customers page,
the Find matches job and the sync on forked RQ work horses, the Fusebill and QBO emulators, and the
books read back from QBO.

A QBO customer that exists before the first sync (same email as a Fusebill customer) is found, the
suggestion accepted, and after the sync it is the one QBO customer of that Fusebill customer, holding
its invoices — no duplicate; a "don't sync" customer has nothing in QBO and its records are skipped
with the reason; under "don't create", a parked customer is listed as waiting and "create" syncs it."""
from __future__ import annotations

import html
import re

import pytest
from rq import Queue, Worker
from sqlalchemy import select

from emulators.sampledata.generator import generate
from emulators.sampledata.oracle import expected_books
from jobs.queues import ALL
from portal.clients.qbo import request_id
from portal.models import SyncLink, SyncRecord
from portal.models.matching import MatchScan
from tests.portal_fixtures import post_form
from tests.sync.conftest import build_world, money

pytestmark = pytest.mark.sync

CUSTOMERS = 12
SEED = 431
US = {"country": "US", "home_currency": "USD", "tax": "none"}
USD_ONLY = {"currency_weights": {"USD": 1}}
SYNCED = ("Active", "Hold", "Suspended", "Cancelled")
NOT_SYNCED = "Not synced: chosen on the Customers page"


@pytest.fixture
def world(tmp_path, backend, qbo, fusebill, redis_url):  # type: ignore[no-untyped-def]
    yield from build_world(tmp_path, backend, qbo, fusebill, redis_url, customers=CUSTOMERS, seed=SEED, company=US, seed_options=USD_ONLY)


def _text(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.get_data(as_text=True))


def _customers_with_invoices(world) -> list[dict]:  # type: ignore[no-untyped-def]
    """Active USD Fusebill customers with a unique email and at least one posted invoice with an amount."""
    customers = world.fusebill.get(world.api_key, "/customers", pageSize=1000).json()
    summaries = world.fusebill.get(world.api_key, "/invoiceSummaries", pageSize=1000).json()
    invoiced = {str(s["customerId"]) for s in summaries if float(s.get("invoiceAmount") or s.get("total") or 0) > 0}
    emails = [str(c.get("primaryEmail") or "").lower() for c in customers]
    return [c for c in customers if c["status"] == "Active" and c.get("currency") == "USD" and str(c["id"]) in invoiced and c.get("primaryEmail")
            and emails.count(str(c["primaryEmail"]).lower()) == 1]


def _find_matches(world) -> MatchScan:  # type: ignore[no-untyped-def]
    response = post_form(world.client, "/matching/", "/matching/find", {})
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    Worker([Queue(name, connection=world.redis) for name in ALL], connection=world.redis).work(burst=True, logging_level="WARNING")
    with world.database.session_scope() as session:
        scan = session.scalars(select(MatchScan).order_by(MatchScan.id.desc())).first()
        session.expunge(scan)
    assert scan.status == "succeeded", scan.error
    return scan


def _row(body: str, customer_id: str) -> str:
    start = body.find(f'data-customer="{customer_id}"')
    assert start > 0, f"customer {customer_id} is not listed"
    return body[start:body.find("</tr>", start)]


def _row_id(row: str) -> str:
    return re.search(r'action="/matching/rows/(\d+)/decide"', row).group(1)


def _qbo_customers_of(api, customer_id: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return [c for c in api.query_all("Customer", "Active IN (true, false)")
            if str(c.get("Notes") or "").startswith(f"fusebill:customer:{customer_id}") or str(c.get("DisplayName", "")).endswith(f"(FB-{customer_id})")]


def test_a_link_accepted_on_the_customers_page_makes_no_duplicate(world):  # type: ignore[no-untyped-def]
    candidates = _customers_with_invoices(world)
    assert len(candidates) >= 2, "the data set has too few invoiced customers"
    matched, skipped = candidates[0], candidates[1]
    matched_id, skipped_id = str(matched["id"]), str(skipped["id"])
    api = world.qbo_api()
    existing = api.create("Customer", {"DisplayName": "Books Already Kept Here",
                                       "PrimaryEmailAddr": {"Address": matched["primaryEmail"].upper()}}, request_id("test", "existing"))
    existing_id = str(existing["Id"])

    _find_matches(world)
    body = _text(world.client.get("/matching/?status=suggested"))
    row = _row(body, matched_id)
    assert f"<code>{existing_id}</code> Books Already Kept Here" in row and "matched by email" in row
    assert f'value="{existing_id}"' in row  # the suggestion is what the row's link field holds
    response = post_form(world.client, "/matching/", f"/matching/rows/{_row_id(row)}/decide", {"choice": "link", "qbo_customer_id": existing_id})
    assert response.status_code == 302, re.findall(r'data-test="row-error">([^<]*)', _text(response))
    dont = _row(_text(world.client.get("/matching/")), skipped_id)
    response = post_form(world.client, "/matching/", f"/matching/rows/{_row_id(dont)}/decide", {"choice": "dont_sync", "qbo_customer_id": ""})
    assert response.status_code == 302

    run = world.sync(timeout=180)
    assert run.status in ("succeeded", "partial"), (run.status, run.error)

    # Exactly one QBO customer for the matched Fusebill customer: the one that was there, now
    # carrying the marker and holding every invoice of the customer, with its A/R to the cent.
    mine = _qbo_customers_of(api, matched_id)
    assert [c["Id"] for c in mine] == [existing_id], mine
    assert mine[0]["Notes"].startswith(f"fusebill:customer:{matched_id}")
    assert mine[0]["DisplayName"].endswith(f"(FB-{matched_id})")  # updated as the engine updates its own (display names kept in sync)
    with world.database.session_scope() as session:
        links = list(session.scalars(select(SyncLink).where(SyncLink.customer_id == matched_id)))
        skipped_records = list(session.scalars(select(SyncRecord).where(SyncRecord.customer_id == skipped_id)))
        skipped_links = list(session.scalars(select(SyncLink).where(SyncLink.customer_id == skipped_id)))
    customer_link = next(l for l in links if l.entity_type == "customer")
    assert customer_link.qbo_id == existing_id
    invoice_links = [l for l in links if l.entity_type == "invoice"]
    assert invoice_links
    for link in invoice_links:
        assert api.read("Invoice", link.qbo_id)["CustomerRef"]["value"] == existing_id
    held = [i for i in api.query_all("Invoice", f"CustomerRef = '{existing_id}'")]
    assert sorted(i["Id"] for i in held) == sorted(l.qbo_id for l in invoice_links)
    expected = expected_books(generate(CUSTOMERS, SEED, **USD_ONLY), synced_statuses=SYNCED)
    assert money(api.read("Customer", existing_id)["Balance"]) == expected.customers[int(matched_id)].ar_balance

    # The "don't sync" customer: nothing in QBO, every record of it skipped with the reason.
    assert _qbo_customers_of(api, skipped_id) == []
    assert skipped_links == []
    assert {r.entity_type for r in skipped_records} >= {"customer", "invoice"}
    assert {(r.state, r.reason) for r in skipped_records} == {("skipped", NOT_SYNCED)}
    assert not [i for i in api.query_all("Invoice") if str(i.get("PrivateNote", "")).startswith(
        tuple(f"fusebill:invoice:{r.fusebill_id}" for r in skipped_records if r.entity_type == "invoice"))]

    body = _text(world.client.get("/matching/"))
    assert 'data-status="linked"' in _row(body, matched_id) and f"Linked to <code>{existing_id}</code>" in _row(body, matched_id)
    assert 'data-status="dont_sync"' in _row(body, skipped_id)
    # A second sync with nothing changed writes nothing for them (and creates no duplicate).
    again = world.sync(timeout=120)
    assert not again.counts.get("created"), again.counts
    assert [c["Id"] for c in _qbo_customers_of(api, matched_id)] == [existing_id]


def test_under_dont_create_parked_customers_wait_for_a_decision_and_create_syncs_one(world):  # type: ignore[no-untyped-def]
    response = post_form(world.client, "/setup/settings", "/setup/settings", {"display_name_parts": ["company_name"], "update_display_names": "yes",
                                                                              "new_customers": "dont_create", "sync_start_date": "2020-01-01",
                                                                              "schedule": "off"})
    assert response.status_code in (200, 302)
    first = world.sync(timeout=180)
    assert first.status in ("succeeded", "partial"), (first.status, first.error)
    api = world.qbo_api()
    assert [c for c in api.query_all("Customer") if str(c.get("Notes") or "").startswith("fusebill:customer:")] == []
    chosen = str(_customers_with_invoices(world)[0]["id"])

    _find_matches(world)
    body = _text(world.client.get("/matching/?status=waiting"))
    waiting = re.findall(r'data-customer="(\d+)" data-status="waiting"', body)
    assert chosen in waiting and len(waiting) >= 2
    response = post_form(world.client, "/matching/", f"/matching/rows/{_row_id(_row(body, chosen))}/decide", {"choice": "create", "qbo_customer_id": ""})
    assert response.status_code == 302

    second = world.sync(timeout=180)  # nothing changed in Fusebill: the decision alone brings the customer in
    assert second.status in ("succeeded", "partial"), (second.status, second.error)
    created = _qbo_customers_of(api, chosen)
    assert len(created) == 1
    expected = expected_books(generate(CUSTOMERS, SEED, **USD_ONLY), synced_statuses=SYNCED)
    assert money(created[0]["Balance"]) == expected.customers[int(chosen)].ar_balance
    others = [c for c in waiting if c != chosen]
    with world.database.session_scope() as session:
        still = {r.fusebill_id: r.reason for r in session.scalars(select(SyncRecord).where(
            SyncRecord.entity_type == "customer", SyncRecord.fusebill_id.in_(others)))}
    assert all(reason.startswith("waiting for a decision") for reason in still.values()) and set(still) == set(others)
    assert all(_qbo_customers_of(api, other) == [] for other in others[:3])


def test_a_chosen_link_the_link_table_contradicts_is_not_made_and_fails_the_customer(session, make_account):  # type: ignore[no-untyped-def]
    """The page refuses such a choice; should the link table change meanwhile (another run linked the
    QBO customer), the engine does not link twice either: the customer's records fail with why."""
    from jobs.sync import links
    from jobs.sync.mapping import CustomerData, plan_customer
    from jobs.sync.model import Key
    from portal.models import Environment
    from portal.models.matching import CustomerDecision
    from tests.unit.sync.conftest import context

    account = make_account(enabled=True)
    environment = session.scalar(select(Environment).where(Environment.account_id == account.id, Environment.kind == "sandbox"))
    session.add(SyncLink(environment_id=environment.id, realm_id="9130", entity_type="customer", fusebill_id="106", part="", customer_id="106",
                         qbo_type="Customer", qbo_id="6"))
    for customer, qbo_id in (("105", "6"), ("107", "7")):
        session.add(CustomerDecision(environment_id=environment.id, realm_id="9130", fusebill_customer_id=customer, choice="link",
                                     qbo_customer_id=qbo_id, qbo_sync_token="4", decided_by_label="admin@example.com"))
    session.add(CustomerDecision(environment_id=environment.id, realm_id="other-company", fusebill_customer_id="108", choice="dont_sync",
                                 decided_by_label="admin@example.com"))
    session.flush()
    linked = links.load(session, environment.id, ["105", "107", "108"])
    decisions = links.honour_decisions(session, environment.id, "9130", ["105", "107", "108"], linked)
    assert set(decisions) == {"105", "107"}  # another company's decisions are not this one's
    assert decisions["105"].problem == "QuickBooks customer 6, chosen on the Customers page, is already linked to Fusebill customer 106."
    made = session.scalar(select(SyncLink).where(SyncLink.environment_id == environment.id, SyncLink.fusebill_id == "107"))
    assert (made.qbo_id, made.qbo_sync_token, made.payload_hash, linked[Key("customer", "107")].qbo_id) == ("7", "4", "", "7")
    assert session.scalar(select(SyncLink).where(SyncLink.environment_id == environment.id, SyncLink.fusebill_id == "105")) is None
    assert links.decided_customers(session, environment.id, "9130") == set()  # both are now applied

    data = CustomerData({"id": 105, "status": "Active", "currency": "USD", "companyName": "Epsilon"},
                        invoices=[{"id": 9001, "invoiceNumber": 12, "postedTimestamp": "2024-03-01T00:00:00", "invoiceAmount": 10,
                                   "charges": [], "taxes": []}])
    plan = plan_customer(context(), data, customer_linked=False, decision=decisions["105"])
    assert plan.docs == []
    assert {(v.record.entity_type, v.state, v.reason) for v in plan.verdicts} == {
        ("customer", "failed", decisions["105"].problem), ("invoice", "failed", decisions["105"].problem)}
