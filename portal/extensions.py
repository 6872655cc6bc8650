"""Flask extensions, created unbound and bound to an app by `create_app`.

Nothing here opens a connection at import time; the database and Redis live on the app
(`app.extensions[...]`) and are reached through the accessors below.
"""
from __future__ import annotations

from flask import current_app, g
from flask_login import LoginManager
from flask_wtf import CSRFProtect
from sqlalchemy.orm import Session

from portal.db import Database
from portal.settings import Settings

login_manager = LoginManager()
csrf = CSRFProtect()

_DATABASE = "portal.database"
_SETTINGS = "portal.settings"
_REDIS = "portal.redis"


def init_database(app, database: Database) -> None:
    app.extensions[_DATABASE] = database

    @app.teardown_appcontext
    def _close_session(exception: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is None:
            return
        if exception is not None:
            session.rollback()
        session.close()


def database() -> Database:
    return current_app.extensions[_DATABASE]


def db_session() -> Session:
    """The session of the current request or app context (one per context, closed at teardown)."""
    if "db_session" not in g:
        g.db_session = database().new_session()
    return g.db_session


def settings() -> Settings:
    return current_app.extensions[_SETTINGS]


def set_settings(app, value: Settings) -> None:
    app.extensions[_SETTINGS] = value


def vault():
    from portal.crypto import Vault

    existing = current_app.extensions.get("portal.vault")
    if existing is None:
        existing = current_app.extensions["portal.vault"] = Vault(settings().encryption_keys)
    return existing


def service_context():
    """What the integration services need, for the current app."""
    from flask import has_request_context

    from portal.services.context import ServiceContext

    return ServiceContext(settings=settings(), database=database(), vault=vault(), redis=redis_client(), interactive=has_request_context())


def redis_client():
    """The app's Redis client, created on first use (so a page that needs no Redis never waits on it)."""
    client = current_app.extensions.get(_REDIS)
    if client is None:
        from redis import Redis

        client = Redis.from_url(settings().redis_url, socket_timeout=10, socket_connect_timeout=5)
        current_app.extensions[_REDIS] = client
    return client
