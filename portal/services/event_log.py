"""The event log: every Fusebill record's state in one environment, filtered, searched, paged by
keyset (record id, newest first: the same cost on page 1 and page 2,000), exported as CSV, and
retried one customer or every failed customer at a time.

Every query is scoped to one environment and uses one of the sync_records indexes of migration 0013;
the search matches exactly (a Fusebill id, a QBO id, a document label such as "Invoice 1042" or its
number alone), so it stays an index look-up at 100,000+ rows. Reads only, except the two retries.
"""
from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, cast

from sqlalchemy import CursorResult, Select, func, or_, select, update
from sqlalchemy.orm import Session

from portal.models import Account, Environment, SyncRecord, SyncRun, User, utcnow
from portal.models.integration import RECORD_STATES, STATE_FAILED, STATE_PENDING
from portal.services import NotAllowed, NotFound, audit
from portal.services.context import ServiceContext
from portal.services.environments import active_environment

log = logging.getLogger(__name__)

PAGE_SIZE = 50
CSV_BATCH = 1000  # rows per keyset query while streaming a CSV
RETRY_CHUNK = 500  # customers per UPDATE when marking records for a retry (IN-lists stay small)
RETRY_REASON = "Retry requested"
RETRY_DELAY_SECONDS = 0.5  # gathers a burst of Retry presses into one targeted run
RETRYABLE = (STATE_FAILED, STATE_PENDING)

# Fusebill record types in the order the engine syncs them, with their names (jobs.sync.model).
ENTITY_ORDER = ("customer", "invoice", "payment", "refund", "credit", "debit", "creditnote", "writeoff")
ENTITY_LABELS = {"customer": "Customer", "invoice": "Invoice", "payment": "Payment", "refund": "Refund", "credit": "Credit",
                 "debit": "Credit reversal", "creditnote": "Charge reversal", "writeoff": "Write-off"}


def entity_label(entity_type: str) -> str:
    return ENTITY_LABELS.get(entity_type, entity_type.replace("_", " ").capitalize())


def _type_order(entity_type: str) -> tuple[int, str]:
    return (ENTITY_ORDER.index(entity_type) if entity_type in ENTITY_ORDER else len(ENTITY_ORDER), entity_type)


@dataclass(frozen=True)
class RecordFilter:
    run_id: int | None = None
    entity_type: str | None = None
    state: str | None = None
    customer_id: str | None = None
    updated_from: date | None = None
    updated_to: date | None = None  # inclusive: the whole day
    q: str | None = None

    def args(self) -> dict[str, str]:
        """The query-string arguments that give these filters again (for links and redirects)."""
        values = {"run": self.run_id, "type": self.entity_type, "state": self.state, "customer": self.customer_id,
                  "from": self.updated_from.isoformat() if self.updated_from else None,
                  "to": self.updated_to.isoformat() if self.updated_to else None, "q": self.q}
        return {key: str(value) for key, value in values.items() if value not in (None, "")}

    @property
    def any(self) -> bool:
        return bool(self.args())


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


def search_labels(q: str) -> set[str]:
    """The document labels a search can mean: itself, and "<Type> <q>" for each record type's name
    (so "1042" finds "Invoice 1042"; "invoice 1042" is written the way the engine labels it)."""
    labels = {q}
    lowered = q.lower()
    for name in ENTITY_LABELS.values():
        labels.add(f"{name} {q}")
        if lowered.startswith(name.lower() + " ") and len(q) > len(name) + 1:
            labels.add(f"{name} {q[len(name) + 1:].strip()}")
    return labels


def _filtered(environment_id: int, f: RecordFilter) -> Select:
    query = select(SyncRecord).where(SyncRecord.environment_id == environment_id)
    if f.run_id is not None:
        query = query.where(SyncRecord.run_id == f.run_id)
    if f.entity_type:
        query = query.where(SyncRecord.entity_type == f.entity_type)
    if f.state:
        query = query.where(SyncRecord.state == f.state)
    if f.customer_id:
        query = query.where(SyncRecord.customer_id == f.customer_id)
    if f.updated_from:
        query = query.where(SyncRecord.updated_at >= _day_start(f.updated_from))
    if f.updated_to:
        query = query.where(SyncRecord.updated_at < _day_start(f.updated_to + timedelta(days=1)))
    if f.q:
        q = f.q[:96]
        query = query.where(or_(SyncRecord.fusebill_id == q, SyncRecord.qbo_id == q[:32],
                                SyncRecord.label.in_(sorted(label[:200] for label in search_labels(q)))))
    return query


# ------------------------------------------------------------------ pages
@dataclass(frozen=True)
class RecordPage:
    records: list[SyncRecord]
    newer: int | None  # `after` for the Newer link (None: this is the newest page)
    older: int | None  # `before` for the Older link (None: this is the oldest page)
    page_size: int


def records_page(session: Session, environment: Environment, f: RecordFilter, *, before: int | None = None, after: int | None = None,
                 page_size: int = PAGE_SIZE) -> RecordPage:
    """One page of the filtered records, newest first: older than `before`, or newer than `after`
    (the Newer link), or the newest page."""
    base = _filtered(environment.id, f)
    if after is not None:
        rows = list(session.scalars(base.where(SyncRecord.id > after).order_by(SyncRecord.id.asc()).limit(page_size + 1)))
        has_newer = len(rows) > page_size
        rows = list(reversed(rows[:page_size]))
        has_older = bool(rows) and _exists(session, base.where(SyncRecord.id < rows[-1].id))
        if not rows:  # nothing newer than that any more: the newest page
            return records_page(session, environment, f, page_size=page_size)
    else:
        query = base.where(SyncRecord.id < before) if before is not None else base
        rows = list(session.scalars(query.order_by(SyncRecord.id.desc()).limit(page_size + 1)))
        has_older = len(rows) > page_size
        rows = rows[:page_size]
        has_newer = before is not None and _exists(session, base.where(SyncRecord.id >= (rows[0].id + 1 if rows else before)))
    return RecordPage(rows, rows[0].id if rows and has_newer else None, rows[-1].id if rows and has_older else None, page_size)


def _exists(session: Session, query: Select) -> bool:
    return session.scalar(select(query.with_only_columns(SyncRecord.id).limit(1).exists())) or False


def entity_types(session: Session, environment: Environment) -> list[tuple[str, str]]:
    """(value, name) of every record type: the engine's, and any other this environment holds."""
    found = set(session.scalars(select(SyncRecord.entity_type).where(SyncRecord.environment_id == environment.id).distinct()))
    return [(t, entity_label(t)) for t in sorted(found | set(ENTITY_ORDER), key=_type_order)]


def run_in_environment(session: Session, environment: Environment, run_id: int) -> bool:
    return session.scalar(select(SyncRun.id).where(SyncRun.id == run_id, SyncRun.environment_id == environment.id)) is not None


# ------------------------------------------------------------------ overview of counts
@dataclass(frozen=True)
class TypeCounts:
    entity_type: str
    name: str
    states: dict[str, int] = field(default_factory=dict)

    @property
    def seen(self) -> int:
        return sum(self.states.values())

    def __getitem__(self, state: str) -> int:
        return self.states.get(state, 0)


def overview(session: Session, environment: Environment) -> list[TypeCounts]:
    """Per record type: how many Fusebill records the sync has seen, and how many are in each state."""
    rows = session.execute(select(SyncRecord.entity_type, SyncRecord.state, func.count()).where(SyncRecord.environment_id == environment.id)
                           .group_by(SyncRecord.entity_type, SyncRecord.state)).all()
    by_type: dict[str, dict[str, int]] = {}
    for entity_type, state, count in rows:
        by_type.setdefault(entity_type, {s: 0 for s in RECORD_STATES})[state] = int(count)
    return [TypeCounts(t, entity_label(t), by_type[t]) for t in sorted(by_type, key=_type_order)]


# ------------------------------------------------------------------ CSV
CSV_COLUMNS = ("record_id", "updated_at", "entity_type", "fusebill_id", "customer_id", "label", "state", "qbo_id", "qbo_code",
               "reason", "hint", "attempts", "run_id")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A cell as text; one a spreadsheet would run as a formula (= + - @, tab, CR) gets a leading quote."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc).isoformat()
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_rows(session: Session, environment: Environment, f: RecordFilter, batch: int = CSV_BATCH) -> Iterator[str]:
    """The filtered records as CSV text, a header row first, newest first, read in keyset batches
    (no server-side cursor, no whole result in memory)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(values) -> str:
        writer.writerow(values)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield line(CSV_COLUMNS)
    base = _filtered(environment.id, f)
    before: int | None = None
    while True:
        query = base.where(SyncRecord.id < before) if before is not None else base
        rows = list(session.scalars(query.order_by(SyncRecord.id.desc()).limit(batch)))
        for row in rows:
            yield line([csv_cell(v) for v in (row.id, row.updated_at, row.entity_type, row.fusebill_id, row.customer_id, row.label,
                                              row.state, row.qbo_id, row.qbo_code, row.reason, row.hint, row.attempts, row.run_id)])
        if len(rows) < batch:
            session.rollback()  # end the read-only transaction with the last row, not when the response closes
            return
        before = rows[-1].id
        session.expunge_all()  # keep the identity map small on a long export


# ------------------------------------------------------------------ retries
@dataclass(frozen=True)
class RetryResult:
    customers: int
    records: int
    queued: bool
    run_id: int | None = None  # a run going now: the retry runs right after it


def _mark_for_retry(session: Session, environment_id: int, customer_ids: list[str], record_id: int | None = None) -> int:
    """Set the customers' failed and pending records to pending "Retry requested" (chunked updates).
    QBO's code stays on the row: the engine gives a record QBO refused before a fresh requestid."""
    now, marked = utcnow(), 0
    for start in range(0, len(customer_ids), RETRY_CHUNK):
        chunk = customer_ids[start:start + RETRY_CHUNK]
        statement = update(SyncRecord).where(SyncRecord.environment_id == environment_id, SyncRecord.customer_id.in_(chunk),
                                             SyncRecord.state.in_(RETRYABLE))
        marked += cast("CursorResult[Any]", session.execute(statement.values(state=STATE_PENDING, reason=RETRY_REASON, hint=None, updated_at=now)
                                  .execution_options(synchronize_session=False))).rowcount or 0
    return marked


def _enqueue(ctx: ServiceContext, environment_id: int, customer_ids: list[str]) -> None:
    """Hand the customers to the environment's pending set, the webhook path's: one flush job syncs
    them in a targeted run, and when a run is going it waits for it (it reschedules itself), so a
    retry pressed during a run, or racing one that starts, is never dropped."""
    from portal.services.webhooks import EVENT_TTL, retry_key, schedule_customers

    if customer_ids:
        ctx.redis.sadd(retry_key(environment_id), *customer_ids)
        ctx.redis.expire(retry_key(environment_id), EVENT_TTL)
    schedule_customers(ctx, environment_id, customer_ids, delay=RETRY_DELAY_SECONDS)


def _retry(session: Session, ctx: ServiceContext, account: Account, environment: Environment, customer_ids: list[str],
           actor: User | None, what: str) -> RetryResult:
    from jobs.sync.runs import active_run

    marked = _mark_for_retry(session, environment.id, customer_ids)
    running = active_run(session, environment.id)
    audit.record(session, "sync.retry_requested", f"{actor.email if actor else 'The system'} asked to retry {what} in the {environment.kind} environment",
                 actor=actor, account_id=account.id, environment=environment.kind,
                 details={"customers": len(customer_ids), "records": marked, **({"customer_id": customer_ids[0]} if len(customer_ids) == 1 else {})})
    session.commit()  # before the job is queued: its outcomes must land after the marks, never under them
    try:
        _enqueue(ctx, environment.id, customer_ids)
    except Exception as error:  # Redis down: the marks stand, and the next run retries pending records anyway
        log.warning("retry of %d customers in environment %s not queued: %s", len(customer_ids), environment.id, error)
        raise NotAllowed("The records are marked for a retry, but the retry could not be queued now; the next sync retries them.") from error
    return RetryResult(len(customer_ids), marked, True, running.id if running is not None else None)


def retry_record(session: Session, ctx: ServiceContext, account: Account, record_id: int, actor: User | None = None) -> RetryResult:
    """Retry one failed or pending record: a targeted run of its customer (which syncs the customer's
    records, so its other failed and pending records are retried with it). NotFound for a record of
    any other environment or account."""
    environment = active_environment(session, account)
    record = session.get(SyncRecord, record_id)
    if record is None or record.environment_id != environment.id:
        raise NotFound("No such record in this environment.")
    if record.state not in RETRYABLE:
        raise NotAllowed(f"{record.label or 'This record'} is {record.state}: there is nothing to retry.")
    label = record.label or f"{record.entity_type} {record.fusebill_id}"
    return _retry(session, ctx, account, environment, [record.customer_id], actor, f"{label} (customer {record.customer_id})")


def failed_count(session: Session, environment: Environment) -> int:
    return int(session.scalar(select(func.count()).select_from(SyncRecord).where(SyncRecord.environment_id == environment.id,
                                                                                 SyncRecord.state == STATE_FAILED)) or 0)


def failed_customers(session: Session, environment: Environment) -> list[str]:
    found = session.scalars(select(SyncRecord.customer_id).where(SyncRecord.environment_id == environment.id,
                                                                 SyncRecord.state == STATE_FAILED).distinct())
    return sorted(found, key=lambda c: (0, int(c), c) if c.isdigit() else (1, 0, c))


def retry_all_failed(session: Session, ctx: ServiceContext, account: Account, actor: User | None = None) -> RetryResult:
    """Retry every customer of the active environment with a failed record, in one targeted run (its
    chunk jobs carry the customers 25 at a time)."""
    environment = active_environment(session, account)
    customers = failed_customers(session, environment)
    if not customers:
        raise NotAllowed("No record has failed in this environment: there is nothing to retry.")
    return _retry(session, ctx, account, environment, customers, actor, f"every failed record ({len(customers)} customers)")

