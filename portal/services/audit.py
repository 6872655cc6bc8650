"""Writing to the audit trail (append only)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import AuditEvent, User

SYSTEM_ACTOR = "system"


def record(
    session: Session,
    action: str,
    summary: str,
    *,
    actor: User | None,
    account_id: int | None,
    environment: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add one audit event to the session (the caller's transaction commits it with the change)."""
    event = AuditEvent(
        action=action,
        summary=summary[:500],
        actor_id=actor.id if actor is not None else None,
        actor_label=actor.email if actor is not None else SYSTEM_ACTOR,
        account_id=account_id,
        environment=environment,
        details=details or {},
    )
    session.add(event)
    return event


def events_for_account(session: Session, account_id: int, limit: int = 100) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.account_id == account_id)
            .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
    )
