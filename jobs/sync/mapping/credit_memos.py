"""Credits, charge reversals (credit notes) and write-offs → QBO CreditMemos."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from jobs.sync.mapping.common import (
    DOC_NUMBER_LIMIT,
    ZERO,
    MappingContext,
    MappingError,
    currency_fields,
    customer_ref,
    day,
    money,
    printable,
    private_note,
    sales_line,
)
from jobs.sync.mapping.taxes import sales_lines, tax_amounts, untaxed_code
from jobs.sync.model import CREDIT, CREDIT_NOTE, WRITE_OFF, Doc, Key


def _memo(ctx: MappingContext, key: Key, customer_id: str, currency: str, when: str, lines: list, note: str, extra: dict | None = None) -> Doc:
    payload: dict[str, Any] = {
        "CustomerRef": customer_ref(customer_id),
        "TxnDate": when,
        "PrivateNote": private_note(key.marker, note),
        "Line": lines,
        **(extra or {}),
        **currency_fields(ctx, currency, when),
    }
    return Doc(key, "CreditMemo", payload, customer_id)


def map_credit(ctx: MappingContext, credit_id: str, amount: Decimal, when: str, reference: str, customer_id: str, currency: str) -> Doc:
    """A customer credit: item "Fusebill Credits" (non-taxable; Credits ledger) for the full amount."""
    if amount <= 0:
        raise MappingError(f"credit {credit_id} has a non-positive amount ({amount} {currency})")
    line = sales_line(amount, ctx.items["credits"], "Fusebill Credits" + (f" — {reference}" if reference else ""), untaxed_code(ctx))
    extra = {"GlobalTaxCalculation": "TaxExcluded"} if ctx.tax_setup == "codes" else {}
    return _memo(ctx, Key(CREDIT, credit_id), customer_id, currency, when, [line], f"Fusebill credit {credit_id}", extra)


def map_write_off(ctx: MappingContext, write_off_id: str, amount: Decimal, when: str, invoice_number: str, customer_id: str, currency: str) -> Doc:
    """A write-off: item "Fusebill Write-Offs" for the gross amount (tax included), no tax of its own."""
    if amount <= 0:
        raise MappingError(f"write-off {write_off_id} has a non-positive amount ({amount} {currency})")
    line = sales_line(amount, ctx.items["write_offs"], f"Fusebill Write-Offs — invoice {invoice_number}", untaxed_code(ctx))
    extra = {"GlobalTaxCalculation": "TaxExcluded"} if ctx.tax_setup == "codes" else {}
    return _memo(ctx, Key(WRITE_OFF, write_off_id), customer_id, currency, when, [line], f"Fusebill write-off of invoice {invoice_number}", extra)


def _reversed_taxes(note: dict[str, Any], currency: str, what: str) -> list:
    """Per rule from `/CreditNotes/{id}`; from the list's summary only the total (enough wherever
    tax is a line of its own rather than QBO tax codes)."""
    if note.get("taxes") is not None:
        return tax_amounts(note.get("taxes"), currency, what)
    total = money(note.get("totalTaxAmount") or 0, currency, f"{what} tax")
    return tax_amounts([{"name": "Tax", "amount": total}], currency, what) if total else []


def credit_note_total(note: dict[str, Any], currency: str) -> Decimal:
    what = f"charge reversal {note.get('creditNotesNumber') or note['id']}"
    net = money(note.get("netAmount"), currency, what)
    taxes = sum((t.amount for t in _reversed_taxes(note, currency, what)), ZERO)
    return net + taxes


def map_credit_note(ctx: MappingContext, note: dict[str, Any], customer_id: str, currency: str) -> Doc:
    """A charge reversal: item "Fusebill Charge Reversals" for the net amount, reversed tax as on invoices."""
    number = str(note.get("creditNotesNumber") or "")
    what = f"charge reversal {number or note['id']}"
    net = money(note.get("netAmount"), currency, what)
    if net < 0:
        raise MappingError(f"{what} has a negative amount ({net} {currency})")
    taxes = _reversed_taxes(note, currency, what)
    if ctx.tax_setup == "codes" and note.get("taxes") is None and taxes:
        raise MappingError(f"{what}: its reversed taxes per rule were not read from Fusebill")
    when = day(note.get("effectiveTimestamp") or note.get("invoicePostedDate"))
    lines, tax_fields = sales_lines(ctx, net=net, taxable_net=net, taxes=taxes, item="charge_reversals",
                                    description="Fusebill Charge Reversals", currency=currency, what=what)
    doc = _memo(ctx, Key(CREDIT_NOTE, str(note["id"])), customer_id, currency, when, lines,
                f"Fusebill charge reversal {number} of invoice {note.get('invoiceNumber')}", tax_fields)
    if number:
        doc.payload["DocNumber"] = printable(number, DOC_NUMBER_LIMIT)
    return doc
