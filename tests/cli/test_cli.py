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


def test_rotate_keys_re_encrypts_every_secret_with_the_new_primary_key(app, session, make_account):
    from cryptography.fernet import Fernet

    from portal import create_app
    from portal.crypto import Vault
    from portal.models import Environment, QboConnection

    old_key = app.extensions["portal.settings"].encryption_keys[0]
    old = Vault([old_key])
    account = make_account(enabled=True)
    environment = session.query(Environment).filter_by(account_id=account.id, kind="sandbox").one()
    environment.fusebill_api_key_ciphertext = old.encrypt("fusebill-key")
    session.flush()
    session.add(QboConnection(environment_id=environment.id, realm_id="1", token_version=0,
                              access_token_ciphertext=old.encrypt("access"), refresh_token_ciphertext=old.encrypt("refresh")))
    session.commit()
    new_key = Fernet.generate_key().decode()
    rotated_app = create_app(app.extensions["portal.settings"].with_overrides(encryption_keys=(new_key, old_key)), database=app.extensions["portal.database"])
    result = rotated_app.test_cli_runner().invoke(args=["rotate-keys"])
    assert result.exit_code == 0 and "re-encrypted 3 stored secrets" in result.output
    session.expire_all()
    new_only = Vault([new_key])
    assert new_only.decrypt(session.get(Environment, environment.id).fusebill_api_key_ciphertext) == "fusebill-key"
    connection = session.query(QboConnection).one()
    assert new_only.decrypt(connection.refresh_token_ciphertext) == "refresh"


def test_create_user_reads_the_password_from_stdin(app, session):
    from werkzeug.security import check_password_hash

    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-user", "--email", "piped@fusebill.example", "--role", "support", "--password-stdin"],
                           input="a piped password with spaces\n")
    assert result.exit_code == 0, result.output
    user = session.scalar(select(User).where(User.email == "piped@fusebill.example"))
    assert check_password_hash(user.password_hash, "a piped password with spaces")  # the newline is not part of it
    both = runner.invoke(args=["create-user", "--email", "x@fusebill.example", "--role", "support", "--password", "long enough pw", "--password-stdin"],
                         input="long enough pw\n")
    assert both.exit_code != 0 and "either --password or --password-stdin" in both.output
    empty = runner.invoke(args=["create-user", "--email", "y@fusebill.example", "--role", "support", "--password-stdin"], input="")
    assert empty.exit_code != 0 and "No password on standard input" in empty.output
    short = runner.invoke(args=["create-user", "--email", "z@fusebill.example", "--role", "support", "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "at least 10 characters" in short.output
    assert session.scalar(select(func.count()).select_from(User).where(User.email.in_(["x@fusebill.example", "y@fusebill.example", "z@fusebill.example"]))) == 0


def test_create_user_from_a_real_pipe_prints_no_getpass_warning(tmp_path):
    """`printf … | flask --app wsgi create-user … --password-stdin` in a real process: no prompt, no
    "Password input may be echoed" warning, and the password works; without the flag a pipe is refused
    with a pointer to it instead of prompting."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from sqlalchemy import create_engine
    from werkzeug.security import check_password_hash

    root = Path(__file__).resolve().parents[2]
    database_file = tmp_path / "portal.db"
    env = {**os.environ, "PORTAL_ENV": "development", "INSTANCE_PATH": str(tmp_path / "instance"),
           "DATABASE_URL": f"sqlite:///{database_file}", "REDIS_URL": "redis://127.0.0.1:1/0"}

    def flask(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=root, env=env, input=stdin,
                              capture_output=True, text=True, timeout=120)

    assert flask("db", "upgrade").returncode == 0
    piped = flask("create-user", "--email", "ops@fusebill.example", "--role", "support", "--password-stdin", stdin="from a pipe 123\n")
    assert piped.returncode == 0, piped.stderr
    assert "user " in piped.stdout and "ops@fusebill.example" in piped.stdout
    assert "Warning" not in piped.stderr and "echoed" not in piped.stderr and "Password:" not in piped.stdout + piped.stderr
    refused = flask("create-user", "--email", "other@fusebill.example", "--role", "support", stdin="from a pipe 123\n")
    assert refused.returncode != 0 and "--password-stdin" in refused.stderr and "echoed" not in refused.stderr
    engine = create_engine(f"sqlite:///{database_file}")
    with engine.connect() as connection:
        from sqlalchemy import text

        rows = connection.execute(text("SELECT email, password_hash FROM users")).all()
    engine.dispose()
    assert [email for email, _ in rows] == ["ops@fusebill.example"]
    assert check_password_hash(rows[0][1], "from a pipe 123")
