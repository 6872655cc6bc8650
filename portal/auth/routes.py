"""Sign-in and sign-out."""
from __future__ import annotations

from urllib.parse import unquote, urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from portal.auth.forms import SignInForm
from portal.extensions import db_session, settings
from portal.services.signin import SESSION_VERSION_KEY, ThrottlePolicy, end_sessions
from portal.services.signin import sign_in as check_sign_in

blueprint = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str | None:
    """Only follow plain same-site paths after sign-in (no open redirect).

    Judged on the decoded text too, so `/%2F%2Fhost`, `/\\host` and control characters never pass.
    """
    if not target:
        return None
    decoded = unquote(target)
    for text in (target, decoded):
        parts = urlsplit(text)
        if parts.scheme or parts.netloc or not text.startswith("/") or text[1:2] in ("/", "\\"):
            return None
        if "\\" in text or any(ord(ch) < 32 for ch in text):
            return None
    return target


@blueprint.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    if current_user.is_authenticated:
        return redirect(url_for("home"))
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        config = settings()
        policy = ThrottlePolicy(config.signin_max_failures, config.signin_base_delay_seconds, config.signin_max_delay_seconds,
                                client_max_failures=10 * config.signin_max_failures)
        database = db_session()
        result = check_sign_in(database, form.email.data, form.password.data, request.remote_addr, policy)
        database.commit()
        if result.user is not None:  # result.ok
            next_url = _safe_next(request.args.get("next"))
            session.clear()  # a fresh session on sign-in: no fixation
            login_user(result.user)
            session[SESSION_VERSION_KEY] = result.user.session_version
            return redirect(next_url or url_for("home"))
        form.password.errors.append(result.error)
        if result.retry_after_seconds:
            return render_template("auth/sign_in.html", form=form), 429, {"Retry-After": str(result.retry_after_seconds)}
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/sign_in.html", form=form), status


@blueprint.post("/sign-out")
def sign_out():
    # The session is a signed cookie: clearing it here would not stop a copy of it. Raising the
    # user's session version makes every earlier cookie of theirs stop loading the user.
    end_sessions(current_user._get_current_object())
    db_session().commit()
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.sign_in"))
