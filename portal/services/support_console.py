"""What support sees and does for one account's syncs, and for the whole RQ installation.

- an account's recent runs (both environments) and its current failures;
- requeue a failed, partial or stuck run: a new run through the same path as Sync now
  (`sync.start_sync`, trigger "support"); a stuck run (queued or running, but no RQ job of it
  left anywhere) is first marked failed ("requeued by support");
- pause / resume an account's syncs (audited with who and why); while paused nothing starts a run
  (`enablement.ensure_syncs_not_paused`), webhook events are held, and queued work is skipped
  (jobs.sync.jobs._paused);
- RQ health: queue depths, workers and their heartbeats, the scheduler's locks; Redis being down is
  an answer ("unreachable"), never an error page;
- the connections that need a reconnect, or whose refresh token expires within the warning days.

Nothing here reads `request`. Reads never write: RQ registries are read without their clean-up.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from redis.exceptions import RedisError
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from jobs.queues import ALL
from portal.models import Account, Environment, QboConnection, SyncRecord, SyncRun, User, utcnow
from portal.models.integration import RUN_FAILED, RUN_PARTIAL, RUN_QUEUED, RUN_RUNNING, STATE_FAILED
from portal.services import NotAllowed, NotFound, ServiceError, audit
from portal.services.context import ServiceContext
from portal.services.enablement import REASON_MAX, REASON_MIN, ensure_syncs_not_paused
from portal.services.sync_progress import RunPage, RunSummary, run_page, run_states, summarize

log = logging.getLogger(__name__)

RECENT_RUNS = 20
FAILURES_SHOWN = 50
# A run created this recently is never called stuck: between start_sync's commit and the enqueue
# there is a moment with no RQ job yet.
STUCK_GRACE = timedelta(minutes=2)
SYNC_JOB_FUNCTIONS = frozenset({"jobs.sync.jobs.sync_account", "jobs.sync.jobs.sync_chunk"})
REQUEUED_BY_SUPPORT = "requeued by support"


def _support_only(actor: User) -> None:
    if not actor.is_support:
        raise NotAllowed("Only support staff can do this.")


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment


# ------------------------------------------------------------------ an account's runs and failures
@dataclass(frozen=True)
class ConsoleRun:
    summary: RunSummary
    environment_kind: str
    stuck: bool | None  # None: cannot tell (Redis unreachable); False for finished runs

    @property
    def run(self) -> SyncRun:
        return self.summary.run

    @property
    def requeueable(self) -> bool:
        return self.run.status in (RUN_FAILED, RUN_PARTIAL) or bool(self.stuck)


def account_runs(session: Session, ctx: ServiceContext, account: Account, limit: int = RECENT_RUNS, now: datetime | None = None) -> list[ConsoleRun]:
    """The account's latest runs, both environments, newest first; active ones checked for being stuck."""
    kinds = {environment.id: environment.kind for environment in session.scalars(select(Environment).where(Environment.account_id == account.id))}
    rows = list(session.scalars(select(SyncRun).where(SyncRun.environment_id.in_(kinds)).order_by(SyncRun.id.desc()).limit(limit)))
    result = []
    for run in rows:
        stuck: bool | None = False
        states = None
        if not run.finished:
            states = run_states(session, run)
            try:
                stuck = run_is_stuck(ctx.redis, run, now)
            except RedisError as error:
                log.warning("support console: cannot look up the RQ jobs of run %s: %s", run.id, error)
                stuck = None
        result.append(ConsoleRun(summarize(run, states), kinds[run.environment_id], stuck))
    return result


@dataclass(frozen=True)
class Failures:
    records: list[tuple[SyncRecord, str]]  # (record, environment kind), newest first
    total: int


def account_failures(session: Session, account: Account, limit: int = FAILURES_SHOWN) -> Failures:
    """The account's records that are failed now (every environment): the first `limit` and how many."""
    kinds = {environment.id: environment.kind for environment in session.scalars(select(Environment).where(Environment.account_id == account.id))}
    where = (SyncRecord.environment_id.in_(kinds), SyncRecord.state == STATE_FAILED)
    total = int(session.scalar(select(func.count()).select_from(SyncRecord).where(*where)) or 0)
    rows = session.scalars(select(SyncRecord).where(*where).order_by(SyncRecord.updated_at.desc(), SyncRecord.id.desc()).limit(limit))
    return Failures([(row, kinds[row.environment_id]) for row in rows], total)


def run_account(session: Session, run_id: int) -> Account:
    """The account a run belongs to; NotFound for no such run."""
    run = session.get(SyncRun, run_id)
    environment = session.get(Environment, run.environment_id) if run is not None else None
    if run is None or environment is None:
        raise NotFound("No such sync run.")
    return environment.account


def support_run_page(session: Session, run_id: int) -> tuple[RunPage, Account]:
    """Any account's run, for support (the admin's run page, without the account check)."""
    account = run_account(session, run_id)
    return run_page(session, account, run_id), account


# ------------------------------------------------------------------ stuck runs and requeue
@dataclass(frozen=True)
class LiveJob:
    id: str
    function: str  # jobs.sync.jobs.sync_account or sync_chunk
    chunk: int | None  # the chunk number of a sync_chunk job


def live_sync_jobs(redis, abandoned: bool = False) -> dict[int, list[LiveJob]]:
    """The RQ jobs of sync runs that can still run, by run id: queued, just dequeued (RQ's
    intermediate list), working, scheduled (deferred chunks, retries) or waiting on a dependency, in
    any of the sync's queues. A started job whose worker stopped beating is left out unless
    `abandoned`: RQ's clean-up will retry it (or fail it, once its retries are spent)."""
    from rq import Queue
    from rq.exceptions import DeserializationError
    from rq.job import Job

    candidates: set[str] = set()
    for name in ALL:
        queue = Queue(name, connection=redis)
        candidates.update(queue.get_job_ids())
        candidates.update(queue.intermediate_queue.get_job_ids())
        started = queue.started_job_registry
        # An entry whose time ran out belongs to a dead work horse (RQ's clean-up retries or fails it).
        working = set(started.get_job_ids(cleanup=False))
        candidates.update(working if abandoned else working - set(started.get_expired_job_ids()))
        candidates.update(queue.scheduled_job_registry.get_job_ids(cleanup=False))
        candidates.update(queue.deferred_job_registry.get_job_ids(cleanup=False))
    found: dict[int, list[LiveJob]] = {}
    ordered = sorted(candidates)
    for job_id, job in zip(ordered, Job.fetch_many(ordered, connection=redis), strict=True):
        if job is None:
            continue
        try:
            function, args, kwargs = job.func_name, job.args, job.kwargs
        except DeserializationError as error:  # not one of ours; say so and look on
            log.warning("support console: job %s cannot be read: %s", job_id, error)
            continue
        if function in SYNC_JOB_FUNCTIONS and args and isinstance(args[0], int):
            chunk = args[2] if len(args) > 2 else kwargs.get("number", 0 if function.endswith("sync_chunk") else None)
            found.setdefault(args[0], []).append(LiveJob(job_id, function, chunk))
    return found


def live_jobs_for_run(redis, run_id: int) -> list[str]:
    """Ids of the RQ jobs of this run that can still run (see live_sync_jobs)."""
    return [job.id for job in live_sync_jobs(redis).get(run_id, [])]


def run_is_stuck(redis, run: SyncRun, now: datetime | None = None) -> bool:
    """Queued or running, older than STUCK_GRACE, and no RQ job of it left. Raises RedisError."""
    if run.status not in (RUN_QUEUED, RUN_RUNNING):
        return False
    now = now or utcnow()
    started = _aware(run.started_at)
    if started is not None and now - started < STUCK_GRACE:
        return False
    return not live_jobs_for_run(redis, run.id)


@dataclass(frozen=True)
class RequeueOutcome:
    run: SyncRun  # the new run
    previous: SyncRun
    marked_failed: bool  # the previous run was stuck and is now failed "requeued by support"


def requeue_run(session: Session, ctx: ServiceContext, run_id: int, actor: User, now: datetime | None = None) -> RequeueOutcome:
    """Start a new run of a failed, partial or stuck run's environment, through Sync now's guard.

    Every check comes first (run state, pause, the set-up guard, another run going), so a refusal
    changes nothing. Commits (start_sync commits and enqueues); audited.
    """
    from jobs.sync import runs as run_store
    from portal.services.checklist import ensure_sync_can_start
    from portal.services.sync import start_sync

    _support_only(actor)
    run = session.get(SyncRun, run_id)
    environment = session.get(Environment, run.environment_id) if run is not None else None
    if run is None or environment is None:
        raise NotFound("No such sync run.")
    account = environment.account
    stuck = False
    if run.status in (RUN_QUEUED, RUN_RUNNING):
        try:
            stuck = run_is_stuck(ctx.redis, run, now)
        except RedisError as error:
            raise ServiceError(f"Redis is unreachable, so whether run #{run.id} still has work queued cannot be told: {error}") from error
        if not stuck:
            raise ServiceError(f"Run #{run.id} is {run.status} and its jobs are still in RQ (or it started less than "
                               f"{int(STUCK_GRACE.total_seconds() // 60)} minutes ago): it is not stuck. Wait for it, or pause the account's syncs.")
    elif run.status not in (RUN_FAILED, RUN_PARTIAL):
        raise ServiceError(f"Run #{run.id} succeeded: there is nothing to requeue.")
    if environment.kind != account.active_environment:
        raise ServiceError(f"Run #{run.id} is of the {environment.kind} environment, which is no longer the active one: "
                           f"a new run would sync {account.active_environment}. Nothing was requeued.")
    try:
        ensure_syncs_not_paused(account)
        ensure_sync_can_start(session, account, ctx.settings.refresh_token_warning_days)
    except ServiceError as error:
        raise ServiceError(f"Run #{run.id} cannot be requeued. {error.message}") from error
    other = run_store.active_run(session, environment.id)
    if other is not None and other.id != run.id:
        raise ServiceError(f"Run #{other.id} of the {environment.kind} environment is already {other.status}; a second run is never started.")
    if stuck:
        run_store.finish(session, run.id, REQUEUED_BY_SUPPORT)
        session.flush()
    new_run = start_sync(session, ctx, account, actor=actor, trigger="support", environment_kind=environment.kind)
    audit.record(session, "support.run_requeued",
                 f"{actor.email} requeued run #{run.id}{' (stuck: marked failed)' if stuck else ''} as run #{new_run.id}",
                 actor=actor, account_id=account.id, environment=environment.kind,
                 details={"run_id": run.id, "new_run_id": new_run.id, "was": run.status if not stuck else "stuck", "stuck": stuck})
    session.commit()
    return RequeueOutcome(new_run, run, stuck)


# ------------------------------------------------------------------ pause and resume
def _clean_reason(reason: str, required: bool) -> str:
    reason = (reason or "").strip()
    if required and len(reason) < REASON_MIN:
        raise ServiceError(f"Give a reason of at least {REASON_MIN} characters.", field="reason")
    if len(reason) > REASON_MAX:
        raise ServiceError(f"The reason can be at most {REASON_MAX} characters.", field="reason")
    return reason


def pause_syncs(session: Session, account: Account, reason: str, actor: User) -> Account:
    """Support stops every new run of the account until resumed; audited (the caller commits)."""
    _support_only(actor)
    reason = _clean_reason(reason, required=True)
    if account.syncs_paused:
        raise ServiceError(f"Syncs of {account.name} are already paused.")
    account.syncs_paused_at = utcnow()
    account.syncs_paused_reason = reason
    account.syncs_paused_by = actor.email
    audit.record(session, "support.syncs_paused", f"{actor.email} paused the syncs: {reason}", actor=actor, account_id=account.id,
                 details={"reason": reason})
    return account


def resume_syncs(session: Session, ctx: ServiceContext, account: Account, actor: User, reason: str = "") -> int:
    """Support lets the account's syncs start again; audited; commits. The webhook events held
    meanwhile are then flushed into one targeted run; returns how many customers were waiting.
    Everything else the pause kept out is caught up by the next run's change cursor (the runs the
    pause skipped ended failed, so the cursor did not move past them)."""
    from portal.services.environments import active_environment
    from portal.services.webhooks import held_customers, schedule_customers

    _support_only(actor)
    reason = _clean_reason(reason, required=False)
    if not account.syncs_paused:
        raise ServiceError(f"Syncs of {account.name} are not paused.")
    paused_at, paused_by = account.syncs_paused_at, account.syncs_paused_by
    account.syncs_paused_at = account.syncs_paused_reason = account.syncs_paused_by = None
    audit.record(session, "support.syncs_resumed", f"{actor.email} resumed the syncs" + (f": {reason}" if reason else ""),
                 actor=actor, account_id=account.id,
                 details={"reason": reason, "paused_at": paused_at.isoformat() if paused_at else None, "paused_by": paused_by})
    environment_id = active_environment(session, account).id
    session.commit()
    try:
        waiting = held_customers(ctx, environment_id)
        if waiting:
            schedule_customers(ctx, environment_id, [])
    except RedisError as error:  # the resume stands; the held customers wait for the next run or event
        log.warning("resume of account %s: held webhook customers not flushed: %s", account.id, error)
        return 0
    return waiting


# ------------------------------------------------------------------ RQ health
@dataclass(frozen=True)
class QueueDepth:
    name: str
    queued: int
    started: int
    failed: int
    deferred: int
    scheduled: int


@dataclass(frozen=True)
class WorkerHealth:
    name: str
    state: str
    queues: list[str]
    current_job: str | None
    heartbeat_age: float | None  # seconds
    ttl: int

    @property
    def stale(self) -> bool:
        return self.heartbeat_age is None or self.heartbeat_age > self.ttl


@dataclass(frozen=True)
class SchedulerHealth:
    locks: dict[str, str]  # queue → the scheduler holding its lock
    heartbeat_age: float | None

    @property
    def present(self) -> bool:
        return bool(self.locks)


@dataclass(frozen=True)
class RqHealth:
    reachable: bool
    error: str = ""
    queues: list[QueueDepth] = field(default_factory=list)
    workers: list[WorkerHealth] = field(default_factory=list)
    scheduler: SchedulerHealth | None = None


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def rq_health(redis, now: datetime | None = None) -> RqHealth:
    """Queue depths (every queue of jobs.queues.ALL), workers and the scheduler; reads only."""
    from rq import Queue, Worker
    from rq.exceptions import SchedulerNotFound
    from rq.scheduler import RQScheduler

    now = now or utcnow()
    try:
        depths = []
        for name in ALL:
            queue = Queue(name, connection=redis)
            depths.append(QueueDepth(
                name, queued=queue.count, started=queue.started_job_registry.get_job_count(cleanup=False),
                failed=queue.failed_job_registry.get_job_count(cleanup=False),
                deferred=queue.deferred_job_registry.get_job_count(cleanup=False),
                scheduled=queue.scheduled_job_registry.get_job_count(cleanup=False)))
        workers = []
        for worker in sorted(Worker.all(connection=redis), key=lambda w: w.name):
            beat = _aware(worker.last_heartbeat)
            workers.append(WorkerHealth(worker.name, worker.get_state(), worker.queue_names(), worker.get_current_job_id(),
                                        (now - beat).total_seconds() if beat else None, int(worker.worker_ttl)))
        locks = {}
        for name in ALL:
            holder = redis.get(RQScheduler.get_locking_key(name))
            if holder:
                locks[name] = _text(holder)
        heartbeat_age = None
        for holder in sorted(set(locks.values())):
            try:
                beat = _aware(RQScheduler.fetch(holder, redis).last_heartbeat)
            except SchedulerNotFound:
                continue
            if beat is not None:
                age = (now - beat).total_seconds()
                heartbeat_age = age if heartbeat_age is None else min(heartbeat_age, age)
    except RedisError as error:
        log.warning("support console: Redis unreachable: %s", error)
        return RqHealth(reachable=False, error=str(error)[:300])
    return RqHealth(True, "", depths, workers, SchedulerHealth(locks, heartbeat_age))


# ------------------------------------------------------------------ connections that need attention
@dataclass(frozen=True)
class ConnectionAlert:
    account: Account
    environment_kind: str
    connection: QboConnection
    reconnect: bool  # True: QuickBooks refuses it now; False: the refresh token expires soon
    detail: str


def connections_needing_attention(session: Session, warning_days: int, now: datetime | None = None) -> list[ConnectionAlert]:
    """Live connections QuickBooks refuses (a refused refresh or 401 set needs_reconnect, or the
    refresh token has expired), then those whose refresh token expires within `warning_days`."""
    now = now or utcnow()
    horizon = now + timedelta(days=warning_days)
    rows = session.execute(
        select(QboConnection, Environment, Account).join(Environment, Environment.id == QboConnection.environment_id)
        .join(Account, Account.id == Environment.account_id)
        .where(QboConnection.disconnected_at.is_(None),
               or_(QboConnection.needs_reconnect.is_(True), QboConnection.refresh_token_expires_at <= horizon))
    ).all()
    alerts = []
    for connection, environment, account in rows:
        expires = _aware(connection.refresh_token_expires_at)
        expired = expires is not None and expires <= now
        if connection.needs_reconnect or expired:
            if connection.needs_reconnect:
                detail = "QuickBooks no longer accepts this connection"
                if connection.last_refresh_error:
                    detail += f" (last failure {connection.last_refresh_failed_at:%d %b %Y, %H:%M UTC}: {connection.last_refresh_error})" \
                        if connection.last_refresh_failed_at else f" ({connection.last_refresh_error})"
            else:
                detail = f"The refresh token expired on {expires:%d %b %Y, %H:%M UTC}"
            alerts.append(ConnectionAlert(account, environment.kind, connection, True, detail + "."))
        elif expires is not None:
            days = max(0, (expires - now).days)
            alerts.append(ConnectionAlert(account, environment.kind, connection, False,
                                          f"The refresh token expires on {expires:%d %b %Y} (in {days} day{'s' if days != 1 else ''}) "
                                          "unless the connection is used or reconnected."))
    alerts.sort(key=lambda a: (not a.reconnect, _aware(a.connection.refresh_token_expires_at) or now, a.account.name))
    return alerts
