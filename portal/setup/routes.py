"""The setup walk-through for accounts with the integration enabled (every route gated in portal.gate).

Views stay thin: read the form, call a service, render. Services raise ServiceError with a message
for the user (and, where it belongs to a field, the field's name).
"""
from __future__ import annotations

import functools
from contextlib import nullcontext
from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask import session as browser_session
from flask_login import current_user

from portal.clients import ExternalError
from portal.extensions import db_session, service_context, settings
from portal.models import Environment
from portal.models.account import ENVIRONMENTS
from portal.services import NotFound, ServiceError
from portal.services.checklist import setup_status
from portal.services.environments import (
    NAME_SEPARATOR,
    FieldErrors,
    SyncSettingsInput,
    active_environment,
    display_name_preview,
    get_environment,
    live_connection,
    save_fusebill_key,
    switch_check,
    switch_environment,
    sync_settings_errors,
    update_sync_settings,
)
from portal.services.ledgers import LEDGERS, LedgerErrors, create_ledger_account, load_pickers, plain_type, required_ledgers, save_choices
from portal.services.qbo_connection import (
    AUTO_APPLY_CREDITS_PATH,
    ConnectError,
    begin_connect,
    complete_connect,
    disconnect,
    facts_due,
    refresh_connection_facts,
    set_relink,
)
from portal.services.qbo_tokens import refresh_lock, token_health
from portal.services.taxes import (
    NON_TAXABLE_FIELD,
    NeedsFusebillKey,
    TaxMappingErrors,
    add_rule,
    combinations,
    delete_rule,
    discover_rules,
    mapping_view,
    mappings,
    qbo_tax_codes,
    save_mapping,
    set_ignored,
    tax_mapping_needed,
)
from portal.setup.forms import (
    ActionForm,
    AddTaxRuleForm,
    CreateLedgerAccountForm,
    DisconnectForm,
    FusebillKeyForm,
    RelinkForm,
    SwitchEnvironmentForm,
    SyncSettingsForm,
    TaxMappingForm,
    company_name_matches,
)

blueprint = Blueprint("setup", __name__, url_prefix="/setup")
OAUTH_SESSION_KEY = "qbo_oauth"


def _field_error(form, error: ServiceError | ExternalError) -> bool:
    """Put a service error next to its field when the form has that field; True when it did (an
    outside service's error names no field)."""
    field = error.field if isinstance(error, ServiceError) else None
    if field and hasattr(form, field):
        getattr(form, field).errors = list(getattr(form, field).errors) + [error.message]
        return True
    return False


def _field_errors(form, errors: dict[str, str]) -> None:
    """Put every error next to its field, unless the form already found one there (or flash it)."""
    for name, message in errors.items():
        target = getattr(form, name, None)
        if target is None:
            flash(message, "error")
        elif not target.errors:
            target.errors = list(target.errors) + [message]


def _refresh_connection_facts(database, environment: Environment):
    """The live connection, its facts refreshed first when due (see qbo_connection.refresh_connection_facts).

    The page's own session only reads. When a refresh is due, its read transaction is ended, the
    refresh commits in a short transaction of its own, and the page reads again, fresh.
    """
    connection = live_connection(database, environment)
    every = timedelta(minutes=settings().company_recheck_minutes)
    warning_days = settings().refresh_token_warning_days
    if connection is None or not facts_due(connection, every, warning_days):
        return connection
    connection_id = connection.id
    database.rollback()  # nothing to keep: a GET writes nothing in its own session
    refresh_connection_facts(service_context(), connection_id, recheck_every=every, warning_days=warning_days)
    return live_connection(database, environment)


def with_connection(view):
    """Run `view(database, environment, connection)` only when the active environment has a usable
    QuickBooks connection; otherwise say why and go back to Connect QuickBooks."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        database = db_session()
        environment = active_environment(database, current_user.account)
        connection = live_connection(database, environment)
        if connection is None:
            flash("Connect QuickBooks first.", "info")
            return redirect(url_for("setup.connect"))
        if connection.needs_reconnect:
            flash("QuickBooks no longer accepts this connection. Reconnect first.", "error")
            return redirect(url_for("setup.connect"))
        return view(database, environment, connection, *args, **kwargs)

    return wrapper


def _refused(database, error, endpoint: str):
    """A use case refused: undo its changes, show why, and go back to the page."""
    database.rollback()
    flash(error.message, "error")
    return redirect(url_for(endpoint))


# ------------------------------------------------------------------ overview
@blueprint.get("/")
def overview():
    database = db_session()
    account = current_user.account
    _refresh_connection_facts(database, active_environment(database, account))
    status = setup_status(database, account, settings().refresh_token_warning_days)
    return render_template("setup/overview.html", account=account, status=status, steps=status.steps, auto_apply_path=AUTO_APPLY_CREDITS_PATH)


# ------------------------------------------------------------------ connect
@blueprint.get("/connect")
def connect():
    database = db_session()
    environment = active_environment(database, current_user.account)
    connection = _refresh_connection_facts(database, environment)
    health = token_health(connection, settings().refresh_token_warning_days) if connection is not None else None
    relink_form = RelinkForm(formdata=None, relink="yes" if connection is not None and connection.relink_existing else "no")
    return render_template("setup/connect.html", environment=environment, connection=connection, health=health,
                           start_form=ActionForm(), relink_form=relink_form, auto_apply_path=AUTO_APPLY_CREDITS_PATH,
                           uses_emulator=not settings().uses_real_intuit)


@blueprint.post("/connect/start")
def connect_start():
    form = ActionForm()
    if not form.validate_on_submit():
        return redirect(url_for("setup.connect"))
    database = db_session()
    environment = active_environment(database, current_user.account)
    try:
        url, pending = begin_connect(service_context(), environment)
    except ConnectError as error:
        return render_template("setup/connect_failed.html", title=error.title, message=error.message), 502
    browser_session[OAUTH_SESSION_KEY] = pending.as_session()
    return redirect(url)


@blueprint.get("/connect/callback")
def connect_callback():
    database = db_session()
    environment = active_environment(database, current_user.account)
    pending = browser_session.pop(OAUTH_SESSION_KEY, None)  # single use, whatever the outcome
    ctx = service_context()
    current = live_connection(database, environment)
    try:
        # Renewing a live connection's tokens: hold its token lock until committed (no refresh in between).
        with refresh_lock(ctx, current.id) if current is not None else nullcontext():
            outcome = complete_connect(
                database, ctx, environment, current_user,
                pending=pending, state=request.args.get("state"), code=request.args.get("code"),
                realm_id=request.args.get("realmId"), error=request.args.get("error"),
            )
            database.commit()
    except ConnectError as error:
        database.rollback()
        return render_template("setup/connect_failed.html", title=error.title, message=error.message), 400
    except ExternalError as error:
        database.rollback()
        return render_template("setup/connect_failed.html", title="QuickBooks is busy", message=f"{error.message} Nothing was changed; try again."), 503
    connection = outcome.connection
    if outcome.recognised_previous:
        flash(f"Connected to {connection.company_name} again. This environment was connected to this company before, so the next sync will "
              "re-link the records already in QuickBooks instead of creating duplicates.", "success")
    elif outcome.reconnected_same_company:
        flash(f"Reconnected to {connection.company_name}.", "success")
    else:
        flash(f"Connected to {connection.company_name}.", "success")
    # "Automatically apply credits" on: the Connect page says so once, in its warning box (setup/_blockers.html).
    return redirect(url_for("setup.connect"))


@blueprint.post("/connect/relink")
@with_connection
def connect_relink(database, environment, connection):
    form = RelinkForm()
    if not form.validate_on_submit():
        flash("Choose whether to re-link or create new records.", "error")
        return redirect(url_for("setup.connect"))
    set_relink(database, connection, form.relink.data == "yes", current_user)
    database.commit()
    flash("Saved.", "success")
    return redirect(url_for("setup.connect"))


# ------------------------------------------------------------------ ledgers
def _ledger_values(values) -> dict[str, str]:
    """The `ledger-<key>` picks in a form or query string, by ledger key (only those present)."""
    return {spec.key: (values.get(f"ledger-{spec.key}") or "").strip()[:32] for spec in LEDGERS if f"ledger-{spec.key}" in values}


def _ledgers_url(picked: dict[str, str], anchor: str = "") -> str:
    """The Choose ledgers page showing these (unsaved) picks again."""
    values: dict[str, Any] = {f"ledger-{key}": value for key, value in picked.items()}
    return url_for("setup.ledgers", **values) + (f"#ledger-{anchor}" if anchor else "")


def _render_ledgers(environment, connection, errors=None, status=200, submitted=None):
    database = db_session()
    load_error = None
    pickers = []
    try:
        pickers = load_pickers(database, service_context(), environment, connection)
    except (ExternalError, ServiceError) as error:
        load_error = error.message
    submitted = submitted or {}
    unsaved = [picker.spec.label for picker in pickers if picker.spec.key in submitted
               and submitted[picker.spec.key] != (picker.chosen.qbo_account_id if picker.chosen else "")]
    return render_template(
        "setup/ledgers.html", environment=environment, connection=connection, pickers=pickers, errors=errors or {},
        required=set(required_ledgers(connection.tax_setup)), load_error=load_error, form=ActionForm(), submitted=submitted,
        unsaved=[] if errors else unsaved, plain_type=plain_type,
    ), status


@blueprint.route("/ledgers", methods=["GET", "POST"])
@with_connection
def ledgers(database, environment, connection):
    if request.method == "GET":
        # Picks not saved yet come back in the query string (after "Create this account for me").
        return _render_ledgers(environment, connection, submitted=_ledger_values(request.args))
    if not ActionForm().validate_on_submit():
        return redirect(url_for("setup.ledgers"))
    selected = {spec.key: (request.form.get(f"ledger-{spec.key}") or "").strip()[:32] for spec in LEDGERS}
    try:
        outcome = save_choices(database, service_context(), environment, connection, selected, current_user)
    except LedgerErrors as error:
        database.rollback()
        return _render_ledgers(environment, connection, errors=error.errors, status=400, submitted=selected)
    except (ServiceError, ExternalError) as error:
        return _refused(database, error, "setup.ledgers")
    database.commit()
    flash("Ledgers saved." + (f" QuickBooks items created: {', '.join(outcome.items_created)}." if outcome.items_created else "")
          + (f" Items updated: {', '.join(outcome.items_updated)}." if outcome.items_updated else ""), "success")
    for warning in outcome.warnings.values():
        flash(warning, "warning")
    return redirect(url_for("setup.ledgers"))


@blueprint.post("/ledgers/create")
@with_connection
def ledgers_create(database, environment, connection):
    """"Create this account for me": the button submits the whole ledgers form here, so the picks not
    saved yet in the other pickers come back on the page (in the redirect's query string)."""
    form = CreateLedgerAccountForm()
    picked = _ledger_values(request.form)
    if not form.validate_on_submit():
        flash("Unknown ledger.", "error")
        return redirect(_ledgers_url(picked))
    try:
        made = create_ledger_account(database, service_context(), environment, connection, form.ledger.data, current_user)
    except (ServiceError, ExternalError) as error:
        database.rollback()
        flash(error.message, "error")
        return redirect(_ledgers_url(picked, form.ledger.data))
    database.commit()
    flash(f"“{made.account.name}” ({plain_type(made.account.account_type, made.account.account_subtype)}) is ready in QuickBooks and chosen.", "success")
    if made.warning:
        flash(made.warning, "warning")
    if picked:
        picked[form.ledger.data] = made.account.id
    return redirect(_ledgers_url(picked, form.ledger.data))


# ------------------------------------------------------------------ taxes
def _render_taxes(environment, connection, errors=None, add_form=None, status=200, submitted=None,
                  mismatches=None, mapping_form=None):
    database = db_session()
    codes, load_error = [], None
    needed = tax_mapping_needed(connection)
    if needed:
        try:
            codes = qbo_tax_codes(service_context(), connection, database)
        except (ExternalError, ServiceError) as error:
            load_error = error.message
    view = mapping_view(mappings(database, environment, connection), combinations(database, environment, connection), codes,
                        submitted=submitted, errors=errors) if needed else None
    return render_template(
        "setup/taxes.html", environment=environment, connection=connection, needed=needed, view=view, codes=codes,
        errors=errors or {}, load_error=load_error, form=ActionForm(), add_form=add_form or AddTaxRuleForm(formdata=None),
        non_taxable_field=NON_TAXABLE_FIELD, mismatches=mismatches or {}, mapping_form=mapping_form or TaxMappingForm(formdata=None),
        key_saved=bool(environment.fusebill_api_key_ciphertext),
    ), status


def _tax_choices(form) -> dict[str, str]:
    """The `code-<id>`, `code-none` and `rate-<id>` fields of the Map taxes form."""
    selected = {}
    for key, value in form.items():
        prefix, _, number = key.partition("-")
        if prefix not in ("code", "rate"):
            continue
        if key == NON_TAXABLE_FIELD or (number.isascii() and number.isdigit() and len(number) < 10):
            selected[key] = value.strip()[:32]
    return selected


@blueprint.route("/taxes", methods=["GET", "POST"])
@with_connection
def taxes(database, environment, connection):
    if request.method == "GET":
        return _render_taxes(environment, connection)
    form = TaxMappingForm()
    if not form.validate_on_submit():
        return redirect(url_for("setup.taxes"))
    selected = _tax_choices(request.form)
    try:
        changed = save_mapping(database, service_context(), environment, connection, selected, current_user,
                               confirm_mismatch=bool(form.confirm_mismatch.data))
    except TaxMappingErrors as error:
        database.rollback()
        return _render_taxes(environment, connection, errors=error.errors, status=400, submitted=selected,
                             mismatches=error.mismatches, mapping_form=form)
    except (ServiceError, ExternalError) as error:
        return _refused(database, error, "setup.taxes")
    database.commit()
    flash(f"Tax mapping saved ({changed} changed).", "success")
    return redirect(url_for("setup.taxes"))


@blueprint.post("/taxes/discover")
@with_connection
def taxes_discover(database, environment, connection):
    if not ActionForm().validate_on_submit():
        return redirect(url_for("setup.taxes"))
    try:
        outcome = discover_rules(database, service_context(), environment, connection, current_user)
    except NeedsFusebillKey as error:  # the page says so too, with the link to where the key is entered
        database.rollback()
        flash(error.message, "error")
        return redirect(url_for("setup.taxes") + "#discover")
    except ServiceError as error:
        return _refused(database, error, "setup.taxes")
    database.commit()
    flash(f"Found {outcome.found} tax rules ({outcome.added} new) and {outcome.combinations_found} combinations "
          f"({outcome.combinations_added} new) on the Fusebill invoices of {outcome.customers_read} customers.", "success")
    if not outcome.complete:
        flash("Only the most recently changed customers were read. If a combination you charge is missing, add its rules by hand.", "info")
    return redirect(url_for("setup.taxes"))


@blueprint.post("/taxes/add")
@with_connection
def taxes_add(database, environment, connection):
    form = AddTaxRuleForm()
    if form.validate_on_submit():
        try:
            add_rule(database, environment, connection, form.name.data, form.rate.data or "", current_user)
        except ServiceError as error:
            database.rollback()
            if not _field_error(form, error):
                flash(error.message, "error")
        else:
            database.commit()
            flash(f"Tax rule “{form.name.data}” added; now choose its tax code and rate.", "success")
            return redirect(url_for("setup.taxes"))
    return _render_taxes(environment, connection, add_form=form, status=400)


@blueprint.post("/taxes/rules/<int:rule_id>/delete")
@with_connection
def taxes_delete_rule(database, environment, connection, rule_id: int):
    if not ActionForm().validate_on_submit():
        return redirect(url_for("setup.taxes"))
    try:
        name = delete_rule(database, environment, connection, rule_id, current_user)
    except NotFound:
        abort(404)  # not this company's rule (or gone): the same answer for both
    except ServiceError as error:
        return _refused(database, error, "setup.taxes")
    database.commit()
    flash(f"Tax rule “{name}” removed.", "success")
    return redirect(url_for("setup.taxes"))


@blueprint.post("/taxes/rules/<int:rule_id>/ignore")
@with_connection
def taxes_ignore_rule(database, environment, connection, rule_id: int):
    return _set_ignored(database, environment, connection, rule_id, True)


@blueprint.post("/taxes/rules/<int:rule_id>/unignore")
@with_connection
def taxes_unignore_rule(database, environment, connection, rule_id: int):
    return _set_ignored(database, environment, connection, rule_id, False)


def _set_ignored(database, environment, connection, rule_id: int, ignored: bool):
    if not ActionForm().validate_on_submit():
        return redirect(url_for("setup.taxes"))
    try:
        name = set_ignored(database, environment, connection, rule_id, ignored, current_user)
    except NotFound:
        abort(404)
    except ServiceError as error:
        return _refused(database, error, "setup.taxes")
    database.commit()
    if ignored:
        flash(f"Tax rule “{name}” is set to ignore: it blocks nothing, and a record that carries it fails with that reason.", "success")
    else:
        flash(f"Tax rule “{name}” is to be mapped again: choose its tax code and rate.", "success")
    return redirect(url_for("setup.taxes"))


# ------------------------------------------------------------------ environment
def _key_form(kind: str, **kwargs) -> FusebillKeyForm:
    """The Fusebill key form of one environment, labelled with it ("Sandbox Fusebill API key")."""
    form = FusebillKeyForm(prefix=f"key-{kind}", **kwargs)
    form.api_key.label.text = f"{kind.capitalize()} Fusebill API key"
    return form


def _key_forms() -> dict[str, FusebillKeyForm]:
    return {kind: _key_form(kind, formdata=None, environment=kind) for kind in ENVIRONMENTS}


def _webhook_endpoints(database, environments):
    """Per environment, the webhook URL and key to paste into Fusebill (made when its key is saved)."""
    from portal.services.webhooks import webhook_secrets

    ctx = service_context()
    made = {kind: webhook_secrets(database, ctx, env, create=False) for kind, env in environments.items()}  # a GET writes nothing
    return {kind: {"url": secret.url(ctx.settings.base_url), "key": secret.key} for kind, secret in made.items() if secret}


def _render_environment(key_forms=None, switch_form=None, status=200):
    database = db_session()
    account = current_user.account
    environments = {kind: get_environment(database, account, kind) for kind in ENVIRONMENTS}
    connections = {kind: live_connection(database, env) for kind, env in environments.items()}
    other = "production" if account.active_environment == "sandbox" else "sandbox"
    forms = key_forms or _key_forms()
    webhooks = _webhook_endpoints(database, environments)
    return render_template(
        "setup/environment.html", account=account, environments=environments, connections=connections, key_forms=forms, webhooks=webhooks,
        switch_form=switch_form or SwitchEnvironmentForm(formdata=None, target=other), other=other,
        check=switch_check(database, account, other), fusebill_urls={kind: settings().fusebill_url(kind) for kind in ENVIRONMENTS},
    ), status


@blueprint.get("/environment")
def environment():
    return _render_environment()


@blueprint.post("/environment/fusebill-key/<kind>")
def environment_key(kind: str):
    if kind not in ENVIRONMENTS:
        return _render_environment(status=404)
    database = db_session()
    form = _key_form(kind)
    forms = _key_forms()
    forms[kind] = form
    if form.validate_on_submit():
        target = get_environment(database, current_user.account, kind)
        try:
            save_fusebill_key(database, service_context(), target, form.api_key.data, current_user)
            from portal.services.webhooks import webhook_secrets

            webhook_secrets(database, service_context(), target)  # the webhook URL and key to enter in Fusebill
        except ServiceError as error:
            database.rollback()
            if not _field_error(form, error):
                flash(error.message, "error")
        else:
            database.commit()
            flash(f"The {kind} Fusebill API key was checked with Fusebill and saved (encrypted).", "success")
            return redirect(url_for("setup.environment"))
    return _render_environment(key_forms=forms, status=400)


@blueprint.post("/environment/switch")
def environment_switch():
    database = db_session()
    form = SwitchEnvironmentForm()
    if not form.validate_on_submit():
        if not form.confirm.data:  # said together with the form's own errors, not after them
            _field_errors(form, {"confirm": "Tick the box to confirm the switch."})
    else:
        try:
            switch_environment(database, current_user.account, form.target.data, current_user,
                               confirmed=bool(form.confirm.data), override_reason=form.override_reason.data or "")
        except FieldErrors as errors:
            database.rollback()
            _field_errors(form, errors.errors)
        except ServiceError as error:
            database.rollback()
            if not _field_error(form, error):
                flash(error.message, "error")
        else:
            database.commit()
            flash(f"You are now working in the {form.target.data} environment.", "success")
            return redirect(url_for("setup.overview"))
    return _render_environment(switch_form=form, status=400)


# ------------------------------------------------------------------ sync settings
@blueprint.route("/settings", methods=["GET", "POST"])
def sync_settings():
    database = db_session()
    environment = active_environment(database, current_user.account)
    if request.method == "GET":
        form = SyncSettingsForm(
            formdata=None,
            display_name_parts=environment.display_name_parts,
            update_display_names="yes" if environment.update_display_names else "no",
            new_customers=environment.new_customers,
            sync_start_date=environment.sync_start_date,
            schedule=environment.schedule,
            notification_email=environment.notification_email or "",
        )
        return render_template("setup/settings.html", environment=environment, form=form, preview=display_name_preview(environment.display_name_parts),
                               name_separator=NAME_SEPARATOR)
    form = SyncSettingsForm()
    valid = form.validate_on_submit()
    data = SyncSettingsInput(
        display_name_parts=list(form.display_name_parts.data or []),
        update_display_names=form.update_display_names.data == "yes",
        new_customers=form.new_customers.data,
        sync_start_date=form.sync_start_date.data,
        schedule=form.schedule.data,
        notification_email=form.notification_email.data or "",
    )
    # The form's checks and the service's rules together, so every error shows in one round.
    problems = sync_settings_errors(data)
    _field_errors(form, problems)
    if valid and not problems:
        try:
            update_sync_settings(database, environment, data, current_user)
        except FieldErrors as errors:
            database.rollback()
            _field_errors(form, errors.errors)
        except ServiceError as error:
            database.rollback()
            if not _field_error(form, error):
                flash(error.message, "error")
        else:
            database.commit()
            flash(f"Sync settings for the {environment.kind} environment saved.", "success")
            return redirect(url_for("setup.sync_settings"))
    return render_template("setup/settings.html", environment=environment, form=form,
                           preview=display_name_preview(list(form.display_name_parts.data or [])), name_separator=NAME_SEPARATOR), 400


# ------------------------------------------------------------------ disconnect
@blueprint.route("/disconnect", methods=["GET", "POST"])
def disconnect_page():
    database = db_session()
    environment = active_environment(database, current_user.account)
    connection = live_connection(database, environment)
    if connection is None:
        flash(f"The {environment.kind} environment is not connected to QuickBooks.", "info")
        return redirect(url_for("setup.connect"))
    form = DisconnectForm()
    if request.method == "POST" and form.validate_on_submit() and not company_name_matches(form.company_name.data, connection.company_name):
        # The rule the page states (and the service applies): the name, whatever its letter case.
        form.company_name.errors = [f"That is not the company name. Type “{connection.company_name}” (letter case doesn't matter)."]
    elif request.method == "POST" and not form.errors:
        ctx = service_context()
        try:
            with refresh_lock(ctx, connection.id):  # no token refresh may write into the row we disconnect
                outcome = disconnect(database, ctx, environment, current_user, form.company_name.data)
                database.commit()
        except (ServiceError, ExternalError) as error:
            database.rollback()
            if not _field_error(form, error):
                flash(error.message, "error")
        else:
            message = f"Disconnected from {connection.company_name}. {outcome.links_removed} links were removed; history and the audit log are kept."
            if not outcome.revoked:
                message += f" Intuit could not be told to revoke access ({outcome.revoke_error}); you can also remove the app in QuickBooks (Settings → Apps)."
            flash(message, "success" if outcome.revoked else "warning")
            return redirect(url_for("setup.connect"))
    status = 400 if request.method == "POST" else 200
    return render_template("setup/disconnect.html", environment=environment, connection=connection, form=form), status
