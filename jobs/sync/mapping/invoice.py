"""Fusebill invoice (posted) → QBO Invoice: "Fusebill Charges" net of taxes, taxes per the set-up."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from jobs.sync.mapping.common import DOC_NUMBER_LIMIT, ZERO, MappingContext, MappingError, currency_fields, customer_ref, day, money, printable, private_note
from jobs.sync.mapping.taxes import sales_lines, tax_amounts
from jobs.sync.model import INVOICE, Doc, Key


def invoice_total(invoice: dict[str, Any], currency: str) -> Decimal:
    return money(invoice.get("invoiceAmount"), currency, f"invoice {invoice.get('invoiceNumber')}")


def map_invoice(ctx: MappingContext, invoice: dict[str, Any], customer_id: str, currency: str) -> Doc:
    what = f"invoice {invoice.get('invoiceNumber') or invoice['id']}"
    total = invoice_total(invoice, currency)
    if total < 0:
        raise MappingError(f"{what} has a negative total ({total} {currency}); QuickBooks invoices cannot be negative")
    taxes = tax_amounts(invoice.get("taxes"), currency, what)
    total_tax = sum((t.amount for t in taxes), ZERO)
    net = total - total_tax
    if net < 0:
        raise MappingError(f"{what}: its taxes ({total_tax}) exceed its total ({total} {currency})")
    charges = invoice.get("charges") or []
    taxable_net = sum((money(c.get("amount"), currency, f"{what} charge") for c in charges if c.get("taxable") is not False), ZERO)
    if not charges:
        taxable_net = net
    posted = day(invoice.get("postedTimestamp") or invoice.get("effectiveTimestamp"))
    lines, tax_fields = sales_lines(ctx, net=net, taxable_net=taxable_net, taxes=taxes, item="charges",
                                    description="Fusebill Charges", currency=currency, what=what)
    schedules = invoice.get("paymentSchedules") or []
    due = day(schedules[0]["dueDate"]) if schedules and schedules[0].get("dueDate") else posted
    key = Key(INVOICE, str(invoice["id"]))
    payload: dict[str, Any] = {
        "CustomerRef": customer_ref(customer_id),
        "TxnDate": posted,
        "DueDate": max(due, posted),
        "PrivateNote": private_note(key.marker, f"Fusebill invoice {invoice.get('invoiceNumber')}"),
        "Line": lines,
        **tax_fields,
        **currency_fields(ctx, currency, posted),
    }
    number = printable(invoice.get("invoiceNumber") or "", DOC_NUMBER_LIMIT)
    if number:
        payload["DocNumber"] = number
    return Doc(key, "Invoice", payload, customer_id)
