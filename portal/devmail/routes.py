"""/dev/mail: the mails `make run`'s local SMTP sink caught, newest first (development only)."""
from __future__ import annotations

from flask import Blueprint, render_template

from portal.devmail.sink import caught_mails, mail_folder
from portal.extensions import settings

blueprint = Blueprint("devmail", __name__, url_prefix="/dev")


@blueprint.get("/mail")
def index():
    current = settings()
    folder = mail_folder(current.instance_path)
    smtp = current.smtp.describe() if current.smtp else None
    return render_template("devmail/index.html", mails=caught_mails(folder), folder=folder, smtp=smtp)
