"""The oracle (formulas over the Dataset) agrees with the emulator (replayed allocations) for every
generated customer: AR via /customers/{id}/overview and every invoice's outstanding balance, plus
ledger totals summed from what the API exposes, as a sync would read them."""
from __future__ import annotations

import dataclasses
from collections import defaultdict
from decimal import Decimal

import pytest

from emulators.fusebill.jsonwire import loads
from emulators.sampledata import (
    CHARGE_REVERSALS, CREDITS, DEFERRED_REVENUE, PAYMENTS, REFUNDS, SALES_TAX_PAYABLE, WRITE_OFFS, ExpectedBooks,
    expected_books, generate,
)

CUSTOMERS = 300


def _all_pages(fusebill, key, path, **params):
    items, page = [], 0
    while True:
        response = fusebill.get(key, path, pageSize=1000, pageNumber=page, **params)
        assert response.status_code == 200, response.text
        items += loads(response.content)
        if page >= int(response.headers["X-MaxPageIndex"]):
            return items
        page += 1


def disagreements(fusebill, key: str, books: ExpectedBooks) -> list[str]:
    """Every place where the emulator's balances differ from the oracle's (empty = agreement)."""
    problems = []
    for customer_id, expected in books.customers.items():
        overview = loads(fusebill.get(key, f"/customers/{customer_id}/overview").content)
        if overview["arBalance"] != expected.ar_balance:
            problems.append(f"customer {customer_id}: AR {overview['arBalance']} != oracle {expected.ar_balance}")
    for invoice in _all_pages(fusebill, key, "/invoiceSummaries"):
        expected_invoice = books.invoices.get(invoice["id"])
        if expected_invoice is None:
            continue  # a customer the sync never touches
        if invoice["outstandingBalance"] != expected_invoice.fusebill_outstanding:
            problems.append(f"invoice {invoice['id']}: {invoice['outstandingBalance']} != oracle {expected_invoice.fusebill_outstanding}")
    return problems


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_oracle_agrees_with_the_emulator_for_every_customer_and_invoice(fusebill, seed):
    key = fusebill.create_account("live")
    fusebill.seed(key, CUSTOMERS, seed)
    books = expected_books(generate(CUSTOMERS, seed))
    assert len(books.customers) > 200 and len(books.invoices) > 1000
    assert disagreements(fusebill, key, books) == []
    # Customers the sync never touches have no expectation, whatever Fusebill says about them.
    assert all(status != "Active" for status in books.not_synced.values())


def test_the_comparison_catches_a_wrong_oracle(fusebill):
    """The agreement test can fail: an oracle that forgets refunds re-open invoices is caught."""
    key = fusebill.create_account("live")
    fusebill.seed(key, 60, 5)
    dataset = generate(60, 5)
    for bundle in dataset.customers:
        for refund in bundle.refunds:
            refund.allocations = []  # the oracle's copy only; the emulator keeps the real records
    wrong = expected_books(dataset)
    problems = disagreements(fusebill, key, wrong)
    assert problems and all(p.startswith("invoice") for p in problems)
    off_by_a_cent = dataclasses.replace(
        expected_books(generate(60, 5)),
        customers={cid: dataclasses.replace(c, ar_balance=c.ar_balance + Decimal("0.01"))
                   for cid, c in expected_books(generate(60, 5)).customers.items()},
    )
    assert len(disagreements(fusebill, key, off_by_a_cent)) == len(off_by_a_cent.customers)


def test_ledger_totals_can_be_rebuilt_from_what_the_api_exposes(fusebill):
    """A sync reading only the API can reach the oracle's ledger totals: the shapes carry enough."""
    seed = 4
    key = fusebill.create_account("live")
    fusebill.seed(key, 120, seed)
    dataset = generate(120, seed)
    for choice in (DEFERRED_REVENUE, CHARGE_REVERSALS):
        books = expected_books(dataset, charge_reversals_ledger=choice)
        totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        for customer_id, expected in books.customers.items():
            currency = expected.currency
            invoices = _all_pages(fusebill, key, f"/Customers/{customer_id}/Invoices")
            totals[DEFERRED_REVENUE][currency] += sum((i["subtotal"] for i in invoices), Decimal(0))
            totals[SALES_TAX_PAYABLE][currency] += sum((t["amount"] for i in invoices for t in i["taxes"]), Decimal(0))
            totals[WRITE_OFFS][currency] += sum((i["totalWriteoffs"] for i in invoices), Decimal(0))
            for activity in _all_pages(fusebill, key, f"/customers/{customer_id}/paymentactivities"):
                if activity["status"] == "Successful" and activity["transactionType"] == "Collect":
                    totals[PAYMENTS][currency] += activity["amount"]
                elif activity["status"] == "Successful" and activity["transactionType"] == "Refund":
                    totals[REFUNDS][currency] += activity["amount"]
            for entry in _all_pages(fusebill, key, f"/customers/{customer_id}/customerArActivities"):
                if entry["transactionType"] == "Credit":
                    totals[CREDITS][currency] += entry["arCredit"]
                elif entry["transactionType"] == "Debit":
                    totals[CREDITS][currency] -= entry["arDebit"]
            for note in _all_pages(fusebill, key, "/CreditNotes", query=f"Invoice.CustomerId:{customer_id}"):
                ledger = DEFERRED_REVENUE if choice == DEFERRED_REVENUE else CHARGE_REVERSALS
                totals[ledger][currency] += -note["netAmount"] if ledger == DEFERRED_REVENUE else note["netAmount"]
                totals[SALES_TAX_PAYABLE][currency] -= note["totalTaxAmount"]
        for ledger, by_currency in books.ledgers.items():
            for currency, amount in by_currency.items():
                assert totals[ledger][currency] == amount, (choice, ledger, currency)


def test_open_credit_from_reversals_of_paid_invoices_shows_in_the_overview(fusebill):
    """Issue #8 [U]: a credit note beyond its invoice's balance is open credit, counted in the
    overview's unallocatedCredits, so arBalance = Σ open invoices − unallocatedPayments − unallocatedCredits."""
    seed = 2
    key = fusebill.create_account("live")
    fusebill.seed(key, 200, seed)
    books = expected_books(generate(200, seed))
    with_credit = [c for c in books.customers.values() if c.credit_note_credit > 0]
    assert with_credit
    for expected in with_credit:
        overview = loads(fusebill.get(key, f"/customers/{expected.customer_id}/overview").content)
        invoices = _all_pages(fusebill, key, f"/customers/{expected.customer_id}/invoiceSummaries")
        open_invoices = sum((i["outstandingBalance"] for i in invoices), Decimal(0))
        assert overview["unallocatedCredits"] >= expected.credit_note_credit
        assert overview["arBalance"] == expected.ar_balance == (
            open_invoices - overview["unallocatedPayments"] - overview["unallocatedCredits"])
