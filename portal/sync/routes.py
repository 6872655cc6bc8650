"""The sync pages (gated in portal.gate: admins of accounts with the integration enabled).

*Sync now* starts a run of the active environment through `services.sync.start_sync` (which runs the
guard, audits and enqueues); the run page shows its progress and what failed, updated in place by
static/sync.js from the progress JSON (without JavaScript: a <noscript> refresh while it runs). The
event log (`/sync/records`) lists every record with filters, keyset pages, CSV and retries
(`services.event_log`). Page GETs only read.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, stream_with_context, url_for
from flask_login import current_user

from portal.extensions import db_session, redis_client, service_context, settings
from portal.models import Environment
from portal.services import NotFound, ServiceError, event_log
from portal.services.checklist import sync_blockers
from portal.services.environments import active_environment
from portal.services.sync import recent_runs, start_sync
from portal.services.sync_progress import plural, record_states, run_page, run_progress, summarize
from portal.sync.forms import RecordFilterForm, RetryForm, SyncNowForm

blueprint = Blueprint("sync", __name__, url_prefix="/sync")
REFRESH_SECONDS = 3  # the <noscript> refresh of a run page while the run is going
POLL_MS = 2000  # static/sync.js asks for the progress JSON this often
FILTER_ARGS = ("run", "type", "state", "customer", "from", "to", "q", "before", "after")
RECENT_RUNS = 20


@blueprint.get("/")
def index():
    database = db_session()
    account = current_user.account
    environment = active_environment(database, account)
    runs = [summarize(run) for run in recent_runs(database, account, limit=RECENT_RUNS)]
    return render_template("sync/index.html", environment=environment, runs=runs, states=record_states(database, environment),
                           overview=event_log.overview(database, environment),
                           blockers=sync_blockers(database, account, settings().refresh_token_warning_days),
                           form=SyncNowForm(formdata=None, origin="sync"),
                           refresh_seconds=REFRESH_SECONDS if any(run.active for run in runs) else None)


@blueprint.post("/start")
def start():
    form = SyncNowForm()
    back = url_for("setup.overview") if form.origin.data == "setup" else url_for("sync.index")
    if not form.validate_on_submit():
        return redirect(back)
    database = db_session()
    try:
        run = start_sync(database, service_context(), current_user.account, actor=current_user, trigger="manual")
    except ServiceError as error:
        database.rollback()
        flash(error.message, "error")  # every reason the guard gave; the page gone back to lists them too
        return redirect(back)
    return redirect(url_for("sync.run", run_id=run.id))


@blueprint.get("/runs/<int:run_id>")
def run(run_id: int):
    try:
        page = run_page(db_session(), current_user.account, run_id, redis=redis_client())
    except NotFound:
        abort(404)
    return render_template("sync/run.html", page=page, summary=page.summary, progress=page.progress,
                           form=SyncNowForm(formdata=None, origin="sync"), poll_ms=POLL_MS,
                           refresh_seconds=REFRESH_SECONDS if page.summary.active else None)


@blueprint.get("/runs/<int:run_id>/progress")
def run_progress_json(run_id: int):
    """The run page's live figures, polled by static/sync.js while the run is going."""
    try:
        progress = run_progress(db_session(), current_user.account, run_id, redis=redis_client())
    except NotFound:
        return jsonify({"error": "No such sync run."}), 404
    return jsonify(progress.as_json())


# ------------------------------------------------------------------ the event log
def _filter_form() -> tuple[RecordFilterForm, Environment]:
    database = db_session()
    environment = active_environment(database, current_user.account)
    form = RecordFilterForm(formdata=request.args, entity_types=event_log.entity_types(database, environment))
    valid = form.validate()
    if valid and form.run.data and not event_log.run_in_environment(database, environment, int(form.run.data)):
        form.run.errors = [*form.run.errors, f"There is no run #{form.run.data} in the {environment.kind} environment."]
        valid = False
    form.valid = valid
    return form, environment


def _back_to_records() -> str:
    """The event log with the filters the button was pressed under (rebuilt, never a URL taken as given)."""
    form = RecordFilterForm(formdata=request.args, entity_types=event_log.entity_types(db_session(), active_environment(db_session(), current_user.account)))
    if not form.validate():
        return url_for("sync.records")
    args: dict[str, Any] = form.filters().args()
    before, after = form.cursor()
    if before:
        args["before"] = str(before)
    elif after:
        args["after"] = str(after)
    return url_for("sync.records", **args)


@blueprint.get("/records")
def records():
    form, environment = _filter_form()
    page, filters = None, None
    if form.valid:
        filters = form.filters()
        before, after = form.cursor()
        page = event_log.records_page(db_session(), environment, filters, before=before, after=after)
    status = 200 if form.valid else 400
    args = filters.args() if filters else {}
    here = dict(args)  # where a Retry comes back to: these filters and this page
    if page is not None and (form.before.data or form.after.data):
        here["before" if form.before.data else "after"] = form.before.data or form.after.data
    return render_template("sync/records.html", environment=environment, form=form, page=page, filters=filters,
                           args=args, here=here, retry_form=RetryForm(formdata=None),
                           failed=event_log.failed_count(db_session(), environment) if page is not None else 0), status


@blueprint.get("/records.csv")
def records_csv():
    form, environment = _filter_form()
    if not form.valid:
        kept: dict[str, Any] = {k: v[:100] for k, v in request.args.items() if k in FILTER_ARGS}
        return redirect(url_for("sync.records", **kept))
    filters = form.filters()
    name = f"sync-records-{environment.kind}.csv"
    return Response(stream_with_context(event_log.csv_rows(db_session(), environment, filters)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _retried(result) -> str:
    what = plural(result.records, "record")
    customers = plural(result.customers, "customer")
    if result.run_id is not None:
        return (f"Retry queued for {what} of {customers}: sync run #{result.run_id} is going now, "
                "and the retry runs as soon as it ends. They show as pending until then.")
    return f"Retry queued for {what} of {customers}: they show as pending until the retry has run."


@blueprint.post("/records/<int:record_id>/retry")
def retry_record(record_id: int):
    form = RetryForm()
    back = _back_to_records()
    if not form.validate_on_submit():
        flash("The form expired; press Retry again.", "error")
        return redirect(back)
    database = db_session()
    try:
        result = event_log.retry_record(database, service_context(), current_user.account, record_id, actor=current_user)
    except NotFound:
        database.rollback()
        abort(404)
    except ServiceError as error:
        database.rollback()
        flash(error.message, "error")
        return redirect(back)
    flash(_retried(result), "success")
    return redirect(back)


@blueprint.post("/records/retry-failed")
def retry_all_failed():
    form = RetryForm()
    back = _back_to_records()
    if not form.validate_on_submit():
        flash("The form expired; press Retry all failed again.", "error")
        return redirect(back)
    database = db_session()
    try:
        result = event_log.retry_all_failed(database, service_context(), current_user.account, actor=current_user)
    except ServiceError as error:
        database.rollback()
        flash(error.message, "error")
        return redirect(back)
    flash(_retried(result), "success")
    return redirect(back)
