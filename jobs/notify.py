"""The notification jobs: record what happened, then send it (portal/services/notifications.py).

- `run_ended(session, run)` is called by `jobs.sync.runs.finish` inside the transaction that ends the
  run: the notification is recorded atomically with the run's final status, and once that commits a
  check is requested so the mail goes out within seconds. Nothing in it can fail the sync.
- `check_notifications()` is the periodic check (requested every minute by `jobs.schedules`, and
  after a run ends): it records reconnect-needed and token-expiry causes, then sends everything due,
  including failed sends whose retry wait is over.

A Redis key marks a requested check, so a burst of run endings or schedule ticks queues one check,
not one each; the key expires, so a check lost with a killed worker is requested again later.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from rq import Queue

from jobs.queues import MAINTENANCE

log = logging.getLogger(__name__)

PENDING_KEY = "fbqbo:notify:check-requested"
PENDING_TTL_SECONDS = 600


def request_check(redis) -> bool:
    """Queue one notification check unless one is already waiting; True when queued now."""
    if not redis.set(PENDING_KEY, "1", nx=True, ex=PENDING_TTL_SECONDS):
        return False
    Queue(MAINTENANCE, connection=redis).enqueue(check_notifications, result_ttl=600, failure_ttl=7 * 86400, job_timeout=900)
    return True


def check_notifications(now: datetime | None = None) -> dict[str, Any]:
    """Record connection causes, then send what is due; returns counts. Safe to run twice at once."""
    from jobs.context import job_context
    from portal.services import notifications

    ctx = job_context()
    ctx.redis.delete(PENDING_KEY)  # this check is the requested one; a later request queues the next
    with ctx.database.session_scope() as session:
        recorded = notifications.check_connections(session, ctx.settings, now)
    counts: dict[str, Any] = {"recorded": recorded, **notifications.deliver_due(ctx.database, ctx.settings, now)}
    if any(counts.values()):
        log.info("notification check: %s", counts)
    return counts


def run_ended(session, run) -> None:
    """Record the notification of a run that ended failed or partial, in the run's transaction.

    In a savepoint, so a problem here rolls back only the notification, never the run's end; the
    periodic check cannot re-create a lost run notification, so a failure is logged loudly.
    """
    from jobs.context import job_context
    from portal.services.notifications import record_run_ended

    try:
        ctx = job_context()
        with session.begin_nested():
            recorded = record_run_ended(session, ctx.settings, run)
    except Exception:  # never let a notification stop a run from ending
        log.exception("could not record the notification of sync run %s", run.id)
        return
    if recorded:
        _request_after_commit(session, ctx.redis)


def _request_after_commit(session, redis) -> None:
    from sqlalchemy import event

    def after_commit(_session) -> None:
        try:
            request_check(redis)
        except Exception as error:  # Redis down: the next periodic check sends it
            log.warning("could not queue the notification check (%s); the next periodic check sends it", type(error).__name__)

    event.listen(session, "after_commit", after_commit, once=True)
