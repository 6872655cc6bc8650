"""The portal: a Flask app where a Fusebill account sets up its QuickBooks Online sync.

`create_app()` is the only way an app is built; nothing is created at import time.
"""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, redirect, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user

from portal.db import Database
from portal.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
MAX_REQUEST_BYTES = 1024 * 1024


class _SessionInterface(SecureCookieSessionInterface):
    """Marks the session cookie Secure whenever the portal is reached over https."""

    def get_cookie_secure(self, app: Flask) -> bool:  # type: ignore[override]
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

    if settings.trust_proxy_headers:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]

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

    @extensions.login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        if not user_id.isdigit():
            return None
        user = extensions.db_session().get(User, int(user_id))
        return user if user is not None and user.active else None

    from portal.auth.routes import blueprint as auth_blueprint
    from portal.landing.routes import blueprint as landing_blueprint
    from portal.setup.routes import blueprint as setup_blueprint
    from portal.support.routes import blueprint as support_blueprint
    from portal.sync.routes import blueprint as sync_blueprint

    app.register_blueprint(auth_blueprint)
    app.register_blueprint(landing_blueprint)
    app.register_blueprint(setup_blueprint)
    app.register_blueprint(support_blueprint)
    app.register_blueprint(sync_blueprint)

    from portal.errors import register_error_handlers
    from portal.gate import register_gate
    from portal.templating import register_template_helpers

    # The gate runs before the CSRF check: who may see a page is decided before what they sent.
    register_gate(app)
    extensions.csrf.init_app(app)
    register_error_handlers(app)
    register_template_helpers(app)

    @app.after_request
    def security_headers(response):  # type: ignore[no-untyped-def]
        # No page of the portal may be framed (its one-click forms would be clickjackable).
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.get("/")
    def home():  # type: ignore[no-untyped-def]
        if current_user.is_support:
            return redirect(url_for("support.accounts"))
        return redirect(url_for("setup.overview"))

    @app.get("/healthz")
    def health():  # type: ignore[no-untyped-def]
        return {"status": "ok"}

    from portal.cli import register_cli

    register_cli(app)
    return app
