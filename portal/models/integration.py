"""One account's two environments and everything that belongs to one of them.

An environment (sandbox: Fusebill staging ↔ a QBO sandbox company; production: Fusebill production
↔ a QBO production company) owns its Fusebill API key, its QuickBooks connections (the current one
and the disconnected ones, kept as history), its ledger choices, tax mappings, managed items, sync
settings, links and sync runs. Nothing here is shared between the two environments.

Secrets (Fusebill API key, OAuth tokens) are stored only as Fernet ciphertext (`*_ciphertext`).
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.account import ENVIRONMENT_PRODUCTION, ENVIRONMENT_SANDBOX, Account
from portal.models.base import Base, UTCDateTime, utcnow

SCHEDULE_OFF = "off"
SCHEDULE_HOURLY = "hourly"
SCHEDULE_DAILY = "daily"
SCHEDULES = (SCHEDULE_OFF, SCHEDULE_HOURLY, SCHEDULE_DAILY)

NEW_CUSTOMERS_CREATE = "create"
NEW_CUSTOMERS_DONT_CREATE = "dont_create"

NAME_PARTS = ("company_name", "first_name", "last_name")  # the Fusebill id is always added

TAX_NONE = "none"                  # no sales tax in QBO
TAX_US_AUTOMATED = "us_automated"  # US, automated sales tax on
TAX_US_MANUAL = "us_manual"        # US, sales tax on without the automated engine
TAX_CODES = "codes"                # non-US, tax codes (GST/HST/PST, VAT, ...)
TAX_SETUPS = (TAX_NONE, TAX_US_AUTOMATED, TAX_US_MANUAL, TAX_CODES)


class Environment(Base):
    __tablename__ = "environments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))

    fusebill_api_key_ciphertext: Mapped[str | None] = mapped_column(Text, nullable=True)
    fusebill_api_key_hint: Mapped[str | None] = mapped_column(String(16), nullable=True)  # last 4 characters
    fusebill_key_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    # The contract's default data map: company name, else first + last name (plus the Fusebill id).
    display_name_parts: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["company_name"])
    update_display_names: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    new_customers: Mapped[str] = mapped_column(String(16), default=NEW_CUSTOMERS_CREATE, server_default=NEW_CUSTOMERS_CREATE)
    sync_start_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    schedule: Mapped[str] = mapped_column(String(16), default=SCHEDULE_OFF, server_default=SCHEDULE_OFF)
    notification_email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    settings_saved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    # Fusebill webhooks (portal/services/webhooks.py): the URL's random token is looked up by its
    # SHA-256; token and key are kept together as Fernet ciphertext to show them on the page.
    webhook_token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True, index=True)
    webhook_secret_ciphertext: Mapped[str | None] = mapped_column(Text, nullable=True)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    account: Mapped[Account] = relationship()

    __table_args__ = (
        UniqueConstraint("account_id", "kind", name="uq_environments_account_kind"),
        CheckConstraint(f"kind IN ('{ENVIRONMENT_SANDBOX}', '{ENVIRONMENT_PRODUCTION}')", name="kind"),
        CheckConstraint(f"schedule IN ('{SCHEDULE_OFF}', '{SCHEDULE_HOURLY}', '{SCHEDULE_DAILY}')", name="schedule"),
        CheckConstraint(f"new_customers IN ('{NEW_CUSTOMERS_CREATE}', '{NEW_CUSTOMERS_DONT_CREATE}')", name="new_customers"),
    )


class QboConnection(Base):
    """One connection of an environment to a QBO company (realm). Disconnected rows stay as history."""

    __tablename__ = "qbo_connections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    realm_id: Mapped[str] = mapped_column(String(32))
    company_name: Mapped[str] = mapped_column(String(255), default="")

    # The company's set-up, read at connect and re-checked later.
    country: Mapped[str] = mapped_column(String(8), default="")
    home_currency: Mapped[str] = mapped_column(String(3), default="")
    multicurrency: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    tax_setup: Mapped[str] = mapped_column(String(16), default=TAX_NONE, server_default=TAX_NONE)
    auto_apply_credit: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # Some companies' Preferences leave the key out; then we cannot tell, and say so.
    auto_apply_credit_reported: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    company_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    company_check_error: Mapped[str | None] = mapped_column(String(500), nullable=True)

    access_token_ciphertext: Mapped[str | None] = mapped_column(Text, nullable=True)
    access_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    refresh_token_ciphertext: Mapped[str | None] = mapped_column(Text, nullable=True)
    refresh_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_refresh_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    last_refresh_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    needs_reconnect: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    expiry_warning_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    # Reconnecting to a company this environment was connected to before: re-link, don't duplicate.
    previous_connection_id: Mapped[int | None] = mapped_column(ForeignKey("qbo_connections.id", ondelete="SET NULL"), nullable=True)
    relink_existing: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))

    connected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    connected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    disconnected_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    disconnected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    revoke_error: Mapped[str | None] = mapped_column(String(500), nullable=True)

    environment: Mapped[Environment] = relationship()

    __table_args__ = (
        CheckConstraint(f"tax_setup IN ({', '.join(repr(t) for t in TAX_SETUPS)})", name="tax_setup"),
        # At most one live connection per environment.
        Index(
            "uq_qbo_connections_one_live",
            "environment_id",
            unique=True,
            sqlite_where=text("disconnected_at IS NULL"),
            postgresql_where=text("disconnected_at IS NULL"),
        ),
        Index("ix_qbo_connections_environment_realm", "environment_id", "realm_id"),
    )

    @property
    def is_live(self) -> bool:
        return self.disconnected_at is None


class LedgerChoice(Base):
    """The QBO account chosen for one ledger, for one environment and company."""

    __tablename__ = "ledger_choices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    realm_id: Mapped[str] = mapped_column(String(32))
    ledger: Mapped[str] = mapped_column(String(32))
    qbo_account_id: Mapped[str] = mapped_column(String(32))
    qbo_account_name: Mapped[str] = mapped_column(String(255))
    qbo_account_type: Mapped[str] = mapped_column(String(64))
    qbo_account_subtype: Mapped[str] = mapped_column(String(64), default="")
    chosen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    chosen_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)

    __table_args__ = (UniqueConstraint("environment_id", "realm_id", "ledger", name="uq_ledger_choices_env_realm_ledger"),)


class ManagedItem(Base):
    """A QBO item the mapping needs ("Fusebill Charges", ...), found or created by us."""

    __tablename__ = "managed_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    realm_id: Mapped[str] = mapped_column(String(32))
    item_key: Mapped[str] = mapped_column(String(32))
    qbo_item_id: Mapped[str] = mapped_column(String(32))
    qbo_item_name: Mapped[str] = mapped_column(String(100))
    income_account_id: Mapped[str] = mapped_column(String(32))
    sync_token: Mapped[str] = mapped_column(String(16), default="0")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("environment_id", "realm_id", "item_key", name="uq_managed_items_env_realm_item"),)


class TaxMapping(Base):
    """A Fusebill tax rule and the QBO tax *rate* its tax is posted to (unmapped while qbo_tax_rate_id
    is None): the sync writes one `TxnTaxDetail.TaxLine` per rule with `TaxRateRef` = this rate.

    The rate is one of the rates of the codes this rule's combinations (TaxCombination) map to.
    `qbo_tax_code_id`/`qbo_tax_code_name` are the earlier rule → code mapping, kept as history only:
    the sync does not read them. `mapped_at`/`mapped_by_id` are about the rate. A rule set to ignore
    (`ignored_at`) keeps its rate choice, so that un-ignoring it restores the mapping.
    """

    __tablename__ = "tax_mappings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    realm_id: Mapped[str] = mapped_column(String(32))
    fusebill_tax_key: Mapped[str] = mapped_column(String(64))
    fusebill_tax_name: Mapped[str] = mapped_column(String(200))
    fusebill_tax_rate: Mapped[Decimal | None] = mapped_column(Numeric(9, 5), nullable=True)
    source: Mapped[str] = mapped_column(String(16), default="discovered")  # discovered | manual
    qbo_tax_code_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    qbo_tax_code_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    qbo_tax_rate_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    qbo_tax_rate_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    qbo_tax_rate_percent: Mapped[Decimal | None] = mapped_column(Numeric(9, 5), nullable=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    mapped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    mapped_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    # Set to ignore (never synced): blocks nothing on the checklist; a record that carries it fails with that reason.
    ignored_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ignored_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)

    __table_args__ = (UniqueConstraint("environment_id", "realm_id", "fusebill_tax_key", name="uq_tax_mappings_env_realm_key"),)

    @property
    def ignored(self) -> bool:
        return self.ignored_at is not None


class TaxCombination(Base):
    """A set of Fusebill tax rules charged together on an invoice, and the QBO tax code for it.

    `rule_keys` is `portal.services.taxes.combination_key(...)`: the sorted TaxMapping.fusebill_tax_key
    values joined by "+". The empty string "" is the non-taxable combination (charges without tax,
    credits, write-offs); its code is the company's zero-rate code. Unmapped while qbo_tax_code_id is None.
    """

    __tablename__ = "tax_combinations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    realm_id: Mapped[str] = mapped_column(String(32))
    rule_keys: Mapped[str] = mapped_column(String(400))
    label: Mapped[str] = mapped_column(String(400), default="")
    qbo_tax_code_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    qbo_tax_code_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    mapped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    mapped_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)

    __table_args__ = (UniqueConstraint("environment_id", "realm_id", "rule_keys", name="uq_tax_combinations_env_realm_keys"),)


class SyncLink(Base):
    """(environment, entity type, Fusebill id, part) → its QBO counterpart. The only way the engine finds one.

    `part` is "" for a record's own document and names the extra documents one record owns, e.g. a
    credit's zero-total application Payment `apply:invoice:5531` (marker
    `fusebill:credit:812:apply:invoice:5531`). Promise 4 (one-to-one) is checkable per (type, id, part).
    """

    __tablename__ = "sync_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    realm_id: Mapped[str] = mapped_column(String(32))
    entity_type: Mapped[str] = mapped_column(String(32))
    fusebill_id: Mapped[str] = mapped_column(String(96))
    part: Mapped[str] = mapped_column(String(96), default="", server_default="")
    customer_id: Mapped[str] = mapped_column(String(32), default="", server_default="")
    qbo_type: Mapped[str] = mapped_column(String(32))
    qbo_id: Mapped[str] = mapped_column(String(32))
    qbo_sync_token: Mapped[str] = mapped_column(String(16), default="0")
    payload_hash: Mapped[str] = mapped_column(String(64), default="")
    # What later documents need from this one without reading QBO again (e.g. a JE's A/R line id,
    # the amount an application Payment applies).
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default=text("'{}'"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("environment_id", "entity_type", "fusebill_id", "part", name="uq_sync_links_env_type_fusebill_part"),
        Index("ix_sync_links_qbo", "environment_id", "qbo_type", "qbo_id"),
        Index("ix_sync_links_customer", "environment_id", "customer_id"),
    )


RUN_QUEUED = "queued"
RUN_RUNNING = "running"
RUN_SUCCEEDED = "succeeded"
RUN_PARTIAL = "partial"
RUN_FAILED = "failed"
RUN_STATUSES = (RUN_QUEUED, RUN_RUNNING, RUN_SUCCEEDED, RUN_PARTIAL, RUN_FAILED)
RUN_FINISHED = (RUN_SUCCEEDED, RUN_PARTIAL, RUN_FAILED)


class SyncRun(Base):
    """One run of the sync for one environment (history is kept across disconnects).

    A run is pinned at creation to its environment, realm and connection; its jobs never look up
    "the active one". `cursor` is the Fusebill time the run's change lists were read from (the
    previous finished run's `read_at`), `read_at` the time this run read them.
    """

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    realm_id: Mapped[str] = mapped_column(String(32))
    connection_id: Mapped[int | None] = mapped_column(ForeignKey("qbo_connections.id", ondelete="SET NULL"), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=RUN_QUEUED)
    trigger: Mapped[str] = mapped_column(String(16), default="manual")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cursor: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    customers_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    customers_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed', 'partial')", name="status"),
        Index("ix_sync_runs_environment_started", "environment_id", "started_at"),
    )

    @property
    def finished(self) -> bool:
        return self.status in RUN_FINISHED


STATE_SYNCED = "synced"
STATE_PENDING = "pending"
STATE_FAILED = "failed"
STATE_SKIPPED = "skipped"
RECORD_STATES = (STATE_SYNCED, STATE_PENDING, STATE_FAILED, STATE_SKIPPED)


class SyncRecord(Base):
    """The one visible state of one Fusebill record in one environment (promise 5: nothing dropped).

    Exactly one row per (environment, entity type, Fusebill id): synced, pending (with what it waits
    for), failed (QBO's code and message, a plain-language hint) or skipped (with the reason).
    """

    __tablename__ = "sync_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    entity_type: Mapped[str] = mapped_column(String(32))
    fusebill_id: Mapped[str] = mapped_column(String(96))
    customer_id: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(200), default="")  # e.g. "Invoice 1042"
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    hint: Mapped[str | None] = mapped_column(String(500), nullable=True)
    qbo_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    qbo_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_runs.id", ondelete="SET NULL"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("environment_id", "entity_type", "fusebill_id", name="uq_sync_records_env_type_fusebill"),
        CheckConstraint("state IN ('synced', 'pending', 'failed', 'skipped')", name="state"),
        Index("ix_sync_records_env_state", "environment_id", "state"),
        Index("ix_sync_records_env_customer", "environment_id", "customer_id"),
        # The event log (portal/services/event_log.py): keyset pages by id, newest first, per filter.
        Index("ix_sync_records_env_id", "environment_id", "id"),
        Index("ix_sync_records_env_state_id", "environment_id", "state", "id"),
        Index("ix_sync_records_env_type_id", "environment_id", "entity_type", "id"),
        Index("ix_sync_records_run_id", "run_id", "id"),
        Index("ix_sync_records_env_updated", "environment_id", "updated_at"),
        # Its search: a Fusebill id, a QBO id or a document label ("Invoice 1042"), each matched exactly.
        Index("ix_sync_records_env_fusebill", "environment_id", "fusebill_id"),
        Index("ix_sync_records_env_qbo", "environment_id", "qbo_id"),
        Index("ix_sync_records_env_label", "environment_id", "label"),
    )
