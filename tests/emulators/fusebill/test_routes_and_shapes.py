"""Every /v1 route answers with Fusebill's conventions: camelCase, money as JSON numbers, timestamps
without offset, `id` and `uri` last, bare arrays for lists, PascalCase error bodies."""
from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
import requests

from emulators.fusebill.jsonwire import loads
from emulators.sampledata import expected_books

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")


def _walk(value, path=""):
    """Yield (path, key, value) for every key of every object in a JSON document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield path, key, item
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, path)


def _first(seeded, predicate):
    for bundle in seeded.dataset.customers:
        if predicate(bundle):
            return bundle
    raise AssertionError("the seeded data has no such customer")


def test_every_route_of_a_customer_answers_with_fusebill_conventions(fusebill, seeded):
    bundle = _first(seeded, lambda b: b.payments and b.invoices and b.customer.status == "Active")
    cid = bundle.customer.id
    invoice = bundle.invoices[0]
    payment = bundle.payments[0]
    paths = [
        "/customers", f"/customers/{cid}", f"/customers/{cid}/overview", f"/customerAddressPreferences/{cid}",
        f"/customerbillingsetting/{cid}", f"/Customers/{cid}/Invoices", "/Invoices", f"/Invoices/{invoice.id}",
        f"/customers/{cid}/invoiceSummaries", "/invoiceSummaries", f"/invoices/{invoice.id}/paymentAllocations",
        f"/invoices/{invoice.id}/creditAllocations", f"/customers/{cid}/paymentactivities",
        f"/PaymentActivities/{payment.payment_activity_id}", f"/payments/{payment.id}",
        f"/customers/{cid}/customerArActivities", "/CreditNotes", "/PaymentActivities/GetByAccountID",
    ]
    for path in paths:
        response = fusebill.get(seeded.key, path)
        assert response.status_code == 200, (path, response.text)
        assert response.headers["Content-Type"].startswith("application/json")
        body = json.loads(response.text, parse_float=Decimal)
        for where, key, value in _walk(body):
            assert key[0].islower(), (path, where, key)  # camelCase
            assert not isinstance(value, float)
            if key.endswith("Timestamp") and value is not None:
                assert TIMESTAMP.match(value), (path, key, value)
        objects = body if isinstance(body, list) else [body]
        for item in objects:
            if "uri" in item:
                assert list(item)[-2:] == ["id", "uri"], (path, list(item)[-3:])


def test_money_is_a_json_number_with_the_currency_minor_unit(fusebill, seeded):
    bundle = _first(seeded, lambda b: b.invoices and b.customer.status == "Active")
    raw = fusebill.get(seeded.key, f"/Invoices/{bundle.invoices[0].id}").text
    assert re.search(r'"invoiceAmount":\d+\.\d\d[,}]', raw)
    assert re.search(r'"totalDiscount":0\.00[,}]', raw)


def test_lists_are_bare_arrays(fusebill, seeded):
    body = fusebill.get(seeded.key, "/customers").json()
    assert isinstance(body, list) and body and "id" in body[0]


def test_paths_are_case_insensitive_and_tolerate_a_trailing_slash(fusebill, seeded):
    cid = seeded.active_customer_ids()[0]
    answers = {
        fusebill.get(seeded.key, path).text
        for path in (f"/Customers/{cid}/Invoices/", f"/customers/{cid}/invoices", f"/CUSTOMERS/{cid}/INVOICES")
    }
    assert len(answers) == 1


def test_invoice_carries_charges_and_named_taxes_and_the_list_has_no_lines(fusebill, seeded):
    bundle = _first(seeded, lambda b: any(inv.taxes for inv in b.invoices))
    invoice = next(inv for inv in bundle.invoices if inv.taxes)
    one = loads(fusebill.get(seeded.key, f"/Invoices/{invoice.id}").content)
    assert [c["amount"] for c in one["charges"]] == [c.amount for c in invoice.charges]
    assert [(t["taxRuleId"], t["name"], t["percentage"], t["amount"]) for t in one["taxes"]] == [
        (t.tax_rule_id, t.name, t.percentage, t.amount) for t in invoice.taxes
    ]
    assert one["invoiceAmount"] == one["subtotal"] + sum(t["amount"] for t in one["taxes"])
    per_customer = loads(fusebill.get(seeded.key, f"/Customers/{bundle.customer.id}/Invoices", pageSize=100).content)
    assert next(i for i in per_customer if i["id"] == invoice.id)["charges"]
    listed = loads(fusebill.get(seeded.key, "/Invoices", pageSize=1000, query=f"customerId:{bundle.customer.id}").content)
    listed_one = next(i for i in listed if i["id"] == invoice.id)
    assert listed_one["charges"] is None and listed_one["taxes"] is None  # no lines, no taxes in the list


def test_overview_ar_balance_and_invoice_balances_match_the_oracle_for_one_customer(fusebill, seeded):
    books = expected_books(seeded.dataset)
    cid = next(c for c, e in books.customers.items() if e.ar_balance != 0)
    overview = loads(fusebill.get(seeded.key, f"/customers/{cid}/overview").content)
    assert overview["arBalance"] == books.customers[cid].ar_balance
    invoices = loads(fusebill.get(seeded.key, f"/customers/{cid}/invoiceSummaries", pageSize=100).content)
    assert {i["id"]: i["outstandingBalance"] for i in invoices} == {
        i: books.invoices[i].fusebill_outstanding for i in books.customers[cid].invoice_ids
    }


def test_payment_activity_embeds_the_payment_with_its_allocations(fusebill, seeded):
    bundle = _first(seeded, lambda b: any(p.allocations for p in b.payments))
    payment = next(p for p in bundle.payments if p.allocations)
    activity = loads(fusebill.get(seeded.key, f"/PaymentActivities/{payment.payment_activity_id}").content)
    assert (activity["status"], activity["transactionType"]) == ("Successful", "Collect")
    transaction = activity["transaction"]
    assert transaction["id"] == payment.id
    assert [(a["invoiceId"], a["amount"]) for a in transaction["invoiceAllocations"]] == [
        (a.invoice_id, a.amount) for a in payment.allocations
    ]
    assert transaction == loads(fusebill.get(seeded.key, f"/payments/{payment.id}").content)
    allocations = loads(fusebill.get(seeded.key, f"/invoices/{payment.allocations[0].invoice_id}/paymentAllocations").content)
    assert any(row["paymentId"] == payment.id and row["paymentActivityId"] == payment.payment_activity_id for row in allocations)


def test_refund_credit_debit_and_credit_note_are_readable_by_id(fusebill):
    # A fresh, larger account so every kind of record exists.
    key = fusebill.create_account("live")
    fusebill.seed(key, 40, 2)
    from emulators.sampledata import generate

    dataset = generate(40, 2)
    refund = next(r for b in dataset.customers for r in b.refunds)
    debit = next(d for b in dataset.customers for d in b.debits)
    note = next(n for b in dataset.customers for n in b.credit_notes)
    body = loads(fusebill.get(key, f"/Refunds/{refund.id}").content)
    assert (body["amount"], body["description"]) == (refund.amount, f"Refund of payment {refund.payment_id}")
    assert loads(fusebill.get(key, f"/Debits/{debit.id}").content)["originalCreditId"] == debit.credit_id
    credit = loads(fusebill.get(key, f"/Credits/{debit.credit_id}").content)
    assert debit.id in [d["id"] for d in credit["debits"]]
    assert credit["reversableAmount"] == credit["amount"] - sum(d["amount"] for d in credit["debits"])
    shown = loads(fusebill.get(key, f"/CreditNotes/{note.id}").content)
    assert (shown["creditNotesNumber"], shown["netAmount"], shown["totalAmount"]) == (note.number, note.net_amount, note.total_amount)
    assert [t["amount"] for t in shown["taxes"]] == [t.amount for t in note.taxes]
    by_invoice = loads(fusebill.get(key, "/CreditNotes", query=f"invoiceId:{note.invoice_id}").content)
    assert note.id in [n["id"] for n in by_invoice]
    by_customer = loads(fusebill.get(key, "/CreditNotes", query=f"Invoice.CustomerId:{note.customer_id}").content)
    assert {n["customerId"] for n in by_customer} == {note.customer_id}


def test_ar_activities_sum_to_the_ar_balance_and_filter_by_date_window(fusebill, seeded):
    books = expected_books(seeded.dataset)
    cid = max(books.customers, key=lambda c: len(books.customers[c].invoice_ids))
    entries = loads(fusebill.get(seeded.key, f"/customers/{cid}/customerArActivities", pageSize=1000).content)
    assert sum(e["arDebit"] - e["arCredit"] for e in entries) == books.customers[cid].ar_balance
    assert {"Charge", "Payment"} <= {e["transactionType"] for e in entries}
    middle = sorted(e["effectiveTimestamp"] for e in entries)[len(entries) // 2]
    before = fusebill.get(seeded.key, f"/customers/{cid}/customerArActivities", pageSize=1000, query=f"endDate:{middle}").json()
    after = fusebill.get(seeded.key, f"/customers/{cid}/customerArActivities", pageSize=1000, query=f"startDate:{middle}").json()
    assert len(before) + len(after) == len(entries)
    assert all(e["effectiveTimestamp"] < middle for e in before) and all(e["effectiveTimestamp"] >= middle for e in after)
    refused = fusebill.get(seeded.key, f"/customers/{cid}/customerArActivities", query="transactionType:Charge")
    assert refused.status_code == 400


def test_write_off_shows_as_total_status_and_ar_activity(fusebill):
    key = fusebill.create_account("live")
    fusebill.seed(key, 40, 2)
    from emulators.sampledata import generate

    write_off = next(w for b in generate(40, 2).customers for w in b.write_offs)
    invoice = loads(fusebill.get(key, f"/Invoices/{write_off.invoice_id}").content)
    assert invoice["totalWriteoffs"] == write_off.amount and invoice["outstandingBalance"] == 0
    summaries = loads(fusebill.get(key, "/invoiceSummaries", pageSize=1000, query=f"customerId:{write_off.customer_id}").content)
    summary = next(s for s in summaries if s["id"] == write_off.invoice_id)
    assert (summary["invoiceStatus"], summary["writeoffs"]) == ("WrittenOff", write_off.amount)
    entries = loads(fusebill.get(key, f"/customers/{write_off.customer_id}/customerArActivities", pageSize=1000).content)
    assert any(e["transactionType"] == "WriteOff" and e["arCredit"] == write_off.amount for e in entries)


# --- auth and errors ---------------------------------------------------------------------------


def test_missing_and_wrong_keys_get_401_with_the_error_body(fusebill, seeded):
    missing = requests.get(f"{fusebill.url}/customers", timeout=10)
    wrong = requests.get(f"{fusebill.url}/customers", headers={"Authorization": "Basic bm90LWEta2V5"}, timeout=10)
    bearer = requests.get(f"{fusebill.url}/customers", headers={"Authorization": f"Bearer {seeded.key}"}, timeout=10)
    for response in (missing, wrong, bearer):
        assert response.status_code == 401
        body = response.json()
        assert body["ErrorId"] == 0 and body["HttpStatusCode"] == 401
        assert body["Errors"][0]["Key"] == "Api Error" and body["Errors"][0]["Value"]


def test_api_keys_look_like_fusebill_keys_and_each_is_its_own_account(fusebill, seeded):
    import base64

    other = fusebill.create_account("sandbox")
    assert base64.b64decode(other).decode().startswith("0:")
    assert fusebill.get(other, "/customers").json() == []
    assert fusebill.get(seeded.key, "/customers").json() != []


def test_unknown_record_is_a_404_naming_it(fusebill, seeded):
    response = fusebill.get(seeded.key, "/Invoices/22")
    assert response.status_code == 404
    assert response.json() == {"ErrorId": 0, "HttpStatusCode": 404, "Errors": [{"Key": "Api Error", "Value": "Invoice with id 22 not found."}]}
    assert fusebill.get(seeded.key, "/customers/7/overview").json()["Errors"][0]["Value"] == "Customer with id 7 not found."
    assert fusebill.get(seeded.key, "/nothing/here").json()["HttpStatusCode"] == 404


@pytest.mark.parametrize("params", [
    {"pageSize": 0}, {"pageSize": 1001}, {"pageSize": "ten"}, {"pageNumber": -1},
    {"query": "noSuchField:1"}, {"query": "modifiedTimestamp:yesterday|"}, {"query": "id:abc"},
    {"query": "firstName"}, {"sortExpression": "noSuchField"}, {"sortOrder": "Sideways"},
])
def test_bad_paging_filter_or_sort_values_are_400(fusebill, seeded, params):
    response = fusebill.get(seeded.key, "/customers", **params)
    assert response.status_code == 400
    assert response.json()["HttpStatusCode"] == 400
