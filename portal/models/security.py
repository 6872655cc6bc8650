"""Counters that slow down repeated failed sign-ins."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import Base, UTCDateTime


class SignInThrottle(Base):
    """Failures for one key: `email+ip:<sha256 of the address typed and the client address>` or
    `ip:<client address>` (see portal.services.signin for the bounds of each).

    Keyed by a hash of whatever address was typed, existing or not, so the throttle behaves the same
    for unknown addresses and does not reveal which ones exist.
    """

    __tablename__ = "sign_in_throttles"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
