"""Command-line tasks: `flask --app wsgi <command>`.

    db upgrade                  apply database migrations
    create-account              add a Fusebill account (integration disabled)
    create-user                 add an account admin or a member of support staff
    seed-demo                   the demo account, its admin and a support user (idempotent)
    generate-key                print a new encryption key for ENCRYPTION_KEYS
    rotate-keys                 re-encrypt stored secrets with the first ENCRYPTION_KEYS key
    sync run --account ID       start a sync of the account's active environment (--wait to follow it)
    sync status --account ID    the last runs and how many records are in each state
"""
from __future__ import annotations

import sys
import time

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
    @click.option("--password", default=None, help="At least 10 characters; asked for (hidden, twice) when not given. "
                  "Prefer --password-stdin: a password on the command line shows in the process list and shell history.")
    @click.option("--password-stdin", "password_stdin", is_flag=True,
                  help="Read the password from the first line of standard input (for a pipe: `printf '%s\\n' \"$PW\" | flask ...`).")
    def create_user_command(email: str, role: str, fusebill_id: str | None, name: str, password: str | None, password_stdin: bool) -> None:
        """Add an account admin (--account required) or a support user."""
        password = _read_password(password, password_stdin)
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

    register_sync_cli(app)

    @app.cli.command("generate-key")
    def generate_key_command() -> None:
        """Print a new Fernet key (put it first in ENCRYPTION_KEYS)."""
        click.echo(Fernet.generate_key().decode())


def _read_password(given: str | None, from_stdin: bool) -> str:
    """The password from --password, from stdin (--password-stdin: read as is, no prompt, so no
    getpass "may be echoed" warning on a pipe), else asked for on the terminal."""
    if from_stdin:
        if given is not None:
            raise click.UsageError("Give either --password or --password-stdin, not both.")
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        password = password[:-1] if password.endswith("\r") else password
        if not password:
            raise click.ClickException("No password on standard input (--password-stdin reads its first line).")
        return password
    if given is not None:
        return given
    if not sys.stdin.isatty():
        raise click.ClickException("No password given and standard input is not a terminal: pipe it with --password-stdin.")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


POLL_SECONDS = 2.0


def _pause(seconds: float) -> None:
    time.sleep(seconds)  # a seam for the tests


def register_sync_cli(app: Flask) -> None:
    from portal.models.account import ENVIRONMENTS

    @app.cli.group("sync")
    def sync_group() -> None:
        """Start the sync and read its state."""

    @sync_group.command("run")
    @click.option("--account", "fusebill_id", required=True, help="The Fusebill account id.")
    @click.option("--environment", type=click.Choice(ENVIRONMENTS), default=None,
                  help="Refuse unless this is the account's active environment (the one a sync runs in).")
    @click.option("--wait", is_flag=True, help="Follow the run until it ends; exit 0 only when it succeeded.")
    @click.option("--full", is_flag=True, help="Read everything from Fusebill, not only what changed since the last run.")
    @click.option("--timeout", type=click.FloatRange(min=0), default=0, help="With --wait: give up waiting after this many seconds (0: never).")
    def sync_run_command(fusebill_id: str, environment: str | None, wait: bool, full: bool, timeout: float) -> None:
        """Start a sync (or join the one already queued or running) and print its run id."""
        from portal.extensions import service_context
        from portal.models.integration import RUN_SUCCEEDED
        from portal.services.sync import start_sync

        ctx = service_context()
        with database().session_scope() as session:
            try:
                account = find_account_by_fusebill_id(session, fusebill_id)
                run = start_sync(session, ctx, account, trigger="cli", environment_kind=environment, full=full)
            except ServiceError as error:
                raise click.ClickException(error.message) from error
            run_id, status = run.id, run.status
        click.echo(f"sync run {run_id} {status} ({account.active_environment} environment of {fusebill_id})")
        if not wait:
            return
        summary = _follow(run_id, timeout)
        click.echo(summary.headline)
        click.echo(_final_counts(summary))
        if summary.run.status != RUN_SUCCEEDED:
            raise click.exceptions.Exit(1)

    @sync_group.command("status")
    @click.option("--account", "fusebill_id", required=True, help="The Fusebill account id.")
    @click.option("--environment", type=click.Choice(ENVIRONMENTS), default=None, help="Default: the active environment.")
    @click.option("--limit", type=click.IntRange(min=1, max=100), default=5, show_default=True, help="How many runs to list.")
    def sync_status_command(fusebill_id: str, environment: str | None, limit: int) -> None:
        """The last runs and the count of records per state."""
        from portal.services.environments import get_environment
        from portal.services.sync import recent_runs
        from portal.services.sync_progress import record_states, summarize

        with database().session_scope() as session:
            try:
                account = find_account_by_fusebill_id(session, fusebill_id)
                kind = environment or account.active_environment
                runs = recent_runs(session, account, kind, limit)
                states = record_states(session, get_environment(session, account, kind))
            except ServiceError as error:
                raise click.ClickException(error.message) from error
            click.echo(f"{account.name} ({account.fusebill_account_id}), {kind} environment"
                       f"{' (active)' if kind == account.active_environment else ''}")
            if not runs:
                click.echo("No sync yet.")
            for run in runs:
                summary = summarize(run)
                finished = f"finished {run.finished_at:%Y-%m-%d %H:%M:%S} UTC" if run.finished_at else "not finished"
                click.echo(f"run {run.id:>5}  {run.status:<9}  {run.trigger:<8}  started {run.started_at:%Y-%m-%d %H:%M:%S} UTC, {finished}")
                click.echo(f"           {summary.customers}; {summary.headline}")
            click.echo("records: " + ", ".join(f"{state} {count}" for state, count in states.items()))


def _follow(run_id: int, timeout: float):
    """Poll the run every POLL_SECONDS, printing a line whenever its progress changes; its summary at the end."""
    from portal.models import SyncRun
    from portal.services.sync_progress import run_states, summarize

    deadline = time.monotonic() + timeout if timeout else None
    last_line = None
    while True:
        with database().session_scope() as session:
            run = session.get_one(SyncRun, run_id)
            summary = summarize(run, None if run.finished else run_states(session, run))
            session.expunge(run)
        line = summary.progress_line
        if line != last_line:
            click.echo(line)
            last_line = line
        if not summary.active:
            return summary
        if deadline is not None and time.monotonic() >= deadline:
            raise click.ClickException(f"run {run_id} is still {summary.run.status} after {timeout:g} s; "
                                       "it goes on in the workers (see `sync status`).")
        _pause(POLL_SECONDS)


def _final_counts(summary) -> str:
    return (f"customers {summary.customers}; QuickBooks documents created {summary.created}, updated {summary.updated}, "
            f"unchanged {summary.unchanged}, deleted {summary.deleted}; records synced {summary.synced}, failed {summary.failed}, "
            f"pending {summary.pending}, skipped {summary.skipped}; requests QuickBooks {summary.qbo_requests}, Fusebill {summary.fusebill_requests}")


def seed_demo(session) -> Account:
    """The demo data: idempotent, so `make run` can call it on every start."""
    account = session.scalar(select(Account).where(Account.fusebill_account_id == DEMO_ACCOUNT["fusebill_account_id"]))
    if account is None:
        account = create_account(session, DEMO_ACCOUNT["name"], DEMO_ACCOUNT["fusebill_account_id"])
    if session.scalar(select(User.id).where(User.email == DEMO_ADMIN["email"])) is None:
        create_user(session, DEMO_ADMIN["email"], DEMO_ADMIN["password"], ROLE_ADMIN, account=account, name=DEMO_ADMIN["name"])
    if session.scalar(select(User.id).where(User.email == DEMO_SUPPORT["email"])) is None:
        create_user(session, DEMO_SUPPORT["email"], DEMO_SUPPORT["password"], ROLE_SUPPORT, name=DEMO_SUPPORT["name"])
    return account
