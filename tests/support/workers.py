"""Worker processes for tests that need RQ workers running in the background (chaos, browser tests)."""
from __future__ import annotations

import os
import random
import signal

from redis import Redis

from jobs.queues import ALL


class WorkerPool:
    """Worker processes as `python -m jobs.worker` runs them (jobs.worker.build_worker), each in its own
    process group so that a SIGKILL takes the worker and its work horse, as when a machine is lost."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.children: list[int] = []

    def spawn(self) -> None:
        child = os.fork()
        if child == 0:
            os.setpgrp()
            code = 0
            try:
                from jobs.worker import build_worker, start_schedules

                redis = Redis.from_url(self.redis_url)
                start_schedules(redis)  # as `python -m jobs.worker` does: the minute tick runs the sync watchdog
                build_worker(list(ALL), redis).work(burst=False, with_scheduler=True, logging_level="ERROR")
            except BaseException:  # noqa: BLE001 - Redis restarted under it: the pool starts another
                code = 1
            finally:
                os._exit(code)
        self.children.append(child)

    def reap(self) -> None:
        for child in list(self.children):
            done, _status = os.waitpid(child, os.WNOHANG)
            if done:
                self.children.remove(child)

    def kill_one(self, rng: random.Random) -> None:
        child = rng.choice(self.children)
        try:
            os.killpg(child, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(child, 0)
        self.children.remove(child)

    def keep(self, count: int) -> int:
        self.reap()
        started = 0
        while len(self.children) < count:
            self.spawn()
            started += 1
        return started

    def stop(self) -> None:
        for child in self.children:
            try:
                os.killpg(child, signal.SIGKILL)
                os.waitpid(child, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        self.children.clear()
