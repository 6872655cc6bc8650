"""*Find matches* (the Customers page): read every Fusebill customer and every QBO customer of the
environment's company, and store each Fusebill customer's likely QBO match
(portal/services/matching.py has the rules and the storing).

Reads only documented ground: Fusebill's account-wide `/customers` list at 1,000 a page (the same
read as a sync's first run, through the same per-environment limiter), and QBO's paged
`SELECT * FROM Customer … STARTPOSITION n MAXRESULTS 1000` through the per-company limiter. The job
takes the scan id, is safe to run twice (the scan's result replaces the previous one), and ends the
scan as succeeded or failed with the reason — never left "running" by an error.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from rq import Queue

from jobs.context import job_context
from jobs.queues import DEFAULT
from portal.clients import ExternalError, RetryableError, Throttled
from portal.models import Environment, QboConnection, utcnow
from portal.models.matching import SCAN_ACTIVE, SCAN_FAILED, SCAN_RUNNING, SCAN_SUCCEEDED, MatchScan
from portal.services import ServiceError

log = logging.getLogger(__name__)

PAGE = 1000
MAX_TRANSIENT_RETRIES = 3


def enqueue_scan(ctx, scan_id: int, delay: float | None = None) -> None:
    queue = Queue(DEFAULT, connection=ctx.redis)
    options: dict[str, Any] = {"job_timeout": 1800, "result_ttl": 86400, "failure_ttl": 7 * 86400}
    if delay is None:
        queue.enqueue(find_matches, scan_id, job_id=f"match-scan-{scan_id}", **options)
    else:
        queue.enqueue_in(timedelta(seconds=delay), find_matches, scan_id, **options)


def _finish(ctx, scan_id: int, error: str | None = None) -> None:
    with ctx.database.session_scope() as session:
        scan = session.get(MatchScan, scan_id)
        scan.status = SCAN_FAILED if error else SCAN_SUCCEEDED
        scan.error = error
        scan.finished_at = utcnow()


def find_matches(scan_id: int) -> dict[str, Any]:
    from jobs.sync.jobs import _fusebill  # the sync's Fusebill client: same limiter, same deferral on a 429
    from portal.services.matching import record_scan
    from portal.services.qbo_tokens import qbo_session

    ctx = job_context()
    with ctx.database.session_scope() as session:
        scan = session.get(MatchScan, scan_id)
        if scan is None or scan.status not in SCAN_ACTIVE:
            return {"status": "nothing to do"}
        connection = session.get(QboConnection, scan.connection_id) if scan.connection_id else None
        if connection is None or not connection.is_live or connection.realm_id != scan.realm_id:
            error = "The QuickBooks connection was disconnected after Find matches was pressed. Connect again, then find matches again."
        else:
            error = None
            scan.status = SCAN_RUNNING
            environment = session.get(Environment, scan.environment_id)
            try:
                client = _fusebill(ctx, environment)
            except ServiceError as refused:
                error = refused.message
            connection_id = connection.id
    if error:
        _finish(ctx, scan_id, error)
        return {"status": "failed", "error": error}
    try:
        fusebill = list(client.iter_list("customers", {}, PAGE))
        api = qbo_session(ctx, connection_id, background=True)
        qbo_rows = list(api.query_all("Customer"))
    except (ExternalError, ServiceError) as failure:
        message = failure.message
        if isinstance(failure, Throttled):
            enqueue_scan(ctx, scan_id, delay=max(1.0, min(float(failure.retry_after), 600.0)))
            return {"status": "deferred", "reason": message}
        if isinstance(failure, RetryableError):
            attempt = ctx.redis.incr(f"fbqbo:match-scan-retries:{scan_id}")
            ctx.redis.expire(f"fbqbo:match-scan-retries:{scan_id}", 86400)
            if attempt <= MAX_TRANSIENT_RETRIES:
                enqueue_scan(ctx, scan_id, delay=min(5.0 * 2 ** attempt, 120.0))
                return {"status": "deferred", "reason": message}
        _finish(ctx, scan_id, f"Matches could not be found: {message}")
        return {"status": "failed", "error": message}
    except Exception as failure:  # a bug: the scan says so instead of staying "running"
        log.exception("match scan %s failed", scan_id)
        _finish(ctx, scan_id, f"Matches could not be found: unexpected error {type(failure).__name__}.")
        return {"status": "failed", "error": type(failure).__name__}
    with ctx.database.session_scope() as session:
        scan = session.get(MatchScan, scan_id)
        record_scan(session, scan, fusebill, qbo_rows)
        scan.status = SCAN_SUCCEEDED
        scan.error = None
        scan.finished_at = utcnow()
    return {"status": "succeeded", "fusebill_customers": len(fusebill), "qbo_customers": len(qbo_rows)}
