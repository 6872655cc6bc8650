"""Characters QBO refuses in names (2040) and e-mail addresses that are not RFC 822 addr-specs (2210).

Both checks look at the request body only (what the client sends), before any business rule; see
rules.INVALID_NAME_CHARS_FAULT, rules.NAME_FIELDS_CHECKED and rules.INVALID_EMAIL_FAULT.
"""
from __future__ import annotations

import re
import unicodedata

from .. import faults, rules

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_ADDR_SPEC = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+")


def check_name_characters(entity: str, body: dict) -> None:
    """2040 for a control character in any checked name field, or a colon in the entity's main name."""
    for position, key in enumerate(rules.NAME_FIELDS_CHECKED.get(entity, ())):
        value = body.get(key)
        if isinstance(value, str) and (_has_control(value) or (position == 0 and ":" in value)):
            raise faults.from_rule(rules.INVALID_NAME_CHARS_FAULT, element=key, value=value)


def check_emails(body: dict) -> None:
    """2210 for an e-mail field whose Address is not blank and not a single plain addr-spec."""
    for key in rules.EMAIL_FIELDS:
        holder = body.get(key)
        address = holder.get("Address") if isinstance(holder, dict) else None
        if address in (None, ""):
            continue
        if not isinstance(address, str) or not _ADDR_SPEC.fullmatch(address):
            raise faults.from_rule(rules.INVALID_EMAIL_FAULT, element=f"{key}.Address", value=address)


def _has_control(value: str) -> bool:
    return any(unicodedata.category(char) == "Cc" for char in value)
