"""Every setting the portal, the worker and the CLI read, in one place.

Settings come from the process environment, optionally completed by a `.env` file (values already in
the environment win). They are parsed and validated once, by `Settings.from_env()`, which raises
`SettingsError` naming every missing or malformed variable. Nothing in the project reads
`os.environ` for configuration anywhere else.

`SETTINGS_DOC` below describes each one; a test keeps the README settings table complete.
"""
from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from cryptography.fernet import Fernet

ENVIRONMENTS = ("development", "production", "test")

# name -> (default shown in the README, meaning). Defaults that depend on other settings are described.
SETTINGS_DOC: dict[str, tuple[str, str]] = {
    "PORTAL_ENV": ("development", "`development`, `production` or `test`. Production refuses to start without real secrets."),
    "SECRET_KEY": ("generated (development only)", "Signs session cookies and CSRF tokens. Required in production (at least 32 characters)."),
    "ENCRYPTION_KEYS": ("generated (development only)", "Comma-separated Fernet keys. The first encrypts; all decrypt (key rotation: put the new key first, run `flask --app wsgi rotate-keys`, then drop the old one). Required in production."),
    "DATABASE_URL": ("sqlite:///instance/portal.db", "SQLAlchemy URL. PostgreSQL: `postgresql+psycopg://user:password@host:5432/dbname`."),
    "REDIS_URL": ("redis://127.0.0.1:6379/0", "Redis for the RQ queues and the token-refresh lock. `make run` starts a private Redis when this is unset."),
    "PORTAL_BASE_URL": ("http://127.0.0.1:5000", "Public URL of the portal; the Intuit OAuth redirect URI is built from it (`<base>/setup/connect/callback`)."),
    "INSTANCE_PATH": ("./instance", "Folder for the SQLite database, generated development secrets and demo emulator state."),
    "INTUIT_CLIENT_ID": ("(unset: use the QBO emulator)", "Intuit app client id. When set (with the secret), Connect QuickBooks goes to Intuit's real sandbox/production endpoints."),
    "INTUIT_CLIENT_SECRET": ("(unset)", "Intuit app client secret."),
    "QBO_EMULATOR_URL": ("http://127.0.0.1:8700", "Base URL of the local Intuit OAuth + QBO emulator, used when no Intuit client id is configured."),
    "QBO_MINOR_VERSION": ("75", "QBO API minorversion sent on every call (75 or higher)."),
    "FUSEBILL_STAGING_URL": ("https://stg-secure.fusebill.com/v1", "Fusebill API for the sandbox environment. `make run` points it at the local emulator when unset."),
    "FUSEBILL_PRODUCTION_URL": ("https://secure.fusebill.com/v1", "Fusebill API for the production environment. `make run` points it at the local emulator when unset."),
    "HTTP_TIMEOUT_SECONDS": ("30", "Timeout for every call to Intuit, QBO and Fusebill."),
    "SIGNIN_MAX_FAILURES": ("5", "Failed sign-ins (per email and per client address) allowed before further attempts are slowed down."),
    "SIGNIN_BASE_DELAY_SECONDS": ("30", "First wait after too many failures; doubles with each further failure."),
    "SIGNIN_MAX_DELAY_SECONDS": ("900", "Longest wait imposed on sign-in attempts."),
    "REFRESH_TOKEN_WARNING_DAYS": ("14", "Warn (banner + audit event) when the QBO refresh token expires within this many days."),
    "COMPANY_RECHECK_MINUTES": ("5", "Pages re-read the QBO company's set-up (Automatically apply credits, tax set-up) at most this often, and only when the rate limit has room (0: on every page view)."),
    "TRUST_PROXY_HEADERS": ("false", "Trust one proxy's X-Forwarded-For/-Proto/-Host (set when behind nginx or a load balancer)."),
    "LOG_LEVEL": ("INFO", "Python log level."),
    "FUSEBILL_SANDBOX_REQUESTS_PER_MINUTE": ("48", "Fusebill requests a minute the sync allows itself for the sandbox environment, shared by every worker (Fusebill sandboxes allow 50)."),
    "FUSEBILL_PRODUCTION_REQUESTS_PER_MINUTE": ("950", "The same for the production environment (Fusebill live accounts allow 1,000)."),
    "RATE_LIMIT_TIME_SCALE": ("1", "Emulator runs only (tests, benchmarks): the rate-limit windows the portal keeps in Redis run this many times faster, to match an emulator started with the same `time_scale`. Keep 1 against Intuit and Fusebill."),
    # Email notifications (portal/services/notifications.py). Either SMTP_URL or SMTP_HOST & co.
    "SMTP_URL": ("(unset: no email is sent)", "Mail server for notifications as one URL: `smtp://user:password@host:587?starttls=true` (STARTTLS), `smtps://user:password@host:465` (TLS from the start) or `smtp://host:25` (plain, local relays only). Percent-encode special characters in the user and password. `make run` points it at its local mail sink when unset."),
    "SMTP_HOST": ("(unset)", "The mail server as separate settings instead of `SMTP_URL` (set one or the other)."),
    "SMTP_PORT": ("587 (465 with `SMTP_TLS=ssl`, 25 with `off`)", "Port of `SMTP_HOST`."),
    "SMTP_USER": ("(unset: no login)", "User name to log in to `SMTP_HOST` with (set together with `SMTP_PASSWORD`)."),
    "SMTP_PASSWORD": ("(unset)", "Password for `SMTP_USER`. Never logged or shown."),
    "SMTP_TLS": ("starttls", "`starttls`, `ssl` (TLS from the start) or `off` (plain; refused in production when a password would cross the network unencrypted)."),
    "SMTP_FROM": ("`Fusebill QuickBooks sync <no-reply@localhost>`", "Sender address of notifications. Required in production when a mail server is set."),
}

SMTP_TLS_MODES = ("off", "starttls", "ssl")
SMTP_DEFAULT_PORTS = {"off": 25, "starttls": 587, "ssl": 465}
SMTP_DEFAULT_FROM = "Fusebill QuickBooks sync <no-reply@localhost>"


class SettingsError(ValueError):
    """Raised with a message naming every setting that is missing or malformed."""


@dataclass(frozen=True)
class SmtpSettings:
    """Where notifications are sent. The password is kept out of `repr` (and so out of logs)."""

    host: str
    port: int
    tls: str = "starttls"  # one of SMTP_TLS_MODES
    sender: str = SMTP_DEFAULT_FROM
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def describe(self) -> str:
        """`host:port (tls, as user)`: safe to log and show (no password)."""
        who = f", as {self.username}" if self.username else ""
        return f"{self.host}:{self.port} ({self.tls}{who})"


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    secret_key: str = ""
    encryption_keys: tuple[str, ...] = ()
    database_url: str = ""
    redis_url: str = "redis://127.0.0.1:6379/0"
    base_url: str = "http://127.0.0.1:5000"
    instance_path: Path = field(default_factory=lambda: Path("instance").resolve())
    intuit_client_id: str | None = None
    intuit_client_secret: str | None = None
    qbo_emulator_url: str = "http://127.0.0.1:8700"
    qbo_minor_version: int = 75
    fusebill_staging_url: str = "https://stg-secure.fusebill.com/v1"
    fusebill_production_url: str = "https://secure.fusebill.com/v1"
    http_timeout_seconds: float = 30.0
    signin_max_failures: int = 5
    signin_base_delay_seconds: int = 30
    signin_max_delay_seconds: int = 900
    refresh_token_warning_days: int = 14
    company_recheck_minutes: int = 5
    trust_proxy_headers: bool = False
    log_level: str = "INFO"
    fusebill_sandbox_requests_per_minute: int = 48
    fusebill_production_requests_per_minute: int = 950
    rate_limit_time_scale: float = 1.0
    smtp: SmtpSettings | None = None  # None: notifications are recorded as not sent

    # ------------------------------------------------------------------ derived
    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def uses_real_intuit(self) -> bool:
        """True when Connect QuickBooks talks to Intuit itself rather than the local emulator."""
        return bool(self.intuit_client_id and self.intuit_client_secret)

    @property
    def oauth_redirect_uri(self) -> str:
        return self.base_url.rstrip("/") + "/setup/connect/callback"

    @property
    def serves_https(self) -> bool:
        return urlparse(self.base_url).scheme == "https"

    def fusebill_url(self, environment: str) -> str:
        return self.fusebill_staging_url if environment == "sandbox" else self.fusebill_production_url

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, dotenv_path: str | os.PathLike | None = ".env") -> Settings:
        """Read, parse and validate every setting; raise SettingsError listing all problems at once."""
        values: dict[str, str] = {}
        if dotenv_path is not None and Path(dotenv_path).is_file():
            from dotenv import dotenv_values

            values.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
        values.update(os.environ if environ is None else environ)
        return _parse(values)


def _parse(values: Mapping[str, str]) -> Settings:
    problems: list[str] = []

    def text(name: str, default: str | None = None) -> str | None:
        raw = values.get(name)
        if raw is None or raw.strip() == "":
            return default
        return raw.strip()

    def integer(name: str, default: int, minimum: int | None = None) -> int:
        raw = text(name)
        if raw is None:
            return default
        try:
            number = int(raw)
        except ValueError:
            problems.append(f"{name} must be a whole number, got {raw!r}")
            return default
        if minimum is not None and number < minimum:
            problems.append(f"{name} must be at least {minimum}, got {number}")
        return number

    def number(name: str, default: float) -> float:
        raw = text(name)
        if raw is None:
            return default
        try:
            parsed = float(raw)
        except ValueError:
            problems.append(f"{name} must be a number, got {raw!r}")
            return default
        if parsed <= 0:
            problems.append(f"{name} must be positive, got {raw!r}")
        return parsed

    def boolean(name: str, default: bool) -> bool:
        raw = text(name)
        if raw is None:
            return default
        lowered = raw.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        problems.append(f"{name} must be true or false, got {raw!r}")
        return default

    def url(name: str, default: str, schemes: tuple[str, ...] = ("http", "https")) -> str:
        raw = text(name, default) or default
        parsed = urlparse(raw)
        if parsed.scheme not in schemes or not parsed.netloc:
            problems.append(f"{name} must be an absolute {'/'.join(schemes)} URL, got {raw!r}")
        return raw.rstrip("/")

    env = (text("PORTAL_ENV", "development") or "development").lower()
    if env not in ENVIRONMENTS:
        problems.append(f"PORTAL_ENV must be one of {', '.join(ENVIRONMENTS)}, got {env!r}")
        env = "development"

    instance_path = Path(text("INSTANCE_PATH", "instance") or "instance").resolve()

    database_url = text("DATABASE_URL") or f"sqlite:///{instance_path / 'portal.db'}"
    if not (database_url.startswith("sqlite") or database_url.startswith("postgresql")):
        problems.append(f"DATABASE_URL must be a sqlite:// or postgresql+psycopg:// URL, got {database_url.split('://')[0]}://…")
    elif database_url.startswith("postgresql://") or database_url.startswith("postgres://"):
        problems.append("DATABASE_URL for PostgreSQL must name the psycopg 3 driver: postgresql+psycopg://…")

    redis_url = url("REDIS_URL", "redis://127.0.0.1:6379/0", schemes=("redis", "rediss", "unix"))

    secret_key = text("SECRET_KEY")
    encryption_raw = text("ENCRYPTION_KEYS")
    if env == "production":
        if not secret_key:
            problems.append("SECRET_KEY is required in production (at least 32 random characters)")
        elif len(secret_key) < 32:
            problems.append("SECRET_KEY must be at least 32 characters")
        if not encryption_raw:
            problems.append("ENCRYPTION_KEYS is required in production (generate one with `flask --app wsgi generate-key`)")
    if not secret_key or not encryption_raw:
        generated = _development_secrets(instance_path) if env != "production" else {"secret_key": "", "encryption_key": ""}
        secret_key = secret_key or generated["secret_key"]
        encryption_raw = encryption_raw or generated["encryption_key"]

    encryption_keys = tuple(k.strip() for k in (encryption_raw or "").split(",") if k.strip())
    for index, key in enumerate(encryption_keys):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            problems.append(f"ENCRYPTION_KEYS entry {index + 1} is not a valid Fernet key (32 url-safe base64 bytes)")

    client_id = text("INTUIT_CLIENT_ID")
    client_secret = text("INTUIT_CLIENT_SECRET")
    if bool(client_id) != bool(client_secret):
        problems.append("INTUIT_CLIENT_ID and INTUIT_CLIENT_SECRET must be set together")
    elif env == "production" and not client_id:
        problems.append("INTUIT_CLIENT_ID and INTUIT_CLIENT_SECRET are required in production (without them Connect QuickBooks would use the local emulator)")

    log_level = (text("LOG_LEVEL", "INFO") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        problems.append(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {log_level!r}")

    settings = Settings(
        env=env,
        secret_key=secret_key or "",
        encryption_keys=encryption_keys,
        database_url=database_url,
        redis_url=redis_url,
        base_url=url("PORTAL_BASE_URL", "http://127.0.0.1:5000"),
        instance_path=instance_path,
        intuit_client_id=client_id,
        intuit_client_secret=client_secret,
        qbo_emulator_url=url("QBO_EMULATOR_URL", "http://127.0.0.1:8700"),
        qbo_minor_version=integer("QBO_MINOR_VERSION", 75, minimum=75),
        fusebill_staging_url=url("FUSEBILL_STAGING_URL", "https://stg-secure.fusebill.com/v1"),
        fusebill_production_url=url("FUSEBILL_PRODUCTION_URL", "https://secure.fusebill.com/v1"),
        http_timeout_seconds=number("HTTP_TIMEOUT_SECONDS", 30.0),
        signin_max_failures=integer("SIGNIN_MAX_FAILURES", 5, minimum=1),
        signin_base_delay_seconds=integer("SIGNIN_BASE_DELAY_SECONDS", 30, minimum=1),
        signin_max_delay_seconds=integer("SIGNIN_MAX_DELAY_SECONDS", 900, minimum=1),
        refresh_token_warning_days=integer("REFRESH_TOKEN_WARNING_DAYS", 14, minimum=1),
        fusebill_sandbox_requests_per_minute=integer("FUSEBILL_SANDBOX_REQUESTS_PER_MINUTE", 48, minimum=1),
        fusebill_production_requests_per_minute=integer("FUSEBILL_PRODUCTION_REQUESTS_PER_MINUTE", 950, minimum=1),
        rate_limit_time_scale=number("RATE_LIMIT_TIME_SCALE", 1.0),
        company_recheck_minutes=integer("COMPANY_RECHECK_MINUTES", 5, minimum=0),
        trust_proxy_headers=boolean("TRUST_PROXY_HEADERS", False),
        log_level=log_level,
        smtp=_parse_smtp(text, problems, env),
    )
    if problems:
        raise SettingsError("Invalid settings:\n  - " + "\n  - ".join(problems))
    return settings


def _parse_smtp(text, problems: list[str], env: str) -> SmtpSettings | None:
    """SMTP_URL, or SMTP_HOST/PORT/USER/PASSWORD/TLS, plus SMTP_FROM. Problems never quote a password."""
    from email.utils import parseaddr
    from urllib.parse import parse_qs, unquote, urlsplit

    url, host = text("SMTP_URL"), text("SMTP_HOST")
    sender = text("SMTP_FROM")
    if sender is not None and "@" not in parseaddr(sender)[1]:
        problems.append(f"SMTP_FROM must be an email address (optionally with a name: `Sync <sync@example.com>`), got {sender!r}")
    if url and host:
        problems.append("Set SMTP_URL or SMTP_HOST (with SMTP_PORT, SMTP_USER, …), not both")
        return None
    if url:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            problems.append("SMTP_URL is not a valid URL (check the port, and percent-encode special characters in the user and password)")
            return None
        scheme = parts.scheme.lower()
        if scheme not in ("smtp", "smtps"):
            problems.append(f"SMTP_URL must start with smtp:// or smtps://, got {scheme or 'no scheme'}://…")
            return None
        if not parts.hostname:
            problems.append("SMTP_URL names no host (smtp://user:password@host:port)")
            return None
        if parts.path not in ("", "/") or parts.fragment:
            problems.append("SMTP_URL takes no path: smtp://user:password@host:port?starttls=true")
        query = parse_qs(parts.query, keep_blank_values=True)
        unknown = sorted(set(query) - {"starttls"})
        if unknown:
            problems.append(f"SMTP_URL has unknown options {', '.join(unknown)} (only ?starttls=true is understood)")
        starttls_raw = (query.get("starttls") or ["false"])[-1].lower()
        if starttls_raw not in ("true", "false", "1", "0", "yes", "no"):
            problems.append(f"SMTP_URL option starttls must be true or false, got {starttls_raw!r}")
        starttls = starttls_raw in ("true", "1", "yes")
        if scheme == "smtps" and starttls:
            problems.append("SMTP_URL: smtps:// already uses TLS from the start; drop ?starttls=true (or use smtp://…?starttls=true)")
        tls = "ssl" if scheme == "smtps" else ("starttls" if starttls else "off")
        host = parts.hostname
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        if username and password is None:
            problems.append("SMTP_URL names a user but no password (smtp://user:password@host)")
        port = port or SMTP_DEFAULT_PORTS[tls]
        where = "SMTP_URL"
    elif host:
        tls = (text("SMTP_TLS", "starttls") or "starttls").lower()
        if tls not in SMTP_TLS_MODES:
            problems.append(f"SMTP_TLS must be off, starttls or ssl, got {tls!r}")
            tls = "starttls"
        port_raw = text("SMTP_PORT")
        port = SMTP_DEFAULT_PORTS[tls]
        if port_raw is not None:
            if not port_raw.isdigit() or not 0 < int(port_raw) < 65536:
                problems.append(f"SMTP_PORT must be a port number (1-65535), got {port_raw!r}")
            else:
                port = int(port_raw)
        username, password = text("SMTP_USER"), text("SMTP_PASSWORD")
        if bool(username) != bool(password):
            problems.append("SMTP_USER and SMTP_PASSWORD must be set together")
        where = "SMTP_HOST"
    else:
        for name in ("SMTP_PORT", "SMTP_USER", "SMTP_PASSWORD", "SMTP_TLS"):
            if text(name) is not None:
                problems.append(f"{name} is set but SMTP_HOST is not (set SMTP_HOST, or use SMTP_URL)")
        return None
    if env == "production":
        if sender is None:
            problems.append("SMTP_FROM is required in production when a mail server is set (the address notifications come from)")
        if tls == "off" and password and host not in ("127.0.0.1", "localhost", "::1"):
            problems.append(f"{where}: refusing to send the SMTP password unencrypted to {host}; use STARTTLS or TLS")
    return SmtpSettings(host=host, port=port, tls=tls, sender=sender or SMTP_DEFAULT_FROM, username=username or None, password=password or None)


def _development_secrets(instance_path: Path) -> dict[str, str]:
    """Secrets for a development machine, generated once and kept in the instance folder (mode 600).

    A demo that forgets its session key on every restart signs everybody out; one that forgets its
    encryption key can no longer read the tokens it stored. Production never takes this path.
    """
    path = instance_path / "dev-secrets.json"
    if path.is_file():
        stored = json.loads(path.read_text())
        if {"secret_key", "encryption_key"} <= stored.keys():
            return stored
    instance_path.mkdir(parents=True, exist_ok=True)
    stored = {"secret_key": secrets.token_urlsafe(48), "encryption_key": Fernet.generate_key().decode()}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(stored, handle)
    return stored


def allow_plain_http_to_local_emulator(settings: Settings) -> None:
    """Let requests-oauthlib talk plain http to the local QBO emulator, and to nothing else.

    python-quickbooks sends every API call through requests-oauthlib, which refuses non-https URLs
    unless OAUTHLIB_INSECURE_TRANSPORT is set (stack notes §3.2). The emulator speaks http on the
    loopback interface; real Intuit endpoints are always https, so this is only switched on when no
    Intuit credentials are configured and the emulator URL is a loopback http URL.
    """
    parsed = urlparse(settings.qbo_emulator_url)
    if settings.uses_real_intuit or parsed.scheme != "http":
        return
    if parsed.hostname in ("127.0.0.1", "localhost", "::1"):
        os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")


__all__ = ["Settings", "SettingsError", "SETTINGS_DOC", "SmtpSettings"]
