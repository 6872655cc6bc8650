"""`python -m jobs.worker`: one RQ worker (with the scheduler) on every queue, configured from Settings."""
from __future__ import annotations

import argparse
import logging

from rq import Worker

from jobs.queues import ALL, redis_connection

# A worker that dies (machine lost, OOM kill) leaves its job in RQ's started registry until the job's
# heartbeat lapses (RQ adds 60 s to the monitoring interval) and a live worker's maintenance requeues
# it; its scheduler (which moves deferred chunks, e.g. throttled ones, back to their queue) dies with
# it and another worker takes the scheduler over in its maintenance. An idle worker runs maintenance
# only between blocking waits of WORKER_TTL - 15 s. RQ's defaults (30 s heartbeats, 420 s TTL,
# maintenance every 10 minutes) leave a dead worker's chunk and deferred work unattended for up to 11
# minutes (seen in the chaos test); these bring it to about 1.5 minutes.
JOB_MONITORING_SECONDS = 10
MAINTENANCE_SECONDS = 30
WORKER_TTL_SECONDS = 45


def build_worker(queues: list[str], connection) -> Worker:
    """The worker `python -m jobs.worker` runs (also what the chaos tests fork)."""
    return Worker(queues, connection=connection, job_monitoring_interval=JOB_MONITORING_SECONDS, maintenance_interval=MAINTENANCE_SECONDS,
                  worker_ttl=WORKER_TTL_SECONDS)


def start_schedules(connection) -> None:
    """Put the self-rescheduling jobs back unless they are pending: the daily maintenance, and the
    minute tick (scheduled syncs, the sync watchdog, the notification check)."""
    from rq import Queue

    from jobs import maintenance, schedules
    from jobs.queues import MAINTENANCE

    maintenance.schedule_next(Queue(MAINTENANCE, connection=connection))
    schedules.schedule_next(Queue(MAINTENANCE, connection=connection))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run an RQ worker for the Fusebill → QBO sync.")
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument("--queues", nargs="*", default=list(ALL))
    args = parser.parse_args(argv)

    from portal.settings import Settings

    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from portal.logsafe import quiet_secret_loggers

    quiet_secret_loggers()
    connection = redis_connection(settings.redis_url)
    from jobs.context import job_context

    job_context()  # built once here, before RQ forks a work horse per job
    if not args.burst:
        start_schedules(connection)
    worker = build_worker(args.queues, connection)
    worker.work(with_scheduler=True, burst=args.burst, logging_level=settings.log_level)


if __name__ == "__main__":
    main()
