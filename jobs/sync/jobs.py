"""The RQ entry points of the sync. They take ids, keep their state in the database, are safe to
run twice, and record a failure as a failure.

sync_account(run_id)          plan the run, read Fusebill's change lists, enqueue the chunks (a run of
                              a few named customers, one chunk, writes it at once in the same job)
sync_chunk(run_id, ids, n)    sync up to CHUNK customers (batched writes across them); the unit of
                              state and failure stays the customer and its records
A throttled chunk is re-enqueued for when the limit has room (the RQ scheduler), never slept on;
the last chunk to finish finishes the run.
"""
from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any

from rq import Queue, Retry

from jobs.context import job_context
from jobs.queues import BACKFILL, SYNC
from jobs.sync import links as link_store
from jobs.sync import outcomes, runs
from jobs.sync.fetch import Changes, FusebillReader
from jobs.sync.mapping import CustomerData, plan_customer, record_keys
from jobs.sync.mapping.common import MappingContext, TaxPlan
from jobs.sync.model import CREDIT_NOTE, CUSTOMER, Key
from jobs.sync.write import Writer
from portal.clients import AuthenticationError, ExternalError, RetryableError, Throttled
from portal.clients.fusebill import FusebillClient
from portal.clients.ratelimit import RateLimiter, Window
from portal.models import Environment, LedgerChoice, ManagedItem, QboConnection, SyncRun, TaxMapping, utcnow
from portal.models.integration import NEW_CUSTOMERS_CREATE, STATE_FAILED, STATE_PENDING
from portal.services import ServiceError
from portal.services.sync_progress import clear_waiting, note_waiting

log = logging.getLogger(__name__)

CHUNK = 25  # customers per chunk job: enough for full batches, small enough to fail small
SMALL_RUN = 50  # runs with at most this many customers use the fast queue, not the backfill queue
MAX_RETRIES = 5
CURSOR_OVERLAP = timedelta(minutes=2)  # re-read a little of the previous window: clocks and commits race
DATA_TTL = 7 * 86400


def _queue(ctx, name: str = SYNC) -> Queue:
    return Queue(name, connection=ctx.redis)


def enqueue_run(ctx, run_id: int) -> None:
    _queue(ctx).enqueue(sync_account, run_id, job_id=f"sync-run-{run_id}", job_timeout=3600, result_ttl=86400, failure_ttl=7 * 86400,
                        retry=Retry(max=3, interval=[10, 60, 300]))


# ------------------------------------------------------------------ collaborators
def _fusebill(ctx, environment: Environment) -> FusebillClient:
    from portal.services.environments import fusebill_client

    client = fusebill_client(ctx, environment)
    limiter = RateLimiter(ctx.redis, max_wait=2.0, time_scale=ctx.settings.rate_limit_time_scale)
    per_minute = (ctx.settings.fusebill_sandbox_requests_per_minute if environment.kind == "sandbox"
                  else ctx.settings.fusebill_production_requests_per_minute)
    windows = (Window(60.0, per_minute),)
    client._before_request = lambda: limiter.acquire(f"fusebill:{environment.id}", windows)
    client.max_attempts = 3  # transient errors twice more, briefly; a 429 defers the chunk instead
    client.defer_on_throttle = True
    return client


def mapping_context(session, environment: Environment, connection: QboConnection) -> MappingContext:
    from sqlalchemy import select

    from portal.models import TaxCombination

    ledgers = {row.ledger: row.qbo_account_id for row in session.scalars(select(LedgerChoice).where(
        LedgerChoice.environment_id == environment.id, LedgerChoice.realm_id == connection.realm_id))}
    items = {row.item_key: row.qbo_item_id for row in session.scalars(select(ManagedItem).where(
        ManagedItem.environment_id == environment.id, ManagedItem.realm_id == connection.realm_id))}
    if "charge_reversals" not in items and "charges" in items:
        items["charge_reversals"] = items["charges"]
    codes = {row.rule_keys: row.qbo_tax_code_id for row in session.scalars(select(TaxCombination).where(
        TaxCombination.environment_id == environment.id, TaxCombination.realm_id == connection.realm_id)) if row.qbo_tax_code_id}
    rules = list(session.scalars(select(TaxMapping).where(TaxMapping.environment_id == environment.id, TaxMapping.realm_id == connection.realm_id)))
    rates = {row.fusebill_tax_key: (row.qbo_tax_rate_id, row.qbo_tax_rate_percent) for row in rules if row.qbo_tax_rate_id and not row.ignored}
    ignored = {row.fusebill_tax_key: row.fusebill_tax_name for row in rules if row.ignored}
    return MappingContext(
        tax_setup=connection.tax_setup, home_currency=connection.home_currency or "USD", multicurrency=connection.multicurrency,
        items=items, ledgers=ledgers, taxes=TaxPlan(codes, rates, ignored), display_name_parts=tuple(environment.display_name_parts or ["company_name"]),
        update_display_names=environment.update_display_names, start_date=environment.sync_start_date,
        create_new_customers=environment.new_customers == NEW_CUSTOMERS_CREATE, auto_apply_credit=connection.auto_apply_credit,
    )


def _pinned(session, run: SyncRun) -> tuple[Environment, QboConnection]:
    environment = session.get(Environment, run.environment_id)
    connection = session.get(QboConnection, run.connection_id) if run.connection_id else None
    if connection is None or not connection.is_live or connection.realm_id != run.realm_id:
        raise ServiceError("The QuickBooks connection this run was started for was disconnected. Connect again and start a new sync.")
    if connection.needs_reconnect:
        raise ServiceError("QuickBooks no longer accepts this connection: reconnect to QuickBooks, then sync again.")
    return environment, connection


def _data_key(run_id: int, customer_id: str) -> str:
    """A hash: the customer's record from the list ("customer"), whether the run reads everything
    ("full"), its credit notes ("credit_notes"); its payment activities are the hash _activities_key."""
    return f"fbqbo:sync:{run_id}:data:{customer_id}"


def _activities_key(run_id: int, customer_id: str) -> str:
    return f"fbqbo:sync:{run_id}:activities:{customer_id}"


class _PlanStore:
    """What the planning job keeps per customer, written to Redis a page at a time (never the whole
    account's lists in memory)."""

    FLUSH_EVERY = 500

    def __init__(self, redis, run_id: int) -> None:
        self.redis, self.run_id = redis, run_id
        self.pipe = redis.pipeline(transaction=False)
        self.pending = 0
        self.expiring: set[str] = set()

    def keep(self, kind: str, customer_id: str, record: dict[str, Any]) -> None:
        value = json.dumps(record, default=str)
        if kind == "customer":
            key = _data_key(self.run_id, customer_id)
            self.pipe.hset(key, "customer", value)
        else:
            # A hash by activity id, not a list: a planning job run again writes the same fields.
            key = _activities_key(self.run_id, customer_id)
            self.pipe.hset(key, str(record.get("id") or hashlib.sha256(value.encode()).hexdigest()), value)
        self.expiring.add(key)
        self._counted()

    def describe(self, customer_id: str, full: bool, credit_notes: list[dict[str, Any]]) -> None:
        key = _data_key(self.run_id, customer_id)
        self.pipe.hset(key, mapping={"full": "1" if full else "0", "credit_notes": json.dumps(credit_notes, default=str)})
        self.expiring.add(key)
        self._counted()

    def _counted(self) -> None:
        self.pending += 1
        if self.pending >= self.FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        for key in self.expiring:
            self.pipe.expire(key, DATA_TTL)
        self.pipe.execute()
        self.pending, self.expiring = 0, set()


def _stored_changes(ctx, run_id: int, customer_ids: list[str]) -> dict[str, Changes]:
    """Per customer, what the planning job kept for it (nothing kept: the customer is read whole)."""
    pipe = ctx.redis.pipeline(transaction=False)
    for customer_id in customer_ids:
        pipe.hgetall(_data_key(run_id, customer_id))
        pipe.hgetall(_activities_key(run_id, customer_id))
    answers = pipe.execute()
    found = {}
    for i, customer_id in enumerate(customer_ids):
        fields = {(k.decode() if isinstance(k, bytes) else k): v for k, v in (answers[2 * i] or {}).items()}
        changes = Changes(full=fields.get("full") in (b"1", "1"))
        if fields.get("customer"):
            changes.customers[customer_id] = json.loads(fields["customer"])
        activities = sorted((answers[2 * i + 1] or {}).items(), key=lambda item: (len(item[0]), item[0]))  # the list's order: by id
        changes.activities[customer_id] = [json.loads(value) for _, value in activities]
        changes.credit_notes[customer_id] = json.loads(fields["credit_notes"]) if fields.get("credit_notes") else []
        found[customer_id] = changes
    return found


def _done_key(run_id: int) -> str:
    return f"fbqbo:sync:{run_id}:chunks-done"


def _writing_key(run_id: int, number: int) -> str:
    """Set once a chunk starts writing to QBO."""
    return f"fbqbo:sync:{run_id}:chunk-{number}:writing"


def _chunks_key(run_id: int) -> str:
    return f"fbqbo:sync:{run_id}:chunks"


def _read_key(run_id: int, customer_id: str) -> str:
    return f"fbqbo:sync:{run_id}:read:{customer_id}"


READ_TTL = 6 * 3600  # a chunk's Fusebill reads, kept until it is written (or for a few hours)


def read_customer(ctx, reader: FusebillReader, run_id: int, customer_id: str, changes: Changes, per_rule_taxes: bool) -> CustomerData:
    """One customer's Fusebill records for this run, read once: a chunk deferred mid-way (Fusebill's
    limit reached) keeps what it read and goes on from there when it runs again. Without this, a chunk
    that needs more requests than a sandbox allows a minute (50) would start over every minute and
    never finish."""
    cached = ctx.redis.get(_read_key(run_id, customer_id))
    if cached:
        return CustomerData(**json.loads(cached))
    data = reader.customer(customer_id, changes, per_rule_taxes=per_rule_taxes)
    ctx.redis.set(_read_key(run_id, customer_id), json.dumps({"customer": data.customer, "invoices": data.invoices,
                                                              "payment_activities": data.payment_activities,
                                                              "ar_activities": data.ar_activities, "credit_notes": data.credit_notes}),
                  ex=READ_TTL)
    return data


# ------------------------------------------------------------------ the run
def sync_account(run_id: int) -> dict[str, Any]:
    ctx = job_context()
    with ctx.database.session_scope() as session:
        run = runs.start(session, run_id)
        if run.finished:
            return {"status": run.status}
        if not _integration_enabled(session, run):
            runs.finish(session, run_id, DISABLED)
            return {"status": "skipped", "reason": DISABLED}
        paused = _paused(session, run)
        if paused:
            runs.finish(session, run_id, f"Skipped: {paused}")
            return {"status": "skipped", "reason": paused}
        try:
            environment, connection = _pinned(session, run)
        except ServiceError as error:
            runs.finish(session, run_id, error.message)
            return {"status": "failed", "error": error.message}
        cursor = None if (run.counts or {}).get("full") else runs.previous_cursor(session, run)
        run.cursor = cursor
        environment_id, connection_id = environment.id, connection.id
        targeted = [str(c) for c in (run.counts or {}).get("customers") or []]
    try:
        _prepare_company(ctx, run_id, environment_id, connection_id)
        customer_ids = _plan_targeted(ctx, run_id, environment_id, targeted) if targeted else _plan(ctx, run_id, environment_id, cursor)
    except (ServiceError, ExternalError) as error:
        transient = isinstance(error, RetryableError) or isinstance(error.__cause__, RetryableError)
        if isinstance(error, Throttled) or (transient and _retry_count(ctx, f"run-{run_id}") < MAX_RETRIES):
            delay = _backoff(ctx, f"run-{run_id}", error)
            note_waiting(ctx.redis, run_id, error, delay)  # a rate limit: the run page says so (non-fatal)
            _queue(ctx).enqueue_in(timedelta(seconds=delay), sync_account, run_id, job_timeout=3600)
            return {"status": "deferred", "reason": error.message}
        with ctx.database.session_scope() as session:
            runs.finish(session, run_id, f"The sync could not start: {error.message}")
        return {"status": "failed", "error": error.message}
    except Exception as error:  # never leave a run "running" (it would block every later run)
        log.exception("sync run %s failed while planning", run_id)
        with ctx.database.session_scope() as session:
            runs.finish(session, run_id, f"The sync could not start: unexpected error {type(error).__name__}: {str(error)[:300]}")
        return {"status": "failed", "error": type(error).__name__}
    chunks = [customer_ids[i:i + CHUNK] for i in range(0, len(customer_ids), CHUNK)]
    with ctx.database.session_scope() as session:
        run = session.get(SyncRun, run_id)
        run.customers_total = len(customer_ids)
    if not chunks:
        with ctx.database.session_scope() as session:
            runs.finish(session, run_id)
        return {"status": "finished", "customers": 0}
    with ctx.database.session_scope() as session:
        run = session.get(SyncRun, run_id)
        run.counts = {**(run.counts or {}), "chunks": len(chunks)}
    queue_name = SYNC if len(customer_ids) <= SMALL_RUN else BACKFILL
    # The chunk lists are kept beside the run, so a chunk whose RQ job is lost (jobs.sync.watchdog)
    # can be put back exactly as it was planned.
    ctx.redis.hset(_chunks_key(run_id), mapping={str(number): json.dumps(chunk) for number, chunk in enumerate(chunks)})
    ctx.redis.hset(_chunks_key(run_id), "queue", queue_name)
    ctx.redis.expire(_chunks_key(run_id), DATA_TTL)
    if targeted and len(chunks) == 1:
        # A few named customers (a webhook, a Retry): written here and now, not queued behind
        # whatever the workers are doing a second time. A worker lost meanwhile retries this job.
        result = sync_chunk(run_id, chunks[0], 0)
        return {"status": result["status"], "customers": len(customer_ids), "chunks": 1}
    for number, chunk in enumerate(chunks):
        enqueue_chunk(_queue(ctx, queue_name), run_id, chunk, number)
    return {"status": "queued", "customers": len(customer_ids), "chunks": len(chunks)}


def enqueue_chunk(queue: Queue, run_id: int, customer_ids: list[str], number: int) -> None:
    # retry: a chunk whose worker died (SIGKILL, a lost machine) is found abandoned by RQ's
    # registry clean-up and run again; it is idempotent (links, payload hashes, requestids).
    queue.enqueue(sync_chunk, run_id, customer_ids, number, job_id=f"sync-run-{run_id}-chunk-{number}", job_timeout=900,
                  result_ttl=86400, failure_ttl=7 * 86400, retry=Retry(max=3, interval=[10, 60, 300]))


def _prepare_company(ctx, run_id: int, environment_id: int, connection_id: int) -> None:
    """Before every run: re-read what can change in QBO behind our back (Automatically apply credits;
    the items exist, are active and post to the chosen ledgers)."""
    from portal.services.ledgers import PlannedLedger, _store_items, choices_for, prepare_items
    from portal.services.qbo_connection import recheck_company

    with ctx.database.session_scope() as session:
        recheck_company(session, ctx, connection_id)
    with ctx.database.session_scope() as session:
        environment = session.get(Environment, environment_id)
        connection = session.get(QboConnection, connection_id)
        planned = {key: PlannedLedger.stored(row) for key, row in choices_for(session, environment, connection.realm_id).items()}
        prepared = prepare_items(session, ctx, environment, connection, planned)
        _store_items(session, environment, connection, prepared)


def _plan(ctx, run_id: int, environment_id: int, cursor) -> list[str]:
    """Read the change lists; keep per customer what the chunk needs; return the customers to sync."""
    with ctx.database.session_scope() as session:
        environment = session.get(Environment, environment_id)
        known_notes = link_store.linked_ids(session, environment_id, CREDIT_NOTE)
        retry = outcomes.retry_customers(session, environment_id)
        retry |= link_store.decided_customers(session, environment_id, session.get(SyncRun, run_id).realm_id)  # Customers page
        client = _fusebill(ctx, environment)
    read_at = utcnow() - CURSOR_OVERLAP
    store = _PlanStore(ctx.redis, run_id)
    changes = FusebillReader(client).changes(cursor, known_notes, keep=store.keep)
    wanted = sorted(changes.changed | retry, key=lambda c: int(c) if c.isdigit() else 0)
    for customer_id in wanted:
        store.describe(customer_id, changes.full, changes.credit_notes.get(customer_id, []))
    store.flush()
    with ctx.database.session_scope() as session:
        run = session.get(SyncRun, run_id)
        run.read_at = read_at
        counts = dict(run.counts or {})
        counts["fusebill_requests"] = int(counts.get("fusebill_requests", 0)) + client.calls
        needed = len(wanted) * (2 if changes.full else 4)
        if client.remaining_day is not None and needed > client.remaining_day:
            # Fusebill's daily budget (5,000 on sandboxes) cannot carry the run today: say so; its
            # chunks are deferred by the 429s and resume when the budget is renewed.
            counts["notice"] = (f"Fusebill allows {client.remaining_day} more requests today and this run needs about {needed}: "
                                "it continues when Fusebill's daily limit is reset.")
        run.counts = counts
    return wanted


# ------------------------------------------------------------------ a chunk of customers
def sync_chunk(run_id: int, customer_ids: list[str], number: int = 0) -> dict[str, Any]:
    ctx = job_context()
    with ctx.database.session_scope() as session:
        run = session.get(SyncRun, run_id)
        if run is not None and not _integration_enabled(session, run):
            _skip_disabled(session, run, customer_ids)
            return {"status": "skipped", "reason": DISABLED}
        paused = _paused(session, run) if run is not None else None
        if paused:
            _skip_disabled(session, run, customer_ids, paused)
            return {"status": "skipped", "reason": paused}
        if run is None or run.finished:
            return {"status": "run finished"}
        try:
            environment, connection = _pinned(session, run)
        except ServiceError as error:
            _give_up(ctx, run_id, customer_ids, error.message, number)
            return {"status": "failed", "error": error.message}
        mapping = mapping_context(session, environment, connection)
        environment_id, connection_id, realm_id = environment.id, connection.id, connection.realm_id
        relink = connection.relink_existing
        client = _fusebill(ctx, environment)
    tag = f"run-{run_id}-chunk-{number}"
    try:
        # A chunk that began writing before (its worker died, a fault deferred it, the watchdog put
        # it back) may have created documents whose links were never committed: they are looked up
        # by marker first. One deferred while still reading Fusebill wrote nothing: no look-up.
        writing = _writing_key(run_id, number)
        result, fusebill_calls, qbo_calls = _sync_customers(ctx, run_id, environment_id, connection_id, realm_id, mapping, client,
                                                            customer_ids, relink, rerun=bool(ctx.redis.exists(writing)), writing=writing)
    except (ServiceError, ExternalError) as error:
        # ServiceError here means the connection is gone or needs a reconnect: the environment's
        # syncs stop (the reconnect banner is already up); an AuthenticationError (a Fusebill key
        # refused) likewise. Transient errors come back later; anything else fails these customers.
        stop = isinstance(error, AuthenticationError) or not isinstance(error, ExternalError)
        if isinstance(error, RetryableError) and (isinstance(error, Throttled) or _retry_count(ctx, tag) < MAX_RETRIES):
            delay = _backoff(ctx, tag, error)
            note_waiting(ctx.redis, run_id, error, delay)  # a rate limit: the run page says so (non-fatal)
            log.info("sync chunk %s deferred %.0fs: %s", tag, delay, error.message)
            _queue(ctx, _current_queue()).enqueue_in(timedelta(seconds=delay), sync_chunk, run_id, customer_ids, number, job_timeout=900,
                                                      result_ttl=86400, failure_ttl=7 * 86400, retry=Retry(max=3, interval=[10, 60, 300]))
            return {"status": "deferred", "reason": error.message}
        _give_up(ctx, run_id, customer_ids, error.message, number)
        if stop:
            with ctx.database.session_scope() as session:
                runs.finish(session, run_id, f"Stopped: {error.message}")
        return {"status": "failed", "error": error.message}
    except Exception as error:  # a bug or a database outage: these customers fail visibly, the run still ends
        log.exception("sync chunk %s failed", tag)
        _give_up(ctx, run_id, customer_ids, f"Unexpected error: {type(error).__name__}: {str(error)[:300]}", number)
        return {"status": "failed", "error": type(error).__name__}
    with ctx.database.session_scope() as session:
        outcomes.store(session, environment_id, run_id, result.outcomes)
        counts = result.counts
        counts["fusebill_requests"] += fusebill_calls
        counts["qbo_requests"] += qbo_calls
        runs.add_counts(session, run_id, counts, len(customer_ids))
    # Written and recorded: the next run reads afresh. (Not before: a chunk whose outcomes could not
    # be stored runs again from what it read, without reading Fusebill twice.)
    if customer_ids:
        ctx.redis.delete(*[_read_key(run_id, customer_id) for customer_id in customer_ids])
    _chunk_done(ctx, run_id, number)
    return {"status": "done", "customers": len(customer_ids), "counts": dict(result.counts)}


def _sync_customers(ctx, run_id, environment_id, connection_id, realm_id, mapping, client, customer_ids, relink=False, rerun=False,
                    writing=None):
    from portal.services.qbo_tokens import qbo_session

    reader = FusebillReader(client)
    with ctx.database.session_scope() as session:
        linked = link_store.load(session, environment_id, customer_ids)
        decisions = link_store.honour_decisions(session, environment_id, realm_id, customer_ids, linked)  # before planning: no duplicate
        salts = outcomes.refused_before(session, environment_id, customer_ids)
        # Whose unlinked documents may exist in QBO already: every customer on a reconnect or a rerun;
        # otherwise the customers a run before left failed or pending (a write whose answer was lost
        # in a batch is not replayed by a batch of other documents: its requestid differs).
        suspects = set(customer_ids) if relink or rerun else outcomes.held_customers(session, environment_id, customer_ids)
    plans = []
    kept = _stored_changes(ctx, run_id, customer_ids)
    for customer_id in customer_ids:
        data = read_customer(ctx, reader, run_id, customer_id, kept[customer_id], per_rule_taxes=mapping.tax_setup == "codes")
        plans.append(_plan_one(mapping, data, customer_id, Key(CUSTOMER, customer_id) in linked, decisions.get(customer_id)))
    api = qbo_session(ctx, connection_id, background=True)
    missing = {doc.key for plan in plans for doc in plan.docs if doc.key not in linked and not doc.delete and doc.customer_id in suspects}
    if missing:
        # A reconnect to a company synced before, or documents QBO may have made without our knowing:
        # re-link through the markers before creating anything.
        recovered = link_store.find_by_markers(api, sorted(suspects), missing)
        if recovered:
            with ctx.database.session_scope() as session:
                for key, found in recovered.items():
                    owner = next(doc.customer_id for plan in plans for doc in plan.docs if doc.key == key)
                    link_store.save(session, environment_id, realm_id, key, owner, found)
            linked.update(recovered)

    def commit(work) -> None:
        with ctx.database.session_scope() as session:
            work(session)

    writer = Writer(api, realm_id=realm_id, environment_id=environment_id, commit=commit, linked=linked,
                    rates=lambda currency, on: _exchange_rate(ctx, api, realm_id, currency, on),
                    known_rates=lambda pairs: _known_rates(ctx, realm_id, pairs),
                    remember_rate=lambda currency, on, rate: ctx.redis.set(_rate_key(realm_id, currency, on), str(rate), ex=86400),
                    salts=salts)
    if writing is not None:
        ctx.redis.set(writing, "1", ex=DATA_TTL)
    result = writer.write(plans)
    return result, client.calls, api.calls


def _rate_key(realm_id: str, currency: str, on: str) -> str:
    return f"fbqbo:qbo-rate:{realm_id}:{currency}:{on}"


def _known_rates(ctx, realm_id: str, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], Decimal]:
    values = ctx.redis.mget([_rate_key(realm_id, currency, on) for currency, on in pairs])
    return {pair: Decimal(value.decode()) for pair, value in zip(pairs, values, strict=True) if value}


def _plan_one(mapping, data: CustomerData, customer_id: str, linked: bool, decision=None):
    """One customer's plan; Fusebill data the mapping cannot read (a missing or mistyped field) fails
    that customer alone, with the reason, and never its chunk."""
    from jobs.sync.model import CustomerPlan, Verdict

    try:
        return plan_customer(mapping, data, customer_linked=linked, decision=decision)
    except (KeyError, TypeError, ValueError, ArithmeticError) as error:
        log.warning("customer %s: unreadable Fusebill data: %r", customer_id, error)
        plan = CustomerPlan(customer_id)
        reason = f"Fusebill sent data the sync cannot read for this customer ({type(error).__name__}: {str(error)[:200]})"
        plan.verdicts.append(Verdict(Key(CUSTOMER, customer_id), customer_id, f"Customer {customer_id}", STATE_FAILED, reason))
        for key in record_keys(data):  # its records fail with it, each visible with the reason
            plan.verdicts.append(Verdict(key, customer_id, f"{key.entity_type} {key.fusebill_id}", STATE_FAILED, f"the customer cannot be synced: {reason}"))
        return plan


def _exchange_rate(ctx, api, realm_id: str, currency: str, on: str) -> Decimal | None:
    """QBO's rate for a currency and date, asked once per realm (kept in Redis for a day)."""
    key = _rate_key(realm_id, currency, on)
    cached = ctx.redis.get(key)
    if cached:
        return Decimal(cached.decode())
    rate = api.exchange_rate(currency, on)
    if rate is not None:
        ctx.redis.set(key, str(rate), ex=86400)
    return rate


def _current_queue() -> str:
    """The queue the running job came from, so deferred work keeps its place (changes vs backfills)."""
    from rq import get_current_job

    job = get_current_job()
    return job.origin if job is not None else BACKFILL


def _retry_count(ctx, tag: str) -> int:
    return int(ctx.redis.get(f"fbqbo:sync-retries:{tag}") or 0)


def _backoff(ctx, tag: str, error: Exception) -> float:
    if isinstance(error, Throttled):
        return max(1.0, min(float(error.retry_after), 600.0))
    attempt = ctx.redis.incr(f"fbqbo:sync-retries:{tag}")
    ctx.redis.expire(f"fbqbo:sync-retries:{tag}", DATA_TTL)
    return min(2.0 ** attempt, 300.0)


def _give_up(ctx, run_id: int, customer_ids: list[str], reason: str, number: int = 0) -> None:
    """The chunk cannot be done now: its customers' records stay visible as failed, to be retried."""
    from jobs.sync.outcomes import Outcome

    with ctx.database.session_scope() as session:
        run = session.get(SyncRun, run_id)
        items = [Outcome(Key(CUSTOMER, c), c, f"Customer {c}", STATE_FAILED, f"Not synced this run: {reason}") for c in customer_ids]
        outcomes.store(session, run.environment_id, run_id, items)
        runs.add_counts(session, run_id, {"customers_failed": len(customer_ids)}, len(customer_ids))
    _chunk_done(ctx, run_id, number)


def _chunk_done(ctx, run_id: int, number: int) -> None:
    """Mark one chunk done (a set: a chunk run twice counts once); the last one finishes the run."""
    clear_waiting(ctx.redis, run_id)
    key = _done_key(run_id)
    ctx.redis.sadd(key, number)
    ctx.redis.expire(key, DATA_TTL)
    with ctx.database.session_scope() as session:
        total = int((session.get(SyncRun, run_id).counts or {}).get("chunks", 0))
        if ctx.redis.scard(key) >= total:
            runs.finish(session, run_id)


# ------------------------------------------------------------------ disabled accounts, targeted runs
DISABLED = "Skipped: the integration was disabled for this account."
BUSY_RETRY = 3.0  # seconds: a webhook's customers wait this long again while another run is going


def _integration_enabled(session, run: SyncRun) -> bool:
    environment = session.get(Environment, run.environment_id)
    return environment is not None and environment.account.integration_enabled


def _paused(session, run: SyncRun) -> str | None:
    """Support's pause notice for the run's account ("Syncs are paused by support since …"), or None."""
    from portal.services.enablement import pause_message

    environment = session.get(Environment, run.environment_id)
    return pause_message(environment.account) if environment is not None else None


def _skip_disabled(session, run: SyncRun, customer_ids: list[str], paused: str | None = None) -> None:
    """Queued work of an account whose integration support disabled (or whose syncs support paused:
    `paused` is the notice): its customers are recorded as skipped with that reason and the run ends
    (not as complete: it says it was stopped)."""
    from jobs.sync.outcomes import Outcome
    from portal.models.integration import STATE_SKIPPED

    reason = paused or "The integration was disabled for this account."
    if not run.finished:
        items = [Outcome(Key(CUSTOMER, c), c, f"Customer {c}", STATE_SKIPPED, reason) for c in customer_ids]
        outcomes.store(session, run.environment_id, run.id, items)
        runs.add_counts(session, run.id, {"customers_skipped": len(customer_ids)}, len(customer_ids))
    runs.finish(session, run.id, f"Skipped: {paused}" if paused else DISABLED)


def _plan_targeted(ctx, run_id: int, environment_id: int, customer_ids: list[str]) -> list[str]:
    """A run for named customers (webhooks): no account-wide change lists, no cursor moved (read_at
    stays empty, so the next scheduled run still reads everything since the last full read). Only
    `/CreditNotes` is read, because no per-customer read carries a customer's credit notes."""
    from jobs.sync.fetch import PAGE

    wanted = sorted({str(c) for c in customer_ids}, key=lambda c: int(c) if c.isdigit() else 0)
    with ctx.database.session_scope() as session:
        client = _fusebill(ctx, session.get(Environment, environment_id))
    notes: dict[str, list[dict[str, Any]]] = {c: [] for c in wanted}
    for note in client.iter_list("CreditNotes", {}, PAGE):
        customer_id = str(note.get("customerId") or (note.get("invoice") or {}).get("customerId") or "")
        if customer_id in notes:
            notes[customer_id].append(note)
    store = _PlanStore(ctx.redis, run_id)
    for customer_id in wanted:
        store.describe(customer_id, False, notes[customer_id])
    store.flush()
    with ctx.database.session_scope() as session:
        run = session.get(SyncRun, run_id)
        counts = dict(run.counts or {})
        counts["fusebill_requests"] = int(counts.get("fusebill_requests", 0)) + client.calls
        run.counts = counts
    return wanted


def sync_customers(environment_id: int, customer_ids: list[str], trigger: str = "webhook") -> dict[str, Any]:
    """Start a run of these customers only (the webhook path), through the same guard as Sync now.

    Refuses (records nothing) when the account's integration is disabled, the environment is not the
    active one or the set-up guard says no; answers "busy" when a run is already queued or running
    (never a second run at once: the caller gives the customers to a later run), and "paused" while
    support has paused the account's syncs (the caller keeps the customers for the resume)."""
    from portal.services.checklist import ensure_sync_can_start
    from portal.services.enablement import pause_message
    from portal.services.environments import live_connection

    ctx = job_context()
    with ctx.database.session_scope() as session:
        environment = session.get(Environment, environment_id)
        if environment is None:
            return {"status": "refused", "reason": "no such environment"}
        account = environment.account
        if not account.integration_enabled:
            log.info("targeted sync of environment %s refused: %s", environment_id, DISABLED)
            return {"status": "refused", "reason": DISABLED}
        paused = pause_message(account)
        if paused:
            log.info("targeted sync of environment %s held: %s", environment_id, paused)
            return {"status": "paused", "reason": paused}
        if account.active_environment != environment.kind:
            return {"status": "refused", "reason": "this environment is not the active one"}
        try:
            ensure_sync_can_start(session, account, ctx.settings.refresh_token_warning_days)
        except ServiceError as error:
            log.info("targeted sync of environment %s refused: %s", environment_id, error.message)
            return {"status": "refused", "reason": error.message}
        connection = live_connection(session, environment)
        if connection is None:
            return {"status": "refused", "reason": "Connect QuickBooks first."}
        existing = runs.active_run(session, environment_id)
        if existing is not None:
            return {"status": "busy", "run_id": existing.id}
        run = runs.create_run(session, environment, connection, trigger)
        run.counts = {**(run.counts or {}), "customers": sorted({str(c) for c in customer_ids})}
        session.flush()
        run_id = run.id
    enqueue_run(ctx, run_id)
    return {"status": "queued", "run_id": run_id, "customers": len(customer_ids)}


def flush_webhook_customers(environment_id: int) -> dict[str, Any]:
    """The debounced webhook job: every customer gathered since it was scheduled, in one run."""
    from portal.services.webhooks import debounce_key, hold_customers, pending_key, retry_key, schedule_customers

    ctx = job_context()
    ctx.redis.delete(debounce_key(environment_id))  # first: an event from now on schedules a new flush
    pipe = ctx.redis.pipeline(transaction=True)
    pipe.smembers(pending_key(environment_id))
    pipe.delete(pending_key(environment_id))
    pipe.smembers(retry_key(environment_id))
    members, _, retried = pipe.execute()
    customer_ids = sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)
    if not customer_ids:
        return {"status": "nothing to do"}
    retried_ids = {m.decode() if isinstance(m, bytes) else str(m) for m in retried}
    # Only Retry presses gathered: the run says "retry"; any webhook change among them: "webhook".
    trigger = "retry" if set(customer_ids) <= retried_ids else "webhook"
    result = sync_customers(environment_id, customer_ids, trigger)
    if result["status"] == "queued" and retried_ids:
        ctx.redis.srem(retry_key(environment_id), *customer_ids)
    if result["status"] == "busy":
        schedule_customers(ctx, environment_id, customer_ids, delay=BUSY_RETRY)
    elif result["status"] == "paused":  # kept for the resume (portal.services.support_console.resume_syncs)
        hold_customers(ctx, environment_id, customer_ids)
    return result


__all__ = ["sync_account", "sync_chunk", "enqueue_chunk", "sync_customers", "flush_webhook_customers", "enqueue_run", "STATE_PENDING"]
