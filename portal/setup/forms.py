from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, EmailField, HiddenField, PasswordField, RadioField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Email, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from portal.forms import no_control_characters, strip


class ActionForm(FlaskForm):
    """A form that carries nothing but its CSRF token (a button that does one thing)."""


class RelinkForm(FlaskForm):
    relink = RadioField(
        "On the next sync",
        choices=[SelectChoice("yes", "Re-link records that already exist in QuickBooks (recommended: no duplicates)"),
                 SelectChoice("no", "Create new QuickBooks records")],
        validators=[InputRequired("Choose one.")],
    )


class CreateLedgerAccountForm(FlaskForm):
    # The pressed "Create this account for me" button's value (it submits the whole ledgers form).
    ledger = HiddenField(validators=[DataRequired("Unknown ledger."), Length(max=32)])


class FusebillKeyForm(FlaskForm):
    environment = HiddenField(validators=[AnyOf(["sandbox", "production"], message="Unknown environment.")])
    api_key = PasswordField(
        "Fusebill API key",
        filters=[strip],
        validators=[DataRequired("Paste the API key from Fusebill (Settings → Integrations → API Key)."),
                    Length(max=512, message="An API key is at most 512 characters."), no_control_characters],
    )


class SwitchEnvironmentForm(FlaskForm):
    target = HiddenField(validators=[AnyOf(["sandbox", "production"], message="Choose sandbox or production.")])
    confirm = BooleanField("I understand that the portal and the scheduled sync will work on this environment from now on.")
    override_reason = TextAreaField(
        "Reason for switching without a successful sandbox sync",
        filters=[strip],
        validators=[Optional(), Length(max=500, message="Keep the reason to 500 characters or fewer."), no_control_characters],
    )


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class SyncSettingsForm(FlaskForm):
    display_name_parts = MultiCheckboxField(
        "Customer name in QuickBooks is made of",
        choices=[SelectChoice("company_name", "Company name"), SelectChoice("first_name", "First name"), SelectChoice("last_name", "Last name")],
    )
    update_display_names = RadioField(
        "When a customer's name changes in Fusebill",
        choices=[SelectChoice("yes", "Update the name in QuickBooks"),
                 SelectChoice("no", "Keep the name in QuickBooks (choose this if you edit names in QuickBooks)")],
        validators=[InputRequired("Choose one.")],
    )
    new_customers = RadioField(
        "Newly activated Fusebill customers",
        choices=[SelectChoice("create", "Create them in QuickBooks"),
                 SelectChoice("dont_create", "Don't create them (link them to existing QuickBooks customers one by one)")],
        validators=[InputRequired("Choose one.")],
    )
    sync_start_date = DateField(
        "Sync records from",
        validators=[InputRequired("Choose the date from which Fusebill records are synced.")],
        format="%Y-%m-%d",
    )
    schedule = SelectField(
        "Sync automatically",
        choices=[SelectChoice("off", "Off (sync when I ask)"), SelectChoice("hourly", "Every hour"), SelectChoice("daily", "Every day")],
        validate_choice=True,
    )
    notification_email = EmailField(
        "Notification email (optional)",
        filters=[strip],
        validators=[Optional(), Length(max=254, message="An email address is at most 254 characters."),
                    Email("Enter a valid email address, like name@example.com.")],
    )


class DisconnectForm(FlaskForm):
    company_name = StringField(
        "Type the company name to confirm (letter case doesn't matter)",
        filters=[strip],
        validators=[DataRequired("Type the company name to confirm."), Length(max=255)],
    )


def company_name_matches(typed: str | None, company_name: str) -> bool:
    """The disconnect confirmation's rule, as the page states it: the company name, in any letter case
    (the same comparison qbo_connection.disconnect makes)."""
    return (typed or "").strip().casefold() == company_name.strip().casefold()


class AddTaxRuleForm(FlaskForm):
    name = StringField("Tax rule name (as on Fusebill invoices)", filters=[strip],
                       validators=[DataRequired("Give the tax rule's name."), Length(max=200, message="At most 200 characters."), no_control_characters])
    rate = StringField("Rate, % (optional)", filters=[strip], validators=[Optional(), Length(max=12, message="Give the rate as a number, like 13 or 9.975.")])


class TaxMappingForm(FlaskForm):
    """The Map taxes form's own fields (its code-/rate- selects are read from the request by name)."""

    confirm_mismatch = BooleanField("I checked the differences shown: save these choices anyway (Fusebill's tax amounts are posted as they are)")
