"""Issue #7: the emulator refuses what QBO refuses — non-filterable WHERE / non-sortable ORDERBY, unknown
nested fields, bad characters in names, malformed e-mail addresses, name clashes with vendors and
employees, an A/R income account, and duplicates between the items of one batch (rules.py, section
"Strictness of issue #7")."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest

from emulators.qbo import rules
from emulators.qbo.entities import registry
from emulators.qbo.money import loads

from .conftest import make_api

NOT_QUERYABLE = "QueryValidationError: property '{}' is not queryable"
UNKNOWN_FIELD = re.compile(r'^Property Name:Unrecognized field "(?P<field>[^"]+)" \(class com\.intuit\.schema\.finance\.v3\.'
                           r'(?P<type>\w+)\), not marked as ignorable \(\d+ known properties\)\n specified is unsupported or invalid$')


def sales_line(item: dict, amount: str = "10.00", **extra) -> dict:
    return {"Amount": Decimal(amount), "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}}, **extra}


def query_fault(api, text: str) -> dict:
    error = api.fault(api.post("query", text))
    assert error["Message"] == "Invalid query"
    return error


def test_where_on_a_property_that_is_not_filterable_is_4001(api):
    customer = api.customer("Filterable Co", Notes="fusebill:1", PrimaryEmailAddr={"Address": "billing@filterable.example"})
    item = api.item("Filterable item")
    invoice = api.invoice(customer, item, PrivateNote="fusebill:inv-1", DocNumber="FB-1")
    for text, name in [
        ("select * from Invoice where PrivateNote LIKE '%fusebill%'", "PrivateNote"),
        ("select * from Customer where Notes LIKE '%fusebill%'", "Notes"),
        ("select * from Payment where DocNumber = '1'", "DocNumber"),
        ("select * from Customer where BillAddr.City = 'Ottawa'", "BillAddr.City"),
        ("select * from Invoice where Line.Amount > '1'", "Line.Amount"),
        ("select * from Invoice where Line.SalesItemLineDetail.ItemRef = '1'", "Line.SalesItemLineDetail.ItemRef"),
        ("select * from Invoice where TotalAmt > '1'", "TotalAmt"),
        ("select * from Invoice where BillEmail = 'a@b.example'", "BillEmail"),
        ("select * from Vendor where PrimaryEmailAddr = 'a@b.example'", "PrimaryEmailAddr"),
        ("select * from Account where AcctNum = '1000'", "AcctNum"),
        ("select * from Item where IncomeAccountRef = '1'", "IncomeAccountRef"),
        ("select count(*) from Customer where Active = true and Notes = 'x'", "Notes"),
    ]:
        assert query_fault(api, text)["Detail"] == NOT_QUERYABLE.format(name), text
    batch = loads(api.post("batch", {"BatchItemRequest": [
        {"bId": "q", "Query": "select * from Invoice where PrivateNote = 'x'"}]}).text)["BatchItemResponse"][0]
    assert batch["Fault"]["Error"][0]["code"] == "4001"

    # What the sync engine finds records by stays queryable.
    assert api.query("select * from Customer where DisplayName LIKE 'Filterable%'")["Customer"][0]["Id"] == customer["Id"]
    assert api.query("select * from Customer where DisplayName = 'Filterable Co'")["Customer"][0]["Id"] == customer["Id"]
    assert api.query("select * from Customer where PrimaryEmailAddr = 'billing@filterable.example'")["Customer"][0]["Id"] == customer["Id"]
    assert api.query("select * from Invoice where DocNumber = 'FB-1'")["Invoice"][0]["Id"] == invoice["Id"]
    assert api.query(f"select * from Invoice where CustomerRef = '{customer['Id']}' and TxnDate >= '2000-01-01'")["Invoice"]
    assert api.query(f"select * from Invoice where Id IN ('{invoice['Id']}') and MetaData.LastUpdatedTime >= '2000-01-01T00:00:00Z'")["Invoice"]
    assert api.query("select count(*) from CreditMemo where DocNumber = 'none'") == {"totalCount": 0}
    assert api.query("select count(*) from JournalEntry where DocNumber = 'none'") == {"totalCount": 0}


def test_orderby_on_a_property_that_is_not_sortable_is_4001(api):
    for text, name in [
        ("select * from Invoice orderby CustomerRef", "CustomerRef"),
        ("select * from Customer ORDER BY PrimaryEmailAddr", "PrimaryEmailAddr"),
        ("select * from Payment orderby CustomerRef desc", "CustomerRef"),
        ("select * from Item orderby Type", "Type"),
        ("select * from Invoice orderby TxnDate, PrivateNote", "PrivateNote"),
    ]:
        assert query_fault(api, text)["Detail"] == NOT_QUERYABLE.format(name), text
    for text in ("select * from Invoice orderby TxnDate desc, DocNumber", "select * from Customer ORDER BY DisplayName",
                 "select * from Payment orderby MetaData.LastUpdatedTime", "select * from Item orderby Name"):
        api.query(text)


def test_filterable_and_sortable_tables_name_known_properties():
    for table in (rules.QUERY_FILTERABLE, rules.QUERY_SORTABLE):
        for name, paths in table.items():
            known = {key.lower() for key in registry.HANDLERS[name].queryable_fields()}
            assert {path.split(".")[0].lower() for path in paths} <= known, name
    for name, paths in rules.QUERY_SORTABLE.items():
        assert paths - rules.QUERY_FILTERABLE[name] <= {"UnitPrice", "TotalAmt"}, name  # sortable-only (C)


def unknown_field(api, entity: str, body: dict) -> tuple[str, str]:
    error = api.fault(api.post(entity.lower(), body))
    assert error["code"] == "2010" and error["Message"] == "Request has invalid or unsupported property"
    match = UNKNOWN_FIELD.match(error["Detail"])
    assert match, error["Detail"]
    return match["field"], match["type"]


def test_unknown_nested_fields_are_2010(api):
    customer = api.customer("Nested Co")
    item = api.item("Nested item")
    invoice = api.invoice(customer, item)
    receivable = api.account_named("Accounts Receivable (A/R)")
    bank = api.account_named("Checking")
    customer_ref = {"value": customer["Id"]}

    def invoice_body(**changes):
        return {"CustomerRef": customer_ref, "Line": [sales_line(item)], **changes}

    bogus_detail = {**sales_line(item), "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}, "Bogus": 1}}
    misplaced = {**sales_line(item), "TaxCodeRef": {"value": "NON"}}
    cases = [
        ("Invoice", invoice_body(Line=[sales_line(item, Foo="bar")]), ("Foo", "Line")),
        ("Invoice", invoice_body(Line=[bogus_detail]), ("Bogus", "SalesItemLineDetail")),
        ("Invoice", invoice_body(Line=[misplaced]), ("TaxCodeRef", "Line")),
        ("Invoice", invoice_body(CustomerRef={"value": customer["Id"], "label": "x"}), ("label", "ReferenceType")),
        ("Invoice", invoice_body(BillAddr={"Street": "1 Main"}), ("Street", "PhysicalAddress")),
        ("Invoice", invoice_body(TxnTaxDetail={"TotalTax": 0, "TaxLine": [{"Amount": 0, "Rate": 1}]}), ("Rate", "Line")),
        ("Invoice", invoice_body(MetaData={"CreateTime": "2024-01-01T00:00:00Z", "Owner": "me"}), ("Owner", "ModificationMetaData")),
        ("CreditMemo", invoice_body(Line=[sales_line(item, LinkedTxn=[{"TxnId": "1", "Kind": "x"}])]), ("Kind", "LinkedTxn")),
        ("Payment", {"CustomerRef": customer_ref, "TotalAmt": 10, "Line": [
            {"Amount": 10, "DetailType": "PaymentLineDetail", "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}]},
         ("DetailType", "Line")),
        ("Payment", {"CustomerRef": customer_ref, "TotalAmt": 10, "Line": [
            {"Amount": 10, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice", "Amount": 10}]}]}, ("Amount", "LinkedTxn")),
        ("JournalEntry", {"Line": [
            {"Amount": 5, "DetailType": "JournalEntryLineDetail", "JournalEntryLineDetail": {
                "PostingType": "Debit", "AccountRef": {"value": receivable["Id"]},
                "Entity": {"Type": "Customer", "EntityRef": customer_ref, "Name": "x"}}},
            {"Amount": 5, "DetailType": "JournalEntryLineDetail", "JournalEntryLineDetail": {
                "PostingType": "Credit", "AccountRef": {"value": bank["Id"]}, "Memo": "x"}}]}, ("Name", "EntityTypeRef")),
        ("Customer", {"DisplayName": "Nested Two", "PrimaryEmailAddr": {"Address": "a@b.example", "Verified": True}},
         ("Verified", "EmailAddress")),
        ("Customer", {"DisplayName": "Nested Three", "PrimaryPhone": {"Number": "555"}}, ("Number", "TelephoneNumber")),
        ("Item", {"Name": "Nested item 2", "Type": "Service", "IncomeAccountRef": {"value": bank["Id"], "id": "1"}},
         ("id", "ReferenceType")),
    ]
    for entity, body, expected in cases:
        assert unknown_field(api, entity, body) == expected, (entity, body)
    sparse = {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"], "sparse": True, "Line": [sales_line(item, Foo=1)]}
    assert unknown_field(api, "Invoice", sparse) == ("Foo", "Line")


def full_update(api, entity: str, doc: dict) -> dict:
    """Send a read-back record as a full update (what a read-modify-save client does)."""
    return api.create(entity, {**doc, "sparse": False})


def test_responses_round_trip_as_full_updates(emulator):
    api = make_api(emulator, tax="us_automated")
    customer = api.customer("Round Trip Co", PrimaryEmailAddr={"Address": "rt@example.com"},
                            BillAddr={"Line1": "1 Main", "City": "Ottawa", "PostalCode": "K1A"},
                            PrimaryPhone={"FreeFormNumber": "555-0100"}, WebAddr={"URI": "https://example.com"})
    item = api.item("Round trip item")
    account = api.account_named("Checking")
    invoice = api.invoice(customer, item, "100.00", BillEmail={"Address": "rt@example.com"},
                          CustomerMemo={"value": "Thanks"})
    memo = api.credit_memo(customer, item, "10.00")
    payment = loads(api.payment(customer, "20.00", [("Invoice", invoice["Id"], "20.00")]).text)["Payment"]
    receivable = api.account_named("Accounts Receivable (A/R)")
    journal = api.create("JournalEntry", {"Line": [
        {"Amount": 5, "DetailType": "JournalEntryLineDetail", "JournalEntryLineDetail": {
            "PostingType": "Debit", "AccountRef": {"value": receivable["Id"]},
            "Entity": {"Type": "Customer", "EntityRef": {"value": customer["Id"]}}}},
        {"Amount": 5, "DetailType": "JournalEntryLineDetail", "JournalEntryLineDetail": {
            "PostingType": "Credit", "AccountRef": {"value": account["Id"]}}}]})
    refund = api.create("RefundReceipt", {"CustomerRef": {"value": customer["Id"]}, "Line": [sales_line(item, "5.00")],
                                          "DepositToAccountRef": {"value": account["Id"]}})
    vendor = api.create("Vendor", {"DisplayName": "Round Trip Supplies", "PrimaryEmailAddr": {"Address": "ap@example.com"}})
    employee = api.create("Employee", {"GivenName": "Rita", "FamilyName": "Trip"})
    assert invoice["TxnTaxDetail"].get("TaxLine"), "the US AST company puts tax lines on the invoice"
    for entity, doc in [("Customer", customer), ("Item", item), ("Account", account), ("Invoice", invoice),
                        ("CreditMemo", memo), ("Payment", payment), ("JournalEntry", journal),
                        ("RefundReceipt", refund), ("Vendor", vendor), ("Employee", employee)]:
        current = api.read(entity, doc["Id"])
        assert full_update(api, entity, current)["SyncToken"] == str(int(current["SyncToken"]) + 1), entity


def name_fault(api, entity: str, body: dict) -> dict:
    error = api.fault(api.post(entity.lower(), body))
    assert error["code"] == "2040", error
    assert error["Message"] == "Invalid String. The String may contain unsupported or illegal chars"
    return error


def test_control_characters_and_colons_in_names_are_2040(api):
    income = api.account("Chars income", "Income", "ServiceFeeIncome")
    cases = [
        ("Customer", {"DisplayName": "Tab\tCo"}, "DisplayName", "Tab\tCo"),
        ("Customer", {"DisplayName": "Parent:Child"}, "DisplayName", "Parent:Child"),
        ("Customer", {"GivenName": "Line\nBreak"}, "GivenName", "Line\nBreak"),
        ("Customer", {"DisplayName": "Fine Co", "CompanyName": "Carriage\rReturn"}, "CompanyName", "Carriage\rReturn"),
        ("Customer", {"DisplayName": "Bell\x07 Co"}, "DisplayName", "Bell\x07 Co"),
        ("Vendor", {"DisplayName": "Vendor\tTab"}, "DisplayName", "Vendor\tTab"),
        ("Employee", {"GivenName": "Emp\nLoyee", "FamilyName": "X"}, "GivenName", "Emp\nLoyee"),
        ("Item", {"Name": "Item\tTab", "Type": "Service", "IncomeAccountRef": {"value": income["Id"]}}, "Name", "Item\tTab"),
        ("Item", {"Name": "Item:Sub", "Type": "Service", "IncomeAccountRef": {"value": income["Id"]}}, "Name", "Item:Sub"),
        ("Account", {"Name": "Acct\nNew", "AccountType": "Bank"}, "Name", "Acct\nNew"),
        ("Account", {"Name": "Acct:Sub", "AccountType": "Bank"}, "Name", "Acct:Sub"),
    ]
    for entity, body, element, value in cases:
        error = name_fault(api, entity, body)
        assert error["element"] == element and error["Detail"] == f"Element contains invalid characters. {value}", body
    # A colon outside the main name, ordinary punctuation and accented letters are fine.
    assert api.customer("O'Brien & Sons, Ltd. (West) #2", CompanyName="A:B Holdings")["CompanyName"] == "A:B Holdings"
    assert api.customer("Rémi Bélanger")["DisplayName"] == "Rémi Bélanger"
    customer = api.customer("Sparse Chars Co")
    sparse = {"Id": customer["Id"], "SyncToken": customer["SyncToken"], "sparse": True, "DisplayName": "New\tName"}
    assert name_fault(api, "Customer", sparse)["element"] == "DisplayName"


def test_malformed_email_addresses_are_2210(api):
    customer = api.customer("Mail Co")
    item = api.item("Mail item")
    bad = ["Kim Carpenter", "0", " lead@example.com", "lead@example.com ", "lead@example", "a@b.com, c@d.com",
           "Kim <kim@example.com>", "kim..x@example.com", ".kim@example.com", "kim@-example.com", "kim@example..com",
           "kim@exa mple.com", "kim@@example.com"]
    for address in bad:
        error = api.fault(api.post("customer", {"DisplayName": f"Mail {len(address)} {address.strip()[:3]}",
                                                "PrimaryEmailAddr": {"Address": address}}))
        assert error["code"] == "2210" and error["Message"] == "Invalid Email Address format", address
        assert error["Detail"] == f"Email Address does not conform to the syntax rules of RFC 822. Supplied value:{address}"
        assert error["element"] == "PrimaryEmailAddr.Address"
    for key in ("BillEmail", "BillEmailCc", "BillEmailBcc"):
        body = {"CustomerRef": {"value": customer["Id"]}, "Line": [sales_line(item)], key: {"Address": "not an address"}}
        error = api.fault(api.post("invoice", body))
        assert error["code"] == "2210" and error["element"] == f"{key}.Address"
    vendor = api.fault(api.post("vendor", {"DisplayName": "Mail Vendor", "PrimaryEmailAddr": {"Address": "x"}}))
    assert vendor["code"] == "2210"
    good = api.customer("Good Mail Co", PrimaryEmailAddr={"Address": "first.last+billing@mail.example.co.uk"})
    assert good["PrimaryEmailAddr"] == {"Address": "first.last+billing@mail.example.co.uk"}
    assert api.customer("Blank Mail Co", PrimaryEmailAddr={"Address": ""})["DisplayName"] == "Blank Mail Co"


def test_customer_name_clashing_with_a_vendor_or_employee_is_6240(api):
    vendor = api.create("Vendor", {"DisplayName": "Shared Name Ltd"})
    employee = api.create("Employee", {"GivenName": "Ann", "FamilyName": "Smith"})
    assert employee["DisplayName"] == "Ann Smith"
    for name, kind in (("Shared Name Ltd", "vendor"), ("shared name ltd", "vendor"), ("Ann Smith", "employee")):
        error = api.fault(api.post("customer", {"DisplayName": name}))
        assert error["code"] == "6240" and error["Message"] == "Duplicate Name Exists Error"
        assert error["Detail"] == f"The name supplied already exists. : Another {kind} is already using this name. Please use a different name."
    customer = api.customer("Customer First")
    error = api.fault(api.post("vendor", {"DisplayName": "Customer First"}))
    assert error["code"] == "6240" and "Another customer" in error["Detail"]
    error = api.fault(api.post("vendor", {"DisplayName": "Shared Name Ltd"}))
    assert error["code"] == "6240" and error["element"] == "DisplayName"
    renamed = {"Id": customer["Id"], "SyncToken": customer["SyncToken"], "sparse": True, "DisplayName": "Ann Smith"}
    assert api.fault(api.post("customer", renamed))["code"] == "6240"
    assert api.query("select * from Vendor where DisplayName = 'Shared Name Ltd'")["Vendor"][0]["Id"] == vendor["Id"]
    assert api.read("Employee", employee["Id"])["Active"] is True
    # A vendor made inactive frees the name, as for customers (rules.INACTIVE_NAME_SUFFIX).
    api.create("Vendor", {"Id": vendor["Id"], "SyncToken": vendor["SyncToken"], "sparse": True, "Active": False})
    assert api.customer("Shared Name Ltd")["DisplayName"] == "Shared Name Ltd"


def test_receivable_or_payable_account_as_item_income_account_is_6430(api):
    for name in ("Accounts Receivable (A/R)", "Accounts Payable (A/P)"):
        account = api.account_named(name)
        error = api.fault(api.post("item", {"Name": f"Bad income {name[:9]}", "Type": "Service",
                                            "IncomeAccountRef": {"value": account["Id"]}}))
        assert error["code"] == "6430" and error["Message"] == "Invalid account type"
        assert error["Detail"] == "Invalid account type : You need to select a different type of account for this transaction."
        assert error["element"] == "IncomeAccountRef"


def batch(api, *items) -> list[dict]:
    response = api.post("batch", {"BatchItemRequest": list(items)})
    assert response.status_code == 200, response.text
    return loads(response.text)["BatchItemResponse"]


def test_uniqueness_holds_between_items_of_one_batch(emulator):
    api = make_api(emulator, custom_txn_numbers=True)
    outside = api.customer("Outside Co")
    outside_fault = api.fault(api.post("customer", {"DisplayName": "Outside Co"}))
    first, second, third = batch(
        api,
        {"bId": "1", "operation": "create", "Customer": {"DisplayName": "Batch Twin"}},
        {"bId": "2", "operation": "create", "Customer": {"DisplayName": "Batch Twin"}},
        {"bId": "3", "operation": "create", "Vendor": {"DisplayName": "batch twin"}},
    )
    assert first["Customer"]["DisplayName"] == "Batch Twin"
    assert second["Fault"]["Error"][0] == outside_fault
    assert third["Fault"]["Error"][0]["code"] == "6240"
    assert api.query("select count(*) from Customer where DisplayName = 'Batch Twin'") == {"totalCount": 1}

    income = api.account("Batch income", "Income", "ServiceFeeIncome")
    item_body = {"Name": "Batch Item Twin", "Type": "Service", "IncomeAccountRef": {"value": income["Id"]}}
    made, duplicate = batch(api, {"bId": "a", "operation": "create", "Item": item_body},
                            {"bId": "b", "operation": "create", "Item": item_body})
    assert "Item" in made and duplicate["Fault"]["Error"][0]["code"] == "6240"

    item = api.item("Numbered item")
    invoice_body = {"CustomerRef": {"value": outside["Id"]}, "DocNumber": "BATCH-1", "Line": [sales_line(item)]}
    made, duplicate = batch(api, {"bId": "x", "operation": "create", "Invoice": invoice_body},
                            {"bId": "y", "operation": "create", "Invoice": invoice_body})
    assert "Invoice" in made
    error = duplicate["Fault"]["Error"][0]
    assert error["code"] == "6140", error
    assert error == api.fault(api.post("invoice", invoice_body))
