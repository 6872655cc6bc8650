"""Checking a sign-in, and slowing down repeated failures.

Every failure counts against two keys: the address typed (hashed, whether or not a user has it) and
the client's network address. After `max_failures` failures within the window, further attempts on
that key are refused for a delay that doubles with each further failure, up to `max_delay`.
The message for a wrong address and a wrong password is the same, and the password hash is checked
even when there is no such user, so neither the text nor the timing reveals which addresses exist.
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

WRONG_CREDENTIALS = "The email address or password is not correct."
FAILURE_WINDOW = timedelta(minutes=30)


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int = 5
    base_delay_seconds: int = 30
    max_delay_seconds: int = 900


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


def _email_key(email: str) -> str:
    return "email:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()


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
    keys = (_email_key(email), _address_key(client_address))
    throttles = [session.get(SignInThrottle, key) for key in keys]
    waits = [
        (throttle.blocked_until - now).total_seconds()
        for throttle in throttles
        if throttle is not None and throttle.blocked_until is not None and throttle.blocked_until > now
    ]
    if waits:
        seconds = math.ceil(max(waits))
        return SignInResult(None, f"Too many failed sign-in attempts. Try again in {_describe(seconds)}.", seconds)

    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    password_ok = check_password_hash(user.password_hash if user is not None else _dummy_hash(), password)
    if user is not None and password_ok and user.active:
        email_throttle = throttles[0]
        if email_throttle is not None:
            session.delete(email_throttle)
        user.last_signed_in_at = now
        audit.record(session, "auth.signed_in", f"{user.email} signed in", actor=user, account_id=user.account_id,
                     details={"client_address": client_address})
        return SignInResult(user)

    for key, throttle in zip(keys, throttles):
        _count_failure(session, key, throttle, policy, now)
    return SignInResult(None, WRONG_CREDENTIALS)


def _count_failure(
    session: Session, key: str, throttle: SignInThrottle | None, policy: ThrottlePolicy, now: datetime
) -> None:
    if throttle is None:
        throttle = SignInThrottle(key=key, failures=0)
        session.add(throttle)
    elif throttle.last_failure_at is not None and now - throttle.last_failure_at > FAILURE_WINDOW:
        throttle.failures = 0
    throttle.failures += 1
    throttle.last_failure_at = now
    excess = throttle.failures - policy.max_failures
    if excess >= 0:
        delay = min(policy.base_delay_seconds * (2 ** min(excess, 20)), policy.max_delay_seconds)
        throttle.blocked_until = now + timedelta(seconds=delay)


def _describe(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"
