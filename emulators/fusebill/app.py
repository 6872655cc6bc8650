"""The emulator's Flask application: the Fusebill API under /v1 and the control API under /_emulator."""
from __future__ import annotations

import itertools
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException

from emulators.fusebill import jsonwire, rules, shapes
from emulators.fusebill.config import FusebillEmulatorConfig
from emulators.fusebill.ratelimit import RateLimiter
from emulators.fusebill.store import Store
from emulators.fusebill.webhooks import WebhookDispatcher
from emulators.sampledata.money import utc_now

EXTENSION_KEY = "fusebill_emulator"


@dataclass
class Faults:
    """Injected trouble for /v1 requests: added latency and a share of 5xx answers."""

    error_rate: float = 0.0
    latency_ms: int = 0
    status: int = 503
    api_key: str | None = None  # None = every account
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def describe(self) -> dict[str, Any]:
        # jsonwire refuses floats (money must never be one), so the rate goes out as a Decimal.
        return {"error_rate": Decimal(str(self.error_rate)), "latency_ms": self.latency_ms, "status": self.status, "api_key": self.api_key}

    def decide(self, api_key: str) -> tuple[float, int | None]:
        """(seconds to wait, error status or None) for one request."""
        if self.api_key is not None and self.api_key != api_key:
            return 0.0, None
        with self.lock:
            fail = self.error_rate > 0 and self.rng.random() < self.error_rate
        return self.latency_ms / 1000, self.status if fail else None


class RequestLog:
    """Counts of /v1 requests per API key, by route and by status."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: dict[str, Counter[str]] = {}
        self._statuses: dict[str, Counter[str]] = {}

    def record(self, api_key: str, route: str, status: int) -> None:
        with self._lock:
            self._routes.setdefault(api_key, Counter())[route] += 1
            self._statuses.setdefault(api_key, Counter())[str(status)] += 1

    def describe(self, api_key: str) -> dict[str, Any]:
        with self._lock:
            routes = dict(sorted(self._routes.get(api_key, Counter()).items()))
            statuses = dict(sorted(self._statuses.get(api_key, Counter()).items()))
        return {
            "total": sum(routes.values()),
            "by_route": routes,
            "by_status": statuses,
            "rate_limited": statuses.get("429", 0),
        }

    def forget(self, api_key: str | None = None) -> None:
        with self._lock:
            if api_key is None:
                self._routes.clear()
                self._statuses.clear()
            else:
                self._routes.pop(api_key, None)
                self._statuses.pop(api_key, None)


class Settings:
    """The switches of issue #7 (emulators/fusebill/rules.py), changeable at run time."""

    NAMES = ("propagate_modified", "max_page_index", "rate_reset_format")

    def __init__(self, config: FusebillEmulatorConfig) -> None:
        self._lock = threading.Lock()
        self._answers = itertools.count()
        self.propagate_modified = config.propagate_modified
        self.max_page_index = config.max_page_index
        self.rate_reset_format = config.rate_reset_format

    def describe(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.NAMES}

    def update(self, changes: dict[str, Any]) -> None:
        """Apply `changes` (all or nothing); ValueError names a bad one."""
        unknown = set(changes) - set(self.NAMES)
        if unknown:
            raise ValueError(f"unknown setting(s) {', '.join(sorted(unknown))}; known: {', '.join(self.NAMES)}")
        if "propagate_modified" in changes and not isinstance(changes["propagate_modified"], bool):
            raise ValueError("propagate_modified must be true or false")
        if "max_page_index" in changes and changes["max_page_index"] not in rules.MAX_PAGE_INDEX_MEANINGS:
            raise ValueError(f"max_page_index must be one of {', '.join(rules.MAX_PAGE_INDEX_MEANINGS)}")
        if "rate_reset_format" in changes and changes["rate_reset_format"] not in rules.RATE_RESET_FORMATS:
            raise ValueError(f"rate_reset_format must be one of {', '.join(rules.RATE_RESET_FORMATS)}")
        with self._lock:
            for name, value in changes.items():
                setattr(self, name, value)

    def next_reset_format(self) -> str:
        """"naive" or "offset" for the next answer's X-Rate-Limit-Reset-* headers."""
        if self.rate_reset_format != "alternate":
            return self.rate_reset_format
        with self._lock:
            return "naive" if next(self._answers) % 2 == 0 else "offset"


class EmulatorState:
    """Everything one emulator instance holds; reachable as `app.extensions["fusebill_emulator"]`."""

    def __init__(self, config: FusebillEmulatorConfig) -> None:
        self.config = config
        self.store = Store(config.state_path)
        self.limiter = RateLimiter(config.time_scale)
        self.webhooks = WebhookDispatcher(config.time_scale, config.webhook_timeout_seconds)
        self.faults = Faults()
        self.requests = RequestLog()
        self.settings = Settings(config)
        self._clock: Callable[[], datetime] = config.clock or utc_now
        self._event_ids = itertools.count(1)

    def now(self) -> datetime:
        return self._clock().replace(microsecond=0)

    def next_event_id(self) -> int:
        return next(self._event_ids)

    def reset(self) -> None:
        self.store.reset()
        self.limiter.forget()
        self.webhooks.forget()
        self.requests.forget()
        self.faults = Faults()
        self.settings = Settings(self.config)

    def close(self) -> None:
        """Stop the webhook thread and close the state file."""
        self.webhooks.close()
        self.store.close()


def emulator_state() -> EmulatorState:
    return current_app.extensions[EXTENSION_KEY]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(jsonwire.dumps(body), status=status, headers=headers, mimetype="application/json")


class _CaseInsensitiveV1:
    """WSGI middleware: /v1 paths are matched case-insensitively with an optional trailing slash
    (fusebill-api.md §1.1: the docs and clients mix `/Customers/{id}/Invoices/` and `/invoices`)."""

    def __init__(self, wsgi_app: Callable) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        path = environ.get("PATH_INFO", "")
        lowered = path.lower()
        if lowered == "/v1" or lowered.startswith("/v1/"):
            environ["PATH_INFO"] = lowered.rstrip("/") or "/"
        return self.wsgi_app(environ, start_response)


def create_app(config: FusebillEmulatorConfig | None = None) -> Flask:
    """A Flask app serving the Fusebill API v1 emulator. Call `app.extensions[
    "fusebill_emulator"].close()` (or use `testing.running_emulator`) to stop its webhook thread."""
    from emulators.fusebill.api import api
    from emulators.fusebill.control import control

    config = config or FusebillEmulatorConfig()
    app = Flask(__name__)
    app.extensions[EXTENSION_KEY] = EmulatorState(config)
    app.register_blueprint(api)
    app.register_blueprint(control)
    app.wsgi_app = _CaseInsensitiveV1(app.wsgi_app)  # type: ignore[method-assign]

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        if request.path.startswith("/v1"):
            message = "The requested resource was not found." if status == 404 else (error.description or error.name)
            return json_response(shapes.error_body(status, message), status)
        return json_response({"error": error.description or error.name}, status)

    return app
