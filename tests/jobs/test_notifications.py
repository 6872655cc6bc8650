"""Email notifications against a real local SMTP server (aiosmtpd), a real Redis and forked RQ work
horses, on SQLite and PostgreSQL: each cause is mailed once, a mail server that is down is retried
and never fails a sync, and the SMTP settings refuse bad values at start-up."""
from __future__ import annotations

import logging
from datetime import timedelta
from email import message_from_bytes, policy
from typing import Any

import pytest
from redis import Redis
from rq import Queue, Worker
from sqlalchemy import select

from jobs import context as job_context
from jobs.notify import PENDING_KEY, check_notifications
from jobs.queues import MAINTENANCE
from portal import create_app
from portal.devmail.sink import free_port
from portal.models import Account, Environment, Notification, QboConnection, SyncRecord, SyncRun, utcnow
from portal.services.environments import create_environments
from portal.settings import Settings, SettingsError, SmtpSettings
from tests.portal_fixtures import fresh_database, make_settings

ADDRESS = "books@example.com"
SMTP_USER, SMTP_PASSWORD = "sync-mailer", "s3cret-Pa55word"


class Inbox:
    """What the SMTP server received: (envelope recipients, parsed message)."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Any]] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)))
        return "250 OK"

    def bodies(self, index: int) -> tuple[str, str]:
        message = self.messages[index][1]
        return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def smtp_server(port: int, inbox: Inbox, **options: Any):  # type: ignore[no-untyped-def]
    from aiosmtpd.controller import Controller

    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    return controller


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request, tmp_path, redis_url):  # type: ignore[no-untyped-def]
    """A migrated database, an app whose SMTP settings name a free local port (the server is started
    by the test, or not: down), and the jobs running in that app."""
    smtp_port = free_port()
    smtp = SmtpSettings(host="127.0.0.1", port=smtp_port, tls="off", sender="Sync <sync@example.com>")
    with fresh_database(request.param, tmp_path) as fresh:
        settings = make_settings(fresh.url, redis_url, tmp_path / "instance", base_url="https://portal.example.com", smtp=smtp)
        redis = Redis.from_url(redis_url)
        redis.flushdb()
        world = World(None, fresh.database, redis, smtp_port, settings)
        world.use(settings)
        try:
            yield world
        finally:
            job_context.use_context(None)
            job_context.use_app(None)


class World:
    def __init__(self, app, database, redis, smtp_port, settings) -> None:  # type: ignore[no-untyped-def]
        self.app, self.database, self.redis, self.smtp_port, self.settings = app, database, redis, smtp_port, settings

    def use(self, settings: Settings):  # type: ignore[no-untyped-def]
        """Run jobs (here and in work horses) in an app with these settings. job_context() forgets an
        inherited pool without closing it (right in a fork): close this process's connections first."""
        self.app = create_app(settings, database=self.database)
        job_context.use_app(self.app)
        job_context.use_context(None)
        self.database.engine.dispose()
        job_context.job_context()
        return self.app

    def environment(self, name: str = "Northwind", address: str | None = ADDRESS, enabled: bool = True) -> int:
        with self.database.session_scope() as session:
            account = Account(name=name, fusebill_account_id=f"FB-{name}", integration_enabled=enabled)
            session.add(account)
            session.flush()
            sandbox = next(e for e in create_environments(session, account) if e.kind == "sandbox")
            sandbox.notification_email = address
            session.flush()
            return sandbox.id

    def connection(self, environment_id: int, company: str = "Northwind Books", expires_in_days: float = 90) -> int:
        with self.database.session_scope() as session:
            connection = QboConnection(environment_id=environment_id, realm_id=f"realm-{company}", company_name=company,
                                       refresh_token_ciphertext="x", refresh_token_expires_at=utcnow() + timedelta(days=expires_in_days))
            session.add(connection)
            session.flush()
            return connection.id

    def running_run(self, environment_id: int, connection_id: int, states: dict[str, int]) -> int:
        """A running run that touched records in these states."""
        with self.database.session_scope() as session:
            run = SyncRun(environment_id=environment_id, realm_id=f"realm-{environment_id}", connection_id=connection_id, status="running", counts={})
            session.add(run)
            session.flush()
            number = 0
            for state, count in states.items():
                for _ in range(count):
                    number += 1
                    session.add(SyncRecord(environment_id=environment_id, entity_type="invoice", fusebill_id=f"{run.id}-{number}", customer_id="7",
                                           label=f"Invoice {number}", state=state, run_id=run.id))
            return run.id

    def finish(self, run_id: int, error: str | None = None) -> str:
        from jobs.sync import runs

        with self.database.session_scope() as session:
            return runs.finish(session, run_id, error).status

    def work_maintenance(self) -> None:
        """Run what is queued on the maintenance queue in a forked work horse, as the worker does."""
        self.database.dispose()
        queue = Queue(MAINTENANCE, connection=self.redis)
        Worker([queue], connection=self.redis).work(burst=True, logging_level="WARNING")
        for job_id in queue.failed_job_registry.get_job_ids():
            job = queue.fetch_job(job_id)
            raise AssertionError(f"job {job_id} failed: {job.latest_result().exc_string if job and job.latest_result() else '?'}")

    def notifications(self) -> list[Notification]:
        with self.database.session_scope() as session:
            rows = list(session.scalars(select(Notification).order_by(Notification.id)))
            session.expunge_all()
            return rows


def test_a_partial_run_mails_its_counts_and_link_once(world):
    inbox = Inbox()
    server = smtp_server(world.smtp_port, inbox)
    try:
        environment_id = world.environment()
        connection_id = world.connection(environment_id)
        run_id = world.running_run(environment_id, connection_id, {"failed": 2, "pending": 1, "synced": 3})
        assert world.finish(run_id) == "partial"
        assert world.redis.exists(PENDING_KEY)  # the run's end asked for a check as soon as it committed
        world.work_maintenance()

        assert len(inbox.messages) == 1
        recipients, message = inbox.messages[0]
        assert recipients == [ADDRESS] and message["To"] == ADDRESS and message["From"] == "Sync <sync@example.com>"
        assert "partial" in message["Subject"] and f"#{run_id}" in message["Subject"]
        text, html = inbox.bodies(0)
        assert "2 records failed and 1 is still pending" in text
        assert f"https://portal.example.com/sync/runs/{run_id}" in text
        assert f'href="https://portal.example.com/sync/runs/{run_id}"' in html
        [row] = world.notifications()
        assert (row.cause_key, row.status, row.attempts) == (f"run:{run_id}:partial", "sent", 1)

        # Finishing again (a chunk run twice) and later checks send nothing more.
        assert world.finish(run_id) == "partial"
        Queue(MAINTENANCE, connection=world.redis).enqueue(check_notifications)
        world.work_maintenance()
        check_notifications()
        assert len(inbox.messages) == 1 and len(world.notifications()) == 1

        # The next run meets the same stuck records: within 6 hours it is not mailed again (no storm);
        # a failed run is another cause; after the quiet time a partial run is mailed again.
        assert world.finish(world.running_run(environment_id, connection_id, {"failed": 2})) == "partial"
        failed_run = world.running_run(environment_id, connection_id, {})
        assert world.finish(failed_run, "The sync could not start: Fusebill refused the API key") == "failed"
        check_notifications()
        assert [n.cause_key for n in world.notifications()] == [f"run:{run_id}:partial", f"run:{failed_run}:failed"]
        assert len(inbox.messages) == 2 and "Fusebill refused the API key" in inbox.bodies(1)[0]
        with world.database.session_scope() as session:
            for row in session.scalars(select(Notification)):
                row.created_at = row.created_at - timedelta(hours=7)
        later_run = world.running_run(environment_id, connection_id, {"pending": 1})
        assert world.finish(later_run) == "partial"
        check_notifications()
        assert len(inbox.messages) == 3 and "0 records failed and 1 is still pending" in inbox.bodies(2)[0]
    finally:
        server.stop()


def test_a_cause_is_claimed_by_one_worker_only(world):
    from portal.services.notifications import Message, claim, record

    environment_id = world.environment()
    with world.database.session_scope() as session:
        environment = session.get(Environment, environment_id)
        assert record(session, "run:1:failed", "run_failed", environment, Message("s", "t", "<p>t</p>")) is True
        assert record(session, "run:1:failed", "run_failed", environment, Message("s", "t", "<p>t</p>")) is False
    [row] = world.notifications()
    now = utcnow()
    with world.database.session_scope() as first, world.database.session_scope() as second:
        assert claim(first, row.id, now) is True
        first.commit()
        assert claim(second, row.id, now) is False  # taken: the second worker sends nothing
    # A claim left by a worker that died mid-send is taken over, later.
    with world.database.session_scope() as session:
        assert claim(session, row.id, now + timedelta(minutes=1)) is False
        assert claim(session, row.id, now + timedelta(minutes=20)) is True


def test_a_failed_run_without_smtp_server_is_retried_and_the_sync_is_unaffected(world):
    """The mail server is down when the run ends: the sync job ends normally, the notification is
    recorded as failed with the reason, and the next check after the wait sends it."""
    from jobs.sync.jobs import sync_account

    environment_id = world.environment()
    connection_id = world.connection(environment_id)
    run_id = world.running_run(environment_id, connection_id, {})
    with world.database.session_scope() as session:
        session.get(QboConnection, connection_id).disconnected_at = utcnow()  # the run can no longer start
        session.get(SyncRun, run_id).status = "queued"
    queue = Queue("sync", connection=world.redis)
    job = queue.enqueue(sync_account, run_id)
    world.database.dispose()
    Worker([queue, Queue(MAINTENANCE, connection=world.redis)], connection=world.redis).work(burst=True, logging_level="WARNING")
    job.refresh()
    assert job.get_status() == "finished" and job.return_value()["status"] == "failed"
    with world.database.session_scope() as session:
        assert session.get(SyncRun, run_id).status == "failed"
    [row] = world.notifications()
    assert row.cause_key == f"run:{run_id}:failed" and row.status == "failed" and row.attempts == 1
    assert "ConnectionRefusedError" in row.last_error and row.next_attempt_at > utcnow()

    # Before the wait is over nothing is tried; after it, with the server back, it is sent once.
    assert check_notifications()["sent"] == 0
    inbox = Inbox()
    server = smtp_server(world.smtp_port, inbox)
    try:
        later = utcnow() + timedelta(minutes=2)
        assert check_notifications(later)["sent"] == 1
        assert check_notifications(later + timedelta(hours=2))["sent"] == 0
    finally:
        server.stop()
    assert len(inbox.messages) == 1
    text, _html = inbox.bodies(0)
    assert "failed" in inbox.messages[0][1]["Subject"] and "disconnected" in text
    [row] = world.notifications()
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)


def test_token_expiry_within_14_days_is_mailed_once_from_the_minute_check(world):
    from jobs.schedules import run_schedules

    inbox = Inbox()
    server = smtp_server(world.smtp_port, inbox)
    try:
        soon = world.connection(world.environment("Soon"), "Soon Books", expires_in_days=10.5)
        world.connection(world.environment("Later"), "Later Books", expires_in_days=20)  # outside the window
        world.connection(world.environment("Silent", address=None), "Silent Books", expires_in_days=3)  # nobody to tell
        world.connection(world.environment("Disabled", enabled=False), "Off Books", expires_in_days=3)  # not syncing
        for _ in range(2):  # two minute ticks: the second finds the cause already handled
            run_schedules(reschedule=False)
            world.work_maintenance()
        assert len(inbox.messages) == 1
        message = inbox.messages[0][1]
        assert "Soon Books" in message["Subject"] and "expires in 10 days" in message["Subject"]
        text, html = inbox.bodies(0)
        with world.database.session_scope() as session:
            expires = session.get(QboConnection, soon).refresh_token_expires_at
        assert f"expires on {expires:%Y-%m-%d}" in text and "https://portal.example.com/setup/connect" in text
        assert 'href="https://portal.example.com/setup/connect"' in html
        assert [n.cause_key for n in world.notifications()] == [f"token-expiry:{soon}:{expires.date().isoformat()}"]
    finally:
        server.stop()


def test_reconnect_needed_after_invalid_grant_is_mailed_once(world):
    """QuickBooks refuses the refresh token (revoked): the token service marks the connection, the
    check mails a reconnect notice once, and does not also warn that its token expires."""
    from emulators.qbo.testing import running_emulator
    from portal.clients import qbo as qbo_client
    from portal.extensions import service_context, vault
    from portal.services.qbo_tokens import ReconnectRequired, valid_tokens

    inbox = Inbox()
    server = smtp_server(world.smtp_port, inbox)
    try:
        with running_emulator() as qbo:
            app = world.use(world.settings.with_overrides(qbo_emulator_url=qbo.url))
            realm = qbo.create_company(name="Revoked Books")
            issued = qbo.tokens(realm, client_id=qbo_client.EMULATOR_CLIENT_ID, client_secret=qbo_client.EMULATOR_CLIENT_SECRET)
            environment_id = world.environment("Revoked")
            with app.app_context():
                with world.database.session_scope() as session:
                    connection = QboConnection(environment_id=environment_id, realm_id=realm, company_name="Revoked Books", token_version=1,
                                               access_token_ciphertext=vault().encrypt(issued["access_token"]),
                                               access_token_expires_at=utcnow() + timedelta(minutes=50),
                                               refresh_token_ciphertext=vault().encrypt(issued["refresh_token"]),
                                               refresh_token_expires_at=utcnow() + timedelta(days=5))
                    session.add(connection)
                    session.flush()
                    connection_id = connection.id
                qbo_client.revoke(qbo_client.intuit_app(world.settings.with_overrides(qbo_emulator_url=qbo.url), "sandbox"), issued["refresh_token"])
                with pytest.raises(ReconnectRequired):
                    valid_tokens(service_context(), connection_id, force_refresh=True)
        with world.database.session_scope() as session:
            assert session.get(QboConnection, connection_id).needs_reconnect is True
        check_notifications()
        check_notifications()
        assert len(inbox.messages) == 1
        assert inbox.messages[0][1]["Subject"].startswith("Reconnect QuickBooks: Revoked Books")
        text, _html = inbox.bodies(0)
        assert "no longer accepts" in text and "https://portal.example.com/setup/connect" in text
        [row] = world.notifications()
        assert row.cause_key.startswith(f"reconnect:{connection_id}:") and row.status == "sent"
    finally:
        server.stop()


def test_without_smtp_settings_notifications_are_recorded_as_not_sent(world, caplog):
    world.use(world.settings.with_overrides(smtp=None))
    environment_id = world.environment()
    run_id = world.running_run(environment_id, world.connection(environment_id), {"failed": 1})
    assert world.finish(run_id) == "partial"
    with caplog.at_level(logging.WARNING, logger="portal.services.notifications"):
        assert check_notifications()["unsent"] == 1
        assert check_notifications(utcnow() + timedelta(days=1))["unsent"] == 0  # recorded once, not retried
    [row] = world.notifications()
    assert (row.status, row.last_error) == ("unsent", "not sent: no SMTP configured")
    assert "no SMTP configured" in caplog.text


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("password, sent", [(SMTP_PASSWORD, True), ("wrong-Pa55word", False)])
def test_smtp_login_uses_the_password_and_never_logs_it(world, caplog, password, sent):
    from aiosmtpd.smtp import AuthResult

    def authenticator(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        ok = auth_data.login == SMTP_USER.encode() and auth_data.password == SMTP_PASSWORD.encode()
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 235 or 535 itself

    smtp = SmtpSettings(host="127.0.0.1", port=world.smtp_port, tls="off", sender="sync@example.com", username=SMTP_USER, password=password)
    assert password not in repr(smtp) and password not in repr(world.settings.with_overrides(smtp=smtp))
    world.use(world.settings.with_overrides(smtp=smtp))
    inbox = Inbox()
    server = smtp_server(world.smtp_port, inbox, authenticator=authenticator, auth_required=True, auth_require_tls=False)
    try:
        environment_id = world.environment()
        run_id = world.running_run(environment_id, world.connection(environment_id), {"pending": 2})
        world.finish(run_id)
        with caplog.at_level(logging.DEBUG):
            counts = check_notifications()
    finally:
        server.stop()
    [row] = world.notifications()
    assert (counts["sent"], len(inbox.messages)) == ((1, 1) if sent else (0, 0))
    assert row.status == ("sent" if sent else "failed")
    if not sent:
        assert "SMTPAuthenticationError" in row.last_error
    assert password not in caplog.text and password not in (row.last_error or "")


# ------------------------------------------------------------------ settings
def _smtp(values: dict[str, str], tmp_path) -> SmtpSettings | None:  # type: ignore[no-untyped-def]
    return Settings.from_env({"INSTANCE_PATH": str(tmp_path), **values}, dotenv_path=None).smtp


def test_smtp_url_variants_are_understood(tmp_path):
    assert _smtp({}, tmp_path) is None
    plain = _smtp({"SMTP_URL": "smtp://mail.local"}, tmp_path)
    assert (plain.host, plain.port, plain.tls, plain.username, plain.password) == ("mail.local", 25, "off", None, None)
    starttls = _smtp({"SMTP_URL": "smtp://apikey:p%40ss%2Fw0rd@smtp.example.com:2525?starttls=true", "SMTP_FROM": "Books <b@example.com>"}, tmp_path)
    assert (starttls.host, starttls.port, starttls.tls, starttls.username, starttls.password, starttls.sender) == (
        "smtp.example.com", 2525, "starttls", "apikey", "p@ss/w0rd", "Books <b@example.com>")
    assert _smtp({"SMTP_URL": "smtp://u:p@smtp.example.com?starttls=true"}, tmp_path).port == 587
    ssl = _smtp({"SMTP_URL": "smtps://u:p@smtp.example.com"}, tmp_path)
    assert (ssl.port, ssl.tls) == (465, "ssl")
    parts = _smtp({"SMTP_HOST": "smtp.example.com", "SMTP_USER": "u", "SMTP_PASSWORD": "p"}, tmp_path)
    assert (parts.port, parts.tls, parts.username, parts.password) == (587, "starttls", "u", "p")
    assert _smtp({"SMTP_HOST": "smtp.example.com", "SMTP_TLS": "ssl"}, tmp_path).port == 465
    assert _smtp({"SMTP_HOST": "relay", "SMTP_TLS": "off", "SMTP_PORT": "2525"}, tmp_path).port == 2525
    assert "p@ss" not in repr(starttls) and "p@ss" not in starttls.describe()


@pytest.mark.parametrize("values, fragment", [
    ({"SMTP_URL": "http://mail.example.com"}, "SMTP_URL must start with smtp:// or smtps://"),
    ({"SMTP_URL": "smtp://"}, "SMTP_URL names no host"),
    ({"SMTP_URL": "smtp://u:topsecret@mail.example.com:port"}, "SMTP_URL is not a valid URL"),
    ({"SMTP_URL": "smtps://u:topsecret@mail.example.com?starttls=true"}, "smtps:// already uses TLS"),
    ({"SMTP_URL": "smtp://mail.example.com?tls=yes"}, "unknown options tls"),
    ({"SMTP_URL": "smtp://mail.example.com?starttls=perhaps"}, "starttls must be true or false"),
    ({"SMTP_URL": "smtp://topsecret@mail.example.com"}, "names a user but no password"),
    ({"SMTP_URL": "smtp://mail.example.com", "SMTP_HOST": "other"}, "not both"),
    ({"SMTP_HOST": "mail.example.com", "SMTP_TLS": "tls"}, "SMTP_TLS must be off, starttls or ssl"),
    ({"SMTP_HOST": "mail.example.com", "SMTP_PORT": "70000"}, "SMTP_PORT must be a port number"),
    ({"SMTP_HOST": "mail.example.com", "SMTP_USER": "u"}, "SMTP_USER and SMTP_PASSWORD must be set together"),
    ({"SMTP_PASSWORD": "topsecret"}, "SMTP_PASSWORD is set but SMTP_HOST is not"),
    ({"SMTP_URL": "smtp://mail.example.com", "SMTP_FROM": "nobody"}, "SMTP_FROM must be an email address"),
])
def test_bad_smtp_settings_are_refused_clearly_without_quoting_the_password(tmp_path, values, fragment):
    with pytest.raises(SettingsError) as error:
        _smtp(values, tmp_path)
    assert fragment in str(error.value)
    assert "topsecret" not in str(error.value)


def test_production_wants_a_sender_and_no_password_in_clear(tmp_path):
    from cryptography.fernet import Fernet

    base = {"PORTAL_ENV": "production", "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "s" * 40, "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "INTUIT_CLIENT_ID": "id", "INTUIT_CLIENT_SECRET": "secret"}
    with pytest.raises(SettingsError) as error:
        Settings.from_env({**base, "SMTP_URL": "smtp://u:topsecret@mail.example.com"}, dotenv_path=None)
    assert "SMTP_FROM is required in production" in str(error.value)
    assert "refusing to send the SMTP password unencrypted to mail.example.com" in str(error.value)
    assert "topsecret" not in str(error.value)
    settings = Settings.from_env({**base, "SMTP_URL": "smtp://u:topsecret@mail.example.com?starttls=true", "SMTP_FROM": "sync@example.com"},
                                 dotenv_path=None)
    assert settings.smtp.tls == "starttls"


def test_a_bad_smtp_url_stops_the_portal_at_start_up(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no .env from the working tree
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("SMTP_URL", "smtp://:topsecret@")
    with pytest.raises(SettingsError) as error:
        create_app()
    assert "SMTP_URL names no host" in str(error.value) and "topsecret" not in str(error.value)
