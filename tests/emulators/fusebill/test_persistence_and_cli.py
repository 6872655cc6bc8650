"""A state file keeps accounts, records and webhooks across restarts; the module runs from a shell."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import requests

from emulators.fusebill import FusebillEmulatorConfig
from emulators.fusebill.testing import running_emulator

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_accounts_records_and_webhooks_survive_a_restart(tmp_path):
    state = str(tmp_path / "fusebill.sqlite")
    with running_emulator(FusebillEmulatorConfig(state_path=state)) as first:
        key = first.create_account("sandbox", name="persistent")
        first.seed(key, 15, 9)
        customers = first.get(key, "/customers", pageSize=100).json()
        target = next(c for c in customers if c["status"] == "Active")
        first.records(key, {"op": "update_customer", "customer_id": target["id"], "set": {"lastName": "Persisted"}})
        invoice = first.records(key, {"op": "post_invoice", "customer_id": target["id"], "charges": [{"name": "Plan", "amount": "12.00"}]})
        first.register_webhook(key, "http://127.0.0.1:9/hook", "k")
        before = {path: first.get(key, path).text for path in (
            "/customers?pageSize=100", f"/customers/{target['id']}/overview", "/Invoices?pageSize=1000",
            f"/customers/{target['id']}/customerArActivities?pageSize=1000",
        )}
    with running_emulator(FusebillEmulatorConfig(state_path=state)) as second:
        after = {path: second.get(key, path).text for path in before}
        assert after == {path: text.replace(first.base_url, second.base_url) for path, text in before.items()}
        assert second.webhook_log(key)["webhooks"][0]["url"] == "http://127.0.0.1:9/hook"
        # New records continue the id sequences instead of reusing ids.
        newer = second.records(key, {"op": "post_invoice", "customer_id": target["id"], "charges": [{"name": "Plan", "amount": "1.00"}]})
        assert newer["results"][0]["id"] == invoice["results"][0]["id"] + 1
        assert newer["results"][0]["invoiceNumber"] == invoice["results"][0]["invoiceNumber"] + 1
        second.reset()
    with running_emulator(FusebillEmulatorConfig(state_path=state)) as third:
        assert third.get(key, "/customers").status_code == 401  # reset removed it from the file too


def test_memory_only_emulators_start_empty():
    with running_emulator() as first:
        key = first.create_account("live")
    with running_emulator() as second:
        assert second.get(key, "/customers").status_code == 401


def test_seeding_twice_needs_replace(tmp_path):
    with running_emulator() as emulator:
        key = emulator.create_account("live")
        summary = emulator.seed(key, 12, 1)
        assert summary["counts"]["customers"] == 12 and set(summary["currencies"]) <= {"USD", "CAD", "EUR", "GBP"}
        again = emulator.session.post(f"{emulator.control_url}/seed", json={"api_key": key, "customers": 5, "seed": 2}, timeout=30)
        assert again.status_code == 409
        emulator.seed(key, 5, 2, replace=True)
        assert emulator.get(key, "/customers").headers["X-Count"] == "5"
        bad = emulator.session.post(f"{emulator.control_url}/seed", json={"api_key": key, "customers": 5, "seed": 2, "colour": "red"}, timeout=30)
        assert bad.status_code == 400 and "colour" in bad.json()["error"]


def test_the_module_prints_its_v1_url_and_serves(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "emulators.fusebill", "--port", "0", "--state-file", str(tmp_path / "cli.sqlite")],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        banner = process.stdout.readline().strip()
        match = re.fullmatch(r"Fusebill emulator \(staging\): (http://127\.0\.0\.1:\d+/v1)", banner)
        assert match, banner
        url = match.group(1)
        assert requests.get(f"{url}/customers", timeout=10).status_code == 401
        health = requests.get(url.removesuffix("/v1") + "/_emulator/health", timeout=10).json()
        assert health["environment"] == "staging" and health["base_url"] == url
    finally:
        process.terminate()
        process.communicate(timeout=10)
