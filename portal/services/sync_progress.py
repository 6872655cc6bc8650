"""What a sync run looks like to a person: its counts and a one-line headline that never calls a
failed or partial run complete. Shared by the sync pages, the setup checklist and the CLI.

Reads only; nothing here writes or needs a request.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.models import Account, Environment, SyncRecord, SyncRun, utcnow
from portal.models.integration import (
    RECORD_STATES, RUN_FAILED, RUN_PARTIAL, RUN_QUEUED, RUN_RUNNING, RUN_SUCCEEDED, STATE_FAILED, STATE_PENDING, STATE_SKIPPED, STATE_SYNCED,
)
from portal.services import NotFound

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

    @property
    def run(self) -> SyncRun:
        return self.summary.run


def run_page(session: Session, account: Account, run_id: int, limit: int = 200) -> RunPage:
    """A run of one of the account's environments, for its page; NotFound for anyone else's."""
    from portal.services import ServiceError
    from portal.services.sync import failures, run_view

    try:
        view = run_view(session, account, run_id)
    except ServiceError as error:
        raise NotFound(error.message) from error
    environment = session.get(Environment, view.run.environment_id)
    return RunPage(summarize(view.run, view.states), environment, failures(session, view.run, limit), limit)
