"""Connecting an environment to a QuickBooks Online company, checking its set-up, and disconnecting."""
from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from redis.exceptions import RedisError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from portal.clients import ExternalError, Throttled
from portal.clients import qbo as qbo_client
from portal.models import Environment, QboConnection, SyncLink, User, utcnow
from portal.services import ServiceError, audit
from portal.services.context import ServiceContext
from portal.services.enablement import ensure_integration_enabled
from portal.services.environments import live_connection
from portal.services.qbo_tokens import api_with_token, call_qbo, store_tokens, warn_if_expiring
from portal.services.transactions import before_remote_call

log = logging.getLogger(__name__)

STATE_MAX_AGE = timedelta(minutes=15)
AUTO_APPLY_CREDITS_PATH = "Settings (gear) → Account and settings → Advanced → Automation → Automatically apply credits: Off"
MAX_ID_LENGTH = 32


class ConnectError(ServiceError):
    """The connection attempt failed; nothing was changed. `title` heads the page that explains it."""

    def __init__(self, title: str, message: str) -> None:
        super().__init__(message)
        self.title = title


@dataclass(frozen=True)
class PendingConnect:
    """What the portal remembers in the user's session between leaving for Intuit and coming back."""

    state: str
    environment_kind: str
    started_at: str  # ISO timestamp

    def as_session(self) -> dict[str, str]:
        return {"state": self.state, "environment": self.environment_kind, "started_at": self.started_at}


def begin_connect(ctx: ServiceContext, environment: Environment) -> tuple[str, PendingConnect]:
    """The Intuit authorisation URL to send the admin to, and the state to keep in their session."""
    ensure_integration_enabled(environment.account)
    state = secrets.token_urlsafe(32)
    app = qbo_client.intuit_app(ctx.settings, environment.kind)
    try:
        url = qbo_client.authorization_url(app, state)
    except ExternalError as error:
        raise ConnectError("QuickBooks is not reachable", f"{error.message} Nothing was changed; try again in a moment.") from error
    return url, PendingConnect(state, environment.kind, utcnow().isoformat())


@dataclass(frozen=True)
class ConnectOutcome:
    connection: QboConnection
    reconnected_same_company: bool  # the live connection's tokens were renewed
    recognised_previous: bool  # a company this environment was connected to before


def complete_connect(
    session: Session,
    ctx: ServiceContext,
    environment: Environment,
    actor: User,
    *,
    pending: dict | None,
    state: str | None,
    code: str | None,
    realm_id: str | None,
    error: str | None,
) -> ConnectOutcome:
    """Finish the OAuth dance. Every failure raises ConnectError and changes nothing."""
    ensure_integration_enabled(environment.account)
    if not pending or not state or not hmac.compare_digest(str(pending.get("state", "")), state):
        raise ConnectError(
            "This connection could not be verified",
            "The answer from QuickBooks did not match a connection started from this browser session, so it was ignored. "
            "Nothing was changed. Start again with “Connect to QuickBooks”.",
        )
    if pending.get("environment") != environment.kind:
        raise ConnectError(
            "The environment changed",
            f"This connection was started for the {pending.get('environment')} environment, but {environment.kind} is active now. "
            "Nothing was changed; start again.",
        )
    started = pending.get("started_at")
    if started:
        from datetime import datetime

        if utcnow() - datetime.fromisoformat(started) > STATE_MAX_AGE:
            raise ConnectError("This connection attempt expired", "More than 15 minutes passed since it started. Nothing was changed; start again.")
    if error:
        if error == "access_denied":
            raise ConnectError("Connection cancelled", "You declined access in QuickBooks, so nothing was connected and nothing was changed.")
        raise ConnectError("QuickBooks refused the connection", f"QuickBooks answered “{error[:100]}”. Nothing was changed.")
    if not code or not realm_id:
        raise ConnectError("The answer from QuickBooks was incomplete",
                           "QuickBooks did not send back an authorisation code and company id. Nothing was changed; start again.")
    if len(realm_id) > MAX_ID_LENGTH or not realm_id.isdigit():
        raise ConnectError("The answer from QuickBooks was not understood", "The company id sent back is not valid. Nothing was changed.")

    elsewhere = session.scalar(
        select(QboConnection).where(QboConnection.realm_id == realm_id, QboConnection.disconnected_at.is_(None),
                                    QboConnection.environment_id != environment.id)
    )
    if elsewhere is not None:
        other = session.get_one(Environment, elsewhere.environment_id)
        where = f"this account's {other.kind} environment" if other.account_id == environment.account_id else "another Fusebill account"
        # The items and the records synced into a company belong to one environment; two syncing into
        # the same company would re-point each other's items and double-post records.
        raise ConnectError(
            "This company is already connected elsewhere",
            f"{elsewhere.company_name} is connected to {where}. A QuickBooks company can be connected to one environment only. Nothing was changed.",
        )
    current = live_connection(session, environment)
    if current is not None and current.realm_id != realm_id:
        raise ConnectError(
            "Already connected to another company",
            f"The {environment.kind} environment is connected to {current.company_name}. "
            "Disconnect it first if you want to sync into a different company. Nothing was changed.",
        )
    app = qbo_client.intuit_app(ctx.settings, environment.kind)
    current_id = current.id if current is not None else None
    before_remote_call(session)
    now = utcnow()
    try:
        tokens = qbo_client.exchange_code(app, code, realm_id, now=now)
        setup = api_with_token(ctx, environment.kind, realm_id, tokens.access_token).company_setup()
    except ExternalError as failure:
        raise ConnectError("Connecting to QuickBooks failed", f"{failure.message} Nothing was changed; start again.") from failure

    current = session.get(QboConnection, current_id, populate_existing=True) if current_id is not None else None
    reconnected = current is not None
    previous = None
    if current is None:
        previous = session.scalar(
            select(QboConnection)
            .where(QboConnection.environment_id == environment.id, QboConnection.realm_id == realm_id, QboConnection.disconnected_at.is_not(None))
            .order_by(QboConnection.disconnected_at.desc())
            .limit(1)
        )
        current = QboConnection(environment_id=environment.id, realm_id=realm_id, connected_by_id=actor.id, connected_at=now,
                                 token_version=0, needs_reconnect=False, relink_existing=False)
        if previous is not None:
            current.previous_connection_id = previous.id
            current.relink_existing = True  # the safe default: re-link before creating anything
        session.add(current)
    _apply_setup(current, setup, now)
    store_tokens(ctx, current, tokens, now)
    session.flush()
    action = "qbo.reconnected" if reconnected else "qbo.connected"
    audit.record(
        session, action,
        f"{actor.email} {'reconnected' if reconnected else 'connected'} the {environment.kind} environment to {setup.company_name} (realm {realm_id})"
        + (" — a company connected before; existing records will be re-linked" if previous is not None else ""),
        actor=actor, account_id=environment.account_id, environment=environment.kind,
        details={"realm_id": realm_id, "company": setup.company_name, "country": setup.country, "home_currency": setup.home_currency,
                 "multicurrency": setup.multicurrency, "tax_setup": setup.tax_setup, "auto_apply_credit": setup.auto_apply_credit,
                 "previous_connection_id": previous.id if previous is not None else None},
    )
    return ConnectOutcome(current, reconnected, previous is not None)


def _apply_setup(connection: QboConnection, setup: qbo_client.CompanySetup, now) -> None:
    connection.company_name = setup.company_name[:255]
    connection.country = setup.country[:8]
    connection.home_currency = setup.home_currency[:3]
    connection.multicurrency = setup.multicurrency
    connection.tax_setup = setup.tax_setup
    connection.auto_apply_credit = setup.auto_apply_credit
    connection.auto_apply_credit_reported = setup.auto_apply_credit_reported
    connection.company_checked_at = now
    connection.company_check_error = None


def recheck_company(session: Session, ctx: ServiceContext, connection_id: int, *, skip_when_throttled: bool = False) -> QboConnection:
    """Read the company's set-up again (Automatically apply credits can be switched on at any time).

    A failure to re-check is recorded and shown; the last known set-up is kept. With
    `skip_when_throttled`, a rate limit with no room now is not a failure: nothing is recorded.
    """
    now = utcnow()
    setup = failure = None
    try:
        setup = call_qbo(ctx, connection_id, lambda api: api.company_setup(), session=session)
    except ServiceError as error:  # reconnect needed: shown by the token health
        failure = error.message
    except Throttled:
        if not skip_when_throttled:
            raise
        return session.get_one(QboConnection, connection_id, populate_existing=True)
    except ExternalError as error:
        failure = f"Could not re-check the company set-up: {error.message}"
    # Read the row again: a token refresh during the call may have committed a newer one.
    connection = session.get_one(QboConnection, connection_id, populate_existing=True)
    if setup is None:
        connection.company_check_error = (failure or "")[:500]
        return connection
    was_on = connection.auto_apply_credit
    _apply_setup(connection, setup, now)
    if setup.auto_apply_credit and not was_on:
        environment = session.get_one(Environment, connection.environment_id)
        audit.record(
            session, "qbo.auto_apply_credits_on",
            f"“Automatically apply credits” is on in {connection.company_name}: syncing invoices, credits and payments is blocked",
            actor=None, account_id=environment.account_id, environment=environment.kind, details={"realm_id": connection.realm_id},
        )
    return connection


# One claim per connection, company and last check: page views that see the same stale check make one
# re-check between them; after a failed one (the check time does not move) none for a while.
RECHECK_CLAIM = "fbqbo:company-recheck:{connection_id}:{realm_id}:{checked_at}"


def facts_due(connection: QboConnection, recheck_every: timedelta, warning_days: int, now: datetime | None = None) -> bool:
    """Whether a page should refresh the connection's facts now (re-check, or audit an expiring
    authorisation); False for a connection that needs reconnecting (nothing to ask QuickBooks)."""
    now = now or utcnow()
    if not connection.is_live or connection.needs_reconnect:
        return False
    checked = connection.company_checked_at
    if checked is None or now - checked >= recheck_every:
        return True
    return bool(connection.expiry_warning_at is None and connection.refresh_token_expires_at
                and connection.refresh_token_expires_at - now <= timedelta(days=warning_days))


def refresh_connection_facts(ctx: ServiceContext, connection_id: int, *, recheck_every: timedelta, warning_days: int) -> None:
    """What a page does before showing the company's set-up, in a short transaction of its own (the
    page's own reads commit nothing):

    - re-check the company (two QBO calls) only when the last check is older than `recheck_every`,
      and only by one page view at a time (a Redis claim for that long, which also keeps a failing
      QuickBooks from being asked on every view);
    - never wait on the rate limiter: with no room now, the re-check is skipped and the last known
      set-up shown;
    - audit an expiring authorisation once.
    """
    page_ctx = replace(ctx, max_wait=0.0)
    with ctx.database.session_scope() as session:
        connection = session.get(QboConnection, connection_id)
        if connection is None or not facts_due(connection, recheck_every, warning_days):
            return
        checked = connection.company_checked_at
        if (checked is None or utcnow() - checked >= recheck_every) and _claim_recheck(ctx, connection, recheck_every):
            connection = recheck_company(session, page_ctx, connection_id, skip_when_throttled=True)
        warn_if_expiring(session, connection, warning_days)


def _claim_recheck(ctx: ServiceContext, connection: QboConnection, recheck_every: timedelta) -> bool:
    seconds = int(recheck_every.total_seconds())
    if seconds <= 0:
        return True
    checked_at = connection.company_checked_at.isoformat() if connection.company_checked_at else "never"
    key = RECHECK_CLAIM.format(connection_id=connection.id, realm_id=connection.realm_id, checked_at=checked_at)
    try:
        return bool(ctx.redis.set(key, "1", nx=True, ex=seconds))
    except RedisError:
        log.warning("no Redis for the company re-check claim of connection %s: re-check skipped", connection.id)
        return False


def set_relink(session: Session, connection: QboConnection, relink: bool, actor: User) -> None:
    environment = session.get_one(Environment, connection.environment_id)
    ensure_integration_enabled(environment.account)
    connection.relink_existing = relink
    audit.record(
        session, "qbo.relink_choice",
        f"{actor.email} chose to {'re-link existing QuickBooks records' if relink else 'create new QuickBooks records'} "
        f"on the next sync of {connection.company_name}",
        actor=actor, account_id=environment.account_id, environment=environment.kind, details={"relink_existing": relink},
    )


@dataclass(frozen=True)
class DisconnectOutcome:
    links_removed: int
    revoked: bool
    revoke_error: str | None


def disconnect(session: Session, ctx: ServiceContext, environment: Environment, actor: User, typed_company_name: str) -> DisconnectOutcome:
    """Revoke at Intuit, remove this environment's links, keep history and the audit trail.

    The caller holds the connection's token lock (qbo_tokens.refresh_lock) until it commits, so no
    refresh can write tokens back into the row being disconnected.
    """
    connection = live_connection(session, environment)
    if connection is None:
        raise ServiceError(f"The {environment.kind} environment is not connected to QuickBooks.")
    if (typed_company_name or "").strip().casefold() != connection.company_name.strip().casefold():
        raise ServiceError(f"Type the company name ({connection.company_name}) to confirm; letter case doesn't matter.", field="company_name")
    revoked, revoke_error = False, None
    refresh_token = ctx.vault.decrypt(connection.refresh_token_ciphertext) if connection.refresh_token_ciphertext else None
    before_remote_call(session)
    if refresh_token:
        try:
            qbo_client.revoke(qbo_client.intuit_app(ctx.settings, environment.kind), refresh_token)
            revoked = True
        except ExternalError as error:
            # The link is cut on our side regardless; the admin can also remove the app in QuickBooks.
            revoke_error = error.message
            log.warning("revoke failed for connection %s: %s", connection.id, error.detail or error.message)
    connection = session.get_one(QboConnection, connection.id, populate_existing=True)
    links = session.scalar(select(func.count()).select_from(SyncLink).where(SyncLink.environment_id == environment.id)) or 0
    session.execute(delete(SyncLink).where(SyncLink.environment_id == environment.id))
    now = utcnow()
    connection.disconnected_at = now
    connection.disconnected_by_id = actor.id
    connection.revoke_error = revoke_error
    connection.access_token_ciphertext = None
    connection.refresh_token_ciphertext = None
    audit.record(
        session, "qbo.disconnected",
        f"{actor.email} disconnected the {environment.kind} environment from {connection.company_name}; {links} links removed"
        + ("" if revoked else f" (revoking at Intuit failed: {revoke_error})"),
        actor=actor, account_id=environment.account_id, environment=environment.kind,
        details={"realm_id": connection.realm_id, "links_removed": links, "revoked": revoked, "revoke_error": revoke_error},
    )
    return DisconnectOutcome(links, revoked, revoke_error)
