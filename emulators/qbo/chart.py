"""What a new sandbox company starts with: chart of accounts, default items and the tax set-up.

A fresh QBO sandbox company has a default chart of accounts (A/R, Undeposited Funds, bank accounts,
A/P, equity, income and expense accounts) and no Deferred Revenue account — the product offers to
create that. The tax set-up depends on the company's choice (qbo-accounting-patterns §8).
"""
from __future__ import annotations

from decimal import Decimal

from .entities.account import seed_account
from .entities.base import OpContext

# (name, AccountType, AccountSubType, role in Company.system_accounts or None)
DEFAULT_ACCOUNTS = (
    ("Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable", "ar"),
    ("Undeposited Funds", "Other Current Asset", "UndepositedFunds", "undeposited"),
    ("Checking", "Bank", "Checking", "checking"),
    ("Savings", "Bank", "Savings", "savings"),
    ("Inventory Asset", "Other Current Asset", "Inventory", "inventory"),
    ("Uncategorized Asset", "Other Current Asset", "OtherCurrentAssets", "uncategorized_asset"),
    ("Accounts Payable (A/P)", "Accounts Payable", "AccountsPayable", "ap"),
    ("Opening Balance Equity", "Equity", "OpeningBalanceEquity", "opening_balance_equity"),
    ("Retained Earnings", "Equity", "RetainedEarnings", "retained_earnings"),
    ("Services", "Income", "ServiceFeeIncome", "services_income"),
    ("Sales of Product Income", "Income", "SalesOfProductIncome", "product_income"),
    ("Discounts given", "Income", "DiscountsRefundsGiven", "discounts"),
    ("Uncategorized Income", "Income", "OtherPrimaryIncome", "uncategorized_income"),
    ("Cost of Goods Sold", "Cost of Goods Sold", "SuppliesMaterialsCogs", "cogs"),
    ("Advertising", "Expense", "AdvertisingPromotional", None),
    ("Bank Charges", "Expense", "BankCharges", None),
    ("Office Expenses", "Expense", "OfficeGeneralAdministrativeExpenses", None),
    ("Rent or Lease", "Expense", "RentOrLeaseOfBuildings", None),
    ("Utilities", "Expense", "Utilities", None),
    ("Uncategorized Expense", "Expense", "OtherMiscellaneousServiceCost", "uncategorized_expense"),
)

# Non-US tax codes per country: agency -> liability account name; rates (name, percent, agency);
# codes (name, [rate names]).
TAX_SETUPS = {
    "CA": {
        "agencies": {"Canada Revenue Agency": "GST/HST Payable", "Revenu Quebec": "QST Payable",
                     "Minister of Finance (BC)": "PST Payable"},
        "rates": (("GST", "5", "Canada Revenue Agency"), ("HST ON", "13", "Canada Revenue Agency"),
                  ("QST", "9.975", "Revenu Quebec"), ("PST BC", "7", "Minister of Finance (BC)"),
                  ("Exempt", "0", "Canada Revenue Agency"), ("Zero-rated", "0", "Canada Revenue Agency"),
                  ("HST NB", "15", "Canada Revenue Agency"), ("HST NL", "15", "Canada Revenue Agency"),
                  ("HST NS", "14", "Canada Revenue Agency"), ("HST PE", "15", "Canada Revenue Agency")),
        # Combined codes group two rates (rules: Canadian combined tax codes, names [U]); HST is one
        # harmonized rate per province. Appended after the original codes so their ids stay put.
        "codes": (("GST", ("GST",)), ("HST ON", ("HST ON",)), ("QST", ("QST",)), ("PST BC", ("PST BC",)),
                  ("Exempt", ("Exempt",)), ("Zero-rated", ("Zero-rated",)),
                  ("GST/QST QC", ("GST", "QST")), ("GST/PST BC", ("GST", "PST BC")),
                  ("HST NB", ("HST NB",)), ("HST NL", ("HST NL",)), ("HST NS", ("HST NS",)), ("HST PE", ("HST PE",))),
    },
    "GB": {
        "agencies": {"HM Revenue & Customs": "VAT Control"},
        "rates": (("20.0% S", "20", "HM Revenue & Customs"), ("5.0% R", "5", "HM Revenue & Customs"),
                  ("0.0% Z", "0", "HM Revenue & Customs"), ("Exempt", "0", "HM Revenue & Customs")),
        "codes": (("20.0% S", ("20.0% S",)), ("5.0% R", ("5.0% R",)), ("0.0% Z", ("0.0% Z",)),
                  ("Exempt", ("Exempt",))),
    },
    "AU": {
        "agencies": {"Australian Taxation Office": "GST Payable"},
        "rates": (("GST (sales)", "10", "Australian Taxation Office"), ("GST free (sales)", "0", "Australian Taxation Office")),
        "codes": (("GST", ("GST (sales)",)), ("GST free", ("GST free (sales)",))),
    },
}
COUNTRIES_WITH_TAX_CODES = frozenset(TAX_SETUPS)
US_AST_AGENCY = "California Department of Tax and Fee Administration"

DEFAULT_CURRENCY = {"US": "USD", "CA": "CAD", "GB": "GBP", "AU": "AUD"}


def seed_company(ctx: OpContext) -> None:
    """Fill a new company with its default chart, items and tax set-up (inside `ctx`'s unit of work)."""
    for name, account_type, subtype, role in DEFAULT_ACCOUNTS:
        seed_account(ctx, name, account_type, subtype, role=role)
    _seed_items(ctx)
    settings = ctx.company.settings
    if settings.country == "US":
        _seed_pseudo_codes(ctx)
    if settings.tax == "us_automated":
        _seed_us_automated(ctx)
    elif settings.tax == "codes":
        _seed_tax_codes(ctx, TAX_SETUPS[settings.country])


def _seed_items(ctx: OpContext) -> None:
    income = ctx.company.system_accounts["services_income"]
    for name in ("Services", "Hours"):
        doc = {
            "Name": name, "Active": True, "FullyQualifiedName": name, "Taxable": False, "UnitPrice": 0,
            "Type": "Service", "IncomeAccountRef": {"value": income, "name": "Services"}, "PurchaseCost": 0,
            "TrackQtyOnHand": False, "domain": "QBO", "sparse": False, "Id": ctx.company.next_id("Item"),
            "SyncToken": "0", "MetaData": ctx.metadata(),
        }
        ctx.uow.save("Item", doc)
        if name == "Services":
            ctx.company.system_accounts["default_item"] = doc["Id"]


def _seed_pseudo_codes(ctx: OpContext) -> None:
    """US companies list the pseudo codes TAX and NON (no SyncToken/domain/sparse: §2.13)."""
    for code, taxable in (("TAX", True), ("NON", False)):
        ctx.uow.save("TaxCode", {
            "TaxGroup": False, "Name": code, "Taxable": taxable, "Description": code, "Id": code,
            "MetaData": ctx.metadata(),
        })


def _agency(ctx: OpContext, name: str, account_name: str) -> tuple[str, str]:
    account = seed_account(ctx, account_name, "Other Current Liability",
                           "SalesTaxPayable" if ctx.company.settings.country == "US" else "GlobalTaxPayable")
    ctx.company.system_accounts.setdefault("tax_payable", account["Id"])
    agency = ctx.uow.save("TaxAgency", {
        "DisplayName": name, "TaxTrackedOnSales": True, "TaxTrackedOnPurchases": False, "domain": "QBO",
        "sparse": False, "Id": ctx.company.next_id("TaxAgency"), "SyncToken": "0", "MetaData": ctx.metadata(),
    })
    return agency["Id"], account["Id"]


def _rate(ctx: OpContext, name: str, percent: Decimal, agency_id: str, account_id: str) -> dict:
    return ctx.uow.save("TaxRate", {
        "RateValue": percent, "AgencyRef": {"value": agency_id}, "domain": "QBO", "Name": name, "SyncToken": "0",
        "SpecialTaxType": "NONE", "DisplayType": "ReadOnly", "sparse": False, "Active": True,
        "MetaData": ctx.metadata(), "Id": ctx.company.next_id("TaxRate"), "Description": name,
        "_account": account_id,
    })


def _code(ctx: OpContext, name: str, rates: list[dict], group: bool = False) -> dict:
    taxable = any(Decimal(rate["RateValue"]) > 0 for rate in rates) or group
    return ctx.uow.save("TaxCode", {
        "SyncToken": "0", "domain": "QBO", "TaxGroup": group, "Name": name, "Taxable": taxable,
        "PurchaseTaxRateList": {"TaxRateDetail": []}, "sparse": False, "Active": True, "Description": name,
        "MetaData": ctx.metadata(), "Id": ctx.company.next_id("TaxCode"),
        "SalesTaxRateList": {"TaxRateDetail": [
            {"TaxTypeApplicable": "TaxOnAmount", "TaxRateRef": {"name": rate["Name"], "value": rate["Id"]}, "TaxOrder": 0}
            for rate in rates
        ]},
    })


def _seed_us_automated(ctx: OpContext) -> None:
    from . import rules

    agency_id, account_id = _agency(ctx, US_AST_AGENCY, f"{US_AST_AGENCY} Payable")
    configured = ctx.company.settings.us_sales_tax_rate_percent
    percent = Decimal(configured) if configured is not None else rules.US_AST_DEFAULT_RATE_PERCENT
    rate = _rate(ctx, "California", percent, agency_id, account_id)
    code = _code(ctx, "California", [rate], group=True)
    ctx.company.system_accounts["ast_tax_code"] = code["Id"]
    ctx.company.system_accounts["ast_tax_rate"] = rate["Id"]


def _seed_tax_codes(ctx: OpContext, setup: dict) -> None:
    agencies = {name: _agency(ctx, name, account_name) for name, account_name in setup["agencies"].items()}
    rates = {}
    for name, percent, agency_name in setup["rates"]:
        agency_id, account_id = agencies[agency_name]
        rates[name] = _rate(ctx, name, Decimal(percent), agency_id, account_id)
    for name, rate_names in setup["codes"]:
        _code(ctx, name, [rates[rate_name] for rate_name in rate_names])
