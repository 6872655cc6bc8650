from __future__ import annotations

from collections.abc import Sequence

from flask_wtf import FlaskForm
from wtforms import HiddenField, SearchField, SelectField, StringField, TextAreaField, ValidationError
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Length, Optional

from portal.forms import check_date_range, date_of, no_control_characters, strip
from portal.services.audit import AuditFilters
from portal.services.enablement import REASON_MAX, REASON_MIN


class AccountSearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    q = SearchField("Search", filters=[strip], validators=[Optional(), Length(max=200, message="Search for at most 200 characters."), no_control_characters])
    state = SelectField(
        "Show",
        choices=[
            SelectChoice("all", "All accounts"),
            SelectChoice("pending", "Pending requests"),
            SelectChoice("enabled", "Enabled"),
            SelectChoice("disabled", "Disabled"),
        ],
        default="all",
        validate_choice=True,
    )


class ReasonField(TextAreaField):
    pass


def _reason(label: str) -> ReasonField:
    return ReasonField(
        label,
        filters=[strip],
        validators=[
            DataRequired("A reason is required; it goes into the audit log."),
            Length(min=REASON_MIN, max=REASON_MAX, message=f"Write between {REASON_MIN} and {REASON_MAX} characters."),
            no_control_characters,
        ],
    )


class EnablementForm(FlaskForm):
    action = HiddenField(validators=[DataRequired(), AnyOf(["enable", "disable"], message="Unknown action.")])
    reason = _reason("Reason")


class DeclineForm(FlaskForm):
    reason = _reason("Reason for declining")


# ------------------------------------------------------------------ syncs: pause, resume, requeue
class PauseForm(FlaskForm):
    reason = _reason("Why pause")


class ResumeForm(FlaskForm):
    reason = TextAreaField("Note (optional)", filters=[strip], validators=[
        Optional(), Length(max=REASON_MAX, message=f"Write at most {REASON_MAX} characters."), no_control_characters])


class RequeueForm(FlaskForm):
    """*Requeue* on one run: the CSRF token is all it carries."""


# ------------------------------------------------------------------ the audit log
class AuditFilterForm(FlaskForm):
    """The audit log's filters, from the query string (a GET: no CSRF); each bad value gets its
    message under its own field."""

    class Meta:
        csrf = False

    account = StringField("Account", filters=[strip], validators=[Optional(), Length(max=200, message="Search for at most 200 characters."),
                                                                    no_control_characters],
                          render_kw={"placeholder": "Name or Fusebill id"})
    account_id = HiddenField(filters=[strip])
    action = SelectField("Action", validate_choice=False, filters=[strip])
    actor = StringField("Who", filters=[strip], validators=[Optional(), Length(max=254, message="Search for at most 254 characters."),
                                                            no_control_characters],
                        render_kw={"placeholder": "Email, or system"})
    since = StringField("From", name="from", filters=[strip], render_kw={"type": "date", "placeholder": "YYYY-MM-DD"})
    until = StringField("To", name="to", filters=[strip], render_kw={"type": "date", "placeholder": "YYYY-MM-DD"})
    page = HiddenField(filters=[strip])

    def __init__(self, *args, actions: Sequence[str] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.action.choices = [("", "Any action"), *((a, a) for a in actions)]


    @staticmethod
    def _number(value: str | None, what: str) -> int | None:
        if not value:
            return None
        if not (value.isdigit() and 0 < int(value) <= 2_147_483_647):
            raise ValidationError(f"{what} is a number, like 3.")
        return int(value)

    def validate_action(self, field):
        if field.data and field.data not in {value for value, _ in field.choices}:
            raise ValidationError("Nothing in the log has this action; choose one from the list.")

    def validate_since(self, field):
        date_of(field)

    def validate_until(self, field):
        check_date_range(self.since, field)

    def validate_account_id(self, field):
        self._number(field.data, "An account link")

    def validate_page(self, field):
        self._number(field.data, "A page")

    def filters(self) -> AuditFilters:
        return AuditFilters(account_id=self._number(self.account_id.data, "An account link"), account=self.account.data or "",
                            action=self.action.data or "", actor=self.actor.data or "", since=date_of(self.since), until=date_of(self.until))

    def page_number(self) -> int:
        return self._number(self.page.data, "A page") or 1
