"""The support console: find accounts, see their requests, history, runs and failures; enable or
disable, pause or resume syncs, requeue a run; RQ health, connections needing a reconnect, the audit log."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.extensions import db_session, redis_client, service_context, settings
from portal.models import EnablementRequest
from portal.services import NotFound, ServiceError
from portal.services.accounts import get_account, search_accounts
from portal.services.audit import AuditFilters, known_actions, search_events
from portal.services.enablement import decline_request, pause_message, pending_request, set_enablement
from portal.services.support_console import (
    account_failures,
    account_runs,
    connections_needing_attention,
    pause_syncs,
    requeue_run,
    resume_syncs,
    rq_health,
    run_account,
    support_run_page,
)
from portal.support.forms import AccountSearchForm, AuditFilterForm, DeclineForm, EnablementForm, PauseForm, RequeueForm, ResumeForm

ACCOUNT_AUDIT_EVENTS = 20

blueprint = Blueprint("support", __name__, url_prefix="/support")


@blueprint.get("/")
def accounts():
    form = AccountSearchForm(request.args)
    status = 200
    rows = []
    if form.validate():
        rows = search_accounts(db_session(), form.q.data or "", state=form.state.data or "all")
    else:
        status = 400
    return render_template("support/accounts.html", form=form, rows=rows), status


def _account_page(account_id: int, enablement_form: EnablementForm | None = None, decline_form: DeclineForm | None = None,
                  pause_form: PauseForm | None = None, resume_form: ResumeForm | None = None, status: int = 200):
    database = db_session()
    try:
        account = get_account(database, account_id)
    except NotFound:
        abort(404)
    return render_template(
        "support/account.html",
        account=account,
        pending=pending_request(database, account.id),
        requests=account.enablement_requests,
        audit=search_events(database, AuditFilters(account_id=account.id), per_page=ACCOUNT_AUDIT_EVENTS),
        runs=account_runs(database, service_context(), account),
        failures=account_failures(database, account),
        paused=pause_message(account),
        enablement_form=enablement_form or EnablementForm(formdata=None, prefix="enablement", action="disable" if account.integration_enabled else "enable"),
        decline_form=decline_form or DeclineForm(formdata=None, prefix="decline"),
        pause_form=pause_form or PauseForm(formdata=None, prefix="pause"),
        resume_form=resume_form or ResumeForm(formdata=None, prefix="resume"),
        requeue_form=RequeueForm(formdata=None),
    ), status


@blueprint.get("/accounts/<int(max=2147483647):account_id>")
def account(account_id: int):
    return _account_page(account_id)


@blueprint.post("/accounts/<int(max=2147483647):account_id>/enablement")
def change_enablement(account_id: int):
    database = db_session()
    try:
        account = get_account(database, account_id)
    except NotFound:
        abort(404)
    form = EnablementForm(prefix="enablement")
    if not form.validate_on_submit():
        return _account_page(account_id, enablement_form=form, status=400)
    try:
        set_enablement(database, account, form.action.data == "enable", form.reason.data, current_user)
    except ServiceError as error:
        if error.field == "reason":
            form.reason.errors.append(error.message)
            return _account_page(account_id, enablement_form=form, status=400)
        flash(error.message, "error")
        return redirect(url_for("support.account", account_id=account_id))
    database.commit()
    flash(f"The integration is now {'enabled' if account.integration_enabled else 'disabled'} for {account.name}.", "success")
    return redirect(url_for("support.account", account_id=account_id))


@blueprint.post("/requests/<int(max=2147483647):request_id>/decline")
def decline(request_id: int):
    database = db_session()
    enablement_request = database.get(EnablementRequest, request_id)
    if enablement_request is None:
        abort(404)
    form = DeclineForm(prefix="decline")
    if not form.validate_on_submit():
        return _account_page(enablement_request.account_id, decline_form=form, status=400)
    try:
        decline_request(database, enablement_request, form.reason.data, current_user)
    except ServiceError as error:
        flash(error.message, "error")
        return redirect(url_for("support.account", account_id=enablement_request.account_id))
    database.commit()
    flash("The request was declined.", "success")
    return redirect(url_for("support.account", account_id=enablement_request.account_id))


# ------------------------------------------------------------------ syncs: pause, resume, requeue
def _account_or_404(account_id: int):
    try:
        return get_account(db_session(), account_id)
    except NotFound:
        abort(404)


@blueprint.post("/accounts/<int(max=2147483647):account_id>/pause")
def pause(account_id: int):
    database = db_session()
    account = _account_or_404(account_id)
    form = PauseForm(prefix="pause")
    if not form.validate_on_submit():
        return _account_page(account_id, pause_form=form, status=400)
    try:
        pause_syncs(database, account, form.reason.data, current_user)
    except ServiceError as error:
        database.rollback()
        if error.field == "reason":
            form.reason.errors.append(error.message)
            return _account_page(account_id, pause_form=form, status=400)
        flash(error.message, "error")
        return redirect(url_for("support.account", account_id=account_id))
    database.commit()
    flash(f"Syncs of {account.name} are paused: nothing starts until they are resumed.", "success")
    return redirect(url_for("support.account", account_id=account_id))


@blueprint.post("/accounts/<int(max=2147483647):account_id>/resume")
def resume(account_id: int):
    database = db_session()
    account = _account_or_404(account_id)
    form = ResumeForm(prefix="resume")
    if not form.validate_on_submit():
        return _account_page(account_id, resume_form=form, status=400)
    try:
        waiting = resume_syncs(database, service_context(), account, current_user, form.reason.data or "")
    except ServiceError as error:
        database.rollback()
        flash(error.message, "error")
        return redirect(url_for("support.account", account_id=account_id))
    held = f" The {waiting} customer{'s' if waiting != 1 else ''} Fusebill reported meanwhile will be synced now." if waiting else ""
    flash(f"Syncs of {account.name} are resumed.{held}", "success")
    return redirect(url_for("support.account", account_id=account_id))


@blueprint.post("/runs/<int(max=2147483647):run_id>/requeue")
def requeue(run_id: int):
    database = db_session()
    form = RequeueForm()
    try:
        account_id = run_account(database, run_id).id
    except NotFound:
        abort(404)
    if not form.validate_on_submit():
        flash("The form expired; press Requeue again.", "error")
        return redirect(url_for("support.account", account_id=account_id))
    try:
        outcome = requeue_run(database, service_context(), run_id, current_user)
    except ServiceError as error:
        database.rollback()
        flash(error.message, "error")
        return redirect(url_for("support.account", account_id=account_id))
    marked = f" Run #{outcome.previous.id} had no RQ job left and is marked failed ({outcome.previous.error})." if outcome.marked_failed else ""
    flash(f"Run #{outcome.run.id} is queued.{marked}", "success")
    return redirect(url_for("support.run", run_id=outcome.run.id))


@blueprint.get("/runs/<int(max=2147483647):run_id>")
def run(run_id: int):
    try:
        page, account = support_run_page(db_session(), run_id)
    except NotFound:
        abort(404)
    return render_template("support/run.html", page=page, summary=page.summary, account=account, requeue_form=RequeueForm(formdata=None))


# ------------------------------------------------------------------ installation-wide pages
@blueprint.get("/health")
def health():
    return render_template("support/health.html", health=rq_health(redis_client()))


@blueprint.get("/reconnects")
def reconnects():
    warning_days = settings().refresh_token_warning_days
    return render_template("support/reconnects.html", alerts=connections_needing_attention(db_session(), warning_days), warning_days=warning_days)


@blueprint.get("/audit")
def audit_log():
    database = db_session()
    form = AuditFilterForm(request.args, actions=known_actions(database))
    if not form.validate():
        return render_template("support/audit.html", form=form, page=None, filter_account=None), 400
    filters = form.filters()
    filter_account = None
    if filters.account_id is not None:
        try:
            filter_account = get_account(database, filters.account_id)
        except NotFound:
            filter_account = None
    page = search_events(database, filters, page=form.page_number())
    args = {key: value for key, value in request.args.items() if key != "page" and value}
    return render_template("support/audit.html", form=form, page=page, args=args, filter_account=filter_account)


@blueprint.context_processor
def _helpers():
    from portal.services.audit import what_happened

    return {"what_happened": what_happened}
