"""Chaos sync (issue #11 item 1, `make chaos`, PostgreSQL): a full sync of 500 generated customers while
worker processes are SIGKILLed at random points and restarted, Redis is restarted once, PostgreSQL
drops every connection once, the QBO emulator answers 5 % of requests with 500s and 2 % with timeouts
(half of them after the write took effect), throttles with 429s (its limit windows run at half the
speed our limiter assumes) and expires the access token mid-run. A second round does it again with
the portal restarted and a webhook burst during the run.

Afterwards: zero duplicates, zero missing records and the five promises of the contract hold on the
books read back from QBO. A summary of faults by kind, retries, final states and time is printed.
"""
from __future__ import annotations

import base64
import json
import os
import re
import random
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest
from redis import Redis
from sqlalchemy import text

from emulators.fusebill.testing import running_emulator as running_fusebill
from emulators.qbo.config import QboEmulatorConfig
from emulators.qbo.testing import running_emulator as running_qbo
from emulators.sampledata.generator import generate
from portal.models import Account, SyncRun
from portal.models.integration import RUN_FINISHED
from tests.support.services import free_port
from tests.support.workers import WorkerPool
from tests.sync.conftest import TIME_SCALE, build_world
from tests.sync.promises import check_promises

pytestmark = [pytest.mark.chaos, pytest.mark.sync, pytest.mark.timeout(3600)]

CUSTOMERS = int(os.environ.get("CHAOS_CUSTOMERS", "500"))
KILLS = int(os.environ.get("CHAOS_KILLS", "10"))
WORKERS = 2
SEED = 4242
US = {"country": "US", "home_currency": "USD", "tax": "none"}
USD_ONLY = {"currency_weights": {"USD": 1}}


class PersistentRedis:
    """A redis-server that keeps its data across a restart (append-only file, fsync always), as a
    production Redis for RQ must; restarting it on the same port is the fault."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="chaos-redis-")
        self.process: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (make chaos installs it)"
        self.process = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
                                         "--appendfsync", "always", "--dir", self.dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if Redis.from_url(self.url, socket_timeout=1).ping():
                    return
            except Exception:  # noqa: BLE001 - still starting (or loading its file)
                time.sleep(0.1)
        raise RuntimeError("redis-server did not come back")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def _drop_database_connections(world) -> int:  # type: ignore[no-untyped-def]
    """Terminate every other connection to the database, at a moment when a work horse holds some
    (each horse opens its own and closes them when its job ends: between jobs there may be none, and
    after a Redis restart the work waits for RQ to find the killed workers' jobs abandoned)."""
    killed = 0
    deadline = time.monotonic() + 240
    while not killed and time.monotonic() < deadline:
        with world.database.engine.connect() as connection:
            killed = int(connection.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                                 "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar() or 0)
            connection.commit()
        if not killed:
            time.sleep(0.05)
    world.database.engine.dispose()
    assert killed, "no connection to drop within 240 s"
    return killed


def _run(world, run_id: int):  # type: ignore[no-untyped-def]
    with world.database.session_scope() as session:
        run = session.get(SyncRun, run_id)
        session.expunge(run)
        return run


def _start(world, trigger: str = "manual", full: bool = False) -> int:  # type: ignore[no-untyped-def]
    from portal.extensions import service_context
    from portal.services.sync import start_sync

    with world.app.app_context():
        with world.database.session_scope() as session:
            return start_sync(session, service_context(), session.get(Account, world.account_id), trigger=trigger, full=full).id


def _webhook_burst(world, customers: list[int], faults: Counter) -> None:  # type: ignore[no-untyped-def]
    """Fusebill's webhook calls for changes to these customers, each sent twice (a replay must not
    write twice), to the URL with the key the Environments page shows."""
    page = world.client.get("/setup/environment").get_data(as_text=True)
    url = re.search(r'data-test="webhook-url-sandbox">([^<]+)<', page).group(1)
    key = re.search(r'data-test="webhook-key-sandbox">([^<]+)<', page).group(1)
    path = url[url.index("/webhooks/"):]
    header = {"Content-Type": "application/json", "X-Fusebill-Webhook-Key": base64.b64encode(key.encode()).decode()}
    for customer_id in customers:
        world.fusebill.records(world.api_key, {"op": "update_customer", "customer_id": customer_id, "set": {"companyName": f"Chaos Renamed {customer_id}"}})
        body = json.dumps({"eventId": f"chaos-{customer_id}", "eventType": "CustomerUpdated", "eventTimestamp": "2026-01-01T00:00:00",
                           "entityType": "Customer", "entityId": customer_id, "customerId": customer_id, "entity": None}).encode()
        for _ in range(2):
            answer = world.client.post(path, data=body, headers=header)
            assert answer.status_code < 300, answer.get_data(as_text=True)[:300]
            faults["webhook_events"] += 1


def _chaos_round(world, pool: WorkerPool, redis: PersistentRedis, rng: random.Random, faults: Counter, *, burst: bool) -> SyncRun:
    world.qbo.set_faults(error_rate=0.05, timeout_rate=0.02, timeout_seconds=3, timeout_after_write=0.5)
    run_id = _start(world, full=burst)
    pool.keep(WORKERS)
    kills = 0
    redis_restarted = database_dropped = tokens_expired = burst_sent = False
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        time.sleep(rng.uniform(1.0, 3.5))
        run = _run(world, run_id)
        if run.status in RUN_FINISHED and kills >= KILLS and redis_restarted and database_dropped:
            break
        if kills < KILLS:
            pool.kill_one(rng)
            kills += 1
            faults["worker_sigkill"] += 1
            pool.keep(WORKERS)
        if kills >= KILLS * 3 // 10 and not tokens_expired:
            world.qbo.set_faults(error_rate=0.05, timeout_rate=0.02, timeout_seconds=3, timeout_after_write=0.5, expire_tokens=True)
            tokens_expired = True
            faults["access_token_expired"] += 1
        if kills >= KILLS * 4 // 10 and not redis_restarted:
            redis.kill()
            time.sleep(0.5)
            redis.start()
            redis_restarted = True
            faults["redis_restart"] += 1
            pool.stop()
            pool.keep(WORKERS)
        if kills >= KILLS * 6 // 10 and not database_dropped:
            faults["postgres_connections_dropped"] += _drop_database_connections(world)
            database_dropped = True
        if burst and kills >= KILLS // 2 and not burst_sent:
            _webhook_burst(world, [b.customer.id for b in world.dataset.customers[:15]], faults)
            burst_sent = True
        if run.status in RUN_FINISHED and kills >= KILLS:
            break
        pool.keep(WORKERS)
    counts = world.qbo.request_counts(world.realm_id)
    faults["qbo_429_total"] = counts.get("throttled", 0)
    faults["qbo_requests_total"] = counts.get("total", 0)
    faults["qbo_401_total"] = counts.get("auth_failed", 0)
    for kind in ("fault_500", "fault_timeout", "fault_timeout_after_write"):
        faults[f"qbo_{kind}_total"] = counts.get(kind, 0)
    world.qbo.set_faults()
    # The run ends (a fault may have outlasted a chunk's retries: those records are failed, with the
    # reason, and the next run retries them, as a user's next sync would).
    return _wait(world, run_id, pool, timeout=900)


def _wait(world, run_id: int, pool: WorkerPool, timeout: float) -> SyncRun:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pool.keep(WORKERS)
        run = _run(world, run_id)
        if run.status in RUN_FINISHED:
            return run
        time.sleep(1)
    raise AssertionError(f"run {run_id} did not finish: {_run(world, run_id).status} {_run(world, run_id).counts}")


def _settle(world, pool: WorkerPool, faults: Counter) -> SyncRun:  # type: ignore[no-untyped-def]
    """Runs without faults until one leaves nothing failed (at most three)."""
    for _ in range(3):
        run = _wait(world, _start(world), pool, timeout=900)
        faults["follow_up_runs"] += 1
        if not run.counts.get("failed"):
            return run
    return run


@contextmanager
def _world(tmp_path: Path, redis: PersistentRedis):  # type: ignore[no-untyped-def]
    # The emulator's limit windows run at half the speed our limiter assumes: it throttles (429).
    with running_qbo(QboEmulatorConfig(time_scale=TIME_SCALE / 2)) as qbo, running_fusebill() as fusebill:
        for world in build_world(tmp_path, "postgresql", qbo, fusebill, redis.url, customers=CUSTOMERS, seed=SEED, company=US, seed_options=USD_ONLY):
            world.dataset = generate(CUSTOMERS, SEED, **USD_ONLY)
            yield world


def test_chaos_sync_leaves_no_duplicate_no_gap_and_the_promises_hold(tmp_path):  # type: ignore[no-untyped-def]
    started = time.monotonic()
    redis = PersistentRedis()
    redis.start()
    pool = WorkerPool(redis.url)
    rng = random.Random(SEED)
    faults: Counter = Counter()
    try:
        with _world(tmp_path, redis) as world:
            world.client.get("/setup/environment")  # the webhook URL and key exist from here
            first = _chaos_round(world, pool, redis, rng, faults, burst=False)
            faults[f"round1_{first.status}"] += 1
            _settle(world, pool, faults)
            after_first = check_promises(world, world.dataset)
            # Round two: the portal restarts (a new app on the same database), then the same faults
            # with a webhook burst during the run.
            from portal import create_app

            from jobs import context as job_context_module
            from portal.extensions import settings as app_settings
            from tests.portal_fixtures import sign_in

            with world.app.app_context():
                portal_settings = app_settings()
            world.app = create_app(portal_settings, database=world.database)
            job_context_module.use_app(world.app)
            faults["portal_restart"] += 1
            world.client = world.app.test_client()
            with world.database.session_scope() as session:
                from portal.models import User

                admin = session.query(User).filter_by(account_id=world.account_id).first()
                session.expunge(admin)
            sign_in(world.client, admin)  # the old session cookie is gone with the old client
            second = _chaos_round(world, pool, redis, rng, faults, burst=True)
            faults[f"round2_{second.status}"] += 1
            final = _settle(world, pool, faults)
            faults[f"final_run_{final.status}"] += 1
            summary = check_promises(world, world.dataset)
            client = Redis.from_url(redis.url)
            retries = sum(int(client.get(key) or 0) for key in client.scan_iter("fbqbo:sync-retries:*"))
            from jobs.sync.watchdog import TOTALS_KEY

            watchdog = {k.decode(): int(v) for k, v in client.hgetall(TOTALS_KEY).items()}
            print("\nCHAOS SUMMARY " + json.dumps({"customers": CUSTOMERS, "faults": dict(sorted(faults.items())), "job_retries": retries,
                                                  "watchdog": watchdog,
                                                  "after_round1": after_first, "final": summary,
                                                  "seconds": round(time.monotonic() - started, 1)}, indent=1, default=str))
            assert faults["worker_sigkill"] >= 2 * KILLS and faults["redis_restart"] == 2 and faults["portal_restart"] == 1
    finally:
        pool.stop()
        redis.stop()
