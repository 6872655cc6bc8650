"""Form pieces shared by the blueprints."""
from __future__ import annotations

from datetime import date

from wtforms import ValidationError


class Stripped:
    """Strip surrounding white space before validation, so "   " counts as empty."""

    def __call__(self, value):
        return value.strip() if isinstance(value, str) else value


strip = Stripped()


def no_control_characters(form, field):
    """Reject text with control characters (a pasted NUL or escape sequence is never intended)."""
    if isinstance(field.data, str) and any(ord(ch) < 32 and ch not in "\t\r\n" for ch in field.data):
        raise ValidationError("This field contains characters that are not allowed.")


def date_of(field) -> date | None:
    """A `YYYY-MM-DD` filter field as a date (None when empty); a clear error otherwise."""
    if not field.data:
        return None
    try:
        return date.fromisoformat(field.data)
    except ValueError:
        raise ValidationError("Use a date like 2024-05-31.") from None


def check_date_range(start_field, end_field) -> None:
    """Validate the end of a from/to pair: a date, not before the start (the start's own error is its own)."""
    end = date_of(end_field)
    try:
        start = date_of(start_field)
    except ValidationError:
        return
    if start and end and end < start:
        raise ValidationError("The end date is before the start date.")
