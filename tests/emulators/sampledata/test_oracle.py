"""The oracle's rules on small hand-built accounts whose right answers are worked out by hand."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal as D

import pytest

from emulators.sampledata import (
    CHARGE_REVERSALS, CREDITS, DEFERRED_REVENUE, PAYMENTS, REFUNDS, SALES_TAX_PAYABLE, WRITE_OFFS, expected_books,
)
from emulators.sampledata.oracle import REFUNDED_ALLOCATION_NOTE
from emulators.sampledata.records import (
    Allocation, Charge, Credit, CreditNote, CreditNoteLine, CreditNoteTax, Customer, CustomerRecords, Dataset, Debit,
    Invoice, InvoiceTax, Payment, PaymentActivity, Refund, WriteOff,
)
from emulators.sampledata.taxes import TAX_RULES, rule_by_code

T0 = datetime(2024, 1, 1)


class Account:
    """Hand-build one customer's records with consecutive ids and seqs."""

    def __init__(self, customer_id: int, currency: str = "CAD", status: str = "Active") -> None:
        self.next = 1000 * customer_id
        self.records = CustomerRecords(customer=Customer(
            id=customer_id, status=status, currency=currency, first_name="A", last_name="B", company_name=None,
            primary_email=None, primary_phone=None, reference=None, term="Net30", jurisdiction="CA-ON", address=None,
            created=T0, modified=T0,
        ))

    def _id(self) -> int:
        self.next += 1
        return self.next

    @property
    def currency(self) -> str:
        return self.records.customer.currency

    def invoice(self, *amounts: str, tax_code: str | None = None, tax: str = "0") -> Invoice:
        charges = [Charge(self._id(), f"Line {n}", "P", D(1), D(a), D(a), True) for n, a in enumerate(amounts)]
        taxes = []
        if tax_code:
            rule = rule_by_code(tax_code)
            taxes.append(InvoiceTax(self._id(), rule.id, rule.name, rule.percentage, sum(c.amount for c in charges), D(tax)))
        invoice = Invoice(self._id(), self.next, self.records.customer.id, self.currency, T0, T0 + timedelta(days=30),
                          "Net30", charges, taxes, T0, self._id())
        self.records.invoices.append(invoice)
        return invoice

    def activity(self, status: str, kind: str, amount: str) -> PaymentActivity:
        activity = PaymentActivity(self._id(), self.records.customer.id, status, kind, D(amount), self.currency, "Manual", "Check", T0, T0, T0)
        self.records.payment_activities.append(activity)
        return activity

    def pay(self, amount: str, *allocations: tuple[Invoice, str]) -> Payment:
        activity = self.activity("Successful", "Collect", amount)
        payment = Payment(self._id(), self.records.customer.id, activity.id, D(amount), self.currency, T0, T0, self._id(),
                          [Allocation(inv.id, D(a), T0, self._id()) for inv, a in allocations])
        activity.payment_id = payment.id
        self.records.payments.append(payment)
        return payment

    def refund(self, payment: Payment, amount: str, *allocations: tuple[Invoice, str]) -> Refund:
        activity = self.activity("Successful", "Refund", amount)
        refund = Refund(self._id(), self.records.customer.id, payment.id, activity.id, D(amount), self.currency, T0, T0,
                        self._id(), [Allocation(inv.id, D(a), T0, 0) for inv, a in allocations])
        activity.refund_id = refund.id
        self.records.refunds.append(refund)
        return refund

    def credit(self, amount: str, *allocations: tuple[Invoice, str]) -> Credit:
        credit = Credit(self._id(), self.records.customer.id, D(amount), self.currency, T0, T0, self._id(),
                        [Allocation(inv.id, D(a), T0, self._id()) for inv, a in allocations])
        self.records.credits.append(credit)
        return credit

    def debit(self, credit: Credit, amount: str, *allocations: tuple[Invoice, str]) -> Debit:
        debit = Debit(self._id(), self.records.customer.id, credit.id, D(amount), self.currency, T0, T0, self._id(),
                      [Allocation(inv.id, D(a), T0, 0) for inv, a in allocations])
        self.records.debits.append(debit)
        return debit

    def reverse(self, invoice: Invoice, net: str, tax: str) -> CreditNote:
        taxes = [CreditNoteTax(self._id(), t.tax_rule_id, t.name, t.percentage, D(tax)) for t in invoice.taxes]
        note = CreditNote(self._id(), self.records.customer.id, invoice.id, "01-CR-01", self.currency, T0, T0, self._id(),
                          [CreditNoteLine(self._id(), invoice.charges[0].transaction_id, D(net))], taxes)
        self.records.credit_notes.append(note)
        return note

    def write_off(self, invoice: Invoice, amount: str) -> WriteOff:
        write_off = WriteOff(self._id(), self.records.customer.id, invoice.id, D(amount), self.currency, T0, T0, self._id())
        self.records.write_offs.append(write_off)
        return write_off


def _dataset(*accounts: Account) -> Dataset:
    return Dataset(seed=0, options={}, tax_rules=list(TAX_RULES), customers=[a.records for a in accounts])


@pytest.fixture
def busy() -> Account:
    """Every kind of record once, on two Ontario invoices (HST 13 %)."""
    a = Account(1)
    first = a.invoice("100.00", tax_code="HST-ON", tax="13.00")      # 113.00
    second = a.invoice("50.00", tax_code="HST-ON", tax="6.50")       # 56.50
    payment = a.pay("150.00", (first, "113.00"))                     # 37.00 unallocated
    a.refund(payment, "30.00", (first, "10.00"))                     # 10 from the invoice, 20 unallocated
    credit = a.credit("20.00", (second, "15.00"))                    # 5.00 unapplied
    a.debit(credit, "6.00", (second, "4.00"))                        # 4 back onto the invoice, 2 unapplied
    a.reverse(second, "10.00", "1.30")                               # 11.30 off the second invoice
    a.write_off(second, "5.00")
    a.activity("Failed", "Collect", "99.00")
    a.activity("Successful", "Validate", "0")
    a.activity("Unknown", "Collect", "42.00")
    return a


def test_customer_ar_follows_the_contract_formula(busy):
    books = expected_books(_dataset(busy))
    # invoices 169.50 − payments 150 + refunds 30 − credits 20 + debits 6 − reversals 11.30 − write-offs 5
    assert books.customers[1].ar_balance == D("19.20")
    assert books.customers[1].currency == "CAD"


def test_invoice_balances_and_where_the_mapping_cannot_express_them(busy):
    books = expected_books(_dataset(busy))
    first, second = (busy.records.invoices[0].id, busy.records.invoices[1].id)
    assert books.invoices[first].fusebill_outstanding == D("10.00")   # 113 − 113 + 10 refunded
    assert books.invoices[first].qbo_balance is None and books.invoices[first].note == REFUNDED_ALLOCATION_NOTE
    assert books.invoices[second].fusebill_outstanding == D("29.20")  # 56.50 − 15 + 4 − 11.30 − 5
    assert books.invoices[second].qbo_balance == D("29.20") and books.invoices[second].note is None
    # Σ open invoices − unallocated payment (37 − 20) − unapplied credit (5 − 2) = AR
    assert D("10.00") + D("29.20") - D("17.00") - D("3.00") == books.customers[1].ar_balance


def test_ledger_totals_with_charge_reversals_in_deferred_revenue(busy):
    books = expected_books(_dataset(busy))
    assert books.ledger(DEFERRED_REVENUE, "CAD") == D("140.00")      # 150 net − 10 reversed
    assert books.ledger(SALES_TAX_PAYABLE, "CAD") == D("18.20")      # 19.50 − 1.30
    assert books.ledger(PAYMENTS, "CAD") == D("150.00")              # failed/validate/unknown do not count
    assert books.ledger(REFUNDS, "CAD") == D("30.00")
    assert books.ledger(CREDITS, "CAD") == D("14.00")                # 20 − 6
    assert books.ledger(WRITE_OFFS, "CAD") == D("5.00")              # gross
    assert CHARGE_REVERSALS not in books.ledgers


def test_charge_reversals_can_have_their_own_ledger(busy):
    books = expected_books(_dataset(busy), charge_reversals_ledger=CHARGE_REVERSALS)
    assert books.ledger(DEFERRED_REVENUE, "CAD") == D("150.00")
    assert books.ledger(CHARGE_REVERSALS, "CAD") == D("10.00")
    with pytest.raises(ValueError):
        expected_books(_dataset(busy), charge_reversals_ledger="somewhere")


def test_per_tax_rule_totals(busy):
    books = expected_books(_dataset(busy))
    hst = books.tax_totals[(rule_by_code("HST-ON").id, "CAD")]
    assert (hst.code, hst.invoiced, hst.reversed, hst.net) == ("HST-ON", D("19.50"), D("1.30"), D("18.20"))


def test_only_active_customers_are_synced_unless_asked(busy):
    draft = Account(2, status="Draft")
    cancelled = Account(3, status="Cancelled")
    cancelled.invoice("40.00")
    dataset = _dataset(busy, draft, cancelled)
    books = expected_books(dataset)
    assert set(books.customers) == {1} and books.not_synced == {2: "Draft", 3: "Cancelled"}
    assert books.ledger(DEFERRED_REVENUE, "CAD") == D("140.00")  # the cancelled customer's invoice is not counted
    wider = expected_books(dataset, synced_statuses=("Active", "Cancelled"))
    assert set(wider.customers) == {1, 3} and wider.ledger(DEFERRED_REVENUE, "CAD") == D("180.00")


def test_currencies_never_mix():
    cad, usd = Account(1, "CAD"), Account(2, "USD")
    cad.pay("10.00")
    usd.invoice("7.00")
    books = expected_books(_dataset(cad, usd))
    assert books.ledgers[PAYMENTS] == {"CAD": D("10.00"), "USD": D("0.00")}
    assert books.ledgers[DEFERRED_REVENUE] == {"CAD": D("0.00"), "USD": D("7.00")}
    assert (books.customers[1].ar_balance, books.customers[2].ar_balance) == (D("-10.00"), D("7.00"))
    assert books.currencies() == ["CAD", "USD"]


def test_results_are_rounded_to_the_minor_unit():
    yen = Account(1, "JPY")
    yen.invoice("1200")
    books = expected_books(_dataset(yen))
    assert str(books.customers[1].ar_balance) == "1200" and str(books.ledger(DEFERRED_REVENUE, "JPY")) == "1200"


def test_the_emulators_replay_reaches_the_same_numbers_on_the_hand_built_account(busy):
    from emulators.fusebill.ledger import replay

    ledger = replay(busy.records)
    books = expected_books(_dataset(busy))
    assert ledger.ar_balance == books.customers[1].ar_balance
    assert {i: s.outstanding for i, s in ledger.invoices.items()} == {
        i: e.fusebill_outstanding for i, e in books.invoices.items()
    }


def test_a_charge_reversal_on_a_paid_invoice_leaves_it_at_zero_and_the_rest_as_open_credit():
    # Issue #8 [U]: the credit note reduces A/R by its gross amount; the invoice cannot go below 0 and
    # in QBO "the CreditMemo applies up to the invoice's QBO balance and the rest stays as customer credit".
    a = Account(1)
    invoice = a.invoice("100.00", tax_code="HST-ON", tax="13.00")   # 113.00
    a.pay("113.00", (invoice, "113.00"))
    a.reverse(invoice, "40.00", "5.20")                              # 45.20, all beyond the zero balance
    books = expected_books(_dataset(a))
    expected = books.invoices[invoice.id]
    assert (expected.fusebill_outstanding, expected.qbo_balance, expected.note) == (D("0.00"), D("0.00"), None)
    assert expected.credit_note_credit == D("45.20") and books.customers[1].credit_note_credit == D("45.20")
    assert books.customers[1].ar_balance == D("-45.20")             # 113 − 113 − 45.20
    assert books.ledger(DEFERRED_REVENUE, "CAD") == D("60.00") and books.ledger(SALES_TAX_PAYABLE, "CAD") == D("7.80")


def test_a_reversal_beyond_a_partly_paid_balance_and_the_order_of_later_reopenings():
    # Only the part beyond what the invoice owed just before the credit note is open credit, so the
    # invoice balance depends on the order of the records; A/R does not.
    def account(debit_first: bool) -> Account:
        a = Account(1)
        invoice = a.invoice("100.00")
        credit = a.credit("100.00", (invoice, "100.00"))
        if debit_first:
            a.debit(credit, "40.00", (invoice, "40.00"))             # re-opens 40, then the note closes it
            a.reverse(invoice, "100.00", "0")
        else:
            a.reverse(invoice, "100.00", "0")                        # all 100 is open credit
            a.debit(credit, "40.00", (invoice, "40.00"))             # re-opens 40 afterwards
        return a

    before, after = expected_books(_dataset(account(True))), expected_books(_dataset(account(False)))
    invoice_id = account(True).records.invoices[0].id
    assert (before.invoices[invoice_id].fusebill_outstanding, before.invoices[invoice_id].credit_note_credit) == (D("0.00"), D("60.00"))
    assert (after.invoices[invoice_id].fusebill_outstanding, after.invoices[invoice_id].credit_note_credit) == (D("40.00"), D("100.00"))
    assert after.invoices[invoice_id].qbo_balance == D("40.00")     # the credit's application Payment re-opens it
    assert before.customers[1].ar_balance == after.customers[1].ar_balance == D("-60.00")  # 100 − 100 + 40 − 100


@pytest.mark.parametrize("debit_first", [True, False])
def test_the_emulators_replay_agrees_on_reversals_beyond_the_balance(debit_first):
    from emulators.fusebill.ledger import replay

    a = Account(1)
    paid = a.invoice("100.00", tax_code="HST-ON", tax="13.00")
    partly = a.invoice("50.00", tax_code="HST-ON", tax="6.50")
    a.pay("133.00", (paid, "113.00"), (partly, "20.00"))
    credit = a.credit("10.00", (partly, "10.00"))
    if debit_first:
        a.debit(credit, "10.00", (partly, "10.00"))
    a.reverse(paid, "100.00", "13.00")                               # paid: all 113 open credit
    a.reverse(partly, "50.00", "6.50")                               # owes 26.50 (36.50 after the debit): 30 (20) open credit
    if not debit_first:
        a.debit(credit, "10.00", (partly, "10.00"))
    ledger = replay(a.records)
    books = expected_books(_dataset(a))
    assert ledger.ar_balance == books.customers[1].ar_balance
    assert {i: (s.outstanding, s.credit_note_credit) for i, s in ledger.invoices.items()} == {
        i: (e.fusebill_outstanding, e.credit_note_credit) for i, e in books.invoices.items()
    }
    assert ledger.credit_note_credit == books.customers[1].credit_note_credit == (D("133.00") if debit_first else D("143.00"))
