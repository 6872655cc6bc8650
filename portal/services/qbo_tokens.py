"""QBO access tokens: handed out while valid, refreshed before expiry, rotation persisted safely.

Intuit rotates the refresh token on every refresh; the previous one stops working 24 hours later.
A refresh whose new refresh token is not stored is therefore a connection lost a day later. So:
- refreshes for one connection are serialised by a Redis lock, across processes and machines;
- inside the lock the row is read again: if another worker refreshed meanwhile (the token version
  moved), its tokens are used and no second refresh is made;
- the new tokens are committed in their own short transaction, before anything else happens;
- `invalid_grant` marks the connection "needs reconnect", records the failure and audits it.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis.exceptions import LockError, RedisError

from portal.clients import AuthenticationError, ExternalError, RetryableError
from portal.clients import qbo as qbo_client
from portal.clients.ratelimit import RateLimiter
from portal.models import Environment, QboConnection, utcnow
from portal.services import ServiceError, audit
from portal.services.context import ServiceContext
from portal.services.transactions import before_remote_call

log = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(minutes=5)  # refresh an access token this long before it expires


def lock_ttl_seconds(ctx: ServiceContext) -> int:
    """Longer than the slowest refresh (discovery fetch + token call, each up to the HTTP timeout)."""
    return int(max(60, 3 * ctx.settings.http_timeout_seconds + 10))


class ReconnectRequired(ServiceError):
    """The QuickBooks authorisation is gone (revoked, expired, disconnected): the admin must reconnect."""


@dataclass(frozen=True)
class Tokens:
    connection_id: int
    realm_id: str
    environment_kind: str
    access_token: str
    refresh_token: str
    version: int


def _lock_name(connection_id: int) -> str:
    return f"fbqbo:qbo-token-refresh:{connection_id}"


def _load(session, connection_id: int, for_update: bool = False) -> QboConnection:
    connection = session.get(QboConnection, connection_id, with_for_update=for_update, populate_existing=True)
    if connection is None or not connection.is_live:
        raise ReconnectRequired("This QuickBooks connection was disconnected. Connect QuickBooks again.")
    if connection.needs_reconnect:
        raise ReconnectRequired("QuickBooks no longer accepts this connection. Reconnect to QuickBooks.")
    if not connection.refresh_token_ciphertext:
        raise ReconnectRequired("This QuickBooks connection has no stored authorisation. Reconnect to QuickBooks.")
    return connection


def _tokens(ctx: ServiceContext, connection: QboConnection, kind: str) -> Tokens:
    return Tokens(
        connection_id=connection.id,
        realm_id=connection.realm_id,
        environment_kind=kind,
        access_token=ctx.vault.decrypt(connection.access_token_ciphertext or ""),
        refresh_token=ctx.vault.decrypt(connection.refresh_token_ciphertext or ""),
        version=connection.token_version,
    )


def _fresh_enough(connection: QboConnection, now: datetime) -> bool:
    return bool(connection.access_token_ciphertext and connection.access_token_expires_at and connection.access_token_expires_at - now > REFRESH_MARGIN)


def store_tokens(ctx: ServiceContext, connection: QboConnection, tokens: qbo_client.TokenSet, now: datetime) -> None:
    connection.access_token_ciphertext = ctx.vault.encrypt(tokens.access_token)
    connection.access_token_expires_at = tokens.access_expires_at
    connection.refresh_token_ciphertext = ctx.vault.encrypt(tokens.refresh_token)
    connection.refresh_token_expires_at = tokens.refresh_expires_at
    connection.token_version += 1
    connection.last_refreshed_at = now
    connection.last_refresh_error = None
    connection.needs_reconnect = False
    if tokens.refresh_expires_at - now > timedelta(days=ctx.settings.refresh_token_warning_days):
        connection.expiry_warning_at = None


def valid_tokens(ctx: ServiceContext, connection_id: int, *, force_refresh: bool = False, stale_version: int | None = None) -> Tokens:
    """Tokens good for at least a few minutes, refreshing (once, under the lock) when needed.

    `force_refresh` after QBO answered 401 to a token we thought valid; pass the version of that
    token as `stale_version`, so that a refresh another worker already made is used instead.
    """
    now = utcnow()
    with ctx.database.session_scope() as session:
        connection = _load(session, connection_id)
        kind = session.get_one(Environment, connection.environment_id).kind
        if not force_refresh and _fresh_enough(connection, now):
            return _tokens(ctx, connection, kind)
        seen_version = connection.token_version if stale_version is None else stale_version

    with refresh_lock(ctx, connection_id):
        return _refresh_locked(ctx, connection_id, kind, seen_version, force_refresh)


@contextmanager
def refresh_lock(ctx: ServiceContext, connection_id: int) -> Iterator[None]:
    """Hold the per-connection lock every writer of the connection's tokens takes (refresh, reconnect,
    disconnect, key rotation), across processes."""
    lock = ctx.redis.lock(_lock_name(connection_id), timeout=lock_ttl_seconds(ctx), blocking_timeout=ctx.max_wait_seconds)
    try:
        acquired = lock.acquire()
    except RedisError as error:
        raise RetryableError("The token lock (Redis) is unavailable; try again shortly.", detail=str(error)[:200]) from error
    if not acquired:
        raise RetryableError("Another refresh of this QuickBooks connection is taking too long; try again shortly.")
    try:
        yield
    finally:
        try:
            lock.release()
        except LockError:
            log.warning("token refresh lock for connection %s expired before release", connection_id)
        except RedisError as error:
            log.warning("could not release the token lock for connection %s: %s", connection_id, error)


def _refresh_locked(ctx: ServiceContext, connection_id: int, kind: str, seen_version: int, force_refresh: bool) -> Tokens:
    now = utcnow()
    session = ctx.database.new_session()
    try:
        connection = _load(session, connection_id, for_update=True)
        if connection.token_version != seen_version or (not force_refresh and _fresh_enough(connection, now)):
            tokens = _tokens(ctx, connection, kind)  # someone else refreshed while we waited
            session.commit()
            return tokens
        app = qbo_client.intuit_app(ctx.settings, kind)
        environment = session.get_one(Environment, connection.environment_id)
        try:
            new_tokens = qbo_client.refresh(app, ctx.vault.decrypt(connection.refresh_token_ciphertext or ""), now=now)
        except AuthenticationError as error:
            connection.needs_reconnect = True
            _record_failure(session, connection, environment, now, error,
                            f"QuickBooks refused to refresh the connection to {connection.company_name}: reconnect needed",
                            {"error": error.code or "", "detail": error.detail[:200]})
            raise ReconnectRequired("QuickBooks no longer accepts this connection. Reconnect to QuickBooks.") from error
        except ExternalError as error:
            _record_failure(session, connection, environment, now, error,
                            f"Refreshing the QuickBooks connection failed, will retry: {error.message}", {"retryable": error.retryable})
            raise
        store_tokens(ctx, connection, new_tokens, now)
        session.commit()  # the rotated refresh token is safe before we use the new access token
        return _tokens(ctx, connection, kind)
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _record_failure(session, connection: QboConnection, environment: Environment, now: datetime, error: ExternalError,
                    summary: str, details: dict) -> None:
    """Keep a failed refresh visible (connection health, banner) and audited; committed at once."""
    connection.last_refresh_error = error.message[:500]
    connection.last_refresh_failed_at = now
    audit.record(session, "qbo.refresh_failed", summary, actor=None, account_id=environment.account_id,
                 environment=environment.kind, details={"realm_id": connection.realm_id, **details})
    session.commit()


def api_with_token(ctx: ServiceContext, environment_kind: str, realm_id: str, access_token: str, **options) -> qbo_client.QboApi:
    """A QBO client for one company, behind the shared rate limiter."""
    app = qbo_client.intuit_app(ctx.settings, environment_kind)
    limiter = RateLimiter(ctx.redis, max_wait=ctx.max_wait_seconds, time_scale=ctx.settings.rate_limit_time_scale)
    return qbo_client.QboApi(app, realm_id, access_token, limiter=limiter, **options)


def qbo_session(ctx: ServiceContext, connection_id: int, *, background: bool = False) -> qbo_client.QboApi:
    """One QBO client (one HTTP session) for a whole job or page, with tokens valid now.

    A 401 to a token we believed valid is answered at the transport: refresh once (unless another
    worker already did: the version seen is passed on) and repeat that one request.
    """
    tokens = valid_tokens(ctx, connection_id)
    seen = {"version": tokens.version}

    def refresh() -> str:
        fresh = valid_tokens(ctx, connection_id, force_refresh=True, stale_version=seen["version"])
        seen["version"] = fresh.version
        return fresh.access_token

    return api_with_token(ctx, tokens.environment_kind, tokens.realm_id, tokens.access_token, token_refresher=refresh, background=background)


def call_qbo(ctx: ServiceContext, connection_id: int, action, session=None):
    """Run `action(api)` with one QBO session (a 401 refreshes once at the transport).

    Pass the caller's `session` so its read-only transaction is ended first (see transactions.py).
    """
    before_remote_call(session)
    return action(qbo_session(ctx, connection_id))


@dataclass(frozen=True)
class TokenHealth:
    company_name: str
    realm_id: str
    access_expires_at: datetime | None
    refresh_expires_at: datetime | None
    last_refreshed_at: datetime | None
    last_failure: str | None
    last_failure_at: datetime | None
    needs_reconnect: bool
    refresh_expires_soon: bool

    @property
    def healthy(self) -> bool:
        return not self.needs_reconnect and not self.refresh_expires_soon


def token_health(connection: QboConnection, warning_days: int, now: datetime | None = None) -> TokenHealth:
    now = now or utcnow()
    soon = bool(connection.refresh_token_expires_at and connection.refresh_token_expires_at - now <= timedelta(days=warning_days))
    return TokenHealth(
        company_name=connection.company_name,
        realm_id=connection.realm_id,
        access_expires_at=connection.access_token_expires_at,
        refresh_expires_at=connection.refresh_token_expires_at,
        last_refreshed_at=connection.last_refreshed_at,
        last_failure=connection.last_refresh_error,
        last_failure_at=connection.last_refresh_failed_at,
        needs_reconnect=connection.needs_reconnect,
        refresh_expires_soon=soon,
    )


def warn_if_expiring(session, connection: QboConnection, warning_days: int, now: datetime | None = None) -> bool:
    """Audit once when the refresh token comes within `warning_days` of expiry; True when warned now."""
    now = now or utcnow()
    if connection.expiry_warning_at is not None or not connection.refresh_token_expires_at:
        return False
    if connection.refresh_token_expires_at - now > timedelta(days=warning_days):
        return False
    connection.expiry_warning_at = now
    environment = session.get(Environment, connection.environment_id)
    days = max(0, (connection.refresh_token_expires_at - now).days)
    audit.record(
        session, "qbo.refresh_token_expiring",
        f"The QuickBooks connection to {connection.company_name} expires in {days} days unless it is refreshed or reconnected",
        actor=None, account_id=environment.account_id, environment=environment.kind,
        details={"realm_id": connection.realm_id, "expires_at": connection.refresh_token_expires_at.isoformat()},
    )
    return True
