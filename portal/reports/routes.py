"""The reconciliation report: "do my books match?", per customer and per ledger, read live from QBO.

GET  /reports/              the latest report of the active environment (or how to get one)
GET  /reports/<id>          one report of this account
GET  /reports/<id>.csv      every line of it as CSV
POST /reports/check         *Check now*: queue a report (one builds at a time per environment)

Views stay thin: the use cases are in `portal.services.reconciliation`; page GETs only read.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, stream_with_context, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from portal.extensions import db_session, service_context
from portal.services import NotFound, ServiceError
from portal.services.reconciliation import STATUS_LABELS, STATUS_TONES, csv_lines, report_for, report_page, request_report

blueprint = Blueprint("reports", __name__, url_prefix="/reports")
REFRESH_SECONDS = 3


class CheckNowForm(FlaskForm):
    """The *Check now* button (its CSRF token is all it carries)."""


def _render(report_id: int | None):
    try:
        page = report_page(db_session(), current_user.account, report_id)
    except NotFound:
        abort(404)
    return render_template("reports/index.html", page=page, report=page.report, form=CheckNowForm(formdata=None),
                           labels=STATUS_LABELS, tones=STATUS_TONES, refresh_seconds=REFRESH_SECONDS if page.active else None)


@blueprint.get("/")
def index():
    return _render(None)


@blueprint.get("/<int:report_id>")
def show(report_id: int):
    return _render(report_id)


@blueprint.get("/<int:report_id>.csv")
def export(report_id: int):
    database = db_session()
    try:
        report = report_for(database, current_user.account, report_id)
    except NotFound:
        abort(404)
    if report.status != "done":
        abort(404, description="This report has no lines yet.")
    def rows():
        try:
            yield from csv_lines(database, report)
        finally:
            database.rollback()  # end the read-only transaction as soon as the last row is sent

    response = Response(stream_with_context(rows()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="reconciliation-{report.id}.csv"'
    return response


@blueprint.post("/check")
def check():
    form = CheckNowForm()
    if not form.validate_on_submit():
        flash("The form expired; press Check now again.", "error")
        return redirect(url_for("reports.index"))
    database = db_session()
    try:
        report = request_report(database, service_context(), current_user.account, current_user)
    except ServiceError as error:
        database.rollback()
        flash(error.message, "error")
        return redirect(url_for("reports.index"))
    return redirect(url_for("reports.show", report_id=report.id))
