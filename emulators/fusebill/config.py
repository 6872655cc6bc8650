"""Configuration of one Fusebill emulator instance."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from emulators.fusebill import rules


@dataclass(frozen=True)
class FusebillEmulatorConfig:
    """
    state_path:        None keeps everything in memory; a file path keeps accounts, records and
                       webhook registrations in SQLite there, so they survive a restart.
    time_scale:        divides rate-limit windows and webhook retry delays (60 = a "minute" is one
                       second). Webhook timeouts are not scaled.
    environment_name:  "staging", "production", ... — shown in the start-up banner and /_emulator/health.
    webhook_timeout_seconds: how long one webhook POST may take (Fusebill: 2 s).
    clock:             the emulator's "now" for record timestamps (modifiedTimestamp, default
                       effective dates, Due/Overdue); defaults to the UTC wall clock. Rate limits
                       always use the wall clock.
    propagate_modified: off (default) = a record's modifiedTimestamp changes only when that record
                       changes; on = the customer's also moves with any of its records, and a payment
                       activity's with its payment/refund (rules.DEFAULT_PROPAGATE_MODIFIED).
    max_page_index:    "last_index" (default) or "page_count": what X-MaxPageIndex means.
    rate_reset_format: "naive" (default), "offset" or "alternate": how X-Rate-Limit-Reset-* is written.
    The last three can also be changed at run time with POST /_emulator/settings.
    """

    state_path: str | None = None
    time_scale: float = 1.0
    environment_name: str = "staging"
    webhook_timeout_seconds: float = rules.WEBHOOK_TIMEOUT_SECONDS
    clock: Callable[[], datetime] | None = None
    propagate_modified: bool = rules.DEFAULT_PROPAGATE_MODIFIED
    max_page_index: str = rules.DEFAULT_MAX_PAGE_INDEX
    rate_reset_format: str = rules.DEFAULT_RATE_RESET_FORMAT

    def __post_init__(self) -> None:
        if self.time_scale <= 0:
            raise ValueError("time_scale must be positive")
        if self.webhook_timeout_seconds <= 0:
            raise ValueError("webhook_timeout_seconds must be positive")
        if self.max_page_index not in rules.MAX_PAGE_INDEX_MEANINGS:
            raise ValueError(f"max_page_index must be one of {', '.join(rules.MAX_PAGE_INDEX_MEANINGS)}")
        if self.rate_reset_format not in rules.RATE_RESET_FORMATS:
            raise ValueError(f"rate_reset_format must be one of {', '.join(rules.RATE_RESET_FORMATS)}")
