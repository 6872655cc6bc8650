"""Timestamps in QBO's Pacific format, the virtual clock, and the JSON number encoding."""
from datetime import datetime, timezone
from decimal import Decimal

from emulators.qbo.clock import VirtualClock, meta_timestamp, pacific_date, response_time
from emulators.qbo.money import dumps, loads, round_money


def test_pacific_offset_follows_us_daylight_saving():
    summer = datetime(2020, 9, 29, 12, 58, 16, 187000, tzinfo=timezone.utc)
    winter = datetime(2021, 1, 15, 12, 0, 0, tzinfo=timezone.utc)
    assert meta_timestamp(summer) == "2020-09-29T05:58:16-07:00"
    assert response_time(summer) == "2020-09-29T05:58:16.187-07:00"
    assert meta_timestamp(winter) == "2021-01-15T04:00:00-08:00"
    # DST starts 2024-03-10 at 10:00 UTC and ends 2024-11-03 at 09:00 UTC.
    assert meta_timestamp(datetime(2024, 3, 10, 9, 59, tzinfo=timezone.utc)).endswith("-08:00")
    assert meta_timestamp(datetime(2024, 3, 10, 10, 0, tzinfo=timezone.utc)).endswith("-07:00")
    assert meta_timestamp(datetime(2024, 11, 3, 8, 59, tzinfo=timezone.utc)).endswith("-07:00")
    assert meta_timestamp(datetime(2024, 11, 3, 9, 0, tzinfo=timezone.utc)).endswith("-08:00")


def test_server_date_is_the_pacific_date():
    assert pacific_date(datetime(2024, 1, 2, 5, 0, tzinfo=timezone.utc)).isoformat() == "2024-01-01"


def test_virtual_clock_advances():
    clock = VirtualClock()
    before = clock.now()
    clock.advance(86400 * 101)
    assert (clock.now() - before).days == 101


def test_amounts_are_json_numbers_with_their_scale():
    text = dumps({"TotalAmt": round_money(Decimal("100"), "USD"), "Qty": Decimal("4.5"), "Balance": 0, "Neg": round_money(Decimal("-0.001"), "USD")})
    assert text == '{"TotalAmt":100.00,"Qty":4.5,"Balance":0,"Neg":0.00}'


def test_persisted_decimals_round_trip_exactly():
    value = {"a": Decimal("75"), "b": Decimal("0.00"), "c": Decimal("1E+1"), "d": 3}
    again = loads(dumps(value, persist=True))
    assert again == value
    assert all(isinstance(again[key], Decimal) for key in "abc") and isinstance(again["d"], int)
    assert str(again["b"]) == "0.00"


def test_rounding_is_half_up_to_the_minor_unit():
    assert round_money(Decimal("2.675"), "USD") == Decimal("2.68")
    assert round_money(Decimal("2.5"), "JPY") == Decimal("3")
