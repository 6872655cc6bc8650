"""The RQ job that builds a reconciliation report: both sides read fresh, never the engine's beliefs.

build_report(report_id)
    Fusebill: the account-wide customer list, 1,000 a page, for each customer's `arBalance`; and,
    for the ledgers, the account-wide invoice summaries, payment activities and credit notes.
    QBO: every linked customer's `Balance`, the chosen ledgers' accounts and the documents of any
    open refund, by `select * from <Entity> where Id in (...)` queries sent 30 to a batch request,
    through the company's shared rate limiter (a person's "Check now" waits; it never bursts).

The report is pinned to the realm and connection it was asked for. It is idempotent (a rerun of a
finished report does nothing; a rerun of an interrupted one rebuilds its lines) and a failure is
recorded as failed, with the reason the page shows.

Gap, named: `arBalance` on the customer list is a probable field, not a documented one
(fusebill-api.md §3.1 [U]). Where a row lacks it, that customer's balance is read from
`/customers/{id}/overview` (the documented balances read) — one request per such customer, paced by
the Fusebill limiter, and the report says how many it needed.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rq import Queue
from sqlalchemy import delete, insert, select

from jobs.context import job_context
from jobs.queues import DEFAULT
from portal.clients import ExternalError, PermanentError
from portal.clients.qbo import BATCH_MAX_ITEMS, quote
from portal.models import Environment, LedgerChoice, QboConnection, SyncLink, utcnow
from portal.models.integration import TAX_CODES
from portal.models.reconciliation import (
    LINE_ACCEPTED_PAIR,
    LINE_MATCHED,
    LINE_MISMATCH,
    LINE_MISSING,
    LINE_NOT_SYNCED,
    REPORT_DONE,
    REPORT_FAILED,
    REPORT_FINISHED_STATES,
    REPORT_RUNNING,
    ReconciliationLine,
    ReconciliationReport,
)
from portal.services import ServiceError
from portal.services.reconciliation import ZERO, FusebillCustomer, Line, Posting, QboCustomer, compare_customer, ledger_rows, open_pair, to_money

log = logging.getLogger(__name__)

PAGE = 1000  # Fusebill's page size for account-wide lists
IDS_PER_QUERY = 100  # ids in one `Id IN (...)` query; MAXRESULTS 1000 leaves room
INSERT_CHUNK = 1000


def enqueue_report(ctx, report_id: int) -> None:
    Queue(DEFAULT, connection=ctx.redis).enqueue(build_report, report_id, job_id=f"reconcile-{report_id}", job_timeout=3600,
                                                 result_ttl=86400, failure_ttl=7 * 86400)


@dataclass
class Snapshot:
    """What the job needs from the database, read in one short transaction."""

    environment_id: int
    environment_kind: str
    connection_id: int
    realm_id: str
    home_currency: str
    tax_setup: str
    customers: dict[str, str] = field(default_factory=dict)  # Fusebill customer id -> QBO customer id
    # (entity type, Fusebill id) -> (QBO type, QBO id, Fusebill customer id), own documents only (part "")
    records: dict[tuple[str, str], tuple[str, str, str]] = field(default_factory=dict)
    payments_by_customer: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # every QBO Payment of ours
    ledgers: dict[str, str] = field(default_factory=dict)  # ledger key -> QBO account id


def build_report(report_id: int) -> dict[str, Any]:
    ctx = job_context()
    with ctx.database.session_scope() as session:
        report = session.get(ReconciliationReport, report_id, with_for_update=True, populate_existing=True)
        if report is None:
            return {"status": "missing"}
        if report.status in REPORT_FINISHED_STATES:
            return {"status": report.status}
        report.status, report.started_at = REPORT_RUNNING, utcnow()
        try:
            snapshot = _snapshot(session, report)
        except ServiceError as error:
            _fail(report, error.message)
            return {"status": REPORT_FAILED, "error": error.message}
    try:
        lines, rows, details = _build(ctx, snapshot)
    except (ServiceError, ExternalError) as error:
        message = error.message
        with ctx.database.session_scope() as session:
            _fail(session.get(ReconciliationReport, report_id), f"The report could not be built: {message}")
        return {"status": REPORT_FAILED, "error": message}
    except Exception as error:  # never leave a report "running": it would block every later one
        log.exception("reconciliation report %s failed", report_id)
        with ctx.database.session_scope() as session:
            _fail(session.get(ReconciliationReport, report_id),
                  f"The report could not be built: unexpected error {type(error).__name__}: {str(error)[:300]}")
        return {"status": REPORT_FAILED, "error": type(error).__name__}
    with ctx.database.session_scope() as session:
        _store(session, report_id, lines, rows, details)
    return {"status": REPORT_DONE, "customers": len(lines)}


def _fail(report: ReconciliationReport, message: str) -> None:
    report.status, report.finished_at, report.error = REPORT_FAILED, utcnow(), message[:4000]


def _snapshot(session, report: ReconciliationReport) -> Snapshot:
    environment = session.get(Environment, report.environment_id)
    connection = session.get(QboConnection, report.connection_id) if report.connection_id else None
    if environment is None or connection is None or not connection.is_live or connection.realm_id != report.realm_id:
        raise ServiceError("The QuickBooks connection this report was asked for was disconnected. Connect again and check again.")
    if connection.needs_reconnect:
        raise ServiceError("QuickBooks no longer accepts this connection: reconnect to QuickBooks, then check again.")
    snapshot = Snapshot(environment.id, environment.kind, connection.id, connection.realm_id, connection.home_currency or "USD",
                        connection.tax_setup)
    links = session.scalars(select(SyncLink).where(SyncLink.environment_id == environment.id, SyncLink.realm_id == connection.realm_id))
    for link in links:
        if link.qbo_type == "Payment":
            snapshot.payments_by_customer[link.customer_id].append(link.qbo_id)
        if link.part:
            continue
        if link.entity_type == "customer":
            snapshot.customers[link.fusebill_id] = link.qbo_id
        snapshot.records[(link.entity_type, link.fusebill_id)] = (link.qbo_type, link.qbo_id, link.customer_id)
    snapshot.ledgers = {row.ledger: row.qbo_account_id for row in session.scalars(select(LedgerChoice).where(
        LedgerChoice.environment_id == environment.id, LedgerChoice.realm_id == connection.realm_id))}
    return snapshot


# ------------------------------------------------------------------ reading both sides
def _fusebill(ctx, environment_id: int):
    from portal.clients.ratelimit import RateLimiter, Window
    from portal.services.environments import fusebill_client

    with ctx.database.session_scope() as session:
        environment = session.get(Environment, environment_id)
        client = fusebill_client(ctx, environment)
        kind = environment.kind
    limiter = RateLimiter(ctx.redis, max_wait=120.0, time_scale=ctx.settings.rate_limit_time_scale)
    per_minute = (ctx.settings.fusebill_sandbox_requests_per_minute if kind == "sandbox" else ctx.settings.fusebill_production_requests_per_minute)
    windows = (Window(60.0, per_minute),)  # the same shared window the sync uses: the two never burst together
    client._before_request = lambda: limiter.acquire(f"fusebill:{environment_id}", windows)
    return client


def _name(row: dict[str, Any]) -> str:
    company = str(row.get("companyName") or "").strip()
    person = " ".join(str(row.get(k) or "").strip() for k in ("firstName", "lastName")).strip()
    return (company or person or f"Customer {row.get('id')}")[:255]


def _batched_queries(api, queries: list[tuple[str, str]]) -> dict[str, list[dict[str, Any]]]:
    """Run (entity, statement) queries 30 to a batch request; entity -> every row returned."""
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for start in range(0, len(queries), BATCH_MAX_ITEMS):
        group = queries[start:start + BATCH_MAX_ITEMS]
        answers = api.batch([{"bId": f"q{i}", "Query": statement} for i, (_entity, statement) in enumerate(group)])
        for i, (entity, statement) in enumerate(group):
            answer = answers.get(f"q{i}") or {}
            fault = answer.get("Fault")
            if fault or "QueryResponse" not in answer:
                error = ((fault or {}).get("Error") or [{}])[0]
                detail = error.get("Detail") or statement[:80]
                raise PermanentError(f"QuickBooks refused a query of the report: {error.get('Message') or 'no answer'} ({detail})",
                                     code=str(error.get("code") or ""))
            found[entity].extend(answer["QueryResponse"].get(entity) or [])
    return found


def _id_queries(entity: str, ids: list[str], name_list: bool = False) -> list[tuple[str, str]]:
    """`select * from <entity> where Id in (...)` in groups; name lists (Customer, Account) answer only
    active rows unless asked, and an inactive row is still ours to check."""
    unique = sorted(set(ids), key=lambda v: (len(v), v))
    statements = []
    for start in range(0, len(unique), IDS_PER_QUERY):
        group = ", ".join(f"'{quote(i)}'" for i in unique[start:start + IDS_PER_QUERY])
        active = " AND Active IN (true, false)" if name_list else ""
        statements.append((entity, f"SELECT * FROM {entity} WHERE Id IN ({group}){active} MAXRESULTS 1000"))
    return statements


def _build(ctx, snapshot: Snapshot) -> tuple[list[Line], list[Any], dict[str, Any]]:
    from portal.services.qbo_tokens import qbo_session

    notices: list[str] = []
    client = _fusebill(ctx, snapshot.environment_id)
    fusebill_rows = {str(row["id"]): row for row in client.iter_list("customers", {}, PAGE)}
    overview_reads = 0
    balances: dict[str, Decimal | None] = {}
    for customer_id, row in fusebill_rows.items():
        currency = str(row.get("currency") or snapshot.home_currency)
        if "arBalance" in row:
            balances[customer_id] = to_money(row.get("arBalance"), currency)
        elif customer_id in snapshot.customers:
            overview = client._get(f"customers/{customer_id}/overview").json()
            overview_reads += 1
            balances[customer_id] = to_money(overview.get("arBalance"), currency)
        else:
            balances[customer_id] = None
    if overview_reads:
        notices.append(f"Fusebill's customer list did not carry an A/R balance, so it was read from each synced customer's overview "
                       f"({overview_reads} Fusebill requests).")
    postings, record_counts = _fusebill_postings(client, snapshot, fusebill_rows) if snapshot.ledgers else ([], {})

    api = qbo_session(ctx, snapshot.connection_id)
    refund_customers = {owner for (kind, _id), (_t, _q, owner) in snapshot.records.items() if kind == "refund"}
    refund_entries = [qbo_id for (kind, _id), (_t, qbo_id, _o) in snapshot.records.items() if kind == "refund"]
    payments = [qbo_id for customer in refund_customers for qbo_id in snapshot.payments_by_customer.get(customer, [])]
    queries = (_id_queries("Customer", list(snapshot.customers.values()), name_list=True)
               + _id_queries("Account", list(snapshot.ledgers.values()), name_list=True)
               + _id_queries("JournalEntry", refund_entries) + _id_queries("Payment", payments))
    found = _batched_queries(api, queries)
    qbo_customers = {str(row["Id"]): row for row in found.get("Customer", [])}
    accounts = {str(row["Id"]): row for row in found.get("Account", [])}
    entries = {str(row["Id"]): row for row in found.get("JournalEntry", [])}
    qbo_payments = {str(row["Id"]): row for row in found.get("Payment", [])}

    own_payments = {qbo_id for (kind, _id), (_t, qbo_id, _o) in snapshot.records.items() if kind == "payment"}
    lines: list[Line] = []
    for customer_id in sorted(set(fusebill_rows) | set(snapshot.customers), key=lambda c: (len(c), c)):
        row = fusebill_rows.get(customer_id)
        qbo_id = snapshot.customers.get(customer_id)
        if row is None:
            customer = FusebillCustomer(customer_id, f"Customer {customer_id}", "", "", None)
        else:
            if qbo_id is None and str(row.get("status") or "") == "Draft":
                continue  # Draft customers never sync (contract, edge rules): nothing to check
            customer = FusebillCustomer(customer_id, _name(row), str(row.get("currency") or snapshot.home_currency), str(row.get("status") or ""),
                                        balances.get(customer_id))
        qbo_row = qbo_customers.get(qbo_id) if qbo_id else None
        qbo = None
        pair = None
        if qbo_row is not None and qbo_id is not None:
            currency = ((qbo_row.get("CurrencyRef") or {}).get("value")) or snapshot.home_currency
            qbo = QboCustomer(qbo_id, to_money(qbo_row.get("Balance"), currency), currency, bool(qbo_row.get("Active", True)))
            if customer_id in refund_customers:
                mine = [entries[q] for (kind, _i), (_t, q, owner) in snapshot.records.items() if kind == "refund" and owner == customer_id and q in entries]
                docs = [qbo_payments[q] for q in snapshot.payments_by_customer.get(customer_id, []) if q in qbo_payments]
                pair = open_pair(currency, mine, docs, qbo_id, own_payments)
        line = compare_customer(customer, qbo_id, qbo, pair)
        if row is None and line.status == LINE_MISMATCH:
            line.note = "Fusebill no longer lists this customer, but it is linked to a QuickBooks customer."
        lines.append(line)
    rows = ledger_rows(snapshot.ledgers, accounts, postings, record_counts, snapshot.home_currency)
    details = {"notices": notices, "fusebill_requests": client.calls, "qbo_requests": api.calls, "overview_reads": overview_reads}
    return lines, rows, details


def _fusebill_postings(client, snapshot: Snapshot, customers: dict[str, dict[str, Any]]) -> tuple[list[Posting], dict[str, int]]:
    """What the synced records posted to each ledger by Fusebill's own figures (contract, "Ledgers
    match"), debit positive, from the account-wide lists. Only records the sync linked count: the
    totals are over the same records QBO holds (promise 3)."""
    postings: list[Posting] = []
    counts: dict[str, int] = defaultdict(int)
    linked = snapshot.records
    tax_line = snapshot.tax_setup != TAX_CODES  # a "Fusebill Taxes" line posts to Sales Tax Payable; tax codes post to QBO's own
    reversals = "charge_reversals" if "charge_reversals" in snapshot.ledgers else "deferred_revenue"

    def add(ledger: str, currency: str, amount: Decimal | None) -> None:
        if amount is not None and amount != 0:
            postings.append(Posting(ledger, currency, amount))

    def currency_of(row: dict[str, Any], customer_id: Any) -> str:
        return str(row.get("currency") or (customers.get(str(customer_id)) or {}).get("currency") or snapshot.home_currency)

    for summary in client.iter_list("invoiceSummaries", {}, PAGE):
        if ("invoice", str(summary.get("id"))) not in linked:
            continue
        currency = currency_of(summary, summary.get("customerId"))
        total = to_money(summary.get("invoiceAmount"), currency) or ZERO
        net = to_money(summary.get("sumOfCharges"), currency)
        net = total if net is None else net
        add("deferred_revenue", currency, -net)
        counts["deferred_revenue"] += 1
        if tax_line and total - net:
            add("sales_tax_payable", currency, -(total - net))
            counts["sales_tax_payable"] += 1
    for note in client.iter_list("CreditNotes", {}, PAGE):
        if ("creditnote", str(note.get("id"))) not in linked:
            continue
        currency = currency_of(note, note.get("customerId"))
        add(reversals, currency, to_money(note.get("netAmount"), currency))
        counts[reversals] += 1
        tax = to_money(note.get("totalTaxAmount"), currency)
        if tax_line and tax:
            add("sales_tax_payable", currency, tax)
            counts["sales_tax_payable"] += 1
    for activity in client.iter_list("PaymentActivities/GetByAccountID", {}, PAGE):
        transaction = activity.get("transaction") if isinstance(activity.get("transaction"), dict) else None
        if activity.get("status") != "Successful" or transaction is None:
            continue
        kind = {"Collect": "payment", "Refund": "refund"}.get(str(activity.get("transactionType")))
        if kind is None or (kind, str(transaction.get("id"))) not in linked:
            continue
        currency = currency_of(activity, activity.get("customerId"))
        amount = to_money(transaction.get("amount", activity.get("amount")), currency)
        if kind == "payment":
            add("payments_deposit", currency, amount)
            counts["payments_deposit"] += 1
        else:
            add("refunds", currency, -amount if amount is not None else None)
            counts["refunds"] += 1
    return postings, dict(counts)


# ------------------------------------------------------------------ storing
def _store(session, report_id: int, lines: list[Line], rows: list[Any], details: dict[str, Any]) -> None:
    report = session.get(ReconciliationReport, report_id, with_for_update=True, populate_existing=True)
    if report is None or report.status in REPORT_FINISHED_STATES:
        return
    session.execute(delete(ReconciliationLine).where(ReconciliationLine.report_id == report_id))  # a rerun rebuilds, never doubles
    values = [{"report_id": report_id, "customer_id": line.customer_id[:32], "name": line.name[:255], "currency": (line.currency or "")[:3],
               "fusebill_ar": line.fusebill_ar, "qbo_balance": line.qbo_balance, "difference": line.difference, "status": line.status,
               "qbo_customer_id": line.qbo_customer_id, "pair_refund_open": line.pair.refund_open if line.pair else None,
               "pair_unapplied": line.pair.unapplied if line.pair else None, "note": (line.note or None) and line.note[:500],
               "rank": line.rank, "size": line.size} for line in lines]
    for start in range(0, len(values), INSERT_CHUNK):
        session.execute(insert(ReconciliationLine), values[start:start + INSERT_CHUNK])
    by_status: dict[str, int] = defaultdict(int)
    differences: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        by_status[line.status] += 1
        if line.status == LINE_MISMATCH and line.difference is not None:
            differences[line.currency] += abs(line.difference)
    report.matched = by_status[LINE_MATCHED]
    report.mismatched = by_status[LINE_MISMATCH]
    report.accepted_pairs = by_status[LINE_ACCEPTED_PAIR]
    report.missing_in_qbo = by_status[LINE_MISSING]
    report.not_synced = by_status[LINE_NOT_SYNCED]
    report.customers_checked = len(lines) - by_status[LINE_NOT_SYNCED]
    report.total_difference = {currency: format(amount, "f") for currency, amount in sorted(differences.items())}
    report.ledgers = [row.as_json() for row in rows]
    report.details = details
    report.status, report.finished_at = REPORT_DONE, utcnow()


__all__ = ["build_report", "enqueue_report"]
