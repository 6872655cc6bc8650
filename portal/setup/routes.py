"""The setup walk-through for accounts with the integration enabled (gated in portal.gate)."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from portal.extensions import db_session
from portal.services.checklist import setup_checklist

blueprint = Blueprint("setup", __name__, url_prefix="/setup")


@blueprint.get("/")
def overview():  # type: ignore[no-untyped-def]
    account = current_user.account
    steps = setup_checklist(db_session(), account)
    return render_template("setup/overview.html", account=account, steps=steps)
