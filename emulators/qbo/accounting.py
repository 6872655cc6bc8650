"""Balances, linked transactions and postings.

How the numbers hang together:

* Every transaction record carries `_postings`: `[account id, signed amount in the account's currency]`,
  debits positive. `Company.put` adds them to the ledger and `Company.drop` takes them out, so an
  account balance is always the sum over the records that exist now (rules.BALANCE_IS_DEBIT_MINUS_CREDIT).
* A Payment carries `_applications`: `[TxnType, TxnId, JE line id or None, amount]`. Applying it records
  the amount on the target: `_payments[payment id]` on an Invoice or CreditMemo (which sets its
  `Balance` / `RemainingCredit` and `LinkedTxn`), `applied[payment id]` on a JournalEntry's A/R line.
* A customer's `Balance` is the sum of its open items: opening balance + invoice balances + open A/R
  journal lines (debits +, credits −) − credit memo remaining credit − unapplied payment amounts. This
  equals charges − payments − credits because applications move amounts between open items only.
  It is computed from the per-customer index, so a read costs O(that customer's documents).
"""
from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from . import faults, rules
from .money import ZERO, round_money

if TYPE_CHECKING:
    from .entities.base import OpContext
    from .store import Company


# ---- system accounts --------------------------------------------------------------------------

def receivable_account(ctx: "OpContext", currency: str) -> str:
    """The A/R account for `currency`; QBO keeps one per currency and creates it on first use."""
    if currency == ctx.home_currency:
        return ctx.company.system_accounts["ar"]
    role = f"ar:{currency}"
    if role not in ctx.company.system_accounts:
        # An A/R account in that currency made through the API (a journal entry needs one before any
        # sales document exists) is the one QBO uses; only when there is none does it make its own.
        for account in ctx.company.table("Account").values():
            if account.get("AccountType") == "Accounts Receivable" and account.get("Active", True) \
                    and (account.get("CurrencyRef") or {}).get("value") == currency:
                ctx.company.system_accounts[role] = account["Id"]
                return account["Id"]
        from .entities.account import seed_account

        seed_account(ctx, f"Accounts Receivable (A/R) - {currency}", "Accounts Receivable", "AccountsReceivable",
                     currency=currency, role=role)
    return ctx.company.system_accounts[role]


def account_currency(ctx: "OpContext", account_id: str) -> str:
    account = ctx.company.get("Account", account_id)
    return account["CurrencyRef"]["value"] if account else ctx.home_currency


def in_account_currency(ctx: "OpContext", account_id: str, amount: Decimal, txn_currency: str, rate: Decimal) -> Decimal:
    """An amount in transaction currency expressed in the account's currency (home units = amount × rate)."""
    currency = account_currency(ctx, account_id)
    if currency == txn_currency:
        return round_money(amount, currency)
    return round_money(amount * rate, currency)


def check_account_currency(ctx: "OpContext", account: dict, txn_currency: str, element: str) -> None:
    currency = account["CurrencyRef"]["value"]
    if currency not in (ctx.home_currency, txn_currency):
        raise faults.business(rules.ACCOUNT_CURRENCY_DETAIL, element)


def add_posting(postings: dict[str, Decimal], account_id: str, amount: Decimal) -> None:
    postings[account_id] = postings.get(account_id, ZERO) + amount


def posting_list(postings: dict[str, Decimal]) -> list:
    return [[account_id, amount] for account_id, amount in postings.items() if amount != 0]


# ---- balances -----------------------------------------------------------------------------------

def open_amount(entry: dict) -> Decimal:
    """Open amount of a JournalEntry A/R line."""
    return entry["amount"] - sum(entry["applied"].values(), ZERO)


def customer_balance(company: "Company", customer_id: str) -> Decimal:
    customer = company.get("Customer", customer_id)
    total = Decimal(customer.get("_opening_balance", 0)) if customer else ZERO
    for entity, doc in company.customer_documents(customer_id):
        if entity == "Invoice":
            total += doc["Balance"]
        elif entity == "CreditMemo":
            total -= doc["RemainingCredit"]
        elif entity == "Payment":
            total -= doc["UnappliedAmt"]
        elif entity == "JournalEntry":
            for entry in doc.get("_ar", ()):
                if entry["customer"] == customer_id:
                    total += entry["sign"] * open_amount(entry)
    return total


def children_balance(company: "Company", customer_id: str) -> Decimal:
    total = ZERO
    for child in company.children.get(("Customer", customer_id), ()):
        total += customer_balance(company, child) + children_balance(company, child)
    return total


def touch_customer(ctx: "OpContext", customer_id: str) -> None:
    """A balance change moves the customer's LastUpdatedTime but not its SyncToken (qbo-response-examples §3.1)."""
    customer = ctx.company.get("Customer", customer_id)
    if customer is None or customer["MetaData"]["LastUpdatedTime"] == ctx.timestamp():
        return
    updated = dict(customer)
    updated["MetaData"] = {**customer["MetaData"], "LastUpdatedTime": ctx.timestamp()}
    ctx.uow.save("Customer", updated)


# ---- open amounts of the documents a payment can link ---------------------------------------------

def refresh_open_amounts(entity: str, doc: dict, home_currency: str) -> None:
    """Recompute Balance/RemainingCredit/LinkedTxn of an Invoice or CreditMemo from `_payments`."""
    applied = sum(doc.get("_payments", {}).values(), ZERO)
    currency = doc["CurrencyRef"]["value"]
    links = [{"TxnId": pid, "TxnType": "Payment"} for pid in sorted(doc.get("_payments", {}), key=int)]
    if entity == "Invoice":
        doc["Balance"] = round_money(doc["TotalAmt"] - applied, currency)
        doc["LinkedTxn"] = links
        if "HomeBalance" in doc:
            doc["HomeBalance"] = round_money(doc["Balance"] * doc.get("ExchangeRate", 1), home_currency)
    elif entity == "CreditMemo":
        doc["RemainingCredit"] = round_money(doc["TotalAmt"] - applied, currency)
        doc["Balance"] = doc["RemainingCredit"]
        if links:
            doc["LinkedTxn"] = links
        else:
            doc.pop("LinkedTxn", None)


def applied_total(entity: str, doc: dict) -> Decimal:
    if entity == "JournalEntry":
        return sum((sum(e["applied"].values(), ZERO) for e in doc.get("_ar", ())), ZERO)
    return sum(doc.get("_payments", {}).values(), ZERO)


def apply_payment(ctx: "OpContext", payment: dict) -> None:
    """Record the payment's applications on the documents it links."""
    _change_applications(ctx, payment, +1)


def unapply_payment(ctx: "OpContext", payment: dict) -> None:
    _change_applications(ctx, payment, -1)


def _change_applications(ctx: "OpContext", payment: dict, direction: int) -> None:
    payment_id = payment["Id"]
    for entity, target_id, line_id, amount in payment.get("_applications", ()):
        target = ctx.uow.editable(entity, target_id)
        if entity == "JournalEntry":
            for entry in target["_ar"]:
                if entry["line"] == line_id:
                    _bump(entry["applied"], payment_id, Decimal(amount) * direction)
        else:
            _bump(target.setdefault("_payments", {}), payment_id, Decimal(amount) * direction)
            refresh_open_amounts(entity, target, ctx.home_currency)
        target["MetaData"] = {**target["MetaData"], "LastUpdatedTime": ctx.timestamp()}
        ctx.uow.save(entity, target)


def _bump(applied: dict, payment_id: str, delta: Decimal) -> None:
    value = applied.get(payment_id, ZERO) + delta
    if value == 0:
        applied.pop(payment_id, None)
    else:
        applied[payment_id] = value


def payments_linking(entity: str, doc: dict) -> list[str]:
    if entity == "JournalEntry":
        ids = {pid for entry in doc.get("_ar", ()) for pid in entry["applied"]}
    else:
        ids = set(doc.get("_payments", {}))
    return sorted(ids, key=int)


def unlink_from_payments(ctx: "OpContext", entity: str, doc: dict) -> None:
    """Before a linked document is deleted or voided: drop the payment lines that link it.

    The money those lines applied becomes unapplied credit on the payment (rules.DELETE_LINKED_CREDIT_DETAIL
    covers the case where that would go negative).
    """
    from .entities.payment import recompute_after_unlink

    for payment_id in payments_linking(entity, doc):
        payment = ctx.company.get("Payment", payment_id)
        if payment is None:
            continue
        if payment.get("_deposited"):
            raise faults.QboFault("6540", rules.DEPOSITED_DETAIL, element="")
        unapply_payment(ctx, payment)
        updated = recompute_after_unlink(ctx, payment, entity, doc["Id"])
        ctx.uow.save("Payment", updated)
        apply_payment(ctx, updated)


# ---- automatically apply credits --------------------------------------------------------------------

def auto_apply_credits(ctx: "OpContext", invoice: dict) -> dict:
    """QBO's "Automatically apply credits" (qbo-accounting-patterns §6), run after an invoice is created.

    Open credits of the customer (credit memo RemainingCredit, credit A/R journal lines, unapplied
    payment amounts; oldest first) are applied to the new invoice: credit documents through one
    zero-total Payment memoed "Created by QB Online to link credits to charges", unapplied payments by
    adding a line to that payment. Returns the invoice as it stands afterwards.
    """
    from .entities.payment import PaymentType

    customer_id = invoice["CustomerRef"]["value"]
    currency = invoice["CurrencyRef"]["value"]
    credits = []
    for entity, doc in ctx.company.customer_documents(customer_id):
        if (entity, doc["Id"]) in ctx.hidden or doc["CurrencyRef"]["value"] != currency:
            continue
        if entity == "CreditMemo" and doc["RemainingCredit"] > 0:
            credits.append((doc["TxnDate"], int(doc["Id"]), entity, doc, None, doc["RemainingCredit"]))
        elif entity == "Payment" and doc["UnappliedAmt"] > 0 and not doc.get("_deposited"):
            credits.append((doc["TxnDate"], int(doc["Id"]), entity, doc, None, doc["UnappliedAmt"]))
        elif entity == "JournalEntry":
            for entry in doc["_ar"]:
                if entry["customer"] == customer_id and entry["sign"] < 0 and open_amount(entry) > 0:
                    credits.append((doc["TxnDate"], int(doc["Id"]), entity, doc, entry["line"], open_amount(entry)))
    credits.sort(key=lambda credit: (credit[0], credit[1]))

    remaining = invoice["Balance"]
    zero_payment_lines = []
    charged = ZERO
    handler = PaymentType()
    for _date, _id, entity, doc, line_id, available in credits:
        if remaining <= 0:
            break
        amount = min(available, remaining)
        remaining -= amount
        if entity == "Payment":
            current = ctx.company.get("Payment", doc["Id"])
            body = {key: value for key, value in current.items() if not key.startswith("_")}
            body["Line"] = list(current["Line"]) + [
                {"Amount": amount, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}
            ]
            handler.update(ctx, current, body, sparse=False)
        else:
            link = {"TxnId": doc["Id"], "TxnType": entity}
            if line_id is not None:
                link["TxnLineId"] = line_id
            zero_payment_lines.append({"Amount": amount, "LinkedTxn": [link]})
            charged += amount
    if zero_payment_lines:
        body = {
            "CustomerRef": {"value": customer_id},
            "CurrencyRef": {"value": currency},
            "TotalAmt": 0,
            "TxnDate": invoice["TxnDate"],
            "PrivateNote": rules.AUTO_APPLY_PRIVATE_NOTE,
            "Line": [{"Amount": charged, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}] + zero_payment_lines,
        }
        if ctx.multicurrency and "ExchangeRate" in invoice:
            body["ExchangeRate"] = invoice["ExchangeRate"]
        handler.create(ctx, body)
    return ctx.company.get("Invoice", invoice["Id"])
