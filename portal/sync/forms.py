from __future__ import annotations

from collections.abc import Sequence

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, ValidationError
from wtforms.validators import AnyOf, Length, Optional

from portal.forms import check_date_range, date_of, no_control_characters, strip
from portal.models.integration import RECORD_STATES
from portal.services.event_log import RecordFilter

ORIGINS = ("sync", "setup")


class SyncNowForm(FlaskForm):
    """The *Sync now* button; `origin` says which page it was pressed on (a refusal goes back there)."""

    origin = HiddenField(default="sync", validators=[Optional(), AnyOf(ORIGINS, message="Unknown page.")])


# ------------------------------------------------------------------ the event log
class RetryForm(FlaskForm):
    """*Retry* on one record and *Retry all failed*: the CSRF token is all they carry."""


class RecordFilterForm(FlaskForm):
    """The event log's filters, read from the query string (a GET: no CSRF). Each bad value gets its
    message under its own field; `filters()` gives the parsed values once `validate()` passed."""

    class Meta:
        csrf = False

    run = StringField("Run", filters=[strip], validators=[Optional(), Length(max=12)])
    entity_type = SelectField("Record type", name="type", validate_choice=False, filters=[strip])
    state = SelectField("State", validate_choice=False, filters=[strip])
    customer = StringField("Customer id", filters=[strip], validators=[Optional(), Length(max=32, message="A customer id has at most 32 characters.")])
    updated_from = StringField("Updated from", name="from", filters=[strip], render_kw={"type": "date", "placeholder": "YYYY-MM-DD"})
    updated_to = StringField("Updated to", name="to", filters=[strip], render_kw={"type": "date", "placeholder": "YYYY-MM-DD"})
    q = StringField("Search", filters=[strip], validators=[Optional(), Length(max=96, message="Search for at most 96 characters."), no_control_characters],
                    render_kw={"placeholder": "Fusebill id, QuickBooks id or document number"})
    before = HiddenField(filters=[strip])
    after = HiddenField(filters=[strip])

    def __init__(self, *args, entity_types: Sequence[tuple[str, str]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.entity_type.choices = [("", "All types"), *entity_types]
        self.state.choices = [("", "All states"), *((s, s.capitalize()) for s in RECORD_STATES)]

    @staticmethod
    def _number(field, what: str) -> None:
        if field.data and not (field.data.isdigit() and int(field.data) > 0):
            raise ValidationError(f"{what} is a number, like 42.")

    def validate_run(self, field):
        self._number(field, "A run")

    def validate_entity_type(self, field):
        if field.data and field.data not in {value for value, _ in field.choices}:
            raise ValidationError(f"There are no {field.data[:40]!r} records; choose a type from the list.")

    def validate_state(self, field):
        if field.data and field.data not in RECORD_STATES:
            raise ValidationError(f"Choose one of: {', '.join(RECORD_STATES)}.")

    def validate_customer(self, field):
        if field.data and not field.data.isdigit():
            raise ValidationError("A Fusebill customer id is a number, like 1042.")


    def validate_updated_from(self, field):
        date_of(field)

    def validate_updated_to(self, field):
        check_date_range(self.updated_from, field)

    def validate_before(self, field):
        self._number(field, "A page link")

    def validate_after(self, field):
        self._number(field, "A page link")

    def filters(self) -> RecordFilter:
        return RecordFilter(
            run_id=int(self.run.data) if self.run.data else None, entity_type=self.entity_type.data or None,
            state=self.state.data or None, customer_id=self.customer.data or None,
            updated_from=date_of(self.updated_from), updated_to=date_of(self.updated_to), q=self.q.data or None)

    def cursor(self) -> tuple[int | None, int | None]:
        """(before, after): the keyset page asked for (older than / newer than that record id)."""
        return (int(self.before.data) if self.before.data else None, int(self.after.data) if self.after.data else None)
