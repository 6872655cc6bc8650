"""Contract suite: the same assertions about QBO, run against the emulator and — when credentials are
set — against a real QuickBooks Online sandbox company.

Every test takes `qbo_target` and runs twice:

* `[emulator]` — always: an in-process emulator, a fresh company per test, connected through the
  consent page and the real, unpatched `intuitlib.AuthClient` (environment = discovery URL);
* `[real_qbo]` — marked `real_qbo`; skipped (reason shown by `-ra`) unless INTUIT_CLIENT_ID,
  INTUIT_CLIENT_SECRET, QBO_REFRESH_TOKEN and QBO_REALM_ID are set. Each session refreshes the token
  once, which rotates it (qbo-api §2.3): set QBO_REFRESH_TOKEN_FILE to a path and the new refresh token
  is written there for the next run.

Tests marked `emulator_only` need the control API (clock, deposits, faults, AutoApplyCredit) and are
skipped against the real sandbox.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from quickbooks import QuickBooks

from emulators.qbo import QboEmulatorConfig
from emulators.qbo.testing import RunningEmulator, running_emulator
from tests.contract.target import QboTarget

REAL_QBO_ENV = ("INTUIT_CLIENT_ID", "INTUIT_CLIENT_SECRET", "QBO_REFRESH_TOKEN", "QBO_REALM_ID")
CLIENT_ID = "contract-suite-client"
CLIENT_SECRET = "contract-suite-secret"
REDIRECT_URI = "http://localhost:5000/qbo/callback"
REAL_REDIRECT_URI = "https://developer.intuit.com/v2/OAuth2Playground/RedirectUrl"

# The suite runs requests back to back; against a real sandbox network latency keeps it under QBO's
# 10 requests/second, against the local emulator it would not, so that one limit is raised here (the
# throttling contract test uses an emulator with the real limits).
CONTRACT_CONFIG = dict(app_requests_per_second=1000)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "emulator_only: needs the emulator's control API; skipped against a real sandbox")


@pytest.fixture(scope="session")
def contract_emulator():
    with running_emulator(QboEmulatorConfig(**CONTRACT_CONFIG)) as emulator:
        yield emulator


def connect_emulator(emulator: RunningEmulator, **setup: Any) -> QboTarget:
    """A new company on `emulator`, connected the way the product connects: consent page → code → tokens."""
    realm_id = emulator.create_company(QboTarget.unique("Contract Co"), **setup)
    auth_client = AuthClient(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, emulator.discovery_url)
    authorization_url = auth_client.get_authorization_url([Scopes.ACCOUNTING])
    redirect = emulator.authorize(authorization_url, realm_id=realm_id)
    assert redirect["state"] == auth_client.state_token
    auth_client.get_bearer_token(redirect["code"], realm_id=redirect["realmId"])
    qb = emulator.quickbooks_class()(auth_client=auth_client, refresh_token=auth_client.refresh_token,
                                     company_id=realm_id, minorversion=75, use_decimal=True)
    return QboTarget("emulator", qb, auth_client, realm_id, emulator,
                     factory=lambda **more: connect_emulator(emulator, **more))


@pytest.fixture(scope="session")
def real_connection() -> tuple[AuthClient, str]:
    auth_client = AuthClient(os.environ["INTUIT_CLIENT_ID"], os.environ["INTUIT_CLIENT_SECRET"],
                             os.environ.get("QBO_REDIRECT_URI", REAL_REDIRECT_URI), "sandbox")
    auth_client.refresh(refresh_token=os.environ["QBO_REFRESH_TOKEN"])
    token_file = os.environ.get("QBO_REFRESH_TOKEN_FILE")
    if token_file:
        Path(token_file).write_text(auth_client.refresh_token + "\n", encoding="utf-8")
    return auth_client, os.environ["QBO_REALM_ID"]


@pytest.fixture(params=["emulator", pytest.param("real_qbo", marks=pytest.mark.real_qbo)])
def qbo_target(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> QboTarget:
    if request.param == "emulator":
        # requests-oauthlib refuses plain http without this (stack-notes §3.2).
        monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
        return connect_emulator(request.getfixturevalue("contract_emulator"))
    missing = [name for name in REAL_QBO_ENV if not os.environ.get(name)]
    if missing:
        pytest.skip(f"real QBO sandbox run needs {', '.join(missing)} in the environment")
    if request.node.get_closest_marker("emulator_only"):
        pytest.skip("emulator-only check (uses the emulator's control API)")
    auth_client, realm_id = request.getfixturevalue("real_connection")
    qb = QuickBooks(auth_client=auth_client, refresh_token=auth_client.refresh_token, company_id=realm_id,
                    minorversion=75, use_decimal=True)
    return QboTarget("real_qbo", qb, auth_client, realm_id)
