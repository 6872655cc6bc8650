"""Fusebill webhooks (key checks, malformed bodies, replays, bursts coalesced into one run, and a
change reaching QBO through the emulator's real delivery), scheduled syncs and disabled accounts —
on a committed database, real Redis and forked RQ work horses."""
from __future__ import annotations

import base64
import json
import re
import time

import pytest
from rq import Queue, Worker
from sqlalchemy import select

from emulators.common.server import BackgroundServer
from jobs.queues import ALL, MAINTENANCE
from portal.models import Account, Environment, SyncRecord, SyncRun
from portal.models.integration import RUN_FINISHED
from tests.sync.conftest import build_world

pytestmark = pytest.mark.sync

CUSTOMERS = 6
US = {"country": "US", "home_currency": "USD", "tax": "none"}
USD_ONLY = {"currency_weights": {"USD": 1}}
HEADER = "X-Fusebill-Webhook-Key"


@pytest.fixture
def world(tmp_path, backend, qbo, fusebill, redis_url, request):  # type: ignore[no-untyped-def]
    seed = 301 + len(request.node.name) % 50
    yield from build_world(tmp_path, backend, qbo, fusebill, redis_url, customers=CUSTOMERS, seed=seed, company=US, seed_options=USD_ONLY)


def _endpoint(world) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """The webhook URL path and key, as the Environments page shows them."""
    page = world.client.get("/setup/environment").get_data(as_text=True)
    url = re.search(r'data-test="webhook-url-sandbox">([^<]+)<', page).group(1)
    key = re.search(r'data-test="webhook-key-sandbox">([^<]+)<', page).group(1)
    return url, key


def _path(url: str) -> str:
    return url[url.index("/webhooks/"):]


def _event(event_id, customer_id, event_type="CustomerUpdated") -> bytes:  # type: ignore[no-untyped-def]
    return json.dumps({"eventId": event_id, "eventType": event_type, "eventTimestamp": "2026-01-01T00:00:00",
                       "entityType": "Customer", "entityId": customer_id, "customerId": customer_id, "entity": None}).encode()


def _post(client, path, body, key):  # type: ignore[no-untyped-def]
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers[HEADER] = base64.b64encode(key.encode()).decode()
    return client.post(path, data=body, headers=headers)


def _runs(world, trigger=None):  # type: ignore[no-untyped-def]
    with world.database.session_scope() as session:
        query = select(SyncRun).order_by(SyncRun.id)
        if trigger:
            query = query.where(SyncRun.trigger == trigger)
        rows = list(session.scalars(query))
        for row in rows:
            session.expunge(row)
        return rows


def _work(world, seconds: float = 0.0) -> None:  # type: ignore[no-untyped-def]
    """Burst workers (forking, with the scheduler) until nothing is queued or scheduled within `seconds`."""
    queues = [Queue(name, connection=world.redis) for name in ALL]
    deadline = time.monotonic() + seconds
    while True:
        Worker(queues, connection=world.redis).work(burst=True, with_scheduler=True, logging_level="WARNING")
        scheduled = sum(q.scheduled_job_registry.count for q in queues)
        if not scheduled or time.monotonic() > deadline:
            return
        time.sleep(0.2)


def _jobs_in_this_process(world) -> None:  # type: ignore[no-untyped-def]
    """Before calling a job function here, not in a work horse: job_context() forgets an inherited
    pool without closing it (right in a fork); close this process's idle connections first."""
    from jobs.context import job_context

    world.database.engine.dispose()
    job_context()


def _customer_ids(world) -> list[int]:  # type: ignore[no-untyped-def]
    """Fusebill's customers, those the first sync synced first (some are held: another currency)."""
    with world.database.session_scope() as session:
        synced = {r.fusebill_id for r in session.scalars(select(SyncRecord).where(SyncRecord.entity_type == "customer", SyncRecord.state == "synced"))}
    ids = [c["id"] for c in world.fusebill.get(world.api_key, "/customers", pageSize=100).json()]
    return sorted(ids, key=lambda c: str(c) not in synced)


def test_webhook_endpoint_checks_keys_bodies_replays_and_coalesces_a_burst(world):
    world.sync()
    url, key = _endpoint(world)
    path = _path(url)
    assert re.fullmatch(r"/webhooks/fusebill/[A-Za-z0-9_-]{40,}", path)
    anonymous = world.app.test_client()  # Fusebill signs in to nothing
    first, second = _customer_ids(world)[:2]
    before = len(_runs(world))

    assert _post(anonymous, path, _event(1, first), None).status_code == 401
    assert _post(anonymous, path, _event(1, first), "not-the-key").status_code == 401
    bad_base64 = anonymous.post(path, data=_event(1, first), headers={HEADER: "%%%not base64"})
    assert bad_base64.status_code == 401
    assert _post(anonymous, "/webhooks/fusebill/no-such-token", _event(1, first), key).status_code == 404
    for body in (b"{not json", b"[]", b'{"eventType": "CustomerUpdated"}', json.dumps({"eventId": 5, "eventType": "CustomerUpdated"}).encode(),
                 b"\xff\xfe", b""):
        assert _post(anonymous, path, body, key).status_code == 400, body
    unknown = _post(anonymous, path, _event(2, first, "SubscriptionRenewalWarning"), key)
    assert unknown.status_code == 202 and unknown.get_json()["status"] == "ignored"
    assert anonymous.get(path).status_code == 405
    _work(world, 3)
    assert len(_runs(world)) == before  # nothing of the above started anything

    # A burst: five events for one customer and two for another, then their replays.
    for event_id in range(10, 15):
        assert _post(anonymous, path, _event(event_id, first), key).status_code == 202
    for event_id in (20, 21):
        assert _post(anonymous, path, _event(event_id, second, "InvoicePosted"), key).status_code == 202
    replay = _post(anonymous, path, _event(12, first), key)
    assert replay.status_code == 200 and replay.get_json()["status"] == "duplicate"
    time.sleep(1.6)
    _work(world, 5)
    webhook_runs = _runs(world, "webhook")
    assert len(webhook_runs) == 1, [(r.id, r.counts) for r in webhook_runs]
    run = webhook_runs[0]
    with world.database.session_scope() as session:
        odd = [(r.entity_type, r.fusebill_id, r.state, r.reason) for r in session.scalars(select(SyncRecord).where(
            SyncRecord.run_id == run.id, SyncRecord.state.in_(("failed", "pending"))))]
    assert run.status in RUN_FINISHED and run.status == "succeeded", (run.status, run.error, _runs(world)[0].status, odd)
    assert sorted(run.counts["customers"]) == sorted([str(first), str(second)]) and run.customers_total == 2
    assert run.read_at is None  # a targeted run moves no cursor

    # Replayed later (Fusebill retries, an attacker re-sending a captured event): no second run.
    for event_id in (10, 14, 20):
        assert _post(anonymous, path, _event(event_id, first), key).get_json()["status"] == "duplicate"
    time.sleep(1.6)
    _work(world, 3)
    assert len(_runs(world, "webhook")) == 1


def test_a_change_in_fusebill_reaches_qbo_through_the_emulators_webhook(world, capsys):
    world.sync()
    url, key = _endpoint(world)
    customer_id = _customer_ids(world)[0]
    with BackgroundServer(world.app) as portal:
        world.fusebill.register_webhook(world.api_key, portal.url + _path(url), key)
        with world.database.session_scope() as session:
            link = session.scalar(select(SyncRecord).where(SyncRecord.entity_type == "customer", SyncRecord.fusebill_id == str(customer_id)))
            qbo_id = link.qbo_id
        api = world.qbo_api()
        started = time.monotonic()
        world.fusebill.records(world.api_key, {"op": "update_customer", "customer_id": customer_id, "set": {"companyName": "Webhook Renamed Ltd"}})
        queues = [Queue(name, connection=world.redis) for name in ALL]
        name = None
        while time.monotonic() - started < 30:
            Worker(queues, connection=world.redis).work(burst=True, with_scheduler=True, logging_level="WARNING")
            name = list(api.query_all("Customer", f"Id = '{qbo_id}'"))[0]["DisplayName"]
            if "Webhook Renamed Ltd" in name:
                break
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        assert "Webhook Renamed Ltd" in (name or ""), name
        deliveries = world.fusebill.webhook_log(world.api_key)
    with capsys.disabled():
        print(f"\n[webhook latency] Fusebill change → QBO record: {elapsed:.2f}s")
    # How fast is measured by the benchmark (bench/, webhook_latency_*): here only that it arrives.
    assert any(a.get("status") in (200, 202) for d in deliveries["deliveries"] for a in d["attempts"]), deliveries
    assert [r.trigger for r in _runs(world)][-1] == "webhook"


def test_schedules_start_a_due_run_once_and_never_a_second(world):
    from jobs.schedules import due_accounts, run_schedules

    with world.database.session_scope() as session:
        environment = session.scalar(select(Environment).where(Environment.account_id == world.account_id, Environment.kind == "sandbox"))
        environment.schedule = "hourly"
    with world.database.session_scope() as session:
        assert due_accounts(session) == [world.account_id]  # never synced: due
    # Through the maintenance queue and a forked work horse, twice before any worker took the run.
    maintenance = Queue(MAINTENANCE, connection=world.redis)
    maintenance.enqueue(run_schedules, False)
    maintenance.enqueue(run_schedules, False)
    Worker([maintenance], connection=world.redis).work(burst=True, logging_level="WARNING")
    scheduled = _runs(world, "schedule")
    assert len(scheduled) == 1 and scheduled[0].status == "queued"
    run = world.work_until_finished(scheduled[0].id)
    assert run.status in ("succeeded", "partial"), (run.status, run.error)  # partial: the data set holds a few EUR customers
    _jobs_in_this_process(world)
    assert run_schedules(reschedule=False)["due"] == 0  # just ran: an hour to go
    assert len(_runs(world, "schedule")) == 1

    # An hour later it is due again; daily is not.
    from datetime import timedelta

    with world.database.session_scope() as session:
        for row in session.scalars(select(SyncRun)):
            row.started_at = row.started_at - timedelta(hours=2)
    assert run_schedules(reschedule=False)["started"] == 1
    with world.database.session_scope() as session:
        session.scalar(select(Environment).where(Environment.account_id == world.account_id, Environment.kind == "sandbox")).schedule = "daily"
    assert run_schedules(reschedule=False)["started"] == 0
    assert len(_runs(world, "schedule")) == 2
    # Off: never.
    with world.database.session_scope() as session:
        session.scalar(select(Environment).where(Environment.account_id == world.account_id, Environment.kind == "sandbox")).schedule = "off"
        for row in session.scalars(select(SyncRun)):
            row.started_at = row.started_at - timedelta(days=3)
    assert run_schedules(reschedule=False)["due"] == 0


def test_a_disabled_account_stops_scheduled_and_webhook_syncs_and_its_queued_work_is_skipped(world):
    from jobs.schedules import run_schedules
    from jobs.sync.jobs import DISABLED, sync_chunk
    from portal.extensions import service_context
    from portal.services.sync import start_sync

    url, key = _endpoint(world)
    customers = [str(c) for c in _customer_ids(world)[:3]]
    with world.app.app_context():
        with world.database.session_scope() as session:
            run_id = start_sync(session, service_context(), session.get(Account, world.account_id), trigger="test").id
    with world.database.session_scope() as session:
        session.get(Account, world.account_id).integration_enabled = False
        session.scalar(select(Environment).where(Environment.account_id == world.account_id, Environment.kind == "sandbox")).schedule = "hourly"
    # Queued work: a chunk already in the queue ends with its customers skipped, with the reason.
    _jobs_in_this_process(world)
    assert sync_chunk(run_id, customers, 0)["status"] == "skipped"
    _work(world)
    with world.database.session_scope() as session:
        run = session.get(SyncRun, run_id)
        assert run.status == "failed" and run.error == DISABLED
        records = list(session.scalars(select(SyncRecord).where(SyncRecord.run_id == run_id)))
        assert sorted(r.customer_id for r in records) == sorted(customers)
        assert {(r.state, r.reason) for r in records} == {("skipped", "The integration was disabled for this account.")}
    # Schedules and webhooks start nothing.
    assert run_schedules(reschedule=False)["due"] == 0
    answer = _post(world.app.test_client(), _path(url), _event(99, customers[0]), key)
    assert answer.status_code == 202 and answer.get_json()["status"] == "ignored"
    time.sleep(1.6)
    _work(world, 3)
    assert [r.id for r in _runs(world)] == [run_id]


def test_make_run_points_the_emulators_webhooks_at_the_portal_once(world):
    from portal.devrun import _register_demo_webhooks
    from portal.extensions import settings

    url, _ = _endpoint(world)
    with world.app.app_context():
        run_settings = settings()
    registered: set[str] = set()
    for _ in range(2):  # the supervisor's loop calls it every few seconds
        _register_demo_webhooks(world.app, run_settings, {world.fusebill.url}, registered)
    _register_demo_webhooks(world.app, run_settings, {world.fusebill.url}, set())  # a restart of make run
    assert [hook["url"] for hook in world.fusebill.webhook_log(world.api_key)["webhooks"]] == [url]
