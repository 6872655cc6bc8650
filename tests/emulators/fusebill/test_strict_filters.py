"""Issue #7, rule 11: each list accepts exactly the `query=` filters (and sort fields) its
documentation lists (emulators/fusebill/rules.py), and refuses every other name with a 400 like any
unknown filter. `field:[empty]` is valid for every kind of field, so it probes the name alone."""
from __future__ import annotations

import pytest

from emulators.fusebill import rules
from emulators.fusebill.jsonwire import loads
from emulators.sampledata.money import format_timestamp


@pytest.fixture(scope="module")
def ids(seeded):
    """One customer with invoices, for the per-customer routes."""
    bundle = next(b for b in seeded.dataset.customers if b.invoices and b.payment_activities)
    return {"cid": bundle.customer.id}


def _lists(ids):
    cid = ids["cid"]
    return {
        "customers": "/customers",
        "customer_invoices": f"/Customers/{cid}/Invoices",
        "invoices": "/Invoices",
        "invoice_summaries": "/invoiceSummaries",
        "customer_invoice_summaries": f"/customers/{cid}/invoiceSummaries",
        "customer_payment_activities": f"/customers/{cid}/paymentactivities",
        "payment_activities": "/PaymentActivities/GetByAccountID",
        "credit_notes": "/CreditNotes",
    }


DOCUMENTED = {
    "customers": rules.CUSTOMER_FILTERS,
    "customer_invoices": rules.CUSTOMER_INVOICE_FILTERS,
    "invoices": rules.INVOICE_FILTERS,
    "invoice_summaries": rules.INVOICE_SUMMARY_FILTERS,
    "customer_invoice_summaries": rules.INVOICE_SUMMARY_FILTERS,
    "customer_payment_activities": rules.PAYMENT_ACTIVITY_FILTERS,
    "payment_activities": rules.PAYMENT_ACTIVITY_FILTERS,
    "credit_notes": rules.CREDIT_NOTE_FILTERS,
}

# The payment-activity enum filters by enum name sort (and say so) under the field's name.
ENUM_FIELDS = {"PaymentActivityStatus": "status", "PaymentType": "transactionType", "PaymentSource": "source"}

# Names the emulator used to accept (or a client might guess) that the endpoint's docs do not list.
UNDOCUMENTED = {
    "customers": ("id", "currency", "activationTimestamp", "customerAccountStatus", "arBalanceX", "uri"),
    "customer_invoices": ("id", "modifiedTimestamp", "customerId", "invoiceStatus", "outstandingBalance", "currency"),
    "invoices": ("modifiedTimestamp", "id", "invoiceNumber", "invoiceAmount", "outstandingBalance", "currency",
                 "invoiceStatus", "quickBooksId", "Customer.CreatedTimestamp"),
    "invoice_summaries": ("id", "createdTimestamp", "subtotal", "poNumber", "openingArBalance", "netsuiteId"),
    "customer_invoice_summaries": ("id", "createdTimestamp", "subtotal"),
    "customer_payment_activities": ("id", "customerId", "method", "currency"),
    "payment_activities": ("id", "customerId", "method", "currency", "paymentMethod"),
    "credit_notes": ("modifiedTimestamp", "effectiveTimestamp", "customerId", "id", "currency", "netAmount",
                     "creditNotesNumber"),
}


def _cases(table):
    return [(endpoint, name) for endpoint, names in table.items() for name in names]


@pytest.mark.parametrize("endpoint, name", _cases(DOCUMENTED))
def test_every_documented_filter_is_accepted_and_sorts(fusebill, seeded, ids, endpoint, name):
    path = _lists(ids)[endpoint]
    response = fusebill.get(seeded.key, path, query=f"{name}:[empty]")
    assert response.status_code == 200, (path, name, response.text)
    assert isinstance(response.json(), list)
    sorted_ = fusebill.get(seeded.key, path, sortExpression=name, pageSize=5)
    assert sorted_.status_code == 200, (path, name, sorted_.text)
    assert sorted_.headers["X-SortExpression"] == ENUM_FIELDS.get(name, name)


@pytest.mark.parametrize("endpoint, name", _cases(UNDOCUMENTED))
def test_an_undocumented_filter_is_refused_like_an_unknown_one(fusebill, seeded, ids, endpoint, name):
    path = _lists(ids)[endpoint]
    response = fusebill.get(seeded.key, path, query=f"{name}:[empty]")
    assert response.status_code == 400, (path, name, response.text)
    unknown = fusebill.get(seeded.key, path, query="noSuchField:[empty]")
    assert response.json()["Errors"][0]["Value"] == unknown.json()["Errors"][0]["Value"].replace("noSuchField", name)
    assert fusebill.get(seeded.key, path, sortExpression=name).status_code == 400  # nor a sort field


def test_invoices_filter_by_their_customers_modified_timestamp(fusebill, seeded):
    """`Customer.ModifiedTimestamp` on /Invoices selects invoices whose customer's modifiedTimestamp
    is in range (and sorts by it); `modifiedTimestamp` is refused there."""
    customers = {c["id"]: c for c in loads(fusebill.get(seeded.key, "/customers", pageSize=1000).content)}
    stamps = sorted({c["modifiedTimestamp"] for c in customers.values()})
    pivot = stamps[len(stamps) // 2]
    response = fusebill.get(seeded.key, "/Invoices", pageSize=1000, query=f"Customer.ModifiedTimestamp:{pivot}|")
    assert response.status_code == 200, response.text
    expected = sorted(inv.id for b in seeded.dataset.customers for inv in b.invoices
                      if customers[b.customer.id]["modifiedTimestamp"] >= pivot)
    assert sorted(i["id"] for i in response.json()) == expected and expected
    by_stamp = fusebill.get(seeded.key, "/Invoices", pageSize=1000, sortExpression="Customer.ModifiedTimestamp").json()
    order = [customers[i["customerId"]]["modifiedTimestamp"] for i in by_stamp]
    assert order == sorted(order)
    assert fusebill.get(seeded.key, "/Invoices", query=f"modifiedTimestamp:{pivot}|").status_code == 400


def test_credit_notes_filter_by_invoice_fields_and_number(fusebill):
    key = fusebill.create_account("live")
    fusebill.seed(key, 40, 2)
    from emulators.sampledata import generate

    dataset = generate(40, 2)
    notes = [n for b in dataset.customers for n in b.credit_notes]
    invoices = {i.id: i for b in dataset.customers for i in b.invoices}
    note = notes[0]
    invoice = invoices[note.invoice_id]

    def found(query):
        response = fusebill.get(key, "/CreditNotes", pageSize=1000, query=query)
        assert response.status_code == 200, response.text
        return sorted(n["id"] for n in response.json())

    assert found(f"invoiceId:{note.invoice_id}") == sorted(n.id for n in notes if n.invoice_id == note.invoice_id)
    assert found(f"Invoice.CustomerId:{note.customer_id}") == sorted(n.id for n in notes if n.customer_id == note.customer_id)
    assert found(f"Invoice.InvoiceNumber:{invoice.invoice_number}") == sorted(
        n.id for n in notes if invoices[n.invoice_id].invoice_number == invoice.invoice_number)
    assert found(f"Number:{note.number}") == [note.id]
    since = format_timestamp(invoice.posted)
    assert found(f"Invoice.PostedTimestamp:{since}|") == sorted(n.id for n in notes if invoices[n.invoice_id].posted >= invoice.posted)
    for refused in (f"customerId:{note.customer_id}", "modifiedTimestamp:2000-01-01|", "effectiveTimestamp:2000-01-01|"):
        assert fusebill.get(key, "/CreditNotes", query=refused).status_code == 400, refused


def test_payment_activities_filter_by_method_type_gateway_and_amount(fusebill, seeded):
    activities = [a for b in seeded.dataset.customers for a in b.payment_activities]

    def found(query):
        response = fusebill.get(seeded.key, "/PaymentActivities/GetByAccountID", pageSize=1000, query=query)
        assert response.status_code == 200, response.text
        return [a["id"] for a in response.json()]

    cards = found("PaymentMethodType:CreditCard")
    assert cards == [a.id for a in activities if a.method.startswith("CreditCard")] and cards
    assert found("PaymentMethodType:Check,Cash") == [a.id for a in activities if a.method in ("Check", "Cash")]
    manual = found("GatewayName:[empty]")
    assert manual == [a.id for a in activities if a.source == "Manual"]
    assert found("PaymentType:Refund;PaymentActivityStatus:Successful") == [
        a.id for a in activities if a.transaction_type == "Refund" and a.status == "Successful"]
    assert found("amount:100|") == [a.id for a in activities if a.amount >= 100]


def test_ar_activities_take_only_a_date_window_and_sort_only_by_effective_timestamp(fusebill, seeded, ids):
    path = f"/customers/{ids['cid']}/customerArActivities"
    assert fusebill.get(seeded.key, path, query="startDate:2000-01-01;endDate:2100-01-01").status_code == 200
    for refused in ("effectiveTimestamp:2000-01-01|", "transactionType:Charge", "id:1", "modifiedTimestamp:2000-01-01|"):
        assert fusebill.get(seeded.key, path, query=refused).status_code == 400, refused
    descending = fusebill.get(seeded.key, path, pageSize=1000, sortExpression="effectiveTimestamp", sortOrder="Descending")
    stamps = [e["effectiveTimestamp"] for e in descending.json()]
    assert stamps == sorted(stamps, reverse=True) and stamps
    for refused in ("id", "transactionType", "arDebit"):
        assert fusebill.get(seeded.key, path, sortExpression=refused).status_code == 400, refused


@pytest.mark.parametrize("path", ["/aractivities", "/arActivities", "/Refunds", "/Credits", "/Debits", "/payments"])
def test_undocumented_account_wide_lists_do_not_exist(fusebill, seeded, path):
    response = fusebill.get(seeded.key, path)
    assert response.status_code == 404
    assert response.json()["HttpStatusCode"] == 404
