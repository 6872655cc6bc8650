"""Sales forms: Invoice, CreditMemo and RefundReceipt (SalesTransaction in Finance.xsd).

What QBO adds on create (qbo-response-examples §2.5, §2.9): DocNumber from the sales-form sequence,
TxnDate today, DueDate (invoices), CurrencyRef, line Ids and LineNums, default TaxCodeRef, the trailing
SubTotalLine, TxnTaxDetail, CustomerRef.name, addresses copied from the customer, TotalAmt, and
Balance / RemainingCredit. Postings:

* Invoice: Dr A/R TotalAmt; Cr each item's income account; Cr tax liability; Dr discount account.
* CreditMemo: the reverse of an invoice (reduces A/R).
* RefundReceipt: Dr income (and tax), Cr the refund account (DepositToAccountRef); never touches A/R.
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from .. import accounting, faults, rules, tax, transactions
from ..faults import QboFault
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

TRANSACTION_KEYS = frozenset({
    "DocNumber", "TxnDate", "DepartmentRef", "CurrencyRef", "ExchangeRate", "PrivateNote", "TxnStatus", "LinkedTxn",
    "Line", "TxnTaxDetail", "TxnSource", "TaxFormType", "TaxFormNum", "TransactionLocationType", "Tag",
    "TxnApprovalInfo", "RecurDataRef", "RecurringInfo", "ProjectRef", "TotalCostAmount", "HomeTotalCostAmount",
})
SALES_KEYS = frozenset({
    "AutoDocNumber", "CustomerRef", "CustomerMemo", "BillAddr", "ShipAddr", "FreeFormAddress", "ShipFromAddr",
    "RemitToRef", "ClassRef", "SalesTermRef", "DueDate", "SalesRepRef", "PONumber", "FOB", "ShipMethodRef",
    "ShipDate", "TrackingNum", "GlobalTaxCalculation", "TotalAmt", "HomeTotalAmt", "ApplyTaxAfterDiscount",
    "ShippingTaxIncludedInTotalTax", "TemplateRef", "PrintStatus", "EmailStatus", "BillEmail", "BillEmailCc",
    "BillEmailBcc", "ARAccountRef", "Balance", "HomeBalance", "FinanceCharge", "PaymentMethodRef", "PaymentRefNum",
    "PaymentType", "CheckPayment", "CreditCardPayment", "DepositToAccountRef", "DeliveryInfo", "DiscountRate",
    "DiscountAmt", "GovtTxnRefIdentifier", "TaxExemptionRef",
})
INVOICE_KEYS = frozenset({
    "Deposit", "AllowIPNPayment", "AllowOnlinePayment", "AllowOnlineCreditCardPayment", "AllowOnlineACHPayment",
    "AllowOnlinePayPalPayment", "EInvoiceStatus", "ECloudStatusTimeStamp", "CfdiUse", "Exportation", "GlobalInfo",
    "invoiceStatus", "callToAction", "invoiceStatusLog", "InvoiceEx", "LessCIS", "InvoiceLink",
    "PaymentDetailsMessage", "ConvenienceFeeDetail", "InvoiceLinkSecurityCode", "InvoiceLinkExpiryDate",
    "AutoPayEligible", "SchedulePayEligible", "ScheduledPaymentId", "GratuityEnabled", "FinancingProductType",
    "SubscriptionPaymentsSetting",
})

# Computed by the emulator; ignored in requests.
READ_ONLY = frozenset({"TotalAmt", "HomeTotalAmt", "Balance", "HomeBalance", "RemainingCredit", "LinkedTxn",
                       "Deposit", "InvoiceLink", "EInvoiceStatus", "invoiceStatus", "callToAction", "invoiceStatusLog"})
# Built explicitly; everything else known and non-blank is stored as sent.
HANDLED = frozenset({"DocNumber", "TxnDate", "CurrencyRef", "ExchangeRate", "PrivateNote", "Line", "TxnTaxDetail",
                     "CustomerRef", "BillAddr", "ShipAddr", "DueDate", "ShipDate", "GlobalTaxCalculation",
                     "ApplyTaxAfterDiscount", "PrintStatus", "EmailStatus", "DepositToAccountRef", "AutoDocNumber",
                     "PaymentType", "PaymentRefNum", "AllowIPNPayment", "AllowOnlinePayment",
                     "AllowOnlineCreditCardPayment", "AllowOnlineACHPayment", "CustomField"})

LINE_KEYS = ("Id", "LineNum", "Description", "Amount", "LinkedTxn", "DetailType")
ITEM_DETAIL_KEYS = ("ItemRef", "ClassRef", "UnitPrice", "MarkupInfo", "Qty", "ItemAccountRef", "TaxCodeRef",
                    "ServiceDate", "DiscountRate", "DiscountAmt", "PriceLevelRef", "DeferredRevenue")
DETAIL_TYPES = ("SalesItemLineDetail", "SubTotalLineDetail", "DescriptionOnly", "DiscountLineDetail")
_TXN_LIMITS = rules.MAX_LENGTHS["Transaction"]


class SalesDocumentType(EntityType):
    """Shared behaviour of the three sales forms; subclasses set `name` and the flags below."""

    customer_required = True
    numbered = True
    sign = 1  # +1: increases what the customer owes (Invoice); -1: a credit (CreditMemo)
    deletable = True
    voidable = True

    @property
    def known_keys(self) -> frozenset[str]:  # type: ignore[override]
        extra = INVOICE_KEYS if self.name == "Invoice" else frozenset({"RemainingCredit", "InvoiceRef"})
        return ENTITY_KEYS | TRANSACTION_KEYS | SALES_KEYS | extra

    # ---- build --------------------------------------------------------------------------------

    def build(self, ctx: OpContext, fields: dict, existing: dict | None) -> dict:
        company = ctx.company
        customer = self._customer(ctx, fields)
        currency, rate = self._currency_and_rate(ctx, fields, customer)
        txn_date = date_value(fields, "TxnDate") or ctx.today().isoformat()
        doc_number = self._doc_number(ctx, fields, existing)

        lines, item_lines, subtotal, discount_lines = self._lines(ctx, fields.get("Line"), existing, currency)
        outcome = tax.compute(ctx, item_lines, fields.get("TxnTaxDetail"), currency)
        discount = sum((amount for amount, _account in discount_lines), ZERO)
        total = round_money(subtotal - discount + outcome.total, currency)
        if total < 0:
            raise faults.business(rules.NEGATIVE_TOTAL_DETAIL, "TotalAmt")

        doc: dict = {}
        if self.name == "Invoice":
            doc.update({
                "AllowIPNPayment": boolean(fields, "AllowIPNPayment", False),
                "AllowOnlinePayment": boolean(fields, "AllowOnlinePayment", False),
                "AllowOnlineCreditCardPayment": boolean(fields, "AllowOnlineCreditCardPayment", False),
                "AllowOnlineACHPayment": boolean(fields, "AllowOnlineACHPayment", False),
            })
        doc["domain"] = "QBO"
        doc["sparse"] = False
        doc["Id"] = existing["Id"] if existing else company.next_id(self.name)
        doc["SyncToken"] = next_sync_token(existing)
        doc["MetaData"] = ctx.metadata(existing)
        doc["CustomField"] = []
        if doc_number is not None:
            doc["DocNumber"] = doc_number
        doc["TxnDate"] = txn_date
        doc["CurrencyRef"] = currency_ref(currency)
        if ctx.multicurrency:
            doc["ExchangeRate"] = rate
        private_note = text(fields, "PrivateNote", limit=_TXN_LIMITS["PrivateNote"])
        if private_note:
            doc["PrivateNote"] = private_note
        if self.name == "Invoice":
            doc["LinkedTxn"] = []
        doc["Line"] = lines
        doc["TxnTaxDetail"] = outcome.detail
        if customer is not None:
            doc["CustomerRef"] = {"value": customer["Id"], "name": customer["DisplayName"]}
        for key in ("BillAddr", "ShipAddr"):
            value = fields.get(key)
            if not blank(value) and clean(value):
                doc[key] = clean(value)
            elif customer is not None and key in customer:
                doc[key] = customer[key]
        if self.name == "Invoice":
            due = date_value(fields, "DueDate")
            if due is None:
                due = (date.fromisoformat(txn_date) + timedelta(days=rules.DEFAULT_DUE_DAYS)).isoformat()
            doc["DueDate"] = due
        ship_date = date_value(fields, "ShipDate")
        if ship_date:
            doc["ShipDate"] = ship_date
        doc["TotalAmt"] = total
        if ctx.multicurrency:
            doc["HomeTotalAmt"] = round_money(total * rate, ctx.home_currency)
        doc["ApplyTaxAfterDiscount"] = boolean(fields, "ApplyTaxAfterDiscount", False)
        doc["PrintStatus"] = text(fields, "PrintStatus") or "NotSet"
        doc["EmailStatus"] = text(fields, "EmailStatus") or "NotSet"
        global_tax = text(fields, "GlobalTaxCalculation")
        if global_tax and company.settings.tax == "codes":
            doc["GlobalTaxCalculation"] = global_tax
        for key, value in fields.items():
            if key in HANDLED or key in READ_ONLY or key in ENTITY_KEYS or blank(value):
                continue
            doc[key] = clean(value) if isinstance(value, (dict, list)) else value

        self._extra(ctx, fields, doc, existing)
        doc["_postings"] = self._postings(ctx, doc, item_lines, discount_lines, outcome, currency, rate)
        return doc

    def _extra(self, ctx: OpContext, fields: dict, doc: dict, existing: dict | None) -> None:
        """Entity-specific fields (Balance, RemainingCredit, DepositToAccountRef...)."""

    def _customer(self, ctx: OpContext, fields: dict) -> dict | None:
        ref = fields.get("CustomerRef")
        if ref is None or ref == "":
            if self.customer_required:
                raise faults.required("CustomerRef")
            return None
        if ref_id(ref, "CustomerRef") is None:
            if not self.customer_required:
                return None
            # An empty CustomerRef value gets this internal error on a real invoice (qbo-response-examples §5.2).
            raise faults.business("Business Validation Error: Unexpected Internal Error. (-30003)")
        return resolve(ctx, "Customer", ref, "CustomerRef")

    def _currency_and_rate(self, ctx: OpContext, fields: dict, customer: dict | None) -> tuple[str, Decimal]:
        sent = transactions.sent_currency(ctx, fields)
        currency = customer["CurrencyRef"]["value"] if customer else (sent or ctx.home_currency)
        if sent is not None and sent != currency:
            raise faults.business(rules.TXN_CURRENCY_MISMATCH_DETAIL.format(txn=sent, customer=currency), "CurrencyRef")
        if currency != ctx.home_currency and not ctx.multicurrency:
            raise faults.business(rules.FOREIGN_CURRENCY_WITHOUT_MULTICURRENCY_DETAIL.format(home=ctx.home_currency), "CurrencyRef")
        return currency, transactions.exchange_rate(ctx, fields, currency)

    def _doc_number(self, ctx: OpContext, fields: dict, existing: dict | None) -> str | None:
        company = ctx.company
        number = text(fields, "DocNumber")
        auto = boolean(fields, "AutoDocNumber", False) or number == "AUTO_GENERATE"
        if number is not None and not auto:
            number = number.strip()
            if len(number) > _TXN_LIMITS["DocNumber"]:
                raise faults.too_long("DocNumber", _TXN_LIMITS["DocNumber"], len(number))
            if company.settings.custom_txn_numbers:
                transactions.check_doc_number(ctx, self.name, number, (existing or {}).get("Id"))
            if rules.SUPPLIED_NUMERIC_DOCNUMBER_ADVANCES_SEQUENCE and number.isdigit() and self.numbered:
                company.next_doc_number = max(company.next_doc_number, int(number) + 1)
            return number
        if existing is not None and existing.get("DocNumber") and not auto:
            return existing["DocNumber"]
        if company.settings.custom_txn_numbers and not auto:
            return None  # XSD: with custom numbers on, an omitted DocNumber stays empty
        if not self.numbered:
            return None
        number = str(company.next_doc_number)
        company.next_doc_number += 1
        return number

    def _lines(self, ctx: OpContext, raw_lines: object, existing: dict | None, currency: str):
        if raw_lines is None or raw_lines == "" or raw_lines == []:
            raise faults.required("Line")
        if not isinstance(raw_lines, list):
            raise faults.invalid_value("Line", raw_lines)
        existing_ids = {line.get("Id") for line in (existing or {}).get("Line", []) if line.get("Id")}
        next_line_id = max([int(i) for i in existing_ids if str(i).isdigit()] + [0]) + 1
        lines: list[dict] = []
        item_lines: list[tax.TaxableLine] = []
        discount_lines: list[tuple[Decimal, str]] = []
        subtotal = ZERO
        for raw in raw_lines:
            if not isinstance(raw, dict):
                raise faults.invalid_value("Line", raw)
            detail_type = raw.get("DetailType") or _infer_detail_type(raw)
            if detail_type is None:
                raise faults.required("Line.DetailType", "Line.DetailType")
            if detail_type not in DETAIL_TYPES:
                raise faults.invalid_enum("Line.DetailType", detail_type)
            if detail_type == "SubTotalLineDetail":
                continue  # QBO recomputes the subtotal line
            line_id = str(raw.get("Id")).strip() if not blank(raw.get("Id")) else None
            if line_id not in existing_ids:
                line_id = str(next_line_id)
                next_line_id += 1
            line: dict = {"Id": line_id, "LineNum": len(lines) + 1}
            description = text(raw, "Description", limit=4000, element="Line.Description")
            if description:
                line["Description"] = description
            if detail_type == "SalesItemLineDetail":
                amount, detail = self._item_line(ctx, raw, currency)
                line["Amount"] = amount
                line["DetailType"] = detail_type
                line["SalesItemLineDetail"] = detail
                item_lines.append(tax.TaxableLine(amount, detail))
                subtotal += amount
            elif detail_type == "DescriptionOnly":
                line["DetailType"] = detail_type
                line["DescriptionLineDetail"] = clean(raw.get("DescriptionLineDetail") or {})
            else:
                discount_lines.append(self._discount_line(ctx, raw, line, subtotal, currency))
            lines.append(line)
        if not item_lines:
            raise faults.required("Line")
        lines.append({"Amount": round_money(subtotal, currency), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}})
        for line in [entry for entry in lines if entry.get("DetailType") == "DiscountLineDetail"]:
            lines.remove(line)
            lines.append(line)
        return lines, item_lines, subtotal, discount_lines

    def _item_line(self, ctx: OpContext, raw: dict, currency: str) -> tuple[Decimal, dict]:
        amount = decimal(raw, "Amount", element="Line.Amount")
        if amount is None:
            raise faults.required("Line.Amount", "Line.Amount")
        amount = round_money(amount, currency)
        sent = raw.get("SalesItemLineDetail") if isinstance(raw.get("SalesItemLineDetail"), dict) else {}
        item_ref = sent.get("ItemRef")
        if ref_id(item_ref, "Line.SalesItemLineDetail.ItemRef") is None and rules.MISSING_ITEMREF_USES_DEFAULT_ITEM:
            item_ref = {"value": ctx.company.system_accounts.get("default_item", "1")}
        item = resolve(ctx, "Item", item_ref, "Line.SalesItemLineDetail.ItemRef", required=True)
        qty = decimal(sent, "Qty", element="Line.SalesItemLineDetail.Qty")
        price = decimal(sent, "UnitPrice", element="Line.SalesItemLineDetail.UnitPrice")
        both_given = bool(qty and price) if rules.SIXTY_SEVENTY_NEEDS_BOTH_QTY_AND_PRICE else (qty is not None and price is not None)
        if both_given:
            expected = round_money(qty * price, currency)
            if expected != amount:
                raise QboFault("6070", f"Amount is not equal to Qty * UnitPrice. Supplied value:{format(amount, 'f')}", element="")
        detail: dict = {"ItemRef": {"value": item["Id"], "name": item["Name"]}}
        if price:
            detail["UnitPrice"] = price
        if qty:
            detail["Qty"] = qty
        income_id = item.get("IncomeAccountRef", {}).get("value")
        if income_id:
            detail["ItemAccountRef"] = dict(item["IncomeAccountRef"])
        for key in ("ClassRef", "MarkupInfo", "PriceLevelRef", "TaxCodeRef", "DiscountRate", "DiscountAmt", "DeferredRevenue"):
            if not blank(sent.get(key)) and sent.get(key) != 0:
                detail[key] = clean(sent[key]) if isinstance(sent[key], dict) else sent[key]
        service_date = date_value(sent, "ServiceDate", element="Line.SalesItemLineDetail.ServiceDate")
        if service_date:
            detail["ServiceDate"] = service_date
        detail["_income_account"] = income_id
        return amount, detail

    def _discount_line(self, ctx: OpContext, raw: dict, line: dict, subtotal: Decimal, currency: str) -> tuple[Decimal, str]:
        sent = raw.get("DiscountLineDetail") if isinstance(raw.get("DiscountLineDetail"), dict) else {}
        percent_based = boolean(sent, "PercentBased", False)
        if percent_based:
            percent = decimal(sent, "DiscountPercent", element="Line.DiscountLineDetail.DiscountPercent") or ZERO
            amount = round_money(subtotal * percent / 100, currency)
        else:
            amount = decimal(raw, "Amount", element="Line.Amount")
            if amount is None:
                raise faults.required("Line.Amount", "Line.Amount")
            amount = round_money(amount, currency)
        account = resolve(ctx, "Account", sent.get("DiscountAccountRef"), "Line.DiscountLineDetail.DiscountAccountRef")
        account_id = account["Id"] if account else ctx.company.system_accounts["discounts"]
        detail: dict = {"PercentBased": percent_based}
        if percent_based:
            detail["DiscountPercent"] = percent
        detail["DiscountAccountRef"] = {"value": account_id, "name": ctx.company.get("Account", account_id)["Name"]}
        line.update({"Amount": amount, "DetailType": "DiscountLineDetail", "DiscountLineDetail": detail})
        return amount, account_id

    def _postings(self, ctx: OpContext, doc: dict, item_lines, discount_lines, outcome, currency: str, rate: Decimal) -> list:
        postings: dict[str, Decimal] = {}
        home = ctx.home_currency
        # The A/R (or refund) side first, in its own currency.
        anchor = self._anchor_account(ctx, doc, currency)
        if anchor is not None:
            accounting.add_posting(postings, anchor, self.sign * accounting.in_account_currency(ctx, anchor, doc["TotalAmt"], currency, rate))
        for line in item_lines:
            account_id = line.detail.get("_income_account")
            if account_id:
                accounting.add_posting(postings, account_id, -self.sign * accounting.in_account_currency(ctx, account_id, line.amount, currency, rate))
        for amount, account_id in discount_lines:
            accounting.add_posting(postings, account_id, self.sign * round_money(amount * rate, home))
        for account_id, amount in outcome.by_account.items():
            accounting.add_posting(postings, account_id, -self.sign * round_money(amount * rate, home))
        return accounting.posting_list(postings)

    def _anchor_account(self, ctx: OpContext, doc: dict, currency: str) -> str | None:
        return accounting.receivable_account(ctx, currency)

    # ---- operations ---------------------------------------------------------------------------

    def create(self, ctx: OpContext, body: dict) -> dict:
        check_known_keys(self.name, body, self.known_keys)
        doc = _finish_lines(self.build(ctx, body, None))
        ctx.uow.save(self.name, doc)
        self._after_write(ctx, doc)
        return ctx.company.get(self.name, doc["Id"])

    def update(self, ctx: OpContext, existing: dict, body: dict, sparse: bool) -> dict:
        check_known_keys(self.name, body, self.known_keys)
        check_sync_token(ctx, existing, body)
        fields = merge_for_update(existing, body, sparse, rules.FULL_UPDATE_RETAINED_FIELDS)
        if sparse and "TxnTaxDetail" not in body and "Line" in body:
            fields.pop("TxnTaxDetail", None)  # new lines: recompute the tax
        doc = _finish_lines(self.build(ctx, fields, existing))
        if existing.get("_payments"):
            check_customer_kept(self.name, existing["Id"], existing.get("CustomerRef"), doc.get("CustomerRef"))
            doc["_payments"] = existing["_payments"]
        applied = accounting.applied_total(self.name, doc)
        if applied > doc["TotalAmt"]:
            raise faults.business(rules.TOTAL_BELOW_APPLIED_DETAIL.format(applied=applied), "TotalAmt")
        accounting.refresh_open_amounts(self.name, doc, ctx.home_currency)
        ctx.uow.save(self.name, doc)
        self._after_write(ctx, doc, existing)
        return ctx.company.get(self.name, doc["Id"])

    def delete(self, ctx: OpContext, existing: dict) -> None:
        accounting.unlink_from_payments(ctx, self.name, existing)
        ctx.uow.remove(self.name, existing["Id"])
        if existing.get("CustomerRef"):
            accounting.touch_customer(ctx, existing["CustomerRef"]["value"])

    def void(self, ctx: OpContext, existing: dict) -> dict:
        accounting.unlink_from_payments(ctx, self.name, existing)
        current = ctx.uow.editable(self.name, existing["Id"])
        currency = current["CurrencyRef"]["value"]
        for line in current["Line"]:
            if "Amount" in line:
                line["Amount"] = round_money(ZERO, currency)
            detail = line.get("SalesItemLineDetail")
            if detail:
                detail.pop("Qty", None)
                detail.pop("UnitPrice", None)
        current["TxnTaxDetail"] = {"TotalTax": 0}
        current["TotalAmt"] = round_money(ZERO, currency)
        if "HomeTotalAmt" in current:
            current["HomeTotalAmt"] = round_money(ZERO, ctx.home_currency)
        current["PrivateNote"] = rules.VOID_PRIVATE_NOTE
        current["SyncToken"] = next_sync_token(existing)
        current["MetaData"] = ctx.metadata(existing)
        current["_postings"] = []
        current["_payments"] = {}
        current["_voided"] = True
        accounting.refresh_open_amounts(self.name, current, ctx.home_currency)
        if self.name == "RefundReceipt":
            current["Balance"] = 0
        ctx.uow.save(self.name, current)
        if current.get("CustomerRef"):
            accounting.touch_customer(ctx, current["CustomerRef"]["value"])
        return current

    def _after_write(self, ctx: OpContext, doc: dict, existing: dict | None = None) -> None:
        for customer in {d["CustomerRef"]["value"] for d in (doc, existing) if d and d.get("CustomerRef")}:
            accounting.touch_customer(ctx, customer)

    def render(self, company, doc: dict) -> dict:
        return public(doc)


class InvoiceType(SalesDocumentType):
    name = "Invoice"

    def _extra(self, ctx: OpContext, fields: dict, doc: dict, existing: dict | None) -> None:
        doc["Balance"] = doc["TotalAmt"]
        if ctx.multicurrency:
            doc["HomeBalance"] = doc["HomeTotalAmt"]

    def create(self, ctx: OpContext, body: dict) -> dict:
        doc = super().create(ctx, body)
        if ctx.company.settings.auto_apply_credits and doc["Balance"] > 0:
            doc = accounting.auto_apply_credits(ctx, doc)
        return doc


class CreditMemoType(SalesDocumentType):
    name = "CreditMemo"
    sign = -1

    def _extra(self, ctx: OpContext, fields: dict, doc: dict, existing: dict | None) -> None:
        doc["RemainingCredit"] = doc["TotalAmt"]
        doc["Balance"] = doc["TotalAmt"]


class RefundReceiptType(SalesDocumentType):
    name = "RefundReceipt"
    customer_required = False
    sign = -1

    def _extra(self, ctx: OpContext, fields: dict, doc: dict, existing: dict | None) -> None:
        account = resolve(ctx, "Account", fields.get("DepositToAccountRef"), "DepositToAccountRef", required=True)
        if account["AccountType"] not in rules.REFUND_ACCOUNT_TYPES:
            raise faults.business(rules.REFUND_ACCOUNT_TYPE_DETAIL, "DepositToAccountRef")
        accounting.check_account_currency(ctx, account, doc["CurrencyRef"]["value"], "DepositToAccountRef")
        doc["Balance"] = 0
        for key in ("PaymentType", "PaymentRefNum"):
            value = text(fields, key, limit=_TXN_LIMITS.get(key))
            if value:
                doc[key] = value
        doc["DepositToAccountRef"] = {"value": account["Id"], "name": account["Name"]}

    def _anchor_account(self, ctx: OpContext, doc: dict, currency: str) -> str | None:
        # The refund comes out of the bank / asset account, not A/R (qbo-accounting-patterns §4).
        ref = doc.get("DepositToAccountRef")
        return ref["value"] if ref else None


def check_customer_kept(entity: str, entity_id: str, before: dict | None, after: dict | None) -> None:
    """A document that payments are applied to keeps its customer (rules.LINKED_CUSTOMER_CHANGE_DETAIL)."""
    if (before or {}).get("value") != (after or {}).get("value"):
        detail = rules.LINKED_CUSTOMER_CHANGE_DETAIL.format(txn_type=entity, txn_id=entity_id)
        raise faults.business(detail, "CustomerRef")


def _finish_lines(doc: dict) -> dict:
    """Move internal per-line data out of the public line dicts."""
    for line in doc["Line"]:
        detail = line.get("SalesItemLineDetail")
        if detail is not None:
            detail.pop("_income_account", None)
    return doc


def _infer_detail_type(raw: dict) -> str | None:
    present = [key for key in DETAIL_TYPES if isinstance(raw.get(key), dict)]
    if raw.get("DescriptionLineDetail") is not None:
        present.append("DescriptionOnly")
    return present[0] if len(present) == 1 else None
