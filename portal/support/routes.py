"""The support console: find accounts, see their requests and history, enable or disable."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.extensions import db_session
from portal.models import EnablementRequest
from portal.services import NotFound, ServiceError
from portal.services.accounts import get_account, search_accounts
from portal.services.audit import events_for_account
from portal.services.enablement import decline_request, pending_request, set_enablement
from portal.support.forms import AccountSearchForm, DeclineForm, EnablementForm

blueprint = Blueprint("support", __name__, url_prefix="/support")


@blueprint.get("/")
def accounts():  # type: ignore[no-untyped-def]
    form = AccountSearchForm(request.args)
    status = 200
    rows = []
    if form.validate():
        rows = search_accounts(db_session(), form.q.data or "", state=form.state.data or "all")
    else:
        status = 400
    return render_template("support/accounts.html", form=form, rows=rows), status


def _account_page(account_id: int, enablement_form: EnablementForm | None = None, decline_form: DeclineForm | None = None, status: int = 200):  # type: ignore[no-untyped-def]
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
        events=events_for_account(database, account.id),
        enablement_form=enablement_form or EnablementForm(formdata=None, prefix="enablement", action="disable" if account.integration_enabled else "enable"),
        decline_form=decline_form or DeclineForm(formdata=None, prefix="decline"),
    ), status


@blueprint.get("/accounts/<int(max=2147483647):account_id>")
def account(account_id: int):  # type: ignore[no-untyped-def]
    return _account_page(account_id)


@blueprint.post("/accounts/<int(max=2147483647):account_id>/enablement")
def change_enablement(account_id: int):  # type: ignore[no-untyped-def]
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
def decline(request_id: int):  # type: ignore[no-untyped-def]
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
