"""Issue #7, rule 12: what each list carries compared with the per-id / per-customer endpoints
(emulators/fusebill/rules.py, "list shapes vs per-id shapes"), and which records show a
modifiedTimestamp at all."""
from __future__ import annotations

import pytest

from emulators.fusebill import rules
from emulators.fusebill.jsonwire import loads
from emulators.sampledata import generate

SEED, CUSTOMERS = 2, 40


@pytest.fixture(scope="module")
def rich(fusebill):
    """An account where every kind of record exists (refunds, credits, debits, credit notes...)."""
    key = fusebill.create_account("live")
    fusebill.seed(key, CUSTOMERS, SEED)
    return key, generate(CUSTOMERS, SEED)


def _get(fusebill, key, path, **params):
    response = fusebill.get(key, path, **params)
    assert response.status_code == 200, (path, response.text)
    return loads(response.content)


def test_account_wide_invoices_carry_scalars_only(fusebill, rich):
    key, dataset = rich
    bundle = next(b for b in dataset.customers if any(i.taxes for i in b.invoices))
    listed = {i["id"]: i for i in _get(fusebill, key, "/Invoices", pageSize=1000, query=f"customerId:{bundle.customer.id}")}
    for invoice in bundle.invoices:
        one = _get(fusebill, key, f"/Invoices/{invoice.id}")
        row = listed[invoice.id]
        assert list(row) == list(one)  # same DTO, same field order
        for name in rules.INVOICE_LIST_NULLED_FIELDS:
            assert row[name] is None, name
        assert one["charges"] and one["invoiceCustomer"] and one["paymentSchedules"]
        assert {k: v for k, v in row.items() if k not in rules.INVOICE_LIST_NULLED_FIELDS} == {
            k: v for k, v in one.items() if k not in rules.INVOICE_LIST_NULLED_FIELDS}
    assert any(_get(fusebill, key, f"/Invoices/{i.id}")["taxes"] for i in bundle.invoices)


def test_per_customer_invoices_carry_lines_and_taxes_like_the_per_id_read(fusebill, rich):
    key, dataset = rich
    bundle = next(b for b in dataset.customers if any(i.taxes for i in b.invoices))
    for row in _get(fusebill, key, f"/Customers/{bundle.customer.id}/Invoices", pageSize=1000):
        assert row == _get(fusebill, key, f"/Invoices/{row['id']}")


def test_invoice_summaries_have_no_lines_and_match_the_invoice_balances(fusebill, rich):
    key, dataset = rich
    bundle = next(b for b in dataset.customers if b.invoices)
    for summary in _get(fusebill, key, f"/customers/{bundle.customer.id}/invoiceSummaries", pageSize=1000):
        assert not {"charges", "taxes", "paymentSchedules", "invoiceCustomer"} & set(summary)
        one = _get(fusebill, key, f"/Invoices/{summary['id']}")
        assert (summary["outstandingBalance"], summary["modifiedTimestamp"], summary["invoiceAmount"]) == (
            one["outstandingBalance"], one["modifiedTimestamp"], one["invoiceAmount"])


def test_the_credit_note_list_is_a_summary_without_lines_taxes_or_invoice(fusebill, rich):
    key, dataset = rich
    note = next(n for b in dataset.customers for n in b.credit_notes if n.taxes)
    listed = _get(fusebill, key, "/CreditNotes", query=f"invoiceId:{note.invoice_id}")
    row = next(n for n in listed if n["id"] == note.id)
    one = _get(fusebill, key, f"/CreditNotes/{note.id}")
    for name in rules.CREDIT_NOTE_LIST_OMITTED_FIELDS:
        assert name not in row and name in one, name
    assert one["lineItems"] and one["taxes"] and one["invoice"]
    assert row == {k: v for k, v in one.items() if k not in rules.CREDIT_NOTE_LIST_OMITTED_FIELDS}


def test_the_invoice_inside_a_credit_note_is_summarised_like_the_documented_example(fusebill, rich):
    key, dataset = rich
    note = next(n for b in dataset.customers for n in b.credit_notes)
    embedded = _get(fusebill, key, f"/CreditNotes/{note.id}")["invoice"]
    for name in rules.EMBEDDED_INVOICE_OMITTED_FIELDS:
        assert name not in embedded, name
    # The verified example's order: invoiceSignature, poNumber, effectiveTimestamp, postedTimestamp,
    # chargeGroups (null), subtotal, invoiceAmount, totalPayments, unsettled, outstandingBalance, terms.
    assert list(embedded)[:11] == ["invoiceSignature", "poNumber", "effectiveTimestamp", "postedTimestamp", "chargeGroups",
                                   "subtotal", "invoiceAmount", "totalPayments", "unsettled", "outstandingBalance", "terms"]
    assert embedded["chargeGroups"] is None and list(embedded)[-2:] == ["id", "uri"]


def test_payment_activity_lists_carry_the_whole_activity(fusebill, rich):
    key, dataset = rich
    bundle = next(b for b in dataset.customers if b.refunds)
    per_customer = _get(fusebill, key, f"/customers/{bundle.customer.id}/paymentactivities", pageSize=1000)
    everyone = {a["id"]: a for a in _get(fusebill, key, "/PaymentActivities/GetByAccountID", pageSize=1000)}
    assert per_customer and any(a["transaction"] for a in per_customer)
    for row in per_customer:
        assert row == _get(fusebill, key, f"/PaymentActivities/{row['id']}") == everyone[row["id"]]


def test_customer_list_items_equal_the_per_id_read(fusebill, rich):
    key, _ = rich
    for row in _get(fusebill, key, "/customers", pageSize=10):
        assert row == _get(fusebill, key, f"/customers/{row['id']}")


def test_modified_timestamp_only_where_documented(fusebill, rich):
    """Customers, invoices, invoice summaries and payment activities show modifiedTimestamp; refunds,
    payments, credits, debits, credit notes and AR activities document none, so show none."""
    key, dataset = rich
    bundle = next(b for b in dataset.customers if b.refunds)
    refund = bundle.refunds[0]
    credit_bundle = next(b for b in dataset.customers if b.debits)
    note = next(n for b in dataset.customers for n in b.credit_notes)
    shown = {
        "customer": _get(fusebill, key, f"/customers/{bundle.customer.id}"),
        "invoice": _get(fusebill, key, f"/Invoices/{bundle.invoices[0].id}"),
        "summary": _get(fusebill, key, f"/customers/{bundle.customer.id}/invoiceSummaries")[0],
        "activity": _get(fusebill, key, f"/PaymentActivities/{refund.payment_activity_id}"),
    }
    for name, body in shown.items():
        assert body["modifiedTimestamp"], name
    hidden = {
        "refund": _get(fusebill, key, f"/Refunds/{refund.id}"),
        "payment": _get(fusebill, key, f"/payments/{refund.payment_id}"),
        "credit": _get(fusebill, key, f"/Credits/{credit_bundle.debits[0].credit_id}"),
        "debit": _get(fusebill, key, f"/Debits/{credit_bundle.debits[0].id}"),
        "credit note": _get(fusebill, key, f"/CreditNotes/{note.id}"),
        "credit note row": _get(fusebill, key, "/CreditNotes", query=f"invoiceId:{note.invoice_id}")[0],
        "ar activity": _get(fusebill, key, f"/customers/{bundle.customer.id}/customerArActivities")[0],
    }
    for name, body in hidden.items():
        assert "modifiedTimestamp" not in body, name
