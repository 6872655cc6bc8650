from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.extensions import db_session, service_context
from portal.matching.forms import CHOICES, AcceptAllForm, BulkForm, DecisionForm, FindMatchesForm
from portal.models.matching import CHOICE_CREATE, CHOICE_LINK
from portal.services import NotFound, ServiceError, matching

blueprint = Blueprint("matching", __name__, url_prefix="/matching")
REFRESH_SECONDS = 3
REFUSALS_SHOWN = 10


def _int_arg(name: str, default: int = 1) -> int:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and len(value) < 8 else default


def _back(form) -> str:
    status = form.status.data if form.status.data in matching.STATUSES else None
    page = form.page.data if isinstance(form.page.data, int) and form.page.data > 1 and not form.page.errors else None
    return url_for("matching.index", status=status, page=page)


def _render_list(status: str, page: int, row_errors: dict[int, str] | None = None, row_values: dict[int, dict[str, str]] | None = None,
                 code: int = 200):
    listing = matching.list_page(db_session(), current_user.account, status=status, page=page)
    scan_active = listing.scan is not None and listing.scan.active
    return render_template("matching/index.html", listing=listing, statuses=matching.STATUSES, row_errors=row_errors or {},
                           row_values=row_values or {}, find_form=FindMatchesForm(formdata=None), bulk_form=BulkForm(formdata=None),
                           accept_form=AcceptAllForm(formdata=None), row_choices=CHOICES, choice_link=CHOICE_LINK, choice_create=CHOICE_CREATE,
                           refresh_seconds=REFRESH_SECONDS if scan_active and not row_errors else None), code


@blueprint.get("/")
def index():
    status = request.args.get("status", "")
    return _render_list(status if status in matching.STATUSES else "", _int_arg("page"))


@blueprint.post("/find")
def find():
    form = FindMatchesForm()
    if not form.validate_on_submit():
        abort(400)
    database = db_session()
    try:
        matching.start_scan(database, service_context(), current_user.account, current_user)
    except ServiceError as error:
        database.rollback()
        flash(error.message, "error")
        return redirect(url_for("matching.index"))
    flash("Finding matches: the list fills in when Fusebill and QuickBooks have been read.", "success")
    return redirect(url_for("matching.index"))


@blueprint.post("/rows/<int:match_id>/decide")
def decide(match_id: int):
    form = DecisionForm()
    database = db_session()
    try:
        matching.row_for(database, current_user.account, match_id)  # another account's row (or none): 404
    except NotFound:
        abort(404)
    status = form.status.data if form.status.data in matching.STATUSES else ""
    page = form.page.data if isinstance(form.page.data, int) and not form.page.errors else 1
    values = {match_id: {"choice": str(form.choice.data or ""), "qbo_customer_id": str(form.qbo_customer_id.data or "")}}
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        errors = [e for f in (form.choice, form.qbo_customer_id, form.status, form.page) for e in f.errors]
        database.rollback()
        return _render_list(status, page, {match_id: errors[0]}, values, 400)
    try:
        customer = matching.decide(database, current_user.account, current_user, match_id, form.choice.data, form.qbo_customer_id.data or "")
    except NotFound:
        abort(404)
    except ServiceError as error:
        database.rollback()
        return _render_list(status, page, {match_id: error.message}, values, 422)
    database.commit()
    flash(f"Saved for Fusebill customer {customer}: it applies at the next sync.", "success")
    return redirect(_back(form))


def _report(outcome: matching.Outcome) -> None:
    if outcome.saved:
        flash(f"Saved for {len(outcome.saved)} customer{'s' if len(outcome.saved) != 1 else ''}: it applies at the next sync.", "success")
    if outcome.refused:
        shown = list(outcome.refused.items())[:REFUSALS_SHOWN]
        more = len(outcome.refused) - len(shown)
        flash(f"Not saved for {len(outcome.refused)} customer{'s' if len(outcome.refused) != 1 else ''}: "
              + " ".join(f"Fusebill customer {fb}: {why}" for fb, why in shown) + (f" (and {more} more)" if more > 0 else ""), "error")


@blueprint.post("/bulk")
def bulk():
    form = BulkForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        flash(next(e for f in (form.rows, form.action, form.status, form.page) for e in f.errors), "error")
        return redirect(_back(form))
    database = db_session()
    try:
        outcome = matching.decide_many(database, current_user.account, current_user, list(form.rows.data), form.action.data)
    except NotFound:
        abort(404)
    except ServiceError as error:
        database.rollback()
        flash(error.message, "error")
        return redirect(_back(form))
    database.commit()
    _report(outcome)
    return redirect(_back(form))


@blueprint.post("/accept-all")
def accept_all():
    form = AcceptAllForm()
    if not form.validate_on_submit():
        abort(400)
    database = db_session()
    try:
        outcome = matching.accept_all_suggested(database, current_user.account, current_user)
    except ServiceError as error:
        database.rollback()
        flash(error.message, "error")
        return redirect(_back(form))
    database.commit()
    _report(outcome)
    return redirect(_back(form))


@blueprint.get("/qbo-customers")
def qbo_customers():
    q = request.args.get("q", "")[:100]
    found = matching.qbo_customers(db_session(), current_user.account, q=q, page=_int_arg("page"))
    return render_template("matching/qbo_customers.html", found=found, q=q)
