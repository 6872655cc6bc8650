"""The oracle: what the QuickBooks books must show after a correct sync, from Fusebill data alone.

`expected_books(dataset)` reads only the `Dataset` (never the emulator) and applies the accounting
contract, the accounting contract (design/accounting-mapping.md in the shared design documents), by formula. The Fusebill emulator derives the
same balances a different way — by replaying allocations in posting order — so a test comparing the
two catches a mistake in either.

Rules, quoted from the contract where it has words for them:

* **Who is synced.** "Customer (Active only; Draft never)". Customers whose status is not in
  `synced_statuses` (default: Active) get no expectations and contribute nothing to any total; they are
  listed in `ExpectedBooks.not_synced` with their status.
* **A/R per customer** (promise 1, "A/R matches"): "The QBO customer's Balance equals the Fusebill
  customer's AR balance (posted invoices − payments + refunds − credits + credit reversals − charge
  reversals − write-offs), to the cent", in the customer's currency. Here: posted invoices at
  `invoiceAmount` (net + tax); payments = successful Collect payment activities ("Only status =
  Successful with transactionType = Collect is a real payment", fusebill-api.md §3.4); refunds =
  successful Refund activities; credits and credit reversals (debits) at their full amounts, allocated
  or not; charge reversals (credit notes) gross, net plus reversed tax; write-offs gross.
* **Open balance per invoice** (promise 2, "Invoices match"): "Each QBO invoice's Balance equals the
  Fusebill invoice's outstandingBalance wherever the mapping below can express it". Fusebill's
  outstanding balance = invoice amount − payment allocations − credit allocations − credit notes
  (gross) − write-offs + refunded allocations + credit-reversal allocations + credit-note credit.
  **Credit-note credit** (issue #8, the emulator's [U] rule: a charge reversal beyond the invoice's
  balance is allowed, the excess becomes open credit): a credit note lowers the balance by at most
  what the invoice owed just before it — the same formula over the records posted before it (lower
  `seq`) — and the rest, max(0, gross − that balance), is the customer's open credit; so the balance
  never goes below zero and a charge reversal on a fully paid invoice leaves it at 0 with all of the
  credit note as open credit (`ExpectedInvoice.credit_note_credit`, summed per customer in
  `ExpectedCustomer.credit_note_credit`). The contract: "the CreditMemo applies up to the invoice's
  QBO balance and the rest stays as customer credit", so the QBO invoice's balance is the same
  (0 for a paid invoice) and the CreditMemo keeps the excess as unapplied credit; A/R is unaffected
  (the credit note still reduces it by its gross amount). The mapping cannot express
  it on an invoice that had payment money refunded out of it: the refund is a JournalEntry on A/R
  ("Never edits the original payment"), so the QBO invoice stays paid and "the difference is held by
  an open A/R document that names the invoice". Those invoices have `qbo_balance = None` and a
  `note`; the customer total still matches. Credit reversals (debits) that take credit back out of
  an invoice are treated as expressible: the contract names no QBO document for a debit yet, and
  updating the credit's application Payment ("An allocation change is a full-line update of that
  application Payment", qbo-accounting-patterns.md §1) re-opens the QBO invoice by the same amount.
* **Ledgers** (promise 3, "Ledgers match"), one total per ledger per currency over synced customers,
  each the positive amount the sync posts to that ledger:
  - Deferred Revenue = Σ invoice amounts net of taxes − Σ charge reversals net of taxes (the reversal
    part only when charge reversals post to Deferred Revenue, the contract's default);
  - Charge Reversals = Σ charge reversals net of taxes, when it is a separate ledger (else absent);
  - Sales Tax Payable = Σ invoice taxes − Σ reversed taxes;
  - Payments deposit = Σ successful collected payments;
  - Refunds = Σ refunds;
  - Credits = Σ credits − Σ credit reversals;
  - Write-Offs = Σ gross amounts written off ("for the gross amount written off (tax included)").
* **Per tax rule**: invoiced tax, reversed tax and their difference per (rule, currency).

All money is Decimal, rounded half-up to the currency's minor unit.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Collection

from emulators.sampledata.money import ZERO, round_money
from emulators.sampledata.records import ACTIVE, COLLECT, REFUND, SUCCESSFUL, CustomerRecords, Dataset

DEFERRED_REVENUE = "deferred_revenue"
SALES_TAX_PAYABLE = "sales_tax_payable"
PAYMENTS = "payments"
REFUNDS = "refunds"
CREDITS = "credits"
CHARGE_REVERSALS = "charge_reversals"
WRITE_OFFS = "write_offs"
LEDGER_LABELS = {
    DEFERRED_REVENUE: "Deferred Revenue",
    SALES_TAX_PAYABLE: "Sales Tax Payable",
    PAYMENTS: "Payments deposit",
    REFUNDS: "Refunds paid from",
    CREDITS: "Credits",
    CHARGE_REVERSALS: "Charge Reversals",
    WRITE_OFFS: "Write-Offs",
}
# Where charge reversals post: the contract's default (Deferred Revenue) or their own ledger.
CHARGE_REVERSAL_LEDGER_CHOICES = (DEFERRED_REVENUE, CHARGE_REVERSALS)

REFUNDED_ALLOCATION_NOTE = (
    "payment money was refunded out of this invoice; in QBO the invoice stays paid and the refund "
    "JournalEntry holds the re-opened amount"
)


@dataclass(frozen=True)
class ExpectedCustomer:
    customer_id: int
    currency: str
    ar_balance: Decimal
    invoice_ids: tuple[int, ...]
    credit_note_credit: Decimal = ZERO  # open credit left by credit notes beyond their invoice's balance


@dataclass(frozen=True)
class ExpectedInvoice:
    invoice_id: int
    customer_id: int
    currency: str
    invoice_amount: Decimal
    fusebill_outstanding: Decimal
    qbo_balance: Decimal | None  # None where the mapping cannot express the Fusebill balance
    note: str | None = None
    # The part of its credit notes beyond its balance: the customer's open credit (in QBO, the
    # CreditMemo's unapplied remainder). Included in `fusebill_outstanding` (module docstring).
    credit_note_credit: Decimal = ZERO


@dataclass(frozen=True)
class ExpectedTaxTotal:
    tax_rule_id: int
    code: str
    name: str
    currency: str
    invoiced: Decimal
    reversed: Decimal

    @property
    def net(self) -> Decimal:
        return self.invoiced - self.reversed


@dataclass(frozen=True)
class ExpectedBooks:
    charge_reversals_ledger: str
    customers: dict[int, ExpectedCustomer]
    invoices: dict[int, ExpectedInvoice]
    ledgers: dict[str, dict[str, Decimal]]  # ledger -> currency -> total
    tax_totals: dict[tuple[int, str], ExpectedTaxTotal]  # (tax rule id, currency) -> totals
    not_synced: dict[int, str] = field(default_factory=dict)  # customer id -> status

    def ledger(self, ledger: str, currency: str) -> Decimal:
        """Total for one ledger and currency (0 when nothing posts there)."""
        return self.ledgers.get(ledger, {}).get(currency, ZERO)

    def currencies(self) -> list[str]:
        return sorted({c.currency for c in self.customers.values()})


def expected_books(
    dataset: Dataset,
    *,
    charge_reversals_ledger: str = DEFERRED_REVENUE,
    synced_statuses: Collection[str] = (ACTIVE,),
) -> ExpectedBooks:
    """Apply the accounting contract to `dataset` (see the module docstring for every rule)."""
    if charge_reversals_ledger not in CHARGE_REVERSAL_LEDGER_CHOICES:
        raise ValueError(f"charge_reversals_ledger must be one of {CHARGE_REVERSAL_LEDGER_CHOICES}")
    rules = {rule.id: rule for rule in dataset.tax_rules}
    customers: dict[int, ExpectedCustomer] = {}
    invoices: dict[int, ExpectedInvoice] = {}
    ledgers: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    invoiced_tax: dict[tuple[int, str], Decimal] = defaultdict(lambda: ZERO)
    reversed_tax: dict[tuple[int, str], Decimal] = defaultdict(lambda: ZERO)
    not_synced: dict[int, str] = {}

    for bundle in dataset.customers:
        customer = bundle.customer
        if customer.status not in synced_statuses:
            not_synced[customer.id] = customer.status
            continue
        currency = customer.currency
        totals = _customer_totals(bundle)
        for name, amount in totals.items():
            ledgers[name][currency] += amount
        expected_invoices = _invoice_expectations(bundle)
        invoices.update(expected_invoices)
        customers[customer.id] = ExpectedCustomer(
            customer_id=customer.id,
            currency=currency,
            ar_balance=round_money(
                totals["invoices"] - totals[PAYMENTS] + totals[REFUNDS] - totals["credits_gross"]
                + totals["debits"] - totals["credit_notes_gross"] - totals[WRITE_OFFS],
                currency,
            ),
            invoice_ids=tuple(invoice.id for invoice in bundle.invoices),
            credit_note_credit=sum((e.credit_note_credit for e in expected_invoices.values()), ZERO),
        )
        for invoice in bundle.invoices:
            for tax in invoice.taxes:
                invoiced_tax[(tax.tax_rule_id, currency)] += tax.amount
        for note in bundle.credit_notes:
            for tax in note.taxes:
                reversed_tax[(tax.tax_rule_id, currency)] += tax.amount

    return ExpectedBooks(
        charge_reversals_ledger=charge_reversals_ledger,
        customers=customers,
        invoices=invoices,
        ledgers=_ledger_totals(ledgers, charge_reversals_ledger),
        tax_totals={
            key: ExpectedTaxTotal(
                tax_rule_id=key[0], code=rules[key[0]].code, name=rules[key[0]].name, currency=key[1],
                invoiced=round_money(invoiced_tax[key], key[1]), reversed=round_money(reversed_tax[key], key[1]),
            )
            for key in sorted(set(invoiced_tax) | set(reversed_tax))
        },
        not_synced=not_synced,
    )


def _customer_totals(bundle: CustomerRecords) -> dict[str, Decimal]:
    """Sums of one customer's records, by the quantity each rule needs."""
    totals = {
        "invoices": sum((inv.invoice_amount for inv in bundle.invoices), ZERO),
        "invoice_net": sum((inv.subtotal for inv in bundle.invoices), ZERO),
        "invoice_tax": sum((inv.total_tax for inv in bundle.invoices), ZERO),
        PAYMENTS: ZERO,
        REFUNDS: ZERO,
        "credits_gross": sum((credit.amount for credit in bundle.credits), ZERO),
        "debits": sum((debit.amount for debit in bundle.debits), ZERO),
        "credit_notes_gross": sum((note.total_amount for note in bundle.credit_notes), ZERO),
        "credit_notes_net": sum((note.net_amount for note in bundle.credit_notes), ZERO),
        "credit_notes_tax": sum((note.tax_amount for note in bundle.credit_notes), ZERO),
        WRITE_OFFS: sum((write_off.amount for write_off in bundle.write_offs), ZERO),
    }
    for activity in bundle.payment_activities:
        if activity.status != SUCCESSFUL:
            continue
        if activity.transaction_type == COLLECT:
            totals[PAYMENTS] += activity.amount
        elif activity.transaction_type == REFUND:
            totals[REFUNDS] += activity.amount
    return totals


def _ledger_totals(sums: dict[str, dict[str, Decimal]], charge_reversals_ledger: str) -> dict[str, dict[str, Decimal]]:
    ledgers: dict[str, dict[str, Decimal]] = {}
    for currency in sorted(sums["invoices"]):
        def total(name: str) -> Decimal:
            return sums[name][currency]

        deferred = total("invoice_net")
        if charge_reversals_ledger == DEFERRED_REVENUE:
            deferred -= total("credit_notes_net")
        else:
            ledgers.setdefault(CHARGE_REVERSALS, {})[currency] = round_money(total("credit_notes_net"), currency)
        figures = {
            DEFERRED_REVENUE: deferred,
            SALES_TAX_PAYABLE: total("invoice_tax") - total("credit_notes_tax"),
            PAYMENTS: total(PAYMENTS),
            REFUNDS: total(REFUNDS),
            CREDITS: total("credits_gross") - total("debits"),
            WRITE_OFFS: total(WRITE_OFFS),
        }
        for name, amount in figures.items():
            ledgers.setdefault(name, {})[currency] = round_money(amount, currency)
    return ledgers


def _invoice_expectations(bundle: CustomerRecords) -> dict[int, ExpectedInvoice]:
    # Per invoice: (seq, signed change) of everything but credit notes; −reduces, +re-opens.
    moves: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
    refunded_out_of: set[int] = set()
    for source in (*bundle.payments, *bundle.credits):
        for allocation in source.allocations:
            moves[allocation.invoice_id].append((allocation.seq, -allocation.amount))
    for write_off in bundle.write_offs:
        moves[write_off.invoice_id].append((write_off.seq, -write_off.amount))
    for refund in bundle.refunds:
        for allocation in refund.allocations:
            moves[allocation.invoice_id].append((refund.seq, allocation.amount))
            refunded_out_of.add(allocation.invoice_id)
    for debit in bundle.debits:
        for allocation in debit.allocations:
            moves[allocation.invoice_id].append((debit.seq, allocation.amount))
    notes: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
    for note in bundle.credit_notes:
        notes[note.invoice_id].append((note.seq, note.total_amount))

    expectations = {}
    for invoice in bundle.invoices:
        # A credit note lowers the balance by at most what the invoice owed just before it; the
        # rest is open credit (module docstring, "Credit-note credit").
        credit_note_credit = ZERO
        for seq, total in sorted(notes[invoice.id]):
            before = (
                invoice.invoice_amount + sum((m for s, m in moves[invoice.id] if s < seq), ZERO)
                - sum((t for s, t in notes[invoice.id] if s < seq), ZERO) + credit_note_credit
            )
            credit_note_credit += max(ZERO, total - max(ZERO, before))
        outstanding = round_money(
            invoice.invoice_amount + sum((m for _, m in moves[invoice.id]), ZERO)
            - sum((t for _, t in notes[invoice.id]), ZERO) + credit_note_credit,
            invoice.currency,
        )
        expressible = invoice.id not in refunded_out_of
        expectations[invoice.id] = ExpectedInvoice(
            invoice_id=invoice.id,
            customer_id=invoice.customer_id,
            currency=invoice.currency,
            invoice_amount=invoice.invoice_amount,
            fusebill_outstanding=outstanding,
            qbo_balance=outstanding if expressible else None,
            note=None if expressible else REFUNDED_ALLOCATION_NOTE,
            credit_note_credit=round_money(credit_note_credit, invoice.currency),
        )
    return expectations
