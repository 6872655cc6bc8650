"""Turning the QuickBooks Online integration on and off for an account, and asking for it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timezone

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.models import Account, EnablementRequest, User, utcnow
from portal.models.account import REQUEST_DECLINED, REQUEST_GRANTED, REQUEST_PENDING
from portal.services import NotAllowed, ServiceError, audit

REASON_MIN = 5
REASON_MAX = 500


@dataclass(frozen=True)
class RequestOutcome:
    request: EnablementRequest
    created: bool


def pending_request(session: Session, account_id: int) -> EnablementRequest | None:
    return session.scalar(
        select(EnablementRequest).where(
            EnablementRequest.account_id == account_id, EnablementRequest.status == REQUEST_PENDING
        )
    )


def request_enablement(session: Session, user: User, message: str = "") -> RequestOutcome:
    """Record that `user` asks support to enable the integration; a second ask returns the first."""
    account = user.account
    if account is None:
        raise NotAllowed("Only an account's admin can request enablement.")
    if account.integration_enabled:
        raise ServiceError("The QuickBooks Online integration is already enabled for this account.")
    existing = pending_request(session, account.id)
    if existing is not None:
        return RequestOutcome(existing, created=False)
    request = EnablementRequest(account_id=account.id, requested_by_id=user.id, message=message.strip()[:1000])
    try:
        with session.begin_nested():
            session.add(request)
    except IntegrityError:
        # Another click won the race; the partial unique index kept it to one pending request.
        existing = pending_request(session, account.id)
        if existing is None:
            raise
        return RequestOutcome(existing, created=False)
    audit.record(
        session, "enablement.requested", f"{user.email} requested the QuickBooks Online integration",
        actor=user, account_id=account.id, details={"request_id": request.id, "message": request.message},
    )
    return RequestOutcome(request, created=True)


def _clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if len(reason) < REASON_MIN:
        raise ServiceError(f"Give a reason of at least {REASON_MIN} characters.", field="reason")
    if len(reason) > REASON_MAX:
        raise ServiceError(f"The reason can be at most {REASON_MAX} characters.", field="reason")
    return reason


def set_enablement(session: Session, account: Account, enabled: bool, reason: str, actor: User) -> Account:
    """Support turns the integration on or off, with a reason; audited; resolves pending requests."""
    if not actor.is_support:
        raise NotAllowed("Only support staff can change enablement.")
    reason = _clean_reason(reason)
    if account.integration_enabled == enabled:
        raise ServiceError(f"The integration is already {'enabled' if enabled else 'disabled'} for {account.name}.")
    now = utcnow()
    account.integration_enabled = enabled
    account.enablement_changed_at = now
    resolved = []
    if enabled:
        for request in session.scalars(
            select(EnablementRequest).where(
                EnablementRequest.account_id == account.id, EnablementRequest.status == REQUEST_PENDING
            )
        ):
            request.status = REQUEST_GRANTED
            request.resolved_at = now
            request.resolved_by_id = actor.id
            resolved.append(request.id)
    audit.record(
        session,
        "enablement.enabled" if enabled else "enablement.disabled",
        f"{actor.email} {'enabled' if enabled else 'disabled'} the integration: {reason}",
        actor=actor,
        account_id=account.id,
        details={"reason": reason, "granted_requests": resolved},
    )
    return account


def decline_request(session: Session, request: EnablementRequest, reason: str, actor: User) -> EnablementRequest:
    """Support declines a pending request (the account stays disabled and may ask again)."""
    if not actor.is_support:
        raise NotAllowed("Only support staff can decline requests.")
    reason = _clean_reason(reason)
    if request.status != REQUEST_PENDING:
        raise ServiceError("This request is no longer pending.")
    request.status = REQUEST_DECLINED
    request.resolved_at = utcnow()
    request.resolved_by_id = actor.id
    audit.record(
        session, "enablement.declined", f"{actor.email} declined the enablement request: {reason}",
        actor=actor, account_id=request.account_id, details={"reason": reason, "request_id": request.id},
    )
    return request


def ensure_integration_enabled(account: Account) -> None:
    """Guard for every use case that would move data (connect, sync): refuse on a disabled account."""
    if not account.integration_enabled:
        raise NotAllowed(
            "The QuickBooks Online integration is not enabled for this account. Ask Fusebill support to enable it."
        )


def pause_message(account: Account) -> str | None:
    """What a refused sync says while support has paused the account's syncs (None when not paused)."""
    if account.syncs_paused_at is None:
        return None
    since = account.syncs_paused_at.astimezone(timezone.utc).strftime("%d %b %Y, %H:%M UTC")  # as the pages show times
    return f"Syncs are paused by support since {since}: {account.syncs_paused_reason or 'no reason given'}"


def ensure_syncs_not_paused(account: Account) -> None:
    """Guard for everything that would start a run (Sync now, schedules, webhooks, requeue)."""
    message = pause_message(account)
    if message is not None:
        raise NotAllowed(message)
