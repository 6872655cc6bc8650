"""Writing to the audit trail (append only)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

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


AUDIT_PAGE_SIZE = 50


@dataclass(frozen=True)
class AuditFilters:
    """What the support audit log is narrowed to; every field optional."""

    account_id: int | None = None
    account: str = ""  # name or Fusebill id, contained, case-insensitive
    action: str = ""  # exact action, e.g. "enablement.enabled"
    actor: str = ""  # email contained (or "system"), case-insensitive
    since: date | None = None  # from this UTC day on
    until: date | None = None  # to this UTC day, inclusive


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_events(session: Session, filters: AuditFilters, page: int = 1, per_page: int = AUDIT_PAGE_SIZE) -> AuditPage:
    """One page of the audit log, newest first (offset paging: the log is read by people, a page at a time)."""
    from portal.models import Account

    conditions = []
    if filters.account_id is not None:
        conditions.append(AuditEvent.account_id == filters.account_id)
    if filters.account:
        like = _like(filters.account)
        conditions.append(AuditEvent.account_id.in_(select(Account.id).where(or_(
            func.lower(Account.name).like(like, escape="\\"), func.lower(Account.fusebill_account_id).like(like, escape="\\")))))
    if filters.action:
        conditions.append(AuditEvent.action == filters.action)
    if filters.actor:
        conditions.append(func.lower(AuditEvent.actor_label).like(_like(filters.actor), escape="\\"))
    if filters.since is not None:
        conditions.append(AuditEvent.occurred_at >= datetime.combine(filters.since, time.min, tzinfo=timezone.utc))
    if filters.until is not None:
        conditions.append(AuditEvent.occurred_at < datetime.combine(filters.until + timedelta(days=1), time.min, tzinfo=timezone.utc))
    total = int(session.scalar(select(func.count()).select_from(AuditEvent).where(*conditions)) or 0)
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    events = list(session.scalars(select(AuditEvent).where(*conditions).options(selectinload(AuditEvent.account))
                                  .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
                                  .offset((page - 1) * per_page).limit(per_page)))
    return AuditPage(events, page, per_page, total)


def known_actions(session: Session) -> list[str]:
    """Every action the log holds, for the filter's choices."""
    return list(session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


def what_happened(event: AuditEvent) -> str:
    """The summary without the actor's email in front: the Who column already shows it once."""
    summary = event.summary
    prefix = f"{event.actor_label} "
    if event.actor_label != SYSTEM_ACTOR and summary.startswith(prefix):
        rest = summary[len(prefix):]
        return rest[:1].upper() + rest[1:]
    return summary
