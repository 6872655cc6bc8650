from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, InputRequired, Length, NumberRange, Optional, Regexp

from portal.forms import strip
from portal.models.matching import CHOICE_CREATE, CHOICE_DONT_SYNC, CHOICE_LINK
from portal.services.matching import STATUSES

CHOICES = [SelectChoice(CHOICE_CREATE, "Create a new QuickBooks customer"), SelectChoice(CHOICE_LINK, "Link to this QuickBooks customer"),
           SelectChoice(CHOICE_DONT_SYNC, "Don't sync")]
BULK_ACTIONS = [SelectChoice(CHOICE_LINK, "Link to the suggested match"), SelectChoice(CHOICE_CREATE, "Create new QuickBooks customers"),
                SelectChoice(CHOICE_DONT_SYNC, "Don't sync")]


class BackTo(FlaskForm):
    """Where the list was (filter, page), to go back there after the POST."""

    status = HiddenField(validators=[Optional(), AnyOf(["", *STATUSES], message="Unknown filter.")])
    page = IntegerField(validators=[Optional(), NumberRange(min=1, max=1_000_000)])


class FindMatchesForm(FlaskForm):
    pass


class DecisionForm(BackTo):
    choice = SelectField("Choice", choices=CHOICES, validators=[InputRequired("Choose create, link or don't sync.")])
    qbo_customer_id = StringField("QuickBooks customer id", filters=[strip], validators=[
        Optional(), Length(max=32, message="A QuickBooks customer id is at most 32 characters."),
        Regexp(r"^\d+$", message="A QuickBooks customer id is a number, e.g. 58.")])


class BulkForm(BackTo):
    action = SelectField("For the checked customers", choices=BULK_ACTIONS, validators=[InputRequired("Choose what to do.")])
    rows = SelectMultipleField(coerce=int, validate_choice=False, validators=[InputRequired("Tick at least one customer first.")])


class AcceptAllForm(BackTo):
    pass
