"""Reconciliation reports: "do my books match?", with figures read live from QBO.

A report belongs to one environment and is pinned to the realm (and connection) it was asked for.
It is built by a job (`jobs/reconcile.py`): queued → running → done, or failed with its error. At
most one report per environment is queued or running at a time (a partial unique index).

Money is kept as exact decimal text (`DecimalText`): SQLite has no exact decimal type, and a float
on the way would make "to the cent" a lie.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, TypeDecorator, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import Base, UTCDateTime, utcnow

REPORT_QUEUED = "queued"
REPORT_RUNNING = "running"
REPORT_DONE = "done"
REPORT_FAILED = "failed"
REPORT_STATUSES = (REPORT_QUEUED, REPORT_RUNNING, REPORT_DONE, REPORT_FAILED)
REPORT_ACTIVE = (REPORT_QUEUED, REPORT_RUNNING)
REPORT_FINISHED_STATES = (REPORT_DONE, REPORT_FAILED)

LINE_MISMATCH = "mismatch"
LINE_MISSING = "missing-in-QBO"
LINE_ACCEPTED_PAIR = "accepted-pair"
LINE_MATCHED = "matched"
LINE_NOT_SYNCED = "not-synced"
# The order the page lists them in: what needs attention first.
LINE_STATUSES = (LINE_MISMATCH, LINE_MISSING, LINE_ACCEPTED_PAIR, LINE_MATCHED, LINE_NOT_SYNCED)


class DecimalText(TypeDecorator[Decimal]):
    """A Decimal stored as its exact text (up to 40 characters); None stays None."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect):
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError("money columns take Decimal, never float")
        return format(value, "f")

    def process_result_value(self, value: str | None, dialect):
        return None if value is None else Decimal(value)


class ReconciliationReport(Base):
    __tablename__ = "reconciliation_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    realm_id: Mapped[str] = mapped_column(String(32))
    connection_id: Mapped[int | None] = mapped_column(ForeignKey("qbo_connections.id", ondelete="SET NULL"), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=REPORT_QUEUED)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

    # Summary figures (filled when done).
    customers_checked: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    matched: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    mismatched: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    accepted_pairs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    missing_in_qbo: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    not_synced: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # {"USD": "12.50", ...}: Σ |difference| per currency (amounts of different currencies never add up).
    total_difference: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # The per-ledger table: a list of rows (see services/reconciliation.py `LedgerRow.as_json`).
    ledgers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # What the page must say about how the figures were read (notices) and the request counts.
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
        Index("ix_reconciliation_reports_environment", "environment_id", "id"),
        # One report builds at a time per environment.
        Index(
            "uq_reconciliation_reports_one_active",
            "environment_id",
            unique=True,
            sqlite_where=text("status IN ('queued', 'running')"),
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
    )

    @property
    def active(self) -> bool:
        return self.status in REPORT_ACTIVE


class ReconciliationLine(Base):
    """One customer of a report: Fusebill's A/R against the QBO customer's Balance read live."""

    __tablename__ = "reconciliation_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reconciliation_reports.id", ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(String(32))  # Fusebill customer id
    name: Mapped[str] = mapped_column(String(255), default="")
    currency: Mapped[str] = mapped_column(String(3), default="")
    fusebill_ar: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    qbo_balance: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    difference: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)  # QBO − Fusebill
    status: Mapped[str] = mapped_column(String(16))
    qbo_customer_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # An open refund / unapplied payment pair QBO holds for this customer (contract: edge rules).
    pair_refund_open: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    pair_unapplied: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # Listing order: status rank (LINE_STATUSES), then the largest difference (minor units) first.
    rank: Mapped[int] = mapped_column(Integer, default=0)
    size: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (
        CheckConstraint("status IN ('mismatch', 'missing-in-QBO', 'accepted-pair', 'matched', 'not-synced')", name="status"),
        Index("ix_reconciliation_lines_report_order", "report_id", "rank", "size"),
        Index("ix_reconciliation_lines_report_customer", "report_id", "customer_id"),
    )
