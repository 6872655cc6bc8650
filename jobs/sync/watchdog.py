"""The watchdog: a run whose RQ work was lost is put back on its feet, never left "running".

RQ retries a job whose worker died (its started-registry entry lapses), but a job can still be lost:
its retries spent by repeated kills, a Redis restart that drops the last writes, a job hash left
"queued" in no queue (seen once in a fresh-clone chaos run). A run missing one chunk would stay
"running" for ever and block every later run of the environment.

Every minute (on the schedule tick) each queued or running run older than GRACE is compared with the
RQ jobs that can still run (queued, just dequeued, working, scheduled, deferred; a job of a dead
worker counts too, for RQ's clean-up retries it, and a chunk must never run twice at once):

- no planning job and no chunks planned: the planning job is enqueued again (`sync_account` on a
  running run plans again; nothing is written twice);
- a chunk neither done nor held by a live job, on two ticks at least SUSPECT_AFTER apart, is
  enqueued again from the chunk list kept beside the run (chunks are idempotent: links, payload
  hashes, request ids);
- a chunk put back MAX_RECOVERIES times fails visibly: its customers are recorded as failed with
  the reason (they can be retried) and the run ends;
- a chunk whose list is gone too (Redis lost its data): the run ends failed with the reason; the
  next run reads from the last good run's cursor, so those customers are not skipped.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from portal.models import SyncRun, utcnow
from portal.models.integration import RUN_QUEUED, RUN_RUNNING

log = logging.getLogger(__name__)

GRACE = timedelta(minutes=2)  # a run this young may not have its jobs enqueued yet
SUSPECT_AFTER = timedelta(seconds=45)  # a chunk must be seen missing this long before it is put back
SUSPECT_TTL = 300  # seconds: an older sighting is forgotten (the chunk turned up, or the run ended)
MAX_RECOVERIES = 3
TOTALS_KEY = "fbqbo:watchdog:totals"
LOST = ("Part of this run's queued work was lost (Redis lost its data). Nothing was synced twice; "
        "the customers it held are read again by the next sync.")


def _suspect_key(run_id: int, what: str) -> str:
    return f"fbqbo:watchdog:{run_id}:{what}:seen"


def _recoveries_key(run_id: int, what: str) -> str:
    return f"fbqbo:watchdog:{run_id}:{what}:recoveries"


def _confirmed(redis, run_id: int, what: str, now: datetime) -> bool:
    """True when `what` was already seen missing at least SUSPECT_AFTER ago; notes the first sighting."""
    key = _suspect_key(run_id, what)
    if redis.set(key, now.timestamp(), nx=True, ex=SUSPECT_TTL):
        return False
    first = datetime.fromtimestamp(float(redis.get(key) or now.timestamp()), tz=timezone.utc)
    return now - first >= SUSPECT_AFTER


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def recover_lost_work(ctx, now: datetime | None = None) -> dict[str, int]:
    """Put back the lost work of every queued or running run; returns what was done, by kind."""
    from jobs.sync import jobs as sync_jobs
    from jobs.sync import runs as run_store
    from portal.services.support_console import live_sync_jobs

    now = now or utcnow()
    counts = {"runs_checked": 0, "plans_requeued": 0, "chunks_requeued": 0, "chunks_failed": 0, "runs_failed": 0}
    with ctx.database.session_scope() as session:
        active = [(run.id, int((run.counts or {}).get("chunks", 0) or 0)) for run in session.scalars(
            select(SyncRun).where(SyncRun.status.in_((RUN_QUEUED, RUN_RUNNING)), SyncRun.started_at < now - GRACE))]
    if not active:
        return counts
    live = live_sync_jobs(ctx.redis, abandoned=True)  # RQ's own clean-up retries those: never run a chunk twice at once
    redis = ctx.redis
    for run_id, total in active:
        counts["runs_checked"] += 1
        jobs = live.get(run_id, [])
        if any(job.function.endswith("sync_account") for job in jobs):
            continue  # planning (or about to): its chunks are not all enqueued yet
        if total == 0:
            if not jobs and _confirmed(redis, run_id, "plan", now):
                log.warning("watchdog: run %s has no planning job left; enqueued again", run_id)
                redis.delete(_suspect_key(run_id, "plan"))
                sync_jobs.enqueue_run(ctx, run_id)
                counts["plans_requeued"] += 1
            continue
        done = {int(n) for n in redis.smembers(sync_jobs._done_key(run_id))}
        held = {job.chunk for job in jobs if job.chunk is not None}
        missing = sorted(set(range(total)) - done - held)
        if not missing:
            continue
        lists = {_text(k): _text(v) for k, v in redis.hgetall(sync_jobs._chunks_key(run_id)).items()}
        queue_name = lists.pop("queue", "")
        for number in missing:
            what = f"chunk-{number}"
            if not _confirmed(redis, run_id, what, now):
                continue
            redis.delete(_suspect_key(run_id, what))
            raw = lists.get(str(number))
            if raw is None:
                log.error("watchdog: run %s chunk %s lost with its customer list; the run ends", run_id, number)
                with ctx.database.session_scope() as session:
                    run_store.finish(session, run_id, LOST)
                counts["runs_failed"] += 1
                break
            customer_ids = json.loads(raw)
            recoveries = redis.incr(_recoveries_key(run_id, what))
            redis.expire(_recoveries_key(run_id, what), sync_jobs.DATA_TTL)
            if recoveries > MAX_RECOVERIES:
                log.error("watchdog: run %s chunk %s lost %s times; its customers fail", run_id, number, recoveries)
                sync_jobs._give_up(ctx, run_id, customer_ids, f"the worker syncing these customers stopped {recoveries} times "
                                   "(killed or out of memory) before finishing", number)
                counts["chunks_failed"] += 1
                continue
            log.warning("watchdog: run %s chunk %s has no job left; enqueued again (%s)", run_id, number, recoveries)
            sync_jobs.enqueue_chunk(sync_jobs._queue(ctx, queue_name or sync_jobs.BACKFILL), run_id, customer_ids, number)
            counts["chunks_requeued"] += 1
    acted = {k: v for k, v in counts.items() if k != "runs_checked" and v}
    if acted:
        log.warning("watchdog: %s", counts)
        pipe = redis.pipeline()
        for kind, n in acted.items():
            pipe.hincrby(TOTALS_KEY, kind, n)  # what it has done since Redis started (the chaos summary prints it)
        pipe.execute()
    return counts
