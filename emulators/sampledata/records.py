"""The records of one Fusebill account, as plain dataclasses.

These hold only *facts* — what was posted, paid, allocated, refunded, credited, reversed or written
off, with amounts, dates and links. Nothing derived is stored: no outstanding balance, no AR balance,
no unallocated amount, no invoice status. The Fusebill emulator derives those by replaying the
records in posting order (`emulators.fusebill.ledger`), and the oracle computes what the books must
show by formula (`emulators.sampledata.oracle`); keeping derived values out of the records is what
lets the two disagree when one of them is wrong.

Every financial event carries `seq`, the account-wide posting order (Fusebill transaction ids are
increasing in the same way). Allocations carry their own `seq` because an unallocated payment or
credit can be allocated to an invoice long after it was received.

`to_plain`/`from_plain` convert any record (or a whole `Dataset`) to JSON-ready dicts and back:
Decimal as a string, datetimes as Fusebill timestamps. The emulator's state file uses the same form.
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterator

from emulators.sampledata.money import format_timestamp, parse_timestamp

# Customer status values (fusebill-api.md §3.1, [V] from the List Customers filter).
DRAFT, ACTIVE, CANCELLED, HOLD, SUSPENDED = "Draft", "Active", "Cancelled", "Hold", "Suspended"
CUSTOMER_STATUSES = (DRAFT, ACTIVE, CANCELLED, HOLD, SUSPENDED)

# Payment activity enums (fusebill-api.md §3.4, [V]). Only Successful + Collect is a payment.
SUCCESSFUL, FAILED, UNKNOWN = "Successful", "Failed", "Unknown"
COLLECT, VALIDATE, REFUND = "Collect", "Validate", "Refund"
PAYMENT_ACTIVITY_STATUSES = (SUCCESSFUL, FAILED, UNKNOWN)
PAYMENT_ACTIVITY_TYPES = (VALIDATE, COLLECT, REFUND)
PAYMENT_SOURCES = ("Manual", "Automatic", "SelfServicePortal", "Import")


@dataclass(slots=True)
class TaxRule:
    """A named tax rule of the account, e.g. QST 9.975 % for Québec."""

    id: int
    code: str
    name: str
    percentage: Decimal  # percent: 9.975 means 9.975 %
    jurisdiction: str  # "CA-QC", "US-NY", "GB" ...
    registration_code: str | None = None


@dataclass(slots=True)
class Address:
    line1: str
    city: str
    state: str | None
    country: str
    country_code: str  # ISO 3166-1 alpha-2
    postal_zip: str
    line2: str | None = None


@dataclass(slots=True)
class Customer:
    id: int
    status: str
    currency: str
    first_name: str | None
    last_name: str | None
    company_name: str | None
    primary_email: str | None
    primary_phone: str | None
    reference: str | None
    term: str  # billing term, e.g. "Net30"
    jurisdiction: str  # tax jurisdiction of the billing address; "" when none applies
    address: Address | None
    created: datetime
    modified: datetime
    activated: datetime | None = None
    middle_name: str | None = None
    title: str | None = None
    suffix: str | None = None
    account_status: str = "Good"  # Good / PoorStanding / Collection


@dataclass(slots=True)
class Charge:
    """One charge line of a posted invoice; `amount` is net of tax."""

    transaction_id: int
    name: str
    product_code: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    taxable: bool
    description: str | None = None
    gl_code: str | None = None


@dataclass(slots=True)
class InvoiceTax:
    """The tax one rule put on an invoice: `amount` on the invoice's `taxable_amount`."""

    transaction_id: int
    tax_rule_id: int
    name: str
    percentage: Decimal
    taxable_amount: Decimal
    amount: Decimal


@dataclass(slots=True)
class Invoice:
    id: int
    invoice_number: int
    customer_id: int
    currency: str
    posted: datetime
    due_date: datetime
    terms: str
    charges: list[Charge]
    taxes: list[InvoiceTax]
    modified: datetime
    seq: int
    po_number: str | None = None

    @property
    def subtotal(self) -> Decimal:
        return sum((charge.amount for charge in self.charges), Decimal(0))

    @property
    def total_tax(self) -> Decimal:
        return sum((tax.amount for tax in self.taxes), Decimal(0))

    @property
    def invoice_amount(self) -> Decimal:
        """Subtotal plus taxes (Fusebill's `invoiceAmount`, §3.2)."""
        return self.subtotal + self.total_tax


@dataclass(slots=True)
class Allocation:
    """Part of a payment, refund, credit or debit applied to one invoice."""

    invoice_id: int
    amount: Decimal
    effective: datetime
    seq: int


@dataclass(slots=True)
class PaymentActivity:
    """An attempt to move money (§3.4). `payment_id`/`refund_id` point at the transaction a
    successful Collect/Refund created; failed, unknown and Validate activities have neither."""

    id: int
    customer_id: int
    status: str
    transaction_type: str
    amount: Decimal
    currency: str
    source: str
    method: str
    effective: datetime
    created: datetime
    modified: datetime
    payment_id: int | None = None
    refund_id: int | None = None
    attempt_number: int = 1


@dataclass(slots=True)
class Payment:
    id: int  # a transaction id
    customer_id: int
    payment_activity_id: int
    amount: Decimal
    currency: str
    effective: datetime
    modified: datetime
    seq: int
    allocations: list[Allocation] = field(default_factory=list)
    reference: str | None = None


@dataclass(slots=True)
class Refund:
    """Money paid back out of a payment. `allocations` say which invoices the refunded money
    had been allocated to (each such invoice's balance goes back up); the rest came out of the
    payment's unallocated amount."""

    id: int
    customer_id: int
    payment_id: int  # the refunded payment
    payment_activity_id: int  # the Refund payment activity
    amount: Decimal
    currency: str
    effective: datetime
    modified: datetime
    seq: int
    allocations: list[Allocation] = field(default_factory=list)
    reference: str | None = None


@dataclass(slots=True)
class Credit:
    """A customer credit transaction; applied to invoices through `allocations`."""

    id: int
    customer_id: int
    amount: Decimal
    currency: str
    effective: datetime
    modified: datetime
    seq: int
    allocations: list[Allocation] = field(default_factory=list)
    reference: str | None = None


@dataclass(slots=True)
class Debit:
    """The reversal of (part of) a credit. `allocations` name the invoices the reversed credit
    had been applied to (their balances go back up); the rest came out of the unallocated credit."""

    id: int
    customer_id: int
    credit_id: int
    amount: Decimal
    currency: str
    effective: datetime
    modified: datetime
    seq: int
    allocations: list[Allocation] = field(default_factory=list)
    reference: str | None = None


@dataclass(slots=True)
class CreditNoteLine:
    transaction_id: int
    charge_transaction_id: int
    amount: Decimal  # net amount of the charge reversed


@dataclass(slots=True)
class CreditNoteTax:
    transaction_id: int
    tax_rule_id: int
    name: str
    percentage: Decimal
    amount: Decimal  # tax reversed


def credit_note_number(invoice_number: int, sequence: int) -> str:
    """Fusebill's credit note number: invoice number, "-CR-", the note's sequence on that invoice,
    each at least two digits ("04-CR-01", "360-CR-02"; fusebill-api.md §3.7)."""
    return f"{invoice_number:02d}-CR-{sequence:02d}"


@dataclass(slots=True)
class CreditNote:
    """A charge reversal on one invoice (§3.7): net lines plus the tax reversed with them."""

    id: int
    customer_id: int
    invoice_id: int
    number: str  # invoice number + "-CR-" + sequence, e.g. "04-CR-01"
    currency: str
    effective: datetime
    modified: datetime
    seq: int
    lines: list[CreditNoteLine]
    taxes: list[CreditNoteTax]
    reference: str | None = None

    @property
    def net_amount(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def tax_amount(self) -> Decimal:
        return sum((tax.amount for tax in self.taxes), Decimal(0))

    @property
    def total_amount(self) -> Decimal:
        return self.net_amount + self.tax_amount


@dataclass(slots=True)
class WriteOff:
    """An invoice's outstanding balance written off; `amount` is gross (tax included)."""

    id: int  # a transaction id
    customer_id: int
    invoice_id: int
    amount: Decimal
    currency: str
    effective: datetime
    modified: datetime
    seq: int
    reference: str | None = None


@dataclass(slots=True)
class CustomerRecords:
    """One customer and everything recorded against them, each list in posting order."""

    customer: Customer
    invoices: list[Invoice] = field(default_factory=list)
    payment_activities: list[PaymentActivity] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    credits: list[Credit] = field(default_factory=list)
    debits: list[Debit] = field(default_factory=list)
    credit_notes: list[CreditNote] = field(default_factory=list)
    write_offs: list[WriteOff] = field(default_factory=list)

    def has_financial_records(self) -> bool:
        return bool(
            self.invoices or self.payment_activities or self.payments or self.refunds or self.credits
            or self.debits or self.credit_notes or self.write_offs
        )


@dataclass
class Dataset:
    """A whole generated Fusebill account: its tax rules and every customer's records."""

    seed: int
    options: dict[str, Any]
    tax_rules: list[TaxRule]
    customers: list[CustomerRecords]

    def iter_customers(self, statuses: typing.Collection[str] | None = None) -> Iterator[CustomerRecords]:
        for bundle in self.customers:
            if statuses is None or bundle.customer.status in statuses:
                yield bundle

    def tax_rule(self, rule_id: int) -> TaxRule:
        for rule in self.tax_rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def to_json(self) -> bytes:
        """Canonical bytes: the same dataset always serialises to the same bytes."""
        return json.dumps(to_plain(self), ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str) -> "Dataset":
        return from_plain(cls, json.loads(data))


# --- plain (JSON-ready) conversion -------------------------------------------------------------

_HINTS_CACHE: dict[type, list[tuple[str, Any]]] = {}


def _field_types(cls: type) -> list[tuple[str, Any]]:
    cached = _HINTS_CACHE.get(cls)
    if cached is None:
        hints = typing.get_type_hints(cls)
        cached = [(f.name, hints[f.name]) for f in dataclasses.fields(cls)]
        _HINTS_CACHE[cls] = cached
    return cached


def to_plain(value: Any) -> Any:
    """A JSON-ready copy of a record, list of records or Dataset (Decimal -> str, datetime -> text)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return format_timestamp(value)
    if dataclasses.is_dataclass(value):
        return {name: to_plain(getattr(value, name)) for name, _ in _field_types(type(value))}
    if isinstance(value, list):
        return [to_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: to_plain(item) for key, item in value.items()}
    return value


def from_plain(annotation: Any, value: Any) -> Any:
    """Inverse of `to_plain`, guided by the dataclass type hints."""
    if value is None:
        return None
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        inner = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return from_plain(inner[0], value)
    if origin is list:
        (item_type,) = typing.get_args(annotation)
        return [from_plain(item_type, item) for item in value]
    if origin is dict:
        _, item_type = typing.get_args(annotation)
        return {key: from_plain(item_type, item) for key, item in value.items()}
    if annotation is Decimal:
        return Decimal(value)
    if annotation is datetime:
        return parse_timestamp(value)
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return annotation(**{name: from_plain(hint, value[name]) for name, hint in _field_types(annotation) if name in value})
    return value
