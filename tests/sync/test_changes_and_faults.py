"""Later runs write only what changed; faults, expired tokens, a killed worker and a reconnect leave
no duplicate and no gap."""
from __future__ import annotations

import os
import signal
import time
from collections import Counter

import pytest
from redis import Redis
from rq import Queue, Worker
from rq.registry import StartedJobRegistry
from sqlalchemy import select

from emulators.sampledata.generator import generate
from emulators.sampledata.oracle import expected_books
from jobs.queues import ALL
from portal.models import SyncLink, SyncRecord
from tests.sync.conftest import build_world, money

pytestmark = pytest.mark.sync

CUSTOMERS = 40
US = {"country": "US", "home_currency": "USD", "tax": "none"}
USD_ONLY = {"currency_weights": {"USD": 1}}
SYNCED = ("Active", "Hold", "Suspended", "Cancelled")


@pytest.fixture
def small_world(tmp_path, backend, qbo, fusebill, redis_url, request):  # type: ignore[no-untyped-def]
    seed = 101 + len(request.node.name) % 50
    for world in build_world(tmp_path, backend, qbo, fusebill, redis_url, customers=CUSTOMERS, seed=seed, company=US, seed_options=USD_ONLY):
        world.seed = seed
        yield world


def _links(world) -> dict:  # type: ignore[no-untyped-def]
    with world.database.session_scope() as session:
        return {(l.entity_type, l.fusebill_id, l.part): l.qbo_id for l in session.scalars(select(SyncLink))}


def _assert_books_match(world) -> None:  # type: ignore[no-untyped-def]
    """Promise 1 on the books read back from QBO, and no marker twice (promise 4)."""
    dataset = generate(CUSTOMERS, world.seed, **USD_ONLY)
    expected = expected_books(dataset, synced_statuses=SYNCED)
    links = _links(world)
    api = world.qbo_api()
    customers = {row["Id"]: row for row in api.query_all("Customer", "Active IN (true, false)")}
    foreign = {str(b.customer.id) for b in dataset.customers if b.customer.currency != "USD"}
    wrong = [(cid, str(want.ar_balance), customers[links[("customer", str(cid), "")]]["Balance"]) for cid, want in expected.customers.items()
             if str(cid) not in foreign and money(customers[links[("customer", str(cid), "")]]["Balance"]) != want.ar_balance]
    assert not wrong, wrong[:5]
    markers = Counter(row.get("Notes") for row in customers.values())
    assert max(markers.values()) == 1
    for entity in ("Invoice", "Payment", "CreditMemo", "JournalEntry"):
        notes = Counter(str(row.get("PrivateNote", "")).split(" · ")[0] for row in api.query_all(entity))
        assert max(notes.values(), default=1) == 1, [n for n, c in notes.items() if c > 1][:5]


def _open_invoice(world) -> dict:  # type: ignore[no-untyped-def]
    rows = world.fusebill.get(world.api_key, "/invoiceSummaries", pageSize=1000, query="invoiceStatus:Due,Overdue").json()
    customers = {str(c["id"]): c for c in world.fusebill.get(world.api_key, "/customers", pageSize=1000).json()}
    return next(r for r in rows if float(r["outstandingBalance"]) > 1 and customers[str(r["customerId"])]["currency"] == "USD"
                and customers[str(r["customerId"])]["status"] == "Active")


def test_only_the_records_that_changed_are_written(small_world):  # type: ignore[no-untyped-def]
    world = small_world
    first = world.sync(timeout=120)
    assert first.status in ("succeeded", "partial")
    invoice = _open_invoice(world)
    renamed = next(c for c in world.fusebill.get(world.api_key, "/customers", pageSize=1000).json()
                   if c["status"] == "Active" and c["currency"] == "USD" and str(c["id"]) != str(invoice["customerId"]))
    result = world.fusebill.records(world.api_key,
                                    {"op": "update_customer", "customer_id": renamed["id"], "set": {"companyName": "Renamed Holdings"}},
                                    {"op": "collect_payment", "customer_id": invoice["customerId"], "amount": "1.00",
                                     "allocations": [{"invoice_id": invoice["id"], "amount": "1.00"}]},
                                    {"op": "create_customer", "currency": "USD", "companyName": "Brand New Co"})
    new_customer = result["results"][2]["id"]
    world.fusebill.records(world.api_key, {"op": "post_invoice", "customer_id": new_customer,
                                           "charges": [{"name": "Plan", "amount": "50.00", "taxable": False}]})
    second = world.sync(timeout=120)
    # The payment, the new customer and its invoice are created; the renamed customer is updated;
    # nothing else is written.
    assert second.counts.get("created") == 3, second.counts
    assert second.counts.get("updated") == 1, second.counts
    assert not second.counts.get("deleted")
    links = _links(world)
    api = world.qbo_api()
    assert api.read("Customer", links[("customer", str(renamed["id"]), "")])["DisplayName"] == f"Renamed Holdings (FB-{renamed['id']})"
    assert money(api.read("Customer", links[("customer", str(new_customer), "")])["Balance"]) == money("50")


def test_injected_errors_timeouts_and_an_expired_token_are_absorbed(small_world):  # type: ignore[no-untyped-def]
    world = small_world
    world.qbo.set_faults(error_rate=0.08, timeout_rate=0.02, timeout_seconds=6, timeout_after_write=0.5, expire_tokens=True)
    world.fusebill.set_faults(error_rate=0.05, status=503, api_key=world.api_key)
    try:
        run = world.sync(timeout=240)
    finally:
        world.qbo.set_faults()
        world.fusebill.set_faults(api_key=world.api_key)
    if run.status != "succeeded":  # records a fault outlasted are retried by the next run
        run = world.sync(timeout=240)
    with world.database.session_scope() as session:
        states = Counter(r.state for r in session.scalars(select(SyncRecord)))
    assert states["synced"] > 0
    _assert_books_match(world)


def test_a_worker_killed_mid_run_leaves_no_duplicate_and_no_gap(small_world):  # type: ignore[no-untyped-def]
    world = small_world
    from portal.extensions import service_context
    from portal.models import Account
    from portal.services.sync import start_sync

    with world.app.app_context():
        with world.database.session_scope() as session:
            run_id = start_sync(session, service_context(), session.get(Account, world.account_id), trigger="test").id
    world.qbo.set_faults(latency_ms=40)  # slow enough to be killed in the middle
    child = os.fork()
    if child == 0:  # a worker process, as `python -m jobs.worker` runs one, in a process group of its own
        os.setpgrp()
        try:
            redis = Redis.from_url(world.redis_url)
            Worker([Queue(n, connection=redis) for n in ALL], connection=redis).work(burst=False, with_scheduler=True, logging_level="ERROR")
        finally:
            os._exit(0)
    deadline = time.monotonic() + 60
    while len(_links(world)) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(child, signal.SIGKILL)  # the worker and its work horse, as when a machine is lost
    os.waitpid(child, 0)
    world.qbo.set_faults()
    assert len(_links(world)) >= 20, "the worker was killed before it wrote anything"
    with world.database.session_scope() as session:
        from portal.models import SyncRun

        assert not session.get(SyncRun, run_id).finished, "the run ended before the worker was killed"
    # What RQ's registry clean-up does once the dead worker's job has expired: requeue it (retry).
    for name in ALL:
        queue = Queue(name, connection=world.redis)
        StartedJobRegistry(queue=queue).cleanup(timestamp=time.time() + 100_000)
    run = world.work_until_finished(run_id, timeout=180)
    assert run.status in ("succeeded", "partial"), run.counts
    _assert_books_match(world)


def test_disconnect_then_reconnect_to_the_same_company_creates_nothing(small_world):  # type: ignore[no-untyped-def]
    world = small_world
    first = world.sync(timeout=120)
    count = {e: len(list(world.qbo_api().query_all(e))) for e in ("Customer", "Invoice", "Payment", "CreditMemo", "JournalEntry")}
    from tests.integration.conftest import connect
    from tests.portal_fixtures import post_form

    with world.database.session_scope() as session:
        from portal.models import QboConnection

        company = session.scalar(select(QboConnection).where(QboConnection.realm_id == world.realm_id)).company_name
    response = post_form(world.client, "/setup/disconnect", "/setup/disconnect", {"company_name": company})
    assert response.status_code in (200, 302)
    assert not _links(world)
    connect(world.client, world.qbo, realm_id=world.realm_id)
    world.qbo.set_preferences(world.realm_id, auto_apply_credits=False)
    world.client.get("/setup/")
    again = world.sync(timeout=120)
    assert again.counts.get("created", 0) == 0, again.counts
    assert again.status == first.status
    assert {e: len(list(world.qbo_api().query_all(e))) for e in count} == count
    assert len(_links(world)) > 0


def _start_and_plan(world) -> int:  # type: ignore[no-untyped-def]
    """Sync now, and only the planning job: the run is running with every chunk enqueued."""
    from portal.extensions import service_context
    from portal.models import Account
    from portal.services.sync import start_sync

    with world.app.app_context():
        with world.database.session_scope() as session:
            run_id = start_sync(session, service_context(), session.get(Account, world.account_id), trigger="test").id
    Worker([Queue(n, connection=world.redis) for n in ALL], connection=world.redis).work(burst=True, max_jobs=1, logging_level="WARNING")
    return run_id


def _lose_chunks(world, run_id: int) -> None:  # type: ignore[no-untyped-def]
    """What the fresh-clone chaos run left once: chunk 0's job says "queued" but is in no queue; and
    chunk 1's job is gone altogether."""
    from rq.job import Job

    for name in ALL:
        world.redis.lrem(f"rq:queue:{name}", 0, f"sync-run-{run_id}-chunk-0")
    Job.fetch(f"sync-run-{run_id}-chunk-1", connection=world.redis).delete()
    Worker([Queue(n, connection=world.redis) for n in ALL], connection=world.redis).work(burst=True, logging_level="WARNING")


def _watch(world, at):  # type: ignore[no-untyped-def]
    from jobs.sync.watchdog import recover_lost_work
    from portal.extensions import service_context

    with world.app.app_context():
        return recover_lost_work(service_context(), now=at)


def test_lost_chunk_jobs_are_put_back_and_the_run_finishes(small_world):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from jobs.sync.jobs import CHUNK
    from portal.models import SyncRun, utcnow

    world = small_world
    assert CUSTOMERS > CHUNK  # at least two chunks
    run_id = _start_and_plan(world)
    _lose_chunks(world, run_id)
    with world.database.session_scope() as session:
        run = session.get(SyncRun, run_id)
        assert not run.finished and run.counts["chunks"] >= 2, (run.status, run.counts)
    now = utcnow()
    assert _watch(world, now)["runs_checked"] == 0  # too young to judge
    first = _watch(world, now + timedelta(minutes=3))
    assert first["chunks_requeued"] == 0, first  # seen missing once: not yet
    second = _watch(world, now + timedelta(minutes=4))
    assert second["chunks_requeued"] == 2, second
    assert _watch(world, now + timedelta(minutes=5))["chunks_requeued"] == 0  # queued now: nothing twice
    run = world.work_until_finished(run_id, timeout=120)
    assert run.status in ("succeeded", "partial"), (run.status, run.counts, run.error)
    _assert_books_match(world)


def test_a_chunk_lost_too_often_fails_visibly_and_a_lost_list_ends_the_run(small_world):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from jobs.sync import watchdog
    from portal.models import SyncRun, utcnow

    world = small_world
    run_id = _start_and_plan(world)
    _lose_chunks(world, run_id)
    world.redis.set(watchdog._recoveries_key(run_id, "chunk-0"), watchdog.MAX_RECOVERIES)  # put back too often already
    world.redis.hdel(f"fbqbo:sync:{run_id}:chunks", "1")  # and chunk 1's list is gone with its job
    now = utcnow()
    _watch(world, now + timedelta(minutes=3))
    result = _watch(world, now + timedelta(minutes=4))
    assert result["chunks_failed"] == 1 and result["runs_failed"] == 1, result
    with world.database.session_scope() as session:
        run = session.get(SyncRun, run_id)
        assert run.status == "failed" and run.error == watchdog.LOST
        failed = session.scalars(select(SyncRecord).where(SyncRecord.run_id == run_id, SyncRecord.state == "failed")).all()
        assert failed and all("stopped 4 times" in (row.reason or "") for row in failed), [row.reason for row in failed][:3]
    # The next sync reads from the last good cursor (none): every customer syncs, nothing twice.
    again = world.sync(timeout=120)
    assert again.status in ("succeeded", "partial"), (again.status, again.counts)
    _assert_books_match(world)


def test_documents_made_by_a_write_whose_answer_was_lost_are_relinked_never_duplicated(small_world):  # type: ignore[no-untyped-def]
    """QBO made the documents but the links were never committed (a batch's answer lost, its chunk
    given up): the next run finds them by marker instead of creating them again. A customer whose
    own link alone is missing is recognised by its marker when QBO says its name is taken (6240)."""
    from sqlalchemy import delete, update

    world = small_world
    world.sync(timeout=120)
    links = _links(world)
    rows = world.fusebill.get(world.api_key, "/customers", pageSize=1000).json()
    usd = [str(c["id"]) for c in rows if c["status"] == "Active" and c["currency"] == "USD"]
    with world.database.session_scope() as session:
        invoiced = set(session.scalars(select(SyncLink.customer_id).where(SyncLink.entity_type == "invoice")))
    with_docs = [c for c in usd if c in invoiced]
    lost_all, lost_customer = with_docs[0], with_docs[1]
    with world.database.session_scope() as session:
        session.execute(delete(SyncLink).where(SyncLink.customer_id == lost_all))
        session.execute(update(SyncRecord).where(SyncRecord.customer_id == lost_all).values(state="failed", reason="Not synced this run: test"))
        session.execute(delete(SyncLink).where(SyncLink.entity_type == "customer", SyncLink.fusebill_id == lost_customer))
    before = {e: len(list(world.qbo_api().query_all(e))) for e in ("Customer", "Invoice", "Payment", "CreditMemo", "JournalEntry")}
    run = world.sync(timeout=120, full=True)
    assert run.status in ("succeeded", "partial"), (run.status, run.counts)
    assert run.counts.get("relinked") == 1, run.counts  # the customer whose name was taken by itself
    after = {e: len(list(world.qbo_api().query_all(e))) for e in before}
    assert after == before  # nothing made twice
    restored = _links(world)
    assert ("customer", lost_customer, "") in restored and ("customer", lost_all, "") in restored
    assert set(links) <= set(restored)  # every link back, the same QBO documents
    assert all(restored[k] == v for k, v in links.items())
    with world.database.session_scope() as session:
        held = session.scalars(select(SyncRecord).where(SyncRecord.customer_id.in_((lost_all, lost_customer)),
                                                        SyncRecord.state != "synced")).all()
        assert not held, [(r.label, r.state, r.reason) for r in held]
    _assert_books_match(world)
