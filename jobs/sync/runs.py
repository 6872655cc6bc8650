"""A run's life: created pinned to (environment, realm, connection), then finished truthfully.

A run is *succeeded* only when every record it touched is synced or skipped with a reason,
*partial* when some failed or still wait, *failed* when it could not run at all.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.models import Environment, QboConnection, SyncRecord, SyncRun, utcnow
from portal.models.integration import RUN_FAILED, RUN_FINISHED, RUN_PARTIAL, RUN_QUEUED, RUN_RUNNING, RUN_SUCCEEDED, STATE_FAILED, STATE_PENDING
from portal.services import ServiceError


def active_run(session: Session, environment_id: int) -> SyncRun | None:
    return session.scalar(select(SyncRun).where(SyncRun.environment_id == environment_id, SyncRun.status.in_((RUN_QUEUED, RUN_RUNNING)))
                          .order_by(SyncRun.id.desc()).limit(1))


def create_run(session: Session, environment: Environment, connection: QboConnection, trigger: str, full: bool = False) -> SyncRun:
    """A new queued run, unless one is already queued or running (then that one)."""
    existing = active_run(session, environment.id)
    if existing is not None:
        return existing
    run = SyncRun(environment_id=environment.id, realm_id=connection.realm_id, connection_id=connection.id, status=RUN_QUEUED,
                  trigger=trigger[:16], counts={"full": full})
    session.add(run)
    session.flush()
    return run


def previous_cursor(session: Session, run: SyncRun) -> Any:
    """Where this run's change lists start: the read time of the last finished run of this same
    connection (after a disconnect every link is gone, so the first run of a new connection reads
    everything and re-links or creates)."""
    return session.scalar(select(SyncRun.read_at).where(
        SyncRun.environment_id == run.environment_id, SyncRun.connection_id == run.connection_id, SyncRun.id < run.id,
        SyncRun.status.in_((RUN_SUCCEEDED, RUN_PARTIAL)), SyncRun.read_at.is_not(None)).order_by(SyncRun.id.desc()).limit(1))


def add_counts(session: Session, run_id: int, counts: Mapping[str, int], customers_done: int) -> None:
    run = session.get_one(SyncRun, run_id, with_for_update=True, populate_existing=True)
    merged = dict(run.counts or {})
    for key, value in counts.items():
        merged[key] = int(merged.get(key, 0)) + int(value)
    run.counts = merged
    run.customers_done = (run.customers_done or 0) + customers_done


def finish(session: Session, run_id: int, error: str | None = None) -> SyncRun:
    run = session.get_one(SyncRun, run_id, with_for_update=True, populate_existing=True)
    if run.status in RUN_FINISHED:
        return run
    states = Counter(dict(session.execute(select(SyncRecord.state, func.count()).where(
        SyncRecord.environment_id == run.environment_id, SyncRecord.run_id == run.id).group_by(SyncRecord.state)).all()))
    counts = dict(run.counts or {})
    counts.update({f"records_{state}": int(n) for state, n in states.items()})
    run.counts = counts
    if error:
        run.status, run.error = RUN_FAILED, error[:4000]
    elif states.get(STATE_FAILED) or states.get(STATE_PENDING):
        run.status = RUN_PARTIAL
    else:
        run.status = RUN_SUCCEEDED
    run.finished_at = utcnow()
    if run.status != RUN_SUCCEEDED:
        from jobs.notify import run_ended

        run_ended(session, run)  # recorded with the run's end, sent once it commits (never raises)
    return run


def start(session: Session, run_id: int) -> SyncRun:
    run = session.get(SyncRun, run_id, with_for_update=True, populate_existing=True)
    if run is None:
        raise ServiceError(f"sync run {run_id} does not exist")
    if run.status == RUN_QUEUED:
        run.status = RUN_RUNNING
        run.started_at = utcnow()
    return run
