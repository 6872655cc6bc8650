"""Limits and timings of the Fusebill API the emulator enforces, with their provenance.

[V] verified in fusebill-api.md, [U] unverified (a choice; change it here). The other unverified
choices each sit in one place, marked [U] there:

* every JSON shape, header, error text, enum and webhook detail — `shapes.py`;
* filter semantics (case-insensitive matching, a bare date = that day, unknown field = 400) — the
  `query.py` docstring;
* what Fusebill refuses (over-allocation, over-refund, reversal beyond the balance...) — the
  `ledger.py` docstring;
* how tax is rounded and reversed — `emulators/sampledata/taxes.py`.
"""
from __future__ import annotations

from dataclasses import dataclass

# --- paging (§1.3) -----------------------------------------------------------------------------
# "never below 1,000" is the documented floor of the maximum [V]; exactly 1,000 is [U]. The default
# page size when `pageSize` is absent is undocumented [U]: 20 (the docs' examples use 20 and 100),
# small enough that a client which forgets to page is caught by the tests.
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 20
# A pageSize above the maximum, below 1, or a negative pageNumber is a 400 [U] (not clamped), so a
# client bug is loud. A page past the end is an empty list with the paging headers [U].


# --- rate limits (§1.6 [V]) ------------------------------------------------------------------


@dataclass(frozen=True)
class RateLimits:
    per_minute: int
    per_day: int


RATE_LIMITS = {
    "live": RateLimits(per_minute=1_000, per_day=180_000),
    "sandbox": RateLimits(per_minute=50, per_day=5_000),
    "testdrive": RateLimits(per_minute=10, per_day=500),
}
# Windows are fixed (the minute and the UTC day a request falls in) [U]; the docs give a reset
# timestamp per window, which fixed windows produce naturally. Requests refused with 429 do not
# count against the limit [U]; requests answered with an injected 5xx do.
MINUTE_SECONDS = 60
DAY_SECONDS = 86_400


# --- webhooks (§4 [V]) -------------------------------------------------------------------------
WEBHOOK_TIMEOUT_SECONDS = 2.0
# "retries will be sent 1-minute, 2-minutes, and 3-minutes after the original failure" [V]:
# offsets from the first failed attempt, not from each other.
WEBHOOK_RETRY_OFFSETS_SECONDS = (60, 120, 180)
# How many delivery records the emulator keeps per account for /_emulator/webhooks (memory bound).
WEBHOOK_DELIVERY_LOG_SIZE = 2_000
