"""Which of the cases a sync must handle a Dataset actually contains, detected from the records.

`coverage(dataset)` counts every case by looking at the data, never at what the generator meant
to do, so a test can assert "every case appears" and fail when a generator change loses one.
`summary(dataset)` is the short description the emulator's seed endpoint returns.
"""
from __future__ import annotations

from collections import Counter

from emulators.sampledata.money import ZERO, quantum, round_money
from emulators.sampledata.records import ACTIVE, COLLECT, DRAFT, REFUND, SUCCESSFUL, VALIDATE, Dataset

# Cases every generated dataset of 200+ customers must contain (see generator docstring).
REQUIRED_CASES: tuple[str, ...] = (
    "currency:USD", "currency:CAD", "currency:EUR", "currency:GBP",
    "tax_rule:GST", "tax_rule:HST-ON", "tax_rule:QST", "tax_rule:PST-BC", "tax_rule:US-NY",
    "tax_rule:GB-VAT", "tax_rule:DE-VAT",
    "invoice:untaxed", "invoice:mixed_taxable", "tax:per_line_rounding_differs", "tax:half_cent",
    "payment:exact", "payment:partial", "payment:over", "payment:unallocated", "payment:allocated_later",
    "payment:several_invoices", "invoice:several_payments",
    "refund:allocated", "refund:unallocated",
    "credit:applied", "credit:unapplied", "debit:allocated", "debit:unallocated",
    "credit_note:partial", "credit_note:full", "credit_note:paid_invoice", "write_off",
    "activity:failed_collect", "activity:validate", "activity:unknown", "activity:failed_refund",
    "customer:draft", "customer:not_active_with_history",
    "name:duplicate", "name:unicode", "name:colon", "name:at_length_limit",
)


def coverage(dataset: Dataset) -> Counter[str]:
    """How many times each case occurs (cases not present are absent from the counter)."""
    found: Counter[str] = Counter()
    rules = {rule.id: rule for rule in dataset.tax_rules}
    names_seen: Counter[tuple[str | None, str | None, str | None]] = Counter()
    for bundle in dataset.customers:
        customer = bundle.customer
        found[f"currency:{customer.currency}"] += 1
        if customer.status == DRAFT:
            found["customer:draft"] += 1
        elif customer.status != ACTIVE and bundle.has_financial_records():
            found["customer:not_active_with_history"] += 1
        key = (customer.first_name, customer.last_name, customer.company_name)
        names_seen[key] += 1
        texts = [t for t in key if t]
        if any(not t.isascii() for t in texts):
            found["name:unicode"] += 1
        if any(":" in t for t in texts):
            found["name:colon"] += 1
        if any(len(t) >= 50 for t in texts):
            found["name:at_length_limit"] += 1
        _invoice_cases(bundle, rules, found)
        _money_cases(bundle, found)
    found["name:duplicate"] = sum(count - 1 for count in names_seen.values() if count > 1)
    return +found


def _invoice_cases(bundle, rules, found: Counter[str]) -> None:
    currency = bundle.customer.currency
    for invoice in bundle.invoices:
        if not invoice.taxes:
            found["invoice:untaxed"] += 1
        elif any(not charge.taxable for charge in invoice.charges):
            found["invoice:mixed_taxable"] += 1
        for tax in invoice.taxes:
            rule = rules[tax.tax_rule_id]
            found[f"tax_rule:{rule.code}"] += 1
            exact = tax.taxable_amount * rule.percentage / 100
            if exact % quantum(currency) == quantum(currency) / 2:
                found["tax:half_cent"] += 1
            per_line = sum(
                (round_money(c.amount * rule.percentage / 100, currency) for c in invoice.charges if c.taxable), ZERO
            )
            if per_line != tax.amount:
                found["tax:per_line_rounding_differs"] += 1
    for note in bundle.credit_notes:
        invoice = next(inv for inv in bundle.invoices if inv.id == note.invoice_id)
        whole = {line.charge_transaction_id for line in note.lines} == {c.transaction_id for c in invoice.charges}
        found["credit_note:full" if whole else "credit_note:partial"] += 1
        if paid_in_full_before(bundle, invoice, note.seq):
            found["credit_note:paid_invoice"] += 1
    found["write_off"] += len(bundle.write_offs)


def paid_in_full_before(bundle, invoice, seq: int) -> bool:
    """Whether payments and credits allocated to `invoice` before `seq` (net of the refunds and credit
    reversals taken back out of it) cover the whole invoice: a charge reversal after that is one on
    a fully paid invoice (issue #8)."""
    paid = ZERO
    for source in (*bundle.payments, *bundle.credits):
        paid += sum((a.amount for a in source.allocations if a.invoice_id == invoice.id and a.seq < seq), ZERO)
    for source in (*bundle.refunds, *bundle.debits):
        if source.seq < seq:
            paid -= sum((a.amount for a in source.allocations if a.invoice_id == invoice.id), ZERO)
    return paid >= invoice.invoice_amount


def _money_cases(bundle, found: Counter[str]) -> None:
    invoice_amount = {inv.id: inv.invoice_amount for inv in bundle.invoices}
    payers: Counter[int] = Counter()
    for payment in bundle.payments:
        allocated = sum((a.amount for a in payment.allocations), ZERO)
        if not payment.allocations:
            found["payment:unallocated"] += 1
        elif allocated < payment.amount:
            found["payment:over"] += 1
        if any(allocation.effective > payment.effective for allocation in payment.allocations):
            found["payment:allocated_later"] += 1
        invoices = {a.invoice_id for a in payment.allocations}
        if len(invoices) > 1:
            found["payment:several_invoices"] += 1
        for allocation in payment.allocations:
            payers[allocation.invoice_id] += 1
            if allocation.amount == invoice_amount[allocation.invoice_id]:
                found["payment:exact"] += 1
            elif allocation.amount < invoice_amount[allocation.invoice_id]:
                found["payment:partial"] += 1
    found["invoice:several_payments"] += sum(1 for count in payers.values() if count > 1)
    for refund in bundle.refunds:
        found["refund:allocated" if refund.allocations else "refund:unallocated"] += 1
    for credit in bundle.credits:
        allocated = sum((a.amount for a in credit.allocations), ZERO)
        found["credit:applied" if credit.allocations else "credit:unapplied"] += 1
        if credit.allocations and allocated < credit.amount:
            found["credit:unapplied"] += 1
    for debit in bundle.debits:
        found["debit:allocated" if debit.allocations else "debit:unallocated"] += 1
    for activity in bundle.payment_activities:
        if activity.transaction_type == VALIDATE:
            found["activity:validate"] += 1
        elif activity.status != SUCCESSFUL:
            kind = "failed_refund" if activity.transaction_type == REFUND else (
                "failed_collect" if activity.status == "Failed" else "unknown"
            )
            found[f"activity:{kind}"] += 1
        elif activity.transaction_type == COLLECT and activity.payment_id is None:
            found["activity:successful_collect_without_payment"] += 1  # never generated; flags a bug


def summary(dataset: Dataset) -> dict[str, object]:
    """Counts per record type, per currency and per status (what the seed endpoint reports)."""
    counts: Counter[str] = Counter()
    currencies: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for bundle in dataset.customers:
        counts["customers"] += 1
        currencies[bundle.customer.currency] += 1
        statuses[bundle.customer.status] += 1
        for kind in ("invoices", "payment_activities", "payments", "refunds", "credits", "debits", "credit_notes", "write_offs"):
            counts[kind] += len(getattr(bundle, kind))
    return {
        "seed": dataset.seed,
        "counts": dict(sorted(counts.items())),
        "currencies": dict(sorted(currencies.items())),
        "statuses": dict(sorted(statuses.items())),
        "tax_rules": [{"id": r.id, "code": r.code, "name": r.name, "percentage": str(r.percentage)} for r in dataset.tax_rules],
    }


def missing_cases(dataset: Dataset) -> list[str]:
    """Required cases the dataset does not contain."""
    found = coverage(dataset)
    return [case for case in REQUIRED_CASES if not found.get(case)]


