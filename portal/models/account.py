"""A Fusebill billing account, its people, and its requests to have the integration enabled."""
from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, UTCDateTime, utcnow

ROLE_ADMIN = "admin"
ROLE_SUPPORT = "support"
ROLES = (ROLE_ADMIN, ROLE_SUPPORT)

ENVIRONMENT_SANDBOX = "sandbox"
ENVIRONMENT_PRODUCTION = "production"
ENVIRONMENTS = (ENVIRONMENT_SANDBOX, ENVIRONMENT_PRODUCTION)

REQUEST_PENDING = "pending"
REQUEST_GRANTED = "granted"
REQUEST_DECLINED = "declined"


class Account(Base):
    """A Fusebill account. The QuickBooks integration is off until support enables it."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    fusebill_account_id: Mapped[str] = mapped_column(String(64), unique=True)
    integration_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # Which environment (sandbox / production) the portal shows and the scheduler runs.
    active_environment: Mapped[str] = mapped_column(String(16), default=ENVIRONMENT_SANDBOX, server_default=ENVIRONMENT_SANDBOX)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    enablement_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Support paused this account's syncs (services.enablement.pause_syncs): while set, nothing starts
    # a run and queued work ends as skipped. Who paused is a snapshot of the email, as in the audit log.
    syncs_paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    syncs_paused_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    syncs_paused_by: Mapped[str | None] = mapped_column(String(254), nullable=True)

    users: Mapped[list[User]] = relationship(back_populates="account")
    enablement_requests: Mapped[list[EnablementRequest]] = relationship(
        back_populates="account", order_by="EnablementRequest.requested_at.desc()"
    )

    __table_args__ = (
        CheckConstraint(f"active_environment IN ('{ENVIRONMENT_SANDBOX}', '{ENVIRONMENT_PRODUCTION}')", name="active_environment"),
    )

    @property
    def syncs_paused(self) -> bool:
        return self.syncs_paused_at is not None

    def __repr__(self) -> str:
        return f"<Account {self.id} {self.fusebill_account_id} enabled={self.integration_enabled}>"


class User(UserMixin, Base):
    """Someone who signs in: the admin of exactly one account, or a member of support staff."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-cased
    name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="RESTRICT"), nullable=True, index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_signed_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Stored in the session cookie at sign-in and compared on every request: raising it (sign-out,
    # disabling the user, a new password) ends every session of this user, copied cookies included.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    account: Mapped[Account | None] = relationship(back_populates="users")

    __table_args__ = (
        CheckConstraint(f"role IN ('{ROLE_ADMIN}', '{ROLE_SUPPORT}')", name="role"),
        # An admin belongs to exactly one account; support staff belong to none.
        CheckConstraint(
            f"(role = '{ROLE_ADMIN}' AND account_id IS NOT NULL) OR (role = '{ROLE_SUPPORT}' AND account_id IS NULL)",
            name="role_account",
        ),
    )

    @property
    def is_active(self) -> bool:  # Flask-Login refuses sign-in for inactive users
        return self.active

    @property
    def is_support(self) -> bool:
        return self.role == ROLE_SUPPORT

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class EnablementRequest(Base):
    """An admin asking support to turn the integration on for their account."""

    __tablename__ = "enablement_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    message: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=REQUEST_PENDING)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)

    account: Mapped[Account] = relationship(back_populates="enablement_requests")
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])
    resolved_by: Mapped[User | None] = relationship(foreign_keys=[resolved_by_id])

    __table_args__ = (
        CheckConstraint(f"status IN ('{REQUEST_PENDING}', '{REQUEST_GRANTED}', '{REQUEST_DECLINED}')", name="status"),
        # At most one pending request per account: a second click cannot create a second one, even
        # when two clicks race.
        Index(
            "uq_enablement_requests_one_pending",
            "account_id",
            unique=True,
            sqlite_where=text(f"status = '{REQUEST_PENDING}'"),
            postgresql_where=text(f"status = '{REQUEST_PENDING}'"),
        ),
    )
