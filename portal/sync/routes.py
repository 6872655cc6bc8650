"""The sync pages (gated in portal.gate: admins of accounts with the integration enabled).

*Sync now* starts a run of the active environment through `services.sync.start_sync` (which runs the
guard, audits and enqueues); the run page shows its progress and what failed, and reloads itself
while the run is queued or running. Page GETs only read.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from portal.extensions import db_session, service_context, settings
from portal.services import NotFound, ServiceError
from portal.services.checklist import sync_blockers
from portal.services.environments import active_environment
from portal.services.sync import recent_runs, start_sync
from portal.services.sync_progress import record_states, run_page, summarize
from portal.sync.forms import SyncNowForm

blueprint = Blueprint("sync", __name__, url_prefix="/sync")
REFRESH_SECONDS = 3
RECENT_RUNS = 20


@blueprint.get("/")
def index():  # type: ignore[no-untyped-def]
    database = db_session()
    account = current_user.account
    environment = active_environment(database, account)
    runs = [summarize(run) for run in recent_runs(database, account, limit=RECENT_RUNS)]
    return render_template("sync/index.html", environment=environment, runs=runs, states=record_states(database, environment),
                           blockers=sync_blockers(database, account, settings().refresh_token_warning_days),
                           form=SyncNowForm(formdata=None, origin="sync"),
                           refresh_seconds=REFRESH_SECONDS if any(run.active for run in runs) else None)


@blueprint.post("/start")
def start():  # type: ignore[no-untyped-def]
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
def run(run_id: int):  # type: ignore[no-untyped-def]
    try:
        page = run_page(db_session(), current_user.account, run_id)
    except NotFound:
        abort(404)
    return render_template("sync/run.html", page=page, summary=page.summary, form=SyncNowForm(formdata=None, origin="sync"),
                           refresh_seconds=REFRESH_SECONDS if page.summary.active else None)
