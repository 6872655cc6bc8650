"""Company set-ups that change QBO's rules: sales tax modes, multicurrency, preferences, auto-apply credits."""
from decimal import Decimal

import pytest

from emulators.qbo.money import loads
from tests.emulators.qbo.conftest import make_api


def sales_line(item: dict, amount: str, tax_code: str | None = None) -> dict:
    detail = {"ItemRef": {"value": item["Id"]}}
    if tax_code is not None:
        detail["TaxCodeRef"] = {"value": tax_code}
    return {"Amount": Decimal(amount), "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": detail}


def test_no_sales_tax_company(api):
    prefs = loads(api.get("preferences").text)["Preferences"]
    assert prefs["TaxPrefs"]["UsingSalesTax"] is False
    customer, item = api.customer("Tax-free Co"), api.item("Tax-free item")
    invoice = api.create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [sales_line(item, "100")],
                                     "TxnTaxDetail": {"TotalTax": 7}})
    assert invoice["TxnTaxDetail"] == {"TotalTax": 0} and invoice["TotalAmt"] == Decimal("100.00")


def test_us_automated_sales_tax(emulator):
    api = make_api(emulator, tax="us_automated")
    prefs = loads(api.get("preferences").text)["Preferences"]
    assert prefs["TaxPrefs"]["UsingSalesTax"] is True and prefs["TaxPrefs"]["PartnerTaxEnabled"] is True
    codes = api.query("select * from TaxCode")
    pseudo = {row["Id"]: row for row in codes["TaxCode"] if row["Id"] in ("TAX", "NON")}
    assert pseudo["TAX"] == {"TaxGroup": False, "Name": "TAX", "Taxable": True, "Description": "TAX", "Id": "TAX",
                             "MetaData": pseudo["TAX"]["MetaData"]}
    assert codes["totalCount"] == len(codes["TaxCode"])

    customer, item = api.customer("AST Co"), api.item("AST item")
    taxed = api.create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [sales_line(item, "100")]})
    assert taxed["TxnTaxDetail"]["TotalTax"] == Decimal("8.25") and taxed["TotalAmt"] == Decimal("108.25")
    assert taxed["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"] == {"value": "TAX"}
    tax_line = taxed["TxnTaxDetail"]["TaxLine"][0]["TaxLineDetail"]
    assert tax_line["TaxPercent"] == Decimal("8.25") and tax_line["NetAmountTaxable"] == Decimal("100.00")

    untaxed = api.create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [sales_line(item, "100", "NON"), sales_line(item, "5.55", "NON")]})
    assert untaxed["TxnTaxDetail"] == {"TotalTax": 0} and untaxed["TotalAmt"] == Decimal("105.55")

    explicit = api.create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [sales_line(item, "100")],
                                      "TxnTaxDetail": {"TotalTax": Decimal("7.13")}})
    assert explicit["TxnTaxDetail"]["TotalTax"] == Decimal("7.13") and explicit["TotalAmt"] == Decimal("107.13")

    rounding = api.create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [sales_line(item, "10.06")]})
    assert rounding["TxnTaxDetail"]["TotalTax"] == Decimal("0.83")  # 0.82995 rounded half-up


def test_us_automated_rate_is_configurable(emulator):
    api = make_api(emulator, tax="us_automated", us_sales_tax_rate_percent="5")
    customer, item = api.customer("Five Co"), api.item("Five item")
    invoice = api.create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [sales_line(item, "100")]})
    assert invoice["TotalAmt"] == Decimal("105.00")


@pytest.mark.parametrize("country,wording", [("CA", "GST/HST rate"), ("GB", "VAT rate"), ("AU", "GST rate")])
def test_non_us_tax_codes_are_required_on_every_line(emulator, country, wording):
    api = make_api(emulator, country=country, tax="codes")
    customer, item = api.customer("Codes Co"), api.item("Codes item")
    code = api.query("select * from TaxCode")["TaxCode"][0]["Id"]
    error = api.fault(api.post("invoice", {"CustomerRef": {"value": customer["Id"]},
                                           "Line": [sales_line(item, "10", code), sales_line(item, "10")]}))
    assert error["code"] == "6000" and wording in error["Detail"] and error["Detail"].startswith("Business Validation Error: Make sure all your transactions have a")
    assert api.fault(api.post("invoice", {"CustomerRef": {"value": customer["Id"]},
                                          "Line": [sales_line(item, "10", "4242")]}))["code"] == "2500"


def test_canadian_codes_compute_tax_and_explicit_tax_lines_are_kept(emulator):
    api = make_api(emulator, country="CA", tax="codes")
    codes = {row["Name"]: row for row in api.query("select * from TaxCode")["TaxCode"]}
    assert {"GST", "HST ON", "QST", "PST BC", "Exempt", "Zero-rated"} <= set(codes)
    rates = {row["Name"]: row for row in api.query("select * from TaxRate")["TaxRate"]}
    assert rates["HST ON"]["RateValue"] == 13
    customer, item = api.customer("Maple Co"), api.item("Maple item")
    assert customer["CurrencyRef"]["value"] == "CAD"

    computed = api.create("Invoice", {"CustomerRef": {"value": customer["Id"]},
                                      "Line": [sales_line(item, "100", codes["HST ON"]["Id"]), sales_line(item, "50", codes["Exempt"]["Id"])]})
    assert computed["TxnTaxDetail"]["TotalTax"] == Decimal("13.00") and computed["TotalAmt"] == Decimal("163.00")

    explicit = api.create("Invoice", {
        "CustomerRef": {"value": customer["Id"]}, "Line": [sales_line(item, "100", codes["GST"]["Id"])],
        "TxnTaxDetail": {"TotalTax": Decimal("4.99"), "TaxLine": [{"Amount": Decimal("4.99"), "DetailType": "TaxLineDetail", "TaxLineDetail": {
            "TaxRateRef": {"value": rates["GST"]["Id"]}, "PercentBased": True, "TaxPercent": 5, "NetAmountTaxable": 100}}]},
    })
    assert explicit["TxnTaxDetail"]["TotalTax"] == Decimal("4.99") and explicit["TotalAmt"] == Decimal("104.99")
    assert explicit["TxnTaxDetail"]["TaxLine"][0]["Amount"] == Decimal("4.99")


def test_company_info_and_preferences_shapes(emulator):
    api = make_api(emulator, name="Larry's Bakery", country="GB", multicurrency=True, auto_apply_credits=True)
    info = loads(api.get(f"companyinfo/{api.realm_id}").text)["CompanyInfo"]
    assert info["Id"] == "1" and info["CompanyName"] == "Larry's Bakery" and info["Country"] == "GB"
    assert info["LegalAddr"]["Country"] == "GB" and all(isinstance(nv["Value"], str) for nv in info["NameValue"])
    assert api.fault(api.get("companyinfo/12345"))["code"] == "610"
    prefs = loads(api.get("preferences").text)["Preferences"]
    assert prefs["CurrencyPrefs"] == {"HomeCurrency": {"value": "GBP"}, "MultiCurrencyEnabled": True}
    assert prefs["SalesFormsPrefs"]["AutoApplyCredit"] is True and prefs["Id"] == "1"
    emulator.set_preferences(api.realm_id, auto_apply_credits=False)
    again = loads(api.get("preferences").text)["Preferences"]
    assert again["SalesFormsPrefs"]["AutoApplyCredit"] is False and again["SyncToken"] == "1"


def test_multicurrency_documents(emulator):
    api = make_api(emulator, multicurrency=True)
    euro = api.customer("Euro GmbH", CurrencyRef={"value": "EUR"})
    assert euro["CurrencyRef"] == {"value": "EUR", "name": "Euro"}
    item = api.item("Euro item")
    eur, usd = {"value": "EUR"}, {"value": "USD"}
    omitted = api.create("Invoice", {"CustomerRef": {"value": euro["Id"]}, "CurrencyRef": eur, "Line": [sales_line(item, "100")]})
    assert omitted["ExchangeRate"] == 1 and omitted["CurrencyRef"]["value"] == "EUR"  # QBO stores 1 when omitted
    given = api.create("Invoice", {"CustomerRef": {"value": euro["Id"]}, "CurrencyRef": eur, "Line": [sales_line(item, "100")], "ExchangeRate": Decimal("1.0842")})
    assert given["HomeTotalAmt"] == Decimal("108.42")
    credit = api.create("CreditMemo", {"CustomerRef": {"value": euro["Id"]}, "CurrencyRef": eur, "Line": [sales_line(item, "10")], "ExchangeRate": 1})
    assert credit["ExchangeRate"] == 1
    mismatch = api.fault(api.post("invoice", {"CustomerRef": {"value": euro["Id"]}, "CurrencyRef": {"value": "USD"}, "Line": [sales_line(item, "1")]}))
    assert mismatch["code"] == "6000"
    accounts = {row["Name"]: row for row in api.query("select * from Account where AccountType = 'Accounts Receivable'")["Account"]}
    assert accounts["Accounts Receivable (A/R) - EUR"]["CurrencyRef"]["value"] == "EUR"
    assert accounts["Accounts Receivable (A/R) - EUR"]["CurrentBalance"] == Decimal("190.00")
    home = api.customer("Home Inc")
    assert home["CurrencyRef"]["value"] == "USD"
    assert api.create("Invoice", {"CustomerRef": {"value": home["Id"]}, "CurrencyRef": usd, "Line": [sales_line(item, "5")]})["ExchangeRate"] == 1


def test_exchange_rates_are_deterministic_and_overridable(emulator):
    api = make_api(emulator, multicurrency=True)
    first = loads(api.get("exchangerate", sourcecurrencycode="EUR", asofdate="2024-01-31").text)["ExchangeRate"]
    second = loads(api.get("exchangerate", sourcecurrencycode="EUR", asofdate="2024-01-31").text)["ExchangeRate"]
    other_day = loads(api.get("exchangerate", sourcecurrencycode="EUR", asofdate="2024-02-01").text)["ExchangeRate"]
    assert first["Rate"] == second["Rate"] and first["Rate"] != other_day["Rate"]
    assert first["SourceCurrencyCode"] == "EUR" and first["TargetCurrencyCode"] == "USD" and "Id" not in first
    assert set(first["MetaData"]) == {"LastUpdatedTime"}
    assert Decimal("1.0") < first["Rate"] < Decimal("1.2")
    assert api.fault(api.get("exchangerate", sourcecurrencycode="USD"))["code"] == "6000"
    emulator.set_exchange_rate(api.realm_id, "EUR", "2024-01-31", "1.1111")
    assert loads(api.get("exchangerate", sourcecurrencycode="EUR", asofdate="2024-01-31").text)["ExchangeRate"]["Rate"] == Decimal("1.1111")


def test_auto_apply_credits_links_open_credits_to_a_new_invoice(emulator):
    api = make_api(emulator, auto_apply_credits=True)
    customer, item = api.customer("Auto Co"), api.item("Auto item")
    old_credit = api.credit_memo(customer, item, "30.00", TxnDate="2024-01-01")
    new_credit = api.credit_memo(customer, item, "50.00", TxnDate="2024-02-01")
    invoice = api.invoice(customer, item, "60.00")
    assert invoice["Balance"] == 0  # QBO applied the credits itself
    assert api.read("CreditMemo", old_credit["Id"])["RemainingCredit"] == 0
    assert api.read("CreditMemo", new_credit["Id"])["RemainingCredit"] == Decimal("20.00")
    payments = api.query(f"select * from Payment where CustomerRef = '{customer['Id']}'")["Payment"]
    assert len(payments) == 1
    assert payments[0]["TotalAmt"] == 0 and payments[0]["PrivateNote"] == "Created by QB Online to link credits to charges"
    assert api.balance(customer) == Decimal("-20.00")


def test_auto_apply_off_by_default_and_unapplied_payments(emulator):
    off = make_api(emulator)
    customer, item = off.customer("Manual Co"), off.item("Manual item")
    off.credit_memo(customer, item, "10.00")
    assert off.invoice(customer, item, "60.00")["Balance"] == Decimal("60.00")

    on = make_api(emulator, auto_apply_credits=True)
    customer, item = on.customer("Prepaid Co"), on.item("Prepaid item")
    prepayment = loads(on.payment(customer, "25.00").text)["Payment"]
    invoice = on.invoice(customer, item, "40.00")
    assert invoice["Balance"] == Decimal("15.00")
    updated = on.read("Payment", prepayment["Id"])
    assert updated["UnappliedAmt"] == 0 and updated["SyncToken"] == "1"


def test_exchange_rate_query_for_a_date(emulator):
    api = make_api(emulator, multicurrency=True)
    rows = api.query("select * from exchangerate where sourcecurrencycode in ('EUR', 'INR') and asofdate = '2015-07-07'")
    assert {row["SourceCurrencyCode"] for row in rows["ExchangeRate"]} == {"EUR", "INR"}
    assert all(row["AsOfDate"] == "2015-07-07" and "domain" not in row for row in rows["ExchangeRate"])
    assert rows["totalCount"] == 2


def test_customer_currency_is_fixed_once_it_has_transactions(emulator):
    api = make_api(emulator, multicurrency=True)
    customer, item = api.customer("Fixed Currency"), api.item("Fixed item")
    changed = api.create("Customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "CurrencyRef": {"value": "GBP"}})
    assert changed["CurrencyRef"]["value"] == "GBP"
    api.invoice(changed, item, "1.00", CurrencyRef={"value": "GBP"})
    error = api.fault(api.post("customer", {"Id": customer["Id"], "SyncToken": "1", "sparse": True, "CurrencyRef": {"value": "EUR"}}))
    assert error["code"] == "6000"


def test_sub_customers_roll_up_into_balance_with_jobs(api):
    parent, item = api.customer("Parent Co"), api.item("Job item")
    job = api.customer("Kitchen job", ParentRef={"value": parent["Id"]})
    assert job["Job"] is True and job["FullyQualifiedName"] == "Parent Co:Kitchen job" and job["Level"] == 1
    api.invoice(job, item, "30.00")
    api.invoice(parent, item, "5.00")
    parent_now = api.read("Customer", parent["Id"])
    assert parent_now["Balance"] == Decimal("5.00") and parent_now["BalanceWithJobs"] == Decimal("35.00")
