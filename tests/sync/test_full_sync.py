"""A full sync of a generated data set (every case of emulators/sampledata/cases.py) into each QBO
set-up leaves QBO, read back through its API, matching the oracle — the contract's promises, to the
cent — and a second sync with no change makes no QBO write at all."""
from __future__ import annotations

import os
from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from emulators.sampledata.cases import missing_cases
from emulators.sampledata.generator import generate
from emulators.sampledata.oracle import expected_books
from portal.models import SyncLink, SyncRecord
from tests.sync.conftest import build_world, money

pytestmark = pytest.mark.sync

SYNCED_STATUSES = ("Active", "Hold", "Suspended", "Cancelled")
CUSTOMERS = int(os.environ.get("SYNC_TEST_CUSTOMERS", "200"))
SETUPS = {
    # name: (QBO company, generator options, ledgers)
    "us-no-tax": ({"country": "US", "home_currency": "USD", "tax": "none"}, {"currency_weights": {"USD": 1}}),
    "us-automated-tax": ({"country": "US", "home_currency": "USD", "tax": "us_automated"}, {"currency_weights": {"USD": 1}}),
    "ca-tax-codes": ({"country": "CA", "home_currency": "CAD", "tax": "codes"}, {"currency_weights": {"CAD": 1}}),
    "multicurrency": ({"country": "US", "home_currency": "USD", "tax": "none", "multicurrency": True}, {}),
}
LEDGERS = ("deferred_revenue", "sales_tax_payable", "payments_deposit", "refunds", "credits", "write_offs")


@pytest.fixture(scope="module", params=sorted(SETUPS))
def world(request, tmp_path_factory, backend, qbo, fusebill, redis_url):  # type: ignore[no-untyped-def]
    company, options = SETUPS[request.param]
    ledgers = tuple(l for l in LEDGERS if not (l == "sales_tax_payable" and company["tax"] == "codes"))
    seed = 11 + sorted(SETUPS).index(request.param)
    for built in build_world(tmp_path_factory.mktemp(request.param), backend, qbo, fusebill, redis_url, customers=CUSTOMERS, seed=seed,
                             company=company, seed_options=options, ledgers=ledgers):
        built.setup = request.param
        built.dataset = generate(CUSTOMERS, seed, **options)
        built.home = company["home_currency"]
        built.multicurrency = bool(company.get("multicurrency"))
        yield built


def test_first_sync_matches_the_oracle_and_a_second_writes_nothing(world):  # type: ignore[no-untyped-def]
    dataset = world.dataset
    assert not missing_cases(dataset) or CUSTOMERS < 200
    run = world.sync(timeout=240)
    expected = expected_books(dataset, synced_statuses=SYNCED_STATUSES)
    with world.database.session_scope() as session:
        links = {(l.entity_type, l.fusebill_id, l.part): (l.qbo_type, l.qbo_id) for l in session.scalars(select(SyncLink))}
        states = Counter(dict(session.execute(select(SyncRecord.state, func.count()).group_by(SyncRecord.state)).all()))
        held = [(r.customer_id, r.label, r.reason) for r in session.scalars(select(SyncRecord).where(SyncRecord.state.in_(("failed", "pending"))))]
    records = sum(states.values())
    print(f"\n{world.setup}: {records} records, {run.counts.get('qbo_requests')} QBO requests "
          f"({run.counts.get('qbo_requests', 0) / max(records, 1):.3f}/record), {run.counts.get('fusebill_requests')} Fusebill requests "
          f"({run.counts.get('fusebill_requests', 0) / max(records, 1):.3f}/record), {(run.finished_at - run.started_at).total_seconds():.1f} s")

    # Promise 5, nothing silently dropped: a company without multicurrency holds exactly the
    # foreign customers (the generator's scripted stories include a few), with the reason.
    foreign = set() if world.multicurrency else {str(b.customer.id) for b in dataset.customers if b.customer.currency != world.home}
    unexpected = [h for h in held if h[0] not in foreign or "without multicurrency" not in (h[2] or "")]
    assert not unexpected, unexpected[:8]
    assert run.status == ("partial" if held else "succeeded"), (run.status, run.error, run.counts)
    fusebill_records = {("customer", str(b.customer.id)) for b in dataset.customers}
    with world.database.session_scope() as session:
        recorded = {(r.entity_type, r.fusebill_id) for r in session.scalars(select(SyncRecord))}
    assert fusebill_records <= recorded

    api = world.qbo_api()
    customers = {row["Id"]: row for row in api.query_all("Customer", "Active IN (true, false)")}
    invoices = {row["Id"]: row for row in api.query_all("Invoice")}
    # Promise 1: each customer's A/R, to the cent, in its own currency.
    wrong = [(cid, str(want.ar_balance), customers[links[("customer", str(cid), "")][1]]["Balance"])
             for cid, want in expected.customers.items()
             if str(cid) not in foreign and money(customers[links[("customer", str(cid), "")][1]]["Balance"]) != want.ar_balance]
    assert not wrong, wrong[:8]
    # Promise 2: each invoice's balance wherever the mapping can express it.
    wrong = []
    for invoice_id, want in expected.invoices.items():
        if str(want.customer_id) in foreign:
            continue
        link = links.get(("invoice", str(invoice_id), ""))
        if want.invoice_amount == 0:
            assert link is None, "a zero-amount invoice is skipped, not posted"
            continue
        if want.qbo_balance is not None and money(invoices[link[1]]["Balance"]) != want.qbo_balance:
            wrong.append((invoice_id, str(want.qbo_balance), invoices[link[1]]["Balance"]))
    assert not wrong, wrong[:8]
    # Promise 3: the invoices' net amounts posted to Deferred Revenue, per currency.
    posted: dict[str, Decimal] = defaultdict(Decimal)
    for (kind, fusebill_id, part), (qbo_type, qbo_id) in links.items():
        if kind == "invoice" and not part:
            row = invoices[qbo_id]
            currency = (row.get("CurrencyRef") or {}).get("value", world.home)
            posted[currency] += sum((Decimal(str(l["Amount"])) for l in row["Line"] if l.get("DetailType") == "SalesItemLineDetail"
                                     and l["SalesItemLineDetail"]["ItemRef"].get("name", "") != "Fusebill Taxes"
                                     and "Taxes" not in str(l.get("Description", ""))), Decimal("0"))
    invoiced_net: dict[str, Decimal] = defaultdict(Decimal)
    for bundle in dataset.customers:
        if bundle.customer.status in SYNCED_STATUSES and str(bundle.customer.id) not in foreign:
            for invoice in bundle.invoices:
                invoiced_net[invoice.currency] += invoice.invoice_amount - sum((t.amount for t in invoice.taxes), Decimal("0"))
    assert {c: money(v) for c, v in posted.items()} == {c: money(v) for c, v in invoiced_net.items() if v}
    # Promise 4: one-to-one — every customer marker once in QBO, no QBO document linked twice.
    markers = Counter(row.get("Notes") for row in customers.values() if str(row.get("Notes", "")).startswith("fusebill:"))
    assert markers and max(markers.values()) == 1
    assert len(set(links.values())) == len(links)

    # A second sync with no change in Fusebill makes no QBO write at all (the emulator's own count).
    writes_before = _writes(world)
    again = world.sync(timeout=120)
    assert again.status == run.status, again.counts
    assert again.counts.get("created", 0) == 0 and again.counts.get("updated", 0) == 0 and again.counts.get("deleted", 0) == 0, again.counts
    assert _writes(world) == writes_before


def _writes(world) -> int:  # type: ignore[no-untyped-def]
    """Write requests (single or batched) the QBO emulator has answered for the company."""
    counts = world.qbo.request_counts(world.realm_id)
    return counts["write"] + counts["batch"]
