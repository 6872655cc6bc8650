"""Fusebill webhooks: one endpoint per environment, turned into a coalesced per-customer sync.

Fusebill (fusebill-api.md §4) POSTs each event to a URL with a key it shows once ("Generate Key"),
base64-encoded in a header. Here each environment gets:
- a URL `/webhooks/fusebill/<token>`: a random token, looked up by its SHA-256 (the token itself is
  never a database key), and
- a random key, compared in constant time with what the header carries.
Both are kept as Vault ciphertext so the Environments page can show them to paste into Fusebill.

What an accepted event does: its id is remembered in Redis for EVENT_TTL (a replay or a retried
delivery writes nothing again), its customer is added to the environment's pending set, and one
debounced job per environment (`jobs.sync.jobs.flush_webhook_customers`, DEBOUNCE seconds later)
turns every customer gathered meanwhile into one targeted run — a burst is one run.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import Environment
from portal.services.context import ServiceContext

log = logging.getLogger(__name__)

KEY_HEADER = "X-Fusebill-Webhook-Key"  # the emulator's name; Fusebill documents none [U]
EVENT_TTL = 7 * 86400  # longer than Fusebill's retry window (3 retries within minutes)
DEBOUNCE = 1.5  # seconds: a burst of events for one customer becomes one sync
MAX_BODY = 256 * 1024
# The event types that can change what the sync writes (the emulator's list, shapes.py; the real
# names are unconfirmed [U]); any other type is acknowledged and logged.
SYNC_EVENTS = frozenset({
    "CustomerCreated", "CustomerUpdated", "CustomerActivated", "InvoicePosted", "InvoiceUpdated", "PaymentCreated",
    "PaymentUpdated", "PaymentActivityCreated", "RefundCreated", "CreditCreated", "CreditUpdated", "DebitCreated",
    "CreditNoteCreated", "InvoiceWrittenOff",
})


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class WebhookSecrets:
    token: str
    key: str

    def url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/webhooks/fusebill/{self.token}"


def webhook_secrets(session: Session, ctx: ServiceContext, environment: Environment, create: bool = True) -> WebhookSecrets | None:
    """This environment's webhook token and key, made on first use (the caller commits)."""
    if environment.webhook_secret_ciphertext:
        stored = json.loads(ctx.vault.decrypt(environment.webhook_secret_ciphertext))
        return WebhookSecrets(stored["token"], stored["key"])
    if not create:
        return None
    made = WebhookSecrets(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
    environment.webhook_token_hash = token_hash(made.token)
    environment.webhook_secret_ciphertext = ctx.vault.encrypt(json.dumps({"token": made.token, "key": made.key}))
    session.flush()
    return made


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


def _event_key(environment_id: int, event_id: str) -> str:
    return f"fbqbo:webhook:{environment_id}:event:{event_id}"


def pending_key(environment_id: int) -> str:
    return f"fbqbo:webhook:{environment_id}:customers"


def retry_key(environment_id: int) -> str:
    """Customers in the pending set because someone pressed Retry (the run says "retry", not "webhook")."""
    return f"fbqbo:webhook:{environment_id}:retried"


def debounce_key(environment_id: int) -> str:
    return f"fbqbo:webhook:{environment_id}:scheduled"


def _key_matches(header: str | None, key: str) -> bool:
    if not header:
        return False
    try:
        sent = base64.b64decode(header.strip().encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return False
    return hmac.compare_digest(sent, key.encode("utf-8"))


def receive(session: Session, ctx: ServiceContext, token: str, key_header: str | None, body: bytes) -> Answer:
    """Check and take one delivery. Never raises for anything a sender controls."""
    environment = session.scalar(select(Environment).where(Environment.webhook_token_hash == token_hash(token))) if token else None
    if environment is None:
        log.warning("webhook: unknown endpoint token")
        return Answer(404, {"error": "unknown webhook endpoint"})
    stored = webhook_secrets(session, ctx, environment, create=False)
    if stored is None or not hmac.compare_digest(stored.token.encode(), token.encode()) or not _key_matches(key_header, stored.key):
        log.warning("webhook: environment %s: missing or wrong key", environment.id)
        return Answer(401, {"error": "missing or wrong webhook key"})
    try:
        event = json.loads(body.decode("utf-8")) if len(body) <= MAX_BODY else None
    except (UnicodeDecodeError, ValueError):
        event = None
    if not isinstance(event, dict) or not isinstance(event.get("eventType"), str) or event.get("eventId") in (None, ""):
        log.warning("webhook: environment %s: malformed body (%d bytes)", environment.id, len(body))
        return Answer(400, {"error": "malformed event"})
    event_id, event_type = str(event["eventId"])[:64], event["eventType"][:64]
    if event_type not in SYNC_EVENTS:
        log.info("webhook: environment %s: event %s of unknown type %r acknowledged, nothing to do", environment.id, event_id, event_type)
        return Answer(202, {"status": "ignored", "reason": "unknown event type"})
    customer = event.get("customerId")
    if isinstance(customer, bool) or not isinstance(customer, (int, str)) or not str(customer).isdigit():
        log.warning("webhook: environment %s: event %s has no customer id", environment.id, event_id)
        return Answer(400, {"error": "malformed event: no customerId"})
    account = environment.account
    if not account.integration_enabled or account.active_environment != environment.kind:
        reason = "the integration is disabled for this account" if not account.integration_enabled else "this environment is not the active one"
        log.info("webhook: environment %s: event %s not synced: %s", environment.id, event_id, reason)
        return Answer(202, {"status": "ignored", "reason": reason})
    if not ctx.redis.set(_event_key(environment.id, event_id), "1", nx=True, ex=EVENT_TTL):
        log.info("webhook: environment %s: event %s already received (replay or retry)", environment.id, event_id)
        return Answer(200, {"status": "duplicate"})
    if account.syncs_paused:
        # Acknowledged and kept, not synced: the customer waits in the pending set, which the resume
        # flushes (support_console.resume_syncs); the next account-wide run's cursor covers the rest.
        hold_customers(ctx, environment.id, [str(customer)])
        log.info("webhook: environment %s: event %s %s for customer %s held: syncs are paused by support", environment.id, event_id,
                 event_type, customer)
        return Answer(202, {"status": "held", "reason": "syncs are paused for this account"})
    schedule_customers(ctx, environment.id, [str(customer)])
    log.info("webhook: environment %s: event %s %s for customer %s queued", environment.id, event_id, event_type, customer)
    return Answer(202, {"status": "queued"})


def hold_customers(ctx: ServiceContext, environment_id: int, customer_ids: list[str]) -> None:
    """Add customers to the environment's pending set without scheduling a flush (syncs paused)."""
    if customer_ids:
        ctx.redis.sadd(pending_key(environment_id), *customer_ids)
        ctx.redis.expire(pending_key(environment_id), EVENT_TTL)


def held_customers(ctx: ServiceContext, environment_id: int) -> int:
    return int(ctx.redis.scard(pending_key(environment_id)))


def schedule_customers(ctx: ServiceContext, environment_id: int, customer_ids: list[str], delay: float = DEBOUNCE) -> None:
    """Add customers to the environment's pending set; one flush job per environment is scheduled
    (a Redis NX key marks it) and syncs everything gathered by the time it runs."""
    from datetime import timedelta

    from rq import Queue

    from jobs.queues import SYNC
    from jobs.sync.jobs import flush_webhook_customers

    if customer_ids:
        ctx.redis.sadd(pending_key(environment_id), *customer_ids)
        ctx.redis.expire(pending_key(environment_id), EVENT_TTL)
    if ctx.redis.set(debounce_key(environment_id), "1", nx=True, ex=int(delay) + 300):
        Queue(SYNC, connection=ctx.redis).enqueue_in(timedelta(seconds=delay), flush_webhook_customers, environment_id,
                                                    job_timeout=600, result_ttl=3600, failure_ttl=7 * 86400)
