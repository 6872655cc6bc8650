"""Command-line tasks: `flask --app wsgi <command>`.

    db upgrade                  apply database migrations
    create-account              add a Fusebill account (integration disabled)
    create-user                 add an account admin or a member of support staff
    seed-demo                   the demo account, its admin and a support user (idempotent)
    generate-key                print a new encryption key for ENCRYPTION_KEYS
    rotate-keys                 re-encrypt stored secrets with the first ENCRYPTION_KEYS key
"""
from __future__ import annotations

import click
from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import select

from portal.extensions import database, settings
from portal.models import ROLE_ADMIN, ROLE_SUPPORT, Account, User
from portal.services import ServiceError
from portal.services.accounts import create_account, create_user, find_account_by_fusebill_id

DEMO_ACCOUNT = {"name": "Northwind Subscriptions Ltd", "fusebill_account_id": "FB-DEMO-1001"}
DEMO_ADMIN = {"email": "admin@northwind.example", "password": "northwind-admin-demo", "name": "Nadia Admin"}
DEMO_SUPPORT = {"email": "support@fusebill.example", "password": "fusebill-support-demo", "name": "Sam Support"}


def register_cli(app: Flask) -> None:
    @app.cli.group("db")
    def db_group() -> None:
        """Database migrations."""

    @db_group.command("upgrade")
    @click.option("--revision", default="head", show_default=True)
    def db_upgrade(revision: str) -> None:
        """Apply migrations up to REVISION."""
        from portal.migrate import upgrade

        with database().engine.connect() as connection:
            upgrade(connection=connection, revision=revision)
            connection.commit()
        click.echo(f"database at {revision}")

    @app.cli.command("create-account")
    @click.option("--name", required=True, help="Account name as shown to support.")
    @click.option("--fusebill-id", "fusebill_id", required=True, help="The Fusebill account id.")
    def create_account_command(name: str, fusebill_id: str) -> None:
        """Add a Fusebill account (the integration starts disabled)."""
        with database().session_scope() as session:
            try:
                account = create_account(session, name, fusebill_id)
            except ServiceError as error:
                raise click.ClickException(error.message) from error
            click.echo(f"account {account.id}: {account.name} ({account.fusebill_account_id}), integration disabled")

    @app.cli.command("create-user")
    @click.option("--email", required=True)
    @click.option("--role", type=click.Choice([ROLE_ADMIN, ROLE_SUPPORT]), required=True)
    @click.option("--account", "fusebill_id", default=None, help="Fusebill account id (admins only).")
    @click.option("--name", default="")
    @click.password_option("--password", help="At least 10 characters; asked for when not given.")
    def create_user_command(email: str, role: str, fusebill_id: str | None, name: str, password: str) -> None:
        """Add an account admin (--account required) or a support user."""
        with database().session_scope() as session:
            try:
                account = find_account_by_fusebill_id(session, fusebill_id) if fusebill_id else None
                user = create_user(session, email, password, role, account=account, name=name)
            except ServiceError as error:
                raise click.ClickException(error.message) from error
            click.echo(f"user {user.id}: {user.email} ({user.role})")

    @app.cli.command("seed-demo")
    def seed_demo_command() -> None:
        """Create the demo account (integration disabled), its admin and a support user; print the sign-ins."""
        if settings().is_production:
            raise click.ClickException("seed-demo refuses to run with PORTAL_ENV=production")
        with database().session_scope() as session:
            seed_demo(session)
        click.echo("Demo sign-ins:")
        click.echo(f"  account admin : {DEMO_ADMIN['email']} / {DEMO_ADMIN['password']}")
        click.echo(f"  support staff : {DEMO_SUPPORT['email']} / {DEMO_SUPPORT['password']}")

    @app.cli.command("rotate-keys")
    def rotate_keys_command() -> None:
        """Re-encrypt every stored secret with the first key of ENCRYPTION_KEYS."""
        from portal.extensions import service_context
        from portal.services.secrets import rotate_all

        count = rotate_all(service_context())
        click.echo(f"re-encrypted {count} stored secrets with the primary key")

    @app.cli.command("generate-key")
    def generate_key_command() -> None:
        """Print a new Fernet key (put it first in ENCRYPTION_KEYS)."""
        click.echo(Fernet.generate_key().decode())


def seed_demo(session) -> Account:  # type: ignore[no-untyped-def]
    """The demo data: idempotent, so `make run` can call it on every start."""
    account = session.scalar(select(Account).where(Account.fusebill_account_id == DEMO_ACCOUNT["fusebill_account_id"]))
    if account is None:
        account = create_account(session, DEMO_ACCOUNT["name"], DEMO_ACCOUNT["fusebill_account_id"])
    if session.scalar(select(User.id).where(User.email == DEMO_ADMIN["email"])) is None:
        create_user(session, DEMO_ADMIN["email"], DEMO_ADMIN["password"], ROLE_ADMIN, account=account, name=DEMO_ADMIN["name"])
    if session.scalar(select(User.id).where(User.email == DEMO_SUPPORT["email"])) is None:
        create_user(session, DEMO_SUPPORT["email"], DEMO_SUPPORT["password"], ROLE_SUPPORT, name=DEMO_SUPPORT["name"])
    return account
