"""The portal under load (locust, headless; started by bench/run.py while a sync runs).

Each simulated user signs in once (outside the measured requests: sign-in hashes the password with
scrypt on purpose) and then reads the pages a user watching a sync reads: the sync overview, the
running run's page, the set-up overview and, when the portal has it, the records page.
Configured through the environment: BENCH_LOAD_EMAIL, BENCH_LOAD_PASSWORD, BENCH_LOAD_RUN_ID,
BENCH_LOAD_RECORDS (1 when /sync/records exists), BENCH_LOAD_WAIT_S (think time between pages).
"""
from __future__ import annotations

import os
import re

import requests
from locust import HttpUser, constant, task

EMAIL = os.environ.get("BENCH_LOAD_EMAIL", "")
PASSWORD = os.environ.get("BENCH_LOAD_PASSWORD", "")
RUN_ID = os.environ.get("BENCH_LOAD_RUN_ID", "1")
RECORDS = os.environ.get("BENCH_LOAD_RECORDS") == "1"
WAIT = float(os.environ.get("BENCH_LOAD_WAIT_S", "0.2"))


class PortalUser(HttpUser):
    wait_time = constant(WAIT)

    def on_start(self) -> None:
        with requests.Session() as browser:
            page = browser.get(f"{self.host}/sign-in", timeout=30)
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text) or re.search(r'value="([^"]+)"[^>]*name="csrf_token"', page.text)
            answer = browser.post(f"{self.host}/sign-in", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token.group(1) if token else ""},
                                  allow_redirects=False, timeout=30)
            if answer.status_code != 302:
                raise RuntimeError(f"sign-in failed: {answer.status_code}")
            for cookie in browser.cookies:
                self.client.cookies.set(cookie.name, cookie.value)

    @task(3)
    def overview(self) -> None:
        self.client.get("/sync/", name="/sync/")

    @task(3)
    def run_page(self) -> None:
        self.client.get(f"/sync/runs/{RUN_ID}", name="/sync/runs/<id>")

    @task(1)
    def setup_overview(self) -> None:
        self.client.get("/setup/", name="/setup/")

    @task(2)
    def records(self) -> None:
        if RECORDS:
            self.client.get("/sync/records", name="/sync/records")
        else:
            self.client.get("/sync/", name="/sync/")
