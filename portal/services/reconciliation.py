"""The reconciliation report: "do my books match?", per customer and per ledger, read live from QBO.

What it compares (accounting-mapping.md, "The promise to the accountant"):
- promise 1, per customer: Fusebill's A/R (`arBalance`) against the QBO customer's `Balance` read
  live, to the minor unit of the customer's currency;
- promise 3, per ledger: the Fusebill total of the records the sync posted to a ledger against what
  QBO says that account holds (`Account.CurrentBalance`), where QBO gives a figure that can honestly
  be compared (see `ledger_rows`).

The figures are never what the engine believes it sent: the job (`jobs/reconcile.py`) reads both
sides fresh. This module holds the pure comparison (no I/O) and the use cases the pages call
(request a report, read one, its CSV). Page reads never write.
"""
from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.models import Account, Environment, SyncRun, User, utcnow
from portal.models.reconciliation import (
    LINE_ACCEPTED_PAIR,
    LINE_MATCHED,
    LINE_MISMATCH,
    LINE_MISSING,
    LINE_NOT_SYNCED,
    LINE_STATUSES,
    REPORT_ACTIVE,
    REPORT_DONE,
    REPORT_FAILED,
    REPORT_QUEUED,
    ReconciliationLine,
    ReconciliationReport,
)
from portal.services import NotAllowed, NotFound
from portal.services.context import ServiceContext
from portal.services.environments import active_environment, live_connection

ZERO = Decimal("0")
MINOR_DIGITS = {"JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3}  # ISO 4217; every other currency has 2
# A report still queued or running this long after it was asked for was lost (a worker died): it is
# recorded as failed so that "Check now" works again.
STALE_AFTER = timedelta(hours=1)
PAGE_LINES = 500  # lines shown on the page; the CSV has every line
HISTORY_RUNS = 30

STATUS_LABELS = {LINE_MISMATCH: "Mismatch", LINE_MISSING: "Missing in QuickBooks", LINE_ACCEPTED_PAIR: "Matched (open refund pair)",
                 LINE_MATCHED: "Matched", LINE_NOT_SYNCED: "Not synced"}
STATUS_TONES = {LINE_MISMATCH: "error", LINE_MISSING: "error", LINE_ACCEPTED_PAIR: "warning", LINE_MATCHED: "done",
                LINE_NOT_SYNCED: "unavailable"}


# ------------------------------------------------------------------ money
def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-MINOR_DIGITS.get((currency or "").upper(), 2))


def to_money(value: Any, currency: str) -> Decimal | None:
    """An amount from either API as Decimal at the currency's minor unit (half-up, the contract's
    rounding), or None when it is missing or not a number. Floats never come here: both clients
    parse JSON numbers as Decimal."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite():
        return None
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def minor_units(amount: Decimal | None, currency: str) -> int:
    if amount is None:
        return 0
    return int((abs(amount) / quantum(currency)).to_integral_value())


# ------------------------------------------------------------------ per customer (pure)
@dataclass(frozen=True)
class FusebillCustomer:
    id: str
    name: str
    currency: str
    status: str
    ar_balance: Decimal | None


@dataclass(frozen=True)
class QboCustomer:
    id: str
    balance: Decimal | None
    currency: str
    active: bool = True


@dataclass(frozen=True)
class OpenPair:
    """A refund of an unapplied overpayment as QBO holds it: the refund JournalEntry's A/R debit not
    settled by any Payment line, and the customer's unapplied Payment money."""

    refund_open: Decimal
    unapplied: Decimal


@dataclass
class Line:
    customer_id: str
    name: str
    currency: str
    fusebill_ar: Decimal | None
    qbo_balance: Decimal | None
    difference: Decimal | None
    status: str
    qbo_customer_id: str | None = None
    pair: OpenPair | None = None
    note: str | None = None

    @property
    def rank(self) -> int:
        return LINE_STATUSES.index(self.status)

    @property
    def size(self) -> int:
        return minor_units(self.difference, self.currency)


def compare_customer(customer: FusebillCustomer, qbo_id: str | None, qbo: QboCustomer | None, pair: OpenPair | None) -> Line:
    """One customer's line.

    The contract accepts no difference in a customer's balance: promise 1 ("The promise to the
    accountant", 1: the QBO customer's Balance equals the Fusebill AR balance, to the cent). The open
    refund / overpayment pairs it accepts (accounting-mapping.md, "Edge rules", "Refund of an
    unapplied overpayment") are accepted because they "net to the right customer balance": what they
    leave different is QBO's A/R aging (two open items), never the balance. So a pair is listed as
    such, with its amounts, only when the balance matches; a balance that differs is a mismatch,
    pair or not.
    """
    base: dict[str, Any] = dict(customer_id=customer.id, name=customer.name, currency=customer.currency, fusebill_ar=customer.ar_balance)
    if qbo_id is None:
        note = "Draft customers never sync." if customer.status == "Draft" else "No QuickBooks customer is linked: see the event log for why."
        return Line(**base, qbo_balance=None, difference=None, status=LINE_NOT_SYNCED, note=note)
    if qbo is None:
        return Line(**base, qbo_balance=None, difference=None, status=LINE_MISSING, qbo_customer_id=qbo_id,
                    note=f"QuickBooks has no customer {qbo_id} any more (deleted or merged there?); the next sync cannot post to it.")
    if customer.ar_balance is None or qbo.balance is None:
        return Line(**base, qbo_balance=qbo.balance, difference=None, status=LINE_MISMATCH, qbo_customer_id=qbo_id,
                    note="Fusebill gave no A/R balance for this customer." if customer.ar_balance is None else "QuickBooks gave no balance for this customer.")
    if qbo.currency and customer.currency and qbo.currency.upper() != customer.currency.upper():
        return Line(**base, qbo_balance=qbo.balance, difference=None, status=LINE_MISMATCH, qbo_customer_id=qbo_id,
                    note=f"The QuickBooks customer is in {qbo.currency}, the Fusebill customer in {customer.currency}.")
    difference = (qbo.balance - customer.ar_balance).quantize(quantum(customer.currency))
    if difference != 0:
        return Line(**base, qbo_balance=qbo.balance, difference=difference, status=LINE_MISMATCH, qbo_customer_id=qbo_id, pair=pair,
                    note=f"QuickBooks holds {_signed(difference)} {customer.currency} {'more' if difference > 0 else 'less'} than Fusebill.")
    if pair is not None:
        return Line(**base, qbo_balance=qbo.balance, difference=difference, status=LINE_ACCEPTED_PAIR, qbo_customer_id=qbo_id, pair=pair,
                    note=(f"An open refund entry of {pair.refund_open} and an unapplied payment of {pair.unapplied} {customer.currency} "
                          "both stay open in QuickBooks's A/R aging and net to the right balance (the contract's rule for refunds of overpayments)."))
    return Line(**base, qbo_balance=qbo.balance, difference=difference, status=LINE_MATCHED, qbo_customer_id=qbo_id)


def _signed(amount: Decimal) -> str:
    return format(abs(amount), "f")


def open_pair(currency: str, refund_entries: Iterable[dict[str, Any]], payments: Iterable[dict[str, Any]], qbo_customer_id: str,
              own_payment_ids: set[str]) -> OpenPair | None:
    """The customer's open refund / overpayment pair, from the QBO documents read live.

    `refund_entries`: the refund JournalEntries; `payments`: every Payment of ours for the customer
    (real payments and zero-total applications), `own_payment_ids` the real ones (their UnappliedAmt
    is the overpayment). A refund entry's open amount is its A/R debit for this customer less every
    Payment line linking it.
    """
    payments = list(payments)
    settled: dict[str, Decimal] = defaultdict(Decimal)
    for payment in payments:
        for line in payment.get("Line") or []:
            for linked in line.get("LinkedTxn") or []:
                if linked.get("TxnType") == "JournalEntry":
                    settled[str(linked.get("TxnId"))] += to_money(line.get("Amount"), currency) or ZERO
    refund_open = ZERO
    for entry in refund_entries:
        debit = ZERO
        for line in entry.get("Line") or []:
            detail = line.get("JournalEntryLineDetail") or {}
            entity = ((detail.get("Entity") or {}).get("EntityRef") or {}).get("value")
            if detail.get("PostingType") == "Debit" and str(entity) == str(qbo_customer_id):
                debit += to_money(line.get("Amount"), currency) or ZERO
        refund_open += max(ZERO, debit - settled.get(str(entry.get("Id")), ZERO))
    unapplied = sum((to_money(p.get("UnappliedAmt"), currency) or ZERO for p in payments if str(p.get("Id")) in own_payment_ids), ZERO)
    if refund_open > 0 and unapplied > 0:
        return OpenPair(refund_open.quantize(quantum(currency)), unapplied.quantize(quantum(currency)))
    return None


# ------------------------------------------------------------------ per ledger (pure)
# What each ledger receives from the sync, as a signed amount in QBO's sign convention for
# Account.CurrentBalance: debits minus credits. The one QBO read in the reference shows an
# Accounts Payable account at -1602.67 (qbo-response-examples.md §2.4); that the same holds for
# every balance-sheet type is [U] (the emulator's rules.BALANCE_IS_DEBIT_MINUS_CREDIT says the same).
CREDIT_NORMAL = ("Liability", "Equity", "Revenue")
BALANCE_SHEET = ("Asset", "Liability", "Equity")
LEDGER_LABELS = {"deferred_revenue": "Deferred Revenue", "sales_tax_payable": "Sales Tax Payable", "payments_deposit": "Payments deposit",
                 "refunds": "Refunds paid from", "credits": "Credits", "charge_reversals": "Charge Reversals", "write_offs": "Write-Offs"}
# Ledgers whose Fusebill side appears in no account-wide Fusebill list (credits, credit reversals and
# write-offs are read per customer only, fusebill-api.md §3.8): their total is not read.
UNREAD_FUSEBILL = {"credits": "Fusebill lists credits and credit reversals only per customer, so their total is not read for the report.",
                   "write_offs": "Fusebill lists write-offs only per customer, so their total is not read for the report."}


@dataclass
class LedgerRow:
    ledgers: list[str]
    account_id: str
    account_name: str = ""
    account_type: str = ""
    account_currency: str = ""
    fusebill: dict[str, Decimal] = field(default_factory=dict)  # currency -> natural-sign total
    records: int = 0
    qbo: Decimal | None = None  # natural sign
    difference: Decimal | None = None
    status: str = "unread"  # matched | mismatch | unread
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"ledgers": self.ledgers, "labels": [LEDGER_LABELS.get(k, k) for k in self.ledgers], "account_id": self.account_id,
                "account_name": self.account_name, "account_type": self.account_type, "account_currency": self.account_currency,
                "fusebill": {c: format(v, "f") for c, v in sorted(self.fusebill.items())}, "records": self.records,
                "qbo": None if self.qbo is None else format(self.qbo, "f"),
                "difference": None if self.difference is None else format(self.difference, "f"), "status": self.status, "notes": self.notes}


@dataclass(frozen=True)
class Posting:
    """What one synced Fusebill record posted to one ledger, debit positive."""

    ledger: str
    currency: str
    amount: Decimal


def ledger_rows(choices: dict[str, str], accounts: dict[str, dict[str, Any]], postings: Iterable[Posting], records: dict[str, int],
                home_currency: str) -> list[LedgerRow]:
    """One row per chosen QBO account (ledgers sharing an account share a row: QBO knows only the account).

    The QBO figure is the account's `CurrentBalance`, read live. It is compared only where that is
    honest: a balance-sheet account (QBO gives no CurrentBalance for income and expense accounts),
    every contributing document in the account's currency (foreign documents post at their exchange
    rate, so per-currency totals would not add up), and every contributing ledger readable from
    Fusebill's account-wide lists. Otherwise the row shows what can be read and says why.
    """
    by_account: dict[str, LedgerRow] = {}
    for ledger, account_id in choices.items():
        row = by_account.setdefault(account_id, LedgerRow(ledgers=[], account_id=account_id))
        row.ledgers.append(ledger)
    signed: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for posting in postings:
        posted_to = choices.get(posting.ledger)
        if posted_to is not None:
            signed[posted_to][posting.currency] += posting.amount
    for account_id, row in by_account.items():
        account = accounts.get(account_id)
        row.records = sum(records.get(ledger, 0) for ledger in row.ledgers)
        flip = True
        if account is not None:
            row.account_name = account.get("FullyQualifiedName") or account.get("Name") or ""
            row.account_type = account.get("AccountType") or ""
            row.account_currency = ((account.get("CurrencyRef") or {}).get("value")) or home_currency
            flip = (account.get("Classification") or "") in CREDIT_NORMAL
        sign = Decimal(-1) if flip else Decimal(1)
        row.fusebill = {currency: (amount * sign).quantize(quantum(currency)) for currency, amount in signed[account_id].items()}
        unread = [UNREAD_FUSEBILL[k] for k in row.ledgers if k in UNREAD_FUSEBILL]
        row.notes.extend(unread)
        if account is None:
            row.notes.append(f"QuickBooks has no account {account_id} any more: choose this ledger again.")
            continue
        if account.get("Classification") not in BALANCE_SHEET:
            row.notes.append(f"QuickBooks reports no balance for {row.account_type or 'income and expense'} accounts through its API "
                             "(CurrentBalance is kept for balance-sheet accounts only), so the amount posted is not read.")
            continue
        row.qbo = (to_money(account.get("CurrentBalance"), row.account_currency) or ZERO) * sign
        foreign = sorted(c for c in row.fusebill if c != row.account_currency)
        if foreign:
            row.notes.append(f"Documents in {', '.join(foreign)} post to this {row.account_currency} account at their exchange rates, "
                             "so the totals per currency cannot be compared with its balance.")
            continue
        if unread:
            continue
        expected = row.fusebill.get(row.account_currency, ZERO)
        row.difference = (row.qbo - expected).quantize(quantum(row.account_currency))
        row.status = "matched" if row.difference == 0 else "mismatch"
        if row.difference != 0:
            row.notes.append("The account's balance holds everything posted to it, not only the sync's documents "
                             "(a deposit or an entry made in QuickBooks changes it too).")
    return sorted(by_account.values(), key=lambda r: min(list(LEDGER_LABELS).index(k) if k in LEDGER_LABELS else 99 for k in r.ledgers))


# ------------------------------------------------------------------ use cases
def _stale(report: ReconciliationReport) -> bool:
    return report.active and (utcnow() - report.requested_at) > STALE_AFTER


def active_report(session: Session, environment_id: int) -> ReconciliationReport | None:
    return session.scalar(select(ReconciliationReport).where(ReconciliationReport.environment_id == environment_id,
                                                            ReconciliationReport.status.in_(REPORT_ACTIVE)).limit(1))


def check_blockers(session: Session, account: Account) -> list[str]:
    """Why "Check now" cannot run for the account's active environment (empty: it can). Reads only."""
    environment = active_environment(session, account)
    connection = live_connection(session, environment)
    reasons = []
    if connection is None:
        reasons.append("Connect QuickBooks first: the report reads every customer's balance from the connected QuickBooks company.")
    elif connection.needs_reconnect:
        reasons.append("QuickBooks no longer accepts this connection: reconnect to QuickBooks, then check again.")
    if not environment.fusebill_api_key_ciphertext:
        reasons.append("Enter this environment's Fusebill API key first: the report reads every customer's A/R from Fusebill.")
    return reasons


def request_report(session: Session, ctx: ServiceContext, account: Account, actor: User | None) -> ReconciliationReport:
    """Queue a report of the active environment and its live connection, or return the one already
    queued or running (one builds at a time). Commits, then enqueues."""
    from jobs.reconcile import enqueue_report

    reasons = check_blockers(session, account)
    if reasons:
        raise NotAllowed(" ".join(reasons))
    environment = active_environment(session, account)
    connection = live_connection(session, environment)
    assert connection is not None
    existing = active_report(session, environment.id)
    if existing is not None and _stale(existing):
        existing.status, existing.finished_at = REPORT_FAILED, utcnow()
        existing.error = "The report did not finish within an hour (the worker building it may have stopped). Check again."
        session.flush()
        existing = None
    if existing is not None:
        return existing
    report = ReconciliationReport(environment_id=environment.id, realm_id=connection.realm_id, connection_id=connection.id,
                                  status=REPORT_QUEUED, requested_by_id=actor.id if actor else None, total_difference={}, ledgers=[], details={})
    try:
        with session.begin_nested():
            session.add(report)
    except IntegrityError:
        # Another request queued one a moment ago (the partial unique index): that one it is.
        existing = active_report(session, environment.id)
        if existing is None:
            raise
        return existing
    session.commit()
    enqueue_report(ctx, report.id)
    return report


def report_for(session: Session, account: Account, report_id: int) -> ReconciliationReport:
    """A report of one of this account's environments; another account's answers NotFound."""
    report = session.get(ReconciliationReport, report_id)
    environment = session.get(Environment, report.environment_id) if report is not None else None
    if report is None or environment is None or environment.account_id != account.id:
        raise NotFound("No such reconciliation report.")
    return report


def latest_report(session: Session, environment: Environment) -> ReconciliationReport | None:
    return session.scalar(select(ReconciliationReport).where(ReconciliationReport.environment_id == environment.id)
                          .order_by(ReconciliationReport.id.desc()).limit(1))


def lines_of(session: Session, report: ReconciliationReport, limit: int | None = None) -> list[ReconciliationLine]:
    """Mismatches first (then missing, accepted pairs, matched, not synced), the largest difference first."""
    query = (select(ReconciliationLine).where(ReconciliationLine.report_id == report.id)
             .order_by(ReconciliationLine.rank, ReconciliationLine.size.desc(), ReconciliationLine.id))
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


# ------------------------------------------------------------------ the run-history chart
@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    label: str


@dataclass(frozen=True)
class HistoryPoint:
    run_id: int
    started: Any
    status: str
    synced: int
    failed: int


@dataclass(frozen=True)
class HistoryChart:
    """Records synced and failed per run (oldest left), as SVG geometry computed here so the template
    only places rectangles (no inline style: CSP)."""

    points: list[HistoryPoint]
    bars: list[Bar]
    width: int
    height: int
    top: int
    baseline: float
    scale_max: int

    @property
    def summary(self) -> str:
        if not self.points:
            return "No sync runs yet."
        synced = sum(p.synced for p in self.points)
        failed = sum(p.failed for p in self.points)
        return (f"The last {len(self.points)} sync runs: {synced} records synced and {failed} failed in all; "
                f"the most recent run synced {self.points[-1].synced} and failed {self.points[-1].failed}.")


def run_history(session: Session, environment: Environment, limit: int = HISTORY_RUNS) -> HistoryChart:
    runs = list(session.scalars(select(SyncRun).where(SyncRun.environment_id == environment.id).order_by(SyncRun.id.desc()).limit(limit)))
    runs.reverse()
    points = [HistoryPoint(run.id, run.started_at, run.status, int((run.counts or {}).get("records_synced", 0) or 0),
                           int((run.counts or {}).get("records_failed", 0) or 0)) for run in runs]
    width, height, left, top, bottom = 640, 180, 8, 14, 20
    plot_w, plot_h = width - 2 * left, height - top - bottom
    scale_max = max([1] + [max(p.synced, p.failed) for p in points])
    bars: list[Bar] = []
    if points:
        slot = plot_w / max(len(points), 1)
        bar_w = max(1.0, min(14.0, slot / 2 - 2))
        for index, point in enumerate(points):
            x0 = left + index * slot + (slot - 2 * bar_w - 2) / 2
            for offset, value, css, word in ((0, point.synced, "chart-synced", "synced"), (1, point.failed, "chart-failed", "failed")):
                h = 0.0 if value == 0 else max(2.0, plot_h * value / scale_max)  # a single failure stays visible
                bars.append(Bar(round(x0 + offset * (bar_w + 2), 1), round(top + plot_h - h, 1), round(bar_w, 1), round(h, 1), css,
                                f"Run {point.run_id}: {value} records {word}"))
    return HistoryChart(points, bars, width, height, top, top + plot_h, scale_max)


# ------------------------------------------------------------------ the page and the CSV
@dataclass(frozen=True)
class ReportPage:
    environment: Environment
    report: ReconciliationReport | None
    lines: list[ReconciliationLine]
    lines_total: int
    history: HistoryChart
    blockers: list[str]

    @property
    def active(self) -> bool:
        return self.report is not None and self.report.active

    @property
    def done(self) -> bool:
        return self.report is not None and self.report.status == REPORT_DONE


def report_page(session: Session, account: Account, report_id: int | None = None) -> ReportPage:
    if report_id is None:
        environment = active_environment(session, account)
        report = latest_report(session, environment)
    else:
        report = report_for(session, account, report_id)
        environment = session.get_one(Environment, report.environment_id)
    lines: list[ReconciliationLine] = []
    total = 0
    if report is not None and report.status == REPORT_DONE:
        lines = lines_of(session, report, PAGE_LINES)
        total = int(session.scalar(select(func.count()).select_from(ReconciliationLine).where(ReconciliationLine.report_id == report.id)) or 0)
    return ReportPage(environment, report, lines, total, run_history(session, environment), check_blockers(session, account))


CSV_HEADER = ("Fusebill customer id", "Name", "Currency", "Fusebill A/R", "QuickBooks balance", "Difference", "Status",
              "QuickBooks customer id", "Open refund (pair)", "Unapplied payment (pair)", "Note")
_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """A cell a spreadsheet will not run: text starting with = + - @ (or tab/CR) gets a leading quote.
    A plain decimal number such as -12.50 is left as it is: it cannot be a formula, and quoting it
    would turn every negative amount into text."""
    text = "" if value is None else (format(value, "f") if isinstance(value, Decimal) else str(value))
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_lines(session: Session, report: ReconciliationReport) -> Iterator[str]:
    """The report's every line as CSV text, row by row (streamed; reads only)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def emit(row: Iterable[Any]) -> str:
        writer.writerow([csv_cell(v) for v in row])
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return text

    yield emit(CSV_HEADER)
    for line in lines_of(session, report):
        yield emit((line.customer_id, line.name, line.currency, line.fusebill_ar, line.qbo_balance, line.difference,
                    STATUS_LABELS.get(line.status, line.status), line.qbo_customer_id, line.pair_refund_open, line.pair_unapplied, line.note))
