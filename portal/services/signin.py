"""Checking a sign-in, slowing down repeated failures, and ending a user's sessions.

Every failure counts against two keys, so that one client cannot lock anybody else out:
- the address typed *from this client* (hashed with the client address, whether or not a user has
  the address): after `max_failures` failures that pair is refused for a delay that doubles with each
  further failure, up to `max_delay`. The same address typed from another client is not affected;
- the client's network address, with a much higher bound (`client_max_failures`), so one client
  guessing many addresses is slowed down too. Until it reaches that bound, a correct password for an
  address that is not itself throttled still signs in from it (one office behind one NAT address).
The message for a wrong address and a wrong password is the same, and the password hash is checked
even when there is no such user, so neither the text nor the timing reveals which addresses exist.
Every failure is written to the audit log (the address typed and the client, never the password).
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from portal.models import SignInThrottle, User, utcnow
from portal.services import audit

SESSION_VERSION_KEY = "_session_version"  # in the session: the user's session_version at sign-in
WRONG_CREDENTIALS = "The email address or password is not correct."
FAILURE_WINDOW = timedelta(minutes=30)


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int = 5  # per address typed, from one client
    base_delay_seconds: int = 30
    max_delay_seconds: int = 900
    client_max_failures: int | None = None  # per client, any address typed; default 10 × max_failures

    @property
    def client_bound(self) -> int:
        return self.client_max_failures or 10 * self.max_failures


@dataclass(frozen=True)
class SignInResult:
    user: User | None
    error: str | None = None
    retry_after_seconds: int | None = None

    @property
    def ok(self) -> bool:
        return self.user is not None


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # Checked against when the address is unknown, so that path costs the same scrypt work.
    return generate_password_hash("no-such-user-placeholder", method="scrypt")


def _email_key(email: str, address: str | None) -> str:
    typed = email.strip().lower() + "\n" + (address or "unknown")
    return "email+ip:" + hashlib.sha256(typed.encode()).hexdigest()


def _address_key(address: str | None) -> str:
    return "ip:" + (address or "unknown")[:120]


def sign_in(
    session: Session,
    email: str,
    password: str,
    client_address: str | None,
    policy: ThrottlePolicy,
    now: datetime | None = None,
) -> SignInResult:
    now = now or utcnow()
    keys = (_email_key(email, client_address), _address_key(client_address))
    throttles = [session.get(SignInThrottle, key) for key in keys]
    waits = [
        (throttle.blocked_until - now).total_seconds()
        for throttle in throttles
        if throttle is not None and throttle.blocked_until is not None and throttle.blocked_until > now
    ]
    if waits:
        seconds = math.ceil(max(waits))
        return SignInResult(None, f"Too many failed sign-in attempts. Try again in {_describe(seconds)}.", seconds)

    address = email.strip().lower()
    user = session.scalar(select(User).where(User.email == address))
    password_ok = check_password_hash(user.password_hash if user is not None else _dummy_hash(), password)
    if user is not None and password_ok and user.active:
        email_throttle = throttles[0]
        if email_throttle is not None:
            session.delete(email_throttle)
        user.last_signed_in_at = now
        audit.record(session, "auth.signed_in", f"{user.email} signed in", actor=user, account_id=user.account_id,
                     details={"client_address": client_address})
        return SignInResult(user)

    bounds = (policy.max_failures, policy.client_bound)
    blocked = [_count_failure(session, key, throttle, bound, policy, now) for key, throttle, bound in zip(keys, throttles, bounds, strict=True)]
    details: dict[str, object] = {"client_address": client_address, "email_typed": address[:254]}
    if blocked[0]:
        details["address_throttled"] = True
    if blocked[1]:
        details["client_throttled"] = True
    audit.record(session, "auth.sign_in_failed", f"Failed sign-in as {address[:254]} from {client_address or 'an unknown address'}",
                 actor=None, account_id=user.account_id if user is not None else None, details=details)
    return SignInResult(None, WRONG_CREDENTIALS)


def end_sessions(user: User) -> None:
    """End every session of `user`, on every browser: their cookies no longer load the user."""
    user.session_version = (user.session_version or 0) + 1


def disable_user(session: Session, user: User, *, actor: User | None) -> None:
    """Support disabling a user: they can no longer sign in, and their open sessions end now."""
    user.active = False
    end_sessions(user)
    audit.record(session, "auth.user_disabled", f"{user.email} was disabled; their sessions ended", actor=actor,
                 account_id=user.account_id)


def _count_failure(
    session: Session, key: str, throttle: SignInThrottle | None, bound: int, policy: ThrottlePolicy, now: datetime
) -> bool:
    """Count one failure on `key`; True when the key is now blocked."""
    if throttle is None:
        throttle = SignInThrottle(key=key, failures=0)
        session.add(throttle)
    elif throttle.last_failure_at is not None and now - throttle.last_failure_at > FAILURE_WINDOW:
        throttle.failures = 0
    throttle.failures += 1
    throttle.last_failure_at = now
    excess = throttle.failures - bound
    if excess >= 0:
        delay = min(policy.base_delay_seconds * (2 ** min(excess, 20)), policy.max_delay_seconds)
        throttle.blocked_until = now + timedelta(seconds=delay)
        return True
    return False


def _describe(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"
