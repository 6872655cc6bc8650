"""A Fusebill tax rule set to ignore on the Map taxes step: a record that carries it fails with that
reason, even when the rule still has a rate from before; the customer's other records still sync."""
from __future__ import annotations

from decimal import Decimal

import pytest

from jobs.sync.mapping import CustomerData, plan_customer
from jobs.sync.mapping.common import MappingError, TaxPlan
from jobs.sync.mapping.credit_memos import map_credit_note
from jobs.sync.mapping.invoice import map_invoice
from jobs.sync.model import Key
from tests.unit.sync.conftest import context, customer, invoice

GST = {"taxRuleId": 1, "name": "GST", "percentage": 5, "taxableAmount": "100.00", "amount": "5.00"}
NYC = {"taxRuleId": 9, "name": "NYC sales tax", "percentage": 8.875, "taxableAmount": "100.00", "amount": "8.88"}
# NYC sales tax is ignored, yet its old rate choice is still stored: ignoring wins.
PLAN = TaxPlan(codes={"1": "C-GST", "1+9": "C-ODD", "9": "C-NYC", "": "C-EXEMPT"},
               rates={"1": ("R-GST", Decimal("5")), "9": ("R-NYC", Decimal("8.875"))},
               ignored={"9": "NYC sales tax"})


def ca_context():  # type: ignore[no-untyped-def]
    return context(tax_setup="codes", home_currency="CAD", taxes=PLAN)


@pytest.mark.parametrize("taxes", [[NYC], [GST, NYC]])
def test_an_invoice_carrying_an_ignored_rule_fails_with_the_reason(taxes):  # type: ignore[no-untyped-def]
    amount = str(Decimal("100.00") + sum(Decimal(t["amount"]) for t in taxes))
    with pytest.raises(MappingError) as failure:
        map_invoice(ca_context(), invoice(amount=amount, taxes=taxes, charges=[{"amount": "100.00", "taxable": True}]), "7", "CAD")
    assert "tax rule NYC sales tax is set to ignore on the Taxes page" in failure.value.reason
    assert "un-ignore" in failure.value.hint


def test_a_charge_reversal_carrying_an_ignored_rule_fails_too():
    note = {"id": 55, "creditNotesNumber": "CN-55", "netAmount": "100.00", "taxes": [NYC], "effectiveTimestamp": "2025-03-02T00:00:00"}
    with pytest.raises(MappingError, match="tax rule NYC sales tax is set to ignore on the Taxes page"):
        map_credit_note(ca_context(), note, "7", "CAD")


def test_records_without_the_ignored_rule_still_sync():
    data = CustomerData(customer(currency="CAD"), invoices=[invoice(100, "108.88", taxes=[NYC]), invoice(101, "105.00", taxes=[GST]),
                                                            invoice(102, "20.00", charges=[{"amount": "20.00", "taxable": False}])])
    plan = plan_customer(ca_context(), data)
    verdicts = {v.record.fusebill_id: (v.state, v.reason) for v in plan.verdicts if v.record.entity_type == "invoice"}
    assert verdicts["100"][0] == "failed" and "set to ignore on the Taxes page" in verdicts["100"][1]
    mapped = {d.key: d for d in plan.docs}
    assert Key("invoice", "101") in mapped and Key("invoice", "102") in mapped
    gst_invoice = mapped[Key("invoice", "101")].payload
    assert gst_invoice["TxnTaxDetail"]["TaxLine"][0]["TaxLineDetail"]["TaxRateRef"]["value"] == "R-GST"


def test_a_rule_not_ignored_maps_as_before():
    plan = TaxPlan(codes=PLAN.codes, rates=PLAN.rates)  # the same rule, no longer ignored
    doc = map_invoice(context(tax_setup="codes", home_currency="CAD", taxes=plan),
                      invoice(amount="108.88", taxes=[NYC], charges=[{"amount": "100.00", "taxable": True}]), "7", "CAD")
    assert doc.payload["TxnTaxDetail"]["TaxLine"][0]["TaxLineDetail"]["TaxRateRef"]["value"] == "R-NYC"
