from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SearchField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Length, Optional

from portal.forms import no_control_characters, strip
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
