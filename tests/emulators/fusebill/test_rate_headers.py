"""Issue #7, rule 14: rate-limit headers (reset timestamps with and without a UTC offset, never a
Retry-After), the documented per-account limits, and both meanings of X-MaxPageIndex."""
from __future__ import annotations

import re
import time
from datetime import datetime, timezone

import pytest

from emulators.fusebill import FusebillEmulatorConfig, rules
from emulators.fusebill.ratelimit import RateLimiter
from emulators.fusebill.testing import running_emulator

NAIVE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")
OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")
RESETS = ("X-Rate-Limit-Reset-Minute", "X-Rate-Limit-Reset-Day")


def _as_utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def test_reset_headers_default_to_timestamps_without_offset(fusebill):
    key = fusebill.create_account("live")
    headers = fusebill.get(key, "/customers").headers
    for name in RESETS:
        assert NAIVE.match(headers[name]), headers[name]
        assert _as_utc(headers[name]) > datetime.now(timezone.utc)


def test_reset_headers_can_carry_a_utc_offset():
    with running_emulator(FusebillEmulatorConfig(rate_reset_format="offset")) as fusebill:
        key = fusebill.create_account("live")
        headers = fusebill.get(key, "/customers").headers
        for name in RESETS:
            assert OFFSET.match(headers[name]), headers[name]
            assert _as_utc(headers[name]) > datetime.now(timezone.utc)


def test_alternating_reset_formats_make_a_client_parse_both():
    with running_emulator() as fusebill:
        key = fusebill.create_account("live")
        assert fusebill.settings(rate_reset_format="alternate")["rate_reset_format"] == "alternate"
        answers = [fusebill.get(key, "/customers").headers["X-Rate-Limit-Reset-Minute"] for _ in range(4)]
        kinds = ["naive" if NAIVE.match(a) else "offset" if OFFSET.match(a) else a for a in answers]
        assert kinds in (["naive", "offset"] * 2, ["offset", "naive"] * 2)
        assert len({_as_utc(a) for a in answers}) <= 2  # the same instant, written two ways (unless a window rolled)
        bad = fusebill.session.post(f"{fusebill.control_url}/settings", json={"rate_reset_format": "epoch"}, timeout=10)
        assert bad.status_code == 400


def test_no_retry_after_header_on_success_or_on_429(fusebill):
    key = fusebill.create_account("sandbox", rate_limits={"per_minute": 1, "per_day": 100})
    ok = fusebill.get(key, "/customers")
    refused = fusebill.get(key, "/customers")
    assert (ok.status_code, refused.status_code) == (200, 429)
    for response in (ok, refused):
        assert "Retry-After" not in response.headers
        assert all(name in response.headers for name in RESETS)
    assert not rules.SEND_RETRY_AFTER


def test_a_sandbox_account_gets_50_requests_a_minute_and_the_51st_is_429():
    with running_emulator() as fusebill:
        for _attempt in range(3):  # retried only if the burst straddled a minute boundary
            key = fusebill.create_account("sandbox")
            answers = [fusebill.get(key, "/customers", pageSize=1) for _ in range(51)]
            if answers[0].headers["X-Rate-Limit-Reset-Minute"] != answers[-1].headers["X-Rate-Limit-Reset-Minute"]:
                continue
            assert [a.status_code for a in answers] == [200] * 50 + [429]
            assert answers[-1].headers["X-Rate-Limit-Limit-Minute"] == "50"
            assert answers[-1].headers["X-Rate-Limit-Remaining-Day"] == "4950"
            assert "minute" in answers[-1].json()["Errors"][0]["Value"]
            return
        pytest.fail("every burst straddled a minute boundary")


def test_the_documented_limits_per_account_type():
    assert {name: (l.per_minute, l.per_day) for name, l in rules.RATE_LIMITS.items()} == {
        "live": (1_000, 180_000), "sandbox": (50, 5_000), "testdrive": (10, 500)}


def test_the_sandbox_day_budget_of_5000_is_enforced_across_minutes():
    """Driven through the limiter with a fake clock: 5,000 requests over 100 minutes, then 429 'day'."""
    now = [1_000_000_000.0 - (1_000_000_000.0 % 86_400)]  # the start of a UTC day
    limiter = RateLimiter(clock=lambda: now[0])
    sandbox = rules.RATE_LIMITS["sandbox"]
    for minute in range(100):
        now[0] += 60 if minute else 0
        decisions = [limiter.check("k", sandbox) for _ in range(51)]
        assert [d.allowed for d in decisions] == [True] * 50 + [False]
        assert decisions[-1].exceeded == ("minute" if minute < 99 else "day")  # the 5,000th used up the day
    now[0] += 60
    refused = limiter.check("k", sandbox)
    assert (refused.allowed, refused.exceeded, refused.headers["X-Rate-Limit-Remaining-Day"]) == (False, "day", "0")
    now[0] += 86_400
    assert limiter.check("k", sandbox).allowed  # a new UTC day


# --- X-MaxPageIndex --------------------------------------------------------------------------


def _robust_pages(fusebill, key, path, size):
    """A client that relies on no meaning of X-MaxPageIndex: stop on a page shorter than pageSize."""
    items, page = [], 0
    while True:
        rows = fusebill.get(key, path, pageSize=size, pageNumber=page).json()
        items += rows
        if len(rows) < size:
            return items, page + 1
        page += 1


@pytest.mark.parametrize("meaning, expected", [("last_index", {25: "2", 20: "2", 60: "0", 100: "0"}),
                                               ("page_count", {25: "3", 20: "3", 60: "1", 100: "1"})])
def test_max_page_index_means_last_index_or_page_count(seeded, meaning, expected):
    from tests.emulators.fusebill.conftest import SEEDED_CUSTOMERS, SEEDED_SEED

    with running_emulator(FusebillEmulatorConfig(max_page_index=meaning)) as fusebill:
        key = fusebill.create_account("live")
        fusebill.seed(key, SEEDED_CUSTOMERS, SEEDED_SEED)  # 60 customers
        for size, value in expected.items():
            assert fusebill.get(key, "/customers", pageSize=size).headers["X-MaxPageIndex"] == value, size
        empty = fusebill.get(key, "/customers", query="companyName:No such company")
        assert empty.headers["X-MaxPageIndex"] == "0" and empty.json() == []
        for size in (7, 20, 60):
            items, requests_made = _robust_pages(fusebill, key, "/customers", size)
            assert len({c["id"] for c in items}) == 60, (meaning, size)
            assert requests_made == 60 // size + 1


def test_the_max_page_index_meaning_can_be_switched_at_run_time(fusebill, seeded):
    try:
        assert fusebill.get(seeded.key, "/customers", pageSize=25).headers["X-MaxPageIndex"] == "2"
        fusebill.settings(max_page_index="page_count")
        assert fusebill.get(seeded.key, "/customers", pageSize=25).headers["X-MaxPageIndex"] == "3"
        headers = fusebill.get(seeded.key, "/customers", pageSize=25, pageNumber=2).headers
        assert (headers["X-NextPage"], headers["X-CurrentPage"]) == ("-1", "2")  # the other headers keep their meaning
    finally:
        fusebill.settings(max_page_index="last_index")
    bad = fusebill.session.post(f"{fusebill.control_url}/settings", json={"max_page_index": "pages"}, timeout=10)
    assert bad.status_code == 400
