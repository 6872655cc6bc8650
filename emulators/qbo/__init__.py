"""Local emulator of Intuit OAuth 2.0 and the QuickBooks Online Accounting API v3.

    from emulators.qbo import QboEmulatorConfig, create_app
    app = create_app(QboEmulatorConfig(state_path=None))   # a Flask app (WSGI callable)

Endpoints: the OAuth discovery document at `/.well-known/openid_configuration` (pass its URL to
`intuitlib.AuthClient` as `environment`), the Accounting API under `/v3/company/<realmId>/`, and the
control API under `/_emulator/` (control.py). Behaviour no primary source confirms is set in rules.py.
`emulators.qbo.testing.running_emulator()` starts one in-process for tests.
"""
from __future__ import annotations

from flask import Flask

from .config import QboEmulatorConfig

__all__ = ["QboEmulatorConfig", "create_app"]


def create_app(config: QboEmulatorConfig | None = None) -> Flask:
    """A Flask app serving one emulator instance; its state lives in `app.extensions["qbo_emulator"]`."""
    from . import api, control, oauth
    from .state import EmulatorState

    config = config or QboEmulatorConfig()
    app = Flask(__name__)
    app.config["JSON_SORT_KEYS"] = False
    app.extensions["qbo_emulator"] = EmulatorState(config)
    app.register_blueprint(oauth.blueprint)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(control.blueprint)

    @app.after_request
    def add_intuit_tid(response):
        # Every Intuit response carries a transaction id (intuitlib's AuthClientError reads it).
        response.headers.setdefault("intuit_tid", api.intuit_tid())
        return response

    return app
