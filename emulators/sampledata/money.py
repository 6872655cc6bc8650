"""Money and time helpers shared by the generator, the oracle and the Fusebill emulator.

Money is always `decimal.Decimal`, rounded half-up to the currency's minor unit (the project's
rule); never `float`. Times are naive `datetime` values meaning UTC, at whole seconds, which is how
Fusebill prints them ("2019-08-10T10:40:32", no offset: fusebill-api.md §1.8).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal("0")

# ISO 4217 minor units of the currencies the generator and emulator know. JPY is here so that a
# zero-decimal currency can be generated on request (GeneratorOptions.currency_weights); the
# default mix uses the four the product's users bill in.
MINOR_UNITS: dict[str, int] = {"USD": 2, "CAD": 2, "EUR": 2, "GBP": 2, "AUD": 2, "JPY": 0}

_QUANTUM_BY_CURRENCY = {code: Decimal(1).scaleb(-digits) for code, digits in MINOR_UNITS.items()}


class UnknownCurrency(ValueError):
    """The currency code is not one the sample data or the emulator supports."""


def quantum(currency: str) -> Decimal:
    """The smallest amount of `currency` (0.01 for USD, 1 for JPY)."""
    try:
        return _QUANTUM_BY_CURRENCY[currency]
    except KeyError:
        raise UnknownCurrency(f"unsupported currency {currency!r}") from None


def round_money(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded half-up to the minor unit of `currency` (0.005 USD -> 0.01)."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def is_whole_minor_units(amount: Decimal, currency: str) -> bool:
    """True when `amount` needs no rounding in `currency` (e.g. 1.25 USD yes, 1.255 USD no)."""
    return amount == amount.quantize(quantum(currency))


def format_timestamp(moment: datetime) -> str:
    """Fusebill's wire form: ISO 8601 at whole seconds, UTC, no offset."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def parse_timestamp(text: str) -> datetime:
    """Parse what Fusebill and its clients write: a bare date, or a date-time with optional
    fraction and optional `Z`/offset. The result is naive UTC (an offset is converted)."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def utc_now() -> datetime:
    """The current UTC time, naive, truncated to whole seconds (Fusebill's resolution)."""
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def whole_seconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


ONE_DAY = timedelta(days=1)
