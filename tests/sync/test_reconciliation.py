"""The reconciliation report built by its real job, against the emulators: after a real sync every
customer matches (Fusebill's A/R equal to the oracle's, QBO's balance read live); an invoice added
in QuickBooks behind the sync's back makes that customer the first line, a mismatch by exactly its
amount, and moves the Deferred Revenue ledger by the same amount."""
from __future__ import annotations

import csv
import html
import io
import time
from decimal import Decimal

import pytest
from rq import Queue, Worker
from sqlalchemy import select

from emulators.sampledata.generator import generate
from emulators.sampledata.oracle import expected_books
from jobs.queues import DEFAULT
from portal.clients.qbo import request_id
from portal.models import ManagedItem, SyncRecord, ReconciliationLine, ReconciliationReport, SyncLink
from tests.portal_fixtures import post_form
from tests.sync.conftest import build_world, money

pytestmark = pytest.mark.sync

CUSTOMERS = 30
US = {"country": "US", "home_currency": "USD", "tax": "none"}
USD_ONLY = {"currency_weights": {"USD": 1}}
SYNCED = ("Active", "Hold", "Suspended", "Cancelled")
SEED = 141


@pytest.fixture
def world(tmp_path, backend, qbo, fusebill, redis_url):  # type: ignore[no-untyped-def]
    for built in build_world(tmp_path, backend, qbo, fusebill, redis_url, customers=CUSTOMERS, seed=SEED, company=US, seed_options=USD_ONLY):
        yield built


def _check_now(world) -> ReconciliationReport:  # type: ignore[no-untyped-def]
    """Press Check now on the page, then work the default queue (a real forked RQ work horse) until the report is built."""
    response = post_form(world.client, "/reports/", "/reports/check")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    report_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    deadline = time.monotonic() + 240
    queue = Queue(DEFAULT, connection=world.redis)
    while True:
        Worker([queue], connection=world.redis).work(burst=True, logging_level="WARNING")
        with world.database.session_scope() as session:
            report = session.get(ReconciliationReport, report_id)
            if report.status in ("done", "failed"):
                session.expunge(report)
                return report
        assert not queue.failed_job_registry.get_job_ids(), "the report job crashed"
        assert time.monotonic() < deadline, f"report {report_id} did not finish: {report.status}"
        time.sleep(0.2)


def _lines(world, report_id: int) -> list[ReconciliationLine]:  # type: ignore[no-untyped-def]
    with world.database.session_scope() as session:
        from portal.services.reconciliation import lines_of

        lines = lines_of(session, session.get(ReconciliationReport, report_id))
        for line in lines:
            session.expunge(line)
        return lines


def _ledger(report: ReconciliationReport, key: str) -> dict:
    return next(row for row in report.ledgers if key in row["ledgers"])


def test_after_a_sync_every_customer_matches_and_a_change_in_quickbooks_shows_first(world):  # type: ignore[no-untyped-def]
    run = world.sync(timeout=180)
    assert run.status in ("succeeded", "partial"), (run.status, run.error)
    dataset = generate(CUSTOMERS, SEED, **USD_ONLY)
    # The generator's scripted stories include a few foreign customers, which a company without
    # multicurrency holds (with the reason): they are the report's "not synced" lines.
    foreign = {str(b.customer.id) for b in dataset.customers if b.customer.currency != "USD" and b.customer.status in SYNCED}
    with world.database.session_scope() as session:
        held = {r.customer_id for r in session.scalars(select(SyncRecord).where(SyncRecord.state.in_(("failed", "pending"))))}
    assert held == foreign
    expected = {cid: want for cid, want in expected_books(dataset, synced_statuses=SYNCED).customers.items() if str(cid) not in foreign}

    report = _check_now(world)
    assert report.status == "done", report.error
    lines = _lines(world, report.id)
    synced = [line for line in lines if line.status != "not-synced"]
    assert len(synced) == len(expected) == report.customers_checked
    assert report.mismatched == report.missing_in_qbo == 0, [(l.customer_id, l.status, l.note) for l in lines if l.status != "matched"][:5]
    assert {line.status for line in synced} <= {"matched", "accepted-pair"}
    assert {line.customer_id for line in lines if line.status == "not-synced"} == foreign
    assert report.matched + report.accepted_pairs == len(expected)
    # The figures are the real ones, not the engine's beliefs: Fusebill's A/R is the oracle's, and QBO's equals it.
    for line in synced:
        assert line.fusebill_ar == expected[int(line.customer_id)].ar_balance, line.customer_id
        assert line.qbo_balance == line.fusebill_ar and line.difference == 0
        # An open refund pair (a refund of an unapplied overpayment) is listed with both open amounts.
        assert (line.status == "accepted-pair") == (line.pair_refund_open is not None and line.pair_refund_open > 0 < line.pair_unapplied)
    for key in ("deferred_revenue", "sales_tax_payable", "payments_deposit", "refunds"):
        row = _ledger(report, key)
        assert row["status"] == "matched" and row["difference"] == "0.00", row
    assert _ledger(report, "credits")["status"] == "unread" and _ledger(report, "credits")["qbo"] is None
    body = html.unescape(world.client.get("/reports/").get_data(as_text=True))
    assert "Every synced customer's balance in QuickBooks matches Fusebill to the cent." in body

    # Someone adds an invoice in QuickBooks for one matched customer, behind the sync's back.
    victim = next(line for line in synced if line.status == "matched")
    with world.database.session_scope() as session:
        charges = session.scalar(select(ManagedItem.qbo_item_id).where(ManagedItem.item_key == "charges"))
        qbo_customer = session.scalar(select(SyncLink.qbo_id).where(SyncLink.entity_type == "customer", SyncLink.fusebill_id == victim.customer_id))
    api = world.qbo_api()
    api.create("Invoice", {"CustomerRef": {"value": qbo_customer}, "TxnDate": "2024-06-01",
                           "Line": [{"Amount": "12.34", "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {"ItemRef": {"value": charges}}}]},
               request_id("test", "reconciliation", victim.customer_id))

    again = _check_now(world)
    assert again.status == "done" and again.id != report.id
    lines = _lines(world, again.id)
    first = lines[0]
    assert (first.customer_id, first.status) == (victim.customer_id, "mismatch")
    assert first.difference == Decimal("12.34") and first.qbo_balance == victim.fusebill_ar + Decimal("12.34")
    assert again.mismatched == 1 and again.total_difference == {"USD": "12.34"}
    deferred = _ledger(again, "deferred_revenue")
    assert deferred["status"] == "mismatch" and money(deferred["difference"]) == Decimal("12.34")

    page = html.unescape(world.client.get("/reports/").get_data(as_text=True))
    rows = page[page.find('data-test="report-customers"'):]
    assert rows.find(f'data-customer="{victim.customer_id}" data-status="mismatch"') < rows.find('data-status="matched"')
    assert f"/sync/records?customer={victim.customer_id}" in page
    with world.client.get(f"/reports/{again.id}.csv") as exported:
        table = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert table[1][0] == victim.customer_id and table[1][5] == "12.34" and table[1][6] == "Mismatch"
    assert len(table) == len(lines) + 1


# ------------------------------------------------------------------ the comparison rules (no I/O)
def test_an_open_refund_pair_never_excuses_a_balance_difference():
    from portal.services.reconciliation import FusebillCustomer, OpenPair, QboCustomer, compare_customer

    pair = OpenPair(Decimal("25.00"), Decimal("25.00"))
    customer = FusebillCustomer("7", "Acme", "USD", "Active", Decimal("10.00"))
    assert compare_customer(customer, "70", QboCustomer("70", Decimal("10.00"), "USD"), pair).status == "accepted-pair"
    off = compare_customer(customer, "70", QboCustomer("70", Decimal("35.00"), "USD"), pair)
    assert (off.status, off.difference) == ("mismatch", Decimal("25.00"))
    yen = compare_customer(FusebillCustomer("8", "Kabu", "JPY", "Active", Decimal("1000")), "80", QboCustomer("80", Decimal("1001"), "JPY"), None)
    assert (yen.status, yen.difference, yen.size) == ("mismatch", Decimal("1"), 1)
    assert compare_customer(customer, "70", None, None).status == "missing-in-QBO"


def test_open_pair_counts_only_the_unsettled_part_of_a_refund_entry():
    from portal.services.reconciliation import open_pair

    entry = {"Id": "9", "Line": [{"Amount": 30, "JournalEntryLineDetail": {"PostingType": "Debit", "Entity": {"EntityRef": {"value": "70"}}}},
                                 {"Amount": 30, "JournalEntryLineDetail": {"PostingType": "Credit"}}]}
    payment = {"Id": "5", "UnappliedAmt": 30, "Line": []}
    application = {"Id": "6", "UnappliedAmt": 0, "Line": [{"Amount": 30, "LinkedTxn": [{"TxnId": "9", "TxnType": "JournalEntry"}]}]}
    assert open_pair("USD", [entry], [payment], "70", {"5"}).refund_open == Decimal("30.00")
    assert open_pair("USD", [entry], [payment, application], "70", {"5"}) is None  # settled: no open pair


def test_a_ledger_with_foreign_documents_is_shown_but_not_compared():
    from portal.services.reconciliation import Posting, ledger_rows

    account = {"Id": "21", "Name": "Deferred", "AccountType": "Other Current Liability", "Classification": "Liability",
               "CurrentBalance": -150, "CurrencyRef": {"value": "USD"}}
    home = ledger_rows({"deferred_revenue": "21"}, {"21": account}, [Posting("deferred_revenue", "USD", Decimal("-150"))], {}, "USD")[0]
    assert (home.status, home.qbo, home.difference) == ("matched", Decimal("150.00"), Decimal("0.00"))
    mixed = ledger_rows({"deferred_revenue": "21"}, {"21": account}, [Posting("deferred_revenue", "USD", Decimal("-100")),
                                                                       Posting("deferred_revenue", "EUR", Decimal("-40"))], {}, "USD")[0]
    assert mixed.status == "unread" and mixed.fusebill == {"USD": Decimal("100.00"), "EUR": Decimal("40.00")}
    assert "exchange rates" in mixed.notes[0]
