"""Deterministic generator of representative Fusebill account data.

`generate(customers, seed, **options)` returns a `Dataset`: the same arguments always give the
same records, byte for byte (`Dataset.to_json()`), because every random choice comes from one
`random.Random(seed)` and every timestamp from `options.start` (never from the clock).

The mix (proportions are of customers, or of invoices where it says so):

* **Currencies**: USD 45 %, CAD 30 %, GBP 13 %, EUR 12 % (`currency_weights`); one per customer.
* **Tax jurisdictions** within a currency (`taxes.JURISDICTIONS`): CAD Ontario HST 35 %, Québec
  GST+QST 25 %, BC GST+PST 20 %, Alberta GST 15 %, untaxed export 5 %; USD New York 8.875 % 45 %,
  untaxed 55 %; EUR German VAT 50 %, reverse-charge (untaxed) 50 %; GBP VAT 80 %, exempt 20 %.
  One product line in ~6 % of invoices is tax-exempt, so mixed taxable/untaxed invoices occur.
* **Statuses**: Active 88 %, Draft 5 % (no records at all: a draft customer has nothing posted),
  Cancelled 4 %, Suspended 2 %, Hold 1 % (these keep their history).
* **Invoices**: one a month from the customer's start until `months` have passed or the customer is
  cancelled; 1 plan line plus 0-3 add-ons (seats, usage by quantity, 33.33 training sessions...).
* **What happens to an invoice**: paid exactly 52 %; paid late 8 %; paid in two parts 6 %; one
  partial payment, rest left open 4 %; overpaid (rest unallocated) 3 %; failed collection then paid
  5 %; settled with an applied credit 4 %; partial credit then payment 3 %; one charge reversed
  (credit note) then the rest paid 3 %; left unpaid 8 %; paid together with the next invoice in one
  payment 4 %.
* **Afterwards**: ~3 % of paid invoices get a partial refund taken back from the invoice (the
  invoice re-opens), another ~1 % get one charge reversed (a credit note on a paid invoice: the
  balance stays zero and the whole credit note is the customer's open credit [U], see
  `emulators/fusebill/ledger.py`); a quarter of applied credits are partly reversed (a debit that
  re-opens the invoice); a tenth of the invoices left unpaid are fully reversed (a full credit note); invoices
  still open 90 days before the end are written off with probability 40 % (all of a cancelled
  customer's open invoices).
* **Per customer**: prepayment (unallocated payment) 4 %, allocated to each new invoice with
  probability 60 % while money is left, and partly refunded in about a quarter of cases; an unapplied goodwill credit 3 %, a third of which is
  partly reversed; a card Validate activity 15 %; an Unknown-status attempt 1 %; a failed refund 0.5 %.
* **Names**: ~55 % companies; unicode names throughout; ~2 % of names contain ":", ~2 % are at
  Fusebill's 50-character limit, ~3 % deliberately repeat another customer's name; references are
  not unique.

With `guaranteed_cases` (default on) the first `len(SCENARIOS)` customer slots chosen at random
positions each play one scripted story, so every case the sync must handle — each tax rule, the
rounding cases where a cent is at stake, partial/exact/over/unallocated payments, refunds of
allocated and unallocated money, applied and unapplied credits, allocated and unallocated credit
reversals, partial and full charge reversals, a charge reversal on a paid invoice, write-offs,
failed/Validate/Unknown activities, draft and cancelled customers, and the name cases — appears at
any size of at least ~30 customers. `emulators.sampledata.cases.coverage()` detects the cases from the data itself.
"""
from __future__ import annotations

import heapq
import random
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Callable

from emulators.sampledata import names
from emulators.sampledata.ids import IdCounters
from emulators.sampledata.money import ZERO, parse_timestamp, round_money
from emulators.sampledata.records import (
    ACTIVE, CANCELLED, COLLECT, DRAFT, FAILED, HOLD, REFUND, SUCCESSFUL, SUSPENDED, UNKNOWN, VALIDATE,
    Address, Allocation, Charge, Credit, CreditNote, CreditNoteLine, CreditNoteTax, Customer, CustomerRecords,
    Dataset, Debit, Invoice, InvoiceTax, Payment, PaymentActivity, Refund, TaxRule, WriteOff, credit_note_number,
)
from emulators.sampledata.taxes import JURISDICTIONS, JURISDICTIONS_BY_CODE, TAX_RULES, reversed_tax, rules_for, tax_on

MIN_CUSTOMERS, MAX_CUSTOMERS = 1, 100_000

TERM_DAYS = {"Net0": 0, "Net15": 15, "Net30": 30, "Net45": 45, "Net60": 60}
MONTH = timedelta(days=30)


@dataclass(frozen=True)
class GeneratorOptions:
    """Knobs of `generate`; every one has a default (the module docstring gives the mix).

    start, months:     the history runs from `start` for `months` 30-day months (UTC, no clock).
    currency_weights:  relative share of customers per currency (codes in `taxes.JURISDICTIONS`).
    status_weights:    relative share of customers per status.
    id_base:           added to every id space, so two accounts can hold disjoint ids.
    guaranteed_cases:  play the scripted stories (`SCENARIOS`) on some customers so every case
                       appears; those customers keep the currency their story needs, whatever
                       `currency_weights` says.
    """

    start: datetime = datetime(2024, 1, 1)
    months: int = 12
    currency_weights: tuple[tuple[str, int], ...] = (("USD", 45), ("CAD", 30), ("GBP", 13), ("EUR", 12))
    status_weights: tuple[tuple[str, int], ...] = ((ACTIVE, 88), (DRAFT, 5), (CANCELLED, 4), (SUSPENDED, 2), (HOLD, 1))
    id_base: int = 0
    guaranteed_cases: bool = True

    @classmethod
    def build(cls, **options: Any) -> "GeneratorOptions":
        """Options from keyword arguments or JSON (dates as text, weights as mappings)."""
        unknown = set(options) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown generator option(s): {', '.join(sorted(unknown))}")
        values = dict(options)
        if isinstance(values.get("start"), str):
            values["start"] = parse_timestamp(values["start"])
        for key in ("currency_weights", "status_weights"):
            if isinstance(values.get(key), dict):
                values[key] = tuple(values[key].items())
            elif key in values:
                values[key] = tuple(tuple(pair) for pair in values[key])
        built = cls(**values)
        built.validate()
        return built

    def validate(self) -> None:
        if not 1 <= self.months <= 120:
            raise ValueError("months must be between 1 and 120")
        for _, weight in (*self.currency_weights, *self.status_weights):
            if not isinstance(weight, int) or isinstance(weight, bool) or weight < 0:
                raise ValueError(f"weights must be whole numbers >= 0, not {weight!r}")
        for code, _ in self.currency_weights:
            if code not in JURISDICTIONS:
                raise ValueError(f"unsupported currency {code!r}; known: {', '.join(sorted(JURISDICTIONS))}")
        if not any(weight for _, weight in self.currency_weights):
            raise ValueError("currency_weights must have a positive weight")
        for status, _ in self.status_weights:
            if status not in (ACTIVE, DRAFT, CANCELLED, SUSPENDED, HOLD):
                raise ValueError(f"unknown customer status {status!r}")
        if self.id_base < 0:
            raise ValueError("id_base must not be negative")

    def to_plain(self) -> dict[str, Any]:
        plain = asdict(self)
        plain["start"] = self.start.strftime("%Y-%m-%dT%H:%M:%S")
        plain["currency_weights"] = [list(pair) for pair in self.currency_weights]
        plain["status_weights"] = [list(pair) for pair in self.status_weights]
        return plain


def generate(customers: int, seed: int, **options: Any) -> Dataset:
    """Generate `customers` customers' worth of Fusebill records, deterministically from `seed`."""
    if not MIN_CUSTOMERS <= customers <= MAX_CUSTOMERS:
        raise ValueError(f"customers must be between {MIN_CUSTOMERS} and {MAX_CUSTOMERS}")
    opts = GeneratorOptions.build(**options)
    rng = random.Random(seed)
    ids = IdCounters.starting_at(opts.id_base)
    horizon = opts.start + MONTH * opts.months

    slots: dict[int, Callable[[_Book], None]] = {}
    name_slots: dict[int, str] = {}
    if opts.guaranteed_cases:
        scripted = SCENARIOS[: customers]
        positions = rng.sample(range(customers), len(scripted))
        slots = {position: scenario for position, scenario in zip(positions, scripted)}
        free = [i for i in range(customers) if i not in slots]
        name_cases = NAME_CASES[: len(free)]
        name_slots = dict(zip(rng.sample(free, len(name_cases)), name_cases))

    bundles: list[CustomerRecords] = []
    for position in range(customers):
        scenario = slots.get(position)
        if scenario is not None:
            book = _Book.open(rng, ids, opts, horizon, scenario_settings(scenario))
            scenario(book)
        else:
            status = _weighted(rng, opts.status_weights)
            currency = _weighted(rng, opts.currency_weights)
            book = _Book.open(rng, ids, opts, horizon, {"status": status, "currency": currency})
            if status != DRAFT:
                _random_life(book)
        _name_customer(rng, book.records.customer, bundles, name_slots.get(position))
        bundles.append(book.records)
    return Dataset(seed=seed, options=opts.to_plain(), tax_rules=list(TAX_RULES), customers=bundles)


def _weighted(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    choices = [key for key, _ in pairs]
    weights = [weight for _, weight in pairs]
    return rng.choices(choices, weights)[0]


def _money(rng: random.Random, low: int, high: int, currency: str) -> Decimal:
    """A random amount between low and high whole units, with cents (whole units for JPY)."""
    cents = rng.randint(low * 100, high * 100)
    return round_money(Decimal(cents) / 100 * _price_factor(currency), currency)


def _price_factor(currency: str) -> Decimal:
    return Decimal(100) if currency == "JPY" else Decimal(1)


# --- one customer's book -----------------------------------------------------------------------


class GeneratorInvariantError(AssertionError):
    """The generator tried to record something Fusebill would refuse (a bug in the generator)."""


@dataclass
class _Book:
    """Builds one customer's records and keeps the running balances needed to keep them valid.

    These running figures exist only so the generator never produces something Fusebill would
    refuse (allocating more than is outstanding, refunding more than was paid). They are not
    exported: the emulator and the oracle each derive balances their own way.
    """

    rng: random.Random
    ids: IdCounters
    opts: GeneratorOptions
    horizon: datetime
    records: CustomerRecords
    rules: tuple[TaxRule, ...]
    now: datetime
    outstanding: dict[int, Decimal] = field(default_factory=dict)
    payment_unallocated: dict[int, Decimal] = field(default_factory=dict)
    payment_refundable: dict[int, Decimal] = field(default_factory=dict)
    payment_allocated: dict[tuple[int, int], Decimal] = field(default_factory=dict)
    credit_unallocated: dict[int, Decimal] = field(default_factory=dict)
    credit_reversable: dict[int, Decimal] = field(default_factory=dict)
    credit_allocated: dict[tuple[int, int], Decimal] = field(default_factory=dict)
    reversed_charges: set[int] = field(default_factory=set)
    reversed_tax: dict[tuple[int, int], tuple[Decimal, Decimal]] = field(default_factory=dict)
    activity_of_payment: dict[int, PaymentActivity] = field(default_factory=dict)
    _agenda: list[tuple[datetime, int, Callable[[], None]]] = field(default_factory=list)
    _agenda_counter: int = 0

    @classmethod
    def open(cls, rng: random.Random, ids: IdCounters, opts: GeneratorOptions, horizon: datetime, settings: dict[str, Any]) -> "_Book":
        currency = settings["currency"]
        status = settings.get("status", ACTIVE)
        jurisdiction_code = settings.get("jurisdiction") or _weighted(
            rng, tuple((j.code, w) for j, w in JURISDICTIONS[currency])
        )
        jurisdiction = JURISDICTIONS_BY_CODE[jurisdiction_code]
        created = opts.start + timedelta(days=rng.randint(0, 45), seconds=rng.randint(0, 86_399))
        if settings.get("start_early"):
            created = opts.start + timedelta(seconds=rng.randint(3_600, 86_399))
        customer = Customer(
            id=ids.take("customer"),
            status=status,
            currency=currency,
            first_name=None,
            last_name=None,
            company_name=None,
            primary_email=None,
            primary_phone=None,
            reference=None,
            term=rng.choices(tuple(TERM_DAYS), (10, 20, 55, 10, 5))[0],
            jurisdiction=jurisdiction.code,
            address=Address(
                line1=f"{rng.randint(1, 9999)} {rng.choice(('King', 'Main', 'Rue Sainte-Catherine', 'High', 'Hauptstraße', 'Granville'))} St",
                city=jurisdiction.city,
                state=jurisdiction.state,
                country=jurisdiction.country,
                country_code=jurisdiction.country_code,
                postal_zip=jurisdiction.postal_zip,
            ),
            created=created,
            modified=created,
            activated=None if status == DRAFT else created + timedelta(minutes=rng.randint(1, 120)),
            account_status="Collection" if status == SUSPENDED else ("PoorStanding" if status == HOLD else "Good"),
        )
        book = cls(
            rng=rng, ids=ids, opts=opts, horizon=horizon, records=CustomerRecords(customer=customer),
            rules=rules_for(jurisdiction.code), now=customer.activated or created,
        )
        if customer.activated:
            customer.modified = customer.activated
        return book

    # --- clock and agenda ---

    def schedule(self, when: datetime, action: Callable[[], None]) -> None:
        """Run `action` at `when` (if before the horizon); actions run in time order."""
        if when < self.horizon:
            self._agenda_counter += 1
            heapq.heappush(self._agenda, (when.replace(microsecond=0), self._agenda_counter, action))

    def run_agenda(self) -> None:
        while self._agenda:
            when, _, action = heapq.heappop(self._agenda)
            self.now = max(self.now, when)
            action()

    def _touch(self, *records: Any) -> None:
        for record in records:
            record.modified = self.now
        self.records.customer.modified = self.now

    def _seq(self) -> int:
        return self.ids.take("seq")

    @property
    def currency(self) -> str:
        return self.records.customer.currency

    # --- invoices ---

    def post_invoice(self, lines: list[tuple[tuple[str, str, Decimal, bool], Decimal]]) -> Invoice:
        """Post an invoice with (product, quantity) lines; taxes per rule on the taxable subtotal."""
        charges = []
        for (code, name, unit_price, taxable), quantity in lines:
            unit_price = unit_price * _price_factor(self.currency)
            charges.append(
                Charge(
                    transaction_id=self.ids.take("transaction_id"), name=name, product_code=code, quantity=quantity,
                    unit_price=unit_price, amount=round_money(quantity * unit_price, self.currency),
                    taxable=taxable and bool(self.rules), gl_code=f"4{100 + len(code)}",
                )
            )
        taxable_amount = sum((c.amount for c in charges if c.taxable), ZERO)
        taxes = [
            InvoiceTax(
                transaction_id=self.ids.take("transaction_id"), tax_rule_id=rule.id, name=rule.name,
                percentage=rule.percentage, taxable_amount=taxable_amount,
                amount=tax_on(taxable_amount, rule, self.currency),
            )
            for rule in self.rules
            if taxable_amount > 0
        ]
        term = self.records.customer.term
        invoice = Invoice(
            id=self.ids.take("invoice"), invoice_number=self.ids.take("invoice_number"),
            customer_id=self.records.customer.id, currency=self.currency, posted=self.now,
            due_date=self.now + timedelta(days=TERM_DAYS[term]), terms=term, charges=charges, taxes=taxes,
            modified=self.now, seq=self._seq(),
            po_number=f"PO-{self.rng.randint(1000, 99999)}" if self.rng.random() < 0.15 else None,
        )
        if invoice.invoice_amount <= 0:
            raise GeneratorInvariantError("an invoice must have a positive amount")
        self.records.invoices.append(invoice)
        self.outstanding[invoice.id] = invoice.invoice_amount
        self._touch()
        return invoice

    def random_lines(self, plan_index: int) -> list[tuple[tuple[str, str, Decimal, bool], Decimal]]:
        lines = [(names.PRODUCTS[plan_index], Decimal(1))]
        for add_on in self.rng.sample(names.ADD_ONS, self.rng.choices((0, 1, 2, 3), (45, 30, 17, 8))[0]):
            low, high = names.QUANTITY_PRODUCTS.get(add_on[0], (1, 3))
            lines.append((add_on, Decimal(self.rng.randint(low, high))))
        return lines

    # --- money in ---

    def _activity(self, status: str, kind: str, amount: Decimal, attempt: int = 1) -> PaymentActivity:
        source, method = self.rng.choice(names.PAYMENT_METHODS)
        activity = PaymentActivity(
            id=self.ids.take("payment_activity"), customer_id=self.records.customer.id, status=status,
            transaction_type=kind, amount=amount, currency=self.currency, source=source, method=method,
            effective=self.now, created=self.now, modified=self.now, attempt_number=attempt,
        )
        self.records.payment_activities.append(activity)
        self._touch()
        return activity

    def failed_activity(self, status: str = FAILED, kind: str = COLLECT, amount: Decimal | None = None) -> PaymentActivity:
        """A payment activity that moves no money: Failed/Unknown Collect, any Validate, a failed Refund."""
        if status == SUCCESSFUL and kind != VALIDATE:
            raise GeneratorInvariantError("successful Collect/Refund activities must carry a transaction")
        return self._activity(status, kind, amount if amount is not None else _money(self.rng, 10, 300, self.currency))

    def collect(self, amount: Decimal, allocations: list[tuple[Invoice, Decimal]], attempt: int = 1) -> Payment:
        """A successful Collect: a payment of `amount`, allocated as given, the rest unallocated."""
        allocated = sum((a for _, a in allocations), ZERO)
        if amount <= 0 or allocated > amount:
            raise GeneratorInvariantError(f"payment {amount} cannot allocate {allocated}")
        activity = self._activity(SUCCESSFUL, COLLECT, amount, attempt)
        payment = Payment(
            id=self.ids.take("transaction_id"), customer_id=self.records.customer.id, payment_activity_id=activity.id,
            amount=amount, currency=self.currency, effective=self.now, modified=self.now, seq=self._seq(),
            reference=self.rng.choice(names.PAYMENT_REFERENCES) if activity.source == "Manual" else None,
        )
        activity.payment_id = payment.id
        self.records.payments.append(payment)
        self.activity_of_payment[payment.id] = activity
        self.payment_unallocated[payment.id] = amount
        self.payment_refundable[payment.id] = amount
        for invoice, part in allocations:
            self.allocate_payment(payment, invoice, part)
        return payment

    def allocate_payment(self, payment: Payment, invoice: Invoice, amount: Decimal) -> None:
        self._check_allocation(amount, self.payment_unallocated[payment.id], invoice)
        payment.allocations.append(Allocation(invoice.id, amount, self.now, self._seq()))
        self.payment_unallocated[payment.id] -= amount
        key = (payment.id, invoice.id)
        self.payment_allocated[key] = self.payment_allocated.get(key, ZERO) + amount
        self.outstanding[invoice.id] -= amount
        self._touch(payment, invoice, self.activity_of_payment[payment.id])

    def pay_outstanding(self, invoice: Invoice, fraction: Decimal = Decimal(1), extra: Decimal = ZERO, attempt: int = 1) -> Payment | None:
        """Pay `fraction` of what the invoice still owes (plus `extra` left unallocated)."""
        due = round_money(self.outstanding[invoice.id] * fraction, self.currency)
        if due <= 0:
            return None
        return self.collect(due + extra, [(invoice, due)], attempt)

    def refund(self, payment: Payment, amount: Decimal, allocations: list[tuple[Invoice, Decimal]]) -> Refund:
        """Refund part of a payment; allocated parts re-open those invoices."""
        from_allocations = sum((a for _, a in allocations), ZERO)
        if amount <= 0 or amount > self.payment_refundable[payment.id]:
            raise GeneratorInvariantError("refund exceeds the refundable amount")
        if amount - from_allocations > self.payment_unallocated[payment.id]:
            raise GeneratorInvariantError("refund takes more than the unallocated amount")
        activity = self._activity(SUCCESSFUL, REFUND, amount)
        refund = Refund(
            id=self.ids.take("transaction_id"), customer_id=self.records.customer.id, payment_id=payment.id,
            payment_activity_id=activity.id, amount=amount, currency=self.currency, effective=self.now,
            modified=self.now, seq=self._seq(), reference=None,
        )
        activity.refund_id = refund.id
        for invoice, part in allocations:
            key = (payment.id, invoice.id)
            if part <= 0 or part > self.payment_allocated.get(key, ZERO):
                raise GeneratorInvariantError("refund allocation exceeds what the payment allocated")
            self.payment_allocated[key] -= part
            self.outstanding[invoice.id] += part
            refund.allocations.append(Allocation(invoice.id, part, self.now, refund.seq))
            self._touch(invoice)
        self.payment_refundable[payment.id] -= amount
        self.payment_unallocated[payment.id] -= amount - from_allocations
        self.records.refunds.append(refund)
        self._touch(payment, self.activity_of_payment[payment.id])
        return refund

    # --- credits ---

    def credit(self, amount: Decimal, allocations: list[tuple[Invoice, Decimal]]) -> Credit:
        credit = Credit(
            id=self.ids.take("transaction_id"), customer_id=self.records.customer.id, amount=amount, currency=self.currency,
            effective=self.now, modified=self.now, seq=self._seq(), reference=self.rng.choice(names.CREDIT_REFERENCES),
        )
        self.records.credits.append(credit)
        self.credit_unallocated[credit.id] = amount
        self.credit_reversable[credit.id] = amount
        for invoice, part in allocations:
            self.allocate_credit(credit, invoice, part)
        self._touch()
        return credit

    def allocate_credit(self, credit: Credit, invoice: Invoice, amount: Decimal) -> None:
        self._check_allocation(amount, self.credit_unallocated[credit.id], invoice)
        credit.allocations.append(Allocation(invoice.id, amount, self.now, self._seq()))
        self.credit_unallocated[credit.id] -= amount
        key = (credit.id, invoice.id)
        self.credit_allocated[key] = self.credit_allocated.get(key, ZERO) + amount
        self.outstanding[invoice.id] -= amount
        self._touch(credit, invoice)

    def debit(self, credit: Credit, amount: Decimal, allocations: list[tuple[Invoice, Decimal]]) -> Debit:
        """Reverse part of a credit; allocated parts re-open those invoices."""
        from_allocations = sum((a for _, a in allocations), ZERO)
        if amount <= 0 or amount > self.credit_reversable[credit.id]:
            raise GeneratorInvariantError("debit exceeds the reversable amount")
        if amount - from_allocations > self.credit_unallocated[credit.id]:
            raise GeneratorInvariantError("debit takes more than the unallocated credit")
        debit = Debit(
            id=self.ids.take("transaction_id"), customer_id=self.records.customer.id, credit_id=credit.id, amount=amount,
            currency=self.currency, effective=self.now, modified=self.now, seq=self._seq(),
            reference="Credit reversal",
        )
        for invoice, part in allocations:
            key = (credit.id, invoice.id)
            if part <= 0 or part > self.credit_allocated.get(key, ZERO):
                raise GeneratorInvariantError("debit allocation exceeds what the credit allocated")
            self.credit_allocated[key] -= part
            self.outstanding[invoice.id] += part
            debit.allocations.append(Allocation(invoice.id, part, self.now, debit.seq))
            self._touch(invoice)
        self.credit_reversable[credit.id] -= amount
        self.credit_unallocated[credit.id] -= amount - from_allocations
        self.records.debits.append(debit)
        self._touch(credit)
        return debit

    # --- reversals and write-offs ---

    def reversal_total(self, invoice: Invoice, charges: list[Charge]) -> tuple[list[CreditNoteTax], Decimal]:
        """The taxes a reversal of `charges` would give back, and its gross amount."""
        taxes = []
        reversed_net = sum((c.amount for c in charges if c.taxable), ZERO)
        for tax in invoice.taxes:
            done_net, done_tax = self.reversed_tax.get((invoice.id, tax.tax_rule_id), (ZERO, ZERO))
            amount = reversed_tax(
                reversed_net, done_net, done_tax, tax.taxable_amount, tax.amount,
                _rule(tax.tax_rule_id), self.currency,
            ) if reversed_net > 0 else ZERO
            if amount > 0 or reversed_net > 0:
                taxes.append(CreditNoteTax(0, tax.tax_rule_id, tax.name, tax.percentage, amount))
        gross = sum((c.amount for c in charges), ZERO) + sum((t.amount for t in taxes), ZERO)
        return taxes, gross

    def reverse_charges(self, invoice: Invoice, charges: list[Charge], beyond_balance: bool = False) -> CreditNote | None:
        """A credit note reversing whole `charges` of `invoice`, if the invoice still owes that much
        (with `beyond_balance`, also when it does not, e.g. a paid invoice: the balance stops at zero
        and the excess is the customer's open credit, issue #8 [U])."""
        charges = [c for c in charges if c.transaction_id not in self.reversed_charges]
        if not charges:
            return None
        taxes, gross = self.reversal_total(invoice, charges)
        if gross > self.outstanding[invoice.id] and not beyond_balance:
            return None  # the random life only reverses what is still owed, unless asked
        reversed_taxable = sum((c.amount for c in charges if c.taxable), ZERO)
        for tax in taxes:
            tax.transaction_id = self.ids.take("transaction_id")
            done_net, done_tax = self.reversed_tax.get((invoice.id, tax.tax_rule_id), (ZERO, ZERO))
            self.reversed_tax[(invoice.id, tax.tax_rule_id)] = (done_net + reversed_taxable, done_tax + tax.amount)
        sequence = sum(1 for note in self.records.credit_notes if note.invoice_id == invoice.id) + 1
        note = CreditNote(
            id=self.ids.take("credit_note"), customer_id=self.records.customer.id, invoice_id=invoice.id,
            number=credit_note_number(invoice.invoice_number, sequence), currency=self.currency, effective=self.now,
            modified=self.now, seq=self._seq(),
            lines=[CreditNoteLine(self.ids.take("transaction_id"), c.transaction_id, c.amount) for c in charges],
            taxes=taxes, reference=self.rng.choice(("Customer dispute", "Billing error", "Downgrade", None)),
        )
        self.reversed_charges.update(c.transaction_id for c in charges)
        self.outstanding[invoice.id] -= min(gross, self.outstanding[invoice.id])
        self.records.credit_notes.append(note)
        self._touch(invoice)
        return note

    def write_off(self, invoice: Invoice) -> WriteOff | None:
        amount = self.outstanding[invoice.id]
        if amount <= 0:
            return None
        write_off = WriteOff(
            id=self.ids.take("transaction_id"), customer_id=self.records.customer.id, invoice_id=invoice.id, amount=amount,
            currency=self.currency, effective=self.now, modified=self.now, seq=self._seq(), reference="Uncollectible",
        )
        self.outstanding[invoice.id] = ZERO
        self.records.write_offs.append(write_off)
        self._touch(invoice)
        return write_off

    def _check_allocation(self, amount: Decimal, available: Decimal, invoice: Invoice) -> None:
        if amount <= 0 or amount > available or amount > self.outstanding[invoice.id]:
            raise GeneratorInvariantError(
                f"allocation {amount} to invoice {invoice.id} (owes {self.outstanding[invoice.id]}, available {available})"
            )

    def open_invoices(self) -> list[Invoice]:
        return [inv for inv in self.records.invoices if self.outstanding[inv.id] > 0]


_RULES_BY_ID = {rule.id: rule for rule in TAX_RULES}


def _rule(rule_id: int) -> TaxRule:
    return _RULES_BY_ID[rule_id]


# --- a customer's random life ------------------------------------------------------------------

INVOICE_FATES = (
    ("pay_exact", 52), ("pay_late", 8), ("pay_two_parts", 6), ("pay_partial_only", 4), ("overpay", 3),
    ("failed_then_paid", 5), ("credit_applied", 4), ("credit_then_pay", 3), ("reverse_then_pay", 3),
    ("unpaid", 8), ("pay_with_next", 4),
)


def _random_life(book: _Book) -> None:
    """Schedule a customer's invoices and what happens to each, then play it in time order."""
    rng = book.rng
    customer = book.records.customer
    start = book.now
    months_active = rng.randint(1, book.opts.months)
    if customer.status == CANCELLED:
        months_active = max(1, months_active // 2)
    plan = rng.choices(range(len(names.PRODUCTS)), (50, 30, 15, 5))[0]

    if rng.random() < 0.15:
        book.schedule(start + timedelta(minutes=5), lambda: book.failed_activity(SUCCESSFUL, VALIDATE, ZERO))
    if rng.random() < 0.01:
        book.schedule(start + timedelta(days=3), lambda: book.failed_activity(UNKNOWN, COLLECT))
    prepayment: list[Payment] = []
    wants_prepayment = rng.random() < 0.04
    if wants_prepayment:
        def prepay() -> None:
            prepayment.append(book.collect(_money(rng, 50, 600, book.currency), []))
        book.schedule(start + timedelta(hours=2), prepay)
    if rng.random() < 0.03:
        def goodwill() -> None:
            credit = book.credit(_money(rng, 5, 80, book.currency), [])
            if rng.random() < 0.33:
                book.schedule(book.now + timedelta(days=rng.randint(3, 40)),
                              lambda: book.debit(credit, round_money(credit.amount / 2, book.currency), []))
        book.schedule(start + timedelta(days=rng.randint(1, 60)), goodwill)

    pending_with_next: list[Invoice] = []
    for month in range(months_active):
        posted = start + MONTH * month + timedelta(hours=rng.randint(1, 20))

        def post() -> None:
            invoice = book.post_invoice(book.random_lines(plan))
            if prepayment and book.payment_unallocated[prepayment[0].id] > 0 and rng.random() < 0.6:
                book.schedule(book.now + timedelta(hours=1), lambda: _apply_prepayment(book, prepayment[0], invoice))
            _schedule_fate(book, invoice, _weighted(rng, INVOICE_FATES), pending_with_next)

        book.schedule(posted, post)
        if wants_prepayment and rng.random() < 0.25 / months_active:
            book.schedule(posted + timedelta(days=27), lambda: _refund_some_unallocated(book, prepayment))

    if rng.random() < 0.005:
        book.schedule(start + timedelta(days=50), lambda: book.failed_activity(FAILED, REFUND))
    write_off_at = book.horizon - timedelta(days=2)
    book.schedule(write_off_at, lambda: _write_off_old(book))
    book.run_agenda()


def _apply_prepayment(book: _Book, payment: Payment, invoice: Invoice) -> None:
    amount = min(book.payment_unallocated[payment.id], book.outstanding[invoice.id])
    if amount > 0:
        book.allocate_payment(payment, invoice, amount)


def _refund_some_unallocated(book: _Book, prepayment: list[Payment]) -> None:
    """Refund half of what is still unallocated of the prepayment (if it was received)."""
    if not prepayment:
        return
    payment = prepayment[0]
    available = min(book.payment_unallocated[payment.id], book.payment_refundable[payment.id])
    amount = round_money(available / 2, book.currency)
    if amount > 0:
        book.refund(payment, amount, [])


def _schedule_fate(book: _Book, invoice: Invoice, fate: str, pending_with_next: list[Invoice]) -> None:
    rng = book.rng
    soon = book.now + timedelta(days=rng.randint(0, 12), hours=rng.randint(1, 23))
    late = book.now + timedelta(days=rng.randint(40, 75))
    half = Decimal("0.5")

    def then_maybe_refund(payment: Payment | None) -> None:
        """Sometimes, once paid: a partial refund out of the invoice, or (rarer) a charge reversed."""
        if payment is None:
            return
        roll = rng.random()
        if roll < 0.03:
            book.schedule(book.now + timedelta(days=rng.randint(5, 20)), lambda: _partial_refund(book, payment, invoice))
        elif roll < 0.04:
            book.schedule(book.now + timedelta(days=rng.randint(5, 20)),
                          lambda: book.reverse_charges(invoice, [rng.choice(invoice.charges)], beyond_balance=True))

    if pending_with_next and fate != "pay_with_next":
        earlier = list(pending_with_next)
        pending_with_next.clear()

        def pay_together() -> None:
            parts = [(inv, book.outstanding[inv.id]) for inv in [*earlier, invoice] if book.outstanding[inv.id] > 0]
            if parts:
                book.collect(sum((a for _, a in parts), ZERO), parts)
        book.schedule(soon, pay_together)
        return

    if fate == "pay_exact":
        book.schedule(soon, lambda: then_maybe_refund(book.pay_outstanding(invoice)))
    elif fate == "pay_late":
        book.schedule(late, lambda: then_maybe_refund(book.pay_outstanding(invoice)))
    elif fate == "pay_two_parts":
        book.schedule(soon, lambda: book.pay_outstanding(invoice, Decimal(rng.choice(("0.3", "0.5", "0.6")))))
        book.schedule(soon + timedelta(days=rng.randint(5, 20)), lambda: then_maybe_refund(book.pay_outstanding(invoice)))
    elif fate == "pay_partial_only":
        book.schedule(soon, lambda: book.pay_outstanding(invoice, half))
    elif fate == "overpay":
        book.schedule(soon, lambda: book.pay_outstanding(invoice, extra=_money(rng, 1, 40, book.currency)))
    elif fate == "failed_then_paid":
        book.schedule(soon, lambda: book.failed_activity(FAILED, COLLECT, book.outstanding[invoice.id]))
        book.schedule(soon + timedelta(days=3), lambda: book.pay_outstanding(invoice, attempt=2))
    elif fate == "credit_applied":
        def settle_with_credit() -> None:
            owed = book.outstanding[invoice.id]
            if owed <= 0:
                return
            credit = book.credit(owed, [(invoice, owed)])
            if rng.random() < 0.25:
                book.schedule(book.now + timedelta(days=rng.randint(2, 15)), lambda: _reverse_applied_credit(book, credit, invoice))
        book.schedule(soon, settle_with_credit)
    elif fate == "credit_then_pay":
        def credit_part() -> None:
            part = round_money(book.outstanding[invoice.id] * Decimal("0.2"), book.currency)
            if part > 0:
                book.credit(part + _money(rng, 0, 10, book.currency), [(invoice, part)])
        book.schedule(soon, credit_part)
        book.schedule(soon + timedelta(days=4), lambda: book.pay_outstanding(invoice))
    elif fate == "reverse_then_pay":
        book.schedule(soon, lambda: book.reverse_charges(invoice, [rng.choice(invoice.charges)]))
        book.schedule(soon + timedelta(days=2), lambda: book.pay_outstanding(invoice))
    elif fate == "unpaid":
        if rng.random() < 0.1:
            book.schedule(soon, lambda: book.reverse_charges(invoice, list(invoice.charges)))
    elif fate == "pay_with_next":
        pending_with_next.append(invoice)
    else:
        raise ValueError(fate)


def _partial_refund(book: _Book, payment: Payment, invoice: Invoice) -> None:
    allocated = book.payment_allocated.get((payment.id, invoice.id), ZERO)
    amount = round_money(allocated * Decimal(book.rng.choice(("0.25", "0.5", "1"))), book.currency)
    if amount > 0:
        book.refund(payment, amount, [(invoice, amount)])


def _reverse_applied_credit(book: _Book, credit: Credit, invoice: Invoice) -> None:
    allocated = book.credit_allocated.get((credit.id, invoice.id), ZERO)
    amount = round_money(allocated / 2, book.currency)
    if amount > 0:
        book.debit(credit, amount, [(invoice, amount)])


def _write_off_old(book: _Book) -> None:
    cancelled = book.records.customer.status == CANCELLED
    cutoff = book.now - timedelta(days=90)
    for invoice in book.open_invoices():
        if cancelled or (invoice.posted < cutoff and book.rng.random() < 0.4):
            book.write_off(invoice)


# --- scripted stories: every case at least once ------------------------------------------------


def scenario_settings(scenario: Callable[[_Book], None]) -> dict[str, Any]:
    return dict(getattr(scenario, "settings"))


def _scenario(**settings: Any) -> Callable[[Callable[[_Book], None]], Callable[[_Book], None]]:
    def register(story: Callable[[_Book], None]) -> Callable[[_Book], None]:
        def play(book: _Book) -> None:
            story(book)
            book.run_agenda()

        play.settings = {"start_early": True, **settings}  # type: ignore[attr-defined]
        play.__name__ = play.__qualname__ = story.__name__
        play.__doc__ = story.__doc__
        return play

    return register


def _training(count: int) -> list[tuple[tuple[str, str, Decimal, bool], Decimal]]:
    training = next(p for p in names.ADD_ONS if p[0] == "TRAINING")
    return [(training, Decimal(1)) for _ in range(count)]


def _plan(index: int = 1) -> list[tuple[tuple[str, str, Decimal, bool], Decimal]]:
    return [(names.PRODUCTS[index], Decimal(1))]


def _at(book: _Book, days: float, action: Callable[[], Any]) -> None:
    book.schedule(book.now + timedelta(days=days), action)


@_scenario(currency="CAD", jurisdiction="CA-QC")
def rounding_quebec(book: _Book) -> None:
    """3 x 33.33 with GST 5 % and QST 9.975 % (both on the net): invoice-level rounding gives 5.00
    and 9.97, per-line rounding 5.01 and 9.96. One charge is reversed (1.67 + 3.32 back), the rest paid."""
    def story() -> None:
        invoice = book.post_invoice(_training(3))
        _at(book, 1, lambda: book.reverse_charges(invoice, [invoice.charges[0]]))
        _at(book, 3, lambda: book.pay_outstanding(invoice))
    _at(book, 1, story)


@_scenario(currency="CAD", jurisdiction="CA-AB")
def half_cent_tax(book: _Book) -> None:
    """GST on 10.10 is 0.505: half-up gives 0.51 where banker's rounding would give 0.50."""
    setup = next(p for p in names.ADD_ONS if p[0] == "SEAT")
    def story() -> None:
        invoice = book.post_invoice([((setup[0], setup[1], Decimal("10.10"), True), Decimal(1))])
        _at(book, 2, lambda: book.pay_outstanding(invoice))
    _at(book, 1, story)


@_scenario(currency="USD", jurisdiction="US-NY")
def partial_payments(book: _Book) -> None:
    """One invoice paid in two parts (two payments on one invoice), another left partly open."""
    def story() -> None:
        first = book.post_invoice(_plan(1))
        _at(book, 2, lambda: book.pay_outstanding(first, Decimal("0.4")))
        _at(book, 9, lambda: book.pay_outstanding(first))
        _at(book, 30, lambda: _post_and(book, _plan(1), lambda second: book.pay_outstanding(second, Decimal("0.5"))))
    _at(book, 1, story)


@_scenario(currency="USD", jurisdiction="US-OR")
def overpayment_refunded(book: _Book) -> None:
    """Untaxed invoice overpaid by 25.00; the unallocated 25.00 is later refunded (no allocations)."""
    def story() -> None:
        invoice = book.post_invoice(_plan(0))
        def pay() -> None:
            payment = book.pay_outstanding(invoice, extra=Decimal("25.00"))
            _at(book, 10, lambda: book.refund(payment, Decimal("25.00"), []))
        _at(book, 2, pay)
    _at(book, 1, story)


@_scenario(currency="EUR", jurisdiction="DE")
def prepayment_allocated_later(book: _Book) -> None:
    """A payment received before any invoice (unallocated), allocated to the invoice a month later;
    a second payment on account is never allocated."""
    def story() -> None:
        payment = book.collect(Decimal("500.00"), [])
        _at(book, 30, lambda: _post_and(book, _plan(1), lambda invoice: _apply_prepayment(book, payment, invoice)))
        _at(book, 45, lambda: book.collect(Decimal("80.00"), []))
    _at(book, 1, story)


@_scenario(currency="GBP", jurisdiction="GB")
def one_payment_two_invoices(book: _Book) -> None:
    """Two invoices settled by one payment allocated across both."""
    def story() -> None:
        first = book.post_invoice(_plan(1))
        def second_and_pay() -> None:
            second = book.post_invoice(_plan(2))
            _at(book, 3, lambda: book.collect(
                book.outstanding[first.id] + book.outstanding[second.id],
                [(first, book.outstanding[first.id]), (second, book.outstanding[second.id])],
            ))
        _at(book, 30, second_and_pay)
    _at(book, 1, story)


@_scenario(currency="USD", jurisdiction="US-NY")
def refund_of_allocated_payment(book: _Book) -> None:
    """Paid in full, then 40 % refunded out of the invoice allocation: the invoice re-opens."""
    def story() -> None:
        invoice = book.post_invoice(_plan(1) + _training(1))
        def pay() -> None:
            payment = book.pay_outstanding(invoice)
            amount = round_money(invoice.invoice_amount * Decimal("0.4"), book.currency)
            _at(book, 8, lambda: book.refund(payment, amount, [(invoice, amount)]))
        _at(book, 2, pay)
    _at(book, 1, story)


@_scenario(currency="CAD", jurisdiction="CA-ON")
def credit_applied_then_reversed(book: _Book) -> None:
    """A credit applied to an invoice, half of it reversed by a debit that re-opens the invoice,
    which is then paid."""
    def story() -> None:
        invoice = book.post_invoice(_plan(1))
        def credit() -> None:
            amount = book.outstanding[invoice.id]
            applied = book.credit(amount, [(invoice, amount)])
            _at(book, 5, lambda: _reverse_applied_credit(book, applied, invoice))
            _at(book, 12, lambda: book.pay_outstanding(invoice))
        _at(book, 2, credit)
    _at(book, 1, story)


@_scenario(currency="GBP", jurisdiction="GB-EXEMPT")
def credit_unapplied_then_reversed(book: _Book) -> None:
    """A goodwill credit never applied; 30.00 of it reversed (a debit with no allocations)."""
    def story() -> None:
        credit = book.credit(Decimal("75.00"), [])
        _at(book, 10, lambda: book.debit(credit, Decimal("30.00"), []))
        _at(book, 15, lambda: _post_and(book, _plan(0), lambda invoice: book.pay_outstanding(invoice)))
    _at(book, 1, story)


@_scenario(currency="CAD", jurisdiction="CA-BC")
def full_charge_reversal(book: _Book) -> None:
    """An invoice with GST and PST whose charges are all reversed: net and tax back to the cent."""
    def story() -> None:
        invoice = book.post_invoice(_plan(1) + _training(2))
        _at(book, 3, lambda: book.reverse_charges(invoice, list(invoice.charges)))
    _at(book, 1, story)


@_scenario(currency="CAD", jurisdiction="CA-ON")
def charge_reversal_of_paid_invoice(book: _Book) -> None:
    """Paid in full, then one training session reversed (33.33 + HST 4.33 = 37.66): the invoice stays
    at zero and the whole credit note is open credit (issue #8 [U]). In QBO the CreditMemo applies up
    to the invoice's balance (nothing) and the rest stays as customer credit."""
    def story() -> None:
        invoice = book.post_invoice(_plan(1) + _training(2))
        _at(book, 2, lambda: book.pay_outstanding(invoice))
        _at(book, 12, lambda: book.reverse_charges(invoice, [invoice.charges[1]], beyond_balance=True))
    _at(book, 1, story)


@_scenario(currency="CAD", jurisdiction="CA-ON")
def write_off_after_partial_payment(book: _Book) -> None:
    """Part paid; the rest (tax included) written off."""
    def story() -> None:
        invoice = book.post_invoice(_plan(2))
        _at(book, 5, lambda: book.pay_outstanding(invoice, Decimal("0.3")))
        _at(book, 100, lambda: book.write_off(invoice))
    _at(book, 1, story)


@_scenario(currency="USD", jurisdiction="US-DE")
def activities_that_move_no_money(book: _Book) -> None:
    """A Validate card check, a failed and an Unknown collection, a failed refund, then a real payment."""
    def story() -> None:
        book.failed_activity(SUCCESSFUL, VALIDATE, ZERO)
        invoice = book.post_invoice(_plan(1))
        _at(book, 1, lambda: book.failed_activity(FAILED, COLLECT, invoice.invoice_amount))
        _at(book, 2, lambda: book.failed_activity(UNKNOWN, COLLECT, invoice.invoice_amount))
        def pay_then_fail_refund() -> None:
            payment = book.pay_outstanding(invoice, attempt=3)
            _at(book, 4, lambda: book.failed_activity(FAILED, REFUND, payment.amount))
        _at(book, 4, pay_then_fail_refund)
    _at(book, 1, story)


@_scenario(currency="CAD", status=DRAFT)
def draft_customer(book: _Book) -> None:
    """A draft customer: nothing posted, never synced."""


@_scenario(currency="EUR", jurisdiction="FR-B2B", status=CANCELLED)
def cancelled_customer(book: _Book) -> None:
    """A cancelled customer with an unpaid invoice written off."""
    def story() -> None:
        invoice = book.post_invoice(_plan(0))
        _at(book, 95, lambda: book.write_off(invoice))
    _at(book, 1, story)


def _post_and(book: _Book, lines: list[tuple[tuple[str, str, Decimal, bool], Decimal]], then: Callable[[Invoice], Any]) -> None:
    invoice = book.post_invoice(lines)
    _at(book, 1, lambda: then(invoice))


SCENARIOS: tuple[Callable[[_Book], None], ...] = (
    rounding_quebec, half_cent_tax, partial_payments, overpayment_refunded, prepayment_allocated_later,
    one_payment_two_invoices, refund_of_allocated_payment, credit_applied_then_reversed,
    credit_unapplied_then_reversed, full_charge_reversal, charge_reversal_of_paid_invoice,
    write_off_after_partial_payment, activities_that_move_no_money, draft_customer, cancelled_customer,
)

# --- names -------------------------------------------------------------------------------------

NAME_CASES = ("duplicate", "duplicate", "colon", "long_person", "long_company", "unicode_company")


def _name_customer(rng: random.Random, customer: Customer, earlier: list[CustomerRecords], case: str | None) -> None:
    """Give the customer names, email, phone and reference (deliberate name cases when asked)."""
    if case is None:
        roll = rng.random()
        case = "duplicate" if roll < 0.03 and earlier else "colon" if roll < 0.05 else "long_person" if roll < 0.06 else "long_company" if roll < 0.07 else None
    if case == "duplicate" and earlier:
        source = rng.choice(earlier).customer
        customer.first_name, customer.last_name, customer.company_name = source.first_name, source.last_name, source.company_name
    else:
        customer.first_name = rng.choice(names.FIRST_NAMES)
        customer.last_name = rng.choice(names.LAST_NAMES)
        if case == "colon":
            customer.company_name = rng.choice(names.COLON_COMPANY_NAMES)
        elif case == "long_person":
            customer.first_name, customer.last_name, customer.company_name = names.LONG_FIRST_NAME, names.LONG_LAST_NAME, None
        elif case == "long_company":
            customer.company_name = names.LONG_COMPANY_NAME
        elif case == "unicode_company":
            customer.company_name = "東京テック 株式会社"
        elif rng.random() < 0.55:
            customer.company_name = f"{rng.choice(names.COMPANY_STEMS)} {rng.choice(names.COMPANY_SUFFIXES)}"
    # Accents dropped for the address ("François" -> "francois"); non-Latin names fall back to "billing".
    folded = unicodedata.normalize("NFKD", f"{customer.first_name}.{customer.last_name}".lower())
    local = "".join(ch for ch in folded if ch.isascii() and (ch.isalnum() or ch == "."))
    customer.primary_email = f"{local.strip('.') or 'billing'}{customer.id % 997}@example.com" if rng.random() < 0.95 else None
    customer.primary_phone = f"+1 {rng.randint(200, 989)} 555 {rng.randint(0, 9999):04d}" if rng.random() < 0.7 else None
    # Fusebill's reference is a free, non-unique string ("Customer ID" in the UI, §3.1).
    customer.reference = None if rng.random() < 0.3 else f"CUST-{rng.randint(1, max(2, len(earlier) // 2 + 2)):05d}"
    customer.middle_name = rng.choice(("A.", "Marie", "J.", None, None, None, None, None))
