"""Starting a sync and reading its state: what the Sync now button, the run page and the CLI share."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.models import Account, Environment, SyncRecord, SyncRun, User
from portal.services import NotAllowed, ServiceError, audit
from portal.services.checklist import ensure_sync_can_start
from portal.services.context import ServiceContext
from portal.services.enablement import ensure_syncs_not_paused
from portal.services.environments import active_environment, get_environment, live_connection


def start_sync(session: Session, ctx: ServiceContext, account: Account, *, actor: User | None = None, trigger: str = "manual",
               environment_kind: str | None = None, full: bool = False) -> SyncRun:
    """Queue a run of the account's active (or named) environment, after the guard allows it.

    A run already queued or running is returned instead of a second one. Commits, then enqueues.
    """
    from jobs.sync.jobs import enqueue_run
    from jobs.sync.runs import active_run, create_run

    if environment_kind is not None and environment_kind != account.active_environment:
        raise NotAllowed(f"The {environment_kind} environment is not the active one; switch to it first.")
    ensure_syncs_not_paused(account)  # support's pause wins over everything else: say that first
    ensure_sync_can_start(session, account, ctx.settings.refresh_token_warning_days)
    environment = active_environment(session, account)
    connection = live_connection(session, environment)
    if connection is None:
        raise NotAllowed("Connect QuickBooks first.")
    existing = active_run(session, environment.id)
    run = create_run(session, environment, connection, trigger, full=full)
    if existing is None:
        audit.record(session, "sync.started",
                     f"{actor.email if actor else 'The system'} started a sync of the {environment.kind} environment into {connection.company_name}",
                     actor=actor, account_id=account.id, environment=environment.kind, details={"run_id": run.id, "trigger": trigger, "full": full})
    session.commit()
    if existing is None:
        enqueue_run(ctx, run.id)
    return run


@dataclass(frozen=True)
class RunView:
    run: SyncRun
    states: dict[str, int]

    @property
    def progress(self) -> str:
        return f"{self.run.customers_done} of {self.run.customers_total} customers"


def run_view(session: Session, account: Account, run_id: int) -> RunView:
    run = session.get(SyncRun, run_id)
    environment = session.get(Environment, run.environment_id) if run is not None else None
    if run is None or environment is None or environment.account_id != account.id:
        raise ServiceError("No such sync run.")
    states = dict(session.execute(select(SyncRecord.state, func.count()).where(
        SyncRecord.environment_id == run.environment_id, SyncRecord.run_id == run.id).group_by(SyncRecord.state)).all())
    return RunView(run, {k: int(v) for k, v in states.items()})


def recent_runs(session: Session, account: Account, kind: str | None = None, limit: int = 10) -> list[SyncRun]:
    environment = get_environment(session, account, kind or account.active_environment)
    return list(session.scalars(select(SyncRun).where(SyncRun.environment_id == environment.id).order_by(SyncRun.id.desc()).limit(limit)))


def failures(session: Session, run: SyncRun, limit: int = 50) -> list[SyncRecord]:
    return list(session.scalars(select(SyncRecord).where(SyncRecord.environment_id == run.environment_id, SyncRecord.run_id == run.id,
                                                         SyncRecord.state.in_(("failed", "pending"))).order_by(SyncRecord.id).limit(limit)))
