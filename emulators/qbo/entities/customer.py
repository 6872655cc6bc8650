"""Customer (NameBase → Customer in IntuitNamesTypes.xsd).

QBO's rules: one of Title/GivenName/MiddleName/FamilyName/Suffix/DisplayName must be non-empty (6080);
DisplayName is derived from the name parts when omitted and must be unique (6240); `Balance` is the
open A/R amount, writable only as the opening balance on create; `FullyQualifiedName` and
`PrintOnCheckName` follow `DisplayName` (qbo-response-examples §2.1-2.2).
"""
from __future__ import annotations

from .. import accounting, faults, rules
from ..money import round_money
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
from .namelist import NAME_PARTS, NAMEBASE_KEYS, active_name, check_no_colon, check_unique, display_name

KNOWN = ENTITY_KEYS | NAMEBASE_KEYS | frozenset({
    # Customer
    "Taxable", "BillAddr", "ShipAddr", "OtherAddr", "ContactName", "AltContactName", "Notes", "Job",
    "BillWithParent", "RootCustomerRef", "ParentRef", "Level", "CustomerTypeRef", "SalesTermRef", "SalesRepRef",
    "TaxGroupCodeRef", "TaxRateRef", "PaymentMethodRef", "CCDetail", "PriceLevelRef", "Balance", "OpenBalanceDate",
    "BalanceWithJobs", "CreditLimit", "AcctNum", "CurrencyRef", "OverDueBalance", "TotalRevenue", "TotalExpense",
    "PreferredDeliveryMethod", "ResaleNum", "JobInfo", "TDSEnabled", "CustomerEx", "SecondaryTaxIdentifier",
    "ARAccountRef", "PrimaryTaxIdentifier", "TaxExemptionReasonId", "IsProject", "BusinessNumber", "GSTIN",
    "GSTRegistrationType", "IsCISContractor", "ClientCompanyId", "ClientEntityId", "Source", "TaxRegime",
})

# Fields the emulator computes or ignores on input.
READ_ONLY = frozenset({"Balance", "BalanceWithJobs", "FullyQualifiedName", "Level", "Job", "OpenBalanceDate",
                       "OverDueBalance", "TotalRevenue", "TotalExpense", "V4IDPseudonym", "RootCustomerRef",
                       "ClientCompanyId", "ClientEntityId", "IntuitId"})
# Fields built explicitly below; everything else known and non-blank is stored as sent.
HANDLED = frozenset(NAME_PARTS) | {"DisplayName", "CompanyName", "PrintOnCheckName", "Active", "Taxable",
                                   "BillWithParent", "ParentRef", "CurrencyRef", "PreferredDeliveryMethod", "Notes",
                                   "DefaultTaxCodeRef"}

_LIMITS = rules.MAX_LENGTHS["Customer"]


class CustomerType(EntityType):
    name = "Customer"
    known_keys = KNOWN
    namelist = True

    def _build(self, ctx: OpContext, fields: dict, existing: dict | None) -> dict:
        parts = {key: text(fields, key, limit=_LIMITS.get(key)) for key in NAME_PARTS}
        display = display_name(fields, _LIMITS)
        active = boolean(fields, "Active", True)
        base_display = active_name(display, True)
        check_no_colon(base_display, "DisplayName")

        parent = resolve(ctx, "Customer", fields.get("ParentRef"), "ParentRef")
        shown_display = active_name(base_display, active)
        check_unique(ctx, "Customer", shown_display, existing["Id"] if existing else None,
                     rules.DUPLICATE_CUSTOMER_NAME_DETAIL, "DisplayName")

        currency = self._currency(ctx, fields, parent, existing)
        company_name = text(fields, "CompanyName", limit=_LIMITS["CompanyName"])
        print_name = text(fields, "PrintOnCheckName", limit=_LIMITS["PrintOnCheckName"])
        notes = text(fields, "Notes", limit=_LIMITS["Notes"])
        delivery = text(fields, "PreferredDeliveryMethod") or "Print"

        doc: dict = {"Taxable": boolean(fields, "Taxable", True)}
        for key in ("BillAddr", "ShipAddr"):
            if not blank(fields.get(key)):
                doc[key] = clean(fields[key])
        doc["Job"] = parent is not None
        doc["BillWithParent"] = boolean(fields, "BillWithParent", False) if parent is not None else False
        if parent is not None:
            doc["ParentRef"] = {"value": parent["Id"]}
            doc["Level"] = parent.get("Level", 0) + 1
        doc["CurrencyRef"] = currency_ref(currency)
        doc["PreferredDeliveryMethod"] = delivery
        doc["domain"] = "QBO"
        doc["sparse"] = False
        doc["Id"] = existing["Id"] if existing else ctx.company.next_id("Customer")
        doc["SyncToken"] = next_sync_token(existing)
        doc["MetaData"] = ctx.metadata(existing)
        for key, value in parts.items():
            if value:
                doc[key] = value
        full_name = base_display if parent is None else f"{parent['FullyQualifiedName']}:{base_display}"
        doc["FullyQualifiedName"] = active_name(full_name, active)
        if company_name:
            doc["CompanyName"] = company_name
        doc["DisplayName"] = shown_display
        doc["PrintOnCheckName"] = print_name if print_name and print_name != display else base_display
        doc["Active"] = active
        if notes:
            doc["Notes"] = notes
        tax_code = ref_id(fields.get("DefaultTaxCodeRef"), "DefaultTaxCodeRef")
        if tax_code is None and ctx.company.settings.tax == "us_automated":
            tax_code = ctx.company.system_accounts.get("ast_tax_code")
        if tax_code:
            doc["DefaultTaxCodeRef"] = {"value": tax_code}
        for key, value in fields.items():
            if key in HANDLED or key in READ_ONLY or key in ENTITY_KEYS or blank(value):
                continue
            doc[key] = clean(value) if isinstance(value, (dict, list)) else value
        if existing is not None:
            for key in ("_opening_balance", "_postings"):
                if key in existing:
                    doc[key] = existing[key]
            if "OpenBalanceDate" in existing:
                doc["OpenBalanceDate"] = existing["OpenBalanceDate"]
        return doc

    def _currency(self, ctx: OpContext, fields: dict, parent: dict | None, existing: dict | None) -> str:
        currency = ref_id(fields.get("CurrencyRef"), "CurrencyRef")
        if currency is None:
            if existing is not None:
                return existing["CurrencyRef"]["value"]
            return parent["CurrencyRef"]["value"] if parent else ctx.home_currency
        currency = currency.upper()
        if currency != ctx.home_currency and not ctx.multicurrency:
            raise faults.business(rules.FOREIGN_CURRENCY_WITHOUT_MULTICURRENCY_DETAIL.format(home=ctx.home_currency), "CurrencyRef")
        if existing is not None and currency != existing["CurrencyRef"]["value"] and ctx.company.by_customer.get(existing["Id"]):
            raise faults.business(rules.CUSTOMER_CURRENCY_CHANGE_DETAIL, "CurrencyRef")
        return currency

    def create(self, ctx: OpContext, body: dict) -> dict:
        check_known_keys(self.name, body, self.known_keys)
        doc = self._build(ctx, body, None)
        opening = decimal(body, "Balance")
        if opening:
            # Balance on create is the opening balance (XSD Customer.Balance); it is an open A/R
            # amount booked Dr A/R, Cr Opening Balance Equity (rules: opening balance posting).
            currency = doc["CurrencyRef"]["value"]
            amount = round_money(opening, currency)
            doc["_opening_balance"] = amount
            open_date = date_value(body, "OpenBalanceDate") or ctx.today().isoformat()
            doc["OpenBalanceDate"] = open_date
            receivable = accounting.receivable_account(ctx, currency)
            equity = ctx.company.system_accounts["opening_balance_equity"]
            doc["_postings"] = [[receivable, amount], [equity, -amount]]
        return ctx.uow.save(self.name, doc)

    def update(self, ctx: OpContext, existing: dict, body: dict, sparse: bool) -> dict:
        check_known_keys(self.name, body, self.known_keys)
        check_sync_token(ctx, existing, body)
        fields = merge_for_update(existing, body, sparse)
        if sparse and "DisplayName" not in body:
            fields["DisplayName"] = active_name(existing["DisplayName"], True)
        following = existing.get("PrintOnCheckName") == active_name(existing["DisplayName"], True)
        if following and fields.get("PrintOnCheckName") in (None, "", existing.get("PrintOnCheckName")):
            # A PrintOnCheckName that merely followed the old DisplayName follows the new one.
            fields.pop("PrintOnCheckName", None)
        doc = self._build(ctx, fields, existing)
        if existing.get("Active", True) and not doc["Active"]:
            _check_no_open_balance(ctx, existing["Id"])
        return ctx.uow.save(self.name, doc)

    def render(self, company, doc: dict) -> dict:
        shown = public(doc)
        currency = doc["CurrencyRef"]["value"]
        balance = accounting.customer_balance(company, doc["Id"])
        with_jobs = balance + accounting.children_balance(company, doc["Id"])
        ordered: dict = {}
        for key in ("Taxable", "BillAddr", "ShipAddr", "Job", "BillWithParent", "ParentRef", "Level"):
            if key in shown:
                ordered[key] = shown[key]
        ordered["Balance"] = _number(round_money(balance, currency))
        ordered["BalanceWithJobs"] = _number(round_money(with_jobs, currency))
        ordered.update((key, value) for key, value in shown.items() if key not in ordered)
        return ordered


def _check_no_open_balance(ctx: OpContext, customer_id: str) -> None:
    """A customer (with its jobs) that still has an open balance stays active (rules.INACTIVE_WITH_BALANCE_FAULT)."""
    balance = accounting.customer_balance(ctx.company, customer_id) + accounting.children_balance(ctx.company, customer_id)
    if balance != 0:
        raise faults.from_rule(rules.INACTIVE_WITH_BALANCE_FAULT, element="Active")


def _number(amount):
    return 0 if amount == 0 else amount
