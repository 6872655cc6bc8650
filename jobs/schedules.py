"""Scheduled syncs (off / hourly / daily per environment), run by the worker's RQ scheduler.

Every CHECK_EVERY this job looks at each enabled account's active environment whose schedule is on
and starts a sync when the last scheduled-or-manual run started (or was queued) longer ago than the interval, through
the very path of Sync now (`portal.services.sync.start_sync`, trigger "schedule"): it returns the
run already queued or running instead of a second one, and the set-up guard's refusal is logged,
recording nothing. The same tick runs the sync watchdog (jobs.sync.watchdog). Webhook runs (a few customers each, no cursor moved) do not count as a run here,
or a busy webhook stream would postpone the account-wide read forever.

It reschedules itself like jobs.maintenance: a Redis key marks the pending check and expires a
little after it is due, so a check lost with a killed worker is put back by the next worker start.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from rq import Queue
from sqlalchemy import func, select

from jobs.queues import MAINTENANCE
from portal.models import Account, Environment, SyncRun, utcnow
from portal.models.integration import SCHEDULE_DAILY, SCHEDULE_HOURLY

log = logging.getLogger(__name__)

CHECK_EVERY = timedelta(minutes=1)
INTERVALS = {SCHEDULE_HOURLY: timedelta(hours=1), SCHEDULE_DAILY: timedelta(days=1)}
PENDING_KEY = "fbqbo:schedules:next-check"
NOT_COUNTED = ("webhook", "retry")  # triggers that do not reset a schedule's clock


def due_accounts(session, now=None) -> list[int]:
    """Ids of enabled accounts, their syncs not paused by support, whose active environment's
    schedule is due at `now`."""
    now = now or utcnow()
    due = []
    rows = session.execute(select(Account, Environment).join(Environment, Environment.account_id == Account.id).where(
        Account.integration_enabled.is_(True), Account.syncs_paused_at.is_(None), Environment.kind == Account.active_environment,
        Environment.schedule.in_(tuple(INTERVALS)))).all()
    for account, environment in rows:
        last = session.scalar(select(func.max(SyncRun.started_at)).where(
            SyncRun.environment_id == environment.id, SyncRun.trigger.not_in(NOT_COUNTED)))
        if last is not None and last.tzinfo is None:
            from datetime import timezone

            last = last.replace(tzinfo=timezone.utc)
        if last is None or now - last >= INTERVALS[environment.schedule]:
            due.append(account.id)
    return due


def run_schedules(reschedule: bool = True) -> dict[str, int]:
    """Start every due scheduled sync; returns counts. Safe to run twice (start_sync never starts a
    second run while one is queued or running)."""
    from jobs.context import job_context
    from portal.services import ServiceError
    from portal.services.sync import start_sync

    ctx = job_context()
    if reschedule:
        ctx.redis.delete(PENDING_KEY)  # this check is the pending one
    counts = {"due": 0, "started": 0, "already_running": 0, "refused": 0}
    with ctx.database.session_scope() as session:
        due = due_accounts(session)
    counts["due"] = len(due)
    for account_id in due:
        with ctx.database.session_scope() as session:
            account = session.get(Account, account_id)
            try:
                from jobs.sync.runs import active_run
                from portal.services.environments import active_environment

                busy = active_run(session, active_environment(session, account).id) is not None
                run = start_sync(session, ctx, account, trigger="schedule")
            except ServiceError as error:
                session.rollback()
                counts["refused"] += 1
                log.info("scheduled sync of account %s not started: %s", account_id, error.message)
                continue
            counts["already_running" if busy else "started"] += 1
            log.info("scheduled sync of account %s: run %s%s", account_id, run.id, " (already running)" if busy else "")
    try:  # the watchdog rides on this minute tick too: lost chunk jobs are put back (jobs.sync.watchdog)
        from jobs.sync.watchdog import recover_lost_work

        recover_lost_work(ctx)
    except Exception:  # noqa: BLE001 - a watchdog problem must not stop the schedules
        log.exception("the sync watchdog failed")
    try:  # the notification check rides on this minute tick (token expiry, reconnect, retries of failed sends)
        from jobs.notify import request_check

        request_check(ctx.redis)
    except Exception as error:  # noqa: BLE001 - a notification problem must not stop the schedules
        log.warning("could not request the notification check: %s", type(error).__name__)
    if reschedule:
        schedule_next(Queue(MAINTENANCE, connection=ctx.redis))
    log.info("schedule check: %s", counts)
    return counts


def schedule_next(queue: Queue) -> bool:
    """Put the next check on the scheduler unless one is already pending; True when scheduled now."""
    run_at = utcnow() + CHECK_EVERY
    if not queue.connection.set(PENDING_KEY, run_at.isoformat(), nx=True, ex=int(CHECK_EVERY.total_seconds()) + 600):
        return False
    queue.enqueue_at(run_at, run_schedules, result_ttl=600, failure_ttl=7 * 86400)
    return True
