"""The setup walk-through for accounts with the integration enabled (every route gated in portal.gate).

Views stay thin: read the form, call a service, render. Services raise ServiceError with a message
for the user (and, where it belongs to a field, the field's name).
"""
from __future__ import annotations

import functools
from contextlib import nullcontext
from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, session as browser_session, url_for
from flask_login import current_user

from portal.clients import ExternalError
from portal.extensions import db_session, service_context, settings
from portal.models import Environment
from portal.models.account import ENVIRONMENTS
from portal.services import ServiceError
from portal.services.checklist import setup_status
from portal.services.environments import (
    SyncSettingsInput,
    active_environment,
    display_name_preview,
    get_environment,
    live_connection,
    save_fusebill_key,
    switch_check,
    switch_environment,
    update_sync_settings,
)
from portal.services.ledgers import LEDGERS, LedgerErrors, create_ledger_account, load_pickers, required_ledgers, save_choices
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
    TaxMappingErrors,
    add_rule,
    combinations,
    delete_rule,
    discover_rules,
    mapping_view,
    mappings,
    qbo_tax_codes,
    save_mapping,
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
)

blueprint = Blueprint("setup", __name__, url_prefix="/setup")
OAUTH_SESSION_KEY = "qbo_oauth"


def _field_error(form, error: ServiceError) -> bool:  # type: ignore[no-untyped-def]
    """Put a service error next to its field when the form has that field; True when it did."""
    if error.field and hasattr(form, error.field):
        getattr(form, error.field).errors = list(getattr(form, error.field).errors) + [error.message]
        return True
    return False


def _refresh_connection_facts(database, environment: Environment):  # type: ignore[no-untyped-def]
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


def with_connection(view):  # type: ignore[no-untyped-def]
    """Run `view(database, environment, connection)` only when the active environment has a usable
    QuickBooks connection; otherwise say why and go back to Connect QuickBooks."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
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


def _refused(database, error, endpoint: str):  # type: ignore[no-untyped-def]
    """A use case refused: undo its changes, show why, and go back to the page."""
    database.rollback()
    flash(error.message, "error")
    return redirect(url_for(endpoint))


# ------------------------------------------------------------------ overview
@blueprint.get("/")
def overview():  # type: ignore[no-untyped-def]
    database = db_session()
    account = current_user.account
    _refresh_connection_facts(database, active_environment(database, account))
    status = setup_status(database, account, settings().refresh_token_warning_days)
    return render_template("setup/overview.html", account=account, status=status, steps=status.steps, auto_apply_path=AUTO_APPLY_CREDITS_PATH)


# ------------------------------------------------------------------ connect
@blueprint.get("/connect")
def connect():  # type: ignore[no-untyped-def]
    database = db_session()
    environment = active_environment(database, current_user.account)
    connection = _refresh_connection_facts(database, environment)
    health = token_health(connection, settings().refresh_token_warning_days) if connection is not None else None
    relink_form = RelinkForm(formdata=None, relink="yes" if connection is not None and connection.relink_existing else "no")
    return render_template("setup/connect.html", environment=environment, connection=connection, health=health,
                           start_form=ActionForm(), relink_form=relink_form, auto_apply_path=AUTO_APPLY_CREDITS_PATH,
                           uses_emulator=not settings().uses_real_intuit)


@blueprint.post("/connect/start")
def connect_start():  # type: ignore[no-untyped-def]
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
def connect_callback():  # type: ignore[no-untyped-def]
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
    if connection.auto_apply_credit:
        flash(f"“Automatically apply credits” is on in {connection.company_name}: turn it off before syncing ({AUTO_APPLY_CREDITS_PATH}).", "warning")
    return redirect(url_for("setup.connect"))


@blueprint.post("/connect/relink")
@with_connection
def connect_relink(database, environment, connection):  # type: ignore[no-untyped-def]
    form = RelinkForm()
    if not form.validate_on_submit():
        flash("Choose whether to re-link or create new records.", "error")
        return redirect(url_for("setup.connect"))
    set_relink(database, connection, form.relink.data == "yes", current_user)
    database.commit()
    flash("Saved.", "success")
    return redirect(url_for("setup.connect"))


# ------------------------------------------------------------------ ledgers
def _render_ledgers(environment, connection, errors=None, status=200, submitted=None):  # type: ignore[no-untyped-def]
    database = db_session()
    load_error = None
    pickers = []
    try:
        pickers = load_pickers(database, service_context(), environment, connection)
    except (ExternalError, ServiceError) as error:
        load_error = error.message
    return render_template(
        "setup/ledgers.html", environment=environment, connection=connection, pickers=pickers, errors=errors or {},
        required=set(required_ledgers(connection.tax_setup)), load_error=load_error, form=ActionForm(), submitted=submitted,
    ), status


@blueprint.route("/ledgers", methods=["GET", "POST"])
@with_connection
def ledgers(database, environment, connection):  # type: ignore[no-untyped-def]
    if request.method == "GET":
        return _render_ledgers(environment, connection)
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
def ledgers_create(database, environment, connection):  # type: ignore[no-untyped-def]
    form = CreateLedgerAccountForm()
    if not form.validate_on_submit():
        flash("Unknown ledger.", "error")
        return redirect(url_for("setup.ledgers"))
    try:
        made = create_ledger_account(database, service_context(), environment, connection, form.ledger.data, current_user)
    except (ServiceError, ExternalError) as error:
        return _refused(database, error, "setup.ledgers")
    database.commit()
    flash(f"“{made.account.name}” ({made.account.account_type}) is ready in QuickBooks and chosen.", "success")
    if made.warning:
        flash(made.warning, "warning")
    return redirect(url_for("setup.ledgers") + f"#ledger-{form.ledger.data}")


# ------------------------------------------------------------------ taxes
def _render_taxes(environment, connection, errors=None, add_form=None, status=200, submitted=None):  # type: ignore[no-untyped-def]
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
        non_taxable_field=NON_TAXABLE_FIELD,
    ), status


def _tax_choices(form) -> dict[str, str]:  # type: ignore[no-untyped-def]
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
def taxes(database, environment, connection):  # type: ignore[no-untyped-def]
    if request.method == "GET":
        return _render_taxes(environment, connection)
    if not ActionForm().validate_on_submit():
        return redirect(url_for("setup.taxes"))
    selected = _tax_choices(request.form)
    try:
        changed = save_mapping(database, service_context(), environment, connection, selected, current_user)
    except TaxMappingErrors as error:
        database.rollback()
        return _render_taxes(environment, connection, errors=error.errors, status=400, submitted=selected)
    except (ServiceError, ExternalError) as error:
        return _refused(database, error, "setup.taxes")
    database.commit()
    flash(f"Tax mapping saved ({changed} changed).", "success")
    return redirect(url_for("setup.taxes"))


@blueprint.post("/taxes/discover")
@with_connection
def taxes_discover(database, environment, connection):  # type: ignore[no-untyped-def]
    if not ActionForm().validate_on_submit():
        return redirect(url_for("setup.taxes"))
    try:
        outcome = discover_rules(database, service_context(), environment, connection, current_user)
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
def taxes_add(database, environment, connection):  # type: ignore[no-untyped-def]
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
def taxes_delete_rule(database, environment, connection, rule_id: int):  # type: ignore[no-untyped-def]
    if not ActionForm().validate_on_submit():
        return redirect(url_for("setup.taxes"))
    try:
        name = delete_rule(database, environment, connection, rule_id, current_user)
    except ServiceError as error:
        return _refused(database, error, "setup.taxes")
    database.commit()
    flash(f"Tax rule “{name}” removed.", "success")
    return redirect(url_for("setup.taxes"))


# ------------------------------------------------------------------ environment
def _key_forms() -> dict[str, FusebillKeyForm]:
    return {kind: FusebillKeyForm(formdata=None, environment=kind, prefix=f"key-{kind}") for kind in ENVIRONMENTS}


def _webhook_endpoints(database, environments):  # type: ignore[no-untyped-def]
    """Per environment, the webhook URL and key to paste into Fusebill (made when its key is saved)."""
    from portal.services.webhooks import webhook_secrets

    ctx = service_context()
    made = {kind: webhook_secrets(database, ctx, env, create=False) for kind, env in environments.items()}  # a GET writes nothing
    return {kind: {"url": secret.url(ctx.settings.base_url), "key": secret.key} for kind, secret in made.items() if secret}


def _render_environment(key_forms=None, switch_form=None, status=200):  # type: ignore[no-untyped-def]
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
def environment():  # type: ignore[no-untyped-def]
    return _render_environment()


@blueprint.post("/environment/fusebill-key/<kind>")
def environment_key(kind: str):  # type: ignore[no-untyped-def]
    if kind not in ENVIRONMENTS:
        return _render_environment(status=404)
    database = db_session()
    form = FusebillKeyForm(prefix=f"key-{kind}")
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
def environment_switch():  # type: ignore[no-untyped-def]
    database = db_session()
    form = SwitchEnvironmentForm()
    if form.validate_on_submit():
        try:
            switch_environment(database, current_user.account, form.target.data, current_user,
                               confirmed=bool(form.confirm.data), override_reason=form.override_reason.data or "")
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
def sync_settings():  # type: ignore[no-untyped-def]
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
        return render_template("setup/settings.html", environment=environment, form=form, preview=display_name_preview(environment.display_name_parts))
    form = SyncSettingsForm()
    if form.validate_on_submit():
        data = SyncSettingsInput(
            display_name_parts=list(form.display_name_parts.data or []),
            update_display_names=form.update_display_names.data == "yes",
            new_customers=form.new_customers.data,
            sync_start_date=form.sync_start_date.data,
            schedule=form.schedule.data,
            notification_email=form.notification_email.data or "",
        )
        try:
            update_sync_settings(database, environment, data, current_user)
        except ServiceError as error:
            database.rollback()
            if not _field_error(form, error):
                flash(error.message, "error")
        else:
            database.commit()
            flash(f"Sync settings for the {environment.kind} environment saved.", "success")
            return redirect(url_for("setup.sync_settings"))
    return render_template("setup/settings.html", environment=environment, form=form,
                           preview=display_name_preview(list(form.display_name_parts.data or []) or ["company_name"])), 400


# ------------------------------------------------------------------ disconnect
@blueprint.route("/disconnect", methods=["GET", "POST"])
def disconnect_page():  # type: ignore[no-untyped-def]
    database = db_session()
    environment = active_environment(database, current_user.account)
    connection = live_connection(database, environment)
    if connection is None:
        flash(f"The {environment.kind} environment is not connected to QuickBooks.", "info")
        return redirect(url_for("setup.connect"))
    form = DisconnectForm()
    if request.method == "POST" and form.validate_on_submit():
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
