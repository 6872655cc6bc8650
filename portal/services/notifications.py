"""Email notifications to an environment's notification address, each sent once per cause.

Causes: a run that ended failed or partial (at most one mail of each kind per environment in
RUN_QUIET, so runs that keep meeting the same stuck record are no storm); a QuickBooks refresh token within
`refresh_token_warning_days` of expiry; a connection QuickBooks no longer accepts (invalid_grant
marks it `needs_reconnect`, or the refresh token has simply expired). The recipient is the
environment's "Notification email" (Sync settings page); an environment without one gets no mail.

How "once" holds (see portal.models.notifications): a cause is first *recorded* — a row with a
unique `cause_key`, inserted with ON CONFLICT DO NOTHING, so whoever inserts it owns the cause — and
only then *delivered*: `deliver_due` claims a row with a conditional UPDATE (pending/failed →
sending), commits the claim, sends outside any transaction, and records the outcome. A failed send
is kept as `failed` with the error and retried by a later check with a growing wait; nothing here
raises for a mail problem, so a sync never fails because the mail server is down. Without SMTP
settings a notification is recorded as `unsent` ("not sent: no SMTP configured") and logged.
Messages carry no secrets: counts, names, dates and an absolute link into the portal.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, cast

from markupsafe import escape
from sqlalchemy import CursorResult, and_, or_, select, update
from sqlalchemy.orm import Session

from portal.db import Database
from portal.models import Account, Environment, QboConnection, SyncRun, utcnow
from portal.models.integration import RUN_FAILED, RUN_PARTIAL
from portal.models.notifications import (
    KIND_RECONNECT,
    KIND_RUN_FAILED,
    KIND_RUN_PARTIAL,
    KIND_TOKEN_EXPIRY,
    NOTIFY_FAILED,
    NOTIFY_PENDING,
    NOTIFY_SENDING,
    NOTIFY_SENT,
    NOTIFY_UNSENT,
    Notification,
)
from portal.settings import Settings, SmtpSettings

log = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 20
RETRY_FIRST = timedelta(minutes=1)  # wait after the first failed send; doubles each time
RETRY_LONGEST = timedelta(hours=1)
MAX_ATTEMPTS = 30  # about a day of retries; then the row stays `failed` for someone to look at
STALE_CLAIM = timedelta(minutes=15)  # a claim this old belongs to a worker that died mid-send
NO_SMTP = "not sent: no SMTP configured"
RUN_QUIET = timedelta(hours=6)  # at most one "run failed" and one "run partial" mail per environment in this time


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str


# ------------------------------------------------------------------ recording causes
def record(session: Session, cause_key: str, kind: str, environment: Environment, message: Message) -> bool:
    """Record one cause for the environment's notification address; True when it is new.

    Runs in the caller's transaction (a run's end is recorded atomically with the run). Does nothing
    when the environment has no notification address, or the cause is already recorded.
    """
    recipient = (environment.notification_email or "").strip()
    if not recipient:
        return False
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]  # the same on_conflict_do_nothing API
    statement = insert(Notification).values(
        cause_key=cause_key[:200], kind=kind, environment_id=environment.id, recipient=recipient, subject=message.subject[:300],
        body_text=message.text, body_html=message.html, status=NOTIFY_PENDING, attempts=0, created_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=["cause_key"]).returning(Notification.id)
    return session.execute(statement).first() is not None  # a row comes back only when this insert made it


def run_cause_key(run: SyncRun) -> str:
    return f"run:{run.id}:{run.status}"


def record_run_ended(session: Session, settings: Settings, run: SyncRun) -> bool:
    """A run that ended failed or partial: the count of failed and pending records, and its page."""
    if run.status not in (RUN_FAILED, RUN_PARTIAL):
        return False
    environment = session.get(Environment, run.environment_id)
    if environment is None or not environment.notification_email or not environment.account.integration_enabled:
        return False  # no address, or support disabled the account (its runs end failed on purpose)
    kind = KIND_RUN_FAILED if run.status == RUN_FAILED else KIND_RUN_PARTIAL
    told = session.scalar(select(Notification.cause_key).where(Notification.environment_id == environment.id, Notification.kind == kind,
                                                              Notification.created_at > utcnow() - RUN_QUIET).limit(1))
    if told is not None:
        # Webhook and hourly runs of a books with one stuck record would otherwise mail on every run.
        log.info("sync run %s ended %s: not mailed, %s was mailed less than %s ago", run.id, run.status, told, RUN_QUIET)
        return False
    return record(session, run_cause_key(run), kind, environment, run_message(settings, run, environment))


def check_connections(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Record reconnect-needed and token-expiring causes of every live connection; returns how many are new.

    Only enabled accounts whose environment has a notification address are looked at. A connection
    that needs a reconnect is told that (not also that its token expires).
    """
    now = now or utcnow()
    warning = timedelta(days=settings.refresh_token_warning_days)
    rows = session.execute(
        select(QboConnection, Environment).join(Environment, Environment.id == QboConnection.environment_id)
        .join(Account, Account.id == Environment.account_id)
        .where(QboConnection.disconnected_at.is_(None), Account.integration_enabled.is_(True),
               Environment.notification_email.is_not(None), Environment.notification_email != "")
        .order_by(QboConnection.id)).all()
    wanted: list[tuple[str, str, QboConnection, Environment]] = []
    for connection, environment in rows:
        expires = connection.refresh_token_expires_at
        if connection.needs_reconnect or (expires is not None and expires <= now):
            since = connection.last_refresh_failed_at if connection.needs_reconnect and connection.last_refresh_failed_at else expires
            stamp = since.strftime("%Y%m%dT%H%M%SZ") if since else "unknown"
            wanted.append((f"reconnect:{connection.id}:{stamp}", KIND_RECONNECT, connection, environment))
        elif expires is not None and expires - now <= warning:
            wanted.append((f"token-expiry:{connection.id}:{expires.date().isoformat()}", KIND_TOKEN_EXPIRY, connection, environment))
    if not wanted:
        return 0
    known = set(session.scalars(select(Notification.cause_key).where(Notification.cause_key.in_([key for key, *_ in wanted]))))
    new = 0
    for key, kind, connection, environment in wanted:
        if key in known:
            continue
        if kind == KIND_RECONNECT:
            message = reconnect_message(settings, connection, environment)
        else:
            message = token_expiry_message(settings, connection, environment, now)
        new += record(session, key, kind, environment, message)
    return new


# ------------------------------------------------------------------ messages
def _link(settings: Settings, path: str) -> str:
    return settings.base_url.rstrip("/") + path


def _where(environment: Environment) -> str:
    return f"the {environment.kind} environment of {environment.account.name}"


def _html(paragraphs: list[str], link: str, link_text: str) -> str:
    """The same paragraphs as simple HTML; every piece of text is escaped."""
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return f'<!doctype html><html><body>{body}<p><a href="{escape(link)}">{escape(link_text)}</a></p></body></html>'


def run_message(settings: Settings, run: SyncRun, environment: Environment) -> Message:
    counts = run.counts or {}
    failed, pending = int(counts.get("records_failed", 0)), int(counts.get("records_pending", 0))
    link = _link(settings, f"/sync/runs/{run.id}")
    records = f"{failed} record{'s' if failed != 1 else ''} failed and {pending} {'are' if pending != 1 else 'is'} still pending"
    if run.status == RUN_FAILED:
        subject = f"QuickBooks sync failed: run #{run.id} ({environment.kind}, {environment.account.name})"
        lines = [f"The QuickBooks Online sync run #{run.id} of {_where(environment)} failed: {records}."]
        if run.error:
            lines.append(f"Reason: {run.error[:500]}")
    else:
        subject = f"QuickBooks sync partial: {failed} failed, {pending} pending in run #{run.id} ({environment.kind}, {environment.account.name})"
        lines = [f"The QuickBooks Online sync run #{run.id} of {_where(environment)} finished partly: {records}."]
    lines.append("The run page lists each record with what went wrong and how to fix it; the next run retries them. "
                 f"Other runs that end this way in the next {int(RUN_QUIET.total_seconds() // 3600)} hours are not mailed: the Sync page lists them.")
    text = "\n\n".join(lines + [f"Open the run: {link}"]) + "\n"
    return Message(subject, text, _html(lines, link, "Open the run"))


def token_expiry_message(settings: Settings, connection: QboConnection, environment: Environment, now: datetime) -> Message:
    expires = connection.refresh_token_expires_at
    days = max(0, (expires - now).days) if expires else 0
    link = _link(settings, "/setup/connect")
    subject = f"QuickBooks authorisation expires in {days} days: {connection.company_name} ({environment.kind}, {environment.account.name})"
    lines = [f"The QuickBooks Online authorisation of {_where(environment)} for the company {connection.company_name} expires on "
             f"{expires:%Y-%m-%d} (in {days} days). After that the sync stops until an admin reconnects.",
             "Reconnect QuickBooks on the Connect page now to renew it; nothing is lost or duplicated by reconnecting to the same company."]
    text = "\n\n".join(lines + [f"Open the Connect page: {link}"]) + "\n"
    return Message(subject, text, _html(lines, link, "Open the Connect page"))


def reconnect_message(settings: Settings, connection: QboConnection, environment: Environment) -> Message:
    link = _link(settings, "/setup/connect")
    subject = f"Reconnect QuickBooks: {connection.company_name} ({environment.kind}, {environment.account.name})"
    lines = [f"QuickBooks Online no longer accepts the connection of {_where(environment)} to the company {connection.company_name} "
             "(the authorisation was revoked or has expired). The sync is stopped until an admin reconnects.",
             "Reconnect to the same company on the Connect page; the records already synced are re-linked, not duplicated."]
    text = "\n\n".join(lines + [f"Open the Connect page: {link}"]) + "\n"
    return Message(subject, text, _html(lines, link, "Open the Connect page"))


# ------------------------------------------------------------------ delivering
def due_ids(session: Session, now: datetime) -> list[int]:
    return list(session.scalars(select(Notification.id).where(_claimable(now)).order_by(Notification.id).limit(200)))


def _claimable(now: datetime):
    return or_(
        Notification.status == NOTIFY_PENDING,
        and_(Notification.status == NOTIFY_FAILED, Notification.attempts < MAX_ATTEMPTS, Notification.next_attempt_at <= now),
        and_(Notification.status == NOTIFY_SENDING, Notification.claimed_at < now - STALE_CLAIM),
    )


def claim(session: Session, notification_id: int, now: datetime) -> bool:
    """Take one notification for sending; True for exactly one caller (a conditional UPDATE)."""
    result = cast("CursorResult[Any]", session.execute(update(Notification).where(Notification.id == notification_id, _claimable(now))
                             .values(status=NOTIFY_SENDING, claimed_at=now, attempts=Notification.attempts + 1)
                             .execution_options(synchronize_session=False)))
    return result.rowcount == 1


def retry_wait(attempts: int) -> timedelta:
    return min(RETRY_FIRST * (2 ** max(0, attempts - 1)), RETRY_LONGEST)


def deliver_due(database: Database, settings: Settings, now: datetime | None = None) -> dict[str, int]:
    """Send every notification that is due (new, or failed and waited long enough); returns counts.

    Never raises for a mail problem: each outcome is recorded on its row.
    """
    now = now or utcnow()
    counts = {"sent": 0, "failed": 0, "unsent": 0}
    with database.session_scope() as session:
        ids = due_ids(session, now)
    for notification_id in ids:
        with database.session_scope() as session:
            if not claim(session, notification_id, now):
                continue  # another worker has it
            row = session.get_one(Notification, notification_id)
            cause, recipient, subject, text, html, attempts = row.cause_key, row.recipient, row.subject, row.body_text, row.body_html, row.attempts
        # The claim is committed: the mail goes out with no transaction open.
        status, error = _send(settings.smtp, recipient, subject, text, html)
        with database.session_scope() as session:
            row = session.get_one(Notification, notification_id)
            row.status = status
            row.last_error = error
            if status == NOTIFY_SENT:
                row.sent_at = utcnow()
                row.next_attempt_at = None
                log.info("notification %s (%s) sent", notification_id, cause)
            elif status == NOTIFY_FAILED:
                row.next_attempt_at = now + retry_wait(attempts)
                give_up = " — no more retries" if attempts >= MAX_ATTEMPTS else f", retried after {row.next_attempt_at:%H:%M} UTC"
                log.warning("notification %s (%s) could not be sent (attempt %s%s): %s", notification_id, cause, attempts, give_up, error)
            else:
                log.warning("notification %s (%s) %s", notification_id, cause, NO_SMTP)
        counts[status] += 1
    return counts


def _send(smtp: SmtpSettings | None, recipient: str, subject: str, text: str, html: str) -> tuple[str, str | None]:
    if smtp is None:
        return NOTIFY_UNSENT, NO_SMTP
    try:
        send_mail(smtp, recipient, subject, text, html)
    except (smtplib.SMTPException, OSError, ValueError) as error:
        # SMTP replies and socket errors carry no password; the class name says what kind of failure.
        return NOTIFY_FAILED, f"{type(error).__name__}: {error}"[:500]
    return NOTIFY_SENT, None


def build_message(sender: str, recipient: str, subject: str, text: str, html: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = " ".join(subject.split())  # a name with a line break must not end the header
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].strip("> ") or "localhost")
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def send_mail(smtp: SmtpSettings, recipient: str, subject: str, text: str, html: str) -> None:
    """Send one message through the configured server (STARTTLS / TLS verified against the system CAs)."""
    message = build_message(smtp.sender, recipient, subject, text, html)
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if smtp.tls == "ssl":
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=SMTP_TIMEOUT_SECONDS, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=SMTP_TIMEOUT_SECONDS)
    with client:
        if smtp.tls == "starttls":
            client.starttls(context=context)
        if smtp.username:
            client.login(smtp.username, smtp.password or "")
        client.send_message(message)
