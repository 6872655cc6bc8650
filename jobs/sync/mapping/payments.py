"""Payments, refunds, credit reversals and every application (zero-total Payments) of the contract."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from jobs.sync.mapping.common import MappingContext, currency_fields, customer_ref, fmt, printable, private_note, ref
from jobs.sync.model import ArAccount, Doc, Key, Ref

PAYMENT_REF_LIMIT = 21


def link_line(amount: Decimal, target: Key, qbo_type: str) -> dict[str, Any]:
    linked: dict[str, Any] = {"TxnId": Ref(target), "TxnType": qbo_type}
    if qbo_type == "JournalEntry":
        linked["TxnLineId"] = Ref(target, "ar_line")  # a JE link names the A/R line it settles
    return {"Amount": fmt(amount), "LinkedTxn": [linked]}


def map_payment(ctx: MappingContext, key: Key, amount: Decimal, when: str, reference: str, lines: list[dict[str, Any]],
                customer_id: str, currency: str) -> Doc:
    """A payment: TotalAmt = amount, one line per allocation; the unallocated rest stays as credit."""
    payload: dict[str, Any] = {
        "CustomerRef": customer_ref(customer_id),
        "TotalAmt": fmt(amount),
        "TxnDate": when,
        "DepositToAccountRef": ref(ctx.ledgers["payments_deposit"]),
        "PrivateNote": private_note(key.marker, f"Fusebill payment {key.fusebill_id}"),
        "Line": lines,
        **currency_fields(ctx, currency, when),
    }
    if reference:
        payload["PaymentRefNum"] = printable(reference, PAYMENT_REF_LIMIT)
    return Doc(key, "Payment", payload, customer_id)


def map_application(ctx: MappingContext, key: Key, amount: Decimal, when: str, target: Key, target_type: str,
                    source: Key, source_type: str, customer_id: str, currency: str) -> Doc:
    """QBO's own way of applying a credit: a zero-total Payment with one line linking the document
    applied to (Invoice, or an open refund JournalEntry) and one linking the credit (CreditMemo, JE)."""
    payload: dict[str, Any] = {
        "CustomerRef": customer_ref(customer_id),
        "TotalAmt": "0",
        "TxnDate": when,
        "PrivateNote": private_note(key.marker),
        "Line": [link_line(amount, target, target_type), link_line(amount, source, source_type)],
        **currency_fields(ctx, currency, when),
    }
    return Doc(key, "Payment", payload, customer_id, details={"amount": fmt(amount)})


def map_ar_journal(ctx: MappingContext, key: Key, amount: Decimal, when: str, credit_ledger: str, description: str,
                   customer_id: str, currency: str) -> Doc:
    """One A/R line (debit, the customer as Entity: QBO refuses A/R without one) against a ledger."""
    ar_line = {
        "Amount": fmt(amount), "DetailType": "JournalEntryLineDetail", "Description": description[:4000],
        "JournalEntryLineDetail": {"PostingType": "Debit", "AccountRef": {"value": ArAccount(currency)},
                                   "Entity": {"Type": "Customer", "EntityRef": customer_ref(customer_id)}},
    }
    other = {
        "Amount": fmt(amount), "DetailType": "JournalEntryLineDetail", "Description": description[:4000],
        "JournalEntryLineDetail": {"PostingType": "Credit", "AccountRef": ref(ctx.ledgers[credit_ledger])},
    }
    payload: dict[str, Any] = {
        "TxnDate": when,
        "PrivateNote": private_note(key.marker, description[:200]),
        "Line": [ar_line, other],
        **currency_fields(ctx, currency, when),
    }
    return Doc(key, "JournalEntry", payload, customer_id)
