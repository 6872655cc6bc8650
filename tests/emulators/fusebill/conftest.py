"""Fixtures for the Fusebill emulator tests: a running emulator, seeded accounts, a webhook receiver."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

import pytest
from werkzeug.wrappers import Request, Response

from emulators.common.server import BackgroundServer
from emulators.fusebill.testing import RunningFusebill, running_emulator
from emulators.sampledata import Dataset, generate

SEEDED_CUSTOMERS = 60
SEEDED_SEED = 11


@pytest.fixture(scope="module")
def fusebill() -> Iterator[RunningFusebill]:
    with running_emulator() as running:
        yield running


@pytest.fixture
def live_key(fusebill: RunningFusebill) -> str:
    """A fresh, empty live account (1,000 requests a minute) for one test."""
    return fusebill.create_account("live")


@dataclass
class Seeded:
    key: str
    dataset: Dataset

    def active_customer_ids(self) -> list[int]:
        return [b.customer.id for b in self.dataset.customers if b.customer.status == "Active"]


@pytest.fixture(scope="module")
def seeded(fusebill: RunningFusebill) -> Seeded:
    """A live account seeded with 60 customers (seed 11), shared by a module's read-only tests."""
    key = fusebill.create_account("live", name="seeded")
    fusebill.seed(key, SEEDED_CUSTOMERS, SEEDED_SEED)
    return Seeded(key, generate(SEEDED_CUSTOMERS, SEEDED_SEED))


@dataclass
class WebhookReceiver:
    """A tiny HTTP server that records webhook POSTs and answers `statuses` in turn (then 200)."""

    statuses: list[int] = field(default_factory=list)
    delay_seconds: float = 0.0
    received: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def __call__(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        with self.lock:
            self.received.append({"at": time.monotonic(), "headers": dict(request.headers), "body": request.get_data(as_text=True)})
            status = self.statuses.pop(0) if self.statuses else 200
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        return Response("ok", status=status)(environ, start_response)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.01)
        with self.lock:
            return list(self.received)


    def clear(self) -> None:
        with self.lock:
            self.statuses, self.delay_seconds, self.received = [], 0.0, []


@pytest.fixture(scope="module")
def _receiver_server() -> Iterator[WebhookReceiver]:
    target = WebhookReceiver()
    with BackgroundServer(target) as server:
        target.url = server.url + "/hooks/fusebill"
        yield target


@pytest.fixture
def receiver(_receiver_server: WebhookReceiver) -> WebhookReceiver:
    """A webhook receiver with nothing received yet (one server per module, cleared per test)."""
    _receiver_server.clear()
    return _receiver_server
