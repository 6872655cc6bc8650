"""A customer's whole plan: dependency order, skipped and held records, applications within the
balance QBO will show (refunds never re-open a QBO invoice)."""
from __future__ import annotations

from jobs.sync.mapping import CustomerData, plan_customer
from jobs.sync.model import Key
from tests.unit.sync.conftest import context, customer, invoice, payment_activity


def states(plan):  # type: ignore[no-untyped-def]
    return {(v.record.entity_type, v.record.fusebill_id): (v.state, v.reason) for v in plan.verdicts}


def docs(plan):  # type: ignore[no-untyped-def]
    return {d.key: d for d in plan.docs}


def test_draft_customer_and_all_its_records_are_skipped():
    plan = plan_customer(context(), CustomerData(customer(status="Draft"), invoices=[invoice()]))
    assert not plan.docs
    assert states(plan)[("invoice", "100")][0] == "skipped" and "draft" in states(plan)[("customer", "7")][1]


def test_cancelled_customer_still_syncs_its_history():
    plan = plan_customer(context(), CustomerData(customer(status="Cancelled"), invoices=[invoice()]))
    assert Key("invoice", "100") in docs(plan)


def test_zero_amount_invoice_is_skipped_and_before_start_date_too():
    from datetime import date

    plan = plan_customer(context(start_date=date(2025, 2, 1)), CustomerData(customer(), invoices=[
        invoice(100, "0.00"), invoice(101, "10.00", postedTimestamp="2025-01-15T00:00:00"), invoice(102, "10.00")]))
    found = states(plan)
    assert found[("invoice", "100")] == ("skipped", "zero-amount invoice: nothing to post")
    assert found[("invoice", "101")][0] == "skipped" and "start date" in found[("invoice", "101")][1]
    assert Key("invoice", "102") in docs(plan)


def test_dont_create_parks_a_new_customer_waiting_for_a_decision():
    plan = plan_customer(context(create_new_customers=False), CustomerData(customer(), invoices=[invoice()]))
    assert not plan.docs and states(plan)[("invoice", "100")][0] == "skipped"
    linked = plan_customer(context(create_new_customers=False), CustomerData(customer(), invoices=[invoice()]), customer_linked=True)
    assert Key("invoice", "100") in docs(linked)


def test_payment_lines_per_allocation_and_the_rest_unapplied():
    data = CustomerData(customer(), invoices=[invoice(100, "60.00"), invoice(101, "40.00")],
                        payment_activities=[payment_activity(9, "150.00", [(100, "60.00"), (101, "40.00")])])
    payment = docs(plan_customer(context(), data))[Key("payment", "9")]
    assert payment.payload["TotalAmt"] == "150.00"
    assert [line["Amount"] for line in payment.payload["Line"]] == ["60.00", "40.00"]


def test_an_allocation_after_a_refund_goes_to_the_refund_entry_naming_the_invoice():
    refund = payment_activity(10, "50.00", [(100, "50.00")], kind="Refund", when="2025-03-06T00:00:00")
    data = CustomerData(customer(), invoices=[invoice(100, "100.00")], payment_activities=[
        payment_activity(9, "100.00", [(100, "100.00")]), refund, payment_activity(11, "50.00", [(100, "50.00")], when="2025-03-07T00:00:00")])
    plan = plan_customer(context(), data)
    later = docs(plan)[Key("payment", "11")]
    linked = later.payload["Line"][0]["LinkedTxn"][0]
    assert linked["TxnType"] == "JournalEntry" and linked["TxnId"].key == Key("refund", "10")
    assert not plan.verdicts


def test_over_allocation_fails_with_both_amounts():
    data = CustomerData(customer(), invoices=[invoice(100, "50.00")], payment_activities=[payment_activity(9, "80.00", [(100, "80.00")])])
    verdict = states(plan_customer(context(), data))[("payment", "9")]
    assert verdict[0] == "failed" and "80.00" in verdict[1] and "50.00" in verdict[1]


def test_failed_collects_and_validations_are_not_payments():
    data = CustomerData(customer(), invoices=[invoice()], payment_activities=[
        payment_activity(9, "10.00", [], status="Failed"), payment_activity(10, "1.00", [], kind="Validate")])
    plan = plan_customer(context(), data)
    assert not any(k.entity_type == "payment" for k in docs(plan))


def test_credit_applied_then_partly_reversed_lowers_the_application_and_settles_the_reversal():
    ar = [
        {"id": 500, "transactionType": "Credit", "effectiveTimestamp": "2025-03-02T00:00:00", "arCredit": "30.00",
         "invoiceAllocation": [{"invoiceId": 100, "amount": "30.00"}]},
        {"id": 501, "transactionType": "Debit", "effectiveTimestamp": "2025-03-03T00:00:00", "arDebit": "10.00", "associatedId": 500,
         "invoiceAllocation": [{"invoiceId": 100, "amount": "10.00"}]},
    ]
    plan = plan_customer(context(), CustomerData(customer(), invoices=[invoice(100, "100.00")], ar_activities=ar))
    found = docs(plan)
    assert found[Key("credit", "500")].payload["Line"][0]["Amount"] == "30.00"
    application = found[Key("credit", "500", "apply:invoice:100")]
    assert application.payload["TotalAmt"] == "0" and [l["Amount"] for l in application.payload["Line"]] == ["20.00", "20.00"]
    assert found[Key("debit", "501")].qbo_type == "JournalEntry"
    settle = found[Key("debit", "501", "settle:credit:500")]
    assert [l["LinkedTxn"][0]["TxnType"] for l in settle.payload["Line"]] == ["JournalEntry", "CreditMemo"]
    assert Key("credit", "500", "apply:invoice:100") in settle.after


def test_fully_reversed_application_is_deleted():
    ar = [
        {"id": 500, "transactionType": "Credit", "effectiveTimestamp": "2025-03-02T00:00:00", "arCredit": "30.00",
         "invoiceAllocation": [{"invoiceId": 100, "amount": "30.00"}]},
        {"id": 501, "transactionType": "Debit", "effectiveTimestamp": "2025-03-03T00:00:00", "arDebit": "30.00", "associatedId": 500,
         "invoiceAllocation": [{"invoiceId": 100, "amount": "30.00"}]},
    ]
    found = docs(plan_customer(context(), CustomerData(customer(), invoices=[invoice(100, "100.00")], ar_activities=ar)))
    assert found[Key("credit", "500", "apply:invoice:100")].delete


def test_charge_reversal_on_a_paid_invoice_applies_nothing_and_stays_as_credit():
    note = {"id": 800, "invoiceId": 100, "creditNotesNumber": "100-CR-01", "netAmount": "40.00", "taxes": [],
            "effectiveTimestamp": "2025-03-10T00:00:00", "invoiceNumber": 100}
    data = CustomerData(customer(), invoices=[invoice(100, "100.00")], payment_activities=[payment_activity(9, "100.00", [(100, "100.00")])],
                        credit_notes=[note])
    found = docs(plan_customer(context(), data))
    assert found[Key("creditnote", "800")].payload["DocNumber"] == "100-CR-01"
    assert found[Key("creditnote", "800", "apply:invoice:100")].delete  # nothing open on the invoice: no application


def test_write_off_is_gross_and_applied_to_its_invoice():
    ar = [{"id": 900, "transactionType": "WriteOff", "effectiveTimestamp": "2025-04-01T00:00:00", "arCredit": "110.00",
           "invoiceAllocation": [{"invoiceId": 100, "amount": "110.00"}]}]
    found = docs(plan_customer(context(), CustomerData(customer(), invoices=[invoice(100, "110.00")], ar_activities=ar)))
    assert found[Key("writeoff", "900")].payload["Line"][0]["Amount"] == "110.00"
    assert found[Key("writeoff", "900", "apply:invoice:100")].payload["PrivateNote"] == "fusebill:writeoff:900:apply:invoice:100"


def test_an_unmapped_invoice_holds_the_payment_that_depends_on_it():
    from jobs.sync.mapping.common import TaxPlan

    gst = {"taxRuleId": 1, "name": "GST", "percentage": 5, "taxableAmount": "100.00", "amount": "5.00"}
    data = CustomerData(customer(currency="CAD"), invoices=[invoice(100, "105.00", taxes=[gst]), invoice(101, "10.00")],
                        payment_activities=[payment_activity(9, "105.00", [(100, "105.00")]), payment_activity(10, "10.00", [(101, "10.00")])])
    plan = plan_customer(context(tax_setup="codes", home_currency="CAD", taxes=TaxPlan(codes={"": "EX"})), data)
    found = states(plan)
    assert found[("invoice", "100")][0] == "failed" and found[("payment", "9")][0] == "pending"
    assert Key("payment", "10") in docs(plan) and Key("invoice", "101") in docs(plan)


def test_automatically_apply_credits_on_holds_documents_but_not_the_customer():
    data = CustomerData(customer(), invoices=[invoice()], payment_activities=[payment_activity(9, "110.00", [(100, "110.00")])])
    plan = plan_customer(context(auto_apply_credit=True), data)
    assert list(docs(plan)) == [Key("customer", "7")]
    found = states(plan)
    assert found[("invoice", "100")][0] == "pending" and "Automatically apply credits" in found[("payment", "9")][1]
