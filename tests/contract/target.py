"""The thing every contract test talks to: a connected python-quickbooks client plus helpers.

`QboTarget` hides whether the company is an emulator company or a real QBO sandbox company, so one
test body runs against both. Helpers create uniquely named records (a real sandbox keeps what earlier
runs created) and read back what the tests assert on.
"""
from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from quickbooks import QuickBooks
from quickbooks.objects.account import Account
from quickbooks.objects.base import LinkedTxn, Ref
from quickbooks.objects.creditmemo import CreditMemo
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item
from quickbooks.objects.payment import Payment, PaymentLine
from quickbooks.objects.preferences import Preferences

from emulators.qbo.testing import RunningEmulator


class QboTarget:
    """A connected company: `qb` (python-quickbooks), `auth_client` (intuitlib), `realm_id`.

    `emulator` is the RunningEmulator in emulator mode and None against a real sandbox.
    """

    def __init__(self, mode: str, qb: QuickBooks, auth_client: Any, realm_id: str, emulator: RunningEmulator | None = None,
                 factory: Any = None):
        self.mode = mode
        self.qb = qb
        self.auth_client = auth_client
        self.realm_id = realm_id
        self.emulator = emulator
        self._factory = factory
        self._deferred: Account | None = None
        self._country: str | None = None

    @property
    def is_emulator(self) -> bool:
        return self.emulator is not None

    # ---- company set-ups ------------------------------------------------------------------------

    def with_setup(self, **setup: Any) -> "QboTarget":
        """A target whose company has the given set-up (country, tax, multicurrency, ...).

        The emulator creates one; against a real sandbox the test is skipped unless the connected
        company already has that set-up.
        """
        if self.is_emulator:
            return self._factory(**setup)
        prefs = self.preferences()
        info = self.company_info()
        actual = {
            "country": info.get("Country"),
            "tax": _tax_mode(prefs),
            "multicurrency": prefs.CurrencyPrefs.MultiCurrencyEnabled,
            "auto_apply_credits": getattr(prefs.SalesFormsPrefs, "AutoApplyCredit", None),
            "custom_txn_numbers": getattr(prefs.SalesFormsPrefs, "CustomTxnNumbers", None),
        }
        for key, wanted in setup.items():
            if key in actual and actual[key] != wanted:
                pytest.skip(f"the connected QBO sandbox has {key}={actual[key]!r}; this test needs {wanted!r}")
        return self

    def books_closed_through(self, day: str) -> str:
        """The closing date a closed-books test writes against. The emulator closes the books through
        `day` (control API); a real sandbox keeps its own Preferences BookCloseDate, which the API
        cannot set, so the test is skipped when the company has none."""
        if self.is_emulator:
            self.emulator.set_closing_date(self.realm_id, day)
            return day
        closing = getattr(self.preferences().AccountingInfoPrefs, "BookCloseDate", "")
        if not closing:
            pytest.skip("the connected QBO sandbox has no closing date; set one under Account and settings > Advanced")
        return closing

    def preferences(self) -> Preferences:
        return Preferences.get(qb=self.qb)

    def company_info(self) -> dict:
        return self.qb.get(f"{self.qb.api_url}/company/{self.realm_id}/companyinfo/{self.realm_id}")["CompanyInfo"]

    # ---- records ------------------------------------------------------------------------------

    @staticmethod
    def unique(prefix: str) -> str:
        return f"{prefix} {uuid.uuid4().hex[:10]}"

    def customer(self, name: str | None = None, **fields: Any) -> Customer:
        customer = Customer()
        customer.DisplayName = name or self.unique("Contract Customer")
        for key, value in fields.items():
            setattr(customer, key, value)
        return customer.save(qb=self.qb)

    def deferred_revenue(self) -> Account:
        """An Other Current Liability account used as item income account (the contract relies on it)."""
        if self._deferred is None:
            account = Account()
            account.Name = self.unique("Contract Deferred Revenue")
            account.AccountType = "Other Current Liability"
            account.AccountSubType = "OtherCurrentLiabilities"
            self._deferred = account.save(qb=self.qb)
        return self._deferred

    def item(self, name: str | None = None, income_account: Account | None = None) -> Item:
        item = Item()
        item.Name = name or self.unique("Contract Item")
        item.Type = "Service"
        item.IncomeAccountRef = (income_account or self.deferred_revenue()).to_ref()
        return item.save(qb=self.qb)

    def _sales_line(self, item: Item, amount: Decimal | str, tax_code: str | None) -> SalesItemLine:
        line = SalesItemLine()
        line.Amount = Decimal(amount)
        line.SalesItemLineDetail = SalesItemLineDetail()
        line.SalesItemLineDetail.ItemRef = item.to_ref()
        if tax_code is not None:
            line.SalesItemLineDetail.TaxCodeRef = ref(tax_code)
        return line

    def invoice(self, customer: Customer, item: Item, amount: Decimal | str = "100.00", tax_code: str | None = "NON",
                request_id: str | None = None, **fields: Any) -> Invoice:
        invoice = Invoice()
        invoice.CustomerRef = customer.to_ref()
        invoice.Line = [self._sales_line(item, amount, self._tax_code(tax_code))]
        for key, value in fields.items():
            setattr(invoice, key, value)
        return invoice.save(qb=self.qb, request_id=request_id)

    def credit_memo(self, customer: Customer, item: Item, amount: Decimal | str, tax_code: str | None = "NON") -> CreditMemo:
        memo = CreditMemo()
        memo.CustomerRef = customer.to_ref()
        memo.Line = [self._sales_line(item, amount, self._tax_code(tax_code))]
        memo.ExchangeRate = 1  # never the library's default 0 (accounting-mapping: Currency)
        return memo.save(qb=self.qb)

    def _tax_code(self, wanted: str | None) -> str | None:
        """NON keeps US sales tax off; companies without US pseudo codes get no code."""
        if wanted == "NON" and not _uses_us_pseudo_codes(self):
            return None
        return wanted

    def payment(self, customer: Customer, total: Decimal | str, links: list[tuple[Any, Decimal | str]]) -> Payment:
        payment = Payment()
        payment.CustomerRef = customer.to_ref()
        payment.TotalAmt = Decimal(total)
        lines = []
        for document, amount in links:
            line = PaymentLine()
            line.Amount = Decimal(amount)
            line.LinkedTxn = [linked(document)]
            lines.append(line)
        payment.Line = lines
        return payment.save(qb=self.qb)

    def balance(self, customer: Customer) -> Decimal:
        return Decimal(str(Customer.get(customer.Id, qb=self.qb).Balance))

    def count(self, entity: str, where: str) -> int:
        result = self.qb.query(f"SELECT COUNT(*) FROM {entity} WHERE {where}")
        return result["QueryResponse"].get("totalCount", 0)

    def raw_post(self, path: str, body: dict, **params: Any) -> dict:
        """A POST through python-quickbooks' own request path (auth, minorversion, error mapping)."""
        return self.qb.post(f"{self.qb.api_url}/company/{self.realm_id}/{path}", json.dumps(body), params=params or None)


def ref(value: str, name: str = "") -> Ref:
    reference = Ref()
    reference.value = value
    reference.name = name
    return reference


def linked(document: Any) -> LinkedTxn:
    link = LinkedTxn()
    link.TxnId = document.Id
    link.TxnType = type(document).qbo_object_name
    return link


def _tax_mode(prefs: Preferences) -> str:
    tax = getattr(prefs, "TaxPrefs", None)
    if tax is None or not getattr(tax, "UsingSalesTax", False):
        return "none"
    return "us_automated" if getattr(tax, "PartnerTaxEnabled", False) else "codes"


def _uses_us_pseudo_codes(target: QboTarget) -> bool:
    """US companies have the TAX/NON pseudo codes (qbo-response-examples §2.13)."""
    if target._country is None:
        target._country = target.company_info()["Country"]
    return target._country == "US"
