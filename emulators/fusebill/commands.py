"""The records command language of `POST /_emulator/records`: change an account the way Fusebill
users and billing runs do, so incremental sync and webhooks can be driven from tests.

Request::

    {"api_key": "<key>",
     "at": "2025-03-01T12:00:00",            # optional: default effective time of every command
     "commands": [ {"op": "<name>", ...}, ... ]}

Commands run in order and all-or-nothing: if one is refused (unknown id, a Fusebill rule broken —
see `ledger.py`), nothing changes and the answer is 400 `{"error": ..., "command_index": i}`.
Success answers 200 `{"results": [one per command], "changed": {"customer": [ids], "invoice":
[ids], ...}, "events": <webhook events queued>}`.

Every record whose own state changed gets `modified` = now (the emulator clock), and only that record
(rules.py, "modifiedTimestamp"): an invoice whose balances moved (a payment or credit allocated to
it, money refunded out of it, a credit note, a write-off) and the payment a refund came out of count
as changed; the customer does not change when its records do, nor a payment activity when the
payment it shows does. With the `propagate_modified` switch on, the customer (and the activity showing
a changed payment/refund) are also reported as changed and get the event, and the API serves their
modifiedTimestamp as the latest stamp among them (api.customer_modified). Every change is also a
webhook event (names in `shapes.py`). Amounts are JSON numbers (or strings) in the customer's
currency; every command takes an optional `effectiveTimestamp` (default: `at`, else now).

Ops (field names in snake_case for ids, camelCase for Fusebill fields):

=====================  =======================================================================
``create_customer``     ``currency`` (required), ``firstName``, ``middleName``, ``lastName``,
                        ``companyName``, ``primaryEmail``, ``primaryPhone``, ``reference``,
                        ``status`` (default "Active"; "Draft" for a draft), ``term`` (default
                        "Net30"), ``jurisdiction`` (tax jurisdiction code from
                        `sampledata.taxes.JURISDICTIONS`, default none) → ``{"id"}``
``update_customer``     ``customer_id``, ``set``: any of the fields above except currency and
                        jurisdiction, plus ``customerAccountStatus``. A status change from Draft
                        activates the customer; nothing goes back to Draft.
``post_invoice``        ``customer_id``, ``charges``: [{``name``, ``amount`` or ``quantity`` +
                        ``unitPrice``, ``taxable`` (default true), ``productCode``}], optional
                        ``taxes``: [{``taxRuleId``, ``amount``}] (default: each rule of the
                        customer's jurisdiction on the taxable subtotal, `sampledata.taxes`),
                        ``terms``, ``poNumber`` → ``{"id", "invoiceNumber", "invoiceAmount"}``
``collect_payment``     ``customer_id``, ``amount``, ``allocations``: [{``invoice_id``,
                        ``amount``}] (rest unallocated), ``reference``, ``method``, ``source``
                        → ``{"id", "paymentActivityId"}`` (a Successful Collect activity)
``payment_activity``    ``customer_id``, ``status`` (Failed/Unknown, or Successful with Validate),
                        ``transactionType`` (Collect/Validate/Refund), ``amount`` — an activity
                        that moves no money → ``{"paymentActivityId"}``
``allocate_payment``    ``payment_id``, ``invoice_id``, ``amount`` (from its unallocated money)
``refund``              ``payment_id``, ``amount``, ``allocations`` (money taken back out of
                        invoices; they re-open), ``reference`` → ``{"id", "paymentActivityId"}``
``credit``              ``customer_id``, ``amount``, ``allocations``, ``reference`` → ``{"id"}``
``allocate_credit``     ``credit_id``, ``invoice_id``, ``amount``
``reverse_credit``      ``credit_id``, ``amount``, ``allocations`` → ``{"id"}`` (a Debit)
``reverse_charges``     ``invoice_id``, ``charges``: [{``charge_id``, ``amount`` (default the whole
                        charge)}] or ``"all": true``, optional ``taxes`` [{``taxRuleId``,
                        ``amount``}] (default per `sampledata.taxes.reversed_tax`), ``reference``
                        → ``{"id", "creditNotesNumber", "totalAmount"}`` (a credit note). Also on
                        a paid or partly paid invoice: the invoice's balance stops at zero and the
                        excess becomes the customer's open credit ([U], `ledger.py`)
``write_off``           ``invoice_id``, ``amount`` (default: all that is outstanding),
                        ``reference`` → ``{"id"}``
=====================  =======================================================================
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from emulators.fusebill import shapes
from emulators.fusebill.ledger import CustomerLedger, LedgerError
from emulators.fusebill.store import KIND_LISTS, Account, Store, UnknownRecord, Workspace
from emulators.sampledata.generator import TERM_DAYS
from emulators.sampledata.money import ZERO, is_whole_minor_units, parse_timestamp, round_money
from emulators.sampledata.records import (
    ACTIVE, COLLECT, CUSTOMER_STATUSES, DRAFT, PAYMENT_ACTIVITY_STATUSES, PAYMENT_ACTIVITY_TYPES, REFUND,
    SUCCESSFUL, VALIDATE, Address, Allocation, Charge, Credit, CreditNote, CreditNoteLine, CreditNoteTax,
    Customer, CustomerRecords, Debit, Invoice, InvoiceTax, Payment, PaymentActivity, Refund, WriteOff,
    credit_note_number, to_plain,
)
from emulators.sampledata.taxes import JURISDICTIONS_BY_CODE, reversed_tax, rules_for, tax_on


class CommandError(ValueError):
    """A command that cannot be carried out; `index` is its position in the request."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


@dataclass
class Change:
    kind: str
    record_id: int
    customer_id: int
    created: bool
    event_type: str | None


@dataclass
class Outcome:
    results: list[dict[str, Any]]
    changes: list[Change]


def run_commands(store: Store, account: Account, commands: list[dict[str, Any]], now: datetime,
                 default_effective: datetime | None = None, propagate: bool = False) -> Outcome:
    """Apply `commands` to `account` atomically (see the module docstring). Call under account.lock."""
    if not isinstance(commands, list) or not commands:
        raise CommandError("'commands' must be a non-empty list")
    workspace = Workspace(account)
    results = []
    ledgers: dict[int, CustomerLedger] = {}  # the latest replay of every customer a command changed
    for index, command in enumerate(commands):
        try:
            if not isinstance(command, dict) or command.get("op") not in OPS:
                raise CommandError(f"unknown op {command.get('op') if isinstance(command, dict) else command!r}; known: {', '.join(OPS)}")
            effective = _when(command.get("effectiveTimestamp"), default_effective or now)
            touched, result = OPS[command["op"]](_Context(workspace, account, command, effective, now))
            for customer_id in touched:
                ledgers[customer_id] = workspace.ledger(customer_id)  # replay now: a broken rule names this command
            results.append({"op": command["op"], **result})
        # TypeError: a field of the wrong JSON type (e.g. "charges": 5) reached the op.
        except (CommandError, LedgerError, UnknownRecord, TypeError) as exc:
            raise CommandError(str(exc.args[0] if exc.args else exc), index) from exc
    changes = _stamp_changes(workspace, account, ledgers, now, propagate)
    workspace.commit(store, ledgers)
    return Outcome(results=results, changes=changes)


# --- helpers -----------------------------------------------------------------------------------


@dataclass
class _Context:
    ws: Workspace
    account: Account
    command: dict[str, Any]
    effective: datetime
    now: datetime

    def arg(self, name: str, default: Any = ...) -> Any:
        if name in self.command:
            return self.command[name]
        if default is ...:
            raise CommandError(f"{self.command['op']} needs '{name}'")
        return default

    def record_id(self, name: str) -> int:
        value = self.arg(name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise CommandError(f"'{name}' must be an integer id")
        return value

    def customer(self) -> CustomerRecords:
        return self.ws.records(self.record_id("customer_id"))

    def money(self, value: Any, currency: str, what: str) -> Decimal:
        amount = _decimal(value, what)
        if not is_whole_minor_units(amount, currency):
            raise CommandError(f"{what} {amount} has more decimals than {currency} allows")
        return amount

    def allocations(self, bundle: CustomerRecords, seq: Callable[[], int]) -> list[Allocation]:
        allocations = []
        for entry in self.arg("allocations", []):
            invoice_id = entry.get("invoice_id") if isinstance(entry, dict) else None
            if not isinstance(invoice_id, int):
                raise CommandError("each allocation needs an integer 'invoice_id' and an 'amount'")
            amount = self.money(entry.get("amount"), bundle.customer.currency, "allocation amount")
            allocations.append(Allocation(invoice_id, amount, self.effective, seq()))
        return allocations


def _decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise CommandError(f"{what} must be a number")
    try:
        return Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise CommandError(f"{what} must be a number, not {value!r}") from None


def _when(value: Any, default: datetime) -> datetime:
    if value is None:
        return default
    try:
        return parse_timestamp(str(value)).replace(microsecond=0)
    except ValueError:
        raise CommandError(f"'{value}' is not a timestamp") from None


def _financial(bundle: CustomerRecords) -> CustomerRecords:
    if bundle.customer.status == DRAFT:
        raise CommandError(f"customer {bundle.customer.id} is a Draft customer: activate it first")
    return bundle


# --- ops ---------------------------------------------------------------------------------------

CUSTOMER_FIELDS = {
    "firstName": "first_name", "middleName": "middle_name", "lastName": "last_name", "companyName": "company_name",
    "primaryEmail": "primary_email", "primaryPhone": "primary_phone", "reference": "reference", "title": "title",
    "suffix": "suffix", "term": "term", "customerAccountStatus": "account_status", "status": "status",
}


def _create_customer(ctx: _Context) -> tuple[list[int], dict[str, Any]]:
    currency = ctx.arg("currency")
    jurisdiction = ctx.arg("jurisdiction", "") or ""
    if jurisdiction and (jurisdiction not in JURISDICTIONS_BY_CODE or JURISDICTIONS_BY_CODE[jurisdiction].currency != currency):
        raise CommandError(f"jurisdiction {jurisdiction!r} is unknown or not billed in {currency}")
    place = JURISDICTIONS_BY_CODE.get(jurisdiction)
    try:
        round_money(ZERO, currency)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    status = ctx.arg("status", ACTIVE)
    if status not in CUSTOMER_STATUSES:
        raise CommandError(f"status must be one of {', '.join(CUSTOMER_STATUSES)}")
    customer = Customer(
        id=ctx.ws.next_id("customer"), status=status, currency=currency, first_name=None, last_name=None,
        company_name=None, primary_email=None, primary_phone=None, reference=None, term="Net30",
        jurisdiction=jurisdiction,
        address=Address("1 Main St", place.city, place.state, place.country, place.country_code, place.postal_zip) if place else None,
        created=ctx.effective, modified=ctx.now, activated=None if status == DRAFT else ctx.effective,
    )
    _apply_customer_fields(customer, {k: v for k, v in ctx.command.items() if k in CUSTOMER_FIELDS and k != "status"}, ctx)
    ctx.ws.add_customer(customer)
    return [customer.id], {"id": customer.id}


def _apply_customer_fields(customer: Customer, values: dict[str, Any], ctx: _Context) -> None:
    for name, value in values.items():
        if name not in CUSTOMER_FIELDS:
            raise CommandError(f"'{name}' cannot be set on a customer; settable: {', '.join(CUSTOMER_FIELDS)}")
        if value is not None and not isinstance(value, str):
            raise CommandError(f"'{name}' must be a string or null")
        if name in ("firstName", "middleName", "lastName", "companyName", "suffix") and value and len(value) > 50:
            raise CommandError(f"'{name}' is limited to 50 characters in Fusebill")
        if name == "status":
            if value not in CUSTOMER_STATUSES:
                raise CommandError(f"status must be one of {', '.join(CUSTOMER_STATUSES)}")
            if value == DRAFT and customer.status != DRAFT:
                raise CommandError("a customer cannot go back to Draft")
            if customer.status == DRAFT and value != DRAFT and customer.activated is None:
                customer.activated = ctx.effective
        if name == "term" and value not in TERM_DAYS:
            raise CommandError(f"term must be one of {', '.join(TERM_DAYS)}")
        setattr(customer, CUSTOMER_FIELDS[name], value)


def _update_customer(ctx: _Context) -> tuple[list[int], dict[str, Any]]:
    bundle = ctx.customer()
    values = ctx.arg("set")
    if not isinstance(values, dict) or not values:
        raise CommandError("'set' must be a non-empty object of customer fields")
    _apply_customer_fields(bundle.customer, values, ctx)
    return [bundle.customer.id], {"id": bundle.customer.id}


def _post_invoice(ctx: _Context) -> tuple[list[int], dict[str, Any]]:
    bundle = _financial(ctx.customer())
    currency = bundle.customer.currency
    charges = []
    for line in ctx.arg("charges"):
        if not isinstance(line, dict) or not line.get("name"):
            raise CommandError("each charge needs a 'name'")
        quantity = _decimal(line.get("quantity", 1), "quantity")
        if "amount" in line:
            amount = ctx.money(line["amount"], currency, "charge amount")
            unit_price = _decimal(line.get("unitPrice", amount / quantity if quantity else amount), "unitPrice")
        else:
            unit_price = _decimal(line.get("unitPrice"), "unitPrice")
            amount = round_money(quantity * unit_price, currency)
        if amount < 0:
            raise CommandError("charge amounts cannot be negative")
        charges.append(Charge(
            transaction_id=ctx.ws.next_id("transaction_id"), name=str(line["name"]),
            product_code=str(line.get("productCode") or "CUSTOM"), quantity=quantity, unit_price=unit_price,
            amount=amount, taxable=bool(line.get("taxable", True)),
        ))
    if not charges:
        raise CommandError("an invoice needs at least one charge")
    taxable = sum((c.amount for c in charges if c.taxable), ZERO)
    explicit = ctx.arg("taxes", None)
    taxes = []
    if explicit is None:
        rule_list = rules_for(bundle.customer.jurisdiction) if taxable > 0 else ()
        amounts = [(rule, tax_on(taxable, rule, currency)) for rule in rule_list]
    else:
        amounts = [(_tax_rule(ctx, entry), ctx.money(entry.get("amount"), currency, "tax amount")) for entry in explicit]
    for rule, amount in amounts:
        taxes.append(InvoiceTax(ctx.ws.next_id("transaction_id"), rule.id, rule.name, rule.percentage, taxable, amount))
    terms = ctx.arg("terms", bundle.customer.term)
    if terms not in TERM_DAYS:
        raise CommandError(f"terms must be one of {', '.join(TERM_DAYS)}")
    invoice = Invoice(
        id=ctx.ws.next_id("invoice"), invoice_number=ctx.ws.next_id("invoice_number"), customer_id=bundle.customer.id,
        currency=currency, posted=ctx.effective, due_date=ctx.effective + timedelta(days=TERM_DAYS[terms]), terms=terms,
        charges=charges, taxes=taxes, modified=ctx.now, seq=ctx.ws.next_id("seq"), po_number=ctx.arg("poNumber", None),
    )
    bundle.invoices.append(invoice)
    return [bundle.customer.id], {"id": invoice.id, "invoiceNumber": invoice.invoice_number, "invoiceAmount": invoice.invoice_amount}


def _tax_rule(ctx: _Context, entry: Any):
    rule_id = entry.get("taxRuleId") if isinstance(entry, dict) else None
    rule = ctx.account.tax_rules.get(rule_id) if isinstance(rule_id, int) else None
    if rule is None:
        raise CommandError(f"unknown taxRuleId {rule_id!r}; the account has {sorted(ctx.account.tax_rules)}")
    return rule


def _new_activity(ctx: _Context, bundle: CustomerRecords, status: str, kind: str, amount: Decimal) -> PaymentActivity:
    activity = PaymentActivity(
        id=ctx.ws.next_id("payment_activity"), customer_id=bundle.customer.id, status=status, transaction_type=kind,
        amount=amount, currency=bundle.customer.currency, source=str(ctx.arg("source", "Manual")),
        method=str(ctx.arg("method", "Check")), effective=ctx.effective, created=ctx.effective, modified=ctx.now,
    )
    bundle.payment_activities.append(activity)
    return activity


def _collect_payment(ctx: _Context) -> tuple[list[int], dict[str, Any]]:
    bundle = _financial(ctx.customer())
    amount = ctx.money(ctx.arg("amount"), bundle.customer.currency, "amount")
    activity = _new_activity(ctx, bundle, SUCCESSFUL, COLLECT, amount)
    payment = Payment(
        id=ctx.ws.next_id("transaction_id"), customer_id=bundle.customer.id, payment_activity_id=activity.id,
        amount=amount, currency=bundle.customer.currency, effective=ctx.effective, modified=ctx.now,
        seq=ctx.ws.next_id("seq"), reference=ctx.arg("reference", None),
    )
    payment.allocations = ctx.allocations(bundle, lambda: ctx.ws.next_id("seq"))
    activity.payment_id = payment.id
    bundle.payments.append(payment)
    return [bundle.customer.id], {"id": payment.id, "paymentActivityId": activity.id}


def _payment_activity(ctx: _Context) -> tuple[list[int], dict[str, Any]]:
    bundle = _financial(ctx.customer())
    status, kind = ctx.arg("status"), ctx.arg("transactionType")
    if status not in PAYMENT_ACTIVITY_STATUSES or kind not in PAYMENT_ACTIVITY_TYPES:
        raise CommandError(f"status must be one of {PAYMENT_ACTIVITY_STATUSES}, transactionType one of {PAYMENT_ACTIVITY_TYPES}")
    if status == SUCCESSFUL and kind != VALIDATE:
        raise CommandError("a successful Collect or Refund moves money: use collect_payment or refund")
    amount = _decimal(ctx.arg("amount", 0), "amount")
    activity = _new_activity(ctx, bundle, status, kind, amount)
    return [bundle.customer.id], {"paymentActivityId": activity.id}


def _allocate_payment(ctx: _Context) -> tuple[list[int], dict[str, Any]]:
    bundle, payment = ctx.ws.find("payment", ctx.record_id("payment_id"))
    amount = ctx.money(ctx.arg("amount"), payment.currency, "amount")
    payment.allocations.append(Allocation(ctx.record_id("invoice_id"), amount, ctx.effective, ctx.ws.next_id("seq")))
    return [bundle.customer.id], {"id": payment.id}


def _refund(ctx: _Context) -> tuple[list[int], dict[str, Any]]:
    bundle, payment = ctx.ws.find("payment", ctx.record_id("payment_id"))
    amount = ctx.money(ctx.arg("amount"), payment.currency, "amount")
    activity = _new_activity(ctx, bundle, SUCCESSFUL, REFUND, amount)
    seq = ctx.ws.next_id("seq")
    refund = Refund(
        id=ctx.ws.next_id("transaction_id"), customer_id=bundle.customer.id, payment_id=payment.id,
        payment_activity_id=activity.id, amount=amount, currency=payment.currency, effective=ctx.effective,
        modified=ctx.now, seq=seq, allocations=ctx.allocations(bundle, lambda: seq), reference=ctx.arg("reference", None),
    )
    activity.refund_id = refund.id
    bundle.refunds.append(refund)
    return [bundle.customer.id], {"id": refund.id, "paymentActivityId": activity.id}


def _credit(ctx: _Context) -> tuple[list[int], dict[str, Any]]:
    bundle = _financial(ctx.customer())
    amount = ctx.money(ctx.arg("amount"), bundle.customer.currency, "amount")
    credit = Credit(
        id=ctx.ws.next_id("transaction_id"), customer_id=bundle.customer.id, amount=amount,
        currency=bundle.customer.currency, effective=ctx.effective, modified=ctx.now, seq=ctx.ws.next_id("seq"),
        reference=ctx.arg("reference", None),
    )
    credit.allocations = ctx.allocations(bundle, lambda: ctx.ws.next_id("seq"))
    bundle.credits.append(credit)
    return [bundle.customer.id], {"id": credit.id}


def _allocate_credit(ctx: _Context) -> tuple[list[int], dict[str, Any]]:
    bundle, credit = ctx.ws.find("credit", ctx.record_id("credit_id"))
    amount = ctx.money(ctx.arg("amount"), credit.currency, "amount")
    credit.allocations.append(Allocation(ctx.record_id("invoice_id"), amount, ctx.effective, ctx.ws.next_id("seq")))
    return [bundle.customer.id], {"id": credit.id}


def _reverse_credit(ctx: _Context) -> tuple[list[int], dict[str, Any]]:
    bundle, credit = ctx.ws.find("credit", ctx.record_id("credit_id"))
    amount = ctx.money(ctx.arg("amount"), credit.currency, "amount")
    seq = ctx.ws.next_id("seq")
    debit = Debit(
        id=ctx.ws.next_id("transaction_id"), customer_id=bundle.customer.id, credit_id=credit.id, amount=amount,
        currency=credit.currency, effective=ctx.effective, modified=ctx.now, seq=seq,
        allocations=ctx.allocations(bundle, lambda: seq), reference=ctx.arg("reference", None),
    )
    bundle.debits.append(debit)
    return [bundle.customer.id], {"id": debit.id}


def _reverse_charges(ctx: _Context) -> tuple[list[int], dict[str, Any]]:
    bundle, invoice = ctx.ws.find("invoice", ctx.record_id("invoice_id"))
    state = ctx.ws.ledger(bundle.customer.id).invoices[invoice.id]
    charges = {charge.transaction_id: charge for charge in invoice.charges}
    wanted: list[tuple[Charge, Decimal]] = []
    if ctx.arg("all", False):
        for charge in invoice.charges:
            left = charge.amount - state.reversed_by_charge.get(charge.transaction_id, ZERO)
            if left > 0:
                wanted.append((charge, left))
    else:
        for entry in ctx.arg("charges"):
            charge = charges.get(entry.get("charge_id")) if isinstance(entry, dict) else None
            if charge is None:
                raise CommandError(f"charge {entry!r} is not on invoice {invoice.id}")
            left = charge.amount - state.reversed_by_charge.get(charge.transaction_id, ZERO)
            amount = ctx.money(entry["amount"], invoice.currency, "amount") if "amount" in entry else left
            wanted.append((charge, amount))
    if not wanted:
        raise CommandError(f"invoice {invoice.id} has nothing left to reverse")
    explicit = ctx.arg("taxes", None)
    if explicit is not None:
        tax_amounts = [(_tax_rule(ctx, entry), ctx.money(entry.get("amount"), invoice.currency, "tax amount")) for entry in explicit]
    else:
        reversed_net = sum((amount for charge, amount in wanted if charge.taxable), ZERO)
        done_net = sum((amount for cid, amount in state.reversed_by_charge.items() if charges[cid].taxable), ZERO)
        tax_amounts = []
        for tax in invoice.taxes:
            if reversed_net > 0:
                rule = ctx.account.tax_rules[tax.tax_rule_id]
                done_tax = state.reversed_tax_by_rule.get(tax.tax_rule_id, ZERO)
                tax_amounts.append((rule, reversed_tax(reversed_net, done_net, done_tax, tax.taxable_amount, tax.amount, rule, invoice.currency)))
    sequence = sum(1 for note in bundle.credit_notes if note.invoice_id == invoice.id) + 1
    note = CreditNote(
        id=ctx.ws.next_id("credit_note"), customer_id=bundle.customer.id, invoice_id=invoice.id,
        number=credit_note_number(invoice.invoice_number, sequence), currency=invoice.currency, effective=ctx.effective,
        modified=ctx.now, seq=ctx.ws.next_id("seq"),
        lines=[CreditNoteLine(ctx.ws.next_id("transaction_id"), charge.transaction_id, amount) for charge, amount in wanted],
        taxes=[CreditNoteTax(ctx.ws.next_id("transaction_id"), rule.id, rule.name, rule.percentage, amount) for rule, amount in tax_amounts],
        reference=ctx.arg("reference", None),
    )
    bundle.credit_notes.append(note)
    return [bundle.customer.id], {"id": note.id, "creditNotesNumber": note.number, "totalAmount": note.total_amount}


def _write_off(ctx: _Context) -> tuple[list[int], dict[str, Any]]:
    bundle, invoice = ctx.ws.find("invoice", ctx.record_id("invoice_id"))
    outstanding = ctx.ws.ledger(bundle.customer.id).invoices[invoice.id].outstanding
    amount = ctx.money(ctx.arg("amount"), invoice.currency, "amount") if "amount" in ctx.command else outstanding
    write_off = WriteOff(
        id=ctx.ws.next_id("transaction_id"), customer_id=bundle.customer.id, invoice_id=invoice.id, amount=amount,
        currency=invoice.currency, effective=ctx.effective, modified=ctx.now, seq=ctx.ws.next_id("seq"),
        reference=ctx.arg("reference", None),
    )
    bundle.write_offs.append(write_off)
    return [bundle.customer.id], {"id": write_off.id, "amount": amount}


OPS: dict[str, Callable[[_Context], tuple[list[int], dict[str, Any]]]] = {
    "create_customer": _create_customer,
    "update_customer": _update_customer,
    "post_invoice": _post_invoice,
    "collect_payment": _collect_payment,
    "payment_activity": _payment_activity,
    "allocate_payment": _allocate_payment,
    "refund": _refund,
    "credit": _credit,
    "allocate_credit": _allocate_credit,
    "reverse_credit": _reverse_credit,
    "reverse_charges": _reverse_charges,
    "write_off": _write_off,
}


# --- what changed ------------------------------------------------------------------------------

CREATED_EVENTS = {
    "customer": shapes.EVENT_CUSTOMER_CREATED, "invoice": shapes.EVENT_INVOICE_POSTED,
    "payment_activity": shapes.EVENT_PAYMENT_ACTIVITY_CREATED, "payment": shapes.EVENT_PAYMENT_CREATED,
    "refund": shapes.EVENT_REFUND_CREATED, "credit": shapes.EVENT_CREDIT_CREATED, "debit": shapes.EVENT_DEBIT_CREATED,
    "credit_note": shapes.EVENT_CREDIT_NOTE_CREATED, "write_off": shapes.EVENT_WRITE_OFF_CREATED,
}
UPDATED_EVENTS = {
    "customer": shapes.EVENT_CUSTOMER_UPDATED, "invoice": shapes.EVENT_INVOICE_UPDATED,
    "payment": shapes.EVENT_PAYMENT_UPDATED, "credit": shapes.EVENT_CREDIT_UPDATED,
}


def _plain_without_modified(record: Any) -> Any:
    plain = to_plain(record)
    plain.pop("modified", None)
    return repr(plain)


def fingerprints(bundle: CustomerRecords, ledger: CustomerLedger) -> dict[tuple[str, int], Any]:
    """What makes up each record's own state, minus its modifiedTimestamp, to detect changes. The
    customer's is its own fields (not its AR balance); a payment activity's is its own fields (not
    the payment it shows)."""
    seen: dict[tuple[str, int], Any] = {}
    customer = bundle.customer
    seen[("customer", customer.id)] = _plain_without_modified(customer)
    for invoice in bundle.invoices:
        s = ledger.invoices[invoice.id]
        seen[("invoice", invoice.id)] = (
            _plain_without_modified(invoice), s.outstanding, s.payments_allocated, s.refunds_allocated,
            s.credits_allocated, s.debits_allocated, s.credit_notes_total, s.write_offs_total,
        )
    for payment in bundle.payments:
        p = ledger.payments[payment.id]
        seen[("payment", payment.id)] = (_plain_without_modified(payment), p.unallocated, p.refunded, [r.id for r in p.refunds])
    for activity in bundle.payment_activities:
        seen[("payment_activity", activity.id)] = _plain_without_modified(activity)
    for credit in bundle.credits:
        c = ledger.credits[credit.id]
        seen[("credit", credit.id)] = (_plain_without_modified(credit), c.unallocated, c.reversed, [d.id for d in c.debits])
    for kind, records in (("refund", bundle.refunds), ("debit", bundle.debits), ("credit_note", bundle.credit_notes), ("write_off", bundle.write_offs)):
        for record in records:
            seen[(kind, record.id)] = _plain_without_modified(record)
    return seen


def _records_by_key(bundle: CustomerRecords) -> dict[tuple[str, int], Any]:
    found: dict[tuple[str, int], Any] = {("customer", bundle.customer.id): bundle.customer}
    for kind, attr in KIND_LISTS.items():
        for record in getattr(bundle, attr):
            found[(kind, record.id)] = record
    return found


def _propagated(bundle: CustomerRecords, changed: set[tuple[str, int]]) -> set[tuple[str, int]]:
    """What `propagate_modified` adds: the customer, and each activity whose payment/refund changed."""
    extra = {("customer", bundle.customer.id)}
    for activity in bundle.payment_activities:
        if ("payment", activity.payment_id) in changed or ("refund", activity.refund_id) in changed:
            extra.add(("payment_activity", activity.id))
    return extra


def _stamp_changes(workspace: Workspace, account: Account, ledgers: dict[int, CustomerLedger], now: datetime,
                   propagate: bool = False) -> list[Change]:
    """Set modified = now on every record whose own state changed; list the changes (with
    `propagate`, also the customer and activities that show a changed record, unstamped: the API
    derives their served modifiedTimestamp)."""
    changes: list[Change] = []
    for customer_id, bundle in workspace.staged.items():
        before: dict[tuple[str, int], Any] = {}
        was_draft = False
        if customer_id not in workspace.created_customers:
            original = account.customer_records(customer_id)
            before = fingerprints(original, account.ledger(customer_id))
            was_draft = original.customer.status == DRAFT
        after = fingerprints(bundle, ledgers[customer_id])
        records = _records_by_key(bundle)
        changed = [key for key, value in after.items() if before.get(key) != value]
        if not changed:
            continue
        stamped = set(changed)
        changed_keys = stamped | (_propagated(bundle, stamped) if propagate else set())
        for key in sorted(changed_keys, key=lambda k: (k[0] != "customer", k)):
            if key in stamped:
                records[key].modified = now
            created = key not in before
            if created:
                event = CREATED_EVENTS[key[0]]
            elif key[0] == "customer" and was_draft and bundle.customer.status != DRAFT:
                event = shapes.EVENT_CUSTOMER_ACTIVATED
            else:
                event = UPDATED_EVENTS.get(key[0])
            changes.append(Change(kind=key[0], record_id=key[1], customer_id=customer_id, created=created, event_type=event))
    return changes
