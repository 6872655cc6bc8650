"""The hourly connection check, run by a real (forking) RQ worker on a real Redis."""
from __future__ import annotations

from datetime import timedelta

import pytest
from redis import Redis
from rq import Queue, Worker
from sqlalchemy import select

from emulators.qbo.testing import running_emulator
from jobs import context as job_context
from jobs.maintenance import PENDING_KEY, check_connections, schedule_next
from portal import create_app
from portal.clients import qbo as qbo_client
from portal.models import Account, AuditEvent, Environment, QboConnection, utcnow
from tests.portal_fixtures import fresh_database, make_settings


@pytest.fixture
def world(tmp_path, redis_url):
    with fresh_database("sqlite", tmp_path) as fresh, running_emulator() as qbo:
        url, database = fresh.url, fresh.database
        settings = make_settings(url, redis_url, tmp_path / "instance", qbo_emulator_url=qbo.url)
        app = create_app(settings, database=database)
        job_context.use_app(app)
        redis = Redis.from_url(redis_url)
        redis.flushdb()
        yield app, database, qbo, redis
        job_context.use_app(None)


def _connection(app, database, qbo, name, refresh_expires_in_days):
    from portal.extensions import vault

    realm = qbo.create_company(name=name)
    issued = qbo.tokens(realm, client_id=qbo_client.EMULATOR_CLIENT_ID, client_secret=qbo_client.EMULATOR_CLIENT_SECRET)
    with app.app_context(), database.session_scope() as session:
        account = Account(name=name, fusebill_account_id=f"FB-{name}", integration_enabled=True)
        session.add(account)
        session.flush()
        environment = Environment(account_id=account.id, kind="sandbox")
        session.add(environment)
        session.flush()
        connection = QboConnection(
            environment_id=environment.id, realm_id=realm, company_name=name, token_version=1,
            access_token_ciphertext=vault().encrypt(issued["access_token"]), access_token_expires_at=utcnow() + timedelta(minutes=50),
            refresh_token_ciphertext=vault().encrypt(issued["refresh_token"]), refresh_token_expires_at=utcnow() + timedelta(days=refresh_expires_in_days),
        )
        session.add(connection)
        session.flush()
        return connection.id, issued["refresh_token"]


def test_worker_keeps_rarely_used_connections_alive_and_reports_dead_ones(world):
    app, database, qbo, redis = world
    fresh_id, _ = _connection(app, database, qbo, "FreshCo", refresh_expires_in_days=90)
    ageing_id, _ = _connection(app, database, qbo, "AgeingCo", refresh_expires_in_days=20)
    dead_id, dead_refresh = _connection(app, database, qbo, "DeadCo", refresh_expires_in_days=10)
    with app.app_context():
        qbo_client.revoke(qbo_client.intuit_app(app.extensions["portal.settings"], "sandbox"), dead_refresh)

    queue = Queue("maintenance", connection=redis)
    job = queue.enqueue(check_connections, False)
    database.dispose()  # the forked work-horse opens its own connections
    Worker([queue], connection=redis).work(burst=True)
    job.refresh()
    assert job.get_status() == "finished", job.latest_result().exc_string if job.latest_result() else None
    assert job.return_value() == {"checked": 3, "refreshed": 1, "failed": 1, "warned": 1}

    with database.session_scope() as session:
        fresh, ageing, dead = (session.get(QboConnection, i) for i in (fresh_id, ageing_id, dead_id))
        assert fresh.token_version == 1  # not due: untouched
        assert ageing.token_version == 2 and ageing.refresh_token_expires_at - utcnow() > timedelta(days=90)
        assert dead.needs_reconnect is True
        actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        assert actions.count("qbo.refresh_failed") == 1 and actions.count("qbo.refresh_token_expiring") == 1


def test_the_next_run_is_scheduled_once(world):
    _app, _database, _qbo, redis = world
    queue = Queue("maintenance", connection=redis)
    assert schedule_next(queue) is True
    assert schedule_next(queue) is False  # a second worker start does not add a second run
    assert redis.exists(PENDING_KEY)
    assert len(queue.scheduled_job_registry.get_job_ids()) == 1
