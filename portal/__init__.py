"""The portal: a Flask app where a Fusebill account sets up its QuickBooks Online sync.

`create_app()` is the only way an app is built; nothing is created at import time.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, abort, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user

from portal.db import Database
from portal.logsafe import quiet_secret_loggers
from portal.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
MAX_REQUEST_BYTES = 1024 * 1024
# No inline script or style anywhere: every page uses only the portal's own files. `form-action` is
# left open on purpose: Connect QuickBooks posts to the portal, which redirects to Intuit.
CONTENT_SECURITY_POLICY = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class _SessionInterface(SecureCookieSessionInterface):
    """Marks the session cookie Secure whenever the portal is reached over https."""

    def get_cookie_secure(self, app: Flask) -> bool:
        from flask import has_request_context, request

        if app.config["SESSION_COOKIE_SECURE"]:
            return True
        return has_request_context() and request.is_secure


def create_app(settings: Settings | None = None, database: Database | None = None) -> Flask:
    """Build the portal. `settings` defaults to the environment; `database` to one built from them."""
    settings = settings or Settings.from_env()
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(settings.instance_path),
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.serves_https,
        SESSION_COOKIE_NAME="fbqbo_session",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.serves_https,
        PERMANENT_SESSION_LIFETIME=60 * 60 * 12,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        WTF_CSRF_TIME_LIMIT=60 * 60 * 4,
        TESTING=settings.env == "test",
    )
    app.session_interface = _SessionInterface()
    logging.getLogger("portal").setLevel(settings.log_level)
    logging.getLogger("jobs").setLevel(settings.log_level)
    quiet_secret_loggers()

    if settings.trust_proxy_headers:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]  # Flask's documented way to wrap its WSGI app

    from portal import extensions
    from portal.models import User
    from portal.settings import allow_plain_http_to_local_emulator

    allow_plain_http_to_local_emulator(settings)

    extensions.set_settings(app, settings)
    extensions.init_database(app, database or Database(settings.database_url))
    extensions.login_manager.init_app(app)
    extensions.login_manager.login_view = "auth.sign_in"
    extensions.login_manager.login_message = "Please sign in to continue."
    extensions.login_manager.session_protection = "strong"

    from portal.services.signin import SESSION_VERSION_KEY

    @extensions.login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        if not user_id.isdigit():
            return None
        user = extensions.db_session().get(User, int(user_id))
        if user is None or not user.active:
            return None
        # A cookie from before the user's last sign-out (or disabling, or new password) is dead.
        if session.get(SESSION_VERSION_KEY) != user.session_version:
            return None
        return user

    from portal.auth.routes import blueprint as auth_blueprint
    from portal.landing.routes import blueprint as landing_blueprint
    from portal.matching.routes import blueprint as matching_blueprint
    from portal.reports.routes import blueprint as reports_blueprint
    from portal.setup.routes import blueprint as setup_blueprint
    from portal.support.routes import blueprint as support_blueprint
    from portal.sync.routes import blueprint as sync_blueprint
    from portal.webhooks.routes import blueprint as webhooks_blueprint

    app.register_blueprint(auth_blueprint)
    app.register_blueprint(landing_blueprint)
    app.register_blueprint(setup_blueprint)
    app.register_blueprint(support_blueprint)
    app.register_blueprint(sync_blueprint)
    app.register_blueprint(matching_blueprint)
    app.register_blueprint(reports_blueprint)
    app.register_blueprint(webhooks_blueprint)
    extensions.csrf.exempt(webhooks_blueprint)  # Fusebill posts here: its URL token and key authenticate it
    if settings.env == "development":  # `make run`'s caught-mail page; absent (404) in test and production
        from portal.devmail.routes import blueprint as devmail_blueprint

        app.register_blueprint(devmail_blueprint)

    from portal.errors import register_error_handlers
    from portal.gate import register_gate
    from portal.templating import register_template_helpers

    # The gate runs before the CSRF check: who may see a page is decided before what they sent.
    register_gate(app)
    extensions.csrf.init_app(app)
    _register_same_origin_check(app, settings)
    register_error_handlers(app)
    register_template_helpers(app)

    @app.after_request
    def security_headers(response):
        # No page of the portal may be framed (its one-click forms would be clickjackable).
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.endpoint != "static":
            # Pages carry account data and CSRF tokens: never kept by the browser or a proxy (the
            # back button after sign-out must not show them). Static files keep their caching.
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/")
    def home():
        if current_user.is_support:
            return redirect(url_for("support.accounts"))
        return redirect(url_for("setup.overview"))

    @app.get("/healthz")
    def health():
        return {"status": "ok"}

    from portal.cli import register_cli

    register_cli(app)
    _hide_server_banner()
    return app


def _register_same_origin_check(app: Flask, settings: Settings) -> None:
    """Refuse (400) a state-changing request that says it comes from another site.

    A second line behind the CSRF token: browsers send `Origin` (or at least `Referer`) on a form
    post, and a post from another origin is refused even with a valid token. A request with neither
    (a non-browser client) is left to the token. Views exempt from CSRF (webhooks) are exempt here.
    """
    base_host = urlsplit(settings.base_url).netloc.lower()

    @app.before_request
    def same_origin_only():
        if request.method not in UNSAFE_METHODS or request.endpoint is None:
            return None
        from portal.extensions import csrf

        if csrf._is_exempt():  # flask-wtf's own test of `csrf.exempt`
            return None
        source = request.headers.get("Origin") or request.headers.get("Referer")
        if not source:
            return None
        parts = urlsplit(source)
        host = parts.netloc.lower() if parts.scheme in ("http", "https") else ""
        if host and host in (request.host.lower(), base_host):
            return None
        abort(400, description="This form was sent from another site, so it was refused. Open the portal and try again.")


def _hide_server_banner() -> None:
    """Under gunicorn, send no `Server: gunicorn` header (it tells an attacker what to aim at).

    gunicorn has no setting for it; its response writes the header from `default_headers`, which is
    wrapped here once per process (the app is built in each worker, or in the master with --preload,
    so every gunicorn command line — `make run` and production alike — gets it).
    """
    if "gunicorn" not in sys.modules:
        return
    from gunicorn.http import wsgi as gunicorn_wsgi

    response_class = gunicorn_wsgi.Response
    if getattr(response_class, "_portal_hides_server", False):
        return
    original = response_class.default_headers

    def default_headers(self):
        return [line for line in original(self) if not line.lower().startswith("server:")]

    response_class.default_headers = default_headers
    response_class._portal_hides_server = True
