"""A sliding-window rate limiter shared by every process through Redis.

QBO allows 10 requests per second and 500 per minute per company (realm) and app, and 40 batch
requests per minute (qbo-api.md §1.8). Staying under the limits is cheaper than meeting the 429s:
before each call, `acquire` waits until every window for that company has room, measured with
Redis's own clock so that all workers agree.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from portal.clients import RetryableError, Throttled

# Checks every window, and only when all have room records the call in all of them (atomic).
# Returns 0 when recorded, else the seconds to wait before the oldest call leaves the fullest window.
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local wait = 0
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[2 * i - 1])
  local limit = tonumber(ARGV[2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local until_free = tonumber(oldest[2]) + window - now
    if until_free > wait then wait = until_free end
  end
end
if wait > 0 then return tostring(wait) end
local member = ARGV[#ARGV]
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, math.ceil(tonumber(ARGV[2 * i - 1]) * 1000) + 1000)
end
return '0'
"""


@dataclass(frozen=True)
class Window:
    seconds: float
    limit: int


# A little under QBO's published limits, to absorb the moment between our count and QBO's.
QBO_REQUEST_WINDOWS = (Window(1.0, 9), Window(60.0, 480))
QBO_BATCH_WINDOWS = (Window(60.0, 38),)
SERVICE_NAMES = {"qbo": "QuickBooks Online", "qbo-batch": "QuickBooks Online batch", "fusebill": "Fusebill"}


class RateLimiter:
    def __init__(self, redis: Any, prefix: str = "fbqbo:rate", sleep: Callable[[float], None] = time.sleep, max_wait: float = 60.0,
                 time_scale: float = 1.0) -> None:
        """`time_scale` > 1 shortens every window (benchmarks and tests against an emulator whose
        own limits run that much faster); production keeps 1."""
        self._time_scale = time_scale if time_scale > 0 else 1.0
        self._redis = redis
        self._max_wait = max_wait
        self._prefix = prefix
        self._script = redis.register_script(_SCRIPT)
        self._sleep = sleep

    @property
    def time_scale(self) -> float:
        return self._time_scale

    def acquire(self, name: str, windows: tuple[Window, ...], max_wait: float | None = None) -> float:
        """Block until a call is allowed under every window; returns the seconds waited."""
        max_wait = self._max_wait if max_wait is None else max_wait
        keys = [f"{self._prefix}:{name}:{window.seconds:g}s" for window in windows]
        args: list[Any] = []
        for window in windows:
            args += [window.seconds / self._time_scale, window.limit]
        args.append(uuid.uuid4().hex)
        waited = 0.0
        while True:
            try:
                wait = float(self._script(keys=keys, args=args))
            except RedisError as error:
                raise RetryableError("The rate limiter (Redis) is unavailable; try again shortly.", detail=str(error)[:200]) from error
            if wait <= 0:
                return waited
            if waited + wait > max_wait:
                service = SERVICE_NAMES.get(name.split(":")[0], name.split(":")[0])
                raise Throttled(f"The {service} rate limit for this company is used up for now; try again in {int(wait) + 1} seconds.",
                               retry_after=wait, limit=name.split(":")[0])
            self._sleep(wait + 0.01)
            waited += wait + 0.01
