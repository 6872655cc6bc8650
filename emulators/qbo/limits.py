"""QBO's throttles as sliding windows (qbo-api §1.8).

Per realm: 500 requests/minute. Per realm + app (the token's client_id): 10 requests/second.
Batch: 40/minute per realm + app and 120/minute per realm. `QboEmulatorConfig.time_scale` shortens
every window (time_scale 60: a "minute" lasts one real second). Windows run on the monotonic clock,
not on the virtual clock, so advancing the virtual clock never resets a throttle. A refused request
is not counted against the windows.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable

from . import rules
from .config import QboEmulatorConfig


class RateLimiter:
    def __init__(self, config: QboEmulatorConfig, monotonic: Callable[[], float] = time.monotonic):
        self._config = config
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._windows: dict[tuple, deque] = {}

    def _limits(self, realm_id: str, client_id: str, is_batch: bool) -> list[tuple[tuple, int, float]]:
        config = self._config
        limits = []
        if not is_batch or rules.BATCH_COUNTS_AGAINST_REQUEST_LIMITS:
            limits.append((("realm", realm_id), config.realm_requests_per_minute, config.window(60)))
            limits.append((("app", realm_id, client_id), config.app_requests_per_second, config.window(1)))
        if is_batch:
            limits.append((("batch-app", realm_id, client_id), config.app_batch_requests_per_minute, config.window(60)))
            limits.append((("batch-realm", realm_id), config.realm_batch_requests_per_minute, config.window(60)))
        return limits

    def admit(self, realm_id: str, client_id: str, is_batch: bool = False) -> bool:
        """Record the request and return True, or return False (throttled) without recording it."""
        now = self._monotonic()
        limits = self._limits(realm_id, client_id, is_batch)
        with self._lock:
            windows = []
            for key, limit, length in limits:
                window = self._windows.setdefault(key, deque())
                while window and window[0] <= now - length:
                    window.popleft()
                if len(window) >= limit:
                    return False
                windows.append(window)
            for window in windows:
                window.append(now)
            return True

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()
