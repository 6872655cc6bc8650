from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from portal.clients.qbo import PRODUCTION_API, SANDBOX_API, intuit_app
from portal.crypto import Vault, VaultError, mask
from portal.settings import Settings


def test_vault_round_trip_and_rotation():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    secret = "AB11700000000000000secretrefreshtoken"
    stored = Vault([old]).encrypt(secret)
    assert secret not in stored
    both = Vault([new, old])
    assert both.decrypt(stored) == secret  # the old key still reads
    rotated = both.rotate(stored)
    assert Vault([new]).decrypt(rotated) == secret  # after rotation the old key can go
    with pytest.raises(VaultError):
        Vault([old]).decrypt(rotated)


def test_mask_shows_only_the_end_of_long_secrets():
    assert mask("abcdefghijklmnop") == "mnop"
    assert mask("short") == ""


def _settings(tmp_path, **env):
    return Settings.from_env({"INSTANCE_PATH": str(tmp_path), **env}, dotenv_path=None)


def test_emulator_endpoints_when_no_intuit_credentials(tmp_path):
    app = intuit_app(_settings(tmp_path, QBO_EMULATOR_URL="http://127.0.0.1:8711"), "production")
    assert app.uses_emulator
    assert app.auth_environment == "http://127.0.0.1:8711/.well-known/openid_configuration"
    assert app.api_base == "http://127.0.0.1:8711/v3"
    assert app.minor_version >= 75
    assert app.redirect_uri.endswith("/setup/connect/callback")


@pytest.mark.parametrize("kind,auth,api", [("sandbox", "sandbox", SANDBOX_API), ("production", "production", PRODUCTION_API)])
def test_real_intuit_endpoints_per_environment(tmp_path, kind, auth, api):
    app = intuit_app(_settings(tmp_path, INTUIT_CLIENT_ID="id", INTUIT_CLIENT_SECRET="secret"), kind)
    assert not app.uses_emulator and app.auth_environment == auth and app.api_base == api
