"""Rules every transaction type shares (rules.py, section "Strict documents"): closed books, DocNumber
uniqueness across types, and CurrencyRef / ExchangeRate in multicurrency companies.

Transaction types are the entities numbered from the "txn" id family (Invoice, CreditMemo, Payment,
RefundReceipt, JournalEntry).
"""
from __future__ import annotations

from decimal import Decimal

from . import faults, rules
from .entities.base import OpContext, decimal, ref_id
from .faults import QboFault
from .store import ID_FAMILIES


def is_transaction(entity: str) -> bool:
    return ID_FAMILIES.get(entity) == "txn"


def check_open_period(ctx: OpContext, entity: str, *docs: dict | None) -> None:
    """6210 when any of `docs` (the record before and/or after a write) is dated on or before the
    company's closing date (rules.CLOSED_PERIOD_FAULT)."""
    closing = ctx.company.settings.book_close_date
    if not closing or not is_transaction(entity):
        return
    for doc in docs:
        if doc is not None and doc.get("TxnDate") and doc["TxnDate"] <= closing:
            raise faults.from_rule(rules.CLOSED_PERIOD_FAULT)


def check_doc_number(ctx: OpContext, entity: str, number: str, own_id: str | None) -> None:
    """6140 when another transaction of any numbered type already uses `number`."""
    other = ctx.company.doc_number_owner(number, ctx.uniqueness_hidden, (entity, own_id) if own_id else None)
    if other is None:
        return
    txn_type, txn_id = other
    detail = rules.DUPLICATE_DOCNUMBER_DETAIL.format(number=number, txn_type=rules.TXN_TYPE_DISPLAY_NAMES[txn_type], txn_id=txn_id)
    raise QboFault("6140", detail, element="")


def sent_currency(ctx: OpContext, fields: dict) -> str | None:
    """The request's CurrencyRef (upper case); 2020 when a multicurrency company's request has none."""
    sent = ref_id(fields.get("CurrencyRef"), "CurrencyRef")
    if sent is None:
        if ctx.multicurrency and rules.CURRENCY_REF_REQUIRED_WITH_MULTICURRENCY:
            raise faults.required("CurrencyRef")
        return None
    return sent.upper()


def exchange_rate(ctx: OpContext, fields: dict, currency: str) -> Decimal:
    """ExchangeRate of a document: 1 for home currency or when omitted (qbo-accounting-patterns §9);
    rules.EXCHANGE_RATE_NOT_POSITIVE_DETAIL for a negative rate, or 0 in a multicurrency company."""
    sent = decimal(fields, "ExchangeRate")
    if sent is not None and (sent < 0 or (sent == 0 and ctx.multicurrency)):
        raise faults.business(rules.EXCHANGE_RATE_NOT_POSITIVE_DETAIL.format(rate=sent), "ExchangeRate")
    if currency == ctx.home_currency or not sent:
        return Decimal(1)
    return sent
