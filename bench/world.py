"""The benchmark's world: emulators, Redis, PostgreSQL, the portal under gunicorn and RQ workers,
each in its own process, and accounts set up through the portal's own pages.

It is tests/sync/conftest.py `build_world` taken apart so that its pieces outlive one test: the same
set-up walk-through (sign in, Connect QuickBooks through the emulator's consent page, create the
ledgers, paste the Fusebill key, save the settings), but with the Fusebill account type, the rate
limits and the time scale chosen per measurement, and with workers that are real processes
(`bench.worker`) instead of burst workers in the test process. The sync tests are untouched.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
US_COMPANY = {"country": "US", "home_currency": "USD", "tax": "none"}
USD_ONLY = {"currency_weights": {"USD": 1}}
LEDGERS = ("deferred_revenue", "sales_tax_payable", "payments_deposit", "refunds", "credits", "write_offs")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------ processes
class Process:
    """A child process; `url` is the first line it printed (the emulators print their base URL)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path, wait_for_url: bool = False) -> None:
        self.name = name
        self.log = log
        self.url = ""
        if wait_for_url:
            self.popen = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=open(log, "ab"), text=True)  # noqa: SIM115
            line = self.popen.stdout.readline().strip() if self.popen.stdout else ""
            if not line.startswith("http"):
                raise RuntimeError(f"{name} did not start (see {log}): {line!r}")
            self.url = line
        else:
            self.popen = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=open(log, "ab"), stderr=subprocess.STDOUT)  # noqa: SIM115

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self, timeout: float = 60) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


def cpu_seconds(pid: int) -> float:
    """CPU of a process and of its children it has reaped (an RQ worker reaps every work horse)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    utime, stime, cutime, cstime = (int(fields[i]) for i in (11, 12, 13, 14))
    return (utime + stime + cutime + cstime) / CLOCK_TICKS


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


class CpuMeter:
    """CPU used by some processes, and by the whole machine, between start() and stop()."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids

    def start(self) -> CpuMeter:
        self.t0 = time.monotonic()
        self.cpu0 = {pid: cpu_seconds(pid) for pid in self.pids}
        self.machine0 = machine_cpu()
        return self

    def stop(self) -> dict[str, float]:
        wall = time.monotonic() - self.t0
        used = sum(cpu_seconds(pid) - self.cpu0[pid] for pid in self.pids)
        busy, total = machine_cpu()
        machine = (busy - self.machine0[0]) / max(total - self.machine0[1], 1.0)
        return {"wall_s": wall, "cpu_s": used, "cores_used": used / max(wall, 1e-9), "machine_busy_fraction": machine}


# ------------------------------------------------------------------ emulators over HTTP
class Qbo:
    """The QBO emulator's control API (the in-process RunningEmulator needs the app; this needs only the URL)."""

    def __init__(self, url: str) -> None:
        from emulators.qbo.testing import RunningEmulator

        self.url = url
        self.emulator = RunningEmulator(url, app=None)  # type: ignore[arg-type] - its HTTP helpers only
        self._tokens: dict[str, str] = {}
        self.http = requests.Session()

    def counts(self, realm_id: str) -> dict[str, Any]:
        return self.emulator.request_counts(realm_id)

    def query_all(self, realm_id: str, entity: str, where: str = "") -> list[dict[str, Any]]:
        """Every row of an entity, read through the QBO API (paged, 1,000 a page, waiting out 429s)."""
        token = self._tokens.get(realm_id)
        if token is None:
            token = self._tokens[realm_id] = self.emulator.tokens(realm_id, client_id="bench-readback", client_secret="bench-readback-secret")["access_token"]
        rows: list[dict[str, Any]] = []
        start = 1
        while True:
            statement = f"SELECT * FROM {entity}" + (f" WHERE {where}" if where else "") + f" STARTPOSITION {start} MAXRESULTS 1000"
            response = self.http.get(f"{self.url}/v3/company/{realm_id}/query", params={"query": statement, "minorversion": "75"},
                                     headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}, timeout=120)
            if response.status_code == 429:
                time.sleep(0.2)
                continue
            response.raise_for_status()
            page = response.json().get("QueryResponse", {}).get(entity, [])
            rows.extend(page)
            if len(page) < 1000:
                return rows
            start += 1000


class Fusebill:
    def __init__(self, url: str) -> None:
        from emulators.fusebill.testing import RunningFusebill

        self.url = url
        self.emulator = RunningFusebill(url, state=None)  # type: ignore[arg-type] - its HTTP helpers only

    @property
    def api_url(self) -> str:
        return self.emulator.url


# ------------------------------------------------------------------ the stack
@dataclass
class Stack:
    """Redis, a PostgreSQL schema, both emulators and the settings every process shares."""

    folder: Path
    time_scale: float
    qbo_limits: str = "on"
    processes: list[Process] = field(default_factory=list)

    def start(self) -> Stack:
        from tests.portal_fixtures import TEST_ENCRYPTION_KEY, create_postgres_schema
        from tests.support.services import start_redis

        self.folder.mkdir(parents=True, exist_ok=True)
        self.redis = start_redis()
        self.database_url, self.schema = create_postgres_schema()
        self._migrate()
        env = dict(os.environ)
        self.qbo = Qbo(self._emulator("qbo", ["--limits", self.qbo_limits]).url)
        self.fusebill = Fusebill(self._emulator("fusebill", []).url)
        self.portal_port = _free_port()
        self.base_env = {
            **{k: v for k, v in env.items() if not k.startswith(("FUSEBILL_", "QBO_", "INTUIT_", "DATABASE_", "REDIS_", "PORTAL_", "RATE_LIMIT"))},
            "PORTAL_ENV": "test", "SECRET_KEY": "bench-secret-key-" + "x" * 32, "ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,
            "DATABASE_URL": self.database_url, "REDIS_URL": self.redis.url, "INSTANCE_PATH": str(self.folder / "instance"),
            "PORTAL_BASE_URL": f"http://127.0.0.1:{self.portal_port}", "QBO_EMULATOR_URL": self.qbo.url,
            "FUSEBILL_STAGING_URL": self.fusebill.api_url, "FUSEBILL_PRODUCTION_URL": self.fusebill.api_url,
            "RATE_LIMIT_TIME_SCALE": repr(self.time_scale), "LOG_LEVEL": "WARNING", "OAUTHLIB_INSECURE_TRANSPORT": "1",
            "HTTP_TIMEOUT_SECONDS": "60", "COMPANY_RECHECK_MINUTES": "5",
        }
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"  # python-quickbooks on the emulator's plain http (driver and naive)
        from portal import create_app
        from portal.db import Database
        from portal.settings import Settings

        self.settings = Settings.from_env(self.base_env, dotenv_path=None)
        self.database = Database(self.database_url)
        self.app = create_app(self.settings, database=self.database)
        return self

    def _migrate(self) -> None:
        from portal.db import Database
        from portal.migrate import upgrade

        database = Database(self.database_url)
        with database.engine.connect() as connection:
            upgrade(connection=connection)
            connection.commit()
        database.dispose()

    def _emulator(self, which: str, extra: list[str]) -> Process:
        process = Process(which, [PYTHON, "-m", "bench.serve", which, "--time-scale", repr(self.time_scale), *extra], dict(os.environ),
                          self.folder / f"{which}.log", wait_for_url=True)
        self.processes.append(process)
        return process

    @property
    def emulator_pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.name in ("qbo", "fusebill")]

    def env(self, **settings: Any) -> dict[str, str]:
        """The environment of a worker or the portal, with per-measurement settings (FUSEBILL_... = 950)."""
        return {**self.base_env, **{k: str(v) for k, v in settings.items()}}

    def start_portal(self, workers: int = 2, threads: int = 4) -> Process:
        """The portal as `make run` serves it (portal/devrun.py): gunicorn, 2 workers × 4 threads."""
        process = Process("portal", [PYTHON, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.portal_port}", "--workers", str(workers),
                                     "--threads", str(threads), "--access-logfile", "-",
                                     # its control socket in the benchmark's folder, never another gunicorn's (as devrun does)
                                     "--control-socket", str(self.folder / "gunicorn.ctl"), "wsgi:app"], self.env(),
                          self.folder / "portal.log")
        self.processes.append(process)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{self.portal_port}/healthz", timeout=2)
                return process
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError("the portal did not start (see portal.log)")

    def stop(self) -> None:
        from tests.portal_fixtures import drop_postgres_schema

        for process in reversed(self.processes):
            process.stop(timeout=20)
        self.database.dispose()
        drop_postgres_schema(self.schema)
        self.redis.stop()


def _free_port() -> int:
    from tests.support.services import free_port

    return free_port()


# ------------------------------------------------------------------ workers
class Workers:
    """N `bench.worker` processes; stop() returns what they cost (CPU, peak RSS)."""

    def __init__(self, stack: Stack, count: int, label: str, **settings: Any) -> None:
        self.reports = [stack.folder / f"worker-{label}-{i}.json" for i in range(count)]
        for report in self.reports:
            report.unlink(missing_ok=True)
        env = stack.env(**settings)
        self.processes = [Process(f"worker-{label}-{i}", [PYTHON, "-m", "bench.worker", str(report)], env, stack.folder / f"worker-{label}-{i}.log")
                          for i, report in enumerate(self.reports)]
        stack.processes.extend(self.processes)  # stopped with the stack if a measurement fails
        time.sleep(1.0)  # imports done and registered before work is queued

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def stop(self) -> dict[str, float]:
        for process in self.processes:
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGTERM)
        for process in self.processes:  # one SIGTERM only: a second one is RQ's cold shutdown (no report)
            try:
                process.popen.wait(timeout=300)
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait(timeout=10)
        reports = [json.loads(r.read_text()) for r in self.reports if r.exists()]
        if len(reports) != len(self.reports):
            raise RuntimeError(f"a worker wrote no report: {[str(r) for r in self.reports if not r.exists()]}")
        return {
            "cpu_s": sum(r["self"]["cpu_s"] + r["horses"]["cpu_s"] for r in reports),
            "peak_rss_mb": max(max(r["horses"]["maxrss_kb"], r["self"]["maxrss_kb"], r["self_vm_hwm_kb"]) for r in reports) / 1024,
            "peak_horse_rss_mb": max(r["horses"]["maxrss_kb"] for r in reports) / 1024,
        }


# ------------------------------------------------------------------ accounts, set up through the portal's pages
@dataclass
class BenchAccount:
    name: str
    account_id: int
    realm_id: str
    api_key: str
    customers: int
    seed: int
    options: dict[str, Any]
    client: Any

    def dataset(self):  # type: ignore[no-untyped-def]
        from emulators.sampledata.generator import generate

        return generate(self.customers, self.seed, **self.options)


def setup_account(stack: Stack, name: str, *, customers: int, seed: int, account_type: str = "live",
                  rate_limits: dict[str, int] | None = None, options: dict[str, Any] | None = None) -> BenchAccount:
    """An account set up as tests/sync/conftest.py build_world does it: through the portal's pages."""
    from portal.models import ROLE_ADMIN, Account, User
    from tests.integration.conftest import connect
    from tests.portal_fixtures import _test_password_hash, post_form, sign_in

    options = {**USD_ONLY, **(options or {})}
    with stack.database.session_scope() as session:
        account = Account(name=name, fusebill_account_id=f"FB-BENCH-{name}", integration_enabled=True)
        session.add(account)
        session.flush()
        admin = User(email=f"admin-{name.lower()}@example.com", name="Admin", password_hash=_test_password_hash(), role=ROLE_ADMIN,
                     account_id=account.id, active=True)
        session.add(admin)
        session.flush()
        account_id = account.id
        session.expunge(admin)
    client = stack.app.test_client()
    sign_in(client, admin)
    realm = stack.qbo.emulator.create_company(name=f"Bench {name}", **US_COMPANY)
    connect(client, stack.qbo.emulator, realm_id=realm)
    stack.qbo.emulator.set_preferences(realm, auto_apply_credits=False)
    for ledger in LEDGERS:
        response = post_form(client, "/setup/ledgers", "/setup/ledgers/create", {"ledger": ledger})
        assert response.status_code in (200, 302), response.get_data(as_text=True)[:500]
    api_key = stack.fusebill.emulator.create_account(account_type, name=f"Bench {name}", rate_limits=rate_limits)
    stack.fusebill.emulator.seed(api_key, customers=customers, seed=seed, **options)
    response = post_form(client, "/setup/environment", "/setup/environment/fusebill-key/sandbox",
                         {"key-sandbox-environment": "sandbox", "key-sandbox-api_key": api_key})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    response = post_form(client, "/setup/settings", "/setup/settings", {"display_name_parts": ["company_name"], "update_display_names": "yes",
                                                                      "new_customers": "create", "sync_start_date": "2020-01-01", "schedule": "off"})
    assert response.status_code in (200, 302)
    client.get("/setup/")
    return BenchAccount(name, account_id, realm, api_key, customers, seed, options, client)


def webhook_endpoint(account: BenchAccount) -> tuple[str, str]:
    """The webhook URL and key, as the Environments page shows them."""
    page = account.client.get("/setup/environment").get_data(as_text=True)
    url = re.search(r'data-test="webhook-url-sandbox">([^<]+)<', page).group(1)
    key = re.search(r'data-test="webhook-key-sandbox">([^<]+)<', page).group(1)
    return url, key


# ------------------------------------------------------------------ runs
def start_run(stack: Stack, account: BenchAccount, full: bool = False) -> int:
    """Press Sync now (through the service the button uses)."""
    from portal.extensions import service_context
    from portal.models import Account
    from portal.services.sync import start_sync

    with stack.app.app_context():
        ctx = service_context()
        with stack.database.session_scope() as session:
            return start_sync(session, ctx, session.get(Account, account.account_id), trigger="bench", full=full).id


def wait_run(stack: Stack, run_id: int, timeout: float = 7200, give_up: bool = False) -> dict[str, Any]:
    """The run once finished; after `timeout` seconds an error, or (`give_up`) the run as it stands,
    its `seconds` counted up to now and `finished` False."""
    from portal.models import SyncRun, utcnow
    from portal.models.integration import RUN_FINISHED

    deadline = time.monotonic() + timeout
    while True:
        with stack.database.session_scope() as session:
            run = session.get(SyncRun, run_id)
            finished = run.status in RUN_FINISHED
            if finished or (give_up and time.monotonic() > deadline):
                end = run.finished_at or utcnow()
                started = run.started_at or end
                return {"id": run.id, "status": run.status, "error": run.error, "counts": dict(run.counts or {}), "finished": finished,
                        "seconds": (end - started).total_seconds(), "started_at": started, "finished_at": end,
                        "customers_done": run.customers_done, "customers_total": run.customers_total}
            state = (run.status, run.customers_done, run.customers_total)
        if time.monotonic() > deadline:
            raise RuntimeError(f"run {run_id} did not finish in {timeout:.0f}s: {state}")
        time.sleep(0.25)


def run_progress(stack: Stack, run_id: int) -> tuple[str, int, int]:
    from portal.models import SyncRun

    with stack.database.session_scope() as session:
        run = session.get(SyncRun, run_id)
        return run.status, run.customers_done or 0, run.customers_total or 0


# ------------------------------------------------------------------ what QBO holds, read back through its API
MARKED = (("Customer", "Notes", "Active IN (true, false)"), ("Invoice", "PrivateNote", ""), ("Payment", "PrivateNote", ""),
          ("CreditMemo", "PrivateNote", ""), ("JournalEntry", "PrivateNote", ""))


def qbo_markers(stack: Stack, realm_id: str) -> Counter:
    """Every `fusebill:…` marker in the company, with how many QBO documents carry it."""
    from jobs.sync.links import marker_of

    found: Counter = Counter()
    for entity, note_field, where in MARKED:
        for row in stack.qbo.query_all(realm_id, entity, where):
            marker = marker_of(row.get(note_field))
            if marker:
                found[marker] += 1
    return found


def dataset_records(dataset) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """The Fusebill records of a data set, as (type, id) in the markers' vocabulary."""
    kinds = (("invoice", "invoices"), ("payment", "payments"), ("refund", "refunds"), ("credit", "credits"), ("debit", "debits"),
             ("creditnote", "credit_notes"), ("writeoff", "write_offs"))
    records = set()
    for bundle in dataset.customers:
        records.add(("customer", str(bundle.customer.id)))
        for kind, attribute in kinds:
            records.update((kind, str(item.id)) for item in getattr(bundle, attribute))
    return records


def audit(stack: Stack, account: BenchAccount, records: set[tuple[str, str]] | None = None) -> dict[str, Any]:
    """Lost and duplicated records, from QBO's markers; the engine's record states only explain
    why a record that is not in QBO is not (failed or skipped with a reason)."""
    from portal.models import Environment, SyncRecord

    records = records if records is not None else dataset_records(account.dataset())
    markers = qbo_markers(stack, account.realm_id)
    in_qbo = {tuple(marker.split(":")[1:3]) for marker in markers}
    duplicates = sum(count - 1 for count in markers.values() if count > 1)
    with stack.database.session_scope() as session:
        environment_ids = list(session.scalars(select(Environment.id).where(Environment.account_id == account.account_id)))
        states = {(r.entity_type, r.fusebill_id): (r.state, r.reason) for r in session.scalars(
            select(SyncRecord).where(SyncRecord.environment_id.in_(environment_ids)))}
    explained = Counter()
    lost = []
    for record in records - in_qbo:
        state, reason = states.get(record, (None, None))
        if state in ("failed", "skipped", "pending") and reason:
            explained[state] += 1
        else:
            lost.append((record, state))
    return {"records": len(records), "in_qbo": len(records & in_qbo), "failed": explained["failed"], "skipped": explained["skipped"],
            "pending": explained["pending"], "lost": len(lost), "lost_examples": lost[:5], "duplicates": duplicates,
            "duplicate_examples": [m for m, count in markers.items() if count > 1][:5],
            "qbo_documents": sum(markers.values()), "unknown_markers": len(in_qbo - records)}
