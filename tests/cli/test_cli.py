"""The `flask --app wsgi ...` commands support staff and operators use."""
from __future__ import annotations

from sqlalchemy import func, select

from portal.cli import DEMO_ADMIN, DEMO_SUPPORT
from portal.models import Account, AuditEvent, User


def test_create_account_and_admin_user(app, session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-account", "--name", "Acme Ltd", "--fusebill-id", "FB-777"])
    assert result.exit_code == 0, result.output
    assert "integration disabled" in result.output
    result = runner.invoke(args=["create-user", "--email", "Boss@Acme.example", "--role", "admin", "--account", "FB-777", "--password", "long enough pw"])
    assert result.exit_code == 0, result.output
    user = session.scalar(select(User).where(User.email == "boss@acme.example"))
    assert user.role == "admin" and user.account.fusebill_account_id == "FB-777"
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action.in_(["account.created", "user.created"]))) == 2


def test_create_user_explains_mistakes(app):
    runner = app.test_cli_runner()
    short = runner.invoke(args=["create-user", "--email", "a@b.example", "--role", "support", "--password", "short"])
    assert short.exit_code != 0 and "at least 10 characters" in short.output
    orphan = runner.invoke(args=["create-user", "--email", "a@b.example", "--role", "admin", "--password", "long enough pw"])
    assert orphan.exit_code != 0 and "An admin must belong to an account" in orphan.output
    unknown = runner.invoke(args=["create-user", "--email", "a@b.example", "--role", "admin", "--account", "FB-NOPE", "--password", "long enough pw"])
    assert unknown.exit_code != 0 and "No account with Fusebill id FB-NOPE" in unknown.output
    bad_email = runner.invoke(args=["create-user", "--email", "not-an-address", "--role", "support", "--password", "long enough pw"])
    assert bad_email.exit_code != 0 and "Not a valid email address" in bad_email.output


def test_seed_demo_is_idempotent_and_prints_the_sign_ins(app, session):
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["seed-demo"])
        assert result.exit_code == 0, result.output
    assert DEMO_ADMIN["email"] in result.output and DEMO_SUPPORT["password"] in result.output
    assert session.scalar(select(func.count()).select_from(Account)) == 1
    assert session.scalar(select(Account)).integration_enabled is False
    assert session.scalar(select(func.count()).select_from(User)) == 2


def test_generate_key_prints_a_fernet_key(app):
    from cryptography.fernet import Fernet

    result = app.test_cli_runner().invoke(args=["generate-key"])
    Fernet(result.output.strip().encode())
