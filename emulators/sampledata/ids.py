"""Id spaces of one Fusebill account and the counters that hand out the next id in each.

Fusebill keeps customers, invoices, payment activities, transactions and credit notes in separate id
spaces; payments, refunds, credits, debits, charges, taxes and write-offs all take transaction ids
("the Fusebill generated ID that uniquely identifies a credit object is actually a transaction ID",
fusebill-api.md §3.6). Invoice numbers count from 1 per account. `seq` is the posting order.
"""
from __future__ import annotations

from dataclasses import dataclass

from emulators.sampledata.records import CustomerRecords

# First id of each space (the generator can offset them all with `id_base`).
CUSTOMER_ID_START = 100_001
INVOICE_ID_START = 5_000_001
PAYMENT_ACTIVITY_ID_START = 4_000_001
TRANSACTION_ID_START = 80_000_001
CREDIT_NOTE_ID_START = 900_001


@dataclass
class IdCounters:
    """The next free id of every space of one account."""

    customer: int = CUSTOMER_ID_START
    invoice: int = INVOICE_ID_START
    invoice_number: int = 1
    payment_activity: int = PAYMENT_ACTIVITY_ID_START
    transaction_id: int = TRANSACTION_ID_START
    credit_note: int = CREDIT_NOTE_ID_START
    seq: int = 1

    @classmethod
    def starting_at(cls, base: int) -> "IdCounters":
        """Counters whose id spaces (not invoice numbers or seq) start `base` higher."""
        return cls(
            customer=CUSTOMER_ID_START + base, invoice=INVOICE_ID_START + base,
            payment_activity=PAYMENT_ACTIVITY_ID_START + base, transaction_id=TRANSACTION_ID_START + base,
            credit_note=CREDIT_NOTE_ID_START + base,
        )

    def take(self, space: str) -> int:
        """Hand out the next id of `space` (a field name, e.g. "invoice" or "transaction_id")."""
        value = getattr(self, space)
        setattr(self, space, value + 1)
        return value

    def observe(self, bundle: CustomerRecords) -> None:
        """Move every counter past the ids `bundle` already uses (after loading stored records)."""
        def bump(space: str, used: int) -> None:
            if used >= getattr(self, space):
                setattr(self, space, used + 1)

        bump("customer", bundle.customer.id)
        for invoice in bundle.invoices:
            bump("invoice", invoice.id)
            bump("invoice_number", invoice.invoice_number)
            bump("seq", invoice.seq)
            for line in [*invoice.charges, *invoice.taxes]:
                bump("transaction_id", line.transaction_id)
        for activity in bundle.payment_activities:
            bump("payment_activity", activity.id)
        for record in [*bundle.payments, *bundle.refunds, *bundle.credits, *bundle.debits, *bundle.write_offs]:
            bump("transaction_id", record.id)
            bump("seq", record.seq)
            for allocation in getattr(record, "allocations", ()):
                bump("seq", allocation.seq)
        for note in bundle.credit_notes:
            bump("credit_note", note.id)
            bump("seq", note.seq)
            for line in [*note.lines, *note.taxes]:
                bump("transaction_id", line.transaction_id)
