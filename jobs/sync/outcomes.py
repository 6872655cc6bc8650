"""Every Fusebill record's one visible state (promise 5), with QBO's code and a plain-language hint."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.sync.model import Key
from portal.models import SyncRecord, utcnow

HINTS = {
    "6240": "A customer or other name with this name already exists in QuickBooks (names are unique across customers, vendors and employees). "
            "Rename one of them, then retry.",
    "6210": "The books are closed in QuickBooks for this date. Change the closing date in QuickBooks (Settings → Account and settings → Advanced) "
            "or post it in an open period, then retry.",
    "6140": "This document number is already used in QuickBooks.",
    "6000": "QuickBooks refused it on a business rule; the message says which.",
    "6540": "The payment is deposited in QuickBooks and can no longer be changed through the API: apply it there (Receive Payment).",
    "610": "A QuickBooks record this depends on was deleted or made inactive. Restore it, then retry.",
    "2500": "A QuickBooks record this depends on is invalid or was deleted.",
    "5010": "Someone changed this record in QuickBooks at the same time; retry.",
}


@dataclass(frozen=True)
class Outcome:
    record: Key
    customer_id: str
    label: str
    state: str
    reason: str | None = None
    hint: str | None = None
    code: str | None = None
    qbo_id: str | None = None


def hint_for(code: str | None) -> str | None:
    return HINTS.get(code or "")


def store(session: Session, environment_id: int, run_id: int | None, outcomes: list[Outcome]) -> None:
    if not outcomes:
        return
    customers = {o.customer_id for o in outcomes}
    rows = {(r.entity_type, r.fusebill_id): r for r in session.scalars(
        select(SyncRecord).where(SyncRecord.environment_id == environment_id, SyncRecord.customer_id.in_(customers)))}
    now = utcnow()
    for outcome in outcomes:
        row = rows.get((outcome.record.entity_type, outcome.record.fusebill_id))
        if row is None:
            row = SyncRecord(environment_id=environment_id, entity_type=outcome.record.entity_type, fusebill_id=outcome.record.fusebill_id,
                             attempts=0)
            session.add(row)
            rows[(outcome.record.entity_type, outcome.record.fusebill_id)] = row
        row.customer_id = outcome.customer_id
        row.label = outcome.label[:200]
        row.state = outcome.state
        row.reason = (outcome.reason or None) and outcome.reason[:1000]
        row.hint = (outcome.hint or None) and outcome.hint[:500]
        row.qbo_code = outcome.code
        if outcome.qbo_id:
            row.qbo_id = outcome.qbo_id
        row.attempts = (row.attempts or 0) + 1
        row.run_id = run_id
        row.updated_at = now


def retry_customers(session: Session, environment_id: int) -> set[str]:
    """Customers with a record waiting for a retry (failed or pending)."""
    return set(session.scalars(select(SyncRecord.customer_id).where(
        SyncRecord.environment_id == environment_id, SyncRecord.state.in_(("failed", "pending"))).distinct()))


def held_customers(session: Session, environment_id: int, customer_ids: list[str]) -> set[str]:
    """Those of these customers with a record failed or pending now."""
    return set(session.scalars(select(SyncRecord.customer_id).where(
        SyncRecord.environment_id == environment_id, SyncRecord.customer_id.in_(customer_ids),
        SyncRecord.state.in_(("failed", "pending"))).distinct()))


def refused_before(session: Session, environment_id: int, customer_ids: list[str]) -> dict[Key, int]:
    """Records QBO refused with a definite fault, and how many attempts they had: their next
    requestids must differ from the refused ones (QBO replays a requestid's first answer)."""
    rows = session.scalars(select(SyncRecord).where(SyncRecord.environment_id == environment_id, SyncRecord.customer_id.in_(customer_ids),
                                                    # pending with a code: a refused record marked "Retry requested" (event log)
                                                    SyncRecord.state.in_(("failed", "pending")), SyncRecord.qbo_code.is_not(None)))
    return {Key(r.entity_type, r.fusebill_id): int(r.attempts or 0) for r in rows}
