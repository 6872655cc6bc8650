"""The engine's vocabulary: keys, documents with references, and record verdicts (no I/O)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portal.models.integration import STATE_FAILED, STATE_PENDING, STATE_SKIPPED, STATE_SYNCED  # noqa: F401

# Fusebill record types, as stored in links and outcomes (and in markers, contract "Identity").
CUSTOMER, INVOICE, PAYMENT, REFUND, CREDIT, DEBIT, CREDIT_NOTE, WRITE_OFF = (
    "customer", "invoice", "payment", "refund", "credit", "debit", "creditnote", "writeoff")
ENTITY_ORDER = (CUSTOMER, INVOICE, PAYMENT, REFUND, CREDIT, DEBIT, CREDIT_NOTE, WRITE_OFF)
LABELS = {CUSTOMER: "Customer", INVOICE: "Invoice", PAYMENT: "Payment", REFUND: "Refund", CREDIT: "Credit",
          DEBIT: "Credit reversal", CREDIT_NOTE: "Charge reversal", WRITE_OFF: "Write-off"}


@dataclass(frozen=True, order=True)
class Key:
    """One QBO document of one Fusebill record: (type, id) plus the part ("" = the record's own)."""

    entity_type: str
    fusebill_id: str
    part: str = ""

    @property
    def record(self) -> Key:
        return Key(self.entity_type, self.fusebill_id)

    @property
    def marker(self) -> str:
        return f"fusebill:{self.entity_type}:{self.fusebill_id}" + (f":{self.part}" if self.part else "")


@dataclass(frozen=True)
class Ref:
    """A placeholder in a payload: the QBO id (or a detail such as a JE's A/R line id) of another document."""

    key: Key
    detail: str = "id"


@dataclass(frozen=True)
class ArAccount:
    """A placeholder: the company's Accounts Receivable account for a currency (QBO keeps one each)."""

    currency: str


@dataclass(frozen=True)
class Rate:
    """A placeholder: QBO's exchange rate for a currency on a date (when Fusebill gives none)."""

    currency: str
    on: str  # YYYY-MM-DD


@dataclass
class Doc:
    key: Key
    qbo_type: str  # Customer, Invoice, Payment, JournalEntry, CreditMemo
    payload: dict[str, Any]
    customer_id: str
    delete: bool = False  # an application whose amount fell to zero: delete its Payment
    sparse: bool = False  # update with sparse=true (customers: keep what the user edited in QBO)
    create_only: dict[str, Any] = field(default_factory=dict)  # fields sent on create, never on update
    details: dict[str, Any] = field(default_factory=dict)  # kept on the link for later documents
    after: tuple[Key, ...] = ()  # documents that must be written first, though not referenced

    def deps(self) -> set[Key]:
        found = set(self.after)
        found.update(ref.key for ref in placeholders((self.payload, self.create_only), Ref))
        return found


def placeholders(value: Any, kind: type) -> list[Any]:
    """Every placeholder of `kind` (Ref, Rate, ArAccount) inside a payload."""
    if isinstance(value, kind):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [found for item in value for found in placeholders(item, kind)]
    return []


@dataclass(frozen=True)
class Verdict:
    """A record's state decided without QBO (skipped, or failed before sending)."""

    record: Key
    customer_id: str
    label: str
    state: str
    reason: str
    hint: str = ""
    code: str | None = None


@dataclass
class CustomerPlan:
    customer_id: str
    docs: list[Doc] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    labels: dict[Key, str] = field(default_factory=dict)  # record -> "Invoice 1042"

    def records(self) -> set[Key]:
        return {doc.key.record for doc in self.docs} | {v.record for v in self.verdicts}
