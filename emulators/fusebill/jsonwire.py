"""JSON in and out with exact money: Decimal is written as a JSON number, and read back as Decimal.

The standard `json` module cannot write a Decimal as a number (Flask's provider writes a string),
and Fusebill sends money as numbers (fusebill-api.md §1.8), so responses are encoded here.
"""
from __future__ import annotations

import json
from decimal import Decimal
from json.encoder import encode_basestring  # the C-accelerated string escaper when available
from typing import Any, Callable


def dumps(value: Any) -> str:
    """Serialise dicts, lists, str, int, bool, None and Decimal (as a plain JSON number)."""
    parts: list[str] = []
    _encode(value, parts.append)
    return "".join(parts)


def _encode(value: Any, out: Callable[[str], Any]) -> None:
    if isinstance(value, str):
        out(encode_basestring(value))
    elif value is None:
        out("null")
    elif value is True:
        out("true")
    elif value is False:
        out("false")
    elif isinstance(value, Decimal):
        out(format(value, "f"))
    elif isinstance(value, int):
        out(str(value))
    elif isinstance(value, dict):
        out("{")
        first = True
        for key, item in value.items():
            if not first:
                out(",")
            first = False
            out(encode_basestring(str(key)))
            out(":")
            _encode(item, out)
        out("}")
    elif isinstance(value, (list, tuple)):
        out("[")
        for index, item in enumerate(value):
            if index:
                out(",")
            _encode(item, out)
        out("]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as Fusebill JSON")


def loads(text: str | bytes) -> Any:
    """Parse JSON with every non-integer number as Decimal (never float)."""
    return json.loads(text, parse_float=Decimal)
