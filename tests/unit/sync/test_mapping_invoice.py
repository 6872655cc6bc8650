"""Invoice mapping in each QBO tax set-up: Fusebill's amounts as posted, never recomputed."""
from __future__ import annotations

from decimal import Decimal

import pytest

from jobs.sync.mapping.common import MappingError
from jobs.sync.mapping.invoice import map_invoice
from jobs.sync.model import Rate, Ref
from tests.unit.sync.conftest import CA_TAXES, context, invoice

GST = {"taxRuleId": 1, "name": "GST", "percentage": 5, "taxableAmount": "100.00", "amount": "5.00"}
QST = {"taxRuleId": 2, "name": "QST", "percentage": 9.975, "taxableAmount": "100.00", "amount": "9.98"}


def lines(doc):  # type: ignore[no-untyped-def]
    return [(l["Amount"], l["SalesItemLineDetail"]["ItemRef"]["value"], l["SalesItemLineDetail"].get("TaxCodeRef", {}).get("value"))
            for l in doc.payload["Line"]]


@pytest.mark.parametrize("setup, expected", [
    ("none", [("100.00", "I1", None), ("5.00", "I2", None)]),
    ("us_automated", [("100.00", "I1", "NON"), ("5.00", "I2", "NON")]),
    ("us_manual", [("100.00", "I1", "NON"), ("5.00", "I2", "NON")]),
])
def test_tax_as_a_line_outside_tax_codes(setup, expected):  # type: ignore[no-untyped-def]
    doc = map_invoice(context(tax_setup=setup), invoice(amount="105.00", taxes=[GST], charges=[{"amount": "100.00", "taxable": True}]), "7", "USD")
    assert lines(doc) == expected and "TxnTaxDetail" not in doc.payload


def test_tax_codes_one_line_per_code_and_one_tax_line_per_rule():
    charges = [{"amount": "100.00", "taxable": True}, {"amount": "20.00", "taxable": False}]
    doc = map_invoice(context(tax_setup="codes", home_currency="CAD", taxes=CA_TAXES),
                      invoice(amount="134.98", taxes=[GST, QST], charges=charges), "7", "CAD")
    assert lines(doc) == [("100.00", "I1", "C-GSTQST"), ("20.00", "I1", "C-EXEMPT")]
    detail = doc.payload["TxnTaxDetail"]
    assert detail["TotalTax"] == "14.98"
    assert [(t["Amount"], t["TaxLineDetail"]["TaxRateRef"]["value"], t["TaxLineDetail"]["TaxPercent"]) for t in detail["TaxLine"]] == [
        ("5.00", "R-GST", "5"), ("9.98", "R-QST", "9.975")]


def test_unmapped_combination_fails_with_its_names():
    plan = CA_TAXES.__class__(codes={"": "C-EXEMPT"}, rates=CA_TAXES.rates)
    with pytest.raises(MappingError, match="GST \\+ QST is not mapped"):
        map_invoice(context(tax_setup="codes", taxes=plan), invoice(amount="114.98", taxes=[GST, QST]), "7", "CAD")


@pytest.mark.parametrize("amount, message", [("-5.00", "negative total"), ("10.005", "more than 2 decimals"), ("abc", "not a number")])
def test_impossible_amounts_fail_with_the_amount(amount, message):  # type: ignore[no-untyped-def]
    with pytest.raises(MappingError, match=message):
        map_invoice(context(), invoice(amount=amount), "7", "USD")


def test_marker_number_dates_and_references():
    doc = map_invoice(context(), invoice(), "7", "USD")
    assert doc.payload["PrivateNote"].startswith("fusebill:invoice:100")
    assert doc.payload["DocNumber"] == "100" and doc.payload["TxnDate"] == "2025-03-01" and doc.payload["DueDate"] == "2025-03-31"
    assert isinstance(doc.payload["CustomerRef"]["value"], Ref)


def test_foreign_document_carries_currency_and_an_explicit_rate():
    doc = map_invoice(context(multicurrency=True), invoice(), "7", "EUR")
    assert doc.payload["CurrencyRef"] == {"value": "EUR"} and doc.payload["ExchangeRate"] == Rate("EUR", "2025-03-01")
    home = map_invoice(context(multicurrency=True), invoice(), "7", "USD")
    assert "ExchangeRate" not in home.payload


def test_jpy_has_no_minor_unit():
    doc = map_invoice(context(multicurrency=True), invoice(amount="1200", charges=[{"amount": "1200", "taxable": True}]), "7", "JPY")
    assert doc.payload["Line"][0]["Amount"] == "1200"
    assert Decimal(doc.payload["Line"][0]["Amount"]) == 1200
