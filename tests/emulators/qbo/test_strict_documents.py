"""Issue #7: the emulator refuses what QBO refuses (rules.py, section "Strict documents").

Tax overrides that disagree with the lines, writes into closed books, DocNumbers reused across types,
deactivating a customer that owes money, payments without TotalAmt or with a wrong JE line, moving a
paid document to another customer, and multicurrency documents without CurrencyRef or with a
non-positive ExchangeRate.
"""
from decimal import Decimal

import pytest

from emulators.qbo import rules
from emulators.qbo.money import loads
from emulators.qbo.testing import EmulatorControlError
from tests.emulators.qbo.conftest import make_api

BUSINESS = "A business validation error has occurred while processing your request"
REQUIRED = "Required param missing, need to supply the required value for the API"


def sales_line(item: dict, amount: str, tax_code: str | None = None) -> dict:
    detail = {"ItemRef": {"value": item["Id"]}}
    if tax_code is not None:
        detail["TaxCodeRef"] = {"value": tax_code}
    return {"Amount": Decimal(amount), "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": detail}


def tax_line(rate: dict, amount: str, percent=None) -> dict:
    detail = {"TaxRateRef": {"value": rate["Id"]}, "PercentBased": True, "NetAmountTaxable": 100}
    if percent is not None:
        detail["TaxPercent"] = percent
    return {"Amount": Decimal(amount), "DetailType": "TaxLineDetail", "TaxLineDetail": detail}


def je_line(posting: str, account: dict, amount: str, customer: dict | None = None) -> dict:
    detail = {"PostingType": posting, "AccountRef": {"value": account["Id"]}}
    if customer is not None:
        detail["Entity"] = {"Type": "Customer", "EntityRef": {"value": customer["Id"]}}
    return {"Amount": Decimal(amount), "DetailType": "JournalEntryLineDetail", "JournalEntryLineDetail": detail}


def journal_body(api, customer: dict, amount: str, **fields) -> dict:
    """Line 0: Cr income; line 1: Dr A/R for `customer` (so the A/R line is not line 0)."""
    income = api.account_named("Services")
    receivable = api.account_named("Accounts Receivable (A/R)")
    return {"Line": [je_line("Credit", income, amount), je_line("Debit", receivable, amount, customer)], **fields}


def assert_fault(error: dict, code: str, detail: str, message: str | None = None) -> None:
    assert error["code"] == code and error["Detail"] == detail, error
    if message is not None:
        assert error["Message"] == message, error


def sparse(doc: dict, **fields) -> dict:
    return {"Id": doc["Id"], "SyncToken": doc["SyncToken"], "sparse": True, **fields}


# ---- 2. tax overrides --------------------------------------------------------------------------------

@pytest.fixture
def canada(emulator):
    api = make_api(emulator, country="CA", tax="codes")
    codes = {row["Name"]: row["Id"] for row in api.query("select * from TaxCode")["TaxCode"]}
    rates = {row["Name"]: row for row in api.query("select * from TaxRate")["TaxRate"]}
    return api, api.customer("Maple Co"), api.item("Maple item"), codes, rates


def test_tax_overrides_must_agree_with_the_lines_tax_codes(canada):
    api, customer, item, codes, rates = canada

    def invoice(code: str, *tax_lines: dict, total=None):
        detail: dict = {"TaxLine": list(tax_lines)}
        if total is not None:
            detail["TotalTax"] = Decimal(total)
        return api.post("invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [sales_line(item, "100", codes[code])],
                                    "TxnTaxDetail": detail})

    assert_fault(api.fault(invoice("GST", tax_line(rates["QST"], "9.98"))), "6000",
                 rules.TAX_RATE_NOT_ON_LINES_DETAIL.format(rate="QST"), BUSINESS)
    assert_fault(api.fault(invoice("GST", tax_line(rates["GST"], "5.00"), total="3")), "6000",
                 rules.TAX_TOTAL_MISMATCH_DETAIL.format(total="3.00", lines="5.00"))
    assert_fault(api.fault(invoice("GST", tax_line(rates["GST"], "7.00", percent=7))), "6000",
                 rules.TAX_PERCENT_MISMATCH_DETAIL.format(sent=7, rate="GST", expected=5))
    assert_fault(api.fault(invoice("GST", tax_line(rates["GST"], "2.50"), tax_line(rates["GST"], "2.50"))), "6000",
                 rules.TAX_RATE_TWICE_DETAIL.format(rate="GST"))
    no_rate = {"Amount": 5, "DetailType": "TaxLineDetail", "TaxLineDetail": {"PercentBased": True}}
    assert_fault(api.fault(invoice("GST", no_rate)), "2020",
                 "Required parameter TxnTaxDetail.TaxLine.TaxLineDetail.TaxRateRef is missing in the request", REQUIRED)
    assert_fault(api.fault(invoice("GST/QST QC", tax_line(rates["GST"], "5.00"))), "6000",
                 rules.TAX_RATE_WITHOUT_LINE_DETAIL.format(rate="QST"))
    assert api.query("select count(*) from Invoice")["totalCount"] == 0

    kept = loads(invoice("GST/QST QC", tax_line(rates["GST"], "5.00", 5), tax_line(rates["QST"], "9.97", "9.975"), total="14.97").text)["Invoice"]
    assert kept["TxnTaxDetail"]["TotalTax"] == Decimal("14.97") and kept["TotalAmt"] == Decimal("114.97")
    assert [line["Amount"] for line in kept["TxnTaxDetail"]["TaxLine"]] == [Decimal("5.00"), Decimal("9.97")]


def test_canadian_combined_codes_carry_one_tax_line_per_rate(canada):
    api, customer, item, codes, rates = canada
    assert {"GST/QST QC", "GST/PST BC", "HST ON", "HST NB", "HST NL", "HST NS", "HST PE"} <= set(codes)
    quebec = api.read("TaxCode", codes["GST/QST QC"])
    assert [d["TaxRateRef"]["value"] for d in quebec["SalesTaxRateList"]["TaxRateDetail"]] == [rates["GST"]["Id"], rates["QST"]["Id"]]

    invoice = api.create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [
        sales_line(item, "100", codes["GST/QST QC"]), sales_line(item, "100", codes["GST/PST BC"])]})
    by_rate = {line["TaxLineDetail"]["TaxRateRef"]["value"]: line for line in invoice["TxnTaxDetail"]["TaxLine"]}
    assert by_rate[rates["GST"]["Id"]]["Amount"] == Decimal("10.00")  # GST from both codes, one TaxLine
    assert by_rate[rates["GST"]["Id"]]["TaxLineDetail"]["NetAmountTaxable"] == Decimal("200.00")
    assert by_rate[rates["QST"]["Id"]]["Amount"] == Decimal("9.98")  # 9.975 rounded half-up
    assert by_rate[rates["PST BC"]["Id"]]["Amount"] == Decimal("7.00")
    assert invoice["TxnTaxDetail"]["TotalTax"] == Decimal("26.98") and invoice["TotalAmt"] == Decimal("226.98")
    ledger = api.emulator.ledger(api.realm_id)
    assert Decimal(str(ledger["QST Payable"]["Balance"])) == Decimal("-9.98")


def test_us_automated_sales_tax_lines_take_only_tax_or_non(emulator):
    api = make_api(emulator, tax="us_automated")
    customer, item = api.customer("AST Co"), api.item("AST item")
    group_code = loads(api.get("preferences").text)["Preferences"]["TaxPrefs"]["TaxGroupCodeRef"]["value"]
    for code in (group_code, "EXEMPT"):
        error = api.fault(api.post("invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [sales_line(item, "10", code)]}))
        assert_fault(error, "6000", rules.AST_LINE_TAX_CODE_DETAIL.format(code=code.upper()), BUSINESS)
    mismatch = api.fault(api.post("invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [sales_line(item, "100")],
                                              "TxnTaxDetail": {"TotalTax": 3, "TaxLine": [{"Amount": 5, "DetailType": "TaxLineDetail"}]}}))
    assert_fault(mismatch, "6000", rules.TAX_TOTAL_MISMATCH_DETAIL.format(total="3.00", lines="5.00"))
    assert api.create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [sales_line(item, "10", "non")]})["TotalAmt"] == Decimal("10.00")


# ---- 3. closed books ------------------------------------------------------------------------------------

def test_closed_books_refuse_writes_dated_on_or_before_the_closing_date(api, emulator):
    customer, item = api.customer("Closed Co"), api.item("Closed item")
    checking = api.account_named("Checking")
    old_invoice = api.invoice(customer, item, "100.00", TxnDate="2024-01-15")
    old_payment = loads(api.payment(customer, "10.00", TxnDate="2024-01-20").text)["Payment"]
    old_journal = api.create("JournalEntry", journal_body(api, customer, "5.00", TxnDate="2024-01-10"))
    emulator.set_closing_date(api.realm_id, "2024-01-31")
    prefs = loads(api.get("preferences").text)["Preferences"]
    assert prefs["AccountingInfoPrefs"]["BookCloseDate"] == "2024-01-31"

    code, message, detail = rules.CLOSED_PERIOD_FAULT
    closed = {"TxnDate": "2024-01-31"}
    line = sales_line(item, "10")
    refused = [
        api.post("invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [line], **closed}),
        api.post("creditmemo", {"CustomerRef": {"value": customer["Id"]}, "Line": [line], **closed}),
        api.post("refundreceipt", {"CustomerRef": {"value": customer["Id"]}, "Line": [line],
                                   "DepositToAccountRef": {"value": checking["Id"]}, **closed}),
        api.payment(customer, "10.00", **closed),
        api.post("journalentry", journal_body(api, customer, "5.00", **closed)),
        api.post("invoice", sparse(old_invoice, PrivateNote="changed")),                     # update, old date
        api.post("invoice", {**old_invoice, "TxnDate": "2024-02-01"}),                        # moving it out
        api.post("invoice", {"Id": old_invoice["Id"], "SyncToken": "0"}, operation="delete"),
        api.post("invoice", {"Id": old_invoice["Id"], "SyncToken": "0"}, operation="void"),
        api.post("payment", sparse(old_payment, TotalAmt=20)),
        api.post("payment", {"Id": old_payment["Id"], "SyncToken": "0"}, operation="delete"),
        api.post("journalentry", {"Id": old_journal["Id"], "SyncToken": "0"}, operation="delete"),
    ]
    for response in refused:
        assert_fault(api.fault(response), code, detail, message)
    new_invoice = api.invoice(customer, item, "30.00", TxnDate="2024-02-01")
    assert_fault(api.fault(api.post("invoice", sparse(new_invoice, TxnDate="2024-01-31"))), code, detail)  # moving it in

    # A current payment may still apply an invoice dated in the closed period (qbo-accounting-patterns §1).
    assert api.payment(customer, "100.00", [("Invoice", old_invoice["Id"], "100.00")], TxnDate="2024-02-02").status_code == 200
    with pytest.raises(EmulatorControlError):
        emulator.set_closing_date(api.realm_id, "31/01/2024")
    emulator.set_closing_date(api.realm_id, None)
    assert api.post("journalentry", {"Id": old_journal["Id"], "SyncToken": "0"}, operation="delete").status_code == 200
    assert "BookCloseDate" not in loads(api.get("preferences").text)["Preferences"]["AccountingInfoPrefs"]


# ---- 4. DocNumbers across types --------------------------------------------------------------------------

def test_doc_numbers_are_unique_across_types_with_custom_numbers(emulator):
    api = make_api(emulator, custom_txn_numbers=True)
    customer, item = api.customer("Numbers Co"), api.item("Numbers item")
    invoice = api.invoice(customer, item, DocNumber="X-1")

    def duplicate(number: str, txn_type: str, txn_id: str) -> str:
        return rules.DUPLICATE_DOCNUMBER_DETAIL.format(number=number, txn_type=txn_type, txn_id=txn_id)

    memo = api.post("creditmemo", {"CustomerRef": {"value": customer["Id"]}, "Line": [sales_line(item, "5")], "DocNumber": "x-1"})
    assert_fault(api.fault(memo), "6140", duplicate("x-1", "Invoice", invoice["Id"]), "Duplicate Document Number Error")
    journal = api.post("journalentry", journal_body(api, customer, "5.00", DocNumber="X-1"))
    assert_fault(api.fault(journal), "6140", duplicate("X-1", "Invoice", invoice["Id"]))
    # `include=allowduplicatedocnum` is not in the reference, so it changes nothing.
    allowed = api.post("creditmemo", {"CustomerRef": {"value": customer["Id"]}, "Line": [sales_line(item, "5")], "DocNumber": "X-1"},
                       include="allowduplicatedocnum")
    assert api.fault(allowed)["code"] == "6140"

    first_journal = api.create("JournalEntry", journal_body(api, customer, "5.00", DocNumber="J-1"))
    assert_fault(api.fault(api.post("invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [sales_line(item, "5")], "DocNumber": "J-1"})),
                 "6140", duplicate("J-1", "Journal Entry", first_journal["Id"]))
    assert api.create("Invoice", sparse(invoice, DocNumber="X-1", PrivateNote="same number kept"))["DocNumber"] == "X-1"

    plain = make_api(emulator)
    customer, item = plain.customer("Plain Co"), plain.item("Plain item")
    plain.invoice(customer, item, DocNumber="P-1")
    assert plain.credit_memo(customer, item, "5.00", DocNumber="P-1")["DocNumber"] == "P-1"  # preference off
    journal = plain.create("JournalEntry", journal_body(plain, customer, "5.00", DocNumber="PJ-1"))
    again = plain.post("journalentry", journal_body(plain, customer, "5.00", DocNumber="PJ-1"))
    assert_fault(plain.fault(again), "6140", duplicate("PJ-1", "Journal Entry", journal["Id"]))  # JEs: always


# ---- 5. inactive customer with a balance ----------------------------------------------------------------

def test_customer_with_open_balance_cannot_be_made_inactive(api):
    code, message, detail = rules.INACTIVE_WITH_BALANCE_FAULT
    customer, item = api.customer("Owing Co"), api.item("Owing item")
    invoice = api.invoice(customer, item, "40.00")
    customer = api.read("Customer", customer["Id"])
    assert_fault(api.fault(api.post("customer", sparse(customer, Active=False))), code, detail, message)
    full = {key: value for key, value in customer.items() if key not in ("Balance", "BalanceWithJobs")}
    assert_fault(api.fault(api.post("customer", {**full, "Active": False})), code, detail, message)

    parent = api.customer("Parent With Job")
    job = api.customer("Owing job", ParentRef={"value": parent["Id"]})
    api.invoice(job, item, "5.00")
    assert_fault(api.fault(api.post("customer", sparse(parent, Active=False))), code, detail)  # BalanceWithJobs

    assert api.payment(customer, "40.00", [("Invoice", invoice["Id"], "40.00")]).status_code == 200
    assert api.create("Customer", sparse(api.read("Customer", customer["Id"]), Active=False))["Active"] is False


# ---- 6. payments -------------------------------------------------------------------------------------------

def test_payment_total_amount_is_required(api):
    customer, item = api.customer("Total Co"), api.item("Total item")
    invoice = api.invoice(customer, item, "50.00")
    memo = api.credit_memo(customer, item, "50.00")
    missing = "Required parameter TotalAmt is missing in the request"
    # The zero-total application payment an engine might build without TotalAmt:
    error = api.fault(api.payment(customer, None, [("Invoice", invoice["Id"], "50.00"), ("CreditMemo", memo["Id"], "50.00")]))
    assert_fault(error, "2020", missing, REQUIRED)
    assert error["element"] == "TotalAmt"
    payment = loads(api.payment(customer, "0", [("Invoice", invoice["Id"], "50.00"), ("CreditMemo", memo["Id"], "50.00")]).text)["Payment"]
    full_update = {key: value for key, value in payment.items() if key != "TotalAmt"}
    assert_fault(api.fault(api.post("payment", full_update)), "2020", missing)
    assert api.create("Payment", sparse(payment, PrivateNote="sparse keeps the total"))["TotalAmt"] == 0


def test_payment_link_to_a_wrong_journal_line_is_refused(api):
    customer, other = api.customer("JE Co"), api.customer("Other JE Co")
    journal = api.create("JournalEntry", journal_body(api, customer, "30.00"))
    others = api.create("JournalEntry", journal_body(api, other, "30.00"))
    code, message, detail = rules.JE_LINE_LINK_FAULT

    def pay(txn_line_id, target=journal):
        link = {"TxnId": target["Id"], "TxnType": "JournalEntry", "TxnLineId": txn_line_id}
        return api.post("payment", {"CustomerRef": {"value": customer["Id"]}, "TotalAmt": 10, "Line": [{"Amount": 10, "LinkedTxn": [link]}]})

    for line_id, target in (("0", journal), ("7", journal), (2, journal), ("1", others)):  # income line, none, other customer's
        error = api.fault(pay(line_id, target))
        assert_fault(error, code, detail.format(line=line_id, txn_id=target["Id"]), message)
        assert error["element"] == "Line.LinkedTxn.TxnLineId"
    assert api.read("JournalEntry", journal["Id"]) and api.balance(customer) == Decimal("30.00")
    assert pay(1).status_code == 200 and pay(0).status_code == 200  # the A/R line; python-quickbooks' default 0 = not given
    assert api.balance(customer) == Decimal("10.00")


def test_paid_documents_keep_their_customer(api):
    first, second = api.customer("Payer A"), api.customer("Payer B")
    item = api.item("Moved item")
    invoice = api.invoice(first, item, "60.00")
    api.payment(first, "60.00", [("Invoice", invoice["Id"], "60.00")])
    moved = api.post("invoice", sparse(api.read("Invoice", invoice["Id"]), CustomerRef={"value": second["Id"]}))
    assert_fault(api.fault(moved), "6000", rules.LINKED_CUSTOMER_CHANGE_DETAIL.format(txn_type="Invoice", txn_id=invoice["Id"]), BUSINESS)
    assert api.balance(second) == 0 and api.read("Invoice", invoice["Id"])["CustomerRef"]["value"] == first["Id"]

    memo, charge = api.credit_memo(first, item, "20.00"), api.invoice(first, item, "20.00")
    api.payment(first, "0", [("Invoice", charge["Id"], "20.00"), ("CreditMemo", memo["Id"], "20.00")])
    moved_memo = api.post("creditmemo", sparse(api.read("CreditMemo", memo["Id"]), CustomerRef={"value": second["Id"]}))
    assert_fault(api.fault(moved_memo), "6000", rules.LINKED_CUSTOMER_CHANGE_DETAIL.format(txn_type="CreditMemo", txn_id=memo["Id"]))

    journal = api.create("JournalEntry", journal_body(api, first, "15.00"))
    link = {"TxnId": journal["Id"], "TxnType": "JournalEntry", "TxnLineId": "1"}
    api.post("payment", {"CustomerRef": {"value": first["Id"]}, "TotalAmt": 15, "Line": [{"Amount": 15, "LinkedTxn": [link]}]})
    moved_journal = api.post("journalentry", {**journal_body(api, second, "15.00"), "Id": journal["Id"], "SyncToken": journal["SyncToken"]})
    assert_fault(api.fault(moved_journal), "6000", rules.LINKED_CUSTOMER_CHANGE_DETAIL.format(txn_type="JournalEntry", txn_id=journal["Id"]))

    unpaid = api.invoice(first, item, "5.00")
    assert api.create("Invoice", sparse(unpaid, CustomerRef={"value": second["Id"]}))["CustomerRef"]["value"] == second["Id"]


# ---- 10. multicurrency ---------------------------------------------------------------------------------------

def test_multicurrency_documents_need_currency_and_a_positive_rate(emulator):
    api = make_api(emulator, multicurrency=True)
    euro, item = api.customer("Euro SARL", CurrencyRef={"value": "EUR"}), api.item("Euro item")
    checking = api.account_named("Checking")
    line = sales_line(item, "10")
    bodies = {
        "invoice": {"CustomerRef": {"value": euro["Id"]}, "Line": [line]},
        "creditmemo": {"CustomerRef": {"value": euro["Id"]}, "Line": [line]},
        "refundreceipt": {"Line": [line], "DepositToAccountRef": {"value": checking["Id"]}},
        "payment": {"CustomerRef": {"value": euro["Id"]}, "TotalAmt": 10},
        "journalentry": journal_body(api, api.customer("Home Co"), "5.00"),
    }
    for path, body in bodies.items():
        error = api.fault(api.post(path, body))
        assert_fault(error, "2020", "Required parameter CurrencyRef is missing in the request", REQUIRED)
        assert error["element"] == "CurrencyRef"
    eur = {"value": "EUR"}
    for rate in (0, -1, Decimal("-0.5")):
        error = api.fault(api.post("invoice", {**bodies["invoice"], "CurrencyRef": eur, "ExchangeRate": rate}))
        assert_fault(error, "6000", rules.EXCHANGE_RATE_NOT_POSITIVE_DETAIL.format(rate=rate), BUSINESS)
    assert api.fault(api.post("payment", {**bodies["payment"], "CurrencyRef": eur, "ExchangeRate": 0}))["code"] == "6000"
    assert api.create("Invoice", {**bodies["invoice"], "CurrencyRef": eur})["ExchangeRate"] == 1  # omitted: 1 (§9)

    single = make_api(emulator)
    customer, item = single.customer("Single Co"), single.item("Single item")
    memo = {"CustomerRef": {"value": customer["Id"]}, "Line": [sales_line(item, "10")]}
    assert single.create("CreditMemo", {**memo, "ExchangeRate": 0})["TotalAmt"] == Decimal("10.00")  # python-quickbooks default
    assert single.fault(single.post("creditmemo", {**memo, "ExchangeRate": -1}))["code"] == "6000"


def test_exchange_rates_need_a_multicurrency_company(api):
    code, message, detail = rules.EXCHANGE_RATE_WITHOUT_MULTICURRENCY_FAULT
    assert_fault(api.fault(api.get("exchangerate", sourcecurrencycode="EUR")), code, detail, message)
    response = api.post("query", "select * from exchangerate where sourcecurrencycode = 'EUR'")
    assert_fault(api.fault(response), code, detail, message)
