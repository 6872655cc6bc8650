"""`make bench` (or `python -m bench.run`): the sync against the emulators' real limits, side by side
with the naive approach, written to bench/results.json and printed as a table.

Sizes and scales come from the environment (the defaults are the issue's sizes):

    BENCH_CUSTOMERS=1000            the first-sync data set (live and sandbox runs, the worker-cost run)
    BENCH_BACKFILL_CUSTOMERS=10000  the backfill during which webhooks are timed, and the 10k memory run
    BENCH_TIME_SCALE=5              QBO's and Fusebill's windows (and our limiter's) run this much faster
    BENCH_SANDBOX_TIME_SCALE=20     the same, for the Fusebill-sandbox run (bound by 50 requests a minute)
    BENCH_WORKERS=2                 RQ worker processes for the runs (the scaling run uses 1, 2 and 4)
    BENCH_NAIVE_CUSTOMERS=100       customers the naive baseline syncs (its rate is steady: a rate, not a total)
    BENCH_SCALING_CUSTOMERS=100     customers of each of the 4 realms in the scaling run
    BENCH_WEBHOOK_CHANGES=100       changes timed through webhooks, idle and during the backfill
    BENCH_WEBHOOK_INTERVAL_S=1.0    one change every this many real seconds
    BENCH_LOAD_SECONDS=30, BENCH_LOAD_USERS=10, BENCH_LOAD_WAIT_S=0.2   the portal load
    BENCH_BACKFILL_COMPLETE=0       1: wait for the limited 10k backfill to finish (long) before stopping it
    BENCH_RESULTS=bench/results.json

Rates measured in real seconds are converted to emulated time with one formula:
records per minute = records × 60 ÷ (real seconds × time scale).
"""
from __future__ import annotations

import csv
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.world import (
    PYTHON,
    ROOT,
    BenchAccount,
    CpuMeter,
    Stack,
    Workers,
    audit,
    dataset_records,
    run_progress,
    setup_account,
    start_run,
    wait_run,
    webhook_endpoint,
)

UNLIMITED = {"per_minute": 10_000_000, "per_day": 1_000_000_000}


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


class Config:
    def __init__(self) -> None:
        self.customers = _int("BENCH_CUSTOMERS", 1000)
        self.backfill_customers = _int("BENCH_BACKFILL_CUSTOMERS", 10000)
        self.time_scale = _float("BENCH_TIME_SCALE", 5.0)
        self.sandbox_time_scale = _float("BENCH_SANDBOX_TIME_SCALE", 20.0)
        self.workers = _int("BENCH_WORKERS", 2)
        self.naive_customers = _int("BENCH_NAIVE_CUSTOMERS", 100)
        self.scaling_customers = _int("BENCH_SCALING_CUSTOMERS", 100)
        self.webhook_changes = _int("BENCH_WEBHOOK_CHANGES", 100)
        self.webhook_interval = _float("BENCH_WEBHOOK_INTERVAL_S", 1.0)
        self.webhook_customers = _int("BENCH_WEBHOOK_CUSTOMERS", 50)
        self.load_seconds = _int("BENCH_LOAD_SECONDS", 30)
        self.load_users = _int("BENCH_LOAD_USERS", 10)
        self.load_wait = _float("BENCH_LOAD_WAIT_S", 0.2)
        self.backfill_complete = os.environ.get("BENCH_BACKFILL_COMPLETE") == "1"
        self.results = Path(os.environ.get("BENCH_RESULTS", ROOT / "bench" / "results.json"))


STARTED = time.monotonic()


def say(text: str) -> None:
    print(f"[{time.monotonic() - STARTED:7.1f}s] {text}", flush=True)


def per_min(records: float, seconds: float, scale: float) -> float:
    """Records per minute of emulated time from a count over real seconds."""
    return records * 60.0 / (seconds * scale) if seconds > 0 else 0.0


def ceiling_records_per_min() -> int:
    """What the QBO emulator lets one realm write in a minute: every batch full, the rest single."""
    from emulators.qbo import QboEmulatorConfig

    config = QboEmulatorConfig()
    batches = config.app_batch_requests_per_minute
    return batches * config.batch_max_items + (config.realm_requests_per_minute - batches)


def delta(after: dict[str, Any], before: dict[str, Any], keys: tuple[str, ...]) -> dict[str, int]:
    return {key: int(after.get(key, 0)) - int(before.get(key, 0)) for key in keys}


QBO_KINDS = ("total", "batch", "write", "query", "read", "throttled")


def measured_sync(stack: Stack, account: BenchAccount, workers: Workers, full: bool = False, timeout: float | None = None) -> dict[str, Any]:
    """One run with its QBO and Fusebill request counts, and the CPU of the workers and emulators
    (with a `timeout`, a run still going then is measured as it stands: `run.finished` False)."""
    qbo0 = stack.qbo.counts(account.realm_id)
    fusebill0 = stack.fusebill.emulator.request_counts(account.api_key)
    worker_meter = CpuMeter(workers.pids).start()
    emulator_meter = CpuMeter(stack.emulator_pids).start()
    run = wait_run(stack, start_run(stack, account, full=full), timeout=timeout or 7200, give_up=timeout is not None)
    cpu = worker_meter.stop()
    emulators = emulator_meter.stop()
    qbo1 = stack.qbo.counts(account.realm_id)
    fusebill1 = stack.fusebill.emulator.request_counts(account.api_key)
    return {"run": run, "qbo": delta(qbo1, qbo0, QBO_KINDS),
            "fusebill": {"total": fusebill1["total"] - fusebill0["total"], "429": fusebill1["rate_limited"] - fusebill0["rate_limited"],
                         "by_route": fusebill1["by_route"], "by_status": fusebill1["by_status"]},
            "workers_cpu": cpu, "emulators_cpu": emulators}


def failure_reasons(stack: Stack, account: BenchAccount) -> dict[str, int]:
    from collections import Counter

    from sqlalchemy import select

    from portal.models import Environment, SyncRecord

    with stack.database.session_scope() as session:
        environments = list(session.scalars(select(Environment.id).where(Environment.account_id == account.account_id)))
        reasons = Counter(f"{r.state}: {(r.reason or '')[:90]}" for r in session.scalars(
            select(SyncRecord).where(SyncRecord.environment_id.in_(environments), SyncRecord.state != "synced")))
    return dict(reasons.most_common(8))


# ------------------------------------------------------------------ webhooks
def webhook_latencies(stack: Stack, account: BenchAccount, customer_ids: list[int], changes: int, interval: float) -> dict[str, Any]:
    """`changes` new invoices posted in Fusebill, one every `interval` s; each timed from the change
    to the moment the QBO emulator holds an invoice with its marker (polled through the QBO API)."""
    from jobs.sync.links import marker_of

    pending: dict[str, tuple[float, str]] = {}  # DocNumber -> (t0, marker)
    latencies: list[float] = []
    lock = threading.Lock()
    done = threading.Event()

    def poll() -> None:
        while True:
            with lock:
                numbers = list(pending)[:30]
            if not numbers:
                if done.is_set():
                    return
                time.sleep(0.05)
                continue
            quoted = ", ".join(f"'{n}'" for n in numbers)
            rows = stack.qbo.query_all(account.realm_id, "Invoice", f"DocNumber IN ({quoted})")
            now = time.monotonic()
            with lock:
                for row in rows:
                    entry = pending.get(str(row.get("DocNumber")))
                    if entry and marker_of(row.get("PrivateNote")) == entry[1]:
                        latencies.append(now - entry[0])
                        del pending[str(row["DocNumber"])]
            time.sleep(0.2)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    next_at = time.monotonic()
    for i in range(changes):
        time.sleep(max(0.0, next_at - time.monotonic()))
        next_at += interval
        customer_id = customer_ids[i % len(customer_ids)]
        t0 = time.monotonic()
        answer = stack.fusebill.emulator.records(account.api_key, {"op": "post_invoice", "customer_id": customer_id,
                                                                  "charges": [{"name": "Benchmark change", "amount": "10.00"}]})
        result = answer["results"][0]
        with lock:
            pending[str(result["invoiceNumber"])[:21]] = (t0, f"fusebill:invoice:{result['id']}")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with lock:
            if not pending:
                break
        time.sleep(0.2)
    done.set()
    with lock:
        missing = len(pending)
        pending.clear()
    poller.join(30)
    ordered = sorted(latencies)
    values = ordered + [float("inf")] * missing  # a change never seen counts as infinitely late

    def pct(p: float) -> float:
        return values[max(0, math.ceil(p * len(values)) - 1)] if values else float("nan")

    return {"changes": changes, "seen": len(ordered), "missing": missing, "p50_s": pct(0.50), "p95_s": pct(0.95),
            "max_s": ordered[-1] if ordered else None, "mean_s": statistics.fmean(ordered) if ordered else None}


def synced_customers(stack: Stack, account: BenchAccount) -> list[int]:
    from sqlalchemy import select

    from portal.models import Environment, SyncRecord

    with stack.database.session_scope() as session:
        environments = list(session.scalars(select(Environment.id).where(Environment.account_id == account.account_id)))
        return sorted(int(r.fusebill_id) for r in session.scalars(select(SyncRecord).where(
            SyncRecord.environment_id.in_(environments), SyncRecord.entity_type == "customer", SyncRecord.state == "synced")))


# ------------------------------------------------------------------ the portal under load
def portal_load(stack: Stack, account: BenchAccount, run_id: int, config: Config) -> dict[str, Any]:
    from sqlalchemy import select

    from portal.models import User
    from tests.portal_fixtures import TEST_PASSWORD

    with stack.database.session_scope() as session:
        email = session.scalar(select(User.email).where(User.account_id == account.account_id))
    records_page = account.client.get("/sync/records").status_code == 200
    folder = Path(tempfile.mkdtemp(prefix="bench-locust-"))
    env = {**os.environ, "BENCH_LOAD_EMAIL": email, "BENCH_LOAD_PASSWORD": TEST_PASSWORD, "BENCH_LOAD_RUN_ID": str(run_id),
           "BENCH_LOAD_RECORDS": "1" if records_page else "0", "BENCH_LOAD_WAIT_S": str(config.load_wait)}
    command = [PYTHON, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py"), "--headless", "-u", str(config.load_users),
               "-r", str(config.load_users), "-t", f"{config.load_seconds}s", "--host", stack.base_env["PORTAL_BASE_URL"],
               "--csv", str(folder / "load"), "--only-summary", "--loglevel", "WARNING"]
    completed = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=config.load_seconds + 120)
    with open(folder / "load_stats.csv") as handle:
        rows = list(csv.DictReader(handle))
    total = next(r for r in rows if r["Name"] == "Aggregated")
    pages = {r["Name"]: {"requests": int(r["Request Count"]), "failures": int(r["Failure Count"]), "p50_ms": float(r["50%"]),
                         "p99_ms": float(r["99%"]), "rps": float(r["Requests/s"])} for r in rows if r["Name"] != "Aggregated"}
    return {"rps": float(total["Requests/s"]), "p99_ms": float(total["99%"]), "p50_ms": float(total["50%"]), "requests": int(total["Request Count"]),
            "failures": int(total["Failure Count"]), "pages": pages, "records_page": records_page, "users": config.load_users,
            "wait_s": config.load_wait, "seconds": config.load_seconds, "locust_exit": completed.returncode,
            "locust_stderr": completed.stderr[-500:] if completed.returncode else ""}


# ------------------------------------------------------------------ the phases
def main_stack(config: Config, out: dict[str, Any], folder: Path) -> None:
    scale = config.time_scale
    say(f"main stack: time scale {scale:g}, {config.workers} workers")
    stack = Stack(folder / "main", scale).start()
    live_settings = {"FUSEBILL_SANDBOX_REQUESTS_PER_MINUTE": 950}  # the engine's live-account setting (the portal's sandbox slot, see README)
    try:
        stack.start_portal()
        live = setup_account(stack, "Live", customers=config.customers, seed=1, account_type="live")
        records = dataset_records(live.dataset())
        say(f"first sync: {config.customers} customers, {len(records)} Fusebill records, Fusebill at live limits")
        workers = Workers(stack, config.workers, "live", **live_settings)
        first = measured_sync(stack, live, workers)
        first["audit"] = audit(stack, live, records)
        first["reasons"] = failure_reasons(stack, live)
        say(f"  {first['run']['status']} in {first['run']['seconds']:.1f}s; QBO {first['qbo']}; Fusebill {first['fusebill']['total']}")
        second = measured_sync(stack, live, workers)
        say(f"no-op resync: QBO {second['qbo']}")
        first["worker_cost"] = workers.stop()
        out["first_sync"], out["noop_resync"] = first, second

        say(f"naive baseline: {config.naive_customers} customers of the same data, own QBO company")
        from bench.naive import NaiveSync

        realm = stack.qbo.emulator.create_company(name="Bench naive", **{"country": "US", "home_currency": "USD", "tax": "none"})
        qbo0 = stack.qbo.counts(realm)
        naive = NaiveSync(stack.qbo.emulator.quickbooks(realm), stack.fusebill.api_url, live.api_key, scale).run(config.naive_customers)
        qbo1 = stack.qbo.counts(realm)
        out["naive"] = {"customers": naive.customers, "records": naive.records, "failed": naive.failed, "seconds": naive.seconds,
                        "qbo_requests": qbo1["total"] - qbo0["total"], "qbo_429": qbo1["throttled"] - qbo0["throttled"],
                        "fusebill_requests": naive.fusebill_requests, "errors": naive.errors[:5],
                        "records_per_min": per_min(naive.records, naive.seconds, scale)}
        say(f"  {naive.records} records in {naive.seconds:.1f}s: {out['naive']['records_per_min']:.0f}/min")

        out["scaling"] = []
        for count in (1, 2, 4):
            accounts = [setup_account(stack, f"Scale{count}x{i}", customers=config.scaling_customers, seed=100 + 10 * count + i, account_type="live")
                        for i in range(4)]
            workers = Workers(stack, count, f"scale{count}", **live_settings)
            before = {a.realm_id: stack.qbo.counts(a.realm_id) for a in accounts}
            meter = CpuMeter(workers.pids).start()
            run_ids = [start_run(stack, a) for a in accounts]
            done = [wait_run(stack, r) for r in run_ids]
            cpu = meter.stop()
            workers.stop()
            span = (max(r["finished_at"] for r in done) - min(r["started_at"] for r in done)).total_seconds()
            realms = []
            for account, run in zip(accounts, done, strict=True):
                counts = delta(stack.qbo.counts(account.realm_id), before[account.realm_id], QBO_KINDS)
                result = audit(stack, account)
                realms.append({"records": result["in_qbo"], "lost": result["lost"], "duplicates": result["duplicates"], "seconds": run["seconds"],
                               "records_per_min": per_min(result["in_qbo"], run["seconds"], scale), "qbo": counts,
                               "qbo_requests_per_min": per_min(counts["total"], run["seconds"], scale),
                               "qbo_batches_per_min": per_min(counts["batch"], run["seconds"], scale)})
            total = sum(r["records"] for r in realms)
            out["scaling"].append({"workers": count, "records": total, "seconds": span, "records_per_min": per_min(total, span, scale),
                                   "workers_cpu": cpu, "realms": realms})
            say(f"scaling, {count} worker(s): {total} records over 4 realms in {span:.1f}s = {per_min(total, span, scale):.0f}/min")

        say(f"webhooks: {config.webhook_changes} changes, idle workers")
        hooked = setup_account(stack, "Webhooks", customers=config.webhook_customers, seed=7, account_type="live")
        backfill = setup_account(stack, "Backfill", customers=config.backfill_customers, seed=8, account_type="live")
        workers = Workers(stack, config.workers, "webhooks", **live_settings)
        wait_run(stack, start_run(stack, hooked))
        url, key = webhook_endpoint(hooked)
        stack.fusebill.emulator.register_webhook(hooked.api_key, url, key)
        customers = synced_customers(stack, hooked)
        out["webhooks_idle"] = webhook_latencies(stack, hooked, customers, config.webhook_changes, config.webhook_interval)
        say(f"  p50 {out['webhooks_idle']['p50_s']:.2f}s, p95 {out['webhooks_idle']['p95_s']:.2f}s")

        say(f"backfill of {config.backfill_customers} customers on the same workers; webhooks and portal load meanwhile")
        backfill_qbo0 = stack.qbo.counts(backfill.realm_id)
        run_id = start_run(stack, backfill)
        backfill_started = time.monotonic()
        while run_progress(stack, run_id)[1] == 0 and time.monotonic() - backfill_started < 600:
            time.sleep(0.5)  # planning done and the first chunk written: the backfill is under way
        out["webhooks_backfill"] = webhook_latencies(stack, hooked, customers, config.webhook_changes, config.webhook_interval)
        say(f"  p95 during backfill {out['webhooks_backfill']['p95_s']:.2f}s")
        out["portal"] = portal_load(stack, backfill, run_id, config)
        status, done_customers, total_customers = run_progress(stack, run_id)
        out["portal"]["backfill_running_at_end"] = status == "running"
        say(f"  portal {out['portal']['rps']:.1f} req/s, p99 {out['portal']['p99_ms']:.0f} ms; backfill {done_customers}/{total_customers} customers")
        if config.backfill_complete:
            wait_run(stack, run_id, timeout=6 * 3600)
        status, done_customers, total_customers = run_progress(stack, run_id)
        elapsed = time.monotonic() - backfill_started
        backfill_qbo = delta(stack.qbo.counts(backfill.realm_id), backfill_qbo0, QBO_KINDS)
        out["backfill"] = {"customers": total_customers, "customers_done": done_customers, "status": status, "seconds": elapsed,
                           "qbo": backfill_qbo, "qbo_requests_per_min": per_min(backfill_qbo["total"], elapsed, scale)}
        workers.stop()
    finally:
        stack.stop()


def sandbox_stack(config: Config, out: dict[str, Any], folder: Path) -> None:
    scale = config.sandbox_time_scale
    say(f"sandbox stack: time scale {scale:g}; the same {config.customers} customers, Fusebill at sandbox limits (50/min, 5,000/day)")
    stack = Stack(folder / "sandbox", scale).start()
    try:
        account = setup_account(stack, "Sandbox", customers=config.customers, seed=1, account_type="sandbox")
        workers = Workers(stack, config.workers, "sandbox", FUSEBILL_SANDBOX_REQUESTS_PER_MINUTE=48)
        # At the bound (≈ 2 requests a customer, 50 a minute) the run takes `expected` real seconds;
        # it is given twice that, then measured as it stands.
        expected = (2 * config.customers + 10) / 50 * 60 / scale
        result = measured_sync(stack, account, workers, timeout=max(120.0, 2 * expected))
        result["audit"] = audit(stack, account)
        result["worker_cost"] = workers.stop()
        out["sandbox"] = result
        say(f"  {result['run']['status']} in {result['run']['seconds']:.1f}s; Fusebill {result['fusebill']['total']} requests, "
            f"{result['fusebill']['429']} answered 429")
    finally:
        stack.stop()


def unlimited_stack(config: Config, out: dict[str, Any], folder: Path) -> None:
    say("worker cost: emulator limits off (QBO RELAXED_LIMITS, unlimited Fusebill accounts, our limiter's windows ~0)")
    stack = Stack(folder / "unlimited", 1.0, qbo_limits="off").start()
    settings = {"FUSEBILL_SANDBOX_REQUESTS_PER_MINUTE": 10_000_000, "RATE_LIMIT_TIME_SCALE": 100_000}
    try:
        out["unlimited"] = {}
        for label, customers, seed in (("1k", config.customers, 1), ("10k", config.backfill_customers, 8)):
            account = setup_account(stack, f"Free{label}", customers=customers, seed=seed, account_type="live", rate_limits=UNLIMITED)
            workers = Workers(stack, config.workers, f"free{label}", **settings)
            result = measured_sync(stack, account, workers)
            result["worker_cost"] = workers.stop()
            result["audit"] = audit(stack, account)
            out["unlimited"][label] = result
            say(f"  {label}: {result['audit']['in_qbo']} records in {result['run']['seconds']:.1f}s, worker CPU {result['workers_cpu']['cpu_s']:.1f}s, "
                f"peak RSS {result['worker_cost']['peak_rss_mb']:.0f} MB")
    finally:
        stack.stop()


# ------------------------------------------------------------------ results
def machine(config: Config) -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), platform.processor())
    memory_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    return {"cpu_model": model, "cores": os.cpu_count(), "memory_gb": round(memory_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "os": platform.platform(), "time_scale": config.time_scale,
            "sandbox_time_scale": config.sandbox_time_scale, "load_average_at_start": os.getloadavg()[0]}


def summarise(config: Config, raw: dict[str, Any]) -> dict[str, Any]:
    scale = config.time_scale
    first = raw["first_sync"]
    records = first["audit"]["records"]
    synced = first["audit"]["in_qbo"]
    seconds = first["run"]["seconds"]
    rate = per_min(synced, seconds, scale)
    ceiling = ceiling_records_per_min()
    sandbox = raw["sandbox"]
    sandbox_synced = sandbox["audit"]["in_qbo"]
    sandbox_calls_per_record = sandbox["fusebill"]["total"] / max(sandbox_synced, 1)
    sandbox_rate = per_min(sandbox_synced, sandbox["run"]["seconds"], config.sandbox_time_scale)
    # The bound the sandbox limit sets for this data: 50 requests a minute ÷ the Fusebill requests a
    # record costs this sync (measured in the live run: the same sync of the same data, where no
    # limit forces a request to be repeated).
    sandbox_bound = 50 / max(first["fusebill"]["total"] / max(synced, 1), 1e-9)
    one_k, ten_k = raw["unlimited"]["1k"], raw["unlimited"]["10k"]
    free_records = one_k["audit"]["in_qbo"]
    demand = ceiling * scale / 60  # records a real second the ceiling asks for at this scale
    capacity = free_records / one_k["run"]["seconds"]
    results = {
        "records": records,
        "qbo_calls_per_record_first_sync": round(first["qbo"]["total"] / max(synced, 1), 4),
        "fusebill_calls_per_record_first_sync": round(first["fusebill"]["total"] / max(synced, 1), 4),
        "writes_noop_resync": raw["noop_resync"]["qbo"]["write"] + raw["noop_resync"]["qbo"]["batch"],
        "ceiling_records_per_min": ceiling,
        "ceiling_fraction": round(rate / ceiling, 3),
        "sandbox_records_per_min": round(sandbox_rate, 1),
        "sandbox_bound_records_per_min": round(sandbox_bound, 1),
        "naive_records_per_min": round(raw["naive"]["records_per_min"], 1),
        "speedup_vs_naive": round(rate / max(raw["naive"]["records_per_min"], 1e-9), 2),
        "throttled_429": first["qbo"]["throttled"] + first["fusebill"]["429"] + sandbox["qbo"]["throttled"] + sandbox["fusebill"]["429"],
        # An unfinished run's unsynced records are not lost, only not reached: counted only when finished.
        "lost_records": first["audit"]["lost"] + (sandbox["audit"]["lost"] if sandbox["run"]["finished"] else 0),
        "duplicate_records": first["audit"]["duplicates"] + sandbox["audit"]["duplicates"],
        "webhook_latency_p50_s": round(raw["webhooks_idle"]["p50_s"], 2),
        "webhook_latency_p95_s": round(raw["webhooks_idle"]["p95_s"], 2),
        "webhook_latency_p95_during_backfill_s": round(raw["webhooks_backfill"]["p95_s"], 2),
        "worker_cpu_s_per_1k_records": round(one_k["workers_cpu"]["cpu_s"] / max(free_records, 1) * 1000, 2),
        "worker_peak_rss_mb_1k": round(one_k["worker_cost"]["peak_rss_mb"], 1),
        "worker_peak_rss_mb_10k": round(ten_k["worker_cost"]["peak_rss_mb"], 1),
        "scaling_records_per_min_1_2_4_workers": [round(s["records_per_min"], 1) for s in raw["scaling"]],
        "portal_rps": round(raw["portal"]["rps"], 1),
        "portal_p99_ms": round(raw["portal"]["p99_ms"], 1),
        "machine": machine(config),
    }
    results["details"] = {
        "formula": "records_per_min = records * 60 / (real_seconds * time_scale)",
        "first_sync": {"records_synced": synced, "seconds": seconds, "records_per_min": round(rate, 1), "status": first["run"]["status"],
                       "qbo_requests": first["qbo"], "fusebill_requests": first["fusebill"]["total"], "fusebill_429": first["fusebill"]["429"],
                       "fusebill_by_route": first["fusebill"]["by_route"], "engine_counts": first["run"]["counts"], "audit": first["audit"],
                       "not_synced_reasons": first["reasons"], "qbo_requests_per_min": round(per_min(first["qbo"]["total"], seconds, scale), 1),
                       "qbo_batches_per_min": round(per_min(first["qbo"]["batch"], seconds, scale), 1),
                       "qbo_single_writes_per_min": round(per_min(first["qbo"]["write"], seconds, scale), 1),
                       "documents_per_batch": round((first["audit"]["qbo_documents"] - first["qbo"]["write"]) / max(first["qbo"]["batch"], 1), 1),
                       "workers_cpu": first["workers_cpu"], "emulators_cpu": first["emulators_cpu"], "worker_cost": first["worker_cost"]},
        "worker_headroom": {"ceiling_demand_records_per_real_s": round(demand, 1), "unthrottled_records_per_real_s": round(capacity, 1),
                            "capacity_over_demand": round(capacity / demand, 2),
                            "unthrottled_workers_cores_used": round(one_k["workers_cpu"]["cores_used"], 2)},
        "noop_resync": {"qbo_requests": raw["noop_resync"]["qbo"], "fusebill_requests": raw["noop_resync"]["fusebill"]["total"],
                        "engine_counts": raw["noop_resync"]["run"]["counts"], "seconds": raw["noop_resync"]["run"]["seconds"]},
        "sandbox": {"records_synced": sandbox_synced, "seconds": sandbox["run"]["seconds"], "time_scale": config.sandbox_time_scale,
                    "fusebill_requests": sandbox["fusebill"]["total"], "fusebill_calls_per_record": round(sandbox_calls_per_record, 4),
                    "fusebill_429": sandbox["fusebill"]["429"], "qbo_429": sandbox["qbo"]["throttled"],
                    "fraction_of_bound": round(sandbox_rate / sandbox_bound, 3),
                    "status": sandbox["run"]["status"], "finished": sandbox["run"]["finished"],
                    "customers_done": sandbox["run"]["customers_done"], "customers_total": sandbox["run"]["customers_total"],
                    "engine_counts": sandbox["run"]["counts"], "fusebill_by_status": sandbox["fusebill"].get("by_status"),
                    "audit": sandbox["audit"], "workers_cpu": sandbox["workers_cpu"]},
        "naive": raw["naive"],
        "webhooks_idle": raw["webhooks_idle"], "webhooks_backfill": raw["webhooks_backfill"], "backfill": raw["backfill"],
        "portal": raw["portal"],
        "unlimited": {label: {"records_synced": r["audit"]["in_qbo"], "seconds": r["run"]["seconds"], "workers_cpu": r["workers_cpu"],
                              "worker_cost": r["worker_cost"], "lost": r["audit"]["lost"], "duplicates": r["audit"]["duplicates"],
                              "emulators_cpu": r["emulators_cpu"]}
                      for label, r in raw["unlimited"].items()},
        "scaling": raw["scaling"],
        "sizes": {"customers": config.customers, "backfill_customers": config.backfill_customers, "naive_customers": config.naive_customers,
                  "scaling_customers_per_realm": config.scaling_customers, "webhook_changes": config.webhook_changes,
                  "webhook_interval_s": config.webhook_interval, "workers": config.workers},
    }
    return results


TARGETS = {
    "qbo_calls_per_record_first_sync": ("≤ 0.2", lambda v, r: v <= 0.2),
    "fusebill_calls_per_record_first_sync": ("≤ 0.15", lambda v, r: v <= 0.15),
    "writes_noop_resync": ("0", lambda v, r: v == 0),
    "ceiling_fraction": ("≥ 0.9", lambda v, r: v >= 0.9),
    "sandbox_records_per_min": ("≥ 0.9 × bound", lambda v, r: v >= 0.9 * r["sandbox_bound_records_per_min"]),
    "speedup_vs_naive": ("expect ≥ 5", lambda v, r: v >= 5),
    "lost_records": ("0", lambda v, r: v == 0),
    "duplicate_records": ("0", lambda v, r: v == 0),
    "webhook_latency_p95_s": ("< 10", lambda v, r: v < 10),
    "webhook_latency_p95_during_backfill_s": ("< 10", lambda v, r: v < 10),
    "worker_peak_rss_mb_10k": ("≤ 1.2 × 1k", lambda v, r: v <= 1.2 * r["worker_peak_rss_mb_1k"]),
    "scaling_records_per_min_1_2_4_workers": ("grows", lambda v, r: v[0] < v[1] < v[2]),
    "portal_p99_ms": ("< 100", lambda v, r: v < 100),
}


def table(results: dict[str, Any]) -> str:
    lines = [f"{'key':<42} {'value':>22}  target", "-" * 80]
    for key, value in results.items():
        if key in ("machine", "details"):
            continue
        target, check = TARGETS.get(key, ("", None))
        verdict = "" if check is None else ("met" if check(value, results) else "MISSED")
        shown = ", ".join(f"{v:g}" for v in value) if isinstance(value, list) else f"{value:g}" if isinstance(value, (int, float)) else str(value)
        lines.append(f"{key:<42} {shown:>22}  {target} {verdict}".rstrip())
    m = results["machine"]
    lines.append(f"machine: {m['cpu_model']}, {m['cores']} cores, {m['memory_gb']} GB, Python {m['python']}, time scale {m['time_scale']:g} "
                 f"(sandbox run {m['sandbox_time_scale']:g}), load average at start {m['load_average_at_start']:.2f}")
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    return value


def main() -> int:
    config = Config()
    folder = Path(tempfile.mkdtemp(prefix="fbqbo-bench-"))
    say(f"working folder {folder} (logs of every process)")
    raw: dict[str, Any] = {}
    main_stack(config, raw, folder)
    sandbox_stack(config, raw, folder)
    unlimited_stack(config, raw, folder)
    results = summarise(config, raw)
    results["details"]["total_seconds"] = round(time.monotonic() - STARTED, 1)
    results["details"]["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    config.results.write_text(json.dumps(_plain(results), indent=2, default=str) + "\n")
    print()
    print(table(results))
    print(f"\nwritten to {config.results} in {time.monotonic() - STARTED:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
