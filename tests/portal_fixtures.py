"""Fixtures for the portal: settings → database → app (per-test rollback) → client, plus factories.

Every test that uses `app`, `client` or `session` runs twice: on SQLite and on PostgreSQL.
Each test runs inside a transaction that is rolled back afterwards (the app's commits become
savepoints), so tests neither see nor leave each other's rows.
"""
from __future__ import annotations

import os
import re
import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import quote

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from portal import create_app
from portal.db import Database, build_engine
from portal.migrate import upgrade
from portal.models import ROLE_ADMIN, ROLE_SUPPORT, Account, User
from portal.services.environments import create_environments
from portal.settings import Settings

DEFAULT_PG_URL = "postgresql+psycopg://fbqbo:fbqbo@127.0.0.1:5432/fbqbo_test"
TEST_PASSWORD = "correct horse battery"
TEST_ENCRYPTION_KEY = Fernet.generate_key().decode()


@lru_cache(maxsize=1)
def _test_password_hash() -> str:
    # scrypt is slow on purpose; hash the shared test password once per run.
    return generate_password_hash(TEST_PASSWORD, method="scrypt")


@dataclass
class MigratedDatabase:
    backend: str
    url: str
    database: Database


def _postgres_base_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", DEFAULT_PG_URL)


def create_postgres_schema() -> tuple[str, str]:
    """A private schema on the test PostgreSQL database: (url that uses it, schema name)."""
    base = _postgres_base_url()
    schema = f"t_{os.getpid()}_{secrets.token_hex(4)}"
    admin = build_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options={quote(f'-csearch_path={schema}')}", schema


def drop_postgres_schema(schema: str) -> None:
    admin = build_engine(_postgres_base_url())
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


@contextmanager
def fresh_database(backend: str, folder: Path, migrate: bool = True) -> Iterator[MigratedDatabase]:
    """A new database (SQLite file in `folder`, or a private PostgreSQL schema), migrated to head
    unless `migrate` is False; real commits, removed afterwards."""
    schema = None
    if backend == "sqlite":
        url = f"sqlite:///{folder / f'{backend}-{secrets.token_hex(4)}.db'}"
    else:
        url, schema = create_postgres_schema()
    database = Database(url)
    try:
        if migrate:
            with database.engine.connect() as connection:
                upgrade(connection=connection)
                connection.commit()
        yield MigratedDatabase(backend, url, database)
    finally:
        database.dispose()
        if schema is not None:
            drop_postgres_schema(schema)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def migrated_database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedDatabase]:
    """A database migrated to head with Alembic, one per backend for the whole session."""
    with fresh_database(request.param, tmp_path_factory.mktemp(request.param)) as migrated:
        yield migrated


def make_settings(database_url: str, redis_url: str, instance_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = dict(
        env="test",
        secret_key="test-secret-key-" + "x" * 32,
        encryption_keys=(TEST_ENCRYPTION_KEY,),
        database_url=database_url,
        redis_url=redis_url,
        instance_path=instance_path,
        base_url="http://localhost",
        http_timeout_seconds=5.0,
    )
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    """Override in a test module (or parametrize) to change settings for that module's app."""
    return {}


@pytest.fixture
def settings(migrated_database: MigratedDatabase, redis_url: str, tmp_path: Path, settings_overrides: dict[str, object]) -> Settings:
    return make_settings(migrated_database.url, redis_url, tmp_path / "instance", **settings_overrides)


@pytest.fixture
def db_connection(migrated_database: MigratedDatabase) -> Iterator[object]:
    """Bind the shared session factory to one connection inside a transaction rolled back at the end."""
    database = migrated_database.database
    connection = database.engine.connect()
    transaction = connection.begin()
    database.session_factory.configure(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield connection
    finally:
        database.session_factory.configure(bind=database.engine, join_transaction_mode="conservative_savepoint")
        transaction.rollback()
        connection.close()


@pytest.fixture
def app(settings: Settings, migrated_database: MigratedDatabase, db_connection: object) -> Flask:
    return create_app(settings, database=migrated_database.database)


@pytest.fixture
def session(app: Flask, migrated_database: MigratedDatabase) -> Iterator[Session]:
    """A session for arranging and checking rows, in the same rolled-back transaction as the app.

    No app context is pushed here on purpose: a context left pushed would be reused by every request
    of the test client, sharing `g` (and its cached CSRF token and DB session) between requests.
    """
    db = migrated_database.database.new_session()
    yield db
    db.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# ---------------------------------------------------------------- factories
@pytest.fixture
def make_account(session: Session) -> Callable[..., Account]:
    counter = iter(range(1, 10_000))

    def factory(name: str | None = None, enabled: bool = False, fusebill_account_id: str | None = None) -> Account:
        number = next(counter)
        account = Account(
            name=name or f"Account {number}",
            fusebill_account_id=fusebill_account_id or f"FB-T{number:05d}",
            integration_enabled=enabled,
        )
        session.add(account)
        session.flush()
        create_environments(session, account)  # as accounts.create_account does: both exist from the start
        session.commit()
        return account

    return factory


@pytest.fixture
def make_user(session: Session) -> Callable[..., User]:
    counter = iter(range(1, 10_000))

    def factory(role: str = ROLE_ADMIN, account: Account | None = None, email: str | None = None, active: bool = True) -> User:
        number = next(counter)
        user = User(
            email=email or f"{role}{number}@example.com",
            name=f"{role.title()} {number}",
            password_hash=_test_password_hash(),
            role=role,
            account_id=account.id if account is not None else None,
            active=active,
        )
        session.add(user)
        session.commit()
        return user

    return factory


@pytest.fixture
def admin_of(make_user: Callable[..., User]) -> Callable[[Account], User]:
    return lambda account: make_user(ROLE_ADMIN, account)


@pytest.fixture
def support_user(make_user: Callable[..., User]) -> User:
    return make_user(ROLE_SUPPORT, None, email="support@example.com")


# ---------------------------------------------------------------- helpers
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token(client: FlaskClient, page: str) -> str:
    """The CSRF token from a form on `page` (fetched the way a browser would)."""
    response = client.get(page)
    match = _CSRF.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {page} (status {response.status_code})"
    return match.group(1) or match.group(2)


def sign_in(client: FlaskClient, user: User, password: str = TEST_PASSWORD):  # type: ignore[no-untyped-def]
    token = csrf_token(client, "/sign-in")
    response = client.post("/sign-in", data={"email": user.email, "password": password, "csrf_token": token})
    assert response.status_code == 302, f"sign-in failed: {response.status_code}"
    return response


def post_form(client: FlaskClient, page: str, action: str, data: dict[str, str] | None = None, **kwargs):  # type: ignore[no-untyped-def]
    """Submit a form on `page` to `action` with the page's CSRF token, as a browser would."""
    payload = dict(data or {})
    payload["csrf_token"] = csrf_token(client, page)
    return client.post(action, data=payload, **kwargs)


def complete_set_up(app: Flask, session: Session, account: Account, realm: str, kind: str = "sandbox"):  # type: ignore[no-untyped-def]
    """What the walk-through stores once every step is done, inserted directly (the steps themselves are
    tested in tests/integration): a live connection (tokens sealed with the app's key), the ledgers, a
    verified Fusebill key and saved settings. Returns the environment."""
    from datetime import timedelta

    from sqlalchemy import select

    from portal.extensions import vault
    from portal.models import Environment, LedgerChoice, QboConnection, utcnow
    from portal.services.ledgers import required_ledgers

    with app.app_context():
        sealed = vault().encrypt(f"token-of-{realm}")
    environment = session.scalar(select(Environment).where(Environment.account_id == account.id, Environment.kind == kind))
    session.add(QboConnection(environment_id=environment.id, realm_id=realm, company_name=f"Books {realm}", country="US", home_currency="USD",
                              tax_setup="none", access_token_ciphertext=sealed, refresh_token_ciphertext=sealed,
                              access_token_expires_at=utcnow() + timedelta(minutes=50), refresh_token_expires_at=utcnow() + timedelta(days=90)))
    for number, ledger in enumerate(required_ledgers("none"), start=1):
        session.add(LedgerChoice(environment_id=environment.id, realm_id=realm, ledger=ledger, qbo_account_id=str(number),
                                 qbo_account_name=f"Account {number}", qbo_account_type="Income"))
    environment.fusebill_api_key_ciphertext = sealed
    environment.fusebill_key_verified_at = utcnow()
    environment.settings_saved_at = utcnow()
    session.commit()
    return environment
