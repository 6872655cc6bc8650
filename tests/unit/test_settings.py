"""Settings are read once, typed, and refuse bad values with a message naming each problem."""
from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from portal.settings import SETTINGS_DOC, Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]


def test_development_defaults_work_with_nothing_configured(tmp_path):
    settings = Settings.from_env({"INSTANCE_PATH": str(tmp_path)}, dotenv_path=None)
    assert settings.env == "development"
    assert settings.database_url == f"sqlite:///{tmp_path / 'portal.db'}"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert not settings.uses_real_intuit
    assert settings.oauth_redirect_uri == "http://127.0.0.1:5000/setup/connect/callback"
    # generated secrets are kept, so a restart does not sign everyone out or lose stored tokens
    again = Settings.from_env({"INSTANCE_PATH": str(tmp_path)}, dotenv_path=None)
    assert again.secret_key == settings.secret_key and again.encryption_keys == settings.encryption_keys
    assert (tmp_path / "dev-secrets.json").stat().st_mode & 0o777 == 0o600


def test_production_refuses_to_start_without_real_secrets_and_names_them(tmp_path):
    with pytest.raises(SettingsError) as error:
        Settings.from_env({"PORTAL_ENV": "production", "INSTANCE_PATH": str(tmp_path)}, dotenv_path=None)
    message = str(error.value)
    assert "SECRET_KEY is required in production" in message
    assert "ENCRYPTION_KEYS is required in production" in message
    assert not (tmp_path / "dev-secrets.json").exists()


def test_every_problem_is_reported_at_once(tmp_path):
    with pytest.raises(SettingsError) as error:
        Settings.from_env(
            {
                "INSTANCE_PATH": str(tmp_path),
                "PORTAL_ENV": "staging",
                "QBO_MINOR_VERSION": "65",
                "HTTP_TIMEOUT_SECONDS": "soon",
                "TRUST_PROXY_HEADERS": "maybe",
                "DATABASE_URL": "postgresql://u:p@h/db",
                "ENCRYPTION_KEYS": "not-a-key",
                "INTUIT_CLIENT_ID": "abc",
                "PORTAL_BASE_URL": "portal.example.com",
            },
            dotenv_path=None,
        )
    message = str(error.value)
    for fragment in ("PORTAL_ENV must be one of", "QBO_MINOR_VERSION must be at least 75", "HTTP_TIMEOUT_SECONDS must be a number",
                     "TRUST_PROXY_HEADERS must be true or false", "postgresql+psycopg", "ENCRYPTION_KEYS entry 1 is not a valid Fernet key",
                     "INTUIT_CLIENT_ID and INTUIT_CLIENT_SECRET must be set together", "PORTAL_BASE_URL must be an absolute"):
        assert fragment in message


def test_dotenv_file_is_read_but_the_environment_wins(tmp_path):
    key = Fernet.generate_key().decode()
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"SECRET_KEY={'s' * 40}\nENCRYPTION_KEYS={key}\nREDIS_URL=redis://10.0.0.1:6379/1\n")
    settings = Settings.from_env({"INSTANCE_PATH": str(tmp_path), "REDIS_URL": "redis://127.0.0.1:6390/2"}, dotenv_path=dotenv)
    assert settings.secret_key == "s" * 40
    assert settings.encryption_keys == (key,)
    assert settings.redis_url == "redis://127.0.0.1:6390/2"


def test_real_intuit_is_used_only_with_both_credentials(tmp_path):
    settings = Settings.from_env({"INSTANCE_PATH": str(tmp_path), "INTUIT_CLIENT_ID": "id", "INTUIT_CLIENT_SECRET": "secret"}, dotenv_path=None)
    assert settings.uses_real_intuit


def test_readme_documents_every_setting():
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in SETTINGS_DOC if f"`{name}`" not in readme]
    assert not missing, f"README settings table lacks: {missing}"


def test_no_module_reads_the_environment_for_configuration():
    """Settings are read in portal/settings.py only (the habit the architecture asks for)."""
    offenders = []
    for path in list((ROOT / "portal").rglob("*.py")) + list((ROOT / "jobs").rglob("*.py")):
        if path.name == "settings.py" and path.parent.name == "portal":
            continue
        text = path.read_text()
        if "os.environ" in text or "os.getenv" in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == [] or offenders == ["portal/devrun.py"], offenders


def test_production_requires_real_intuit_credentials(tmp_path):
    from cryptography.fernet import Fernet

    with pytest.raises(SettingsError) as error:
        Settings.from_env({"PORTAL_ENV": "production", "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "s" * 40,
                           "ENCRYPTION_KEYS": Fernet.generate_key().decode()}, dotenv_path=None)
    assert "INTUIT_CLIENT_ID and INTUIT_CLIENT_SECRET are required in production" in str(error.value)
