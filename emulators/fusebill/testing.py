"""Start the Fusebill emulator in-process and drive it, for anyone's tests.

    from emulators.fusebill.testing import running_emulator

    with running_emulator() as fusebill:
        key = fusebill.create_account("live")
        fusebill.seed(key, customers=50, seed=1)
        customers = fusebill.get(key, "/customers", pageSize=100).json()
        fusebill.records(key, {"op": "update_customer", "customer_id": customers[0]["id"],
                               "set": {"companyName": "Renamed Ltd"}})

Everything goes through HTTP (the control API for set-up), so what a test sees is what a client sees.
The same seed and options given to `emulators.sampledata.generate` give the very records the
emulator serves, which is how a test gets the oracle: `expected_books(generate(50, 1))`.
"""
from __future__ import annotations

from contextlib import contextmanager
from decimal import Decimal
from dataclasses import dataclass, field
from typing import Any, Iterator

import requests

from emulators.common.server import BackgroundServer
from emulators.fusebill.app import EXTENSION_KEY, EmulatorState, create_app
from emulators.fusebill.config import FusebillEmulatorConfig
from emulators.fusebill.jsonwire import dumps, loads


class ControlCallFailed(RuntimeError):
    """The emulator refused a control call (the message carries its answer)."""


@dataclass
class RunningFusebill:
    """A running emulator: `.url` is the API base (…/v1), `.control_url` the /_emulator base."""

    base_url: str
    state: EmulatorState
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def url(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def control_url(self) -> str:
        return f"{self.base_url}/_emulator"

    # --- control API ---

    def _control(self, method: str, path: str, body: dict[str, Any] | None = None, params: dict[str, Any] | None = None) -> Any:
        """Call the control API (bodies may hold Decimal amounts); raise on anything but 200/201."""
        response = self.session.request(
            method, f"{self.control_url}{path}", params=params, timeout=120,
            data=dumps(body).encode("utf-8") if body is not None else None,
            headers={"Content-Type": "application/json"},
        )
        if response.status_code not in (200, 201):
            raise ControlCallFailed(f"{method} {path} -> {response.status_code}: {response.text}")
        return loads(response.content)

    def create_account(self, account_type: str = "sandbox", name: str | None = None, api_key: str | None = None,
                       rate_limits: dict[str, int] | None = None) -> str:
        """Create a Fusebill account and return its API key."""
        body: dict[str, Any] = {"account_type": account_type}
        if name:
            body["name"] = name
        if api_key:
            body["api_key"] = api_key
        if rate_limits:
            body["rate_limits"] = rate_limits
        return self._control("POST", "/accounts", body)["api_key"]

    def seed(self, api_key: str, customers: int, seed: int, **options: Any) -> dict[str, Any]:
        """Load `generate(customers, seed, **options)` into the account; returns the summary."""
        return self._control("POST", "/seed", {"api_key": api_key, "customers": customers, "seed": seed, **options})

    def records(self, api_key: str, *commands: dict[str, Any], at: str | None = None) -> dict[str, Any]:
        """Run record commands (see emulators.fusebill.commands); raises ControlCallFailed on 400."""
        body: dict[str, Any] = {"api_key": api_key, "commands": list(commands)}
        if at:
            body["at"] = at
        return self._control("POST", "/records", body)

    def register_webhook(self, api_key: str, url: str, key: str, events: list[str] | None = None) -> int:
        body: dict[str, Any] = {"api_key": api_key, "url": url, "key": key}
        if events is not None:
            body["events"] = events
        return self._control("POST", "/webhooks", body)["id"]

    def webhook_log(self, api_key: str) -> dict[str, Any]:
        return self._control("GET", "/webhooks", params={"api_key": api_key})

    def request_counts(self, api_key: str) -> dict[str, Any]:
        return self._control("GET", "/requests", params={"api_key": api_key})

    def set_faults(self, error_rate: float = 0.0, latency_ms: int = 0, status: int = 503,
                   api_key: str | None = None, seed: int = 0) -> dict[str, Any]:
        body = {"error_rate": Decimal(str(error_rate)), "latency_ms": latency_ms, "status": status, "api_key": api_key, "seed": seed}
        return self._control("POST", "/faults", body)

    def settings(self, **changes: Any) -> dict[str, Any]:
        """Read, or change, the strictness switches (propagate_modified, max_page_index,
        rate_reset_format; see emulators/fusebill/rules.py). They apply to the whole emulator."""
        if changes:
            return self._control("POST", "/settings", changes)
        return self._control("GET", "/settings")

    def reset(self) -> None:
        self._control("POST", "/reset", {})

    def wait_for_webhooks(self, timeout: float = 10.0) -> bool:
        """Block until no webhook delivery is pending (True) or the timeout passes (False)."""
        return self.state.webhooks.wait_idle(timeout)

    # --- the Fusebill API ---

    def get(self, api_key: str, path: str, **params: Any) -> requests.Response:
        """GET `path` (relative to /v1) with the account's key, e.g. get(key, "/customers", pageSize=100)."""
        return self.session.get(
            f"{self.url}{path}", params=params or None, timeout=60,
            headers={"Authorization": f"Basic {api_key}", "Content-Type": "application/json"},
        )


@contextmanager
def running_emulator(config: FusebillEmulatorConfig | None = None) -> Iterator[RunningFusebill]:
    """Serve a fresh emulator on a free loopback port for the duration of the block."""
    app = create_app(config)
    state: EmulatorState = app.extensions[EXTENSION_KEY]
    try:
        with BackgroundServer(app) as server:
            handle = RunningFusebill(server.url, state)
            try:
                yield handle
            finally:
                handle.session.close()
    finally:
        state.close()
