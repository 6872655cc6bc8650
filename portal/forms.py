"""Form pieces shared by the blueprints."""
from __future__ import annotations

from wtforms import ValidationError


class Stripped:
    """Strip surrounding white space before validation, so "   " counts as empty."""

    def __call__(self, value):  # type: ignore[no-untyped-def]
        return value.strip() if isinstance(value, str) else value


strip = Stripped()


def no_control_characters(form, field):  # type: ignore[no-untyped-def]
    """Reject text with control characters (a pasted NUL or escape sequence is never intended)."""
    if isinstance(field.data, str) and any(ord(ch) < 32 and ch not in "\t\r\n" for ch in field.data):
        raise ValidationError("This field contains characters that are not allowed.")
