"""requestid replay and batch semantics."""
from decimal import Decimal

from emulators.qbo.money import dumps, loads


def test_same_requestid_twice_creates_one_entity_and_replays_the_first_answer(api):
    first = api.post("customer", {"DisplayName": "Once Co"}, requestid="req-0001")
    second = api.post("customer", {"DisplayName": "Once Co"}, requestid="req-0001")
    assert first.status_code == second.status_code == 200
    assert first.content == second.content  # byte-for-byte, including the original `time`
    assert len(api.query("select * from Customer where DisplayName = 'Once Co'")["Customer"]) == 1


def test_replay_ignores_a_different_body_and_covers_updates_and_deletes(api):
    customer, item = api.customer("Replay Co"), api.item("Replay item")
    invoice = api.invoice(customer, item, "10.00")
    update = {"Id": invoice["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "first"}
    assert api.post("invoice", update, requestid="upd-1").status_code == 200
    again = api.post("invoice", {**update, "PrivateNote": "second"}, requestid="upd-1")
    assert loads(again.text)["Invoice"]["PrivateNote"] == "first"
    assert api.read("Invoice", invoice["Id"])["SyncToken"] == "1"  # no second write (no 5010 either)
    deleted = api.post("invoice", {"Id": invoice["Id"], "SyncToken": "1"}, operation="delete", requestid="del-1")
    assert api.post("invoice", {"Id": invoice["Id"], "SyncToken": "1"}, operation="delete", requestid="del-1").content == deleted.content


def test_a_failed_request_is_replayed_as_failed(api):
    first = api.post("customer", {"DisplayName": ""}, requestid="bad-1")
    assert first.status_code == 400
    second = api.post("customer", {"DisplayName": "Now valid"}, requestid="bad-1")
    assert second.status_code == 400 and second.content == first.content


def test_requestids_are_per_realm_and_limited_to_50_characters(emulator, api):
    from tests.emulators.qbo.conftest import make_api

    other = make_api(emulator)
    assert api.post("customer", {"DisplayName": "Realm A"}, requestid="shared").status_code == 200
    assert loads(other.post("customer", {"DisplayName": "Realm B"}, requestid="shared").text)["Customer"]["DisplayName"] == "Realm B"
    assert api.fault(api.post("customer", {"DisplayName": "Long"}, requestid="r" * 51))["code"] == "2050"


def batch_body(*items) -> dict:
    return {"BatchItemRequest": list(items)}


def test_batch_results_in_order_with_faults_and_queries(api):
    api.customer("Existing Co")
    response = api.post("batch", batch_body(
        {"bId": "bid1", "operation": "create", "Customer": {"DisplayName": "New One"}},
        {"bId": "bid2", "operation": "create", "Customer": {"DisplayName": "Existing Co"}},
        {"bId": "bid3", "Query": "select * from Customer where DisplayName = 'Existing Co'"},
        {"bId": "bid4", "operation": "delete", "Invoice": {"Id": "99999", "SyncToken": "0"}},
    ))
    assert response.status_code == 200
    items = loads(response.text)["BatchItemResponse"]
    assert [item["bId"] for item in items] == ["bid1", "bid2", "bid3", "bid4"]
    assert items[0]["Customer"]["DisplayName"] == "New One"
    assert items[1]["Fault"]["Error"][0]["code"] == "6240" and items[1]["Fault"]["type"] == "ValidationFault"
    assert "time" not in items[1] and "time" not in items[1]["Fault"]
    assert items[2]["QueryResponse"]["Customer"][0]["DisplayName"] == "Existing Co"
    assert items[3]["Fault"]["Error"][0]["code"] == "610"


def test_batch_items_cannot_see_what_earlier_items_created(api):
    item = api.item("Batch item")
    response = api.post("batch", batch_body(
        {"bId": "c", "operation": "create", "Customer": {"DisplayName": "Batch Buyer"}},
        {"bId": "q", "Query": "select * from Customer where DisplayName = 'Batch Buyer'"},
    ))
    created, looked_up = loads(response.text)["BatchItemResponse"]
    assert looked_up["QueryResponse"] == {}
    response = api.post("batch", batch_body(
        {"bId": "i", "operation": "create", "Invoice": {"CustomerRef": {"value": created["Customer"]["Id"]}, "Line": [
            {"Amount": 5, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}}}]}},
    ))
    assert "Invoice" in loads(response.text)["BatchItemResponse"][0]  # visible to the next batch
    customer_body = {"DisplayName": "Same Batch Buyer"}
    response = api.post("batch", batch_body(
        {"bId": "c", "operation": "create", "Customer": customer_body},
        {"bId": "i", "operation": "create", "Invoice": {"CustomerRef": {"value": str(int(created["Customer"]["Id"]) + 1)}, "Line": [
            {"Amount": 5, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}}}]}},
    ))
    first, second = loads(response.text)["BatchItemResponse"]
    assert second["Fault"]["Error"][0]["code"] == "2500", "the invoice must not see the customer created in the same batch"


def test_batch_over_30_items_is_1040(api):
    items = [{"bId": str(n), "operation": "create", "Customer": {"DisplayName": f"Too many {n}"}} for n in range(31)]
    error = api.fault(api.post("batch", batch_body(*items)))
    assert error["code"] == "1040" and error["Message"] == "Batch size exceeds allowed limit"
    assert api.query("select count(*) from Customer where DisplayName LIKE 'Too many%'") == {"totalCount": 0}


def test_batch_update_void_and_requestid_replay(api):
    customer, item = api.customer("Batch Pay Co"), api.item("Batch pay item")
    invoice = api.invoice(customer, item, "20.00")
    payment = loads(api.payment(customer, "20.00", [("Invoice", invoice["Id"], "20.00")]).text)["Payment"]
    body = batch_body(
        {"bId": "u", "operation": "update", "Customer": {"Id": customer["Id"], "SyncToken": customer["SyncToken"], "sparse": True, "Notes": "batched"}},
        {"bId": "v", "operation": "update", "optionsData": "void", "Payment": {"Id": payment["Id"], "SyncToken": "0", "sparse": True}},
    )
    first = api.post("batch", body, requestid="batch-rid-1")
    second = api.post("batch", body, requestid="batch-rid-1")
    assert first.content == second.content
    updated, voided = loads(first.text)["BatchItemResponse"]
    assert updated["Customer"]["Notes"] == "batched" and voided["Payment"]["TotalAmt"] == 0
    assert api.read("Customer", customer["Id"])["SyncToken"] == "1"
    long_bids = batch_body({"bId": "12345678901", "operation": "create", "Customer": {"DisplayName": "Long bId"}})
    assert api.post("batch", long_bids, requestid="batch-rid-2").status_code == 400
    assert api.post("batch", long_bids).status_code == 200


def test_python_quickbooks_batch_body(api):
    """The exact shape BatchManager sends: uuid bIds, full objects with SyncToken 0 and sparse false."""
    body = {"BatchItemRequest": [{"Customer": {"DisplayName": f"PQB {n}", "SyncToken": 0, "sparse": False, "domain": "QBO",
                                               "Active": True, "Balance": 0, "Taxable": True, "Notes": ""},
                                  "bId": f"3f2504e0-4f89-11d3-9a0c-0305e82c330{n}", "operation": "create"} for n in range(3)]}
    items = loads(api.post("batch", dumps(body)).text)["BatchItemResponse"]
    assert all("Customer" in item for item in items)
    assert Decimal(items[0]["Customer"]["Balance"]) == 0


def test_update_without_id_is_2020(api):
    assert api.fault(api.post("customer", {"DisplayName": "No id"}, operation="update"))["code"] == "2020"
    items = loads(api.post("batch", batch_body({"bId": "u", "operation": "update", "Customer": {"DisplayName": "No id"}})).text)
    assert items["BatchItemResponse"][0]["Fault"]["Error"][0]["code"] == "2020"
