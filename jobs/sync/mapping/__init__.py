"""Pure mapping: one Fusebill customer's records → the QBO documents the contract names.

`plan_customer` reads nothing and writes nothing. It walks the customer's records in dependency
order (customer → invoices → payments → refunds → credits and their applications → credit
reversals → charge reversals → write-offs) and keeps, per invoice, the balance QBO will show, so
that no application is planned beyond it: an allocation QBO cannot take on the invoice (its
payment money was refunded out of it — refunds never re-open a QBO invoice) goes to the open
refund entry that names the invoice, as the contract says; what fits nowhere fails with amounts.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

from jobs.sync.mapping.common import ZERO, MappingContext, MappingError, Waiting, before_start, day, fmt, money
from jobs.sync.mapping.credit_memos import credit_note_total, map_credit, map_credit_note, map_write_off
from jobs.sync.mapping.customer import DRAFT, is_synced_status, map_customer
from jobs.sync.mapping.invoice import invoice_total, map_invoice
from jobs.sync.mapping.payments import link_line, map_application, map_ar_journal, map_payment
from jobs.sync.model import (
    CREDIT,
    CREDIT_NOTE,
    CUSTOMER,
    DEBIT,
    INVOICE,
    PAYMENT,
    REFUND,
    STATE_FAILED,
    STATE_PENDING,
    STATE_SKIPPED,
    WRITE_OFF,
    CustomerPlan,
    Doc,
    Key,
    Verdict,
)

COLLECT, REFUND_TYPE, SUCCESSFUL = "Collect", "Refund", "Successful"
AR_CREDIT, AR_DEBIT, AR_WRITE_OFF = "Credit", "Debit", "WriteOff"
NOT_SYNCED_BY_CHOICE = "Not synced: chosen on the Customers page"


@dataclass(frozen=True)
class Decision:
    """The admin's choice for a customer on the Customers page (portal.models.matching): "create"
    (even under "don't create"), "link" (the link to the chosen QBO customer is made before
    planning) or "dont_sync". `problem` says why a chosen link could not be made."""

    choice: str
    problem: str = ""


@dataclass
class CustomerData:
    """What Fusebill says about one customer (as read by fetch.py)."""

    customer: dict[str, Any]
    invoices: list[dict[str, Any]] = field(default_factory=list)
    payment_activities: list[dict[str, Any]] = field(default_factory=list)
    ar_activities: list[dict[str, Any]] = field(default_factory=list)
    credit_notes: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # A record listed twice (it changed between two pages of a listing, or Fusebill repeated it)
        # is one record: keep its latest version, so it is planned, written and counted once.
        self.invoices = _unique(self.invoices, lambda r: r.get("id"))
        self.payment_activities = _unique(self.payment_activities, lambda r: (r.get("transaction") or {}).get("id")
                                          if isinstance(r.get("transaction"), dict) else None)
        self.ar_activities = _unique(self.ar_activities, lambda r: r.get("id"))
        self.credit_notes = _unique(self.credit_notes, lambda r: r.get("id"))


def _unique(records: list[dict[str, Any]], id_of) -> list[dict[str, Any]]:
    """Records by id, the latest `modifiedTimestamp` (else the last listed) winning; order kept."""
    chosen: dict[Any, int] = {}
    kept: list[dict[str, Any] | None] = []
    for record in records:
        ident = id_of(record) if isinstance(record, dict) else None
        if ident is None or str(ident) not in chosen:
            if ident is not None:
                chosen[str(ident)] = len(kept)
            kept.append(record)
            continue
        index = chosen[str(ident)]
        previous = kept[index]
        if str(record.get("modifiedTimestamp") or "") >= str((previous or {}).get("modifiedTimestamp") or ""):
            kept[index] = record
    return [record for record in kept if record is not None]


@dataclass
class _Target:
    """Something an allocation can be applied to in QBO, and how much room it has left."""

    key: Key
    qbo_type: str
    room: Decimal


class _Planner:
    def __init__(self, ctx: MappingContext, data: CustomerData, customer_linked: bool, decision: Decision | None = None) -> None:
        self.ctx = ctx
        self.decision = decision
        self.data = data
        self.customer_id = str(data.customer["id"])
        self.currency = str(data.customer.get("currency") or ctx.home_currency).upper()
        self.customer_linked = customer_linked
        self.plan = CustomerPlan(self.customer_id)
        self.invoices: dict[str, dict[str, Any]] = {}  # synced-bound invoices by id
        self.blocked: dict[str, str] = {}  # invoice id -> why it is not in QBO (skipped/failed reason)
        self.room: dict[str, Decimal] = {}  # invoice id -> balance QBO will show
        self.refund_room: dict[str, list[_Target]] = defaultdict(list)  # invoice id -> open refund JEs naming it

    # ---------------------------------------------------------------- verdicts
    def label(self, record: Key, text: str) -> None:
        self.plan.labels[record] = text[:200]

    def verdict(self, record: Key, state: str, reason: str, hint: str = "") -> None:
        self.plan.verdicts.append(Verdict(record, self.customer_id, self.plan.labels.get(record, record.marker), state, reason, hint))

    def guarded(self, record: Key, build) -> list[Doc] | None:
        try:
            docs = build()
        except _Skip as skip:
            self.verdict(record, STATE_SKIPPED, skip.reason)
            return None
        except MappingError as error:
            self.verdict(record, STATE_FAILED, error.reason, error.hint)
            return None
        except Waiting as error:
            self.verdict(record, STATE_PENDING, error.reason)
            return None
        self.plan.docs.extend(docs)
        return docs

    def when(self, raw: Any) -> str:
        return day(raw)

    def amount(self, raw: Any, what: str) -> Decimal:
        return money(raw, self.currency, what)

    # ---------------------------------------------------------------- the walk
    def run(self) -> CustomerPlan:
        customer = self.data.customer
        record = Key(CUSTOMER, self.customer_id)
        name = customer.get('companyName') or ' '.join(filter(None, (customer.get('firstName'), customer.get('lastName'))))
        self.label(record, f"Customer {name} ({self.customer_id})")
        records = self.all_records()
        if str(customer.get("status") or "") == DRAFT or not is_synced_status(customer):
            for key in [record, *records]:
                self.verdict(key, STATE_SKIPPED, "draft customer: never synced" if str(customer.get("status")) == DRAFT else
                             f"customer status {customer.get('status')!r} is not synced")
            return self.plan
        choice = self.decision.choice if self.decision is not None else ""
        if choice == "dont_sync":
            for key in [record, *records]:
                self.verdict(key, STATE_SKIPPED, NOT_SYNCED_BY_CHOICE)
            return self.plan
        if self.decision is not None and self.decision.problem:
            for key in [record, *records]:
                self.verdict(key, STATE_FAILED, self.decision.problem, "Choose again on the Customers page.")
            return self.plan
        if not self.ctx.create_new_customers and not self.customer_linked and choice != "create":
            for key in [record, *records]:
                self.verdict(key, STATE_SKIPPED, "waiting for a decision: new customers are not created (setting “don't create”)",
                             "Choose create or link for this customer, or change the setting.")
            return self.plan
        try:
            self.plan.docs.append(map_customer(self.ctx, customer))
        except MappingError as error:
            self.verdict(record, STATE_FAILED, error.reason, error.hint)
            for key in records:
                self.verdict(key, STATE_FAILED, f"the customer cannot be synced: {error.reason}", error.hint)
            return self.plan
        if self.ctx.auto_apply_credit:
            reason = "“Automatically apply credits” is on in QuickBooks: invoices, payments and credits are held"
            hint = "Turn it off in QuickBooks (Settings → Account and settings → Advanced → Automation), then retry."
            for key in records:
                self.verdict(key, STATE_PENDING, reason, hint)
            return self.plan
        self.walk_invoices()
        self.walk_payments()
        self.walk_credits()
        self.walk_credit_notes()
        self.walk_write_offs()
        return self.plan

    def all_records(self) -> list[Key]:
        keys = [Key(INVOICE, str(i["id"])) for i in self.data.invoices]
        for activity in self.data.payment_activities:
            kind = self.activity_kind(activity)
            if kind is not None:
                keys.append(Key(kind, str(activity["transaction"]["id"])))
        for entry in self.data.ar_activities:
            kind = {AR_CREDIT: CREDIT, AR_DEBIT: DEBIT, AR_WRITE_OFF: WRITE_OFF}.get(str(entry.get("transactionType")))
            if kind is not None:
                keys.append(Key(kind, str(entry["id"])))
        keys += [Key(CREDIT_NOTE, str(n["id"])) for n in self.data.credit_notes]
        for key in keys:
            self.plan.labels.setdefault(key, f"{key.entity_type} {key.fusebill_id}")
        return keys

    @staticmethod
    def activity_kind(activity: dict[str, Any]) -> str | None:
        """Only a successful Collect is a payment, a successful Refund a refund (fusebill-api.md §3.4)."""
        if activity.get("status") != SUCCESSFUL or not activity.get("transaction"):
            return None
        return {COLLECT: PAYMENT, REFUND_TYPE: REFUND}.get(str(activity.get("transactionType")))

    # ---------------------------------------------------------------- invoices
    def walk_invoices(self) -> None:
        for invoice in sorted(self.data.invoices, key=lambda i: (str(i.get("postedTimestamp")), int(i["id"]))):
            invoice_id = str(invoice["id"])
            record = Key(INVOICE, invoice_id)
            self.label(record, f"Invoice {invoice.get('invoiceNumber') or invoice_id}")
            try:
                total = invoice_total(invoice, self.currency)
                posted = self.when(invoice.get("postedTimestamp") or invoice.get("effectiveTimestamp"))
            except MappingError as error:
                self.blocked[invoice_id] = error.reason
                self.verdict(record, STATE_FAILED, error.reason, error.hint)
                continue
            if total == 0:
                self.blocked[invoice_id] = "skipped"
                self.verdict(record, STATE_SKIPPED, "zero-amount invoice: nothing to post")
                continue
            if before_start(self.ctx, posted):
                self.blocked[invoice_id] = "skipped"
                self.verdict(record, STATE_SKIPPED, f"posted {posted}, before the sync start date {self.ctx.start_date}")
                continue
            docs = self.guarded(record, lambda: [map_invoice(self.ctx, invoice, self.customer_id, self.currency)])  # noqa: B023  # called at once
            if docs is None:
                self.blocked[invoice_id] = f"invoice {invoice.get('invoiceNumber') or invoice_id} is not synced"
                continue
            self.invoices[invoice_id] = invoice
            self.room[invoice_id] = total

    def invoice_number(self, invoice_id: str) -> str:
        invoice = self.invoices.get(invoice_id) or next((i for i in self.data.invoices if str(i["id"]) == invoice_id), None)
        return str((invoice or {}).get("invoiceNumber") or invoice_id)

    def targets(self, invoice_id: str, amount: Decimal, what: str) -> list[tuple[_Target, Decimal]]:
        """Where an allocation of `amount` to an invoice goes in QBO: the invoice up to its balance,
        then the open refund entries that name it. Raises when it fits nowhere."""
        if invoice_id in self.blocked:
            reason = self.blocked[invoice_id]
            if reason == "skipped":
                return []  # the invoice is not synced on purpose: the money stays unapplied credit
            raise Waiting(f"waiting for invoice {self.invoice_number(invoice_id)}: {reason}")
        if invoice_id not in self.room:
            raise MappingError(f"{what} is allocated to invoice {invoice_id}, which this customer does not have")
        chosen: list[tuple[_Target, Decimal]] = []
        rest = amount
        for target in [_Target(Key(INVOICE, invoice_id), "Invoice", self.room[invoice_id]), *self.refund_room[invoice_id]]:
            take = min(rest, target.room)
            if take > 0:
                chosen.append((target, take))
                rest -= take
        if rest > 0:
            raise MappingError(f"{what}: allocation of {fmt(amount)} {self.currency} to invoice {self.invoice_number(invoice_id)} "
                               f"exceeds what is open on it in QuickBooks ({fmt(amount - rest)})")
        return chosen

    def take(self, chosen: list[tuple[_Target, Decimal]], invoice_id: str) -> None:
        for target, amount in chosen:
            if target.qbo_type == "Invoice":
                self.room[invoice_id] -= amount
            else:
                target.room -= amount

    # ---------------------------------------------------------------- payments and refunds
    def walk_payments(self) -> None:
        activities = [a for a in self.data.payment_activities if self.activity_kind(a)]
        activities.sort(key=lambda a: (str(a["transaction"].get("effectiveTimestamp") or a.get("effectiveTimestamp")), int(a["transaction"]["id"])))
        for activity in activities:
            transaction = activity["transaction"]
            kind = self.activity_kind(activity)
            if kind is None:  # never: the list above holds only payments and refunds
                continue
            record = Key(kind, str(transaction["id"]))
            self.label(record, f"{'Payment' if kind == PAYMENT else 'Refund'} {transaction['id']}")
            try:
                when = self.when(transaction.get("effectiveTimestamp") or activity.get("effectiveTimestamp"))
            except MappingError as error:
                self.verdict(record, STATE_FAILED, error.reason)
                continue
            if before_start(self.ctx, when):
                self.verdict(record, STATE_SKIPPED, f"dated {when}, before the sync start date {self.ctx.start_date}")
                continue
            if kind == PAYMENT:
                self.guarded(record, partial(self.payment, record, transaction, when))
            else:
                self.guarded(record, partial(self.refund, record, transaction, when))

    def payment(self, record: Key, transaction: dict[str, Any], when: str) -> list[Doc]:
        what = f"payment {record.fusebill_id}"
        amount = self.amount(transaction.get("amount"), what)
        if amount <= 0:
            raise MappingError(f"{what} has a non-positive amount ({amount} {self.currency})")
        lines, takes = [], []
        allocated = ZERO
        for allocation in transaction.get("invoiceAllocations") or []:
            invoice_id = str(allocation["invoiceId"])
            part = self.amount(allocation.get("amount"), f"{what} allocation")
            if part <= 0:
                continue
            allocated += part
            chosen = self.targets(invoice_id, part, what)
            takes.append((chosen, invoice_id))
            lines += [link_line(share, target.key, target.qbo_type) for target, share in chosen]
        if allocated > amount:
            raise MappingError(f"{what}: its allocations ({fmt(allocated)}) exceed its amount ({fmt(amount)} {self.currency})")
        for chosen, invoice_id in takes:
            self.take(chosen, invoice_id)
        return [map_payment(self.ctx, record, amount, when, str(transaction.get("reference") or ""), lines, self.customer_id, self.currency)]

    def refund(self, record: Key, transaction: dict[str, Any], when: str) -> list[Doc]:
        what = f"refund {record.fusebill_id}"
        amount = self.amount(transaction.get("amount"), what)
        if amount <= 0:
            raise MappingError(f"{what} has a non-positive amount ({amount} {self.currency})")
        reopened = []
        for allocation in transaction.get("invoiceAllocations") or []:
            invoice_id = str(allocation["invoiceId"])
            part = self.amount(allocation.get("amount"), f"{what} allocation")
            if part > 0 and invoice_id in self.room:
                self.refund_room[invoice_id].append(_Target(record, "JournalEntry", part))
                reopened.append(f"{self.invoice_number(invoice_id)} ({fmt(part)})")
        description = f"Fusebill refund {record.fusebill_id}" + (f"; re-opens invoice {', '.join(reopened)}" if reopened else "")
        return [map_ar_journal(self.ctx, record, amount, when, "refunds", description, self.customer_id, self.currency)]

    # ---------------------------------------------------------------- credits and their reversals
    def walk_credits(self) -> None:
        entries = sorted(self.data.ar_activities, key=lambda e: (str(e.get("effectiveTimestamp")), int(e["id"])))
        credits = {str(e["id"]): e for e in entries if e.get("transactionType") == AR_CREDIT}
        debits = [e for e in entries if e.get("transactionType") == AR_DEBIT]
        taken_back: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
        for debit in debits:
            for allocation in debit.get("invoiceAllocation") or []:
                taken_back[(str(debit.get("associatedId")), str(allocation["invoiceId"]))] += Decimal(str(allocation.get("amount") or 0))
        synced_credits: dict[str, list[Key]] = {}
        for credit_id, entry in credits.items():
            record = Key(CREDIT, credit_id)
            self.label(record, f"Credit {credit_id}")
            docs = self.guarded(record, partial(self.credit, record, entry, taken_back))
            if docs is not None:
                synced_credits[credit_id] = [d.key for d in docs]
        skipped = {v.record.fusebill_id: v.reason for v in self.plan.verdicts if v.record.entity_type == CREDIT and v.state == STATE_SKIPPED}
        for debit in debits:
            record = Key(DEBIT, str(debit["id"]))
            self.label(record, f"Credit reversal {debit['id']}")
            original = str(debit.get("associatedId") or "")
            if original in skipped:  # the credit it reverses is not synced on purpose: neither is it
                self.verdict(record, STATE_SKIPPED, f"reverses credit {original}, which is not synced: {skipped[original]}")
                continue
            self.guarded(record, partial(self.debit, record, debit, synced_credits))

    def credit(self, record: Key, entry: dict[str, Any], taken_back: dict[tuple[str, str], Decimal]) -> list[Doc]:
        what = f"credit {record.fusebill_id}"
        amount = self.amount(entry.get("arCredit"), what)
        when = self.when(entry.get("effectiveTimestamp"))
        if before_start(self.ctx, when):
            raise _Skip(f"dated {when}, before the sync start date {self.ctx.start_date}")
        memo = map_credit(self.ctx, record.fusebill_id, amount, when, str(entry.get("manualReference") or ""), self.customer_id, self.currency)
        docs = [memo]
        allocated: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for allocation in entry.get("invoiceAllocation") or []:
            allocated[str(allocation["invoiceId"])] += self.amount(allocation.get("amount"), f"{what} allocation")
        if sum(allocated.values(), ZERO) > amount:
            raise MappingError(f"{what}: its allocations ({fmt(sum(allocated.values(), ZERO))}) exceed its amount ({fmt(amount)} {self.currency})")
        for invoice_id, gross in sorted(allocated.items()):
            net = gross - taken_back.get((record.fusebill_id, invoice_id), ZERO)
            docs += self.applications(record, memo.key, "CreditMemo", invoice_id, net, when, what)
        return docs

    def applications(self, record: Key, source: Key, source_type: str, invoice_id: str, amount: Decimal, when: str, what: str) -> list[Doc]:
        """The zero-total Payments applying `source` to an invoice (and, past its QBO balance, to the
        refund entries naming it). A zero amount plans a deletion, in case one was made before."""
        part = f"apply:invoice:{invoice_id}"
        if amount <= 0:
            return [Doc(Key(record.entity_type, record.fusebill_id, part), "Payment", {}, self.customer_id, delete=True)]
        chosen = self.targets(invoice_id, amount, what)
        self.take(chosen, invoice_id)
        docs = []
        for target, share in chosen:
            name = part if target.qbo_type == "Invoice" else f"{part}:refund:{target.key.fusebill_id}"
            on = max(when, self.when(self.invoices[invoice_id].get("postedTimestamp") or self.invoices[invoice_id].get("effectiveTimestamp")))
            docs.append(map_application(self.ctx, Key(record.entity_type, record.fusebill_id, name), share, on, target.key, target.qbo_type,
                                        source, source_type, self.customer_id, self.currency))
        return docs

    def debit(self, record: Key, entry: dict[str, Any], synced_credits: dict[str, list[Key]]) -> list[Doc]:
        """A credit reversal: an A/R JournalEntry against the Credits ledger, settled against the
        CreditMemo's remaining credit by a zero-total Payment, after the credit's applications are lowered."""
        what = f"credit reversal {record.fusebill_id}"
        credit_id = str(entry.get("associatedId") or "")
        if credit_id not in synced_credits:
            raise Waiting(f"waiting for credit {credit_id}, which it reverses")
        amount = self.amount(entry.get("arDebit"), what)
        if amount <= 0:
            raise MappingError(f"{what} has a non-positive amount ({amount} {self.currency})")
        when = self.when(entry.get("effectiveTimestamp"))
        journal = map_ar_journal(self.ctx, record, amount, when, "credits", f"Fusebill reversal of credit {credit_id}", self.customer_id, self.currency)
        settle = map_application(self.ctx, Key(DEBIT, record.fusebill_id, f"settle:credit:{credit_id}"), amount, when,
                                 record, "JournalEntry", Key(CREDIT, credit_id), "CreditMemo", self.customer_id, self.currency)
        settle.after = tuple(synced_credits[credit_id])  # the lowered applications first, so the credit has room
        return [journal, settle]

    # ---------------------------------------------------------------- charge reversals, write-offs
    def walk_credit_notes(self) -> None:
        for note in sorted(self.data.credit_notes, key=lambda n: (str(n.get("effectiveTimestamp")), int(n["id"]))):
            record = Key(CREDIT_NOTE, str(note["id"]))
            self.label(record, f"Charge reversal {note.get('creditNotesNumber') or note['id']}")
            self.guarded(record, partial(self.credit_note, record, note))

    def credit_note(self, record: Key, note: dict[str, Any]) -> list[Doc]:
        what = f"charge reversal {note.get('creditNotesNumber') or record.fusebill_id}"
        invoice_id = str(note.get("invoiceId") or (note.get("invoice") or {}).get("id") or "")
        if invoice_id in self.blocked and self.blocked[invoice_id] != "skipped":
            raise Waiting(f"waiting for invoice {self.invoice_number(invoice_id)}: {self.blocked[invoice_id]}")
        if invoice_id not in self.room:
            raise _Skip(f"its invoice {self.invoice_number(invoice_id)} is not synced")
        memo = map_credit_note(self.ctx, note, self.customer_id, self.currency)
        total = credit_note_total(note, self.currency)
        # Applied up to what is open on the invoice in QBO (its balance, then the refund entries
        # naming it); the rest stays as the customer's open credit.
        applied = min(total, self.room[invoice_id] + sum((t.room for t in self.refund_room[invoice_id]), ZERO))
        return [memo, *self.applications(record, memo.key, "CreditMemo", invoice_id, applied, memo.payload["TxnDate"], what)]

    def walk_write_offs(self) -> None:
        for entry in sorted(self.data.ar_activities, key=lambda e: (str(e.get("effectiveTimestamp")), int(e["id"]))):
            if entry.get("transactionType") != AR_WRITE_OFF:
                continue
            record = Key(WRITE_OFF, str(entry["id"]))
            self.label(record, f"Write-off {entry['id']}")
            self.guarded(record, partial(self.write_off, record, entry))

    def write_off(self, record: Key, entry: dict[str, Any]) -> list[Doc]:
        what = f"write-off {record.fusebill_id}"
        allocations = entry.get("invoiceAllocation") or []
        if len(allocations) != 1:
            raise MappingError(f"{what} names {len(allocations)} invoices; a write-off belongs to exactly one")
        invoice_id = str(allocations[0]["invoiceId"])
        if invoice_id in self.blocked and self.blocked[invoice_id] != "skipped":
            raise Waiting(f"waiting for invoice {self.invoice_number(invoice_id)}: {self.blocked[invoice_id]}")
        if invoice_id not in self.room:
            raise _Skip(f"its invoice {self.invoice_number(invoice_id)} is not synced")
        amount = self.amount(entry.get("arCredit"), what)
        when = self.when(entry.get("effectiveTimestamp"))
        memo = map_write_off(self.ctx, record.fusebill_id, amount, when, self.invoice_number(invoice_id), self.customer_id, self.currency)
        return [memo, *self.applications(record, memo.key, "CreditMemo", invoice_id, amount, when, what)]


class _Skip(Waiting):
    """Not synced on purpose (before the start date, its invoice skipped): recorded as skipped."""


def record_keys(data: CustomerData) -> list[Key]:
    """Every record of the customer that carries an id, read tolerantly (for data the planner could not read)."""
    def ident(record: Any) -> str | None:
        value = record.get("id") if isinstance(record, dict) else None
        return None if value is None or value == "" else str(value)

    keys = [Key(INVOICE, i) for i in map(ident, data.invoices) if i]
    for activity in data.payment_activities:
        kind = _Planner.activity_kind(activity) if isinstance(activity, dict) else None
        found = ident(activity.get("transaction")) if kind else None
        if kind and found:
            keys.append(Key(kind, found))
    for entry in data.ar_activities:
        kind = {AR_CREDIT: CREDIT, AR_DEBIT: DEBIT, AR_WRITE_OFF: WRITE_OFF}.get(str(entry.get("transactionType"))) if isinstance(entry, dict) else None
        found = ident(entry) if kind else None
        if kind and found:
            keys.append(Key(kind, found))
    keys += [Key(CREDIT_NOTE, n) for n in map(ident, data.credit_notes) if n]
    return list(dict.fromkeys(keys))


def plan_customer(ctx: MappingContext, data: CustomerData, customer_linked: bool = False, decision: Decision | None = None) -> CustomerPlan:
    return _Planner(ctx, data, customer_linked, decision).run()
