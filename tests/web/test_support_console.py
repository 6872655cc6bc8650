"""The support console's sync tools, through the Flask client on SQLite and PostgreSQL, with the
suite's private Redis (and, for the health page, a real RQ worker process):

- an account's runs and current failures, a run's details;
- Requeue (a failed run, a stuck one, a live one refused, an incomplete set-up refused);
- pause / resume: Sync now, schedules and webhooks held while paused, allowed again after, audited;
- queues and workers (a live worker, its current job, a stale one, queue depths, the scheduler),
  and "Redis unreachable";
- the connections that need a reconnect;
- the audit log: paged, filtered, the email shown once.
Runs and records are inserted directly: no sync runs here (tests/jobs/test_pause.py runs jobs).
"""
from __future__ import annotations

import base64
import html
import json
import re
import secrets
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from redis import Redis
from rq import Queue, Worker
from rq.scheduler import RQScheduler
from rq.utils import utcformat
from sqlalchemy import func, select

from jobs.queues import ALL, BACKFILL, DEFAULT, MAINTENANCE, SYNC
from portal.models import Account, AuditEvent, Environment, LedgerChoice, QboConnection, SyncRecord, SyncRun, utcnow
from portal.services.ledgers import required_ledgers
from tests.portal_fixtures import post_form, sign_in

REASON = "Customer asked to hold the sync during their audit"


# ------------------------------------------------------------------ helpers
@pytest.fixture
def redis(redis_url):
    connection = Redis.from_url(redis_url)
    connection.flushdb()  # the suite's private server: RQ state of other tests must not leak in
    yield connection
    connection.flushdb()


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _environment(session, account_id, kind="sandbox") -> Environment:
    return session.scalar(select(Environment).where(Environment.account_id == account_id, Environment.kind == kind))


def _connection(session, account_id, *, kind="sandbox", name="Books Co", expires_in=timedelta(days=90), needs_reconnect=False,
                disconnected=False, error=None) -> QboConnection:
    environment = _environment(session, account_id, kind)
    connection = QboConnection(environment_id=environment.id, realm_id=f"9{environment.id:04d}", company_name=name, country="US",
                               home_currency="USD", tax_setup="none", access_token_ciphertext="not-used-here",
                               refresh_token_ciphertext="not-used-here", access_token_expires_at=utcnow() + timedelta(minutes=50),
                               refresh_token_expires_at=utcnow() + expires_in, needs_reconnect=needs_reconnect,
                               last_refresh_error=error, last_refresh_failed_at=utcnow() - timedelta(hours=2) if error else None,
                               disconnected_at=utcnow() - timedelta(days=1) if disconnected else None)
    session.add(connection)
    session.commit()
    return connection


def _complete_set_up(session, account) -> QboConnection:
    """What the walk-through stores once every step is done (the steps are tested in tests/integration)."""
    from portal.services.checklist import sync_blockers

    connection = _connection(session, account.id)
    environment = _environment(session, account.id)
    for number, ledger in enumerate(required_ledgers("none"), start=1):
        session.add(LedgerChoice(environment_id=environment.id, realm_id=connection.realm_id, ledger=ledger, qbo_account_id=str(number),
                                 qbo_account_name=f"Account {number}", qbo_account_type="Income"))
    environment.fusebill_api_key_ciphertext = "not-used-here"
    environment.fusebill_key_verified_at = utcnow()
    environment.settings_saved_at = utcnow()
    session.commit()
    assert sync_blockers(session, session.get(Account, account.id)) == []
    return connection


def _run(session, account_id, status, *, minutes_ago=10, counts=None, error=None, trigger="manual", kind="sandbox") -> SyncRun:
    environment = _environment(session, account_id, kind)
    finished = status in ("succeeded", "partial", "failed")
    run = SyncRun(environment_id=environment.id, realm_id="9130", status=status, trigger=trigger, counts=counts or {}, error=error,
                  started_at=utcnow() - timedelta(minutes=minutes_ago), customers_done=3, customers_total=3,
                  finished_at=utcnow() - timedelta(minutes=minutes_ago - 1) if finished else None)
    session.add(run)
    session.commit()
    return run


def _row(body: str, marker: str) -> str:
    start = body.find(marker)
    assert start >= 0, marker
    return body[start:body.find("</tr>", start)]


def _flash(body: str) -> str:
    found = re.search(r'class="flash flash-(?:error|success)"[^>]*>([^<]*)<', body)
    return found.group(1) if found else ""


def _support(client, support_user):
    sign_in(client, support_user)
    return client


# ------------------------------------------------------------------ pages
def test_every_console_page_opens_for_support(client, session, make_account, support_user, redis):
    account = make_account(enabled=True)
    run = _run(session, account.id, "partial", counts={"records_failed": 1})
    _support(client, support_user)
    for url, page in (("/support/", "support-accounts"), (f"/support/accounts/{account.id}", "support-account"),
                      (f"/support/runs/{run.id}", "support-run"), ("/support/health", "support-health"),
                      ("/support/reconnects", "support-reconnects"), ("/support/audit", "support-audit")):
        response = client.get(url)
        assert response.status_code == 200, url
        body = _text(response)
        assert f'data-page="{page}"' in body, url
        assert 'aria-label="Support console"' in body  # the console's own navigation on every page
    assert client.get("/support/runs/999999").status_code == 404


def test_support_actions_are_refused_to_admins(client, session, make_account, admin_of, redis):
    account = make_account(enabled=True)
    run = _run(session, account.id, "failed", error="boom")
    sign_in(client, admin_of(account))
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/sync/").get_data(as_text=True)).group(1)
    for method, url in (("POST", f"/support/accounts/{account.id}/pause"), ("POST", f"/support/accounts/{account.id}/resume"),
                        ("POST", f"/support/runs/{run.id}/requeue"), ("GET", f"/support/runs/{run.id}"), ("GET", "/support/health"),
                        ("GET", "/support/reconnects"), ("GET", "/support/audit")):
        response = client.open(url, method=method, data={"csrf_token": token, "pause-reason": REASON} if method == "POST" else None)
        assert response.status_code == 403, (method, url)
    session.expire_all()
    assert session.get(Account, account.id).syncs_paused_at is None
    assert session.scalar(select(func.count()).select_from(SyncRun)) == 1


def test_the_account_page_shows_runs_and_current_failures(client, session, make_account, support_user, redis):
    account = make_account(enabled=True, name="Failing Books Ltd")
    failed = _run(session, account.id, "failed", minutes_ago=50, error="The sync could not start: Fusebill refused the API key.")
    partial = _run(session, account.id, "partial", minutes_ago=30, trigger="schedule", counts={"records_synced": 4, "records_failed": 55})
    succeeded = _run(session, account.id, "succeeded", minutes_ago=20, counts={"records_synced": 9})
    production = _run(session, account.id, "succeeded", minutes_ago=15, kind="production", counts={"records_synced": 1})
    for number in range(55):
        session.add(SyncRecord(environment_id=partial.environment_id, entity_type="invoice", fusebill_id=str(5000 + number), customer_id="77",
                               label=f"Invoice {5000 + number}", state="failed", reason="Duplicate Document Number Error", qbo_code="6140",
                               hint="This document number is already used in QuickBooks.", run_id=partial.id,
                               updated_at=utcnow() - timedelta(minutes=55 - number)))
    session.add(SyncRecord(environment_id=partial.environment_id, entity_type="customer", fusebill_id="77", customer_id="77", label="Customer 77",
                           state="synced", run_id=partial.id))
    session.commit()
    body = _text(_support(client, support_user).get(f"/support/accounts/{account.id}"))

    runs = body[body.find('data-test="support-runs"'):]
    for run in (failed, partial, succeeded, production):
        assert f'href="/support/runs/{run.id}"' in runs
    assert "Failed: The sync could not start: Fusebill refused the API key." in _row(runs, f'data-run="{failed.id}"')
    partial_row = _row(runs, f'data-run="{partial.id}"')
    assert "schedule" in partial_row and "Finished with 55 records failed." in partial_row and 'data-count="failed">55<' in partial_row
    assert "production" in _row(runs, f'data-run="{production.id}"')
    # Requeue is offered on the failed and the partial run only.
    assert 'data-test="requeue"' in _row(runs, f'data-run="{failed.id}"') and 'data-test="requeue"' in partial_row
    assert 'data-test="requeue"' not in _row(runs, f'data-run="{succeeded.id}"')

    failures = body[body.find('data-test="current-failures"'):]
    assert 'data-test="failure-count">(55)<' in failures
    assert failures.count('<tr data-record="invoice:') == 50  # the top 50 …
    assert "The 50 most recent of 55 failed records." in failures
    assert 'data-record="invoice:5054"' in failures and 'data-record="invoice:5000"' not in failures  # … the newest
    assert "Duplicate Document Number Error" in failures and "This document number is already used in QuickBooks." in failures
    assert "6140" in failures and "Customer 77" not in failures

    details = _text(client.get(f"/support/runs/{partial.id}"))
    assert "Failing Books Ltd" in details and "Finished with 55 records failed." in details
    assert 'data-test="run-failures"' in details and "Invoice 5001" in details and 'data-test="requeue"' in details


# ------------------------------------------------------------------ pause and resume
def _webhook(app, account_id):
    """The environment's webhook path and key (made as saving the Fusebill key makes them)."""
    from portal.extensions import db_session, service_context
    from portal.services.webhooks import webhook_secrets

    with app.app_context():
        database = db_session()
        environment = _environment(database, account_id)
        made = webhook_secrets(database, service_context(), environment)
        database.commit()
    return f"/webhooks/fusebill/{made.token}", made.key


def _deliver(client, path, key, event_id, customer_id):
    body = json.dumps({"eventId": event_id, "eventType": "CustomerUpdated", "customerId": customer_id, "entityType": "Customer",
                       "entityId": customer_id, "eventTimestamp": "2026-01-01T00:00:00"})
    return client.post(path, data=body, headers={"Content-Type": "application/json",
                                                 "X-Fusebill-Webhook-Key": base64.b64encode(key.encode()).decode()})


def test_pause_holds_sync_now_schedules_and_webhooks_and_resume_lets_them_run(app, client, session, make_account, admin_of, support_user, redis):
    from jobs.schedules import due_accounts
    from portal.services.webhooks import pending_key

    account = make_account(enabled=True, name="Paused Co")
    admin = admin_of(account)
    _complete_set_up(session, account)
    environment = _environment(session, account.id)
    environment.schedule = "hourly"
    session.commit()
    path, key = _webhook(app, account.id)
    page = f"/support/accounts/{account.id}"
    _support(client, support_user)

    # The reason is required, and said next to the field.
    refused = post_form(client, page, f"/support/accounts/{account.id}/pause", {"pause-reason": "  "})
    assert refused.status_code == 400 and 'data-field="pause-reason">A reason is required' in _text(refused)
    session.expire_all()
    assert session.get(Account, account.id).syncs_paused_at is None

    paused = post_form(client, page, f"/support/accounts/{account.id}/pause", {"pause-reason": REASON})
    assert paused.status_code == 302 and paused.headers["Location"].endswith(page)
    body = _text(client.get(page))
    assert "Syncs of Paused Co are paused" in _flash(body)
    notice = body[body.find('data-test="pause-notice"'):][:300]
    assert re.search(r"Syncs are paused by support since \d\d \w{3} \d{4}, \d\d:\d\d UTC: " + REASON, notice), notice
    assert 'data-test="resume"' in body and 'data-test="pause"' not in body
    assert 'data-test="syncs-paused"' in _text(client.get("/support/"))
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "support.syncs_paused"))
    assert event.actor_id == support_user.id and event.account_id == account.id and event.details["reason"] == REASON

    # The admin: the Sync page says so, and Sync now is refused with it.
    admin_client = app.test_client()
    sign_in(admin_client, admin)
    sync_page = _text(admin_client.get("/sync/"))
    assert "Syncs are paused by support since" in sync_page[sync_page.find('data-test="sync-paused"'):][:400]
    pressed = post_form(admin_client, "/sync/", "/sync/start", {"origin": "sync"})
    assert pressed.headers["Location"].endswith("/sync/")
    assert re.match(r"Syncs are paused by support since .* UTC: " + REASON, _flash(_text(admin_client.get("/sync/"))))
    assert session.scalar(select(func.count()).select_from(SyncRun)) == 0

    # Schedules: not due. Webhooks: acknowledged and kept, nothing scheduled to sync them.
    session.expire_all()
    assert due_accounts(session) == []
    anonymous = app.test_client()
    answer = _deliver(anonymous, path, key, "ev-1", 501)
    assert answer.status_code == 202 and answer.get_json() == {"status": "held", "reason": "syncs are paused for this account"}
    assert _deliver(anonymous, path, key, "ev-1", 501).get_json()["status"] == "duplicate"  # recorded: a replay is known
    assert redis.smembers(pending_key(environment.id)) == {b"501"}
    assert Queue(SYNC, connection=redis).scheduled_job_registry.get_job_count(cleanup=False) == 0

    # Resume: audited; the held customer is flushed into a run; schedules and Sync now work again.
    resumed = post_form(client, page, f"/support/accounts/{account.id}/resume", {"resume-reason": "Audit finished"}, follow_redirects=True)
    assert "Syncs of Paused Co are resumed. The 1 customer Fusebill reported meanwhile will be synced now." in _flash(_text(resumed))
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "support.syncs_resumed"))
    assert event.actor_id == support_user.id and event.details["reason"] == "Audit finished" and event.details["paused_by"] == support_user.email
    assert Queue(SYNC, connection=redis).scheduled_job_registry.get_job_count(cleanup=False) == 1  # the webhook flush
    session.expire_all()
    assert session.get(Account, account.id).syncs_paused_at is None
    assert due_accounts(session) == [account.id]
    assert 'data-test="sync-paused"' not in _text(admin_client.get("/sync/"))
    started = post_form(admin_client, "/sync/", "/sync/start", {"origin": "sync"})
    run = session.scalar(select(SyncRun))
    assert run is not None and started.headers["Location"].endswith(f"/sync/runs/{run.id}")


def test_resume_of_an_account_that_is_not_paused_says_so(client, session, make_account, support_user, redis):
    account = make_account(enabled=True, name="Quiet Co")
    page = f"/support/accounts/{account.id}"
    response = post_form(_support(client, support_user), page, f"/support/accounts/{account.id}/resume", {}, follow_redirects=True)
    assert "Syncs of Quiet Co are not paused." in _flash(_text(response))
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("support.%"))) == 0


# ------------------------------------------------------------------ requeue
def test_requeue_of_a_failed_run_starts_a_new_run_through_sync_nows_path(client, session, make_account, support_user, redis):
    account = make_account(enabled=True)
    _complete_set_up(session, account)
    failed = _run(session, account.id, "failed", error="Stopped: QuickBooks was unavailable")
    _support(client, support_user)
    response = post_form(client, f"/support/accounts/{account.id}", f"/support/runs/{failed.id}/requeue")
    new = session.scalar(select(SyncRun).where(SyncRun.id != failed.id))
    assert new is not None and response.headers["Location"].endswith(f"/support/runs/{new.id}")
    assert new.status == "queued" and new.trigger == "support"
    assert f"sync-run-{new.id}" in Queue(SYNC, connection=redis).job_ids  # enqueued like Sync now
    page = _text(client.get(f"/support/runs/{new.id}"))
    assert f"Run #{new.id} is queued." in _flash(page) and "Queued: waiting for a worker" in page
    requeued = session.scalar(select(AuditEvent).where(AuditEvent.action == "support.run_requeued"))
    assert requeued.actor_id == support_user.id and requeued.details["run_id"] == failed.id and requeued.details["new_run_id"] == new.id
    started = session.scalar(select(AuditEvent).where(AuditEvent.action == "sync.started"))
    assert started.actor_id == support_user.id and started.details["trigger"] == "support"
    # A second press while the new run is queued starts nothing more.
    again = post_form(client, f"/support/accounts/{account.id}", f"/support/runs/{failed.id}/requeue", follow_redirects=True)
    assert f"Run #{new.id} of the sandbox environment is already queued" in _flash(_text(again))
    assert session.scalar(select(func.count()).select_from(SyncRun)) == 2


def test_a_stuck_run_is_marked_failed_and_requeued_but_a_live_one_is_left_alone(client, session, make_account, support_user, redis):
    account = make_account(enabled=True)
    _complete_set_up(session, account)
    stuck = _run(session, account.id, "running", minutes_ago=30)
    page = f"/support/accounts/{account.id}"
    _support(client, support_user)

    # Its job is still in RQ (a chunk scheduled for later, say): not stuck, nothing changes.
    Queue(BACKFILL, connection=redis).enqueue_in(timedelta(minutes=5), "jobs.sync.jobs.sync_chunk", stuck.id, ["1"], 0)
    row = _row(_text(client.get(page)), f'data-run="{stuck.id}"')
    assert "data-stuck" not in row and 'data-test="requeue"' not in row
    refused = post_form(client, page, f"/support/runs/{stuck.id}/requeue", follow_redirects=True)
    assert f"Run #{stuck.id} is running and its jobs are still in RQ" in _flash(_text(refused))
    session.expire_all()
    assert session.get(SyncRun, stuck.id).status == "running" and session.scalar(select(func.count()).select_from(SyncRun)) == 1

    # The job is gone (a lost worker, a flushed Redis): stuck, and requeued.
    redis.flushdb()
    row = _row(_text(client.get(page)), f'data-run="{stuck.id}"')
    assert 'data-stuck="yes"' in row and "Stuck: no RQ job left" in row and 'data-test="requeue"' in row
    done = post_form(client, page, f"/support/runs/{stuck.id}/requeue", follow_redirects=True)
    assert f"Run #{stuck.id} had no RQ job left and is marked failed (requeued by support)." in _flash(_text(done))
    session.expire_all()
    old = session.get(SyncRun, stuck.id)
    assert old.status == "failed" and old.error == "requeued by support" and old.finished_at is not None
    new = session.scalar(select(SyncRun).where(SyncRun.id != stuck.id))
    assert new.status == "queued" and new.trigger == "support" and f"sync-run-{new.id}" in Queue(SYNC, connection=redis).job_ids
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "support.run_requeued")).details["stuck"] is True


def test_requeue_is_refused_with_the_reason_when_the_set_up_is_incomplete_or_paused(client, session, make_account, support_user, redis):
    account = make_account(enabled=True)
    failed = _run(session, account.id, "failed", error="boom")
    succeeded = _run(session, account.id, "succeeded", counts={"records_synced": 3})
    page = f"/support/accounts/{account.id}"
    _support(client, support_user)
    refused = post_form(client, page, f"/support/runs/{failed.id}/requeue", follow_redirects=True)
    message = _flash(_text(refused))
    assert message.startswith(f"Run #{failed.id} cannot be requeued. A sync cannot start yet:") and "Connect QuickBooks: Not connected." in message
    nothing = post_form(client, page, f"/support/runs/{succeeded.id}/requeue", follow_redirects=True)
    assert f"Run #{succeeded.id} succeeded: there is nothing to requeue." in _flash(_text(nothing))

    _complete_set_up(session, account)
    post_form(client, page, f"/support/accounts/{account.id}/pause", {"pause-reason": REASON})
    paused = post_form(client, page, f"/support/runs/{failed.id}/requeue", follow_redirects=True)
    assert re.match(rf"Run #{failed.id} cannot be requeued. Syncs are paused by support since .*: {REASON}", _flash(_text(paused)))
    assert session.scalar(select(func.count()).select_from(SyncRun)) == 2
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "support.run_requeued")) == 0
    assert Queue(SYNC, connection=redis).count == 0


# ------------------------------------------------------------------ queues and workers
@pytest.fixture
def live_worker(redis_url, redis):
    """A real `rq worker` process (with its scheduler) on the maintenance queue of the private Redis."""
    name = f"console-{secrets.token_hex(3)}"
    process = subprocess.Popen([sys.executable, "-m", "rq.cli", "worker", "--url", redis_url, "--name", name, "--with-scheduler",
                                "--max-idle-time", "120", "--logging_level", "WARNING", MAINTENANCE],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not any(w.name == name for w in Worker.all(connection=redis)):
            assert process.poll() is None and time.monotonic() < deadline, "the RQ worker did not start"
            time.sleep(0.1)
        yield name
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for(condition, what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_queues_and_workers_show_a_live_worker_its_job_a_stale_one_and_queue_depths(client, support_user, live_worker, redis):
    default = Queue(DEFAULT, connection=redis)
    for number in range(3):  # nobody listens on this queue here: they stay queued
        default.enqueue("jobs.not.run", job_id=f"depth-probe-{number}")
    Queue(BACKFILL, connection=redis).enqueue_in(timedelta(hours=1), "jobs.not.run")
    busy = Queue(MAINTENANCE, connection=redis).enqueue("time.sleep", 6)  # long enough to be seen working

    def working() -> bool:
        return any(w.name == live_worker and w.get_current_job_id() == busy.id for w in Worker.all(connection=redis))

    _wait_for(working, "the worker never took the job")
    _wait_for(lambda: redis.get(RQScheduler.get_locking_key(MAINTENANCE)) is not None, "the worker's scheduler took no lock")
    ghost = Worker([DEFAULT], connection=redis, name="ghost-worker")  # a worker that died without saying so
    ghost.register_birth()
    redis.hset(ghost.key, "last_heartbeat", utcformat(utcnow() - timedelta(hours=1)))
    try:
        body = _text(_support(client, support_user).get("/support/health"))
    finally:
        ghost.register_death()

    assert 'data-test="redis-unreachable"' not in body
    for name in ALL:
        assert f'data-queue="{name}"' in body
    assert 'data-count="queued">3<' in _row(body, f'data-queue="{DEFAULT}"')
    assert 'data-count="scheduled">1<' in _row(body, f'data-queue="{BACKFILL}"')
    assert 'data-count="started">1<' in _row(body, f'data-queue="{MAINTENANCE}"')
    live = _row(body, f'data-worker="{live_worker}"')
    assert 'data-state="busy"' in live and 'data-stale="no"' in live and busy.id in live and MAINTENANCE in live
    assert re.search(r"\d+ s ago", live)
    stale = _row(body, 'data-worker="ghost-worker"')
    assert 'data-stale="yes"' in stale and "Stale: no heartbeat for more than 420 s" in stale
    scheduler = body[body.find('data-test="scheduler"'):][:300]
    assert "A scheduler holds 1 of 4 queues" in scheduler and MAINTENANCE in scheduler


@pytest.mark.parametrize("redis_url", ["redis://127.0.0.1:1/0"])  # this test's app only: nothing listens on port 1
def test_redis_down_is_said_not_crashed_on(client, session, make_account, support_user):
    account = make_account(enabled=True)
    running = _run(session, account.id, "running", minutes_ago=30)
    _support(client, support_user)
    response = client.get("/support/health")
    assert response.status_code == 200 and "Redis unreachable." in _text(response)
    page = client.get(f"/support/accounts/{account.id}")
    assert page.status_code == 200
    assert "RQ state unknown: Redis unreachable" in _row(_text(page), f'data-run="{running.id}"')


# ------------------------------------------------------------------ connections to reconnect
def test_connections_needing_a_reconnect_or_expiring_soon_are_listed_with_links(client, session, make_account, support_user):
    refused = make_account(enabled=True, name="Refused Ltd")
    expiring = make_account(enabled=True, name="Expiring Ltd")
    healthy = make_account(enabled=True, name="Healthy Ltd")
    gone = make_account(enabled=True, name="Gone Ltd")
    expired = make_account(enabled=True, name="Expired Ltd")
    a = _connection(session, refused.id, name="Refused Books", needs_reconnect=True, error="QuickBooks refused the refresh token (invalid_grant)")
    b = _connection(session, expiring.id, kind="production", name="Expiring Books", expires_in=timedelta(days=5, hours=2))
    _connection(session, healthy.id, name="Healthy Books")
    _connection(session, gone.id, name="Gone Books", needs_reconnect=True, disconnected=True)
    e = _connection(session, expired.id, name="Expired Books", expires_in=-timedelta(days=1))
    body = _text(_support(client, support_user).get("/support/reconnects"))
    table = body[body.find('data-test="reconnects"'):]
    assert table.count("<tr data-account=") == 3
    assert "Healthy Ltd" not in table and "Gone Ltd" not in table
    first = _row(table, f'data-connection="{a.id}"')
    assert 'data-problem="reconnect"' in first and "Reconnect needed" in first and "invalid_grant" in first
    assert f'href="/support/accounts/{refused.id}"' in first and "Refused Books" in first
    assert 'data-problem="reconnect"' in _row(table, f'data-connection="{e.id}"') and "The refresh token expired on" in table
    soon = _row(table, f'data-connection="{b.id}"')
    assert 'data-problem="expiring"' in soon and "(in 5 days)" in soon and "production" in soon
    assert table.find(f'data-connection="{b.id}"') > table.find(f'data-connection="{e.id}"')  # reconnects first


# ------------------------------------------------------------------ the audit log
def _events(session, accounts, support_user):
    now = utcnow()
    rows = []
    for number in range(120):
        account = accounts[number % 2]
        actor = support_user.email if number % 3 else "system"
        action = ("enablement.enabled", "sync.started", "support.syncs_paused")[number % 3]
        rows.append(AuditEvent(occurred_at=now - timedelta(days=number), actor_id=support_user.id if number % 3 else None, actor_label=actor,
                               account_id=account.id, action=action,
                               summary=f"{actor} did thing {number}" if actor != "system" else f"The system did thing {number}", details={}))
    session.add_all(rows)
    session.commit()
    return now


def test_the_audit_log_is_paged_and_filtered_and_shows_the_email_once(client, session, make_account, support_user):
    first, second = make_account(name="Alpha Books"), make_account(name="Beta Books", fusebill_account_id="FB-BETA-9")
    _support(client, support_user)
    signed_in = session.scalar(select(AuditEvent).where(AuditEvent.action == "auth.signed_in"))
    signed_in.occurred_at = utcnow() - timedelta(days=1000)  # the sign-in's own entry, oldest of all
    now = _events(session, [first, second], support_user)

    page_one = _text(client.get("/support/audit"))
    assert page_one.count("<tr data-action=") == 50 and "121 entries · page 1 of 3" in page_one
    assert "thing 0<" in page_one and "thing 49<" in page_one and "thing 50<" not in page_one
    assert 'data-test="newer"' not in page_one
    older = re.search(r'data-test="older" href="([^"]+)"', page_one).group(1)
    page_two = _text(client.get(html.unescape(older)))
    assert "thing 50<" in page_two and "page 2 of 3" in page_two and 'data-test="newer"' in page_two
    last = _text(client.get("/support/audit?page=3"))
    assert last.count("<tr data-action=") == 21 and 'data-test="older"' not in last and 'data-action="auth.signed_in"' in last

    # The email is in the Who column only; the What column reads on without it.
    at = page_one.find("Did thing 1<")
    row = page_one[page_one.rfind("<tr", 0, at):page_one.find("</tr>", at)]
    assert row.count(support_user.email) == 1 and f"<td>{support_user.email}</td>" in row

    # Filters, each alone and together; page links keep them.
    by_action = _text(client.get("/support/audit?action=sync.started"))
    assert "40 entries" in by_action and set(re.findall(r'<tr data-action="([^"]+)"', by_action)) == {"sync.started"}
    by_account = _text(client.get("/support/audit?account=beta-9"))
    assert "60 entries" in by_account and "Alpha Books" not in by_account[by_account.find('data-test="audit-log"'):]
    by_id = _text(client.get(f"/support/audit?account_id={first.id}"))
    assert "60 entries" in by_id and "Audit log of Alpha Books" in by_id
    by_actor = _text(client.get("/support/audit?actor=system"))
    assert "40 entries" in by_actor and support_user.email not in by_actor[by_actor.find('data-test="audit-log"'):]
    since, until = (now - timedelta(days=9)).date().isoformat(), (now - timedelta(days=5)).date().isoformat()
    by_date = _text(client.get(f"/support/audit?from={since}&to={until}"))
    assert "5 entries" in by_date
    together = _text(client.get(f"/support/audit?action=enablement.enabled&actor=system&account=alpha"))
    assert "20 entries" in together and 'data-test="older"' not in together
    paged = _text(client.get("/support/audit?actor=support"))
    assert "81 entries" in paged and "actor=support" in html.unescape(re.search(r'data-test="older" href="([^"]+)"', paged).group(1))

    # Bad values are said next to their field.
    for query, field, message in (("from=2024-13-01", "from", "Use a date like 2024-05-31."),
                                  (f"from={until}&to={since}", "to", "The end date is before the start date."),
                                  ("action=no.such", "action", "Nothing in the log has this action")):
        response = client.get(f"/support/audit?{query}")
        assert response.status_code == 400 and f'data-field="{field}">{message}' in _text(response), query
    nothing = _text(client.get("/support/audit?actor=nobody-at-all"))
    assert 'data-test="audit-empty"' in nothing

    # The account page shows its latest entries and links to the whole filtered log.
    account_page = _text(client.get(f"/support/accounts/{first.id}"))
    assert account_page.count("<tr data-action=") == 20
    assert f'href="/support/audit?account_id={first.id}"' in account_page
