"""Hourly upkeep of QuickBooks connections, run by the worker's scheduler.

Intuit's refresh tokens last 100 days and each refresh renews them, so a connection used rarely
(schedule off) would quietly expire. This job refreshes any live connection whose authorisation ends
within KEEP_ALIVE_DAYS, and audits (once) the ones still within the warning window afterwards, e.g.
because Intuit refused the refresh or the 5-year hard limit is near.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from rq import Queue
from sqlalchemy import select

from jobs.context import job_app
from portal.clients import ExternalError
from portal.models import QboConnection, utcnow
from portal.services import ServiceError

log = logging.getLogger(__name__)

KEEP_ALIVE_DAYS = 30
INTERVAL = timedelta(hours=1)
PENDING_KEY = "fbqbo:maintenance:next-connection-check"


def check_connections(reschedule: bool = True) -> dict[str, int]:
    """Refresh connections nearing expiry; audit expiring ones; returns counts. Safe to run twice."""
    app = job_app()
    counts = {"checked": 0, "refreshed": 0, "failed": 0, "warned": 0}
    with app.app_context():
        from portal.extensions import service_context
        from portal.services.qbo_tokens import valid_tokens, warn_if_expiring

        ctx = service_context()
        if reschedule:
            ctx.redis.delete(PENDING_KEY)  # this run is the pending one
        now = utcnow()
        with ctx.database.session_scope() as session:
            due = [c.id for c in session.scalars(select(QboConnection).where(
                QboConnection.disconnected_at.is_(None), QboConnection.needs_reconnect.is_(False)))
                if c.refresh_token_expires_at is not None and c.refresh_token_expires_at - now <= timedelta(days=KEEP_ALIVE_DAYS)]
            counts["checked"] = session.query(QboConnection).filter(QboConnection.disconnected_at.is_(None)).count()
        for connection_id in due:
            try:
                valid_tokens(ctx, connection_id, force_refresh=True)
                counts["refreshed"] += 1
            except (ServiceError, ExternalError) as error:
                counts["failed"] += 1
                log.warning("keeping connection %s alive failed: %s", connection_id, getattr(error, "message", error))
        with ctx.database.session_scope() as session:
            for connection in session.scalars(select(QboConnection).where(QboConnection.disconnected_at.is_(None))):
                if warn_if_expiring(session, connection, ctx.settings.refresh_token_warning_days):
                    counts["warned"] += 1
        if reschedule:
            schedule_next(Queue("maintenance", connection=ctx.redis))
    log.info("connection check: %s", counts)
    return counts


def schedule_next(queue: Queue) -> bool:
    """Put the next run on the scheduler unless one is already pending; True when scheduled now.

    A Redis key marks the pending run and expires a little after it is due, so a lost run (worker
    killed) is rescheduled by the next worker start instead of never happening again.
    """
    run_at = utcnow() + INTERVAL
    if not queue.connection.set(PENDING_KEY, run_at.isoformat(), nx=True, ex=int(INTERVAL.total_seconds()) + 600):
        return False
    queue.enqueue_at(run_at, check_connections, result_ttl=3600, failure_ttl=7 * 86400)
    return True
