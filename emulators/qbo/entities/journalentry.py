"""JournalEntry: debit and credit lines on accounts.

Debits must equal credits (rules.JE_UNBALANCED_FAULT). A line on Accounts Receivable must name a
customer (`Entity`) — 6000 otherwise (qbo-accounting-patterns §3); such a line moves that customer's
balance (debit +, credit −) and stays open until payments link it (such a line then keeps its
customer). A DocNumber is unique among all numbered transactions (6140). Line Ids start at "0",
`Adjustment` defaults to false and `TxnTaxDetail` is `{}` (qbo-response-examples §2.10).
"""
from __future__ import annotations

from decimal import Decimal

from .. import accounting, faults, rules, transactions
from ..money import ZERO, round_money
from .base import (
    ENTITY_KEYS,
    EntityType,
    OpContext,
    blank,
    boolean,
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
from .sales import TRANSACTION_KEYS, check_customer_kept

KNOWN = ENTITY_KEYS | TRANSACTION_KEYS | frozenset({
    "Adjustment", "HomeCurrencyAdjustment", "EnteredInHomeCurrency", "GlobalTaxCalculation", "TotalAmt",
    "HomeTotalAmt", "JournalEntryEx",
})
READ_ONLY = frozenset({"TotalAmt", "HomeTotalAmt", "LinkedTxn", "TxnTaxDetail"})
HANDLED = frozenset({"DocNumber", "TxnDate", "CurrencyRef", "ExchangeRate", "PrivateNote", "Line", "Adjustment",
                     "CustomField"})
POSTING_TYPES = ("Debit", "Credit")
_TXN_LIMITS = rules.MAX_LENGTHS["Transaction"]


class JournalEntryType(EntityType):
    name = "JournalEntry"
    known_keys = KNOWN
    deletable = True

    def build(self, ctx: OpContext, fields: dict, existing: dict | None) -> dict:
        currency = transactions.sent_currency(ctx, fields) or ctx.home_currency
        if currency != ctx.home_currency and not ctx.multicurrency:
            raise faults.business(rules.FOREIGN_CURRENCY_WITHOUT_MULTICURRENCY_DETAIL.format(home=ctx.home_currency), "CurrencyRef")
        rate = transactions.exchange_rate(ctx, fields, currency)
        raw_lines = fields.get("Line")
        if raw_lines in (None, "", []):
            raise faults.required("Line")
        if not isinstance(raw_lines, list):
            raise faults.invalid_value("Line", raw_lines)

        previous_ar = {entry["line"]: entry for entry in (existing or {}).get("_ar", ())}
        lines, ar_entries = [], []
        postings: dict[str, Decimal] = {}
        debits = credits = ZERO
        for index, raw in enumerate(raw_lines):
            if not isinstance(raw, dict):
                raise faults.invalid_value("Line", raw)
            detail_type = raw.get("DetailType") or ("JournalEntryLineDetail" if isinstance(raw.get("JournalEntryLineDetail"), dict) else None)
            if detail_type is None:
                raise faults.required("Line.DetailType", "Line.DetailType")
            if detail_type != "JournalEntryLineDetail":
                raise faults.invalid_enum("Line.DetailType", detail_type)
            amount = decimal(raw, "Amount", element="Line.Amount")
            if amount is None:
                raise faults.required("Line.Amount", "Line.Amount")
            amount = round_money(amount, currency)
            if amount < 0:
                raise faults.business("Business Validation Error: Journal entry line amounts can't be negative.", "Line.Amount")
            sent = raw.get("JournalEntryLineDetail") if isinstance(raw.get("JournalEntryLineDetail"), dict) else {}
            posting_type = text(sent, "PostingType", element="Line.JournalEntryLineDetail.PostingType")
            if posting_type is None:
                raise faults.required("Line.JournalEntryLineDetail.PostingType", "Line.JournalEntryLineDetail.PostingType")
            if posting_type not in POSTING_TYPES:
                raise faults.invalid_enum("Line.JournalEntryLineDetail.PostingType", posting_type)
            account = resolve(ctx, "Account", sent.get("AccountRef"), "Line.JournalEntryLineDetail.AccountRef", required=True)
            accounting.check_account_currency(ctx, account, currency, "Line.JournalEntryLineDetail.AccountRef")
            customer = self._entity(ctx, sent.get("Entity"))
            if account["AccountType"] == "Accounts Receivable" and customer is None:
                raise faults.business(rules.JE_AR_WITHOUT_CUSTOMER_DETAIL, "Line.JournalEntryLineDetail.Entity")
            if account["AccountType"] == "Accounts Payable":
                # Vendors are not modelled, so no A/P line can name one (rules.JE_AP_WITHOUT_VENDOR_DETAIL).
                raise faults.business(rules.JE_AP_WITHOUT_VENDOR_DETAIL, "Line.JournalEntryLineDetail.Entity")
            if customer is not None and customer["CurrencyRef"]["value"] != currency:
                raise faults.business(
                    rules.TXN_CURRENCY_MISMATCH_DETAIL.format(txn=currency, customer=customer["CurrencyRef"]["value"]),
                    "CurrencyRef",
                )
            line_id = str(index)
            detail: dict = {"PostingType": posting_type}
            if customer is not None:
                detail["Entity"] = {"Type": "Customer", "EntityRef": {"value": customer["Id"], "name": customer["DisplayName"]}}
            detail["AccountRef"] = {"value": account["Id"], "name": account["FullyQualifiedName"]}
            for key in ("ClassRef", "DepartmentRef", "TaxCodeRef", "BillableStatus"):
                if not blank(sent.get(key)):
                    detail[key] = clean(sent[key]) if isinstance(sent[key], dict) else sent[key]
            line: dict = {"Id": line_id}
            description = text(raw, "Description", limit=4000, element="Line.Description")
            if description:
                line["Description"] = description
            line.update({"Amount": amount, "DetailType": "JournalEntryLineDetail", "JournalEntryLineDetail": detail})
            lines.append(line)

            signed = amount if posting_type == "Debit" else -amount
            if posting_type == "Debit":
                debits += amount
            else:
                credits += amount
            accounting.add_posting(postings, account["Id"], (1 if posting_type == "Debit" else -1)
                                   * accounting.in_account_currency(ctx, account["Id"], amount, currency, rate))
            if account["AccountType"] == "Accounts Receivable":
                previous = previous_ar.get(line_id, {})
                applied = dict(previous.get("applied", {}))
                if applied:
                    check_customer_kept(self.name, existing["Id"], {"value": previous["customer"]}, {"value": customer["Id"]})
                if sum(applied.values(), ZERO) > amount:
                    raise faults.business(rules.TOTAL_BELOW_APPLIED_DETAIL.format(applied=sum(applied.values(), ZERO)), "Line.Amount")
                ar_entries.append({"line": line_id, "customer": customer["Id"], "sign": 1 if signed > 0 else -1,
                                   "amount": amount, "applied": applied})
        if debits != credits:
            raise faults.from_rule(rules.JE_UNBALANCED_FAULT, element="Line")
        for line_id, entry in previous_ar.items():
            if entry["applied"] and not any(new["line"] == line_id for new in ar_entries):
                raise faults.business(rules.TOTAL_BELOW_APPLIED_DETAIL.format(applied=sum(entry["applied"].values(), ZERO)), "Line")

        doc: dict = {"Adjustment": boolean(fields, "Adjustment", False)}
        doc["domain"] = "QBO"
        doc["sparse"] = False
        doc["Id"] = existing["Id"] if existing else ctx.company.next_id(self.name)
        doc["SyncToken"] = next_sync_token(existing)
        doc["MetaData"] = ctx.metadata(existing)
        number = (text(fields, "DocNumber", limit=_TXN_LIMITS["DocNumber"]) or "").strip()
        if number:
            if rules.JE_DOCNUMBER_ALWAYS_UNIQUE or ctx.company.settings.custom_txn_numbers:
                transactions.check_doc_number(ctx, self.name, number, doc["Id"])
            doc["DocNumber"] = number
        doc["TxnDate"] = date_value(fields, "TxnDate") or ctx.today().isoformat()
        doc["CurrencyRef"] = currency_ref(currency)
        if ctx.multicurrency:
            doc["ExchangeRate"] = rate
        note = text(fields, "PrivateNote", limit=_TXN_LIMITS["PrivateNote"])
        if note:
            doc["PrivateNote"] = note
        doc["Line"] = lines
        doc["TxnTaxDetail"] = {}
        doc["TotalAmt"] = debits
        if ctx.multicurrency:
            doc["HomeTotalAmt"] = round_money(debits * rate, ctx.home_currency)
        for key, value in fields.items():
            if key in HANDLED or key in READ_ONLY or key in ENTITY_KEYS or blank(value):
                continue
            doc[key] = clean(value) if isinstance(value, (dict, list)) else value
        doc["_ar"] = ar_entries
        doc["_customers"] = sorted({entry["customer"] for entry in ar_entries}, key=int)
        doc["_postings"] = accounting.posting_list(postings)
        return doc

    def _entity(self, ctx: OpContext, entity: object) -> dict | None:
        if blank(entity):
            return None
        if not isinstance(entity, dict):
            raise faults.invalid_value("Line.JournalEntryLineDetail.Entity", entity)
        entity_type = text(entity, "Type") or "Customer"
        element = "Line.JournalEntryLineDetail.Entity.EntityRef"
        if ref_id(entity.get("EntityRef"), element) is None:
            return None
        if entity_type not in ("Customer", "Job"):
            raise faults.invalid_reference(element)
        return resolve(ctx, "Customer", entity.get("EntityRef"), element)

    def create(self, ctx: OpContext, body: dict) -> dict:
        check_known_keys(self.name, body, self.known_keys)
        doc = ctx.uow.save(self.name, self.build(ctx, body, None))
        for customer in doc["_customers"]:
            accounting.touch_customer(ctx, customer)
        return doc

    def update(self, ctx: OpContext, existing: dict, body: dict, sparse: bool) -> dict:
        check_known_keys(self.name, body, self.known_keys)
        check_sync_token(ctx, existing, body)
        fields = merge_for_update(existing, body, sparse, rules.FULL_UPDATE_RETAINED_FIELDS)
        doc = ctx.uow.save(self.name, self.build(ctx, fields, existing))
        for customer in set(doc["_customers"]) | set(existing.get("_customers", ())):
            accounting.touch_customer(ctx, customer)
        return doc

    def delete(self, ctx: OpContext, existing: dict) -> None:
        accounting.unlink_from_payments(ctx, self.name, existing)
        ctx.uow.remove(self.name, existing["Id"])
        for customer in existing.get("_customers", ()):
            accounting.touch_customer(ctx, customer)

    def render(self, company, doc: dict) -> dict:
        return public(doc)
