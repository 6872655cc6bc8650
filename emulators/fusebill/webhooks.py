"""Webhook delivery from a background thread, with Fusebill's timeout and retry schedule.

Each event is POSTed as JSON to every matching registered URL with the registration key,
base64-encoded, in the `shapes.WEBHOOK_KEY_HEADER` header. An attempt fails on a non-2xx answer, a
timeout (`rules.WEBHOOK_TIMEOUT_SECONDS`) or a connection error; a failed delivery is retried at
the offsets in `rules.WEBHOOK_RETRY_OFFSETS_SECONDS` after the first failure, divided by
`time_scale`, and then given up (fusebill-api.md §4).

Every attempt is recorded and visible through `/_emulator/webhooks`. Deliveries still pending when
the emulator stops are dropped (they live in memory only).
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import requests

from emulators.fusebill import jsonwire, rules, shapes
from emulators.sampledata.money import format_timestamp, utc_now

log = logging.getLogger(__name__)

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


@dataclass
class Delivery:
    id: int
    api_key: str
    webhook_id: int
    url: str
    key: str
    event_type: str
    body: str
    state: str = PENDING
    attempts: list[dict[str, Any]] = field(default_factory=list)
    first_failure: float | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "webhook_id": self.webhook_id,
            "url": self.url,
            "event_type": self.event_type,
            "state": self.state,
            "attempts": list(self.attempts),
            "body": jsonwire.loads(self.body),
        }


class WebhookDispatcher:
    """Queue of deliveries worked by one daemon thread (started on the first delivery)."""

    def __init__(self, time_scale: float = 1.0, timeout: float = rules.WEBHOOK_TIMEOUT_SECONDS) -> None:
        self._time_scale = time_scale
        self._timeout = timeout
        self._queue: list[tuple[float, int, Delivery]] = []
        self._log: dict[str, deque[Delivery]] = {}
        self._ids = itertools.count(1)
        self._order = itertools.count()
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._session = requests.Session()

    def enqueue(self, api_key: str, webhook_id: int, url: str, key: str, event_type: str, payload: dict[str, Any]) -> Delivery:
        delivery = Delivery(
            id=next(self._ids), api_key=api_key, webhook_id=webhook_id, url=url, key=key,
            event_type=event_type, body=jsonwire.dumps(payload),
        )
        with self._condition:
            if self._closed:
                raise RuntimeError("the webhook dispatcher is closed")
            self._log.setdefault(api_key, deque(maxlen=rules.WEBHOOK_DELIVERY_LOG_SIZE)).append(delivery)
            heapq.heappush(self._queue, (time.monotonic(), next(self._order), delivery))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="fusebill-webhooks", daemon=True)
                self._thread.start()
            self._condition.notify()
        return delivery

    def deliveries(self, api_key: str) -> list[Delivery]:
        with self._condition:
            return list(self._log.get(api_key, ()))

    def forget(self, api_key: str | None = None) -> None:
        """Drop the delivery log and pending deliveries (of one account, or all)."""
        with self._condition:
            if api_key is None:
                self._log.clear()
                self._queue.clear()
            else:
                self._log.pop(api_key, None)
                self._queue = [entry for entry in self._queue if entry[2].api_key != api_key]
                heapq.heapify(self._queue)

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is pending (True) or `timeout` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while any(d.state == PENDING for log in self._log.values() for d in log):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(min(remaining, 0.05))
            return True

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self._timeout + 5)
        self._session.close()

    # --- worker ---

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._closed and (not self._queue or self._queue[0][0] > time.monotonic()):
                    wait = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._condition.wait(wait)
                if self._closed:
                    return
                _, _, delivery = heapq.heappop(self._queue)
            self._attempt(delivery)

    def _attempt(self, delivery: Delivery) -> None:
        started = utc_now()
        status: int | None = None
        error: str | None = None
        try:
            response = self._session.post(
                delivery.url,
                data=delivery.body.encode("utf-8"),
                headers={
                    "Content-Type": "application/json",
                    shapes.WEBHOOK_KEY_HEADER: shapes.webhook_key_header_value(delivery.key),
                },
                timeout=self._timeout,
            )
            status = response.status_code
            response.close()
        # Any failure to deliver — timeout, refused connection, a test's network guard — is a failed
        # attempt to record and retry; it must never end the delivery thread.
        except Exception as exc:  # noqa: BLE001
            error = f"{type(exc).__name__}: {exc}"
            log.info("webhook delivery %s to %s failed: %s", delivery.id, delivery.url, error)
        now = time.monotonic()
        with self._condition:
            delivery.attempts.append({"at": format_timestamp(started), "status": status, "error": error})
            if status is not None and 200 <= status < 300:
                delivery.state = DELIVERED
            else:
                if delivery.first_failure is None:
                    delivery.first_failure = now
                retries_done = len(delivery.attempts) - 1
                offsets = rules.WEBHOOK_RETRY_OFFSETS_SECONDS
                if retries_done < len(offsets) and not self._closed:
                    due = delivery.first_failure + offsets[retries_done] / self._time_scale
                    heapq.heappush(self._queue, (due, next(self._order), delivery))
                else:
                    delivery.state = FAILED
            self._condition.notify_all()
