"""Payments applying invoices, credit memos and A/R journal lines; customer balances; the deposit lock."""
from decimal import Decimal

import pytest

from emulators.qbo.money import loads


@pytest.fixture
def books(api):
    customer = api.customer("Pay Co")
    item = api.item("Pay item")
    return api, customer, item


def payment_of(response) -> dict:
    assert response.status_code == 200, response.text
    return loads(response.text)["Payment"]


def test_partial_payment_reduces_invoice_and_customer_balance(books):
    api, customer, item = books
    invoice = api.invoice(customer, item, "100.00")
    payment = payment_of(api.payment(customer, "65.00", [("Invoice", invoice["Id"], "55.00")]))
    assert payment["TotalAmt"] == Decimal("65.00") and payment["UnappliedAmt"] == Decimal("10.00")
    assert payment["Line"] == [{"Amount": Decimal("55.00"), "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}]
    assert "DetailType" not in payment["Line"][0]
    assert payment["DepositToAccountRef"]["name"] == "Undeposited Funds"
    after = api.read("Invoice", invoice["Id"])
    assert after["Balance"] == Decimal("45.00")
    assert after["LinkedTxn"] == [{"TxnId": payment["Id"], "TxnType": "Payment"}]
    assert after["SyncToken"] == invoice["SyncToken"]  # applying a payment does not bump the invoice's SyncToken
    assert api.balance(customer) == Decimal("35.00")  # 45 open on the invoice - 10 unapplied


def test_python_quickbooks_payment_body_with_int_txn_line_id(books):
    api, customer, item = books
    invoice = api.invoice(customer, item, "100.00")
    body = {"CustomerRef": {"name": "", "type": "", "value": customer["Id"]},
            "Line": [{"Amount": 100, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnLineId": 1, "TxnType": "Invoice"}]}],
            "SyncToken": 0, "TotalAmt": 100, "domain": "QBO", "sparse": False}
    payment = payment_of(api.post("payment", body))
    assert payment["UnappliedAmt"] == 0 and api.read("Invoice", invoice["Id"])["Balance"] == 0


def test_over_application_and_foreign_documents_are_6000(books):
    api, customer, item = books
    other = api.customer("Someone Else")
    invoice = api.invoice(customer, item, "100.00")
    foreign_invoice = api.invoice(other, item, "10.00")
    over = api.fault(api.payment(customer, "150.00", [("Invoice", invoice["Id"], "120.00")]))
    assert over["code"] == "6000" and "open balance" in over["Detail"]
    split_over = api.fault(api.payment(customer, "120.00", [("Invoice", invoice["Id"], "60.00"), ("Invoice", invoice["Id"], "60.00")]))
    assert split_over["code"] == "6000"
    assert api.fault(api.payment(customer, "10.00", [("Invoice", foreign_invoice["Id"], "10.00")]))["code"] == "6000"
    assert api.fault(api.payment(customer, "10.00", [("Invoice", "987654", "10.00")]))["code"] == "2500"
    assert api.fault(api.payment(customer, "50.00", [("Invoice", invoice["Id"], "60.00")]))["code"] == "6000"  # total < applied
    assert api.read("Invoice", invoice["Id"])["Balance"] == Decimal("100.00")  # nothing half-applied


def test_zero_total_payment_applies_a_credit_memo(books):
    api, customer, item = books
    invoice = api.invoice(customer, item, "100.00")
    credit = api.credit_memo(customer, item, "30.00")
    payment = payment_of(api.payment(customer, "0", [("Invoice", invoice["Id"], "30.00"), ("CreditMemo", credit["Id"], "30.00")]))
    assert payment["TotalAmt"] == 0 and payment["UnappliedAmt"] == 0
    assert api.read("Invoice", invoice["Id"])["Balance"] == Decimal("70.00")
    after = api.read("CreditMemo", credit["Id"])
    assert after["RemainingCredit"] == 0 and after["Balance"] == 0
    assert api.balance(customer) == Decimal("70.00")


def test_credits_require_total_to_equal_net_applied(books):
    api, customer, item = books
    invoice = api.invoice(customer, item, "100.00")
    credit = api.credit_memo(customer, item, "30.00")
    error = api.fault(api.payment(customer, "10.00", [("Invoice", invoice["Id"], "30.00"), ("CreditMemo", credit["Id"], "30.00")]))
    assert error["code"] == "6000" and "credits" in error["Detail"]
    over_credit = api.fault(api.payment(customer, "0", [("Invoice", invoice["Id"], "40.00"), ("CreditMemo", credit["Id"], "40.00")]))
    assert over_credit["code"] == "6000"
    net = payment_of(api.payment(customer, "70.00", [("Invoice", invoice["Id"], "100.00"), ("CreditMemo", credit["Id"], "30.00")]))
    assert net["UnappliedAmt"] == 0 and api.balance(customer) == 0


def test_payment_update_recomputes_and_delete_restores(books):
    api, customer, item = books
    first = api.invoice(customer, item, "100.00")
    second = api.invoice(customer, item, "50.00")
    payment = payment_of(api.payment(customer, "100.00", [("Invoice", first["Id"], "100.00")]))
    moved = api.create("Payment", {"Id": payment["Id"], "SyncToken": "0", "CustomerRef": {"value": customer["Id"]}, "TotalAmt": 100,
                                   "Line": [{"Amount": 50, "LinkedTxn": [{"TxnId": second["Id"], "TxnType": "Invoice"}]}]})
    assert moved["SyncToken"] == "1" and moved["UnappliedAmt"] == Decimal("50.00")
    assert api.read("Invoice", first["Id"])["Balance"] == Decimal("100.00")
    assert api.read("Invoice", first["Id"])["LinkedTxn"] == []
    assert api.read("Invoice", second["Id"])["Balance"] == 0
    api.post("payment", {"Id": payment["Id"], "SyncToken": "1"}, operation="delete")
    assert api.read("Invoice", second["Id"])["Balance"] == Decimal("50.00")
    assert api.balance(customer) == Decimal("150.00")


def test_void_payment_zeroes_amounts(books):
    api, customer, item = books
    invoice = api.invoice(customer, item, "40.00")
    payment = payment_of(api.payment(customer, "40.00", [("Invoice", invoice["Id"], "40.00")]))
    voided = loads(api.post("payment", {"Id": payment["Id"], "SyncToken": "0", "sparse": True}, operation="update", include="void").text)["Payment"]
    assert voided["TotalAmt"] == 0 and voided["PrivateNote"] == "Voided" and voided["SyncToken"] == "1"
    assert api.read("Invoice", invoice["Id"])["Balance"] == Decimal("40.00")


def test_deposited_payment_is_locked(books, emulator):
    api, customer, item = books
    invoice = api.invoice(customer, item, "40.00")
    payment = payment_of(api.payment(customer, "40.00", [("Invoice", invoice["Id"], "40.00")]))
    emulator.mark_deposited(api.realm_id, [payment["Id"]])
    update = api.fault(api.post("payment", {"Id": payment["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "x"}))
    assert update["code"] == "6540" and update["Message"] == "Deposited Transaction cannot be changed"
    assert api.fault(api.post("payment", {"Id": payment["Id"], "SyncToken": "0"}, operation="delete"))["code"] == "6540"
    # A new zero-total application payment is still possible (the product's fallback).
    credit = api.credit_memo(customer, item, "5.00")
    invoice2 = api.invoice(customer, item, "5.00")
    assert payment_of(api.payment(customer, "0", [("Invoice", invoice2["Id"], "5.00"), ("CreditMemo", credit["Id"], "5.00")]))


def test_deposit_to_account_rules(books):
    api, customer, item = books
    income = api.account("Not a bank", "Income")
    assert api.fault(api.payment(customer, "10.00", [], DepositToAccountRef={"value": income["Id"]}))["code"] == "6000"
    savings = api.account_named("Savings")
    payment = payment_of(api.payment(customer, "10.00", [], DepositToAccountRef={"value": savings["Id"]}))
    assert payment["DepositToAccountRef"] == {"value": savings["Id"], "name": "Savings"}
    assert api.balance(customer) == Decimal("-10.00")


def ar_journal(api, customer: dict, amount: str, *, debit_ar: bool = True, with_customer: bool = True) -> object:
    ar = api.account_named("Accounts Receivable (A/R)")
    refunds = api.account_named("Checking")
    ar_line = {"PostingType": "Debit" if debit_ar else "Credit", "AccountRef": {"value": ar["Id"]}}
    if with_customer:
        ar_line["Entity"] = {"Type": "Customer", "EntityRef": {"value": customer["Id"], "name": "", "type": ""}}
    other_line = {"PostingType": "Credit" if debit_ar else "Debit", "AccountRef": {"value": refunds["Id"]}, "TaxApplicableOn": "Sales", "TaxAmount": 0}
    return api.post("journalentry", {"Adjustment": False, "DocNumber": "", "ExchangeRate": 1, "PrivateNote": "", "SyncToken": 0,
                                      "TotalAmt": 0, "TxnDate": "", "domain": "QBO", "sparse": False, "Line": [
        {"Amount": Decimal(amount), "DetailType": "JournalEntryLineDetail", "JournalEntryLineDetail": ar_line, "LineNum": 0, "LinkedTxn": [], "CustomField": []},
        {"Amount": Decimal(amount), "DetailType": "JournalEntryLineDetail", "JournalEntryLineDetail": other_line, "LineNum": 0, "LinkedTxn": [], "CustomField": []},
    ]})


def test_journal_entry_shape_and_balance_effect(books):
    api, customer, _item = books
    journal = loads(ar_journal(api, customer, "25.00").text)["JournalEntry"]
    assert [line["Id"] for line in journal["Line"]] == ["0", "1"]
    assert journal["Adjustment"] is False and journal["TxnTaxDetail"] == {} and journal["TotalAmt"] == Decimal("25.00")
    assert journal["Line"][0]["JournalEntryLineDetail"]["Entity"]["EntityRef"]["value"] == customer["Id"]
    assert api.balance(customer) == Decimal("25.00")
    credit = loads(ar_journal(api, customer, "5.00", debit_ar=False).text)["JournalEntry"]
    assert credit["Id"] and api.balance(customer) == Decimal("20.00")


def test_journal_entry_rules(books):
    api, customer, _item = books
    error = api.fault(ar_journal(api, customer, "10.00", with_customer=False))
    assert error == {"Message": "A business validation error has occurred while processing your request",
                     "Detail": "Business Validation Error: When you use Accounts Receivable, you must choose a customer in the Name field.",
                     "code": "6000", "element": "Line.JournalEntryLineDetail.Entity"}
    checking = api.account_named("Checking")
    savings = api.account_named("Savings")
    unbalanced = api.fault(api.post("journalentry", {"Line": [
        {"Amount": 10, "DetailType": "JournalEntryLineDetail", "JournalEntryLineDetail": {"PostingType": "Debit", "AccountRef": {"value": checking["Id"]}}},
        {"Amount": 9, "DetailType": "JournalEntryLineDetail", "JournalEntryLineDetail": {"PostingType": "Credit", "AccountRef": {"value": savings["Id"]}}},
    ]}))
    assert unbalanced["code"] == "6000" and "balance" in unbalanced["Detail"]
    ap = api.account_named("Accounts Payable (A/P)")
    vendorless = api.fault(api.post("journalentry", {"Line": [
        {"Amount": 10, "DetailType": "JournalEntryLineDetail", "JournalEntryLineDetail": {"PostingType": "Debit", "AccountRef": {"value": checking["Id"]}}},
        {"Amount": 10, "DetailType": "JournalEntryLineDetail", "JournalEntryLineDetail": {"PostingType": "Credit", "AccountRef": {"value": ap["Id"]}}},
    ]}))
    assert vendorless["code"] == "6000" and "Accounts Payable" in vendorless["Detail"]


def test_payment_settles_an_open_refund_journal(books):
    """The contract's refund recipe: Dr A/R (customer) journal, later settled by a payment line."""
    api, customer, item = books
    journal = loads(ar_journal(api, customer, "30.00").text)["JournalEntry"]
    payment = payment_of(api.payment(customer, "30.00", [("JournalEntry", journal["Id"], "30.00")]))
    assert payment["UnappliedAmt"] == 0 and api.balance(customer) == 0
    again = api.fault(api.payment(customer, "1.00", [("JournalEntry", journal["Id"], "1.00")]))
    assert again["code"] == "6000"
    # A credit memo can settle it too, through a zero-total payment.
    journal2 = loads(ar_journal(api, customer, "12.00").text)["JournalEntry"]
    credit = api.credit_memo(customer, item, "12.00")
    assert payment_of(api.payment(customer, "0", [("JournalEntry", journal2["Id"], "12.00"), ("CreditMemo", credit["Id"], "12.00")]))
    assert api.balance(customer) == 0


def test_customer_balance_is_charges_minus_payments_and_credits(books):
    api, customer, item = books
    api.invoice(customer, item, "100.00")
    invoice = api.invoice(customer, item, "50.00")
    api.credit_memo(customer, item, "20.00")
    payment_of(api.payment(customer, "70.00", [("Invoice", invoice["Id"], "50.00")]))
    ar_journal(api, customer, "15.00")
    assert api.balance(customer) == Decimal("100") + Decimal("50") - Decimal("20") - Decimal("70") + Decimal("15")
    rows = api.query(f"select * from Customer where Id = '{customer['Id']}'")["Customer"]
    assert rows[0]["Balance"] == Decimal("75.00")
    assert api.query("select * from Customer where Balance > '74.99'")["Customer"][0]["Id"] == customer["Id"]


def test_empty_zero_payment_is_refused(books):
    api, customer, _item = books
    error = api.fault(api.payment(customer, "0"))
    assert error["code"] == "6000" and error["Detail"] == "Business Validation Error: You must set a transaction amount."
