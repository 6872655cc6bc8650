"""Tax amounts: per invoice and rule, half-up, Québec not compounded, reversals exact to the cent."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from emulators.sampledata.money import round_money
from emulators.sampledata.taxes import reversed_tax, rule_by_code, rules_for, tax_on


@pytest.mark.parametrize("net, code, expected", [
    ("99.99", "QST", "9.97"),      # 9.974002...
    ("99.99", "GST", "5.00"),      # 4.9995 -> up
    ("10.10", "GST", "0.51"),      # 0.505: half-up, not banker's 0.50
    ("0.50", "HST-ON", "0.07"),    # 0.065
    ("100.00", "US-NY", "8.88"),   # 8.875
    ("33.33", "QST", "3.32"),
])
def test_tax_is_rounded_half_up_to_the_cent(net, code, expected):
    assert tax_on(D(net), rule_by_code(code), "CAD") == D(expected)


def test_quebec_charges_gst_and_qst_each_on_the_net():
    gst, qst = rules_for("CA-QC")
    assert (gst.code, qst.code) == ("GST", "QST")
    net = D("200.00")
    assert tax_on(net, qst, "CAD") == D("19.95")  # not 9.975 % of 210.00


def test_invoice_level_rounding_differs_from_per_line_on_purpose():
    qst = rule_by_code("QST")
    per_line = sum(tax_on(D("33.33"), qst, "CAD") for _ in range(3))
    assert (tax_on(D("99.99"), qst, "CAD"), per_line) == (D("9.97"), D("9.96"))


def test_reversing_every_charge_gives_back_exactly_the_invoice_tax():
    qst = rule_by_code("QST")
    invoice_tax, taxable = D("9.97"), D("99.99")
    done_net, done_tax, given_back = D(0), D(0), []
    for _ in range(3):
        amount = reversed_tax(D("33.33"), done_net, done_tax, taxable, invoice_tax, qst, "CAD")
        given_back.append(amount)
        done_net, done_tax = done_net + D("33.33"), done_tax + amount
    assert given_back == [D("3.32"), D("3.32"), D("3.33")] and sum(given_back) == invoice_tax


def test_zero_decimal_currencies_round_to_whole_units():
    assert round_money(D("1234.5"), "JPY") == D("1235")
    assert tax_on(D("1000"), rule_by_code("GB-VAT"), "JPY") == D("200")
