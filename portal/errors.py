"""Styled error pages. No stack trace ever reaches a user; server errors are logged with an id."""
from __future__ import annotations

import logging
import secrets

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

_TITLES = {
    400: ("Bad request", "The request could not be understood."),
    401: ("Please sign in", "You need to sign in to do that."),
    403: ("Not allowed", "You do not have access to this page."),
    404: ("Page not found", "There is no page at this address. Check the link, or go back to the start."),
    405: ("Not allowed", "This page cannot be used that way."),
    413: ("Too large", "What you sent is too large."),
    429: ("Slow down", "Too many requests. Wait a moment and try again."),
    500: ("Something went wrong", "An unexpected error happened on our side. It has been logged; please try again."),
}


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return render_template(
            "errors/error.html",
            code=400,
            title="This form has expired",
            message="The form was missing its security token or it expired. Go back, reload the page and try again.",
        ), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        code = error.code or 500
        title, message = _TITLES.get(code, (error.name, error.description or ""))
        # Our own abort(403, description=...) carries a message meant for the user.
        if code in (400, 403) and error.description and error.description != type(error).description:
            message = error.description
        response = error.get_response()
        body = render_template("errors/error.html", code=code, title=title, message=message)
        return body, code, {k: v for k, v in response.headers.items() if k.lower() in ("allow", "retry-after", "www-authenticate")}

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        if isinstance(error, HTTPException):
            return http_error(error)
        incident = secrets.token_hex(6)
        log.exception("unhandled error %s on %s %s", incident, request.method, request.path)
        title, message = _TITLES[500]
        return render_template("errors/error.html", code=500, title=title, message=message, incident=incident), 500
