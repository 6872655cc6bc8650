"""The sync pages: Sync now refused with every reason on an unfinished set-up, the runs list, and a
run page that tells a partial or failed run as it is (rows inserted directly: no sync runs here)."""
from __future__ import annotations

import html
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.models import AuditEvent, Environment, SyncRecord, SyncRun, utcnow
from tests.portal_fixtures import post_form, sign_in


@pytest.fixture
def admin(client, make_account, admin_of):
    account = make_account(enabled=True)
    user = admin_of(account)
    sign_in(client, user)
    return user


def _environment(session, account_id, kind="sandbox"):
    return session.scalar(select(Environment).where(Environment.account_id == account_id, Environment.kind == kind))


def _run(session, account_id, status, *, error=None, counts=None, done=0, total=0, finished=True, kind="sandbox"):
    environment = _environment(session, account_id, kind)
    run = SyncRun(environment_id=environment.id, realm_id="9130", status=status, trigger="manual", error=error,
                  counts=counts or {}, customers_done=done, customers_total=total,
                  started_at=utcnow() - timedelta(minutes=10), finished_at=utcnow() - timedelta(minutes=5) if finished else None)
    session.add(run)
    session.commit()
    return run


def _record(session, run, fusebill_id, state, **values):
    row = SyncRecord(environment_id=run.environment_id, entity_type=values.pop("entity_type", "invoice"), fusebill_id=fusebill_id,
                     customer_id=values.pop("customer_id", "100"), state=state, run_id=run.id, attempts=1, **values)
    session.add(row)
    session.commit()
    return row


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


# ------------------------------------------------------------------ Sync now on an unfinished set-up
def test_sync_now_on_an_unfinished_set_up_is_refused_with_every_reason(client, session, admin):
    page = _text(client.get("/sync/"))
    assert 'data-test="sync-now"' in page and 'data-test="no-runs"' in page
    assert 'data-test="sync-blockers"' in page and "Connect QuickBooks: Not connected." in page

    response = post_form(client, "/sync/", "/sync/start", {"origin": "sync"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/sync/")
    body = _text(client.get("/sync/"))
    # The flash carries the guard's whole message; the page lists the same reasons one by one.
    flash = body[body.find('class="flash flash-error"'):][:2000]
    assert "A sync cannot start yet:" in flash
    for reason in ("Connect QuickBooks: Not connected.", "Choose ledgers: Connect QuickBooks first.",
                   "Choose environment:", "the Fusebill API key", "the sync settings"):
        assert reason in flash and reason in body[body.find('data-test="sync-blockers"'):]
    assert session.scalar(select(func.count()).select_from(SyncRun)) == 0
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "sync.started")) == 0


def test_a_refusal_goes_back_to_the_overview_when_pressed_there(client, admin):
    response = post_form(client, "/sync/", "/sync/start", {"origin": "setup"}, follow_redirects=True)
    body = _text(response)
    assert 'data-page="setup-overview"' in body and "A sync cannot start yet:" in body
    step = body[body.find('data-step="sync"'):][:1500]
    assert 'data-state="unavailable"' in body[body.find('data-step="sync"') - 80:][:200]
    assert "Finish the steps above first." in step and 'data-test="sync-now"' not in step


def test_sync_now_needs_the_csrf_token(client, admin):
    assert client.post("/sync/start", data={"origin": "sync"}).status_code == 400


def test_the_sync_pages_are_gated(client, session, make_account, admin_of, support_user):
    assert client.get("/sync/").status_code == 302  # to sign-in
    assert client.post("/sync/start").status_code == 401
    sign_in(client, support_user)
    assert client.get("/sync/").status_code == 403
    other = make_account(enabled=False)
    fresh = client.application.test_client()
    sign_in(fresh, admin_of(other))
    assert fresh.get("/sync/").headers["Location"].endswith("/integration-disabled/")


# ------------------------------------------------------------------ runs list and run page
def test_runs_list_shows_status_times_and_counts(client, session, admin):
    _run(session, admin.account_id, "succeeded", counts={"created": 40, "updated": 2, "unchanged": 5, "records_synced": 47})
    partial = _run(session, admin.account_id, "partial", counts={"created": 7, "records_synced": 7, "records_failed": 3})
    _run(session, admin.account_id, "succeeded", counts={"records_synced": 1}, kind="production")  # not the active environment
    body = _text(client.get("/sync/"))
    assert body.count("<tr data-run=") == 2
    assert f'data-run="{partial.id}" data-status="partial"' in body
    assert "Succeeded: 47 records synced." in body and "Finished with 3 records failed." in body
    assert "40 / 2 / 5" in body and "3 / 0 / 0" in body
    assert 'http-equiv="refresh"' not in body  # nothing running


def test_a_partial_run_never_shows_as_complete(client, session, admin):
    run = _run(session, admin.account_id, "partial", done=60, total=60,
               counts={"created": 120, "updated": 4, "unchanged": 30, "qbo_requests": 14, "fusebill_requests": 66,
                       "records_synced": 150, "records_failed": 2, "records_pending": 1, "records_skipped": 4})
    _record(session, run, "5531", "failed", label="Invoice 1042", reason="Duplicate Document Number Error", qbo_code="6140",
            hint="This document number is already used in QuickBooks.")
    _record(session, run, "812", "pending", entity_type="payment", label="Payment 812", reason="Waits for Invoice 1042")
    _record(session, run, "77", "synced", label="Invoice 77")
    body = _text(client.get(f"/sync/runs/{run.id}"))
    assert 'data-status="partial"' in body
    headline = body[body.find('data-test="run-headline"'):][:200]
    assert "Finished with 2 records failed and 1 pending." in headline
    assert "Succeeded" not in body and "complete" not in body.lower()
    for key, value in {"customers": "60 of 60 customers", "created": "120", "updated": "4", "unchanged": "30", "failed": "2", "pending": "1",
                       "skipped": "4", "synced": "150", "qbo_requests": "14", "fusebill_requests": "66"}.items():
        assert f'data-count="{key}">{value}<' in body, key
    failures = body[body.find('data-test="run-failures"'):]
    assert "Invoice 1042" in failures and "Duplicate Document Number Error" in failures and "6140" in failures
    assert "This document number is already used in QuickBooks." in failures
    assert "Payment 812" in failures and "Waits for Invoice 1042" in failures
    assert "Invoice 77" not in failures
    assert 'http-equiv="refresh"' not in body


def test_a_failed_run_shows_its_error(client, session, admin):
    run = _run(session, admin.account_id, "failed", error="The sync could not start: Fusebill refused the API key.")
    body = _text(client.get(f"/sync/runs/{run.id}"))
    assert "Failed: The sync could not start: Fusebill refused the API key." in body
    assert 'data-status="failed"' in body and "Succeeded" not in body


def test_a_running_run_refreshes_itself_every_3_seconds(client, session, admin):
    run = _run(session, admin.account_id, "running", done=25, total=60, finished=False, counts={"created": 30})
    _record(session, run, "9", "failed", label="Customer 9", reason="Name already exists", qbo_code="6240")
    body = _text(client.get(f"/sync/runs/{run.id}"))
    assert '<meta http-equiv="refresh" content="3">' in body
    assert "Running: 25 of 60 customers done." in body
    assert 'data-count="failed">1<' in body  # live: the records it has touched so far
    assert 'data-test="sync-now"' not in body  # no second button while one runs
    assert '<meta http-equiv="refresh" content="3">' in _text(client.get("/sync/"))


def test_a_run_of_another_account_is_not_found(client, session, admin, make_account):
    other = make_account(enabled=True)
    theirs = _run(session, other.id, "succeeded")
    assert client.get(f"/sync/runs/{theirs.id}").status_code == 404
    assert client.get("/sync/runs/999999").status_code == 404


def test_page_gets_write_nothing(client, session, admin):
    run = _run(session, admin.account_id, "partial", counts={"records_failed": 1})
    before = session.scalar(select(func.count()).select_from(AuditEvent))
    for path in ("/sync/", f"/sync/runs/{run.id}"):
        assert client.get(path).status_code == 200
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == before
    assert session.get(SyncRun, run.id).status == "partial"
