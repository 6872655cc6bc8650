"""The link table: the only way the engine finds a record's QBO counterpart."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.sync.mapping import Decision
from jobs.sync.model import CUSTOMER, Key
from portal.clients.qbo import quote
from portal.models import SyncLink, utcnow


@dataclass
class Linked:
    qbo_type: str
    qbo_id: str
    sync_token: str
    payload_hash: str
    details: dict[str, Any] = field(default_factory=dict)


def load(session: Session, environment_id: int, customer_ids: Iterable[str]) -> dict[Key, Linked]:
    rows = session.scalars(select(SyncLink).where(SyncLink.environment_id == environment_id, SyncLink.customer_id.in_(list(customer_ids))))
    return {Key(r.entity_type, r.fusebill_id, r.part): Linked(r.qbo_type, r.qbo_id, r.qbo_sync_token, r.payload_hash, dict(r.details or {}))
            for r in rows}


def linked_ids(session: Session, environment_id: int, entity_type: str) -> set[str]:
    return set(session.scalars(select(SyncLink.fusebill_id).where(SyncLink.environment_id == environment_id,
                                                                  SyncLink.entity_type == entity_type, SyncLink.part == "")))


def _row(session: Session, environment_id: int, key: Key) -> SyncLink | None:
    return session.scalar(select(SyncLink).where(SyncLink.environment_id == environment_id, SyncLink.entity_type == key.entity_type,
                                                 SyncLink.fusebill_id == key.fusebill_id, SyncLink.part == key.part))


def save(session: Session, environment_id: int, realm_id: str, key: Key, customer_id: str, linked: Linked) -> None:
    row = _row(session, environment_id, key)
    if row is None:
        row = SyncLink(environment_id=environment_id, entity_type=key.entity_type, fusebill_id=key.fusebill_id, part=key.part)
        session.add(row)
    row.realm_id = realm_id
    row.customer_id = customer_id
    row.qbo_type = linked.qbo_type
    row.qbo_id = linked.qbo_id
    row.qbo_sync_token = linked.sync_token
    row.payload_hash = linked.payload_hash
    row.details = linked.details
    row.updated_at = utcnow()


def remove(session: Session, environment_id: int, key: Key) -> None:
    row = _row(session, environment_id, key)
    if row is not None:
        session.delete(row)


# ------------------------------------------------------------------ re-linking through markers
MARKER_TYPES = ("Invoice", "CreditMemo", "Payment")  # filterable by CustomerRef (JournalEntry is not)


def marker_of(text: Any) -> str:
    """The `fusebill:<type>:<id>[:part]` marker a Notes / PrivateNote starts with ("" if none)."""
    head = str(text or "").split(" · ")[0].strip()
    return head if head.startswith("fusebill:") else ""


def key_of(marker: str) -> Key | None:
    parts = marker.split(":", 3)
    if len(parts) < 3 or parts[0] != "fusebill":
        return None
    return Key(parts[1], parts[2], parts[3] if len(parts) > 3 else "")


def find_by_markers(api: Any, customer_ids: list[str], missing: set[Key]) -> dict[Key, Linked]:
    """QBO documents that carry the marker of a document we have no link for (a reconnect to a
    company synced before). QBO cannot search Notes or PrivateNote (4001, qbo-api.md §1.3), so the
    candidates are fetched through filterable fields — DisplayName (which ends with the Fusebill id),
    CustomerRef, TxnDate — in batched queries, and matched here."""
    found: dict[Key, Linked] = {}
    if not missing:
        return found
    queries = [{"bId": f"c{i}", "Query": f"SELECT * FROM Customer WHERE DisplayName LIKE '%(FB-{quote(c)})' AND Active IN (true, false)"}
               for i, c in enumerate(customer_ids)]
    qbo_customers: list[str] = []
    for start in range(0, len(queries), 30):
        for answer in api.batch(queries[start:start + 30]).values():
            for row in (answer.get("QueryResponse") or {}).get("Customer", []):
                key = key_of(marker_of(row.get("Notes")))
                if key is not None:
                    qbo_customers.append(str(row["Id"]))
                    if key in missing:
                        found[key] = Linked("Customer", str(row["Id"]), str(row.get("SyncToken", "0")), "")
    if not qbo_customers:
        return found
    refs = ", ".join(f"'{quote(c)}'" for c in qbo_customers)
    for entity in MARKER_TYPES:
        for row in api.query_all(entity, f"CustomerRef IN ({refs})"):
            _match(row, entity, missing, found)
    if any(k.entity_type in ("refund", "debit") for k in missing):
        for row in api.query_all("JournalEntry"):
            _match(row, "JournalEntry", missing, found)
    return found


def _match(row: dict[str, Any], entity: str, missing: set[Key], found: dict[Key, Linked]) -> None:
    key = key_of(marker_of(row.get("PrivateNote")))
    if key is None or key not in missing:
        return
    details: dict[str, Any] = {}
    if entity == "JournalEntry":
        details["ar_line"] = str((row.get("Line") or [{}])[0].get("Id", "0"))
    found[key] = Linked(entity, str(row["Id"]), str(row.get("SyncToken", "0")), "", details)


# ------------------------------------------------------------------ the Customers page's decisions
def decided_customers(session: Session, environment_id: int, realm_id: str) -> set[str]:
    """Customers with a decision no sync has planned with yet: the next run takes them even if
    nothing changed in Fusebill (a customer parked by "don't create" must not wait for a change)."""
    from portal.models import CustomerDecision

    return set(session.scalars(select(CustomerDecision.fusebill_customer_id).where(
        CustomerDecision.environment_id == environment_id, CustomerDecision.realm_id == realm_id, CustomerDecision.applied_at.is_(None))))


def honour_decisions(session: Session, environment_id: int, realm_id: str, customer_ids: Iterable[str],
                     linked: dict[Key, Linked]) -> dict[str, Decision]:
    """The decisions of these customers for this company, to plan with. A "link" becomes the
    customer's link before anything is planned, so the customer is never created (its documents go
    to the chosen QBO customer, which is then updated like any linked customer: its payload hash is
    unknown, as after a re-link). A link the link table contradicts is not made; the decision carries
    why, and the customer's records fail with it."""
    from portal.models import CustomerDecision

    rows = list(session.scalars(select(CustomerDecision).where(
        CustomerDecision.environment_id == environment_id, CustomerDecision.realm_id == realm_id,
        CustomerDecision.fusebill_customer_id.in_(list(customer_ids)))))
    found: dict[str, Decision] = {}
    now = utcnow()
    for row in rows:
        decision = Decision(row.choice)
        if row.choice == "link" and row.qbo_customer_id:
            key = Key(CUSTOMER, row.fusebill_customer_id)
            current = linked.get(key)
            if current is not None and current.qbo_id != row.qbo_customer_id:
                decision = Decision(row.choice, f"The customer is already synced to QuickBooks customer {current.qbo_id}; the link to "
                                                f"{row.qbo_customer_id} chosen on the Customers page was not made (existing books are not re-pointed).")
            elif current is None:
                owner = session.scalar(select(SyncLink.fusebill_id).where(
                    SyncLink.environment_id == environment_id, SyncLink.entity_type == CUSTOMER, SyncLink.part == "",
                    SyncLink.qbo_type == "Customer", SyncLink.qbo_id == row.qbo_customer_id, SyncLink.fusebill_id != row.fusebill_customer_id))
                if owner is not None:
                    decision = Decision(row.choice, f"QuickBooks customer {row.qbo_customer_id}, chosen on the Customers page, is already "
                                                    f"linked to Fusebill customer {owner}.")
                else:
                    made = Linked("Customer", row.qbo_customer_id, row.qbo_sync_token or "0", "")
                    save(session, environment_id, realm_id, key, row.fusebill_customer_id, made)
                    linked[key] = made
        if row.applied_at is None:
            row.applied_at = now
        found[row.fusebill_customer_id] = decision
    return found
