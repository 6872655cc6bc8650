"""Money, currencies and the JSON wire format.

Amounts are `Decimal` everywhere, rounded half-up to the currency's minor unit. QBO writes amounts as
JSON *numbers* (`"TotalAmt": 100.00`), which the standard `json` module cannot do for `Decimal`, so this
module carries a small encoder of its own. The same encoder writes the state file: there, integral
decimals get an `E0` exponent so that `json.loads(..., parse_float=Decimal)` gives back a `Decimal`,
not an `int` (exact round trip).
"""
from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from json.encoder import encode_basestring

# ISO 4217 minor units for the currencies whose minor unit is not 2.
_MINOR_UNITS = {"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "VND": 0, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3}

# Names QBO prints in CurrencyRef.name (qbo-response-examples §2.1 shows "United States Dollar").
CURRENCY_NAMES = {
    "USD": "United States Dollar",
    "CAD": "Canadian Dollar",
    "GBP": "British Pound Sterling",
    "EUR": "Euro",
    "AUD": "Australian Dollar",
    "NZD": "New Zealand Dollar",
    "CHF": "Swiss Franc",
    "JPY": "Japanese Yen",
    "INR": "Indian Rupee",
    "MXN": "Mexican Peso",
    "SEK": "Swedish Krona",
    "NOK": "Norwegian Krone",
    "DKK": "Danish Krone",
    "ZAR": "South African Rand",
    "SGD": "Singapore Dollar",
    "HKD": "Hong Kong Dollar",
    "CNY": "Chinese Yuan Renminbi",
    "BRL": "Brazilian Real",
    "PLN": "Polish Zloty",
}

ZERO = Decimal("0")


def minor_unit(currency: str) -> int:
    return _MINOR_UNITS.get(currency, 2)


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_unit(currency))


def round_money(amount: Decimal | int, currency: str) -> Decimal:
    """Round half-up to the currency's minor unit (100 → 100.00 for USD)."""
    return Decimal(amount).quantize(quantum(currency), rounding=ROUND_HALF_UP)


def to_decimal(value: object) -> Decimal | None:
    """A JSON scalar as Decimal; None for absent or empty values (python-quickbooks sends "" a lot).

    Raises ValueError for anything that is not a number.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, float):  # only reachable through internal callers; the wire parses to Decimal
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            parsed = Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError(f"not a number: {value!r}") from exc
        if not parsed.is_finite():
            raise ValueError(f"not a number: {value!r}")
        return parsed
    raise ValueError(f"not a number: {value!r}")


def _decimal_text(value: Decimal, persist: bool) -> str:
    if persist:
        text = str(value)
        return text if ("." in text or "E" in text or "e" in text) else text + "E0"
    if value == 0:
        value = abs(value)  # never print -0.00
    return format(value, "f")


def dumps(obj: object, persist: bool = False) -> str:
    """Compact JSON text; `Decimal` becomes a JSON number keeping its scale (100.00)."""
    parts: list[str] = []
    _encode(obj, parts, persist)
    return "".join(parts)


def _encode(obj: object, out: list[str], persist: bool) -> None:
    if isinstance(obj, str):
        out.append(encode_basestring(obj))
    elif obj is None:
        out.append("null")
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif isinstance(obj, int):
        out.append(str(obj))
    elif isinstance(obj, Decimal):
        out.append(_decimal_text(obj, persist))
    elif isinstance(obj, dict):
        out.append("{")
        first = True
        for key, value in obj.items():
            if not first:
                out.append(",")
            first = False
            out.append(encode_basestring(str(key)))
            out.append(":")
            _encode(value, out, persist)
        out.append("}")
    elif isinstance(obj, (list, tuple)):
        out.append("[")
        for index, value in enumerate(obj):
            if index:
                out.append(",")
            _encode(value, out, persist)
        out.append("]")
    elif isinstance(obj, float):
        out.append(json.dumps(obj))
    else:
        raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


def loads(text: str | bytes) -> object:
    """Parse JSON the way the emulator stores money: non-integers (and E-notation) as Decimal."""
    return json.loads(text, parse_float=Decimal)
