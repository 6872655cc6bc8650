"""`python -m bench.worker REPORT.json`: one RQ worker like `python -m jobs.worker`, that writes what it cost.

The same Worker on the same queues (with the scheduler) as production, without the hourly
maintenance jobs. RQ forks a work horse per job; when the worker is stopped (SIGTERM: a warm
shutdown, the job at hand finishes first) it writes its own and its reaped horses' resource usage:
CPU seconds and peak resident memory (`ru_maxrss` of RUSAGE_CHILDREN is the largest horse's).
"""
from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path


def _usage(who: int) -> dict[str, float]:
    usage = resource.getrusage(who)
    return {"cpu_s": usage.ru_utime + usage.ru_stime, "maxrss_kb": float(usage.ru_maxrss)}


def _vm_hwm_kb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1])
    return 0.0


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    report = Path(args[0])
    from rq import Worker

    from jobs.context import job_context
    from jobs.queues import ALL, redis_connection
    from portal.settings import Settings

    settings = Settings.from_env(dotenv_path=None)
    connection = redis_connection(settings.redis_url)
    job_context()  # built once here, before RQ forks a work horse per job (as jobs.worker does)
    worker = Worker(list(ALL), connection=connection, name=f"bench-{os.getpid()}")
    worker.work(with_scheduler=True, logging_level="WARNING")
    report.write_text(json.dumps({"pid": os.getpid(), "self": _usage(resource.RUSAGE_SELF), "horses": _usage(resource.RUSAGE_CHILDREN),
                                  "self_vm_hwm_kb": _vm_hwm_kb()}))


if __name__ == "__main__":
    main()
