"""Fusebill's accounting for one customer, derived by replaying the records in posting order.

Nothing here uses the oracle's formulas. Every balance the emulator serves comes from walking the
customer's events in `seq` order and moving money between invoices, payments and credits as Fusebill
does:

* posting an invoice adds its charges and taxes to A/R and opens its balance at `invoiceAmount`;
* a payment credits A/R by its whole amount; each allocation moves part of its unallocated money onto
  one invoice (at most what the invoice still owes);
* a refund debits A/R; its allocations take money back out of invoices the payment had been allocated
  to (those invoices re-open), the rest comes out of the payment's unallocated money;
* a credit credits A/R; its allocations work like a payment's; a debit (credit reversal) debits A/R
  and, like a refund, takes allocated credit back out of invoices or reduces the unallocated credit;
* a credit note (charge reversal) credits A/R with the reversed net and the reversed tax (its gross
  total) and lowers the invoice's balance by that total, down to zero at most: the part beyond what
  the invoice still owes (all of it on a paid invoice) becomes the customer's open credit
  (`InvoiceState.credit_note_credit`, shown in the overview's `unallocatedCredits`) [U];
* a write-off credits A/R with the gross amount written off and lowers the invoice's balance by it.

The AR balance is the sum of the AR activities (arDebit − arCredit). After the replay the emulator
checks that it equals Σ invoice outstanding − Σ unallocated payments − Σ unallocated credits − Σ
open credit left by credit notes; a mismatch means broken records and is reported, never served.

Credit notes beyond the balance: [U] unconfirmed: allowed, the excess becomes open credit. Nothing
confirms Fusebill's rule either way (issue #8); billing systems commonly let a paid invoice's charges
be reversed. The excess stays with the customer as open credit: nothing in the records applies it to
another invoice, refunds or debits that later take money back out of the invoice re-open it as
usual (the open credit is not touched), and the invoice's `datePaid` does not move when its balance
was already zero.

Rules Fusebill documents nowhere and this emulator enforces [U] (fusebill-api.md §3.4-3.8 give the
objects, not the rules): an allocation never exceeds what the invoice owes or what the payment/credit
has unallocated; a refund or debit never exceeds what is left to refund/reverse, and its allocations
never exceed what that payment/credit has allocated to that invoice; a charge reversal reverses whole
or partial charges, never more of a charge than was charged nor more of a tax than was invoiced
(beyond the invoice's outstanding balance it is allowed, see above); a write-off never exceeds the
outstanding balance; a Draft customer has no financial records; every record is in the customer's
currency and in whole minor units. A violation raises `LedgerError`, which the control API turns
into a 400.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from emulators.sampledata.money import ZERO, is_whole_minor_units
from emulators.sampledata.records import (
    COLLECT, DRAFT, REFUND, SUCCESSFUL, Allocation, Credit, CreditNote, CustomerRecords, Debit, Invoice, Payment,
    Refund, WriteOff,
)
from emulators.fusebill import shapes


class LedgerError(ValueError):
    """The records break a Fusebill rule (the message says which record and why)."""


@dataclass
class InvoiceState:
    invoice: Invoice
    outstanding: Decimal
    payments_allocated: Decimal = ZERO
    refunds_allocated: Decimal = ZERO
    credits_allocated: Decimal = ZERO
    debits_allocated: Decimal = ZERO
    credit_notes_total: Decimal = ZERO
    write_offs_total: Decimal = ZERO
    credit_note_credit: Decimal = ZERO  # credit notes beyond the balance: the customer's open credit [U]
    opening_ar: Decimal = ZERO
    closing_ar: Decimal = ZERO
    paid_at: datetime | None = None
    reversed_by_charge: dict[int, Decimal] = field(default_factory=dict)
    reversed_tax_by_rule: dict[int, Decimal] = field(default_factory=dict)
    payment_allocations: list[tuple[Payment, Allocation]] = field(default_factory=list)
    credit_allocations: list[tuple[Credit, Allocation]] = field(default_factory=list)

    @property
    def total_payments(self) -> Decimal:
        """Payment money still on the invoice (allocations less refunded allocations)."""
        return self.payments_allocated - self.refunds_allocated


@dataclass
class PaymentState:
    payment: Payment
    unallocated: Decimal
    refunded: Decimal = ZERO
    allocated_to: dict[int, Decimal] = field(default_factory=dict)  # invoice id -> net of refunds
    refunds: list[Refund] = field(default_factory=list)

    @property
    def refundable(self) -> Decimal:
        return self.payment.amount - self.refunded


@dataclass
class CreditState:
    credit: Credit
    unallocated: Decimal
    reversed: Decimal = ZERO
    allocated_to: dict[int, Decimal] = field(default_factory=dict)  # invoice id -> net of debits
    debits: list[Debit] = field(default_factory=list)

    @property
    def reversable(self) -> Decimal:
        return self.credit.amount - self.reversed


@dataclass
class ArEntry:
    """One AR activity ("transaction", fusebill-api.md §3.9)."""

    id: int
    seq: int
    effective: datetime
    transaction_type: str
    name: str | None
    description: str | None
    ar_debit: Decimal
    ar_credit: Decimal
    invoice_allocations: list[tuple[int, Decimal]] = field(default_factory=list)
    payment_activity_id: int | None = None
    manual_reference: str | None = None
    product_code: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    gl_code: str | None = None
    associated_id: int | None = None


@dataclass
class CustomerLedger:
    """Every balance of one customer, as of the last record."""

    invoices: dict[int, InvoiceState]
    payments: dict[int, PaymentState]
    credits: dict[int, CreditState]
    ar_entries: list[ArEntry]
    ar_balance: Decimal
    currency: str

    @property
    def credit_note_credit(self) -> Decimal:
        """Open credit left by credit notes that exceeded their invoice's balance (module docstring)."""
        return sum((state.credit_note_credit for state in self.invoices.values()), ZERO)


def replay(records: CustomerRecords) -> CustomerLedger:
    """Derive every balance of `records` by replaying them in posting order (module docstring)."""
    return _Replay(records).run()


class _Replay:
    def __init__(self, records: CustomerRecords) -> None:
        self.records = records
        self.customer = records.customer
        self.invoices: dict[int, InvoiceState] = {}
        self.payments: dict[int, PaymentState] = {}
        self.credits: dict[int, CreditState] = {}
        self.entries: list[ArEntry] = []
        self.ar = ZERO

    def run(self) -> CustomerLedger:
        if self.customer.status == DRAFT and self.records.has_financial_records():
            raise LedgerError(f"customer {self.customer.id} is a Draft customer and cannot have financial records")
        self._check_activities()
        for _, _, handler, args in sorted(self._events(), key=lambda event: (event[0], event[1])):
            handler(*args)
        unallocated = sum((p.unallocated for p in self.payments.values()), ZERO) + sum(
            (c.unallocated for c in self.credits.values()), ZERO
        ) + sum((state.credit_note_credit for state in self.invoices.values()), ZERO)
        open_balances = sum((state.outstanding for state in self.invoices.values()), ZERO)
        if self.ar != open_balances - unallocated:
            raise LedgerError(
                f"customer {self.customer.id}: AR {self.ar} != open invoices {open_balances} - unallocated {unallocated}"
            )
        return CustomerLedger(self.invoices, self.payments, self.credits, self.entries, self.ar, self.customer.currency)

    def _events(self) -> list[tuple[int, int, Any, tuple]]:
        events: list[tuple[int, int, Any, tuple]] = []
        for invoice in self.records.invoices:
            events.append((invoice.seq, 0, self._invoice, (invoice,)))
        for payment in self.records.payments:
            events.append((payment.seq, 1, self._payment, (payment,)))
            events.extend((a.seq, 2, self._payment_allocation, (payment, a)) for a in payment.allocations)
        for credit in self.records.credits:
            events.append((credit.seq, 1, self._credit, (credit,)))
            events.extend((a.seq, 2, self._credit_allocation, (credit, a)) for a in credit.allocations)
        for refund in self.records.refunds:
            events.append((refund.seq, 3, self._refund, (refund,)))
        for debit in self.records.debits:
            events.append((debit.seq, 3, self._debit, (debit,)))
        for note in self.records.credit_notes:
            events.append((note.seq, 4, self._credit_note, (note,)))
        for write_off in self.records.write_offs:
            events.append((write_off.seq, 5, self._write_off, (write_off,)))
        return events

    # --- checks shared by every event ---

    def _money(self, what: str, amount: Decimal, currency: str, positive: bool = True) -> None:
        if currency != self.customer.currency:
            raise LedgerError(f"{what} is in {currency} but the customer bills in {self.customer.currency}")
        if not is_whole_minor_units(amount, currency):
            raise LedgerError(f"{what}: amount {amount} is not in whole minor units of {currency}")
        if positive and amount <= 0:
            raise LedgerError(f"{what}: amount must be positive (got {amount})")

    def _invoice_state(self, what: str, invoice_id: int) -> InvoiceState:
        state = self.invoices.get(invoice_id)
        if state is None:
            raise LedgerError(f"{what}: invoice {invoice_id} is not a posted invoice of customer {self.customer.id} (at that point)")
        return state

    def _add_entry(self, entry: ArEntry) -> None:
        self.entries.append(entry)
        self.ar += entry.ar_debit - entry.ar_credit

    def _set_outstanding(self, state: InvoiceState, amount: Decimal, when: datetime) -> None:
        state.outstanding = amount
        state.paid_at = when if amount == 0 else None

    def _check_activities(self) -> None:
        payments = {p.id: p for p in self.records.payments}
        refunds = {r.id: r for r in self.records.refunds}
        for activity in self.records.payment_activities:
            moves_money = activity.status == SUCCESSFUL and activity.transaction_type in (COLLECT, REFUND)
            target = payments.get(activity.payment_id) if activity.transaction_type == COLLECT else refunds.get(activity.refund_id)
            if moves_money and (target is None or target.amount != activity.amount):
                raise LedgerError(f"payment activity {activity.id} is a successful {activity.transaction_type} without a matching transaction")
            if not moves_money and (activity.payment_id or activity.refund_id):
                raise LedgerError(f"payment activity {activity.id} ({activity.status} {activity.transaction_type}) cannot carry a transaction")
        activity_ids = {a.id for a in self.records.payment_activities}
        for payment in self.records.payments:
            if payment.payment_activity_id not in activity_ids:
                raise LedgerError(f"payment {payment.id} has no payment activity")
        for refund in self.records.refunds:
            if refund.payment_activity_id not in activity_ids:
                raise LedgerError(f"refund {refund.id} has no payment activity")

    # --- events ---

    def _invoice(self, invoice: Invoice) -> None:
        what = f"invoice {invoice.id}"
        if invoice.customer_id != self.customer.id or invoice.id in self.invoices:
            raise LedgerError(f"{what} does not belong to customer {self.customer.id} or is posted twice")
        if not invoice.charges:
            raise LedgerError(f"{what} has no charges")
        for charge in invoice.charges:
            self._money(f"{what} charge {charge.transaction_id}", charge.amount, invoice.currency, positive=False)
        for tax in invoice.taxes:
            self._money(f"{what} tax {tax.tax_rule_id}", tax.amount, invoice.currency, positive=False)
        state = InvoiceState(invoice=invoice, outstanding=invoice.invoice_amount, opening_ar=self.ar)
        for charge in invoice.charges:
            self._add_entry(ArEntry(
                id=charge.transaction_id, seq=invoice.seq, effective=invoice.posted, transaction_type=shapes.AR_CHARGE,
                name=charge.name, description=charge.description, ar_debit=charge.amount, ar_credit=ZERO,
                invoice_allocations=[(invoice.id, charge.amount)], product_code=charge.product_code,
                quantity=charge.quantity, unit_price=charge.unit_price, gl_code=charge.gl_code,
            ))
        for tax in invoice.taxes:
            self._add_entry(ArEntry(
                id=tax.transaction_id, seq=invoice.seq, effective=invoice.posted, transaction_type=shapes.AR_TAX,
                name=tax.name, description=f"{tax.name} {tax.percentage}%", ar_debit=tax.amount, ar_credit=ZERO,
                invoice_allocations=[(invoice.id, tax.amount)],
            ))
        state.closing_ar = self.ar
        self._set_outstanding(state, state.outstanding, invoice.posted)
        self.invoices[invoice.id] = state

    def _payment(self, payment: Payment) -> None:
        self._money(f"payment {payment.id}", payment.amount, payment.currency)
        self.payments[payment.id] = PaymentState(payment=payment, unallocated=payment.amount)
        self._add_entry(ArEntry(
            id=payment.id, seq=payment.seq, effective=payment.effective, transaction_type=shapes.AR_PAYMENT,
            name="Payment", description=None, ar_debit=ZERO, ar_credit=payment.amount,
            invoice_allocations=[(a.invoice_id, a.amount) for a in payment.allocations],
            payment_activity_id=payment.payment_activity_id, manual_reference=payment.reference,
        ))

    def _payment_allocation(self, payment: Payment, allocation: Allocation) -> None:
        what = f"allocation of payment {payment.id} to invoice {allocation.invoice_id}"
        self._money(what, allocation.amount, payment.currency)
        source = self.payments[payment.id]
        state = self._invoice_state(what, allocation.invoice_id)
        if allocation.amount > source.unallocated:
            raise LedgerError(f"{what}: {allocation.amount} exceeds the payment's unallocated {source.unallocated}")
        if allocation.amount > state.outstanding:
            raise LedgerError(f"{what}: {allocation.amount} exceeds the invoice's outstanding balance {state.outstanding}")
        source.unallocated -= allocation.amount
        source.allocated_to[allocation.invoice_id] = source.allocated_to.get(allocation.invoice_id, ZERO) + allocation.amount
        state.payments_allocated += allocation.amount
        state.payment_allocations.append((payment, allocation))
        self._set_outstanding(state, state.outstanding - allocation.amount, allocation.effective)

    def _refund(self, refund: Refund) -> None:
        what = f"refund {refund.id}"
        self._money(what, refund.amount, refund.currency)
        source = self.payments.get(refund.payment_id)
        if source is None:
            raise LedgerError(f"{what}: payment {refund.payment_id} is not an earlier payment of this customer")
        if refund.amount > source.refundable:
            raise LedgerError(f"{what}: {refund.amount} exceeds the refundable amount {source.refundable}")
        from_invoices = self._take_back(what, refund.allocations, source.allocated_to, refund.currency)
        if refund.amount - from_invoices > source.unallocated:
            raise LedgerError(f"{what}: {refund.amount - from_invoices} exceeds the payment's unallocated {source.unallocated}")
        for allocation in refund.allocations:
            state = self.invoices[allocation.invoice_id]
            state.refunds_allocated += allocation.amount
            self._set_outstanding(state, state.outstanding + allocation.amount, refund.effective)
        source.unallocated -= refund.amount - from_invoices
        source.refunded += refund.amount
        source.refunds.append(refund)
        self._add_entry(ArEntry(
            id=refund.id, seq=refund.seq, effective=refund.effective, transaction_type=shapes.AR_REFUND,
            name="Refund", description=f"Refund of payment {refund.payment_id}", ar_debit=refund.amount, ar_credit=ZERO,
            invoice_allocations=[(a.invoice_id, a.amount) for a in refund.allocations],
            payment_activity_id=refund.payment_activity_id, manual_reference=refund.reference,
            associated_id=refund.payment_id,
        ))

    def _credit(self, credit: Credit) -> None:
        self._money(f"credit {credit.id}", credit.amount, credit.currency)
        self.credits[credit.id] = CreditState(credit=credit, unallocated=credit.amount)
        self._add_entry(ArEntry(
            id=credit.id, seq=credit.seq, effective=credit.effective, transaction_type=shapes.AR_CREDIT,
            name="Credit", description=credit.reference, ar_debit=ZERO, ar_credit=credit.amount,
            invoice_allocations=[(a.invoice_id, a.amount) for a in credit.allocations],
            manual_reference=credit.reference,
        ))

    def _credit_allocation(self, credit: Credit, allocation: Allocation) -> None:
        what = f"allocation of credit {credit.id} to invoice {allocation.invoice_id}"
        self._money(what, allocation.amount, credit.currency)
        source = self.credits[credit.id]
        state = self._invoice_state(what, allocation.invoice_id)
        if allocation.amount > source.unallocated:
            raise LedgerError(f"{what}: {allocation.amount} exceeds the credit's unallocated {source.unallocated}")
        if allocation.amount > state.outstanding:
            raise LedgerError(f"{what}: {allocation.amount} exceeds the invoice's outstanding balance {state.outstanding}")
        source.unallocated -= allocation.amount
        source.allocated_to[allocation.invoice_id] = source.allocated_to.get(allocation.invoice_id, ZERO) + allocation.amount
        state.credits_allocated += allocation.amount
        state.credit_allocations.append((credit, allocation))
        self._set_outstanding(state, state.outstanding - allocation.amount, allocation.effective)

    def _debit(self, debit: Debit) -> None:
        what = f"debit {debit.id}"
        self._money(what, debit.amount, debit.currency)
        source = self.credits.get(debit.credit_id)
        if source is None:
            raise LedgerError(f"{what}: credit {debit.credit_id} is not an earlier credit of this customer")
        if debit.amount > source.reversable:
            raise LedgerError(f"{what}: {debit.amount} exceeds the reversable amount {source.reversable}")
        from_invoices = self._take_back(what, debit.allocations, source.allocated_to, debit.currency)
        if debit.amount - from_invoices > source.unallocated:
            raise LedgerError(f"{what}: {debit.amount - from_invoices} exceeds the credit's unallocated {source.unallocated}")
        for allocation in debit.allocations:
            state = self.invoices[allocation.invoice_id]
            state.debits_allocated += allocation.amount
            self._set_outstanding(state, state.outstanding + allocation.amount, debit.effective)
        source.unallocated -= debit.amount - from_invoices
        source.reversed += debit.amount
        source.debits.append(debit)
        self._add_entry(ArEntry(
            id=debit.id, seq=debit.seq, effective=debit.effective, transaction_type=shapes.AR_DEBIT,
            name="Debit", description=f"Reversal of credit {debit.credit_id}", ar_debit=debit.amount, ar_credit=ZERO,
            invoice_allocations=[(a.invoice_id, a.amount) for a in debit.allocations],
            manual_reference=debit.reference, associated_id=debit.credit_id,
        ))

    def _take_back(self, what: str, allocations: list[Allocation], allocated_to: dict[int, Decimal], currency: str) -> Decimal:
        """Validate and apply allocations that take money back out of invoices; return their sum."""
        total = ZERO
        for allocation in allocations:
            self._money(f"{what} allocation", allocation.amount, currency)
            self._invoice_state(what, allocation.invoice_id)
            available = allocated_to.get(allocation.invoice_id, ZERO)
            if allocation.amount > available:
                raise LedgerError(
                    f"{what}: takes {allocation.amount} back from invoice {allocation.invoice_id}, which only holds {available} of it"
                )
            allocated_to[allocation.invoice_id] = available - allocation.amount
            total += allocation.amount
        return total

    def _credit_note(self, note: CreditNote) -> None:
        what = f"credit note {note.id}"
        state = self._invoice_state(what, note.invoice_id)
        self._money(what, note.total_amount, note.currency)
        charges = {charge.transaction_id: charge for charge in state.invoice.charges}
        for line in note.lines:
            charge = charges.get(line.charge_transaction_id)
            if charge is None:
                raise LedgerError(f"{what}: charge {line.charge_transaction_id} is not on invoice {note.invoice_id}")
            self._money(f"{what} line", line.amount, note.currency)
            done = state.reversed_by_charge.get(charge.transaction_id, ZERO)
            if done + line.amount > charge.amount:
                raise LedgerError(f"{what}: reverses {done + line.amount} of charge {charge.transaction_id} ({charge.amount})")
            state.reversed_by_charge[charge.transaction_id] = done + line.amount
        taxes = {tax.tax_rule_id: tax for tax in state.invoice.taxes}
        for tax in note.taxes:
            invoiced = taxes.get(tax.tax_rule_id)
            if invoiced is None:
                raise LedgerError(f"{what}: tax rule {tax.tax_rule_id} was not charged on invoice {note.invoice_id}")
            self._money(f"{what} tax", tax.amount, note.currency, positive=False)
            done = state.reversed_tax_by_rule.get(tax.tax_rule_id, ZERO)
            if done + tax.amount > invoiced.amount:
                raise LedgerError(f"{what}: reverses {done + tax.amount} of {invoiced.amount} {invoiced.name}")
            state.reversed_tax_by_rule[tax.tax_rule_id] = done + tax.amount
        # Beyond the outstanding balance is allowed [U] unconfirmed: the excess becomes open credit.
        applied = min(note.total_amount, state.outstanding)
        state.credit_notes_total += note.total_amount
        state.credit_note_credit += note.total_amount - applied
        if applied > 0:
            self._set_outstanding(state, state.outstanding - applied, note.effective)
        for line in note.lines:
            charge = charges[line.charge_transaction_id]
            self._add_entry(ArEntry(
                id=line.transaction_id, seq=note.seq, effective=note.effective, transaction_type=shapes.AR_REVERSE_CHARGE,
                name=charge.name, description=f"Reversal of charge {charge.transaction_id} ({note.number})",
                ar_debit=ZERO, ar_credit=line.amount, invoice_allocations=[(note.invoice_id, line.amount)],
                product_code=charge.product_code, associated_id=charge.transaction_id, manual_reference=note.reference,
            ))
        for tax in note.taxes:
            self._add_entry(ArEntry(
                id=tax.transaction_id, seq=note.seq, effective=note.effective, transaction_type=shapes.AR_REVERSE_TAX,
                name=tax.name, description=f"Reversal of {tax.name} ({note.number})", ar_debit=ZERO, ar_credit=tax.amount,
                invoice_allocations=[(note.invoice_id, tax.amount)], associated_id=taxes[tax.tax_rule_id].transaction_id,
            ))

    def _write_off(self, write_off: WriteOff) -> None:
        what = f"write-off {write_off.id}"
        state = self._invoice_state(what, write_off.invoice_id)
        self._money(what, write_off.amount, write_off.currency)
        if write_off.amount > state.outstanding:
            raise LedgerError(f"{what}: {write_off.amount} exceeds the invoice's outstanding balance {state.outstanding}")
        state.write_offs_total += write_off.amount
        self._set_outstanding(state, state.outstanding - write_off.amount, write_off.effective)
        self._add_entry(ArEntry(
            id=write_off.id, seq=write_off.seq, effective=write_off.effective, transaction_type=shapes.AR_WRITE_OFF,
            name="Write Off", description=f"Write off of invoice {state.invoice.invoice_number}", ar_debit=ZERO,
            ar_credit=write_off.amount, invoice_allocations=[(write_off.invoice_id, write_off.amount)],
            manual_reference=write_off.reference,
        ))
