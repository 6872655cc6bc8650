"""The emulator's virtual clock and QBO's timestamp formats.

Every expiry (tokens, codes) and every date QBO fills in (TxnDate, MetaData) uses `VirtualClock.now()`:
real UTC time plus an offset the control API can advance, so a test can jump 24 hours or 101 days.

QBO prints times in the company server's Pacific zone (`-07:00` in summer, `-08:00` in winter;
qbo-response-examples §1). The US daylight-saving rule is applied here directly so the emulator does
not depend on the host's time-zone database.
"""
from __future__ import annotations

import threading
from functools import lru_cache
from datetime import date, datetime, timedelta, timezone

_PST = timedelta(hours=-8)
_PDT = timedelta(hours=-7)


class VirtualClock:
    """UTC now plus an adjustable offset (thread-safe)."""

    def __init__(self, offset_seconds: float = 0.0):
        self._offset = timedelta(seconds=offset_seconds)
        self._lock = threading.Lock()

    @property
    def offset_seconds(self) -> float:
        return self._offset.total_seconds()

    def now(self) -> datetime:
        with self._lock:
            offset = self._offset
        return datetime.now(timezone.utc) + offset

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()

    def set_offset(self, seconds: float) -> None:
        with self._lock:
            self._offset = timedelta(seconds=seconds)


def _nth_sunday(year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    first_sunday = first + timedelta(days=(6 - first.weekday()) % 7)
    return first_sunday + timedelta(weeks=n - 1)


@lru_cache(maxsize=64)
def _daylight_saving(year: int) -> tuple[datetime, datetime]:
    # DST runs from 02:00 PST on the second Sunday of March (10:00 UTC)
    # to 02:00 PDT on the first Sunday of November (09:00 UTC).
    start = datetime.combine(_nth_sunday(year, 3, 2), datetime.min.time(), timezone.utc) + timedelta(hours=10)
    end = datetime.combine(_nth_sunday(year, 11, 1), datetime.min.time(), timezone.utc) + timedelta(hours=9)
    return start, end


def pacific_offset(moment: datetime) -> timedelta:
    """UTC offset of US Pacific time at `moment` (aware datetime)."""
    utc = moment.astimezone(timezone.utc)
    start, end = _daylight_saving(utc.year)
    return _PDT if start <= utc < end else _PST


def to_pacific(moment: datetime) -> datetime:
    offset = pacific_offset(moment)
    return moment.astimezone(timezone(offset))


def pacific_date(moment: datetime) -> date:
    """The calendar date on QBO's servers at `moment` (what "today" means for TxnDate)."""
    return to_pacific(moment).date()


def meta_timestamp(moment: datetime) -> str:
    """MetaData format: seconds precision with offset, e.g. 2020-09-29T05:58:16-07:00."""
    return to_pacific(moment).replace(microsecond=0).isoformat()


def response_time(moment: datetime) -> str:
    """The `time` key of a response: milliseconds and offset, e.g. 2020-09-29T05:58:16.187-07:00."""
    return to_pacific(moment).isoformat(timespec="milliseconds")


def epoch_millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def parse_timestamp(text: str) -> datetime | None:
    """Parse a QBO date or date-time literal to an aware UTC datetime (dates: Pacific midnight)."""
    value = text.strip()
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            midnight = datetime.combine(day, datetime.min.time(), timezone.utc)
            return midnight - pacific_offset(midnight + timedelta(hours=12))
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone(pacific_offset(parsed.replace(tzinfo=timezone.utc))))
    return parsed.astimezone(timezone.utc)
