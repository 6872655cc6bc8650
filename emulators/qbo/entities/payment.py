"""Payment: money received from a customer, applied to invoices, credit memos and A/R journal lines.

Lines have no DetailType; each links documents through `LinkedTxn` (qbo-response-examples §2.8); a
JournalEntry link's TxnLineId, when given, must name an A/R line of that customer (620). `TotalAmt`
is required (2020).
Invoice and debit A/R journal lines are charges; credit memos and credit A/R journal lines are credits.
`TotalAmt` = charges − credits must hold when credits are linked (a zero-total payment linking an
invoice and a credit memo for the same amount is QBO's way of applying a credit); otherwise the rest is
`UnappliedAmt`. A line may not apply more than the linked document's open amount. An update removes the
old applications and applies the new ones; a deposited payment (control API) cannot change (6540).
Postings: Dr DepositToAccountRef (Undeposited Funds by default), Cr A/R, both TotalAmt.
"""
from __future__ import annotations

from decimal import Decimal

from .. import accounting, faults, rules, transactions
from ..faults import QboFault
from ..money import ZERO, round_money
from .base import (
    ENTITY_KEYS,
    EntityType,
    OpContext,
    blank,
    check_known_keys,
    check_sync_token,
    clean,
    currency_ref,
    date_value,
    decimal,
    merge_for_update,
    next_sync_token,
    public,
    ref_id,
    resolve,
    text,
)
from .sales import TRANSACTION_KEYS

KNOWN = ENTITY_KEYS | TRANSACTION_KEYS | frozenset({
    "CustomerRef", "RemitToRef", "ARAccountRef", "DepositToAccountRef", "PaymentMethodRef", "PaymentRefNum",
    "PaymentType", "CheckPayment", "CreditCardPayment", "TotalAmt", "UnappliedAmt", "ProcessPayment", "PaymentEx",
    "TaxExemptionRef",
})
READ_ONLY = frozenset({"UnappliedAmt", "LinkedTxn", "TxnTaxDetail"})
HANDLED = frozenset({"CustomerRef", "DepositToAccountRef", "ARAccountRef", "TotalAmt", "TxnDate", "CurrencyRef",
                     "ExchangeRate", "Line", "PrivateNote", "PaymentRefNum", "ProcessPayment", "DocNumber", "CustomField"})
_TXN_LIMITS = rules.MAX_LENGTHS["Transaction"]


class PaymentType(EntityType):
    name = "Payment"
    known_keys = KNOWN
    deletable = True
    voidable = True

    def build(self, ctx: OpContext, fields: dict, existing: dict | None) -> dict:
        customer_ref = fields.get("CustomerRef")
        if blank(customer_ref):
            raise faults.required("CustomerRef")
        customer = resolve(ctx, "Customer", customer_ref, "CustomerRef")
        currency = customer["CurrencyRef"]["value"]
        sent_currency = transactions.sent_currency(ctx, fields)
        if sent_currency is not None and sent_currency != currency:
            raise faults.business(rules.TXN_CURRENCY_MISMATCH_DETAIL.format(txn=sent_currency, customer=currency), "CurrencyRef")
        rate = transactions.exchange_rate(ctx, fields, currency)
        payment_id = existing["Id"] if existing else ctx.company.next_id(self.name)

        lines, applications, charges, credits = self._lines(ctx, fields.get("Line"), customer, currency)
        net = charges - credits
        total = decimal(fields, "TotalAmt")
        if total is None:
            if rules.PAYMENT_TOTAL_REQUIRED:
                raise faults.required("TotalAmt")
            total = net
        total = round_money(total, currency)
        if total < 0:
            raise faults.business(rules.NEGATIVE_PAYMENT_DETAIL, "TotalAmt")
        if credits and total != net:
            raise faults.business(rules.CREDIT_MISMATCH_DETAIL.format(total=total, net=net), "TotalAmt")
        if total < net:
            raise faults.business(rules.UNDER_PAID_DETAIL.format(total=total, net=net), "TotalAmt")
        if total == 0 and not applications:
            raise faults.business(rules.EMPTY_PAYMENT_DETAIL, "TotalAmt")

        deposit = self._deposit_account(ctx, fields, currency)
        receivable = accounting.receivable_account(ctx, currency)
        doc: dict = {"CustomerRef": {"value": customer["Id"], "name": customer["DisplayName"]}}
        doc["DepositToAccountRef"] = {"value": deposit["Id"]}
        doc["TotalAmt"] = total
        doc["UnappliedAmt"] = round_money(total - net, currency)
        doc["ProcessPayment"] = False
        doc["domain"] = "QBO"
        doc["sparse"] = False
        doc["Id"] = payment_id
        doc["SyncToken"] = next_sync_token(existing)
        doc["MetaData"] = ctx.metadata(existing)
        doc["TxnDate"] = date_value(fields, "TxnDate") or (existing or {}).get("TxnDate") or ctx.today().isoformat()
        doc["CurrencyRef"] = currency_ref(currency)
        if ctx.multicurrency:
            doc["ExchangeRate"] = rate
        reference = text(fields, "PaymentRefNum", limit=_TXN_LIMITS["PaymentRefNum"])
        if reference:
            doc["PaymentRefNum"] = reference
        note = text(fields, "PrivateNote", limit=_TXN_LIMITS["PrivateNote"])
        if note:
            doc["PrivateNote"] = note
        for key, value in fields.items():
            if key in HANDLED or key in READ_ONLY or key in ENTITY_KEYS or blank(value):
                continue
            doc[key] = clean(value) if isinstance(value, (dict, list)) else value
        doc["Line"] = lines
        doc["_applications"] = applications
        postings: dict[str, Decimal] = {}
        if total:
            accounting.add_posting(postings, deposit["Id"], accounting.in_account_currency(ctx, deposit["Id"], total, currency, rate))
            accounting.add_posting(postings, receivable, -accounting.in_account_currency(ctx, receivable, total, currency, rate))
        doc["_postings"] = accounting.posting_list(postings)
        if existing is not None and existing.get("_deposited"):
            doc["_deposited"] = True
        return doc

    def _deposit_account(self, ctx: OpContext, fields: dict, currency: str) -> dict:
        ref = fields.get("DepositToAccountRef")
        if blank(ref):
            # XSD: "If not specified, the Undeposited Funds account will be used."
            return ctx.company.get("Account", ctx.company.system_accounts["undeposited"])
        account = resolve(ctx, "Account", ref, "DepositToAccountRef")
        if account["AccountType"] not in rules.DEPOSIT_ACCOUNT_TYPES:
            raise faults.business(rules.DEPOSIT_ACCOUNT_TYPE_DETAIL, "DepositToAccountRef")
        accounting.check_account_currency(ctx, account, currency, "DepositToAccountRef")
        return account

    def _lines(self, ctx: OpContext, raw_lines: object, customer: dict, currency: str):
        """Parse lines into (response lines, applications, charges, credits), checking open amounts."""
        if raw_lines in (None, ""):
            raw_lines = []
        if not isinstance(raw_lines, list):
            raise faults.invalid_value("Line", raw_lines)
        lines: list[dict] = []
        wanted: dict[tuple[str, str, str | None], list] = {}  # target -> [amount, sign, open, doc]
        for raw in raw_lines:
            if not isinstance(raw, dict):
                raise faults.invalid_value("Line", raw)
            amount = decimal(raw, "Amount", element="Line.Amount")
            if amount is None:
                raise faults.required("Line.Amount", "Line.Amount")
            amount = round_money(amount, currency)
            if amount < 0:
                raise faults.business(rules.NEGATIVE_PAYMENT_DETAIL, "Line.Amount")
            links = raw.get("LinkedTxn") or []
            if not isinstance(links, list):
                raise faults.invalid_value("Line.LinkedTxn", links)
            shown_links = []
            for link in links:
                if not isinstance(link, dict):
                    raise faults.invalid_value("Line.LinkedTxn", link)
                target = self._target(ctx, link, customer)
                key, sign, open_amount, doc = target
                entry = wanted.setdefault(key, [ZERO, sign, open_amount, doc])
                entry[0] += amount
                shown = {"TxnId": key[1], "TxnType": key[0]}
                if key[2] is not None:
                    shown["TxnLineId"] = key[2]
                shown_links.append(shown)
            if not shown_links:
                continue  # a line that links nothing applies nothing
            lines.append({"Amount": amount, "LinkedTxn": shown_links})

        applications = []
        charges = credits = ZERO
        for (entity, target_id, line_id), (amount, sign, open_amount, _doc) in wanted.items():
            if amount > open_amount:
                raise faults.business(
                    rules.OVER_APPLIED_DETAIL.format(amount=amount, open=open_amount, txn_type=entity, txn_id=target_id),
                    "Line.Amount",
                )
            if sign > 0:
                charges += amount
            else:
                credits += amount
            if amount:
                applications.append([entity, target_id, line_id, amount])
        return lines, applications, charges, credits

    def _target(self, ctx: OpContext, link: dict, customer: dict):
        txn_type = text(link, "TxnType", element="Line.LinkedTxn.TxnType")
        txn_id = ref_id(link.get("TxnId"), "Line.LinkedTxn.TxnId")
        if txn_type is None:
            raise faults.required("Line.LinkedTxn.TxnType", "Line.LinkedTxn.TxnType")
        if txn_id is None:
            raise faults.required("Line.LinkedTxn.TxnId", "Line.LinkedTxn.TxnId")
        if txn_type not in rules.PAYMENT_LINK_TYPES:
            raise faults.business(rules.UNSUPPORTED_LINK_DETAIL.format(txn_type=txn_type), "Line.LinkedTxn.TxnType")
        doc = ctx.lookup(txn_type, txn_id)
        if doc is None:
            raise faults.invalid_reference("Line.LinkedTxn.TxnId")
        mismatch = rules.OTHER_CUSTOMER_DOC_DETAIL.format(txn_type=txn_type, txn_id=txn_id)
        if txn_type == "JournalEntry":
            entry = _journal_line(doc, customer["Id"], _txn_line_id(link))
            if entry is None:
                raise faults.business(mismatch, "Line.LinkedTxn.TxnId")
            return (txn_type, doc["Id"], entry["line"]), entry["sign"], accounting.open_amount(entry), doc
        if doc["CustomerRef"]["value"] != customer["Id"]:
            raise faults.business(mismatch, "Line.LinkedTxn.TxnId")
        if txn_type == "Invoice":
            return (txn_type, doc["Id"], None), 1, doc["Balance"], doc
        return (txn_type, doc["Id"], None), -1, doc["RemainingCredit"], doc

    # ---- operations ---------------------------------------------------------------------------

    def create(self, ctx: OpContext, body: dict) -> dict:
        check_known_keys(self.name, body, self.known_keys)
        doc = self.build(ctx, body, None)
        ctx.uow.save(self.name, doc)
        accounting.apply_payment(ctx, doc)
        accounting.touch_customer(ctx, doc["CustomerRef"]["value"])
        return doc

    def update(self, ctx: OpContext, existing: dict, body: dict, sparse: bool) -> dict:
        check_known_keys(self.name, body, self.known_keys)
        check_sync_token(ctx, existing, body)
        _check_not_deposited(existing)
        accounting.unapply_payment(ctx, existing)
        fields = merge_for_update(existing, body, sparse, ("TxnDate",))
        doc = self.build(ctx, fields, existing)
        ctx.uow.save(self.name, doc)
        accounting.apply_payment(ctx, doc)
        for customer in {doc["CustomerRef"]["value"], existing["CustomerRef"]["value"]}:
            accounting.touch_customer(ctx, customer)
        return doc

    def delete(self, ctx: OpContext, existing: dict) -> None:
        _check_not_deposited(existing)
        accounting.unapply_payment(ctx, existing)
        ctx.uow.remove(self.name, existing["Id"])
        accounting.touch_customer(ctx, existing["CustomerRef"]["value"])

    def void(self, ctx: OpContext, existing: dict) -> dict:
        """Void: amounts zeroed, applications removed, PrivateNote "Voided" (the record stays)."""
        _check_not_deposited(existing)
        accounting.unapply_payment(ctx, existing)
        doc = ctx.uow.editable(self.name, existing["Id"])
        currency = doc["CurrencyRef"]["value"]
        zero = round_money(ZERO, currency)
        doc["TotalAmt"] = zero
        doc["UnappliedAmt"] = zero
        for line in doc["Line"]:
            line["Amount"] = zero
        doc["PrivateNote"] = rules.VOID_PRIVATE_NOTE
        doc["SyncToken"] = next_sync_token(existing)
        doc["MetaData"] = ctx.metadata(existing)
        doc["_applications"] = []
        doc["_postings"] = []
        doc["_voided"] = True
        ctx.uow.save(self.name, doc)
        accounting.touch_customer(ctx, existing["CustomerRef"]["value"])
        return doc

    def render(self, company, doc: dict) -> dict:
        shown = public(doc)
        deposit = company.get("Account", shown["DepositToAccountRef"]["value"])
        if deposit is not None:
            shown["DepositToAccountRef"] = {"value": deposit["Id"], "name": deposit["Name"]}
        return shown


def _check_not_deposited(doc: dict) -> None:
    if doc.get("_deposited"):
        raise QboFault("6540", rules.DEPOSITED_DETAIL, element="")


def _txn_line_id(link: dict) -> str | None:
    """LinkedTxn.TxnLineId; python-quickbooks' default int 0 and blanks mean "not given"."""
    value = link.get("TxnLineId")
    if value is None or value == "" or (value == 0 and not isinstance(value, str)):
        return None
    return ref_id(value, "Line.LinkedTxn.TxnLineId")


def _journal_line(doc: dict, customer_id: str, line_id: str | None) -> dict | None:
    """The A/R line of a JournalEntry a payment line links: the given TxnLineId (620 unless it is an
    A/R line of this customer, rules.JE_LINE_LINK_FAULT), else the first open one."""
    entries = [entry for entry in doc.get("_ar", ()) if entry["customer"] == customer_id]
    if line_id is not None:
        matching = [entry for entry in entries if entry["line"] == line_id]
        if not matching:
            raise faults.from_rule(rules.JE_LINE_LINK_FAULT, element="Line.LinkedTxn.TxnLineId", line=line_id, txn_id=doc["Id"])
        return matching[0]
    for entry in entries:
        if accounting.open_amount(entry) > 0:
            return entry
    return entries[0] if entries else None


def recompute_after_unlink(ctx: OpContext, payment: dict, entity: str, target_id: str) -> dict:
    """The payment without the lines linking (entity, target_id): its UnappliedAmt grows by what they
    applied (rules.DELETE_LINKED_CREDIT_DETAIL when that would leave it negative)."""
    doc = ctx.uow.editable("Payment", payment["Id"])
    currency = doc["CurrencyRef"]["value"]
    doc["Line"] = [
        line for line in doc["Line"]
        if not any(link["TxnType"] == entity and link["TxnId"] == target_id for link in line["LinkedTxn"])
    ]
    kept = [app for app in doc["_applications"] if not (app[0] == entity and app[1] == target_id)]
    net = ZERO
    for app_entity, app_id, line_id, amount in kept:
        sign = 1
        if app_entity == "CreditMemo":
            sign = -1
        elif app_entity == "JournalEntry":
            journal = ctx.company.get("JournalEntry", app_id)
            sign = next((e["sign"] for e in journal["_ar"] if e["line"] == line_id), 1)
        net += sign * Decimal(amount)
    unapplied = round_money(doc["TotalAmt"] - net, currency)
    if unapplied < 0:
        raise faults.business(rules.DELETE_LINKED_CREDIT_DETAIL.format(payment_id=payment["Id"]))
    doc["_applications"] = kept
    doc["UnappliedAmt"] = unapplied
    doc["SyncToken"] = next_sync_token(payment)
    doc["MetaData"] = ctx.metadata(payment)
    return doc
