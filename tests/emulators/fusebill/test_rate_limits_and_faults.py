"""Per-key rate limits with Fusebill's headers, 429 bodies, injected faults, and request counts."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from emulators.fusebill import FusebillEmulatorConfig
from emulators.fusebill.testing import running_emulator


def _utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def test_every_answer_carries_the_rate_limit_headers(fusebill):
    key = fusebill.create_account("sandbox")
    first = fusebill.get(key, "/customers")
    second = fusebill.get(key, "/customers/1")  # a 404 counts and carries them too
    assert second.status_code == 404
    assert first.headers["X-Rate-Limit-Limit-Minute"] == "50" and first.headers["X-Rate-Limit-Limit-Day"] == "5000"
    assert first.headers["X-Rate-Limit-Remaining-Minute"] == "49" and second.headers["X-Rate-Limit-Remaining-Minute"] == "48"
    assert second.headers["X-Rate-Limit-Remaining-Day"] == "4998"
    for name in ("X-Rate-Limit-Reset-Minute", "X-Rate-Limit-Reset-Day"):
        reset = datetime.fromisoformat(first.headers[name])
        assert reset.tzinfo is None and reset > _utc_now()


def test_live_accounts_get_the_live_limits(fusebill):
    key = fusebill.create_account("live")
    headers = fusebill.get(key, "/customers").headers
    assert (headers["X-Rate-Limit-Limit-Minute"], headers["X-Rate-Limit-Limit-Day"]) == ("1000", "180000")


def test_exceeding_the_minute_limit_is_429_until_the_window_resets():
    # time_scale 60: a "minute" lasts one second.
    with running_emulator(FusebillEmulatorConfig(time_scale=60)) as fusebill:
        key = fusebill.create_account("sandbox", rate_limits={"per_minute": 5, "per_day": 1000})
        # Start at the beginning of a window so all five fit in it.
        window = 60 / 60
        time.sleep(window - (time.time() % window) + 0.01)
        answers = [fusebill.get(key, "/customers") for _ in range(6)]
        assert [a.status_code for a in answers] == [200] * 5 + [429]
        refused = answers[-1]
        body = refused.json()
        assert body["HttpStatusCode"] == 429 and "minute" in body["Errors"][0]["Value"]
        assert refused.headers["X-Rate-Limit-Remaining-Minute"] == "0"
        reset = datetime.fromisoformat(refused.headers["X-Rate-Limit-Reset-Minute"])
        time.sleep(max(0.0, (reset - _utc_now()).total_seconds()) + 0.05)
        assert fusebill.get(key, "/customers").status_code == 200
        counts = fusebill.request_counts(key)
        assert counts["rate_limited"] == 1 and counts["by_status"]["200"] == 6


def test_the_day_limit_names_itself(fusebill):
    key = fusebill.create_account("testdrive", rate_limits={"per_minute": 100, "per_day": 2})
    statuses = [fusebill.get(key, "/customers").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    refused = fusebill.get(key, "/customers")
    assert "day" in refused.json()["Errors"][0]["Value"] and refused.headers["X-Rate-Limit-Remaining-Day"] == "0"


def test_limits_are_per_key(fusebill):
    tight = fusebill.create_account("sandbox", rate_limits={"per_minute": 1, "per_day": 10})
    other = fusebill.create_account("sandbox", rate_limits={"per_minute": 1, "per_day": 10})
    assert fusebill.get(tight, "/customers").status_code == 200
    assert fusebill.get(tight, "/customers").status_code == 429
    assert fusebill.get(other, "/customers").status_code == 200


def test_request_counts_by_route(fusebill, seeded):
    key = fusebill.create_account("live")
    fusebill.get(key, "/customers")
    fusebill.get(key, "/Invoices")
    fusebill.get(key, "/invoices")
    fusebill.get(key, "/Invoices/1")
    counts = fusebill.request_counts(key)
    assert counts["total"] == 4
    assert counts["by_route"] == {"list_customers": 1, "list_invoices": 2, "read_invoice": 1}
    assert counts["by_status"] == {"200": 3, "404": 1}


def test_injected_errors_and_latency():
    with running_emulator() as fusebill:
        key = fusebill.create_account("live")
        fusebill.set_faults(error_rate=1.0, status=502)
        response = fusebill.get(key, "/customers")
        assert response.status_code == 502 and response.json()["HttpStatusCode"] == 502
        assert "X-Rate-Limit-Remaining-Minute" in response.headers
        fusebill.set_faults(error_rate=0.5, seed=3)
        statuses = [fusebill.get(key, "/customers").status_code for _ in range(40)]
        assert 5 < statuses.count(503) < 35 and statuses.count(200) + statuses.count(503) == 40
        fusebill.set_faults(latency_ms=150)
        started = time.perf_counter()
        assert fusebill.get(key, "/customers").status_code == 200
        assert time.perf_counter() - started >= 0.15
        fusebill.set_faults()
        assert fusebill.get(key, "/customers").status_code == 200


def test_faults_can_target_one_account():
    with running_emulator() as fusebill:
        broken = fusebill.create_account("live")
        healthy = fusebill.create_account("live")
        fusebill.set_faults(error_rate=1.0, api_key=broken)
        assert fusebill.get(broken, "/customers").status_code == 503
        assert fusebill.get(healthy, "/customers").status_code == 200


@pytest.mark.parametrize("body", [{"error_rate": 2}, {"latency_ms": -1}, {"status": 404}])
def test_bad_fault_settings_are_refused(fusebill, body):
    response = fusebill.session.post(f"{fusebill.control_url}/faults", json=body, timeout=10)
    assert response.status_code == 400
