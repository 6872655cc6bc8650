"""`flask --app wsgi sync run|status`: start a run from the command line and read the runs' state.

The ready set-up is arranged as rows (connection, ledger choices, checked key, saved settings): the
pages that build it are tested in tests/integration. No worker runs: the sync is tested in tests/sync/.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import func, select

from jobs.queues import SYNC
from portal.models import AuditEvent, Environment, LedgerChoice, QboConnection, SyncRecord, SyncRun, utcnow
from portal.services.ledgers import required_ledgers


@pytest.fixture
def sync_queue(redis_url):
    queue = Queue(SYNC, connection=Redis.from_url(redis_url))
    before = set(queue.job_ids)
    yield queue
    for job_id in set(queue.job_ids) - before:
        job = queue.fetch_job(job_id)
        if job is not None:
            job.delete()


def _sandbox(session, account):
    return session.scalar(select(Environment).where(Environment.account_id == account.id, Environment.kind == "sandbox"))


@pytest.fixture
def ready(session, make_account):
    account = make_account(name="Ready Ltd", enabled=True, fusebill_account_id="FB-READY")
    environment = _sandbox(session, account)
    environment.fusebill_key_verified_at = environment.settings_saved_at = utcnow()
    connection = QboConnection(environment_id=environment.id, realm_id="4620", company_name="Ready Books", country="US", home_currency="USD",
                               refresh_token_expires_at=utcnow() + timedelta(days=90), company_checked_at=utcnow())
    session.add(connection)
    for ledger in required_ledgers(connection.tax_setup or "none"):
        session.add(LedgerChoice(environment_id=environment.id, realm_id="4620", ledger=ledger, qbo_account_id="1",
                                 qbo_account_name=ledger, qbo_account_type="Other"))
    session.commit()
    return account


def test_run_without_wait_prints_the_run_id_and_queues_it_once(app, session, ready, sync_queue):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["sync", "run", "--account", "FB-READY"])
    assert result.exit_code == 0, result.output
    run = session.scalar(select(SyncRun))
    assert f"sync run {run.id} queued (sandbox environment of FB-READY)" in result.output
    assert run.trigger == "cli" and (run.counts or {}).get("full") is False
    assert f"sync-run-{run.id}" in sync_queue.job_ids
    again = runner.invoke(args=["sync", "run", "--account", "FB-READY", "--full"])
    assert again.exit_code == 0 and f"sync run {run.id} queued" in again.output  # the run already queued, not a second one
    assert session.scalar(select(func.count()).select_from(SyncRun)) == 1
    audit = session.scalar(select(AuditEvent).where(AuditEvent.action == "sync.started"))
    assert audit.details["trigger"] == "cli" and audit.actor_id is None


def test_refusals_exit_non_zero_with_the_reason(app, session, make_account, ready, sync_queue):
    runner = app.test_cli_runner()
    unknown = runner.invoke(args=["sync", "run", "--account", "FB-NOPE"])
    assert unknown.exit_code == 1 and "No account with Fusebill id FB-NOPE" in unknown.output
    make_account(enabled=True, fusebill_account_id="FB-NEW")
    unfinished = runner.invoke(args=["sync", "run", "--account", "FB-NEW"])
    assert unfinished.exit_code == 1
    assert "A sync cannot start yet:" in unfinished.output and "Connect QuickBooks: Not connected." in unfinished.output
    wrong = runner.invoke(args=["sync", "run", "--account", "FB-READY", "--environment", "production"])
    assert wrong.exit_code == 1 and "not the active one" in wrong.output
    make_account(enabled=False, fusebill_account_id="FB-OFF")
    disabled = runner.invoke(args=["sync", "run", "--account", "FB-OFF"])
    assert disabled.exit_code == 1 and "not enabled" in disabled.output
    assert session.scalar(select(func.count()).select_from(SyncRun)) == 0


def test_wait_follows_the_run_and_exits_non_zero_unless_it_succeeded(app, session, ready, sync_queue, monkeypatch):
    import portal.cli

    finish_as = {}

    def a_worker_meanwhile(seconds):  # type: ignore[no-untyped-def]
        assert seconds == 2.0
        run = session.scalar(select(SyncRun).order_by(SyncRun.id.desc()))
        if run.status == "queued":
            run.status, run.customers_total, run.customers_done, run.counts = "running", 4, 2, {"created": 3}
        else:
            run.status, run.customers_done, run.finished_at = finish_as["status"], 4, utcnow()
            run.counts = finish_as["counts"]
        session.commit()

    monkeypatch.setattr(portal.cli, "_pause", a_worker_meanwhile)
    runner = app.test_cli_runner()
    finish_as.update(status="partial", counts={"created": 5, "updated": 1, "records_synced": 9, "records_failed": 2, "qbo_requests": 7})
    result = runner.invoke(args=["sync", "run", "--account", "FB-READY", "--wait"])
    lines = result.output.splitlines()
    assert result.exit_code == 1, result.output
    assert any("running: 2 of 4 customers; created 3, updated 0" in line for line in lines)
    assert "Finished with 2 records failed." in result.output
    assert "records synced 9, failed 2" in result.output and "requests QuickBooks 7" in result.output

    finish_as.update(status="succeeded", counts={"created": 4, "records_synced": 4})
    result = runner.invoke(args=["sync", "run", "--account", "FB-READY", "--wait"])
    assert result.exit_code == 0, result.output
    assert "Succeeded: 4 records synced." in result.output and "4 of 4 customers" in result.output


def test_status_prints_the_last_runs_and_records_per_state(app, session, ready):
    environment = _sandbox(session, ready)
    older = SyncRun(environment_id=environment.id, realm_id="4620", status="succeeded", trigger="manual", counts={"records_synced": 10},
                    customers_done=3, customers_total=3, started_at=utcnow() - timedelta(hours=2), finished_at=utcnow() - timedelta(hours=2))
    newer = SyncRun(environment_id=environment.id, realm_id="4620", status="failed", trigger="cli", error="Stopped: QuickBooks refused.",
                    started_at=utcnow() - timedelta(minutes=3), finished_at=utcnow())
    session.add_all([older, newer])
    session.flush()
    for number, state in enumerate(["synced"] * 10 + ["failed", "failed", "pending", "skipped"]):
        session.add(SyncRecord(environment_id=environment.id, entity_type="invoice", fusebill_id=str(number), customer_id="1", state=state,
                               run_id=older.id))
    session.commit()
    result = app.test_cli_runner().invoke(args=["sync", "status", "--account", "FB-READY"])
    assert result.exit_code == 0, result.output
    assert "Ready Ltd (FB-READY), sandbox environment (active)" in result.output
    assert result.output.index(f"run {newer.id:>5}  failed") < result.output.index(f"run {older.id:>5}  succeeded")
    assert "Failed: Stopped: QuickBooks refused." in result.output and "Succeeded: 10 records synced." in result.output
    assert "records: synced 10, pending 1, failed 2, skipped 1" in result.output

    production = app.test_cli_runner().invoke(args=["sync", "status", "--account", "FB-READY", "--environment", "production"])
    assert production.exit_code == 0 and "production environment" in production.output and "No sync yet." in production.output
    unknown = app.test_cli_runner().invoke(args=["sync", "status", "--account", "FB-NOPE"])
    assert unknown.exit_code == 1 and "No account with Fusebill id FB-NOPE" in unknown.output
