"""`python -m jobs.worker`: one RQ worker (with the scheduler) on every queue, configured from Settings."""
from __future__ import annotations

import argparse
import logging

from rq import Worker

from jobs.queues import ALL, redis_connection


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run an RQ worker for the Fusebill → QBO sync.")
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument("--queues", nargs="*", default=list(ALL))
    args = parser.parse_args(argv)

    from portal.settings import Settings

    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    connection = redis_connection(settings.redis_url)
    from jobs.context import job_context

    job_context()  # built once here, before RQ forks a work horse per job
    if not args.burst:
        from rq import Queue

        from jobs import schedules
        from jobs.maintenance import schedule_next

        schedule_next(Queue("maintenance", connection=connection))
        schedules.schedule_next(Queue("maintenance", connection=connection))
    worker = Worker(args.queues, connection=connection)
    worker.work(with_scheduler=True, burst=args.burst, logging_level=settings.log_level)


if __name__ == "__main__":
    main()
