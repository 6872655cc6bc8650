"""Portal figures for the README: `make bench` writes bench/results/portal.json.

Measured through the real pieces (Flask client → portal → intuit-oauth / python-quickbooks → the
emulator over HTTP on loopback), on whatever machine runs them; the numbers are figures, not asserts,
except the race, whose correctness is asserted.
"""
from __future__ import annotations

import json
import statistics
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from portal.clients import qbo as qbo_client
from portal.models import Account, Environment, QboConnection, utcnow
from portal.services.qbo_tokens import valid_tokens
from tests.integration.conftest import connect
from tests.portal_fixtures import fresh_database, make_settings

pytestmark = pytest.mark.bench
RESULTS = Path(__file__).resolve().parent / "results" / "portal.json"


def _record(name: str, value: dict) -> None:
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data[name] = value
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=2, sort_keys=True))
    print(f"\n{name}: {value}")


@pytest.fixture(params=["sqlite"])
def migrated_database(request, tmp_path_factory):  # benchmarks on one backend are enough
    with fresh_database(request.param, tmp_path_factory.mktemp("bench")) as migrated:
        yield migrated


def test_connect_and_ledger_page_with_1500_accounts(enabled, qbo):
    realm = qbo.create_company(name="Bench Co")
    qbo.create_accounts(realm, [{"Name": f"Expense {n:04d}", "AccountType": "Expense"} for n in range(1500)])
    started = time.perf_counter()
    connect(enabled.client, qbo, realm_id=realm)
    connect_seconds = time.perf_counter() - started
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        response = enabled.client.get("/setup/ledgers")
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200
    _record("ledger_page_1500_accounts", {
        "connect_round_trip_seconds": round(connect_seconds, 3),
        "ledger_page_median_seconds": round(statistics.median(timings), 3),
        "ledger_page_html_kb": round(len(response.data) / 1024),
    })


def test_ten_workers_race_to_refresh_one_connection(tmp_path, redis_url, qbo, fusebill_staging, fusebill_production):
    from portal import create_app
    from portal.extensions import service_context

    with fresh_database("postgresql", tmp_path) as fresh:
        settings = make_settings(fresh.url, redis_url, tmp_path / "instance", qbo_emulator_url=qbo.url)
        app = create_app(settings, database=fresh.database)
        with app.app_context():
            ctx = service_context()
        realm = qbo.create_company(name="Race Bench Co")
        issued = qbo.tokens(realm, client_id=qbo_client.EMULATOR_CLIENT_ID, client_secret=qbo_client.EMULATOR_CLIENT_SECRET)
        with fresh.database.session_scope() as session:
            account = Account(name="Race", fusebill_account_id="FB-RACE-B", integration_enabled=True)
            session.add(account)
            session.flush()
            environment = Environment(account_id=account.id, kind="sandbox")
            session.add(environment)
            session.flush()
            connection = QboConnection(environment_id=environment.id, realm_id=realm, company_name="Race", token_version=0,
                                       access_token_ciphertext=ctx.vault.encrypt(issued["access_token"]),
                                       access_token_expires_at=utcnow() - timedelta(seconds=1),
                                       refresh_token_ciphertext=ctx.vault.encrypt(issued["refresh_token"]),
                                       refresh_token_expires_at=utcnow() + timedelta(days=100))
            session.add(connection)
            session.flush()
            connection_id = connection.id
        barrier = threading.Barrier(10)
        tokens, errors = [], []

        def worker():
            barrier.wait()
            try:
                tokens.append(valid_tokens(ctx, connection_id).refresh_token)
            except Exception as error:  # noqa: BLE001 - asserted below
                errors.append(error)

        started = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        elapsed = time.perf_counter() - started
        refreshes = qbo.request_counts(realm).get("token", {}).get("refresh_token", 0)
        assert not errors and len(set(tokens)) == 1 and refreshes == 1
        _record("token_refresh_race", {"workers": 10, "refresh_calls_to_intuit": refreshes, "seconds_until_all_had_a_token": round(elapsed, 3)})
