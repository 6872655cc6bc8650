"""Queue names and how to reach them."""
from __future__ import annotations

from redis import Redis
from rq import Queue

DEFAULT = "default"
SYNC = "sync"  # runs and small change sets: a single change is never queued behind a backfill
BACKFILL = "sync-backfill"  # the chunks of large runs (first syncs)
MAINTENANCE = "maintenance"
ALL = (SYNC, BACKFILL, DEFAULT, MAINTENANCE)  # in priority order for the worker


def redis_connection(url: str) -> Redis:
    return Redis.from_url(url, socket_timeout=30, socket_connect_timeout=5)


def queue(connection: Redis, name: str = DEFAULT) -> Queue:
    return Queue(name, connection=connection)
