"""The sync against the emulators, end to end: a committed database (SQLite and PostgreSQL), real
Redis, forked RQ work horses, the portal's own set-up walk-through, and the books read back from
the QBO emulator through its API.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import pytest
from redis import Redis
from rq import Queue, Worker
from sqlalchemy import select

from emulators.fusebill.testing import RunningFusebill, running_emulator as running_fusebill
from emulators.qbo.testing import RunningEmulator, running_emulator as running_qbo
from jobs import context as job_context_module
from jobs.queues import ALL
from portal import create_app
from portal.models import Account, QboConnection, SyncRun
from portal.models.integration import RUN_FINISHED
from tests.integration.conftest import connect
from tests.portal_fixtures import fresh_database, make_settings, post_form, sign_in

LEDGERS = ("deferred_revenue", "sales_tax_payable", "payments_deposit", "refunds", "credits", "write_offs")


# QBO's limits, enforced by the emulator and by our Redis limiter alike, run this much faster, so a
# 200-customer sync under the real limits (500 requests and 40 batches a "minute") takes seconds.
TIME_SCALE = 20.0


@pytest.fixture(scope="module")
def qbo() -> Iterator[RunningEmulator]:
    from emulators.qbo.config import QboEmulatorConfig

    with running_qbo(QboEmulatorConfig(time_scale=TIME_SCALE)) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def fusebill() -> Iterator[RunningFusebill]:
    with running_fusebill() as emulator:
        yield emulator


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request) -> str:  # type: ignore[no-untyped-def]
    return request.param


@dataclass
class SyncWorld:
    app: Any
    database: Any
    redis: Redis
    qbo: RunningEmulator
    fusebill: RunningFusebill
    client: Any
    account_id: int
    realm_id: str
    api_key: str
    redis_url: str = ""

    def session(self):  # type: ignore[no-untyped-def]
        return self.database.new_session()

    def sync(self, timeout: float = 600, full: bool = False) -> SyncRun:
        """Press Sync now (through the service the button uses) and work the queues until the run ends."""
        from portal.extensions import service_context
        from portal.services.sync import start_sync

        with self.app.app_context():
            ctx = service_context()
            with self.database.session_scope() as session:
                run_id = start_sync(session, ctx, session.get(Account, self.account_id), trigger="test", full=full).id
        return self.work_until_finished(run_id, timeout)

    def work_until_finished(self, run_id: int, timeout: float = 600) -> SyncRun:
        deadline = time.monotonic() + timeout
        queues = [Queue(name, connection=self.redis) for name in ALL]
        while True:
            Worker(queues, connection=self.redis).work(burst=True, with_scheduler=True, logging_level="WARNING")
            with self.database.session_scope() as session:
                run = session.get(SyncRun, run_id)
                if run.status in RUN_FINISHED:
                    session.expunge(run)
                    return run
            for queue in queues:
                registry = queue.failed_job_registry
                for job_id in registry.get_job_ids():
                    job = queue.fetch_job(job_id)
                    raise AssertionError(f"job {job_id} failed: {job.latest_result().exc_string if job and job.latest_result() else '?'}")
            if time.monotonic() > deadline:
                with self.database.session_scope() as session:
                    run = session.get(SyncRun, run_id)
                    state = (run.status, run.customers_done, run.customers_total, run.counts, run.error)
                raise AssertionError(f"run {run_id} did not finish in {timeout}s: {state}")
            time.sleep(0.3)

    def qbo_api(self):  # type: ignore[no-untyped-def]
        from portal.extensions import service_context
        from portal.services.qbo_tokens import qbo_session

        with self.app.app_context():
            ctx = service_context()
            with self.database.session_scope() as session:
                connection = session.scalar(select(QboConnection).where(QboConnection.realm_id == self.realm_id, QboConnection.disconnected_at.is_(None)))
                connection_id = connection.id
            return qbo_session(ctx, connection_id)


def build_world(tmp_path: Path, backend: str, qbo: RunningEmulator, fusebill: RunningFusebill, redis_url: str, *, customers: int, seed: int,
                company: dict[str, Any], seed_options: dict[str, Any] | None = None, ledgers: tuple[str, ...] = LEDGERS):  # type: ignore[no-untyped-def]
    """A committed database and an account set up through the portal's pages, ready to sync."""
    # The suite's own redis-server (tests/support/services.py), emptied first: RQ job ids are per
    # portal database, so one world must not see another's jobs.
    with fresh_database(backend, tmp_path) as migrated:
        settings = make_settings(migrated.url, redis_url, tmp_path / "instance", qbo_emulator_url=qbo.url,
                                 fusebill_staging_url=fusebill.url, fusebill_production_url=fusebill.url,
                                 fusebill_sandbox_requests_per_minute=100_000, rate_limit_time_scale=TIME_SCALE)
        app = create_app(settings, database=migrated.database)
        redis = Redis.from_url(redis_url)
        redis.flushdb()
        with migrated.database.session_scope() as session:
            from portal.models import ROLE_ADMIN, User
            from tests.portal_fixtures import _test_password_hash

            account = Account(name=f"Sync test {seed}", fusebill_account_id=f"FB-SYNC-{seed}-{backend}", integration_enabled=True)
            session.add(account)
            session.flush()
            admin = User(email=f"admin{seed}{backend}@example.com", name="Admin", password_hash=_test_password_hash(), role=ROLE_ADMIN,
                         account_id=account.id, active=True)
            session.add(admin)
            session.flush()
            account_id = account.id
        client = app.test_client()
        with migrated.database.session_scope() as session:
            admin_user = session.scalar(select(User).where(User.account_id == account_id))
            session.expunge(admin_user)
        sign_in(client, admin_user)
        realm = qbo.create_company(name=f"Books {seed} {backend}", **company)
        connect(client, qbo, realm_id=realm)
        qbo.set_preferences(realm, auto_apply_credits=False)
        for ledger in ledgers:
            response = post_form(client, "/setup/ledgers", "/setup/ledgers/create", {"ledger": ledger})
            assert response.status_code in (200, 302), response.get_data(as_text=True)[:500]
        api_key = fusebill.create_account("live")
        fusebill.seed(api_key, customers=customers, seed=seed, **(seed_options or {}))
        response = post_form(client, "/setup/environment", "/setup/environment/fusebill-key/sandbox",
                             {"key-sandbox-environment": "sandbox", "key-sandbox-api_key": api_key})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        response = post_form(client, "/setup/settings", "/setup/settings", {"display_name_parts": ["company_name"], "update_display_names": "yes",
                                                                          "new_customers": "create", "sync_start_date": "2020-01-01", "schedule": "off"})
        assert response.status_code in (200, 302)
        if company.get("tax") == "codes":
            map_every_tax(app, migrated.database, realm, seed, customers, seed_options or {})
        client.get("/setup/")
        job_context_module.use_app(app)
        job_context_module.use_context(None)
        try:
            yield SyncWorld(app, migrated.database, redis, qbo, fusebill, client, account_id, realm, api_key, redis_url)
        finally:
            job_context_module.use_context(None)
            job_context_module.use_app(None)


def money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def map_every_tax(app, database, realm_id: str, seed: int, customers: int, seed_options: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    """What an accountant does on the Map taxes step, for every rule and combination the data set
    charges: each combination to the code whose rates match, each rule to its rate, and the zero-rate
    code for non-taxable records (the step itself is tested in tests/integration/test_taxes.py)."""
    from emulators.sampledata.generator import generate
    from portal.extensions import service_context
    from portal.models import Environment, TaxCombination, TaxMapping
    from portal.services.qbo_tokens import qbo_session
    from portal.services.taxes import combination_key, suggest_code, suggest_rate

    dataset = generate(customers, seed, **seed_options)
    with app.app_context():
        ctx = service_context()
        with database.session_scope() as session:
            connection = session.scalar(select(QboConnection).where(QboConnection.realm_id == realm_id))
            environment = session.get(Environment, connection.environment_id)
            connection_id, environment_id = connection.id, environment.id
        codes = qbo_session(ctx, connection_id).tax_codes_with_rates()
    with database.session_scope() as session:
        home = session.get(QboConnection, connection_id).home_currency
        combos = {tuple(sorted({str(t.tax_rule_id) for t in invoice.taxes})) for bundle in dataset.customers
                  for invoice in bundle.invoices if bundle.customer.currency == home}  # the others are held: no multicurrency
        combos.add(())
        used = {key for keys in combos for key in keys}
        rules = {}
        for rule in dataset.tax_rules:
            if str(rule.id) not in used:
                continue
            row = TaxMapping(environment_id=environment_id, realm_id=realm_id, fusebill_tax_key=str(rule.id), fusebill_tax_name=rule.name,
                             fusebill_tax_rate=rule.percentage, source="discovered")
            session.add(row)
            rules[str(rule.id)] = row
        for keys in sorted(combos):
            code = suggest_code([rules[k] for k in keys], codes)
            assert code is not None, f"no QBO tax code matches {keys}"
            session.add(TaxCombination(environment_id=environment_id, realm_id=realm_id, rule_keys=combination_key(keys),
                                       label=" + ".join(rules[k].fusebill_tax_name for k in keys), qbo_tax_code_id=code.id,
                                       qbo_tax_code_name=code.name))
            for key in keys:
                rate = suggest_rate(rules[key], code.rates, [code])
                assert rate is not None, f"no rate of {code.name} matches {rules[key].fusebill_tax_name}"
                rules[key].qbo_tax_rate_id, rules[key].qbo_tax_rate_name, rules[key].qbo_tax_rate_percent = rate.id, rate.name, rate.percent
