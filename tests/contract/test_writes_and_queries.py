"""requestid replay, batch visibility, sparse vs full update, query paging and counts."""
import json
import uuid
from decimal import Decimal

from quickbooks.batch import batch_create
from quickbooks.objects.account import Account
from quickbooks.objects.customer import Customer

from tests.contract.target import QboTarget


def test_same_requestid_twice_creates_one_entity(qbo_target: QboTarget):
    name = qbo_target.unique("Idempotent")
    request_id = uuid.uuid4().hex
    first = Customer()
    first.DisplayName = name
    created = first.save(qb=qbo_target.qb, request_id=request_id)
    again = Customer()
    again.DisplayName = name
    replayed = again.save(qb=qbo_target.qb, request_id=request_id)  # no 6240: the first answer comes back
    assert replayed.Id == created.Id
    assert qbo_target.count("Customer", f"DisplayName = '{name}'") == 1


def test_invoice_create_with_requestid_is_replayed(qbo_target: QboTarget):
    customer = qbo_target.customer()
    item = qbo_target.item()
    request_id = uuid.uuid4().hex
    first = qbo_target.invoice(customer, item, "10.00", request_id=request_id)
    second = qbo_target.invoice(customer, item, "10.00", request_id=request_id)
    assert first.Id == second.Id
    assert qbo_target.balance(customer) == Decimal("10.00")


def test_batch_items_do_not_see_earlier_items(qbo_target: QboTarget):
    name = qbo_target.unique("Batch visibility")
    body = {"BatchItemRequest": [
        {"bId": "create", "operation": "create", "Customer": {"DisplayName": name}},
        {"bId": "find", "Query": f"select * from Customer where DisplayName = '{name}'"},
    ]}
    result = qbo_target.qb.batch_operation(json.dumps(body))
    by_bid = {item["bId"]: item for item in result["BatchItemResponse"]}
    assert by_bid["create"]["Customer"]["DisplayName"] == name
    assert "Customer" not in by_bid["find"]["QueryResponse"]
    assert qbo_target.count("Customer", f"DisplayName = '{name}'") == 1


def test_python_quickbooks_batch_create(qbo_target: QboTarget):
    customers = []
    for _ in range(3):
        customer = Customer()
        customer.DisplayName = qbo_target.unique("Batch create")
        customers.append(customer)
    result = batch_create(customers, qb=qbo_target.qb)
    assert len(result.successes) == 3 and not result.faults


def test_sparse_update_changes_only_sent_fields_full_update_resets(qbo_target: QboTarget):
    customer = qbo_target.customer(Notes="keep me", CompanyName="Kept Ltd")
    body = {"Id": customer.Id, "SyncToken": customer.SyncToken, "sparse": True, "Notes": "changed"}
    sparse = qbo_target.qb.update_object("Customer", json.dumps(body))["Customer"]
    assert sparse["Notes"] == "changed" and sparse["CompanyName"] == "Kept Ltd" and sparse["SyncToken"] == "1"

    full = {"Id": customer.Id, "SyncToken": "1", "DisplayName": customer.DisplayName}
    replaced = qbo_target.qb.update_object("Customer", json.dumps(full))["Customer"]
    assert "Notes" not in replaced and "CompanyName" not in replaced and replaced["SyncToken"] == "2"

    current = Customer.get(customer.Id, qb=qbo_target.qb)  # python-quickbooks read-modify-write (full update)
    current.Notes = "via library"
    saved = current.save(qb=qbo_target.qb)
    assert saved.SyncToken == "3" and saved.Notes == "via library"


def test_query_paging_past_1000_and_count(qbo_target: QboTarget):
    if qbo_target.is_emulator:
        qbo_target.emulator.create_accounts(qbo_target.realm_id, [
            {"Name": f"Paging {n:04d}", "AccountType": "Expense"} for n in range(1100)])
    else:
        existing = Account.count(qb=qbo_target.qb)
        for start in range(0, max(0, 1001 - existing), 30):
            batch = []
            for _ in range(30):
                account = Account()
                account.Name = qbo_target.unique("Contract paging")
                account.AccountType = "Expense"
                batch.append(account)
            batch_create(batch, qb=qbo_target.qb)
    total = Account.count(qb=qbo_target.qb)
    assert total > 1000
    first_page = Account.where("", start_position=1, max_results=1000, qb=qbo_target.qb)
    second_page = Account.where("", start_position=1001, max_results=1000, qb=qbo_target.qb)
    assert len(first_page) == 1000 and len(second_page) == total - 1000
    assert not {a.Id for a in first_page} & {a.Id for a in second_page}
    assert len(Account.all(qb=qbo_target.qb)) == 100  # python-quickbooks' default MAXRESULTS
