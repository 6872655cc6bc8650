"""What a sync run looks like to a person: its counts and a one-line headline that never calls a
failed or partial run complete, its progress (percentage, rate, ETA) and what it waits on. Shared
by the sync pages, the progress JSON, the setup checklist and the CLI.

Reads only from the database; nothing here needs a request. The one write is the jobs' note in
Redis of the rate limit a run waits on (`note_waiting` / `clear_waiting`), which never raises.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.models import Account, Environment, SyncRecord, SyncRun, utcnow
from portal.models.integration import (
    RECORD_STATES,
    RUN_FAILED,
    RUN_PARTIAL,
    RUN_QUEUED,
    RUN_RUNNING,
    RUN_SUCCEEDED,
    STATE_FAILED,
    STATE_PENDING,
    STATE_SKIPPED,
    STATE_SYNCED,
)
from portal.services import NotFound

log = logging.getLogger(__name__)
# The status badge of a run, in the badge classes of the stylesheet.
TONES = {RUN_QUEUED: "todo", RUN_RUNNING: "todo", RUN_SUCCEEDED: "done", RUN_PARTIAL: "warning", RUN_FAILED: "error"}
STATUS_LABELS = {RUN_QUEUED: "Queued", RUN_RUNNING: "Running", RUN_SUCCEEDED: "Succeeded", RUN_PARTIAL: "Partial", RUN_FAILED: "Failed"}


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """"just now", "5 minutes ago", "3 hours ago", "2 days ago"."""
    if moment is None:
        return "at an unknown time"
    now = now or utcnow()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 60:
        return "just now"
    for size, word in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            return f"{plural(seconds // size, word)} ago"
    return "just now"


@dataclass(frozen=True)
class RunSummary:
    """A run's figures. Record states come from the counts frozen when the run finished; while it
    is active, from the records it has touched so far (`states`)."""

    run: SyncRun
    created: int
    updated: int
    unchanged: int
    deleted: int
    synced: int
    failed: int
    pending: int
    skipped: int
    qbo_requests: int
    fusebill_requests: int

    @property
    def active(self) -> bool:
        return not self.run.finished

    @property
    def tone(self) -> str:
        return TONES.get(self.run.status, "unavailable")

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.run.status, self.run.status)

    @property
    def customers(self) -> str:
        return f"{self.run.customers_done or 0} of {self.run.customers_total or 0} customers"

    @property
    def headline(self) -> str:
        status = self.run.status
        if status == RUN_QUEUED:
            return "Queued: waiting for a worker to start it."
        if status == RUN_RUNNING:
            if not self.run.customers_total:
                return "Running: reading the changes from Fusebill."
            return f"Running: {self.customers} done."
        if status == RUN_FAILED:
            return f"Failed: {self.run.error or 'the run stopped without a reason recorded.'}"
        if status == RUN_PARTIAL:
            parts = []
            if self.failed:
                parts.append(f"{plural(self.failed, 'record')} failed")
            if self.pending:
                parts.append(f"{plural(self.pending, 'record')} still pending" if not self.failed else f"{self.pending} pending")
            return "Finished with " + (" and ".join(parts) or "records not synced") + "."
        if status == RUN_SUCCEEDED:
            text = f"Succeeded: {plural(self.synced, 'record')} synced"
            return text + (f", {self.skipped} skipped." if self.skipped else ".")
        return status

    @property
    def progress_line(self) -> str:
        """One line for the CLI: customers and records so far."""
        return (f"run {self.run.id} {self.run.status}: {self.customers}; created {self.created}, updated {self.updated}, "
                f"unchanged {self.unchanged}, failed {self.failed}, pending {self.pending}, skipped {self.skipped}")


def summarize(run: SyncRun, states: dict[str, int] | None = None) -> RunSummary:
    counts = run.counts or {}

    def number(key: str) -> int:
        try:
            return int(counts.get(key) or 0)
        except (TypeError, ValueError):
            return 0

    def state(name: str) -> int:
        if not run.finished and states is not None:
            return int(states.get(name, 0))
        return number(f"records_{name}")

    return RunSummary(
        run=run, created=number("created"), updated=number("updated"), unchanged=number("unchanged"), deleted=number("deleted"),
        synced=state(STATE_SYNCED), failed=state(STATE_FAILED), pending=state(STATE_PENDING), skipped=state(STATE_SKIPPED),
        qbo_requests=number("qbo_requests"), fusebill_requests=number("fusebill_requests"),
    )


def last_run(session: Session, environment: Environment) -> SyncRun | None:
    return session.scalar(select(SyncRun).where(SyncRun.environment_id == environment.id).order_by(SyncRun.id.desc()).limit(1))


def last_run_detail(run: SyncRun | None, now: datetime | None = None) -> str:
    """The Sync step's line on the setup overview."""
    if run is None:
        return "No sync yet."
    summary = summarize(run)
    if run.status == RUN_QUEUED:
        return f"A sync was queued {ago(run.started_at, now)} and waits for a worker."
    if run.status == RUN_RUNNING:
        return f"A sync is running: {summary.customers} done."
    when = ago(run.finished_at or run.started_at, now)
    if run.status == RUN_SUCCEEDED:
        return f"Last run succeeded {when}: {plural(summary.synced, 'record')} synced."
    if run.status == RUN_PARTIAL:
        return f"Last run finished {when}. {summary.headline}"
    return f"Last run failed {when}: {run.error or 'no reason recorded'}."


def run_states(session: Session, run: SyncRun) -> dict[str, int]:
    """How many records this run has left in each state so far (for a run still going)."""
    found = session.execute(select(SyncRecord.state, func.count()).where(
        SyncRecord.environment_id == run.environment_id, SyncRecord.run_id == run.id).group_by(SyncRecord.state)).all()
    return {state: int(count) for state, count in found}


def record_states(session: Session, environment: Environment) -> dict[str, int]:
    """How many of the environment's Fusebill records are in each state (every state, zeros included)."""
    found = dict(session.execute(select(SyncRecord.state, func.count()).where(SyncRecord.environment_id == environment.id)
                                 .group_by(SyncRecord.state)).all())
    return {state: int(found.get(state, 0)) for state in RECORD_STATES}


@dataclass(frozen=True)
class RunPage:
    summary: RunSummary
    environment: Environment
    records: list[SyncRecord]  # the failed and pending records this run left (as far as a later run has not retried them)
    records_limit: int
    progress: RunProgress | None = None

    @property
    def run(self) -> SyncRun:
        return self.summary.run


def run_page(session: Session, account: Account, run_id: int, limit: int = 200, redis: Any = None) -> RunPage:
    """A run of one of the account's environments, for its page; NotFound for anyone else's.
    With `redis`, its progress says which rate limit (if any) the run waits on."""
    from portal.services.sync import failures

    summary = _summary(session, account, run_id)
    environment = session.get_one(Environment, summary.run.environment_id)
    return RunPage(summary, environment, failures(session, summary.run, limit), limit, progress_of(summary, redis))


def run_progress(session: Session, account: Account, run_id: int, redis: Any = None) -> RunProgress:
    """The live figures of one of the account's runs (the run page's JSON); NotFound for anyone else's."""
    return progress_of(_summary(session, account, run_id), redis)


def _summary(session: Session, account: Account, run_id: int) -> RunSummary:
    from portal.services import ServiceError
    from portal.services.sync import run_view

    try:
        view = run_view(session, account, run_id)
    except ServiceError as error:
        raise NotFound(error.message) from error
    return summarize(view.run, view.states)


def progress_of(summary: RunSummary, redis: Any = None, now: datetime | None = None) -> RunProgress:
    waiting = read_waiting(redis, summary.run.id) if redis is not None and summary.active else None
    return RunProgress(summary, now or utcnow(), waiting)


# ------------------------------------------------------------------ progress: percentage, rate, ETA
ESTIMATE_AFTER_SECONDS = 10  # no rate or ETA from less than this much of a run, or before a customer is done


def duration_text(seconds: float) -> str:
    """"under a minute", "about 4 minutes", "about 2 h 5 min"."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return "under a minute"
    minutes = (seconds + 30) // 60
    if minutes < 60:
        return f"about {plural(minutes, 'minute')}"
    return f"about {minutes // 60} h {minutes % 60} min"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class RunProgress:
    """A run's progress: customers done of total as a percentage (100 only once every customer is
    done, and "complete" only for a run that succeeded), records a minute, an ETA from the customers
    left at the customers-a-minute rate so far, and the rate limit it waits on (if any)."""

    summary: RunSummary
    now: datetime
    waiting: Waiting | None = None

    @property
    def run(self) -> SyncRun:
        return self.summary.run

    @property
    def complete(self) -> bool:
        return self.run.status == RUN_SUCCEEDED

    @property
    def percent(self) -> int:
        done, total = self.run.customers_done or 0, self.run.customers_total or 0
        if total <= 0:
            return 100 if self.run.finished else 0
        return max(0, min(100, done * 100 // total))

    @property
    def bar_max(self) -> int:
        return max(self.run.customers_total or 0, 1)

    @property
    def bar_value(self) -> int:
        if not self.run.customers_total:
            return 1 if self.run.finished else 0
        return min(self.run.customers_done or 0, self.run.customers_total)

    @property
    def bar_label(self) -> str:
        if self.complete:
            return f"Complete: {self.summary.customers}"
        return f"{self.summary.customers} ({self.percent} %)"

    @property
    def records_done(self) -> int:
        s = self.summary
        return s.synced + s.failed + s.pending + s.skipped

    @property
    def elapsed_seconds(self) -> float:
        if self.run.started_at is None:
            return 0.0
        end = _aware(self.run.finished_at) if self.run.finished_at else self.now
        return max(0.0, (end - _aware(self.run.started_at)).total_seconds())

    @property
    def _enough_data(self) -> bool:
        return self.elapsed_seconds >= ESTIMATE_AFTER_SECONDS and (self.run.customers_done or 0) > 0

    @property
    def rate_per_minute(self) -> float | None:
        if not self._enough_data or not self.records_done:
            return None
        return round(self.records_done * 60.0 / self.elapsed_seconds, 1)

    @property
    def rate_text(self) -> str:
        rate = self.rate_per_minute
        if rate is None:
            return "estimating…" if self.summary.active else "—"
        shown = f"{rate:.0f}" if rate >= 10 else f"{rate:.1f}"
        return f"{shown} records a minute"

    @property
    def eta_seconds(self) -> int | None:
        if not self.summary.active or not self._enough_data or not self.run.customers_total:
            return None
        left = max(0, self.run.customers_total - (self.run.customers_done or 0))
        per_second = (self.run.customers_done or 0) / self.elapsed_seconds
        eta = left / per_second if per_second > 0 else 0.0
        if self.waiting is not None:
            eta = max(eta, float(self.waiting.seconds(self.now)))
        return int(round(eta))

    @property
    def eta_text(self) -> str:
        if not self.summary.active:
            return "—"
        eta = self.eta_seconds
        if eta is None:
            return "estimating…"
        return duration_text(eta) + " left"

    @property
    def waiting_message(self) -> str | None:
        return self.waiting.message(self.now) if self.waiting is not None and self.summary.active else None

    def as_json(self) -> dict[str, Any]:
        s, run = self.summary, self.run
        return {
            "run_id": run.id, "status": run.status, "status_label": s.status_label, "tone": s.tone, "active": s.active,
            "finished": run.finished, "complete": self.complete, "headline": s.headline, "error": run.error,
            "notice": (run.counts or {}).get("notice"),
            "customers_done": run.customers_done or 0, "customers_total": run.customers_total or 0, "customers": s.customers,
            "percent": self.percent, "bar_value": self.bar_value, "bar_max": self.bar_max, "bar_label": self.bar_label,
            "counts": {"created": s.created, "updated": s.updated, "unchanged": s.unchanged, "deleted": s.deleted, "synced": s.synced,
                       "failed": s.failed, "pending": s.pending, "skipped": s.skipped, "qbo_requests": s.qbo_requests,
                       "fusebill_requests": s.fusebill_requests},
            "elapsed_seconds": int(self.elapsed_seconds), "rate_per_minute": self.rate_per_minute, "rate": self.rate_text,
            "eta_seconds": self.eta_seconds, "eta": self.eta_text,
            "waiting": None if self.waiting is None or self.waiting_message is None else {
                "service": self.waiting.service, "until": self.waiting.until.isoformat(),
                "seconds": self.waiting.seconds(self.now), "message": self.waiting_message},
        }


# ------------------------------------------------------------------ the rate limit a run waits on (Redis)
# Whose limit, said how: possessive, and what it is counted per.
WAITING_SERVICES = {"qbo": ("QuickBooks'", "company"), "fusebill": ("Fusebill's", "Fusebill account")}
WAITING_GRACE = 60  # seconds the note outlives its "until": the deferred job may start a little late


def waiting_key(run_id: int) -> str:
    return f"fbqbo:sync:run:{run_id}:waiting"


def throttled_service(error: Exception) -> str:
    """"qbo" or "fusebill": whose limit a `Throttled` is (ours in Redis names it; a remote 429 says it)."""
    limit = str(getattr(error, "limit", "") or "")
    if limit.startswith("fusebill"):
        return "fusebill"
    if limit.startswith("qbo"):
        return "qbo"
    return "fusebill" if "fusebill" in str(getattr(error, "message", error)).lower() else "qbo"


def note_waiting(redis: Any, run_id: int, error: Exception, delay: float) -> None:
    """A job deferred a run's work by `delay` seconds: when it was for a rate limit (`Throttled`),
    note whose and until when, for the run page. Never raises (the sync does not depend on it)."""
    from portal.clients import Throttled

    if not isinstance(error, Throttled):
        return
    try:
        until = utcnow() + timedelta(seconds=max(0.0, float(delay)))
        redis.set(waiting_key(run_id), json.dumps({"service": throttled_service(error), "until": until.isoformat()}),
                  ex=int(max(1.0, float(delay))) + WAITING_GRACE)
    except Exception as failure:  # noqa: BLE001 - a note for a page must never fail a sync job
        log.warning("run %s: could not note the rate limit it waits on: %s", run_id, failure)


def clear_waiting(redis: Any, run_id: int) -> None:
    """A chunk of the run completed: it is no longer waiting. Never raises."""
    try:
        redis.delete(waiting_key(run_id))
    except Exception as failure:  # noqa: BLE001
        log.warning("run %s: could not clear its rate-limit note: %s", run_id, failure)


@dataclass(frozen=True)
class Waiting:
    service: str  # "qbo" | "fusebill"
    until: datetime

    def seconds(self, now: datetime) -> int:
        return max(0, int((self.until - now).total_seconds() + 0.999))

    def message(self, now: datetime) -> str:
        name, scope = WAITING_SERVICES.get(self.service, WAITING_SERVICES["qbo"])
        seconds = self.seconds(now)
        when = f"resumes in about {seconds} s" if seconds > 0 else "resuming now"
        return f"Waiting on {name} rate limit for this {scope} — {when}."


def read_waiting(redis: Any, run_id: int) -> Waiting | None:
    """The rate limit the run waits on, if a job noted one (None when Redis cannot say)."""
    try:
        raw = redis.get(waiting_key(run_id))
        if not raw:
            return None
        data = json.loads(raw)
        service = data.get("service") if data.get("service") in WAITING_SERVICES else "qbo"
        return Waiting(service, _aware(datetime.fromisoformat(data["until"])))
    except Exception as failure:  # noqa: BLE001 - unreadable or unreachable: the page just does not say
        log.warning("run %s: could not read its rate-limit note: %s", run_id, failure)
        return None
