"""The run page's live progress: the JSON static/sync.js polls, the percentage, rate and ETA, a run
that failed or is partial never shown as complete, the rate limit it waits on (noted in the real
Redis by the sync job that deferred its work), and the <noscript> refresh for pages without JS."""
from __future__ import annotations

import html
import json
import re
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import select

from jobs import context as job_context_module
from jobs.queues import BACKFILL
from portal.clients import Throttled
from portal.models import Environment, SyncRecord, SyncRun, utcnow
from portal.services.sync_progress import clear_waiting, note_waiting, waiting_key
from tests.portal_fixtures import sign_in


@pytest.fixture
def admin(client, make_account, admin_of, redis):  # every test starts without another test's rate-limit notes
    account = make_account(enabled=True)
    user = admin_of(account)
    sign_in(client, user)
    return user


@pytest.fixture
def redis(redis_url):
    """The test session's Redis, without the notes of earlier tests (run ids repeat across rolled-back tests)."""
    client = Redis.from_url(redis_url)

    def forget() -> None:
        for key in client.scan_iter("fbqbo:sync:run:*:waiting"):
            client.delete(key)

    forget()
    yield client
    forget()


def _environment(session, account_id, kind="sandbox"):
    return session.scalar(select(Environment).where(Environment.account_id == account_id, Environment.kind == kind))


def _run(session, account_id, status, *, done=0, total=0, counts=None, started=120, finished_after=None, error=None):
    environment = _environment(session, account_id)
    started_at = utcnow() - timedelta(seconds=started)
    run = SyncRun(environment_id=environment.id, realm_id="9130", status=status, trigger="manual", counts=counts or {}, error=error,
                  customers_done=done, customers_total=total, started_at=started_at,
                  finished_at=started_at + timedelta(seconds=finished_after) if finished_after is not None else None)
    session.add(run)
    session.commit()
    return run


def _records(session, run, states):
    number = 0
    for state, count in states.items():
        for _ in range(count):
            number += 1
            session.add(SyncRecord(environment_id=run.environment_id, entity_type="invoice", fusebill_id=f"{run.id}-{number}",
                                   customer_id=str(100 + number % 7), state=state, run_id=run.id, attempts=1, label=f"Invoice {number}"))
    session.commit()


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _progress(client, run_id):
    response = client.get(f"/sync/runs/{run_id}/progress")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


# ------------------------------------------------------------------ the JSON
def test_progress_json_of_a_running_run(client, session, admin, redis):
    run = _run(session, admin.account_id, "running", done=30, total=61, started=120, counts={"created": 25, "updated": 3, "unchanged": 8,
                                                                                          "qbo_requests": 14, "fusebill_requests": 40})
    _records(session, run, {"synced": 30, "failed": 2, "pending": 3, "skipped": 5})
    data = _progress(client, run.id)
    assert data["run_id"] == run.id and data["status"] == "running" and data["active"] is True
    assert data["finished"] is False and data["complete"] is False
    assert data["customers_done"] == 30 and data["customers_total"] == 61 and data["customers"] == "30 of 61 customers"
    assert data["percent"] == 49 and data["bar_value"] == 30 and data["bar_max"] == 61  # 49.2 %: rounded down, never ahead
    assert data["bar_label"] == "30 of 61 customers (49 %)"
    assert data["counts"] == {"created": 25, "updated": 3, "unchanged": 8, "deleted": 0, "synced": 30, "failed": 2, "pending": 3,
                              "skipped": 5, "qbo_requests": 14, "fusebill_requests": 40}
    # 40 records in about 2 minutes; 31 customers left at 30 customers in 2 minutes: about 2 minutes.
    assert 19.5 <= data["rate_per_minute"] <= 20.1 and data["rate"] == "20 records a minute"
    assert 120 <= data["eta_seconds"] <= 126 and data["eta"] == "about 2 minutes left"
    assert data["waiting"] is None
    assert data["headline"] == "Running: 30 of 61 customers done."


def test_too_early_to_estimate(client, session, admin):
    run = _run(session, admin.account_id, "running", done=0, total=200, started=3)
    data = _progress(client, run.id)
    assert data["percent"] == 0 and data["rate_per_minute"] is None and data["eta_seconds"] is None
    assert data["rate"] == "estimating…" and data["eta"] == "estimating…"
    body = _text(client.get(f"/sync/runs/{run.id}"))
    assert body.count("estimating…") == 2


def test_a_queued_run_before_planning(client, session, admin):
    run = _run(session, admin.account_id, "queued", started=1)
    data = _progress(client, run.id)
    assert data["percent"] == 0 and data["bar_value"] == 0 and data["headline"] == "Queued: waiting for a worker to start it."


def test_a_partial_run_at_100_percent_is_never_complete(client, session, admin):
    run = _run(session, admin.account_id, "partial", done=60, total=60, started=600, finished_after=300,
               counts={"created": 120, "records_synced": 150, "records_failed": 2, "records_pending": 1})
    data = _progress(client, run.id)
    assert data["percent"] == 100 and data["finished"] is True and data["complete"] is False
    assert data["bar_label"] == "60 of 60 customers (100 %)" and data["headline"] == "Finished with 2 records failed and 1 pending."
    assert data["eta"] == "—" and data["rate"] == "31 records a minute"  # 153 records in 5 minutes
    body = _text(client.get(f"/sync/runs/{run.id}"))
    assert "complete" not in body.lower()
    assert '<progress data-live="bar" max="60" value="60"' in body
    assert "Finished with 2 records failed and 1 pending." in body[body.find('data-test="run-headline"'):][:200]
    assert "data-progress-url" not in body and "sync.js" not in body and "refresh" not in body  # a finished run is not polled


def test_a_failed_run_is_never_complete(client, session, admin):
    run = _run(session, admin.account_id, "failed", done=60, total=60, started=100, finished_after=50,
               error="Stopped: QuickBooks no longer accepts this connection.")
    data = _progress(client, run.id)
    assert data["complete"] is False and data["headline"].startswith("Failed: Stopped:")
    body = _text(client.get(f"/sync/runs/{run.id}"))
    assert "complete" not in body.lower() and 'data-status="failed"' in body


def test_only_a_succeeded_run_is_complete(client, session, admin):
    run = _run(session, admin.account_id, "succeeded", done=60, total=60, started=100, finished_after=60, counts={"records_synced": 90})
    data = _progress(client, run.id)
    assert data["complete"] is True and data["bar_label"] == "Complete: 60 of 60 customers"
    assert "Complete: 60 of 60 customers" in _text(client.get(f"/sync/runs/{run.id}"))


def test_progress_of_another_accounts_run_is_not_found(client, session, admin, make_account):
    other = make_account(enabled=True)
    theirs = _run(session, other.id, "running")
    assert client.get(f"/sync/runs/{theirs.id}/progress").status_code == 404
    assert client.get("/sync/runs/999999/progress").status_code == 404
    assert client.application.test_client().get(f"/sync/runs/{theirs.id}/progress").status_code == 302  # signed out: to sign-in


# ------------------------------------------------------------------ the page with and without JavaScript
def test_a_running_page_polls_with_js_and_refreshes_without(client, session, admin):
    run = _run(session, admin.account_id, "running", done=5, total=50)
    response = client.get(f"/sync/runs/{run.id}")
    raw = response.get_data(as_text=True)
    head = raw[:raw.find("</head>")]
    assert re.search(r'<noscript><meta http-equiv="refresh" content="3"></noscript>', head)
    assert head.count('http-equiv="refresh"') == 1  # only inside <noscript>: a page with JS never reloads
    assert '<script src="/static/sync.js" defer></script>' in head
    assert f'data-progress-url="/sync/runs/{run.id}/progress"' in raw and 'data-poll-ms="2000"' in raw
    assert not re.search(r"<script(?![^>]*\bsrc=)", raw) and "onclick" not in raw  # CSP: no inline script
    assert "script-src" not in response.headers["Content-Security-Policy"] or "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    for live in ("headline", "bar", "bar_label", "rate", "eta", "waiting", "badge"):
        assert f'data-live="{live}"' in raw, live
    with client.get("/static/sync.js") as script:
        assert script.status_code == 200 and b"data-progress-url" in script.data and b"setTimeout(poll" in script.data
        assert b"data.finished" in script.data  # it stops polling when the run ends


# ------------------------------------------------------------------ waiting on a rate limit
def test_the_page_says_when_it_waits_on_quickbooks_rate_limit(client, session, admin, redis):
    run = _run(session, admin.account_id, "running", done=10, total=100)
    note_waiting(redis, run.id, Throttled("The QuickBooks Online rate limit for this company is used up for now", retry_after=42.0,
                                          limit="qbo"), 42.0)
    assert 40 < redis.ttl(waiting_key(run.id)) <= 42 + 60
    data = _progress(client, run.id)
    assert data["waiting"]["service"] == "qbo" and 40 <= data["waiting"]["seconds"] <= 42
    message = data["waiting"]["message"]
    assert re.fullmatch(r"Waiting on QuickBooks' rate limit for this company — resumes in about 4[0-2] s\.", message), message
    body = _text(client.get(f"/sync/runs/{run.id}"))
    waiting = body[body.find('data-test="run-waiting"'):][:300]
    assert "Waiting on QuickBooks' rate limit for this company — resumes in about" in waiting and " hidden" not in waiting.split(">")[0]
    # The ETA is never sooner than the wait.
    assert data["eta_seconds"] >= 40

    clear_waiting(redis, run.id)
    assert _progress(client, run.id)["waiting"] is None
    body = _text(client.get(f"/sync/runs/{run.id}"))
    assert 'data-live="waiting" hidden' in body and "Waiting on" not in body


def test_fusebill_rate_limit_and_a_remote_429(client, session, admin, redis):
    run = _run(session, admin.account_id, "running", done=10, total=100)
    note_waiting(redis, run.id, Throttled("Fusebill's per-minute rate limit was reached.", status=429, retry_after=20.0), 20.0)
    assert _progress(client, run.id)["waiting"]["message"].startswith("Waiting on Fusebill's rate limit for this Fusebill account — resumes in about")
    note_waiting(redis, run.id, Throttled("QuickBooks Online's rate limit was reached; try again in a minute.", status=429, code="3001",
                                          retry_after=10.0), 10.0)
    assert _progress(client, run.id)["waiting"]["service"] == "qbo"


def test_a_finished_run_waits_on_nothing_and_other_delays_are_not_limits(client, session, admin, redis):
    from portal.clients import RetryableError

    done = _run(session, admin.account_id, "partial", done=5, total=5, finished_after=30)
    redis.set(waiting_key(done.id), json.dumps({"service": "qbo", "until": (utcnow() + timedelta(seconds=30)).isoformat()}), ex=90)
    assert _progress(client, done.id)["waiting"] is None
    assert "Waiting on" not in _text(client.get(f"/sync/runs/{done.id}"))
    running = _run(session, admin.account_id, "running", done=1, total=5)
    note_waiting(redis, running.id, RetryableError("QuickBooks Online is temporarily unavailable (503)."), 8.0)
    assert redis.get(waiting_key(running.id)) is None


def test_the_note_never_fails_the_job_when_redis_is_down():
    dead = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    note_waiting(dead, 1, Throttled("x", retry_after=5.0, limit="qbo"), 5.0)
    clear_waiting(dead, 1)


def test_a_throttled_chunk_notes_the_wait_and_the_next_chunk_done_clears_it(app, session, admin, redis, monkeypatch):
    """The sync job itself: a chunk deferred by QuickBooks' limit writes the note the page shows, and
    is re-queued for then; the next chunk that completes clears it."""
    from jobs.sync import jobs

    environment = _environment(session, admin.account_id)
    run = _run(session, admin.account_id, "running", done=0, total=30, counts={"chunks": 2})
    monkeypatch.setattr(job_context_module, "_context", None)
    monkeypatch.setattr(job_context_module, "_app", app)
    monkeypatch.setattr(jobs, "_pinned", lambda s, r: (s.get(Environment, environment.id), SimpleNamespace(id=1, realm_id="9130",
                                                                                                        relink_existing=False)))
    monkeypatch.setattr(jobs, "mapping_context", lambda *a: None)
    monkeypatch.setattr(jobs, "_fusebill", lambda *a: None)

    def throttled(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise Throttled("The QuickBooks Online rate limit for this company is used up for now; try again in 31 seconds.",
                        retry_after=30.5, limit="qbo")

    monkeypatch.setattr(jobs, "_sync_customers", throttled)
    backfill = Queue(BACKFILL, connection=redis)
    scheduled_before = set(backfill.scheduled_job_registry.get_job_ids())
    try:
        result = jobs.sync_chunk(run.id, ["100", "101"], 0)
        assert result["status"] == "deferred"
        note = json.loads(redis.get(waiting_key(run.id)))
        assert note["service"] == "qbo"
        wait = (datetime.fromisoformat(note["until"]) - utcnow()).total_seconds()
        assert 28 <= wait <= 31 and 80 <= redis.ttl(waiting_key(run.id)) <= 91
        deferred = set(backfill.scheduled_job_registry.get_job_ids()) - scheduled_before
        assert len(deferred) == 1  # re-queued for when the limit has room (the scheduler), not slept on
        assert backfill.fetch_job(deferred.pop()).args == (run.id, ["100", "101"], 0)

        jobs._chunk_done(jobs.job_context(), run.id, 1)  # another chunk completes
        assert redis.get(waiting_key(run.id)) is None
    finally:  # this session's Redis is shared: leave no chunk marks or deferred jobs for later tests' runs
        redis.delete(jobs._done_key(run.id))
        for job_id in set(backfill.scheduled_job_registry.get_job_ids()) - scheduled_before:
            backfill.scheduled_job_registry.remove(job_id, delete_job=True)


def test_the_deferred_chunk_shows_on_the_page(client, session, admin, redis):
    run = _run(session, admin.account_id, "running", done=0, total=30)
    note_waiting(redis, run.id, Throttled("Fusebill's daily rate limit was reached.", status=429, retry_after=3600.0), 600.0)
    body = _text(client.get(f"/sync/runs/{run.id}"))
    assert re.search(r"Waiting on Fusebill's rate limit for this Fusebill account — resumes in about (599|600) s\.", body)
