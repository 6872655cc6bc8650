"""Secrets (issue #11 item 5): the Fusebill API key, the webhook key and the QBO tokens are stored
encrypted (a raw dump of the database holds none of them), never logged (the logs of a full sync and
of a failed one, work horses included, hold none) and never rendered into a page."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import inspect, select, text

from portal.extensions import vault
from portal.models import Environment, QboConnection
from tests.sync.conftest import build_world

pytestmark = pytest.mark.sync

US = {"country": "US", "home_currency": "USD", "tax": "none"}


@pytest.fixture
def backend() -> str:
    return "postgresql"  # one backend is enough: both store the same ciphertext; the dump reads every table


PAGES = ("/setup/", "/setup/connect", "/setup/environment", "/setup/settings", "/setup/ledgers", "/sync/")


def _plain_secrets(world) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Every secret the portal holds, decrypted with the app's own keys."""
    with world.app.app_context():
        keys = vault()
        with world.database.session_scope() as session:
            found: dict[str, str] = {}
            for environment in session.scalars(select(Environment)):
                if environment.fusebill_api_key_ciphertext:
                    found[f"fusebill key {environment.kind}"] = keys.decrypt(environment.fusebill_api_key_ciphertext)
                if environment.webhook_secret_ciphertext:
                    found[f"webhook secret {environment.kind}"] = keys.decrypt(environment.webhook_secret_ciphertext)
            for connection in session.scalars(select(QboConnection)):
                for name in ("access_token", "refresh_token"):
                    ciphertext = getattr(connection, f"{name}_ciphertext")
                    if ciphertext:
                        found[f"{name} {connection.id}"] = keys.decrypt(ciphertext)
    return found


def _fragments(secret: str) -> list[str]:
    """The secret and a long piece of it (a log that cuts a token still leaks it)."""
    return [secret] if len(secret) < 24 else [secret, secret[:20], secret[-20:]]


def _database_dump(world) -> str:  # type: ignore[no-untyped-def]
    parts = []
    with world.database.engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                parts.append(" ".join(str(value) for value in row))
    return "\n".join(parts)


def test_no_secret_in_the_database_logs_or_pages(tmp_path, backend, qbo, fusebill, redis_url, capfd, caplog):  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    for world in build_world(tmp_path, backend, qbo, fusebill, redis_url, customers=12, seed=77, company=US,
                             seed_options={"currency_weights": {"USD": 1}}):
        world.client.get("/setup/environment")  # creates the webhook key and URL
        good = world.sync(timeout=240)
        assert good.counts.get("created"), (good.status, good.error, good.counts)
        world.fusebill.set_faults(error_rate=1.0, status=503, api_key=world.api_key)
        try:
            bad = world.sync(timeout=240, full=True)
        finally:
            world.fusebill.set_faults(api_key=world.api_key)
        assert bad.status in ("failed", "partial"), bad.status
        secrets = _plain_secrets(world)
        assert {"fusebill key sandbox", "webhook secret sandbox"} <= set(secrets), sorted(secrets)
        assert any(name.startswith("refresh_token") for name in secrets) and any(name.startswith("access_token") for name in secrets)
        assert world.api_key == secrets["fusebill key sandbox"]

        dump = _database_dump(world)
        assert world.realm_id in dump  # the dump is real: it holds the company's realm id
        pages = {path: world.client.get(path).get_data(as_text=True) for path in PAGES}
        pages[f"/sync/runs/{bad.id}"] = world.client.get(f"/sync/runs/{bad.id}").get_data(as_text=True)
        captured = capfd.readouterr()
        logs = "\n".join([captured.out, captured.err, caplog.text])
        assert "503" in logs or "Fusebill" in logs, "the failed run's logs were not captured"
        for name, secret in secrets.items():
            webhook = name.startswith("webhook")
            for fragment in _fragments(secret):
                assert fragment not in dump, f"{name} is in the database in plain text"
                assert fragment not in logs, f"{name} is in the logs"
                for path, body in pages.items():
                    if webhook and path == "/setup/environment":
                        continue  # the one page meant to show the webhook key, to paste into Fusebill
                    assert fragment not in body, f"{name} is rendered on {path}"
