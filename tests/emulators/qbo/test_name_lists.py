"""Customer, Item and Account: QBO's validation, defaults, updates and deactivation."""
from decimal import Decimal

import pytest

from emulators.qbo.money import loads

# The body python-quickbooks 0.9.12 sends for `Customer(); c.DisplayName = "Acme"` (qbo-sample-payloads).
PYTHON_QUICKBOOKS_CUSTOMER = {
    "Active": True, "Balance": 0, "BalanceWithJobs": 0, "BillWithParent": False, "CompanyName": "",
    "DisplayName": "Acme", "FamilyName": "", "FullyQualifiedName": "", "GivenName": "", "IsProject": False,
    "Job": False, "Level": 0, "MiddleName": "", "Notes": "", "OpenBalanceDate": "", "PreferredDeliveryMethod": "",
    "PrimaryTaxIdentifier": "", "PrintOnCheckName": "", "ResaleNum": "", "Suffix": "", "SyncToken": 0,
    "Taxable": True, "Title": "", "domain": "QBO", "sparse": False,
}


def test_customer_create_accepts_python_quickbooks_defaults_and_fills_qbo_defaults(api):
    customer = api.create("Customer", PYTHON_QUICKBOOKS_CUSTOMER)
    assert customer["DisplayName"] == customer["FullyQualifiedName"] == customer["PrintOnCheckName"] == "Acme"
    assert customer["SyncToken"] == "0" and isinstance(customer["Id"], str)
    assert customer["Balance"] == 0 and customer["BalanceWithJobs"] == 0
    assert customer["CurrencyRef"] == {"value": "USD", "name": "United States Dollar"}
    assert customer["PreferredDeliveryMethod"] == "Print"
    assert customer["Active"] is True and customer["Job"] is False
    assert customer["domain"] == "QBO" and customer["sparse"] is False
    assert set(customer["MetaData"]) == {"CreateTime", "LastUpdatedTime"}
    for empty in ("GivenName", "Notes", "OpenBalanceDate", "Title", "CompanyName"):
        assert empty not in customer  # unset fields are omitted, never "" or null


def test_duplicate_display_name_is_6240_case_insensitive(api):
    api.customer("Acme Ltd (FB-1)")
    for name in ("Acme Ltd (FB-1)", "ACME LTD (fb-1)"):
        error = api.fault(api.post("customer", {"DisplayName": name}))
        assert error == {"Message": "Duplicate Name Exists Error", "Detail": "The name supplied already exists. : null", "code": "6240"}


def test_no_name_at_all_is_6080(api):
    error = api.fault(api.post("customer", {**PYTHON_QUICKBOOKS_CUSTOMER, "DisplayName": ""}))
    assert error["code"] == "6080"
    assert "one of these must be non-empty" in error["Detail"]


def test_display_name_derived_from_name_parts(api):
    customer = api.create("Customer", {"GivenName": "Jane", "FamilyName": "Doe"})
    assert customer["DisplayName"] == "Jane Doe"


def test_colon_and_length_limits(api):
    assert api.fault(api.post("customer", {"DisplayName": "Parent:Child"}))["code"] == "2040"  # issue #7
    too_long = api.fault(api.post("customer", {"DisplayName": "x" * 501}))
    assert too_long["code"] == "2050" and too_long["element"] == "DisplayName"
    assert api.fault(api.post("customer", {"DisplayName": "ok", "GivenName": "g" * 26}))["element"] == "GivenName"
    assert api.fault(api.post("customer", {"DisplayName": "ok2", "Notes": "n" * 1025}))["element"] == "Notes"
    assert api.customer("ok3", Notes="n" * 1024)["Notes"] == "n" * 1024


def test_unknown_top_level_property_is_2010(api):
    error = api.fault(api.post("invoice", {"BadJson": True}))
    assert error["code"] == "2010" and 'Unrecognized field "BadJson"' in error["Detail"]


def test_full_update_resets_omitted_fields_and_sparse_keeps_them(api):
    customer = api.customer("Jack Moe", PrimaryPhone={"FreeFormNumber": "(415) 444-1234"}, Notes="vip")
    sparse = api.create("Customer", {"Id": customer["Id"], "SyncToken": customer["SyncToken"], "sparse": True, "Notes": "changed"})
    assert sparse["SyncToken"] == "1" and sparse["Notes"] == "changed"
    assert sparse["PrimaryPhone"] == {"FreeFormNumber": "(415) 444-1234"}
    full = api.create("Customer", {"Id": customer["Id"], "SyncToken": "1", "DisplayName": "Jack Moe Jr"})
    assert full["SyncToken"] == "2"
    assert "PrimaryPhone" not in full and "Notes" not in full
    assert full["PrintOnCheckName"] == full["FullyQualifiedName"] == "Jack Moe Jr"
    assert full["MetaData"]["CreateTime"] == customer["MetaData"]["CreateTime"]


def test_stale_sync_token_is_5010(api):
    customer = api.customer("Stale Co")
    api.create("Customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Notes": "first"})
    error = api.fault(api.post("customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Notes": "second"}))
    assert error["code"] == "5010" and error["Message"] == "Stale Object Error"
    assert error["Detail"].startswith("Stale Object Error : You and ")


def test_balance_is_read_only_except_as_opening_balance(api):
    customer = api.customer("Opening Co", Balance=Decimal("250.00"))
    assert Decimal(customer["Balance"]) == Decimal("250.00")
    updated = api.create("Customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Balance": 5})
    assert Decimal(updated["Balance"]) == Decimal("250.00")


def test_deactivated_customer_is_renamed_and_cannot_be_used(api):
    customer = api.customer("Gone Co")
    item = api.item("Gone item")
    inactive = api.create("Customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    assert inactive["Active"] is False and inactive["DisplayName"] == "Gone Co (deleted)"
    error = api.fault(api.post("invoice", {"CustomerRef": {"value": customer["Id"]},
                                           "Line": [{"Amount": 10, "DetailType": "SalesItemLineDetail",
                                                     "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}}}]}))
    assert error["code"] == "610" and "made inactive" in error["Detail"]
    assert api.customer("Gone Co")["DisplayName"] == "Gone Co"  # the name is free again
    assert api.read("Customer", customer["Id"])["Active"] is False  # reads still find it


def test_name_lists_cannot_be_deleted(api):
    customer = api.customer("Keep Co")
    error = api.fault(api.post("customer", {"Id": customer["Id"], "SyncToken": "0"}, operation="delete"))
    assert error["code"] == "500"


def test_foreign_currency_customer_needs_multicurrency(api):
    error = api.fault(api.post("customer", {"DisplayName": "Euro Co", "CurrencyRef": {"value": "EUR"}}))
    assert error["code"] == "6000"


def test_read_errors(api):
    missing = api.get("customer/99999")
    assert api.fault(missing)["code"] == "610"
    invalid = api.get("customer/1.5")
    body = loads(invalid.text)
    assert invalid.status_code == 400 and "time" not in body
    assert body["Fault"]["Error"][0] == {"Message": "Invalid ID", "Detail": "Id should be a valid number. Supplied value:1.5", "code": "2030", "element": "Id"}
    unknown = api.get("customer/1/5")
    assert api.fault(unknown)["code"] == "500" and api.fault(unknown)["Message"] == "Unsupported Operation"


def test_item_rules(api):
    error = api.fault(api.post("item", {"Name": "", "Type": "Service"}))
    assert error == {"Message": "Required param missing, need to supply the required value for the API",
                     "Detail": "Required parameter Name is missing in the request", "code": "2020", "element": "Name"}
    assert api.fault(api.post("item", {"Name": "No income", "Type": "Service"}))["code"] == "2020"
    assert api.fault(api.post("item", {"Name": "Bad ref", "Type": "Service", "IncomeAccountRef": {"value": "9999"}}))["code"] == "2500"
    assert api.fault(api.post("item", {"Name": "Bad type", "Type": "Gadget"}))["code"] == "2170"
    assert api.fault(api.post("item", {"Name": "x" * 101, "Type": "Service"}))["code"] == "2050"
    deferred = api.account("Deferred Revenue", "Other Current Liability", "DeferredRevenue")
    item = api.create("Item", {"Name": "Fusebill Charges", "Type": "Service", "IncomeAccountRef": {"value": deferred["Id"], "name": "", "type": ""},
                               "Taxable": False, "UnitPrice": 0})
    assert item["IncomeAccountRef"] == {"value": deferred["Id"], "name": "Deferred Revenue"}
    assert item["FullyQualifiedName"] == "Fusebill Charges" and item["Type"] == "Service"
    assert api.fault(api.post("item", {"Name": "fusebill charges", "Type": "Service", "IncomeAccountRef": {"value": deferred["Id"]}}))["code"] == "6240"


def test_item_with_inactive_income_account_is_610(api):
    account = api.account("Old income", "Income")
    api.create("Account", {"Id": account["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    error = api.fault(api.post("item", {"Name": "Uses old", "Type": "Service", "IncomeAccountRef": {"value": account["Id"]}}))
    assert error["code"] == "610"


def test_account_rules(api):
    account = api.account("Deferred Revenue", "Other Current Liability", "DeferredRevenue")
    assert account["Classification"] == "Liability" and account["AccountSubType"] == "DeferredRevenue"
    assert account["CurrentBalance"] == 0 and account["CurrencyRef"]["value"] == "USD"
    assert api.fault(api.post("account", {"Name": "", "AccountType": "Bank"}))["code"] == "2020"
    assert api.fault(api.post("account", {"Name": "deferred revenue", "AccountType": "Income"}))["code"] == "6240"
    assert api.fault(api.post("account", {"Name": "Mismatch", "AccountType": "Bank", "AccountSubType": "DeferredRevenue"}))["code"] == "6010"
    assert api.fault(api.post("account", {"Name": "Weird", "AccountType": "Piggy Bank"}))["code"] == "2170"
    derived = api.create("Account", {"Name": "Bad debts", "AccountSubType": "BadDebts", "AccountType": None})
    assert derived["AccountType"] == "Expense" and derived["Classification"] == "Expense"
    defaulted = api.create("Account", {"Name": "Ops bank", "AccountType": "Bank", "AccountSubType": ""})
    assert defaulted["AccountSubType"] == "Checking"


def test_default_chart_of_a_new_company(api):
    names = {row["Name"]: row for row in api.query("select * from Account maxresults 1000")["Account"]}
    for name in ("Accounts Receivable (A/R)", "Undeposited Funds", "Checking", "Savings", "Accounts Payable (A/P)",
                 "Opening Balance Equity", "Retained Earnings", "Services", "Discounts given", "Uncategorized Income",
                 "Uncategorized Expense", "Cost of Goods Sold"):
        assert name in names, name
    assert names["Accounts Receivable (A/R)"]["AccountType"] == "Accounts Receivable"
    assert not any("Deferred" in name for name in names)


@pytest.mark.parametrize("field,value", [("TxnDate", "2024-13-40"), ("Line", "not a list")])
def test_malformed_values_are_refused(api, field, value):
    customer = api.customer(f"Malformed {field}")
    item = api.item(f"Malformed item {field}")
    body = {"CustomerRef": {"value": customer["Id"]},
            "Line": [{"Amount": 1, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}}}]}
    body[field] = value
    assert api.fault(api.post("invoice", body))["code"] == "2010"
