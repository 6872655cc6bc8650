"""Throttling, injected faults, the clock and the control API."""
import threading
import time

import pytest
import requests

from emulators.qbo import QboEmulatorConfig
from emulators.qbo.limits import RateLimiter
from emulators.qbo.money import loads
from emulators.qbo.testing import EmulatorControlError, running_emulator
from tests.emulators.qbo.conftest import Api, make_api


class FakeMonotonic:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_limiter_windows_and_time_scale():
    clock = FakeMonotonic()
    limiter = RateLimiter(QboEmulatorConfig(), monotonic=clock)
    assert all(limiter.admit("r", "app") for _ in range(10))
    assert not limiter.admit("r", "app")  # 10 per second per realm + app
    assert limiter.admit("r", "other-app")  # another app has its own per-second budget
    clock.now += 1.0
    assert limiter.admit("r", "app")

    scaled = RateLimiter(QboEmulatorConfig(time_scale=60, app_requests_per_second=1000), monotonic=clock)
    assert sum(scaled.admit("r", f"app{n % 7}") for n in range(600)) == 500  # 500 per "minute" per realm
    clock.now += 1.0  # one real second is a minute at time_scale 60
    assert scaled.admit("r", "app0")


def test_batch_limits():
    clock = FakeMonotonic()
    limiter = RateLimiter(QboEmulatorConfig(app_requests_per_second=1000), monotonic=clock)
    assert sum(limiter.admit("r", "app", is_batch=True) for _ in range(50)) == 40  # 40/min per realm + app
    assert sum(limiter.admit("r", f"other{n}", is_batch=True) for n in range(100)) == 80  # 120/min per realm


def test_throttled_requests_get_the_xml_body_and_are_counted():
    with running_emulator(QboEmulatorConfig(app_requests_per_second=3)) as emulator:
        realm_id = emulator.create_company()
        token = emulator.tokens(realm_id)["access_token"]
        api = Api(emulator, realm_id, token)
        statuses = [api.get(f"companyinfo/{realm_id}").status_code for _ in range(5)]
        assert statuses.count(429) >= 1
        throttled = next(r for r in (api.get(f"companyinfo/{realm_id}") for _ in range(3)) if r.status_code == 429)
        assert throttled.text.startswith('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>')
        assert "<Detail>The request limit was reached.  Try again later</Detail>" in throttled.text
        assert 'Error code="3001"' in throttled.text
        assert emulator.request_counts(realm_id)["throttled"] >= 2


def test_error_rate_answers_system_fault_without_writing(emulator):
    api = make_api(emulator)
    emulator.set_faults(error_rate=1.0)
    response = api.post("customer", {"DisplayName": "Never"})
    assert response.status_code == 500
    error = loads(response.text)["Fault"]
    assert error["type"] == "SystemFault" and error["Error"][0]["code"] == "10000"
    emulator.set_faults()
    assert api.query("select * from Customer where DisplayName = 'Never'") == {}


def test_timeouts_after_the_write_are_replayable(emulator):
    api = make_api(emulator)
    emulator.set_faults(timeout_rate=1.0, timeout_after_write=1.0, timeout_seconds=2)
    with pytest.raises(requests.exceptions.Timeout):
        requests.post(f"{api.base}/customer", params={"requestid": "slow-1", "minorversion": "75"},
                      json={"DisplayName": "Slow Co"}, headers={"Authorization": f"Bearer {api.token}"}, timeout=0.5)
    emulator.set_faults()
    replay = api.post("customer", {"DisplayName": "Slow Co"}, requestid="slow-1")
    assert replay.status_code == 200
    assert api.query("select count(*) from Customer where DisplayName = 'Slow Co'") == {"totalCount": 1}


def test_timeouts_before_the_write_write_nothing(emulator):
    api = make_api(emulator)
    emulator.set_faults(timeout_rate=1.0, timeout_after_write=0.0, timeout_seconds=1)
    with pytest.raises(requests.exceptions.Timeout):
        requests.post(f"{api.base}/customer", json={"DisplayName": "Lost Co"},
                      headers={"Authorization": f"Bearer {api.token}"}, timeout=0.3)
    time.sleep(1.0)
    emulator.set_faults()
    assert api.query("select count(*) from Customer where DisplayName = 'Lost Co'") == {"totalCount": 0}


def test_latency_is_added(emulator):
    api = make_api(emulator)
    emulator.set_faults(latency_ms=150)
    started = time.monotonic()
    api.get(f"companyinfo/{api.realm_id}")
    assert time.monotonic() - started >= 0.15


def test_request_counters_by_kind(emulator):
    api = make_api(emulator)
    api.customer("Counted")
    api.get(f"companyinfo/{api.realm_id}")
    api.query("select * from Customer")
    api.post("batch", {"BatchItemRequest": [{"bId": "1", "Query": "select * from Item"}]})
    counts = emulator.request_counts(api.realm_id)
    assert (counts["write"], counts["read"], counts["query"], counts["batch"], counts["total"]) == (1, 1, 1, 1, 4)


def test_control_api_validates_input(fresh_emulator):
    with pytest.raises(EmulatorControlError):
        fresh_emulator.control("companies", {"country": "US"})
    with pytest.raises(EmulatorControlError):
        fresh_emulator.create_company("Bad", tax="codes", country="US")
    with pytest.raises(EmulatorControlError):
        fresh_emulator.set_faults(error_rate=2)
    with pytest.raises(EmulatorControlError):
        fresh_emulator.control("clock", {"advance_seconds": -5})
    realm_id = fresh_emulator.create_company("Listed", country="AU", tax="codes")
    listed = fresh_emulator.control("companies", method="GET")["companies"]
    assert listed == [{"realmId": realm_id, "name": "Listed", "settings": listed[0]["settings"]}]
    assert listed[0]["settings"]["home_currency"] == "AUD" and len(realm_id) == 19 and realm_id.isdigit()
    fresh_emulator.reset()
    assert fresh_emulator.control("companies", method="GET")["companies"] == []


def test_concurrent_writes_stay_consistent(emulator):
    api = make_api(emulator)
    customer, item = api.customer("Busy Co"), api.item("Busy item")
    errors = []

    def worker(n: int) -> None:
        try:
            api.invoice(customer, item, "1.00")
        except AssertionError as exc:  # collected, re-raised below in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    rows = api.query(f"select * from Invoice where CustomerRef = '{customer['Id']}' maxresults 100")["Invoice"]
    assert len({row["DocNumber"] for row in rows}) == 20
    assert str(api.balance(customer)) == "20.00"
