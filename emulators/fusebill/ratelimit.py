"""Per-API-key rate limits with fixed minute and day windows (fusebill-api.md §1.6).

`time_scale` shrinks both windows (time_scale=60 makes "a minute" one second) so tests can exhaust
and recover from a limit quickly. Window boundaries are multiples of the (scaled) window length on
the wall clock, so the reset timestamps are real UTC times a client can wait for.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from emulators.fusebill import rules, shapes
from emulators.fusebill.rules import RateLimits


@dataclass(frozen=True)
class Decision:
    allowed: bool
    exceeded: str | None  # "minute" or "day" when refused
    limit: int  # the limit that refused (when refused)
    headers: dict[str, str]


class RateLimiter:
    def __init__(self, time_scale: float = 1.0, clock: Callable[[], float] = time.time) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self._minute = rules.MINUTE_SECONDS / time_scale
        self._day = rules.DAY_SECONDS / time_scale
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, int, int, int]] = {}  # key -> (minute window, count, day window, count)

    def check(self, api_key: str, limits: RateLimits, reset_format: str = "naive") -> Decision:
        """Count one request for `api_key` unless a limit is already reached. `reset_format` ("naive" or
        "offset") is how the X-Rate-Limit-Reset-* timestamps are written (rules.RATE_RESET_FORMATS)."""
        now = self._clock()
        minute_window = int(now // self._minute)
        day_window = int(now // self._day)
        with self._lock:
            m_window, m_count, d_window, d_count = self._counts.get(api_key, (minute_window, 0, day_window, 0))
            if m_window != minute_window:
                m_window, m_count = minute_window, 0
            if d_window != day_window:
                d_window, d_count = day_window, 0
            exceeded = None
            if d_count >= limits.per_day:
                exceeded = "day"
            elif m_count >= limits.per_minute:
                exceeded = "minute"
            else:
                m_count += 1
                d_count += 1
            self._counts[api_key] = (m_window, m_count, d_window, d_count)
        headers = shapes.rate_limit_headers(
            limits.per_minute, limits.per_minute - m_count, _utc((minute_window + 1) * self._minute),
            limits.per_day, limits.per_day - d_count, _utc((day_window + 1) * self._day), reset_format,
        )
        limit = limits.per_day if exceeded == "day" else limits.per_minute
        return Decision(allowed=exceeded is None, exceeded=exceeded, limit=limit, headers=headers)

    def forget(self, api_key: str | None = None) -> None:
        with self._lock:
            if api_key is None:
                self._counts.clear()
            else:
                self._counts.pop(api_key, None)


def _utc(seconds: float) -> datetime:
    """The wall-clock moment, rounded up to a whole second (the wire's resolution) so a client
    that waits until the printed reset time never wakes up inside the old window."""
    return datetime.fromtimestamp(math.ceil(seconds), timezone.utc).replace(tzinfo=None)
