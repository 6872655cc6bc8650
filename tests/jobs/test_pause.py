"""Support's pause, seen by the jobs: queued work of a paused account ends as skipped with the pause
notice, and webhook customers gathered while paused are kept for the resume — real Redis, forked
RQ work horses, a committed database (SQLite and PostgreSQL)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from redis import Redis
from rq import Queue, Worker
from sqlalchemy import select

from jobs import context as job_context
from jobs.queues import BACKFILL, SYNC
from jobs.sync.jobs import flush_webhook_customers, sync_account, sync_chunk
from portal import create_app
from portal.models import ROLE_SUPPORT, Account, Environment, SyncRecord, SyncRun, User, utcnow
from portal.services.environments import create_environments
from tests.portal_fixtures import fresh_database, make_settings

REASON = "Fusebill asked us to stop while their data is repaired"
NOTICE = re.compile(r"Syncs are paused by support since \d\d \w{3} \d{4}, \d\d:\d\d UTC: " + REASON)


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request, tmp_path, redis_url):
    with fresh_database(request.param, tmp_path) as fresh:
        app = create_app(make_settings(fresh.url, redis_url, tmp_path / "instance"), database=fresh.database)
        job_context.use_app(app)
        job_context.use_context(None)
        redis = Redis.from_url(redis_url)
        redis.flushdb()
        with fresh.database.session_scope() as session:
            account = Account(name="Paused Books", fusebill_account_id=f"FB-PAUSE-{request.param}", integration_enabled=True)
            session.add(account)
            session.flush()
            create_environments(session, account)
            session.add(User(email="support@example.com", name="Support", password_hash="x", role=ROLE_SUPPORT))
            account_id = account.id
        try:
            yield app, fresh.database, redis, account_id
        finally:
            job_context.use_context(None)
            job_context.use_app(None)
            redis.flushdb()


def _pause(app, database, account_id) -> None:
    from portal.services.support_console import pause_syncs

    with database.session_scope() as session:
        pause_syncs(session, session.get(Account, account_id), REASON, session.scalar(select(User)))


def _run(database, account_id, status, chunks=0) -> int:
    with database.session_scope() as session:
        environment = session.scalar(select(Environment).where(Environment.account_id == account_id, Environment.kind == "sandbox"))
        run = SyncRun(environment_id=environment.id, realm_id="9130", status=status, trigger="manual", counts={"chunks": chunks},
                      started_at=utcnow() - timedelta(minutes=1), customers_total=6 if chunks else 0)
        session.add(run)
        session.flush()
        return run.id


def _work(database, redis, *names) -> None:
    database.dispose()  # a forked work horse opens its own connections
    Worker([Queue(name, connection=redis) for name in names], connection=redis).work(burst=True, logging_level="WARNING")


def test_a_paused_accounts_queued_chunks_end_skipped_with_the_pause_notice(world):
    app, database, redis, account_id = world
    run_id = _run(database, account_id, "running", chunks=2)
    queue = Queue(BACKFILL, connection=redis)
    first = queue.enqueue(sync_chunk, run_id, ["101", "102", "103"], 0)
    second = queue.enqueue(sync_chunk, run_id, ["104", "105", "106"], 1)
    _pause(app, database, account_id)  # after the chunks were queued, before a worker took them
    _work(database, redis, BACKFILL)

    for job in (first, second):
        job.refresh()
        assert job.get_status() == "finished", job.latest_result().exc_string if job.latest_result() else None
        result = job.return_value()
        assert result["status"] == "skipped" and NOTICE.fullmatch(result["reason"]), result
    with database.session_scope() as session:
        run = session.get(SyncRun, run_id)
        assert run.status == "failed" and run.finished_at is not None  # stopped, never "complete"
        assert run.error.startswith("Skipped: ") and NOTICE.fullmatch(run.error.removeprefix("Skipped: "))
        records = list(session.scalars(select(SyncRecord).where(SyncRecord.run_id == run_id)))
        # The first chunk's customers are skipped with the notice (the run had ended when the second came).
        assert sorted(r.fusebill_id for r in records) == ["101", "102", "103"]
        assert {r.state for r in records} == {"skipped"} and all(NOTICE.fullmatch(r.reason) for r in records)
        assert run.counts["customers_skipped"] == 3


def test_a_paused_accounts_queued_run_ends_skipped_before_reading_anything(world):
    app, database, redis, account_id = world
    run_id = _run(database, account_id, "queued")
    job = Queue(SYNC, connection=redis).enqueue(sync_account, run_id)
    _pause(app, database, account_id)
    _work(database, redis, SYNC)
    job.refresh()
    assert job.get_status() == "finished" and job.return_value()["status"] == "skipped"
    with database.session_scope() as session:
        run = session.get(SyncRun, run_id)
        assert run.status == "failed" and NOTICE.fullmatch(run.error.removeprefix("Skipped: "))
        assert (run.counts or {}).get("fusebill_requests") is None  # it stopped before Fusebill was asked anything


def test_webhook_customers_flushed_while_paused_wait_for_the_resume(world):
    from portal.extensions import service_context
    from portal.services.support_console import resume_syncs
    from portal.services.webhooks import pending_key

    app, database, redis, account_id = world
    with database.session_scope() as session:
        environment_id = session.scalar(select(Environment.id).where(Environment.account_id == account_id, Environment.kind == "sandbox"))
    # A flush scheduled just before the pause runs just after it: it starts nothing and loses nobody.
    redis.sadd(pending_key(environment_id), "201", "202")
    job = Queue(SYNC, connection=redis).enqueue(flush_webhook_customers, environment_id)
    _pause(app, database, account_id)
    _work(database, redis, SYNC)
    job.refresh()
    assert job.return_value()["status"] == "paused" and NOTICE.fullmatch(job.return_value()["reason"])
    assert redis.smembers(pending_key(environment_id)) == {b"201", b"202"}
    with database.session_scope() as session:
        assert session.scalars(select(SyncRun)).all() == []

    with app.app_context():
        ctx = service_context()
        with database.session_scope() as session:
            waiting = resume_syncs(session, ctx, session.get(Account, account_id), session.scalar(select(User)), "repaired")
    assert waiting == 2
    scheduled = Queue(SYNC, connection=redis).scheduled_job_registry.get_job_ids(cleanup=False)
    assert len(scheduled) == 1 and Queue(SYNC, connection=redis).fetch_job(scheduled[0]).func_name == "jobs.sync.jobs.flush_webhook_customers"
