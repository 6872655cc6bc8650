"""Queries through the API: response shapes, paging, ordering, filters and errors."""
from emulators.qbo.money import loads


def test_response_shapes(api):
    api.customer("Shape A")
    api.customer("Shape B")
    rows = api.query("select * from Customer")
    assert rows["startPosition"] == 1 and rows["maxResults"] == 2 and "totalCount" not in rows
    assert api.query("select count(*) from Customer") == {"totalCount": 2}
    assert api.query("select * from Customer where DisplayName = 'nobody'") == {}  # no entity key, no paging keys


def test_get_form_of_query(api):
    api.customer("Get Form")
    response = api.get("query", query="SELECT * FROM Customer WHERE DisplayName = 'Get Form'")
    assert loads(response.text)["QueryResponse"]["Customer"][0]["DisplayName"] == "Get Form"


def test_default_order_and_explicit_order(api):
    for name in ("delta", "Alpha", "charlie", "Bravo"):
        api.customer(name)
    names = [row["DisplayName"] for row in api.query("select * from Customer")["Customer"]]
    assert names == ["Alpha", "Bravo", "charlie", "delta"]  # customers come back by name
    ids = [int(row["Id"]) for row in api.query("select * from Customer orderby Id desc")["Customer"]]
    assert ids == sorted(ids, reverse=True)
    accounts = [int(row["Id"]) for row in api.query("select * from Account")["Account"]]
    assert accounts == sorted(accounts)


def test_paging_past_1000_with_startposition(api, emulator):
    emulator.create_accounts(api.realm_id, [{"Name": f"Bulk {n:04d}", "AccountType": "Expense"} for n in range(1500)])
    total = api.query("select count(*) from Account")["totalCount"]
    assert total >= 1500
    seen = []
    position = 1
    while True:
        page = api.query(f"select * from Account STARTPOSITION {position} MAXRESULTS 1000")
        if not page:
            break
        assert page["maxResults"] == len(page["Account"]) <= 1000
        seen.extend(row["Id"] for row in page["Account"])
        position += 1000
    assert len(seen) == len(set(seen)) == total
    assert api.query("select * from Account STARTPOSITION 1001 MAXRESULTS 10")["startPosition"] == 1001


def test_maxresults_over_1000_and_parse_errors_through_the_api(api):
    too_many = api.fault(api.post("query", "select * from Customer MAXRESULTS 1001"))
    assert too_many["code"] == "4001"
    parse = api.fault(api.post("query", "select * from Customer where"))
    assert parse["code"] == "4000" and parse["Message"] == "Error parsing query"
    assert api.fault(api.post("query", "select * from Vendorz"))["code"] == "4001"
    assert api.fault(api.post("query", "select * from Customer where Color = 'red'"))["code"] == "4001"


def test_inactive_records_need_an_active_condition(api):
    customer = api.customer("Sleeper")
    api.create("Customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    assert api.query("select * from Customer where Id = '%s'" % customer["Id"]) == {}
    both = api.query(f"select * from Customer where Id = '{customer['Id']}' and Active IN (true, false)")
    assert both["Customer"][0]["DisplayName"] == "Sleeper (deleted)"
    assert api.query("select count(*) from Customer where Active = false")["totalCount"] == 1


def test_filters_on_refs_dates_amounts_and_like(api, emulator):
    customer, other = api.customer("Filter Co"), api.customer("Other Co")
    item = api.item("Filter item")
    small = api.invoice(customer, item, "10.00", TxnDate="2024-01-15", DocNumber="F-1")
    big = api.invoice(customer, item, "500.00", TxnDate="2024-03-15", DocNumber="F-2")
    emulator.advance_clock(2)  # MetaData has seconds precision
    api.invoice(other, item, "999.00", TxnDate="2024-02-01", DocNumber="G-1")
    by_customer = api.query(f"select * from Invoice where CustomerRef = '{customer['Id']}'")["Invoice"]
    assert {row["Id"] for row in by_customer} == {small["Id"], big["Id"]}
    assert [row["Id"] for row in api.query("select * from Invoice where Balance > '100' and TxnDate >= '2024-03-01'")["Invoice"]] == [big["Id"]]
    assert len(api.query("select * from Invoice where DocNumber LIKE 'F-%'")["Invoice"]) == 2
    assert len(api.query(f"select * from Invoice where Id IN ('{small['Id']}', '{big['Id']}', '0')")["Invoice"]) == 2
    stamp = big["MetaData"]["LastUpdatedTime"]
    assert api.query(f"select count(*) from Invoice where MetaData.LastUpdatedTime > '{stamp}'")["totalCount"] == 1


def test_selected_fields_and_items_with_sku(api):
    api.item("Sku item", Sku="SKU-1")
    rows = api.query("select Id, Name from Item where Name = 'Sku item'")["Item"]
    assert set(rows[0]) == {"Id", "Name", "domain", "sparse"} and rows[0]["sparse"] is True
    assert api.query("SELECT *, Sku FROM Item where Name = 'Sku item'")["Item"][0]["Sku"] == "SKU-1"


def test_company_info_and_preferences_are_queryable(api):
    assert api.query("select * from CompanyInfo")["CompanyInfo"][0]["Id"] == "1"
    assert "SalesFormsPrefs" in api.query("select * from Preferences")["Preferences"][0]
