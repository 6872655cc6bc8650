"""Email notifications, one row per cause: the claim that makes "sent once per cause" true.

`cause_key` names what happened ("run:42:partial", "token-expiry:7:2026-03-01", "reconnect:7:…") and
is unique: whoever inserts the row owns the cause, so a second worker (or a second check) finds it
there and sends nothing. A row is inserted *before* anything is sent, in the same transaction as the
event it reports when there is one (a run ending), then claimed for sending by a conditional UPDATE
(pending/failed → sending), so two workers never both send it. A failed send stays `failed` with
its error and is retried by a later check; `unsent` means no mail server is configured.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import Base, UTCDateTime, utcnow

NOTIFY_PENDING = "pending"
NOTIFY_SENDING = "sending"
NOTIFY_SENT = "sent"
NOTIFY_FAILED = "failed"
NOTIFY_UNSENT = "unsent"  # no SMTP configured: recorded and logged, never retried
NOTIFY_STATUSES = (NOTIFY_PENDING, NOTIFY_SENDING, NOTIFY_SENT, NOTIFY_FAILED, NOTIFY_UNSENT)

KIND_RUN_FAILED = "run_failed"
KIND_RUN_PARTIAL = "run_partial"
KIND_TOKEN_EXPIRY = "token_expiry"
KIND_RECONNECT = "reconnect"


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cause_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=NOTIFY_PENDING, server_default=NOTIFY_PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        UniqueConstraint("cause_key", name="uq_notifications_cause_key"),
        CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed', 'unsent')", name="status"),
        Index("ix_notifications_status_next", "status", "next_attempt_at"),
        Index("ix_notifications_environment_created", "environment_id", "created_at"),
    )
