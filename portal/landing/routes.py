"""The feature-disabled landing screen an admin sees until support enables the integration."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from portal.extensions import db_session
from portal.landing.forms import EnablementRequestForm
from portal.services import ServiceError
from portal.services.enablement import pending_request, request_enablement

blueprint = Blueprint("landing", __name__, url_prefix="/integration-disabled")


@blueprint.get("/")
def disabled():
    form = EnablementRequestForm()
    pending = pending_request(db_session(), current_user.account_id)
    return render_template("landing/disabled.html", form=form, pending=pending, account=current_user.account)


@blueprint.post("/request")
def request_it():
    form = EnablementRequestForm()
    database = db_session()
    if not form.validate_on_submit():
        pending = pending_request(database, current_user.account_id)
        return render_template("landing/disabled.html", form=form, pending=pending, account=current_user.account), 400
    try:
        outcome = request_enablement(database, current_user, form.message.data or "")
    except ServiceError as error:
        flash(error.message, "error")
        return redirect(url_for("landing.disabled"))
    database.commit()
    if outcome.created:
        flash("Your request has been sent to Fusebill support. You will be able to set up QuickBooks Online as soon as they enable it.", "success")
    else:
        flash(f"Enablement was already requested on {outcome.request.requested_at:%d %b %Y at %H:%M} UTC; support has it.", "info")
    return redirect(url_for("landing.disabled"))
