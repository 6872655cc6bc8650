"""Start the emulator in-process and drive it, for the test suites of every part of the project.

    from emulators.qbo.testing import running_emulator

    with running_emulator() as qbo:
        realm_id = qbo.create_company(name="Acme Books", tax="none")
        tokens = qbo.tokens(realm_id, client_id="portal-test")
        client = qbo.quickbooks(realm_id, tokens, client_id="portal-test")   # python-quickbooks client
        ...
        qbo.advance_clock(3600)            # access token now expired
        qbo.set_faults(error_rate=0.1)     # chaos

`quickbooks()` and `auth_client()` build the real, unpatched intuit-oauth / python-quickbooks clients
pointed at the emulator; python-quickbooks refuses plain http unless OAUTHLIB_INSECURE_TRANSPORT=1 is
set in the environment (use `monkeypatch.setenv` in tests).
"""
from __future__ import annotations

from contextlib import contextmanager
from html.parser import HTMLParser
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import requests
from flask import Flask

from emulators.common.server import BackgroundServer

from . import QboEmulatorConfig, create_app

# QBO allows 10 requests/second per realm and app (qbo-api §1.8). Tests that fire requests back to back
# against a local emulator exceed that easily; pass these to QboEmulatorConfig to lift the throttles
# unless throttling is what the test is about: `running_emulator(QboEmulatorConfig(**RELAXED_LIMITS))`.
RELAXED_LIMITS = dict(app_requests_per_second=100_000, realm_requests_per_minute=1_000_000,
                      app_batch_requests_per_minute=100_000, realm_batch_requests_per_minute=100_000)

DEFAULT_CLIENT_ID = "emulator-test-client"
DEFAULT_CLIENT_SECRET = "emulator-test-secret"
DEFAULT_REDIRECT_URI = "http://localhost/callback"


class EmulatorControlError(RuntimeError):
    """The control API refused a request (status and body in the message)."""


class RunningEmulator:
    """An emulator served on a loopback port, with helpers for its control API."""

    def __init__(self, url: str, app: Flask):
        self.url = url
        self.app = app
        self.discovery_url = f"{url}/.well-known/openid_configuration"
        self.api_base = f"{url}/v3"
        self.http = requests.Session()

    @property
    def state(self) -> Any:
        """The in-process `EmulatorState` (for white-box assertions in the emulator's own tests)."""
        return self.app.extensions["qbo_emulator"]

    # ---- control API ----------------------------------------------------------------------------

    def control(self, path: str, json: dict | None = None, method: str = "POST") -> dict:
        response = self.http.request(method, f"{self.url}/_emulator/{path.lstrip('/')}", json=json, timeout=30)
        if response.status_code >= 400:
            raise EmulatorControlError(f"{method} /_emulator/{path} -> {response.status_code}: {response.text}")
        return response.json()

    def create_company(self, name: str = "Sandbox Company", **settings: Any) -> str:
        """A new sandbox company; settings as POST /_emulator/companies takes them. Returns the realmId."""
        return self.control("companies", {"name": name, **settings})["realmId"]

    def tokens(self, realm_id: str, client_id: str = DEFAULT_CLIENT_ID, client_secret: str | None = DEFAULT_CLIENT_SECRET) -> dict:
        """A token response (access + refresh token) for `client_id` on `realm_id`, skipping the consent page."""
        body = {"realmId": realm_id, "client_id": client_id}
        if client_secret is not None:
            body["client_secret"] = client_secret
        return self.control("tokens", body)

    def advance_clock(self, seconds: float) -> dict:
        return self.control("clock", {"advance_seconds": seconds})

    def set_faults(self, **settings: Any) -> dict:
        return self.control("faults", settings)

    def mark_deposited(self, realm_id: str, payment_ids: list[str]) -> dict:
        return self.control("deposits", {"realmId": realm_id, "payment_ids": [str(pid) for pid in payment_ids]})

    def set_preferences(self, realm_id: str, **preferences: Any) -> dict:
        return self.control(f"companies/{realm_id}/preferences", preferences, method="PATCH")

    def set_closing_date(self, realm_id: str, day: str | None) -> dict:
        """Close the books up to and including `day` ("YYYY-MM-DD"; None reopens them): writes dated
        on or before it are refused with 6210, and Preferences show it as BookCloseDate."""
        return self.set_preferences(realm_id, book_close_date=day)

    def create_accounts(self, realm_id: str, accounts: list[dict]) -> list[dict]:
        return self.control(f"companies/{realm_id}/accounts", {"accounts": accounts})["accounts"]

    def ledger(self, realm_id: str) -> dict[str, dict]:
        """Account balances by account name (P&L accounts included)."""
        rows = self.control(f"companies/{realm_id}/ledger", method="GET")["accounts"]
        return {row["Name"]: row for row in rows}

    def request_counts(self, realm_id: str | None = None) -> dict:
        path = "requests" + (f"?realmId={realm_id}" if realm_id else "")
        return self.control(path, method="GET")

    def set_exchange_rate(self, realm_id: str, currency: str, date: str, rate: str) -> dict:
        return self.control("exchangerates", {"realmId": realm_id, "currency": currency, "date": date, "rate": rate})

    def reset(self) -> dict:
        return self.control("reset")

    # ---- consent page -----------------------------------------------------------------------------

    def authorize(self, authorization_url: str, *, realm_id: str | None = None, new_company: dict | None = None,
                  decision: str = "approve") -> dict[str, str]:
        """Drive the consent page over HTTP like a user would; returns the redirect's query parameters
        (`code`, `state`, `realmId`, or `error`)."""
        page = self.http.get(authorization_url, timeout=30)
        if page.status_code != 200:
            raise EmulatorControlError(f"consent page answered {page.status_code}: {page.text[:200]}")
        form = _ConsentForm()
        form.feed(page.text)
        fields = dict(form.fields)
        if realm_id is not None:
            fields["realm_id"] = realm_id
        if new_company:
            fields["new_company_name"] = new_company.get("name", "New Sandbox Company")
            for key in ("country", "home_currency", "tax"):
                if key in new_company:
                    fields[key] = new_company[key]
            for key in ("multicurrency", "auto_apply_credits"):
                if new_company.get(key):
                    fields[key] = "on"
        fields["decision"] = decision
        response = self.http.post(authorization_url, data=fields, allow_redirects=False, timeout=30)
        if response.status_code != 302:
            raise EmulatorControlError(f"consent form answered {response.status_code}: {response.text[:200]}")
        query = parse_qs(urlsplit(response.headers["Location"]).query)
        return {key: values[0] for key, values in query.items()}

    # ---- real client libraries --------------------------------------------------------------------

    def auth_client(self, client_id: str = DEFAULT_CLIENT_ID, client_secret: str = DEFAULT_CLIENT_SECRET,
                    redirect_uri: str = DEFAULT_REDIRECT_URI, tokens: dict | None = None, realm_id: str | None = None):
        """An unpatched `intuitlib.client.AuthClient` whose environment is this emulator's discovery URL."""
        from intuitlib.client import AuthClient

        return AuthClient(
            client_id, client_secret, redirect_uri, self.discovery_url,
            access_token=(tokens or {}).get("access_token"), refresh_token=(tokens or {}).get("refresh_token"),
            realm_id=realm_id,
        )

    def quickbooks_class(self) -> type:
        """A python-quickbooks `QuickBooks` subclass whose API base URL is this emulator."""
        return quickbooks_class_for(self.api_base)

    def quickbooks(self, realm_id: str, tokens: dict | None = None, client_id: str = DEFAULT_CLIENT_ID,
                   client_secret: str = DEFAULT_CLIENT_SECRET, minorversion: int = 75, use_decimal: bool = True):
        """A ready python-quickbooks client for `realm_id` (tokens from `tokens()` when not given)."""
        tokens = tokens or self.tokens(realm_id, client_id, client_secret)
        auth = self.auth_client(client_id, client_secret, tokens=tokens, realm_id=realm_id)
        return self.quickbooks_class()(
            auth_client=auth, refresh_token=tokens["refresh_token"], company_id=realm_id,
            minorversion=minorversion, use_decimal=use_decimal,
        )


def quickbooks_class_for(api_base: str) -> type:
    from quickbooks import QuickBooks

    return type("EmulatorQuickBooks", (QuickBooks,), {"api_url_v3": api_base, "sandbox_api_url_v3": api_base})


class _ConsentForm(HTMLParser):
    """Collects the submit-ready fields of `<form id="consent">` (hidden inputs, checked radios)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        if tag == "form" and attributes.get("id") == "consent":
            self._inside = True
        elif tag == "input" and self._inside and attributes.get("name"):
            kind = attributes.get("type", "text")
            if kind == "hidden" or (kind == "radio" and "checked" in attributes):
                self.fields[attributes["name"]] = attributes.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False


@contextmanager
def running_emulator(config: QboEmulatorConfig | None = None) -> Iterator[RunningEmulator]:
    """Serve a fresh emulator on a free loopback port for the duration of the block."""
    app = create_app(config)
    try:
        with BackgroundServer(app) as server:
            emulator = RunningEmulator(server.url, app)
            try:
                yield emulator
            finally:
                emulator.http.close()
    finally:
        app.extensions["qbo_emulator"].close()
