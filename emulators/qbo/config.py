"""Configuration of one QBO emulator instance."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass
class QboEmulatorConfig:
    """Everything an embedding test, benchmark or the CLI may tune.

    `state_path` None keeps all state in memory; a path keeps it in a SQLite file that survives
    restarts. `time_scale` makes the rate-limit windows run that many times faster (60 → a
    "minute" lasts one real second); token expiry follows the virtual clock instead, which the
    control API can advance.
    """

    state_path: str | None = None
    time_scale: float = 1.0

    # Intuit OAuth lifetimes, in seconds of virtual time (qbo-api.md §2.2-2.3).
    access_token_ttl: int = 3600
    refresh_token_ttl: int = 100 * 86400
    stale_refresh_grace: int = 86400
    auth_code_ttl: int = 300

    # Throttling (qbo-api.md §1.8).
    realm_requests_per_minute: int = 500
    app_requests_per_second: int = 10
    app_batch_requests_per_minute: int = 40
    realm_batch_requests_per_minute: int = 120
    batch_max_items: int = 30

    # Public URL of the emulator when it sits behind a proxy; None = the request's own host URL.
    base_url: str | None = None

    # Rate the US automated-sales-tax stand-in charges (see rules.US_AST_DEFAULT_RATE_PERCENT).
    us_sales_tax_rate_percent: Decimal | None = None

    # How long an injected "timeout" fault holds the response (POST /_emulator/faults can override).
    fault_timeout_seconds: float = 5.0
    # Seed for the fault-injection dice, so a chaos run can be replayed.
    fault_seed: int | None = None

    def window(self, seconds: float) -> float:
        """A rate-limit window length after applying `time_scale`."""
        return seconds / self.time_scale if self.time_scale > 0 else seconds
