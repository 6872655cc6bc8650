"""Invoice, CreditMemo and RefundReceipt: what QBO adds, what it refuses, and their postings."""
from decimal import Decimal

import pytest

from emulators.qbo.money import loads


def python_quickbooks_invoice(customer_id: str, item_id: str, **overrides) -> dict:
    """The body python-quickbooks 0.9.12 sends for an invoice with one line (qbo-sample-payloads)."""
    body = {
        "AllowIPNPayment": True, "AllowOnlineACHPayment": False, "AllowOnlineCreditCardPayment": False,
        "ApplyTaxAfterDiscount": False, "Balance": 0, "CustomField": [],
        "CustomerRef": {"name": "", "type": "", "value": customer_id}, "Deposit": 0, "DocNumber": "INV-1",
        "DueDate": "", "EmailStatus": "NotSet", "ExchangeRate": 1, "FreeFormAddress": False,
        "GlobalTaxCalculation": "TaxExcluded", "HomeBalance": 0, "HomeTotalAmt": 0, "InvoiceLink": "",
        "Line": [{"Amount": 100, "CustomField": [], "DetailType": "SalesItemLineDetail", "LineNum": 0, "LinkedTxn": [],
                  "SalesItemLineDetail": {"ItemRef": {"name": "Fusebill Charges", "type": "", "value": item_id},
                                          "Qty": 0, "ServiceDate": "", "TaxInclusiveAmt": 0, "UnitPrice": 0}}],
        "LinkedTxn": [], "PrintStatus": "NotSet", "PrivateNote": "", "ShipDate": "", "SyncToken": 0, "TotalAmt": "",
        "TrackingNum": "", "TxnDate": "", "domain": "QBO", "sparse": False,
    }
    body.update(overrides)
    return body


def test_invoice_create_shape(api):
    customer = api.customer("Amy's Bird Sanctuary", BillAddr={"Line1": "4581 Finch St.", "City": "Bayshore"})
    item = api.item()
    invoice = api.create("Invoice", python_quickbooks_invoice(customer["Id"], item["Id"]))
    assert invoice["DocNumber"] == "INV-1" and invoice["SyncToken"] == "0"
    assert invoice["TotalAmt"] == Decimal("100.00") and invoice["Balance"] == Decimal("100.00")
    assert invoice["LinkedTxn"] == [] and invoice["TxnTaxDetail"] == {"TotalTax": 0}
    assert invoice["CustomerRef"] == {"value": customer["Id"], "name": "Amy's Bird Sanctuary"}
    assert invoice["CurrencyRef"] == {"value": "USD", "name": "United States Dollar"}
    assert invoice["BillAddr"] == {"Line1": "4581 Finch St.", "City": "Bayshore"}
    item_line, subtotal = invoice["Line"]
    assert item_line["Id"] == "1" and item_line["LineNum"] == 1
    assert item_line["SalesItemLineDetail"]["ItemRef"] == {"value": item["Id"], "name": "Fusebill Charges"}
    assert "Qty" not in item_line["SalesItemLineDetail"] and "UnitPrice" not in item_line["SalesItemLineDetail"]
    assert subtotal == {"Amount": Decimal("100.00"), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
    assert "ExchangeRate" not in invoice and "HomeTotalAmt" not in invoice  # single-currency company
    txn_date = invoice["TxnDate"]
    assert len(txn_date) == 10
    from datetime import date, timedelta
    assert invoice["DueDate"] == (date.fromisoformat(txn_date) + timedelta(days=30)).isoformat()
    for blank in ("ShipDate", "TrackingNum", "InvoiceLink", "PrivateNote"):
        assert blank not in invoice


def test_doc_numbers_come_from_one_sales_sequence(api):
    customer = api.customer("Seq Co")
    item = api.item("Seq item")
    first = api.invoice(customer, item)
    credit = api.credit_memo(customer, item, "5.00")
    second = api.invoice(customer, item)
    assert [int(first["DocNumber"]), int(credit["DocNumber"]), int(second["DocNumber"])] == [
        int(first["DocNumber"]), int(first["DocNumber"]) + 1, int(first["DocNumber"]) + 2]
    jumped = api.invoice(customer, item, DocNumber="5000")
    assert jumped["DocNumber"] == "5000"
    assert api.invoice(customer, item)["DocNumber"] == "5001"


def test_invoice_validation_errors(api):
    customer = api.customer("Err Co")
    item = api.item("Err item")
    line = {"Amount": 100, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}}}

    no_lines = api.fault(api.post("invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": []}))
    assert no_lines["code"] == "2020" and no_lines["Detail"] == "Required parameter Line is missing in the request"

    assert api.fault(api.post("invoice", {"Line": [line]}))["code"] == "2020"
    assert api.fault(api.post("invoice", {"CustomerRef": {"value": ""}, "Line": [line]}))["code"] == "6000"
    assert api.fault(api.post("invoice", {"CustomerRef": {"value": "424242"}, "Line": [line]}))["code"] == "2500"

    bad_item = dict(line, SalesItemLineDetail={"ItemRef": {"value": "9999"}})
    error = api.fault(api.post("invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [bad_item]}))
    assert error["code"] == "2500" and error["element"] == "Line.SalesItemLineDetail.ItemRef"

    wrong_amount = dict(line, SalesItemLineDetail={"ItemRef": {"value": item["Id"]}, "Qty": 2, "UnitPrice": 40})
    error = api.fault(api.post("invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [wrong_amount]}))
    assert error["code"] == "6070" and error["Detail"] == "Amount is not equal to Qty * UnitPrice. Supplied value:100.00"

    right_amount = dict(line, SalesItemLineDetail={"ItemRef": {"value": item["Id"]}, "Qty": Decimal("2.5"), "UnitPrice": 40})
    invoice = api.create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [right_amount]})
    assert invoice["Line"][0]["SalesItemLineDetail"]["Qty"] == Decimal("2.5")

    long_number = api.fault(api.post("invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [line], "DocNumber": "X" * 22}))
    assert long_number["code"] == "2050" and long_number["element"] == "DocNumber"


def test_duplicate_doc_number_needs_custom_numbers(emulator):
    from tests.emulators.qbo.conftest import make_api

    plain = make_api(emulator)
    customer, item = plain.customer("Dup Co"), plain.item("Dup item")
    plain.invoice(customer, item, DocNumber="FB-1")
    assert plain.invoice(customer, item, DocNumber="FB-1")["DocNumber"] == "FB-1"

    custom = make_api(emulator, custom_txn_numbers=True)
    customer, item = custom.customer("Dup Co"), custom.item("Dup item")
    first = custom.invoice(customer, item, DocNumber="FB-1")
    error = custom.fault(custom.post("invoice", {"CustomerRef": {"value": customer["Id"]}, "DocNumber": "FB-1",
                                                 "Line": first["Line"][:1]}))
    assert error["code"] == "6140" and f"TxnId={first['Id']}" in error["Detail"]
    assert "DocNumber" not in custom.invoice(customer, item)  # custom numbers on: no auto number


def test_credit_memo_with_python_quickbooks_defaults(api):
    customer = api.customer("Credit Co")
    item = api.item("Credit item")
    body = python_quickbooks_invoice(customer["Id"], item["Id"])
    for key in ("AllowIPNPayment", "AllowOnlineACHPayment", "AllowOnlineCreditCardPayment", "Deposit", "DueDate",
                "FreeFormAddress", "HomeBalance", "HomeTotalAmt", "InvoiceLink", "LinkedTxn", "ShipDate", "TrackingNum"):
        body.pop(key)
    body.update({"ApplyTaxAfterDiscount": "", "DocNumber": "", "ExchangeRate": 0, "RemainingCredit": 0, "TotalAmt": 0})
    credit = api.create("CreditMemo", body)
    assert credit["TotalAmt"] == credit["RemainingCredit"] == credit["Balance"] == Decimal("100.00")
    assert "DueDate" not in credit and credit["DocNumber"]
    assert api.balance(customer) == Decimal("-100.00")


def test_refund_receipt_posts_income_and_bank_but_not_receivables(api, emulator):
    customer = api.customer("Refund Co")
    income = api.account("Refund income", "Income")
    item = api.item("Refund item", income_account=income)
    line = {"Amount": 40, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}}}
    missing = api.fault(api.post("refundreceipt", {"CustomerRef": {"value": customer["Id"]}, "Line": [line]}))
    assert missing["code"] == "2020" and missing["element"] == "DepositToAccountRef"
    wrong_type = api.fault(api.post("refundreceipt", {"CustomerRef": {"value": customer["Id"]}, "Line": [line],
                                                      "DepositToAccountRef": {"value": income["Id"]}}))
    assert wrong_type["code"] == "6000"
    checking = api.account_named("Checking")
    before = emulator.ledger(api.realm_id)
    receipt = api.create("RefundReceipt", {"CustomerRef": {"value": customer["Id"]}, "Line": [line],
                                           "DepositToAccountRef": {"value": checking["Id"]}, "PaymentType": ""})
    assert receipt["Balance"] == 0 and receipt["TotalAmt"] == Decimal("40.00")
    after = emulator.ledger(api.realm_id)
    assert Decimal(str(after["Checking"]["Balance"])) - Decimal(str(before["Checking"]["Balance"])) == Decimal("-40")
    assert Decimal(str(after["Refund income"]["Balance"])) == Decimal("40")
    assert after["Accounts Receivable (A/R)"]["Balance"] == before["Accounts Receivable (A/R)"]["Balance"]
    assert api.balance(customer) == 0


def test_invoice_postings_and_account_balance_sign(api, emulator):
    customer = api.customer("Ledger Co")
    deferred = api.account("Deferred Revenue", "Other Current Liability", "DeferredRevenue")
    item = api.item("Ledger item", income_account=deferred)
    api.invoice(customer, item, "120.00")
    assert Decimal(api.read("Account", deferred["Id"])["CurrentBalance"]) == Decimal("-120.00")
    ar = api.account_named("Accounts Receivable (A/R)")
    assert Decimal(ar["CurrentBalance"]) == Decimal("120.00")
    ledger = emulator.ledger(api.realm_id)
    assert sum(Decimal(str(row["Balance"])) for row in ledger.values()) == 0  # debits = credits


def test_income_accounts_report_zero_current_balance(api, emulator):
    customer = api.customer("PnL Co")
    income = api.account("Sales income", "Income")
    item = api.item("PnL item", income_account=income)
    api.invoice(customer, item, "10.00")
    assert api.read("Account", income["Id"])["CurrentBalance"] == 0
    assert Decimal(str(emulator.ledger(api.realm_id)["Sales income"]["Balance"])) == Decimal("-10")


def test_full_update_replaces_lines_and_sparse_keeps_them(api):
    customer = api.customer("Lines Co")
    item = api.item("Lines item")
    invoice = api.invoice(customer, item, "100.00", PrivateNote="note")
    sparse = api.create("Invoice", {"Id": invoice["Id"], "SyncToken": "0", "sparse": True, "DueDate": "2031-01-01"})
    assert sparse["TotalAmt"] == Decimal("100.00") and sparse["PrivateNote"] == "note" and sparse["DueDate"] == "2031-01-01"
    new_lines = [{"Amount": 30, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}}},
                 {"Amount": 20, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}}}]
    full = api.create("Invoice", {"Id": invoice["Id"], "SyncToken": "1", "CustomerRef": {"value": customer["Id"]}, "Line": new_lines})
    assert full["TotalAmt"] == Decimal("50.00") and len(full["Line"]) == 3
    assert "PrivateNote" not in full  # omitted on a full update: reset
    assert full["DocNumber"] == invoice["DocNumber"]


def test_void_and_delete_invoice(api):
    customer = api.customer("Void Co")
    item = api.item("Void item")
    voided = api.invoice(customer, item, "80.00")
    response = api.post("invoice", {"Id": voided["Id"], "SyncToken": "0"}, operation="void")
    body = loads(response.text)["Invoice"]
    assert body["TotalAmt"] == 0 and body["Balance"] == 0 and body["PrivateNote"] == "Voided" and body["SyncToken"] == "1"

    deleted = api.invoice(customer, item, "60.00")
    response = api.post("invoice", {"Id": deleted["Id"], "SyncToken": "0"}, operation="delete")
    assert loads(response.text)["Invoice"] == {"domain": "QBO", "status": "Deleted", "Id": deleted["Id"]}
    assert api.fault(api.get(f"invoice/{deleted['Id']}"))["code"] == "610"
    assert api.balance(customer) == 0


def test_deleting_a_paid_invoice_leaves_the_payment_unapplied(api):
    customer = api.customer("Unlink Co")
    item = api.item("Unlink item")
    invoice = api.invoice(customer, item, "50.00")
    payment = loads(api.payment(customer, "50.00", [("Invoice", invoice["Id"], "50.00")]).text)["Payment"]
    api.post("invoice", {"Id": invoice["Id"], "SyncToken": api.read("Invoice", invoice["Id"])["SyncToken"]}, operation="delete")
    after = api.read("Payment", payment["Id"])
    assert after["Line"] == [] and after["UnappliedAmt"] == Decimal("50.00")
    assert api.balance(customer) == Decimal("-50.00")


@pytest.mark.parametrize("line", [
    {"Amount": 10, "DetailType": "GroupLineDetail", "GroupLineDetail": {}},
    {"Amount": 10, "SalesItemLineDetail": {}, "DiscountLineDetail": {}},
])
def test_unsupported_or_ambiguous_line_types(api, line):
    customer = api.customer(f"Line type {len(line)}")
    assert api.fault(api.post("invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [line]}))["code"] in ("2170", "2020", "2010")


def test_discount_line_reduces_total(api):
    customer = api.customer("Discount Co")
    item = api.item("Discount item")
    invoice = api.create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [
        {"Amount": 200, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}}},
        {"DetailType": "DiscountLineDetail", "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": 10}},
    ]})
    assert invoice["TotalAmt"] == Decimal("180.00")
    assert [line["DetailType"] for line in invoice["Line"]] == ["SalesItemLineDetail", "SubTotalLineDetail", "DiscountLineDetail"]
