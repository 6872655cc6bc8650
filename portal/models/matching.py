"""Customer matching: which QBO customer each Fusebill customer likely is, and what the admin chose.

All of it belongs to one environment *and* one QBO company (realm): a reconnect to another company
starts from nothing, a reconnect to the same one finds its decisions again.

- `MatchScan`: one press of *Find matches* (a job reads every Fusebill and every QBO customer).
- `CustomerMatch`: per Fusebill customer, the likely QBO customer found by the last scan and on what
  basis (its Fusebill marker, its email, its name), or the candidates when more than one fits.
- `ScannedQboCustomer`: the QBO customers the last scan read (to check and pick a typed QBO id).
- `CustomerDecision`: the admin's choice per Fusebill customer (create / link / don't sync), with who
  chose and when; the engine honours it (jobs/sync/links.py `honour_decisions`).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import Base, UTCDateTime, utcnow

SCAN_QUEUED = "queued"
SCAN_RUNNING = "running"
SCAN_SUCCEEDED = "succeeded"
SCAN_FAILED = "failed"
SCAN_ACTIVE = (SCAN_QUEUED, SCAN_RUNNING)

BASIS_MARKER = "marker"  # the QBO customer carries this Fusebill customer's `fusebill:customer:<id>` marker
BASIS_EMAIL = "email"
BASIS_NAME = "name"
BASIS_LINKED = "linked"  # already linked by the sync (the link table says so)
BASES = (BASIS_MARKER, BASIS_EMAIL, BASIS_NAME, BASIS_LINKED)

CHOICE_CREATE = "create"
CHOICE_LINK = "link"
CHOICE_DONT_SYNC = "dont_sync"
CHOICES = (CHOICE_CREATE, CHOICE_LINK, CHOICE_DONT_SYNC)


class MatchScan(Base):
    __tablename__ = "customer_match_scans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    realm_id: Mapped[str] = mapped_column(String(32))
    connection_id: Mapped[int | None] = mapped_column(ForeignKey("qbo_connections.id", ondelete="SET NULL"), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=SCAN_QUEUED)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    fusebill_customers: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    qbo_customers: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed')", name="status"),
        Index("ix_customer_match_scans_env_started", "environment_id", "started_at"),
    )

    @property
    def active(self) -> bool:
        return self.status in SCAN_ACTIVE


class CustomerMatch(Base):
    __tablename__ = "customer_matches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    realm_id: Mapped[str] = mapped_column(String(32))
    fusebill_customer_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str] = mapped_column(String(500), default="")
    fusebill_status: Mapped[str] = mapped_column(String(32), default="")
    currency: Mapped[str] = mapped_column(String(3), default="")
    basis: Mapped[str] = mapped_column(String(16), default="", server_default="")  # "" = no match
    qbo_customer_id: Mapped[str | None] = mapped_column(String(32), nullable=True)  # the suggestion (None when ambiguous)
    qbo_name: Mapped[str] = mapped_column(String(500), default="", server_default="")
    qbo_email: Mapped[str] = mapped_column(String(254), default="", server_default="")
    ambiguous: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # When ambiguous: [{"id", "name", "email"}, ...] and why (shown as such, never auto-picked).
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(String(500), default="", server_default="")
    scan_id: Mapped[int | None] = mapped_column(ForeignKey("customer_match_scans.id", ondelete="SET NULL"), nullable=True)
    found_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("environment_id", "realm_id", "fusebill_customer_id", name="uq_customer_matches_env_realm_customer"),
        CheckConstraint("basis IN ('', 'marker', 'email', 'name', 'linked')", name="basis"),
    )


class ScannedQboCustomer(Base):
    __tablename__ = "scanned_qbo_customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    realm_id: Mapped[str] = mapped_column(String(32))
    qbo_id: Mapped[str] = mapped_column(String(32))
    display_name: Mapped[str] = mapped_column(String(500), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    currency: Mapped[str] = mapped_column(String(3), default="")
    sync_token: Mapped[str] = mapped_column(String(16), default="0")
    # The Fusebill customer whose marker this QBO customer carries in Notes ("" when none).
    marker_customer_id: Mapped[str] = mapped_column(String(32), default="", server_default="")
    scan_id: Mapped[int | None] = mapped_column(ForeignKey("customer_match_scans.id", ondelete="SET NULL"), nullable=True)

    __table_args__ = (UniqueConstraint("environment_id", "realm_id", "qbo_id", name="uq_scanned_qbo_customers_env_realm_qbo"),)


class CustomerDecision(Base):
    __tablename__ = "customer_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    realm_id: Mapped[str] = mapped_column(String(32))
    fusebill_customer_id: Mapped[str] = mapped_column(String(32))
    choice: Mapped[str] = mapped_column(String(16))
    qbo_customer_id: Mapped[str | None] = mapped_column(String(32), nullable=True)  # link only
    qbo_name: Mapped[str] = mapped_column(String(500), default="", server_default="")
    qbo_sync_token: Mapped[str] = mapped_column(String(16), default="0", server_default="0")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    decided_by_label: Mapped[str] = mapped_column(String(254), default="")
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when a sync first planned the customer with this decision; until then the next run
    # includes the customer even if nothing changed in Fusebill (a parked customer must not wait).
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        UniqueConstraint("environment_id", "realm_id", "fusebill_customer_id", name="uq_customer_decisions_env_realm_customer"),
        CheckConstraint("choice IN ('create', 'link', 'dont_sync')", name="choice"),
        CheckConstraint("choice <> 'link' OR qbo_customer_id IS NOT NULL", name="link_target"),
        Index("ix_customer_decisions_qbo", "environment_id", "realm_id", "qbo_customer_id"),
    )
