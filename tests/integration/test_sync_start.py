"""Sync now on a ready set-up (through the real pages and emulators): one queued run, enqueued once,
audited once; a second press returns the same run; the overview's Sync step tells the last run.

No worker runs here: the sync itself is tested in tests/sync/.
"""
from __future__ import annotations

import html
from datetime import timedelta

import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import func, select

from jobs.queues import SYNC
from portal.models import AuditEvent, SyncRun, utcnow
from tests.integration.conftest import connect
from tests.portal_fixtures import post_form
from tests.support.helpers import save_key

LEDGERS = ("deferred_revenue", "sales_tax_payable", "payments_deposit", "refunds", "credits", "write_offs")


@pytest.fixture
def ready(enabled, qbo, fusebill_staging):
    """An enabled account whose set-up is complete: connected, ledgers chosen, key checked, settings saved."""
    realm = qbo.create_company(name="Sync Now Co")
    connect(enabled.client, qbo, realm_id=realm)
    for ledger in LEDGERS:
        post_form(enabled.client, "/setup/ledgers", "/setup/ledgers/create", {"ledger": ledger})
    save_key(enabled.client, fusebill_staging.create_account("sandbox"))
    post_form(enabled.client, "/setup/settings", "/setup/settings", {"display_name_parts": ["company_name"], "update_display_names": "yes",
                                                                    "new_customers": "create", "sync_start_date": "2025-01-01", "schedule": "off"})
    return enabled


@pytest.fixture
def sync_queue(redis_url):
    queue = Queue(SYNC, connection=Redis.from_url(redis_url))
    before = set(queue.job_ids)
    yield queue
    for job_id in set(queue.job_ids) - before:  # nothing may be left for another test's worker
        job = queue.fetch_job(job_id)
        if job is not None:
            job.delete()


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_sync_now_queues_one_run_and_a_second_press_returns_it(ready, session, sync_queue):
    client = ready.client
    overview = _text(client.get("/setup/"))
    step = overview[overview.find('data-step="sync"'):][:1500]
    assert 'data-state="todo"' in step and "Set-up complete. No sync yet" in step and 'data-test="sync-now"' in step
    assert 'href="/sync/"' in step

    first = post_form(client, "/setup/", "/sync/start", {"origin": "setup"})
    assert first.status_code == 302, _text(first)[:500]
    run = session.scalar(select(SyncRun))
    assert first.headers["Location"].endswith(f"/sync/runs/{run.id}")
    assert run.status == "queued" and run.trigger == "manual" and run.realm_id
    assert f"sync-run-{run.id}" in sync_queue.job_ids

    second = post_form(client, "/sync/", "/sync/start", {"origin": "sync"})
    assert second.headers["Location"] == first.headers["Location"]
    assert session.scalar(select(func.count()).select_from(SyncRun)) == 1
    assert sync_queue.job_ids.count(f"sync-run-{run.id}") == 1
    audits = session.scalars(select(AuditEvent).where(AuditEvent.action == "sync.started")).all()
    assert len(audits) == 1 and audits[0].actor_id == ready.admin.id and audits[0].details["run_id"] == run.id

    page = _text(client.get(f"/sync/runs/{run.id}"))
    assert "Queued: waiting for a worker" in page and '<meta http-equiv="refresh" content="3">' in page
    assert "A sync was queued" in _text(client.get("/setup/"))


def test_the_sync_step_tells_the_last_run(ready, session, sync_queue):
    post_form(ready.client, "/sync/", "/sync/start", {"origin": "sync"})
    run = session.scalar(select(SyncRun))
    run.status, run.finished_at = "succeeded", utcnow() - timedelta(minutes=5)
    run.counts = {"records_synced": 812, "created": 800}
    session.commit()
    overview = _text(ready.client.get("/setup/"))
    step = overview[overview.find('data-step="sync"') - 80:][:1500]
    assert 'data-state="done"' in step and "Last run succeeded 5 minutes ago: 812 records synced." in step

    run.status, run.counts = "partial", {"records_synced": 800, "records_failed": 12}
    session.commit()
    step = _text(ready.client.get("/setup/"))
    step = step[step.find('data-step="sync"') - 80:][:1500]
    assert 'data-state="todo"' in step and "Last run finished 5 minutes ago. Finished with 12 records failed." in step

    run.status, run.error = "failed", "Stopped: QuickBooks no longer accepts this connection."
    session.commit()
    step = _text(ready.client.get("/setup/"))
    assert "Last run failed 5 minutes ago: Stopped: QuickBooks no longer accepts this connection." in step


def test_a_blocker_makes_the_sync_step_unavailable_again(ready, session, qbo, sync_queue):
    from tests.integration.conftest import live

    connection = live(session, ready.account)
    connection.auto_apply_credit = True
    session.commit()
    overview = _text(ready.client.get("/setup/"))
    step = overview[overview.find('data-step="sync"') - 80:][:1500]
    assert 'data-state="unavailable"' in step and "Blocked:" in step and 'data-test="sync-now"' not in step
    refused = post_form(ready.client, "/sync/", "/sync/start", {"origin": "sync"}, follow_redirects=True)
    assert "Automatically apply credits" in _text(refused)
    assert session.scalar(select(func.count()).select_from(SyncRun)) == 0
