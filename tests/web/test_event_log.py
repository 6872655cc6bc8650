"""The event log (/sync/records) and the counts overview on /sync/: filters, search, keyset paging,
CSV export with its formula guard, and the Retry buttons, which queue a targeted run on the real
Redis (rows are inserted directly: no sync runs here). SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import html
import io
import re
from datetime import datetime, timedelta, timezone

import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import func, insert, select, text

from jobs.queues import SYNC
from jobs.sync.model import Key
from jobs.sync.outcomes import refused_before
from portal.models import AuditEvent, Environment, SyncRecord, SyncRun, utcnow
from tests.portal_fixtures import post_form, sign_in

DAY = datetime(2024, 5, 10, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def admin(client, make_account, admin_of):
    account = make_account(enabled=True)
    user = admin_of(account)
    sign_in(client, user)
    return user


@pytest.fixture
def sync_queue(redis_url):
    connection = Redis.from_url(redis_url)
    connection.flushdb()  # the pending sets, the flush's debounce key and the scheduled jobs
    queue = Queue(SYNC, connection=connection)
    yield queue
    connection.flushdb()


def _environment(session, account_id, kind="sandbox"):
    return session.scalar(select(Environment).where(Environment.account_id == account_id, Environment.kind == kind))


def _run(session, environment, status="partial"):
    run = SyncRun(environment_id=environment.id, realm_id="9130", status=status, trigger="manual", counts={},
                  started_at=utcnow() - timedelta(minutes=10), finished_at=None if status in ("queued", "running") else utcnow())
    session.add(run)
    session.commit()
    return run


def _record(session, environment, fusebill_id, state="synced", **values):
    row = SyncRecord(environment_id=environment.id, entity_type=values.pop("entity_type", "invoice"), fusebill_id=str(fusebill_id),
                     customer_id=values.pop("customer_id", "100"), state=state, attempts=values.pop("attempts", 1),
                     updated_at=values.pop("updated_at", DAY), **values)
    session.add(row)
    session.commit()
    return row


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _ids(response) -> list[int]:
    assert response.status_code == 200, _text(response)[:2000]
    return [int(i) for i in re.findall(r'data-record-id="(\d+)"', response.get_data(as_text=True))]


def _link(response, name: str) -> str | None:
    match = re.search(r'href="([^"]+)"[^>]*data-test="%s"' % name, response.get_data(as_text=True))
    return html.unescape(match.group(1)) if match else None


@pytest.fixture
def seeded(session, admin):
    """Two runs' worth of records of every kind a filter can tell apart."""
    environment = _environment(session, admin.account_id)
    first, second = _run(session, environment), _run(session, environment)
    rows = {
        "inv_synced": _record(session, environment, 5531, "synced", label="Invoice 1042", qbo_id="88", run_id=first.id, customer_id="100"),
        "inv_failed": _record(session, environment, 5532, "failed", label="Invoice 1043", run_id=second.id, customer_id="101",
                              qbo_code="6140", reason="Duplicate Document Number Error", hint="This document number is already used in QuickBooks.",
                              updated_at=DAY + timedelta(days=2)),
        "pay_pending": _record(session, environment, 812, "pending", entity_type="payment", label="Payment 812", run_id=second.id,
                               customer_id="101", reason="Waits for Invoice 1043", updated_at=DAY + timedelta(days=5)),
        "cust_skipped": _record(session, environment, 100, "skipped", entity_type="customer", label="Customer Acme (100)", run_id=first.id,
                                customer_id="100", reason="Not created: new customers are not created", updated_at=DAY - timedelta(days=3)),
        "cust_failed": _record(session, environment, 102, "failed", entity_type="customer", label="Customer Bolt (102)", run_id=second.id,
                               customer_id="102", qbo_code="6240", reason="Duplicate Name Exists Error", qbo_id="501"),
    }
    other = _environment(session, admin.account_id, "production")  # the other environment of the same account: never listed
    rows["production"] = _record(session, other, 5531, "failed", label="Invoice 1042", customer_id="100")
    return environment, first, second, rows


# ------------------------------------------------------------------ filters and search
def test_every_record_of_the_active_environment_is_listed_newest_first(client, seeded):
    _, _, _, rows = seeded
    listed = _ids(client.get("/sync/records"))
    expected = sorted((r.id for name, r in rows.items() if name != "production"), reverse=True)
    assert listed == expected
    body = _text(client.get("/sync/records"))
    row = body[body.find(f'data-record-id="{rows["inv_failed"].id}"'):][:1500]
    # A failure shows QBO's code and message and the plain-language hint, and a Retry button.
    assert "code 6140" in row and "Duplicate Document Number Error" in row and "already used in QuickBooks" in row
    assert 'data-test="retry"' in row
    synced = body[body.find(f'data-record-id="{rows["inv_synced"].id}"'):][:1200]
    assert 'data-test="retry"' not in synced.split("</tr>")[0]


@pytest.mark.parametrize("query, names", [
    ("state=failed", {"inv_failed", "cust_failed"}),
    ("state=pending", {"pay_pending"}),
    ("type=customer", {"cust_skipped", "cust_failed"}),
    ("type=payment", {"pay_pending"}),
    ("customer=101", {"inv_failed", "pay_pending"}),
    ("from=2024-05-12", {"inv_failed", "pay_pending"}),
    ("to=2024-05-10", {"inv_synced", "cust_skipped", "cust_failed"}),
    ("from=2024-05-10&to=2024-05-12", {"inv_synced", "inv_failed", "cust_failed"}),
    ("type=invoice&state=failed&customer=101", {"inv_failed"}),
    ("state=synced&type=payment", set()),
])
def test_each_filter_narrows_the_list(client, seeded, query, names):
    _, _, _, rows = seeded
    assert set(_ids(client.get(f"/sync/records?{query}"))) == {rows[n].id for n in names}


def test_the_run_filter(client, seeded):
    _, first, second, rows = seeded
    assert set(_ids(client.get(f"/sync/records?run={first.id}"))) == {rows["inv_synced"].id, rows["cust_skipped"].id}
    assert set(_ids(client.get(f"/sync/records?run={second.id}&state=failed"))) == {rows["inv_failed"].id, rows["cust_failed"].id}


@pytest.mark.parametrize("q, names", [
    ("5532", {"inv_failed"}),                     # a Fusebill id
    ("501", {"cust_failed"}),                     # a QBO id
    ("88", {"inv_synced"}),                       # a QBO id
    ("1042", {"inv_synced"}),                     # a document number
    ("Invoice 1043", {"inv_failed"}),             # a document label
    ("invoice 1043", {"inv_failed"}),             # written another way
    ("  812 ", {"pay_pending"}),                  # a payment's id (spaces ignored)
    ("Customer Acme (100)", {"cust_skipped"}),
    ("9999", set()),
])
def test_search_by_each_kind_of_id(client, seeded, q, names):
    _, _, _, rows = seeded
    assert set(_ids(client.get("/sync/records", query_string={"q": q}))) == {rows[n].id for n in names}


@pytest.mark.parametrize("query, field, message", [
    ("run=abc", "run", "A run is a number"),
    ("run=999999", "run", "There is no run #999999 in the sandbox environment."),
    ("from=2024-13-01", "from", "Use a date like 2024-05-31."),
    ("to=yesterday", "to", "Use a date like 2024-05-31."),
    ("from=2024-05-10&to=2024-05-01", "to", "The end date is before the start date."),
    ("state=lost", "state", "Choose one of: synced, pending, failed, skipped."),
    ("type=spaceship", "type", "There are no 'spaceship' records"),
    ("customer=Acme", "customer", "A Fusebill customer id is a number"),
    ("before=x", "page", "A page link is a number"),
])
def test_a_bad_filter_value_gets_an_error_next_to_it(client, seeded, query, field, message):
    response = client.get(f"/sync/records?{query}")
    assert response.status_code == 400
    body = _text(response)
    assert f'data-field="{field}">{message}' in body, body[body.find("field-error") - 200:][:600]
    assert 'data-test="filters-invalid"' in body and "data-record-id" not in body
    # The CSV link of a bad filter goes back to the page that says what is wrong.
    csv_response = client.get(f"/sync/records.csv?{query}")
    assert csv_response.status_code == 302 and "/sync/records?" in csv_response.headers["Location"]


def test_a_run_of_the_other_environment_is_not_a_filter_here(client, session, seeded, admin):
    other = _run(session, _environment(session, admin.account_id, "production"))
    assert client.get(f"/sync/records?run={other.id}").status_code == 400


# ------------------------------------------------------------------ keyset paging
def _bulk(session, environment, count, *, start=1, state_of=lambda n: "failed" if n % 3 == 0 else "synced", run_id=None):
    now = utcnow()
    session.execute(insert(SyncRecord), [
        {"environment_id": environment.id, "entity_type": "invoice" if n % 2 else "payment", "fusebill_id": str(n),
         "customer_id": str(1000 + n % 50), "label": f"Invoice {n}", "state": state_of(n), "attempts": 1, "run_id": run_id,
         "updated_at": now} for n in range(start, start + count)])
    session.commit()


def _walk(client, url):
    """Follow Older links from `url` to the last page: every id seen, page by page."""
    pages, seen_urls = [], []
    while url:
        seen_urls.append(url)
        response = client.get(url)
        pages.append(_ids(response))
        url = _link(response, "older")
        assert len(pages) < 50
    return pages, seen_urls


def test_paging_across_pages_keeps_the_filters(client, session, admin):
    environment = _environment(session, admin.account_id)
    _bulk(session, environment, 360)
    failed = set(session.scalars(select(SyncRecord.id).where(SyncRecord.environment_id == environment.id, SyncRecord.state == "failed")))
    assert len(failed) == 120

    pages, urls = _walk(client, "/sync/records?state=failed&type=payment")
    expected = sorted(session.scalars(select(SyncRecord.id).where(SyncRecord.environment_id == environment.id, SyncRecord.state == "failed",
                                                                   SyncRecord.entity_type == "payment")), reverse=True)
    assert len(expected) == 60 and [len(p) for p in pages] == [50, 10]
    assert [i for page in pages for i in page] == expected  # newest first, nothing twice, nothing left out
    assert all("state=failed" in u and "type=payment" in u for u in urls[1:])

    # Newer from the last page comes back to the first one, filters kept; the first page has no Newer.
    last = client.get(urls[-1])
    newer = _link(last, "newer")
    assert newer and "state=failed" in newer and "type=payment" in newer
    assert _ids(client.get(newer)) == pages[0]
    assert _link(client.get(urls[0]), "newer") is None and _link(last, "older") is None

    # Unfiltered: 360 rows in 8 pages.
    everything, _ = _walk(client, "/sync/records")
    assert [len(p) for p in everything] == [50] * 7 + [10]
    assert len({i for p in everything for i in p}) == 360


def test_a_hundred_thousand_rows_first_and_deep_pages(client, session, admin, migrated_database):
    if migrated_database.backend != "postgresql":
        pytest.skip("the 100,000-row check runs on PostgreSQL")
    environment = _environment(session, admin.account_id)
    for start in range(1, 100_001, 20_000):
        _bulk(session, environment, 20_000, start=start)
    session.execute(text("ANALYZE sync_records"))
    ids = session.execute(select(func.min(SyncRecord.id), func.max(SyncRecord.id)).where(SyncRecord.environment_id == environment.id)).one()
    low, high = ids
    assert high - low == 99_999

    assert _ids(client.get("/sync/records")) == list(range(high, high - 50, -1))
    deep = low + 1234
    assert _ids(client.get(f"/sync/records?before={deep}")) == list(range(deep - 1, deep - 51, -1))
    # The last page: what is left, and no Older link.
    last = client.get(f"/sync/records?before={low + 20}")
    assert _ids(last) == list(range(low + 19, low - 1, -1)) and _link(last, "older") is None
    # A filtered deep page (every third Fusebill id failed): the ids right below the cursor.
    failed_deep = _ids(client.get(f"/sync/records?state=failed&type=invoice&before={deep}"))
    expected = [i for i in range(deep - 1, low - 1, -1) if (i - low + 1) % 3 == 0 and (i - low + 1) % 2][:50]
    assert failed_deep == expected
    assert set(_ids(client.get("/sync/records?q=77777"))) == {low + 77776}

    # The filtered pages are index scans (migration 0013), not a sort of the whole environment.
    for where in ("state = 'failed'", "entity_type = 'invoice'"):
        plan = "\n".join(r[0] for r in session.execute(text(
            f"EXPLAIN SELECT * FROM sync_records WHERE environment_id = {environment.id} AND {where} AND id < {deep} ORDER BY id DESC LIMIT 51")))
        assert "Index Scan" in plan and "Sort" not in plan and "Seq Scan" not in plan, plan
    plan = "\n".join(r[0] for r in session.execute(text(
        f"EXPLAIN SELECT * FROM sync_records WHERE environment_id = {environment.id} AND (fusebill_id = '77777' OR qbo_id = '77777' "
        f"OR label IN ('77777', 'Invoice 77777')) ORDER BY id DESC LIMIT 51")))
    assert "Seq Scan" not in plan, plan


# ------------------------------------------------------------------ CSV
def test_csv_export_has_the_filtered_rows_and_guards_against_formulas(client, session, seeded):
    environment, _, second, rows = seeded
    _record(session, environment, 9001, "failed", label="=HYPERLINK(\"http://evil\",\"x\")", customer_id="101", reason="+1 then -2",
            hint="@SUM(A1)", run_id=second.id)
    response = client.get("/sync/records.csv?customer=101")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert table[0] == ["record_id", "updated_at", "entity_type", "fusebill_id", "customer_id", "label", "state", "qbo_id", "qbo_code",
                        "reason", "hint", "attempts", "run_id"]
    body = {row[3]: dict(zip(table[0], row)) for row in table[1:]}
    assert set(body) == {"5532", "812", "9001"}  # customer 101 only
    assert body["5532"]["qbo_code"] == "6140" and body["5532"]["reason"] == "Duplicate Document Number Error"
    assert body["5532"]["updated_at"].startswith("2024-05-12T12:00:00")
    evil = body["9001"]
    assert evil["label"] == "'=HYPERLINK(\"http://evil\",\"x\")" and evil["reason"] == "'+1 then -2" and evil["hint"] == "'@SUM(A1)"
    # Rows come newest first, like the page.
    assert [int(r[0]) for r in table[1:]] == sorted((int(r[0]) for r in table[1:]), reverse=True)


def test_csv_of_many_rows_streams_every_row_once(client, session, admin):
    environment = _environment(session, admin.account_id)
    _bulk(session, environment, 2_500)
    table = list(csv.reader(io.StringIO(client.get("/sync/records.csv?state=failed").get_data(as_text=True))))
    assert len(table) == 1 + 833 and len({r[0] for r in table[1:]}) == 833
    assert {r[6] for r in table[1:]} == {"failed"}


# ------------------------------------------------------------------ retry
def _jobs(queue):
    """What a retry hands over: (environment, sorted customers) for each scheduled flush of the
    environment's pending set (the webhook path's job, which waits for a run that is going)."""
    from rq.registry import ScheduledJobRegistry

    from portal.services.webhooks import pending_key

    found = []
    for job_id in ScheduledJobRegistry(queue=queue).get_job_ids():
        job = queue.fetch_job(job_id)
        assert job.func_name == "jobs.sync.jobs.flush_webhook_customers"
        environment_id = job.args[0]
        members = sorted(m.decode() for m in queue.connection.smembers(pending_key(environment_id)))
        found.append(("flush", (environment_id, sorted(members, key=lambda c: (len(c), c)))))
    return found + [(job.func_name, job.args) for job in queue.jobs]


def test_retry_queues_a_targeted_run_of_exactly_that_customer(client, session, seeded, sync_queue):
    environment, _, _, rows = seeded
    failed = rows["inv_failed"]
    page = "/sync/records?state=failed"
    response = post_form(client, page, f"/sync/records/{failed.id}/retry?state=failed")
    assert response.status_code == 302 and response.headers["Location"].endswith("/sync/records?state=failed")
    assert _jobs(sync_queue) == [("flush", (environment.id, ["101"]))]

    session.expire_all()
    # Every failed or pending record of that customer now waits for the retry; nobody else's changed.
    assert session.get(SyncRecord, failed.id).state == "pending" and session.get(SyncRecord, failed.id).reason == "Retry requested"
    assert session.get(SyncRecord, rows["pay_pending"].id).reason == "Retry requested"
    assert session.get(SyncRecord, rows["cust_failed"].id).state == "failed"
    assert session.get(SyncRecord, rows["production"].id).state == "failed"
    # QBO's code stays, so the retry gets a fresh requestid (QBO would replay the refusal otherwise).
    assert session.get(SyncRecord, failed.id).qbo_code == "6140"
    assert refused_before(session, environment.id, ["101"]) == {Key("invoice", "5532"): 1}
    audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "sync.retry_requested").order_by(AuditEvent.id)).all()[-1]
    assert audit.details["customer_id"] == "101" and audit.details["records"] == 2

    body = _text(client.get("/sync/records?customer=101"))
    assert "Retry queued for 2 records of 1 customer" in body
    row = body[body.find(f'data-record-id="{failed.id}"'):][:1500]
    assert 'data-state="pending"' in row and "Retry requested" in row


def test_retry_comes_back_to_the_same_page(client, session, admin, sync_queue):
    environment = _environment(session, admin.account_id)
    _bulk(session, environment, 200)
    first = client.get("/sync/records?state=failed")
    older = _link(first, "older")
    assert older and "before=" in older
    second = client.get(older)
    record_id = _ids(second)[0]
    action = html.unescape(re.search(r'action="(/sync/records/%d/retry[^"]*)"' % record_id, second.get_data(as_text=True)).group(1))
    assert "state=failed" in action and "before=" in action
    response = post_form(client, older, action)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert "state=failed" in location and older.split("before=")[1].split("&")[0] in location
    assert len(_jobs(sync_queue)) == 1


def test_retry_all_failed_queues_every_customer_with_failed_records(client, session, seeded, sync_queue):
    environment, _, _, rows = seeded
    page = client.get("/sync/records")
    assert "Retry all failed (2)" in _text(page)
    response = post_form(client, "/sync/records", "/sync/records/retry-failed")
    assert response.status_code == 302
    assert _jobs(sync_queue) == [("flush", (environment.id, ["101", "102"]))]
    session.expire_all()
    states = {name: session.get(SyncRecord, r.id).state for name, r in rows.items()}
    assert states == {"inv_synced": "synced", "inv_failed": "pending", "pay_pending": "pending", "cust_skipped": "skipped",
                      "cust_failed": "pending", "production": "failed"}
    body = _text(client.get("/sync/records"))
    assert "Retry queued for 3 records of 2 customers" in body and "Retry all failed" not in body.split('data-test="records"')[0]

    # Nothing failed any more: the button is gone and a second press says so.
    response = post_form(client, "/sync/records", "/sync/records/retry-failed", follow_redirects=True)
    assert "No record has failed in this environment" in _text(response)
    assert len(_jobs(sync_queue)) == 1


def test_retry_all_failed_marks_large_sets_in_chunks(client, session, admin, sync_queue):
    environment = _environment(session, admin.account_id)
    now = utcnow()
    session.execute(insert(SyncRecord), [
        {"environment_id": environment.id, "entity_type": "invoice", "fusebill_id": str(n), "customer_id": str(n), "label": f"Invoice {n}",
         "state": "failed", "attempts": 1, "updated_at": now} for n in range(1, 1201)])
    session.commit()
    assert post_form(client, "/sync/records", "/sync/records/retry-failed").status_code == 302
    (_, args), = _jobs(sync_queue)
    assert args == (environment.id, [str(n) for n in range(1, 1201)])
    assert session.scalar(select(func.count()).select_from(SyncRecord).where(SyncRecord.environment_id == environment.id,
                                                                            SyncRecord.state == "pending")) == 1200


def test_retry_while_a_run_is_going_waits_for_it_and_says_so(client, session, seeded, sync_queue):
    environment, _, _, rows = seeded
    going = _run(session, environment, "running")
    response = post_form(client, "/sync/records", f"/sync/records/{rows['cust_failed'].id}/retry", follow_redirects=True)
    assert f"sync run #{going.id} is going now, and the retry runs as soon as it ends" in _text(response)
    # Handed to the flush, which reschedules itself while a run is going: never dropped.
    assert _jobs(sync_queue) == [("flush", (environment.id, ["102"]))]
    session.expire_all()
    assert session.get(SyncRecord, rows["cust_failed"].id).state == "pending"


def test_a_synced_record_has_nothing_to_retry(client, session, seeded, sync_queue):
    _, _, _, rows = seeded
    response = post_form(client, "/sync/records", f"/sync/records/{rows['inv_synced'].id}/retry", follow_redirects=True)
    assert "is synced: there is nothing to retry" in _text(response)
    assert _jobs(sync_queue) == []


def test_a_record_of_another_account_or_environment_is_not_found(client, session, seeded, make_account, sync_queue):
    _, _, _, rows = seeded
    other = make_account(enabled=True)
    theirs = _record(session, _environment(session, other.id), 4242, "failed", customer_id="7")
    for record_id in (theirs.id, rows["production"].id, 999_999):
        assert post_form(client, "/sync/records", f"/sync/records/{record_id}/retry").status_code == 404
    assert _jobs(sync_queue) == []
    session.expire_all()
    assert session.get(SyncRecord, theirs.id).state == "failed"


def test_retry_needs_the_csrf_token_and_the_pages_are_gated(client, session, seeded, support_user, sync_queue):
    _, _, _, rows = seeded
    assert client.post(f"/sync/records/{rows['inv_failed'].id}/retry").status_code == 400
    assert client.post("/sync/records/retry-failed").status_code == 400
    assert _jobs(sync_queue) == []
    fresh = client.application.test_client()
    assert fresh.get("/sync/records").status_code == 302
    assert fresh.get("/sync/records.csv").status_code == 302
    sign_in(fresh, support_user)
    assert fresh.get("/sync/records").status_code == 403


def test_the_event_log_reads_only(client, session, seeded):
    before = session.scalar(select(func.count()).select_from(AuditEvent))
    for path in ("/sync/records", "/sync/records?state=failed", "/sync/records.csv", "/sync/"):
        assert client.get(path).status_code == 200
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == before


# ------------------------------------------------------------------ overview of counts on /sync/
def test_the_sync_page_counts_records_per_type_with_links(client, session, seeded):
    environment, _, _, rows = seeded
    _record(session, environment, 5600, "synced", customer_id="100")
    _record(session, environment, 7000, "synced", entity_type="refund", customer_id="100")
    body = _text(client.get("/sync/"))
    assert 'href="/sync/records"' in body
    table = body[body.find('data-test="record-overview"'):]
    types = re.findall(r'<tr data-entity-type="([^"]+)"', table)
    assert types == ["customer", "invoice", "payment", "refund"]  # the engine's order; only types that exist

    def counts(entity_type):
        row = table[table.find(f'data-entity-type="{entity_type}"'):].split("</tr>")[0]
        return dict(re.findall(r'data-count="(\w+)">(\d+)<', row)), row

    invoice, _ = counts("invoice")
    assert invoice == {"seen": "3", "synced": "2", "pending": "0", "failed": "1", "skipped": "0"}
    raw = client.get("/sync/").get_data(as_text=True)
    assert 'href="/sync/records?type=invoice" data-count="seen"' in raw
    assert 'href="/sync/records?type=invoice&amp;state=failed" data-count="failed"' in raw
    assert counts("customer")[0] == {"seen": "2", "synced": "0", "pending": "0", "failed": "1", "skipped": "1"}
    assert counts("payment")[0]["pending"] == "1"
    # Each count's link lists exactly those records.
    assert set(_ids(client.get("/sync/records?type=customer&state=skipped"))) == {rows["cust_skipped"].id}
