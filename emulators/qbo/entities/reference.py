"""Read-only entities: TaxCode, TaxRate, TaxAgency, CompanyInfo, Preferences, ExchangeRate.

TaxCode/TaxRate/TaxAgency are seeded with the company (chart.py). CompanyInfo and Preferences are
rendered from the company's settings (qbo-response-examples §2.11, §2.12); ExchangeRate comes from a
deterministic table (§2.14) that the control API can override per currency and date.
"""
from __future__ import annotations

import hashlib
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable

from .. import faults, rules
from ..clock import meta_timestamp, pacific_date
from .base import ENTITY_KEYS, EntityType, OpContext, public

# Home-currency units (USD) per unit of each currency: the centre of the deterministic rate table.
USD_PER_UNIT = {
    "USD": Decimal("1"), "EUR": Decimal("1.085"), "GBP": Decimal("1.27"), "CAD": Decimal("0.735"),
    "AUD": Decimal("0.66"), "NZD": Decimal("0.61"), "CHF": Decimal("1.13"), "JPY": Decimal("0.0067"),
    "INR": Decimal("0.012"), "MXN": Decimal("0.058"), "SEK": Decimal("0.095"), "NOK": Decimal("0.093"),
    "DKK": Decimal("0.1455"), "ZAR": Decimal("0.054"), "SGD": Decimal("0.745"), "HKD": Decimal("0.128"),
    "CNY": Decimal("0.139"), "BRL": Decimal("0.2"), "PLN": Decimal("0.25"),
}


class _SeededType(EntityType):
    """Entities that exist from company creation and cannot be written through this API."""

    writable = False

    def render(self, company, doc: dict) -> dict:
        return public(doc)


class TaxCodeType(_SeededType):
    name = "TaxCode"
    known_keys = ENTITY_KEYS | frozenset({"Name", "Description", "Active", "Hidden", "Taxable", "TaxGroup",
                                          "SalesTaxRateList", "PurchaseTaxRateList", "AdjustmentTaxRateList",
                                          "TaxCodeConfigType"})


class TaxRateType(_SeededType):
    name = "TaxRate"
    known_keys = ENTITY_KEYS | frozenset({"Name", "Description", "Active", "RateValue", "AgencyRef",
                                          "TaxReturnLineRef", "SpecialTaxType", "DisplayType", "EffectiveTaxRate"})


class TaxAgencyType(_SeededType):
    name = "TaxAgency"
    known_keys = ENTITY_KEYS | frozenset({"DisplayName", "TaxRegistrationNumber", "TaxTrackedOnSales",
                                          "TaxTrackedOnPurchases", "TaxAgencyConfig"})


_ADDRESSES = {
    "US": {"Line1": "2500 Garcia Ave", "City": "Mountain View", "CountrySubDivisionCode": "CA", "PostalCode": "94043"},
    "CA": {"Line1": "100 King St W", "City": "Toronto", "CountrySubDivisionCode": "ON", "PostalCode": "M5X 1A9"},
    "GB": {"Line1": "1 Poultry", "City": "London", "PostalCode": "EC2R 8EJ"},
    "AU": {"Line1": "1 Martin Pl", "City": "Sydney", "CountrySubDivisionCode": "NSW", "PostalCode": "2000"},
}


def _address(country: str) -> dict:
    return {"Id": "1", **_ADDRESSES.get(country, _ADDRESSES["US"]), "Country": country}


class CompanyInfoType(EntityType):
    name = "CompanyInfo"
    writable = False
    known_keys = ENTITY_KEYS | frozenset({"CompanyName", "LegalName", "CompanyAddr", "CustomerCommunicationAddr",
                                          "LegalAddr", "PrimaryPhone", "CompanyStartDate", "FiscalYearStartMonth",
                                          "Country", "Email", "WebAddr", "SupportedLanguages", "NameValue",
                                          "EmployerId"})

    def document(self, company) -> dict:
        settings = company.settings
        return {
            "CompanyName": settings.name,
            "LegalName": settings.name,
            "CompanyAddr": _address(settings.country),
            "CustomerCommunicationAddr": _address(settings.country),
            "LegalAddr": _address(settings.country),
            "PrimaryPhone": {},
            "CompanyStartDate": company.created_at[:10],
            "FiscalYearStartMonth": "January",
            "Country": settings.country,
            "Email": {"Address": "noreply@quickbooks.com"},
            "WebAddr": {},
            "SupportedLanguages": "en",
            "NameValue": [
                {"Name": "NeoEnabled", "Value": "true"},
                {"Name": "IndustryType", "Value": "Software publishers"},
                {"Name": "SubscriptionStatus", "Value": "TRIAL"},
                {"Name": "OfferingSku", "Value": "QuickBooks Online Advanced"},
                {"Name": "PayrollFeature", "Value": "false"},
                {"Name": "AccountantFeature", "Value": "false"},
                {"Name": "IsQbdtMigrated", "Value": "false"},
            ],
            "domain": "QBO",
            "sparse": False,
            "Id": "1",
            "SyncToken": "0",
            "MetaData": {"CreateTime": company.created_at, "LastUpdatedTime": company.created_at},
        }

    def rows(self, ctx: OpContext) -> Iterable[dict]:
        return [self.document(ctx.company)]


class PreferencesType(EntityType):
    name = "Preferences"
    writable = False
    known_keys = ENTITY_KEYS | frozenset({"AccountingInfoPrefs", "ProductAndServicesPrefs", "SalesFormsPrefs",
                                          "EmailMessagesPrefs", "VendorAndPurchasesPrefs", "TimeTrackingPrefs",
                                          "TaxPrefs", "CurrencyPrefs", "ReportPrefs", "OtherPrefs"})

    def document(self, company) -> dict:
        settings = company.settings
        tax_prefs: dict = {"UsingSalesTax": settings.tax != "none"}
        # PartnerTaxEnabled = automated sales tax (qbo-accounting-patterns §8); always present, because
        # python-quickbooks defaults a missing key to True.
        tax_prefs["PartnerTaxEnabled"] = settings.tax == "us_automated"
        if settings.tax == "us_automated":
            tax_prefs["TaxGroupCodeRef"] = {"value": company.system_accounts["ast_tax_code"]}
        return {
            "AccountingInfoPrefs": {
                "FirstMonthOfFiscalYear": "January",
                "UseAccountNumbers": False,
                "TaxYearMonth": "January",
                "ClassTrackingPerTxn": False,
                "TrackDepartments": False,
                "CustomerTerminology": "Customers",
                "BookCloseDate": settings.book_close_date,
                "ClassTrackingPerTxnLine": False,
            },
            "ProductAndServicesPrefs": {"ForSales": True, "ForPurchase": True, "QuantityWithPriceAndRate": True,
                                        "QuantityOnHand": True},
            "SalesFormsPrefs": {
                "CustomField": [],
                "CustomTxnNumbers": settings.custom_txn_numbers,
                "AllowDeposit": False,
                "AllowDiscount": True,
                "DefaultDiscountAccount": company.system_accounts.get("discounts", ""),
                "AllowEstimates": True,
                "ETransactionEnabledStatus": "NotApplicable",
                "ETransactionAttachPDF": False,
                "ETransactionPaymentEnabled": False,
                "IPNSupportEnabled": False,
                "AllowServiceDate": False,
                "AllowShipping": False,
                "DefaultTerms": {"value": "3"},
                "EmailCopyToCompany": False,
                "UsingPriceLevels": False,
                "AutoApplyCredit": settings.auto_apply_credits,
                "AutoApplyPayments": True,
            },
            "TaxPrefs": tax_prefs,
            "CurrencyPrefs": {"HomeCurrency": {"value": settings.home_currency},
                              "MultiCurrencyEnabled": settings.multicurrency},
            "ReportPrefs": {"ReportBasis": "Accrual", "CalcAgingReportFromTxnDate": False},
            "OtherPrefs": {"NameValue": [
                {"Name": "SalesFormsPrefs.DefaultItem", "Value": company.system_accounts.get("default_item", "1")},
                {"Name": "UncategorizedIncomeAccountId", "Value": company.system_accounts.get("uncategorized_income", "")},
                {"Name": "UncategorizedExpenseAccountId", "Value": company.system_accounts.get("uncategorized_expense", "")},
            ]},
            "TimeTrackingPrefs": {"UseServices": True, "BillCustomers": True, "ShowBillRateToAll": False,
                                  "WorkWeekStartDate": "Monday", "MarkTimeEntriesBillable": True},
            "domain": "QBO",
            "sparse": False,
            "Id": "1",
            "SyncToken": str(company.preferences_sync_token),
            "MetaData": {"CreateTime": company.created_at, "LastUpdatedTime": company.preferences_updated_at},
        }

    def rows(self, ctx: OpContext) -> Iterable[dict]:
        return [self.document(ctx.company)]

    def render(self, company, doc: dict) -> dict:
        # BookCloseDate is unset in a new company: leave it out rather than print null.
        prefs = public(doc)
        prefs["AccountingInfoPrefs"] = {k: v for k, v in prefs["AccountingInfoPrefs"].items() if v is not None}
        return prefs


class ExchangeRateType(EntityType):
    name = "ExchangeRate"
    writable = False
    known_keys = ENTITY_KEYS | frozenset({"SourceCurrencyCode", "TargetCurrencyCode", "Rate", "AsOfDate"})

    def rate(self, ctx: OpContext, source: str, as_of: str) -> dict:
        company = ctx.company
        if not company.settings.multicurrency:
            raise faults.from_rule(rules.EXCHANGE_RATE_WITHOUT_MULTICURRENCY_FAULT, element=None)
        home = company.settings.home_currency
        source = source.upper()
        if source == home:
            raise faults.from_rule(rules.HOME_CURRENCY_RATE_FAULT, element="SourceCurrencyCode")
        if source not in USD_PER_UNIT or home not in USD_PER_UNIT:
            raise faults.invalid_value("SourceCurrencyCode", source)
        override = company.exchange_rates.get(f"{source}|{as_of}")
        rate = Decimal(override) if override is not None else table_rate(source, home, as_of)
        return {
            "SyncToken": "0",
            "domain": "QBO",
            "AsOfDate": as_of,
            "SourceCurrencyCode": source,
            "Rate": rate,
            "sparse": False,
            "TargetCurrencyCode": home,
            "MetaData": {"LastUpdatedTime": meta_timestamp(ctx.now)},
        }

    def rows(self, ctx: OpContext) -> Iterable[dict]:
        today = pacific_date(ctx.now).isoformat()
        home = ctx.company.settings.home_currency
        for code in sorted(USD_PER_UNIT):
            if code != home:
                yield self.rate(ctx, code, today)

    def render(self, company, doc: dict) -> dict:
        return public(doc)


def _wobble(currency: str, as_of: str) -> Decimal:
    """A stable ±2 % daily movement per currency, so rates differ by date but never at random."""
    digest = hashlib.sha256(f"{currency}|{as_of}".encode()).hexdigest()
    return Decimal(1) + Decimal(int(digest[:8], 16) % 2001 - 1000) / Decimal(50000)


def table_rate(source: str, home: str, as_of: str) -> Decimal:
    """Home-currency units per one `source` unit on `as_of` (deterministic)."""
    source_usd = USD_PER_UNIT[source] * (_wobble(source, as_of) if source != "USD" else 1)
    home_usd = USD_PER_UNIT[home] * (_wobble(home, as_of) if home != "USD" else 1)
    return (source_usd / home_usd).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)


def valid_date(text_value: str) -> bool:
    try:
        date.fromisoformat(text_value)
    except ValueError:
        return False
    return True

