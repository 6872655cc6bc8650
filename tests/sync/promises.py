"""The contract's five promises, checked on the books read back from the QBO emulator (not on what the
engine believes it sent), against the oracle's expected books for the generated data set."""
from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from emulators.sampledata.oracle import expected_books
from portal.models import SyncLink, SyncRecord
from tests.sync.conftest import money

SYNCED_STATUSES = ("Active", "Hold", "Suspended", "Cancelled")
QBO_ENTITIES = ("Invoice", "Payment", "CreditMemo", "JournalEntry")


def check_promises(world, dataset, home: str = "USD", multicurrency: bool = False) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Assert promises 1-5; return what was read (states, record counts, QBO document counts)."""
    expected = expected_books(dataset, synced_statuses=SYNCED_STATUSES)
    with world.database.session_scope() as session:
        links = {(l.entity_type, l.fusebill_id, l.part): (l.qbo_type, l.qbo_id) for l in session.scalars(select(SyncLink))}
        states = Counter(dict(session.execute(select(SyncRecord.state, func.count()).group_by(SyncRecord.state)).all()))
        held = [(r.customer_id, r.label, r.state, r.reason) for r in session.scalars(select(SyncRecord).where(SyncRecord.state.in_(("failed", "pending"))))]
        recorded = {(r.entity_type, r.fusebill_id): r for r in session.scalars(select(SyncRecord))}
        for record in recorded.values():
            session.expunge(record)
    foreign = set() if multicurrency else {str(b.customer.id) for b in dataset.customers if b.customer.currency != home}
    # Promise 5: nothing silently dropped — every Fusebill customer has a visible state, every held
    # record a reason; here only the foreign customers of a one-currency company may be held.
    assert {("customer", str(b.customer.id)) for b in dataset.customers} <= set(recorded)
    assert all(reason for *_, reason in held), [h for h in held if not h[3]][:5]
    unexpected = [h for h in held if h[0] not in foreign or "without multicurrency" not in (h[3] or "")]
    if unexpected:  # the customers' own records first (their docs only wait for them), with their links
        owners = sorted({h[0] for h in unexpected})[:3]
        detail = {owner: {"record": [(r.state, r.reason, r.qbo_id, r.attempts) for (kind, fid), r in recorded.items()
                                     if kind == "customer" and fid == owner],
                          "link": links.get(("customer", owner, ""))} for owner in owners}
        raise AssertionError(f"{len(unexpected)} records held unexpectedly; customers: {detail}; "
                             f"held: {sorted(unexpected, key=lambda h: not h[1].startswith('Customer'))[:8]}")

    api = world.qbo_api()
    customers = {row["Id"]: row for row in api.query_all("Customer", "Active IN (true, false)")}
    documents = {entity: {row["Id"]: row for row in api.query_all(entity)} for entity in QBO_ENTITIES}
    invoices = documents["Invoice"]
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
        assert link is not None and link[1] in invoices, f"invoice {invoice_id} is missing from QBO"
        if want.qbo_balance is not None and money(invoices[link[1]]["Balance"]) != want.qbo_balance:
            wrong.append((invoice_id, str(want.qbo_balance), invoices[link[1]]["Balance"]))
    assert not wrong, wrong[:8]
    # Promise 3: the invoices' net amounts posted to Deferred Revenue, per currency.
    posted: dict[str, Decimal] = defaultdict(Decimal)
    for (kind, _fusebill_id, part), (_qbo_type, qbo_id) in links.items():
        if kind == "invoice" and not part:
            row = invoices[qbo_id]
            currency = (row.get("CurrencyRef") or {}).get("value", home)
            posted[currency] += sum((Decimal(str(l["Amount"])) for l in row["Line"] if l.get("DetailType") == "SalesItemLineDetail"
                                     and l["SalesItemLineDetail"]["ItemRef"].get("name", "") != "Fusebill Taxes"
                                     and "Taxes" not in str(l.get("Description", ""))), Decimal("0"))
    invoiced_net: dict[str, Decimal] = defaultdict(Decimal)
    for bundle in dataset.customers:
        if bundle.customer.status in SYNCED_STATUSES and str(bundle.customer.id) not in foreign:
            for invoice in bundle.invoices:
                invoiced_net[invoice.currency] += invoice.invoice_amount - sum((t.amount for t in invoice.taxes), Decimal("0"))
    assert {c: money(v) for c, v in posted.items()} == {c: money(v) for c, v in invoiced_net.items() if v}
    # Promise 4: one-to-one — every marker once in QBO, no QBO document linked twice, every link's
    # document present in QBO (none missing).
    markers = Counter(row.get("Notes") for row in customers.values() if str(row.get("Notes", "")).startswith("fusebill:"))
    assert markers and max(markers.values()) == 1, [m for m, c in markers.items() if c > 1][:5]
    duplicates = {}
    for entity, rows in documents.items():
        notes = Counter(str(row.get("PrivateNote", "")).split(" · ")[0] for row in rows.values() if str(row.get("PrivateNote", "")).startswith("fusebill:"))
        duplicates[entity] = [n for n, c in notes.items() if c > 1]
    assert not any(duplicates.values()), duplicates
    assert len(set(links.values())) == len(links)
    present = {("Customer", i) for i in customers} | {(entity, i) for entity, rows in documents.items() for i in rows}
    missing = [key for key, target in links.items() if target not in present]
    assert not missing, missing[:8]
    return {"states": dict(states), "records": sum(states.values()), "links": len(links),
            "qbo_documents": {"Customer": len(customers), **{e: len(r) for e, r in documents.items()}}}
