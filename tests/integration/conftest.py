"""The portal against the in-process QBO + Intuit OAuth emulator and Fusebill emulators.

Everything goes through the real pieces: the portal's adapter drives the real intuit-oauth and
python-quickbooks, which talk HTTP to the emulators on loopback ports.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from emulators.fusebill.testing import running_emulator as running_fusebill
from emulators.qbo.testing import RunningEmulator, running_emulator as running_qbo
from portal.models import Account, QboConnection, User
from tests.portal_fixtures import post_form, sign_in


@pytest.fixture(scope="session")
def qbo() -> Iterator[RunningEmulator]:
    with running_qbo() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def fusebill_staging():
    with running_fusebill() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def fusebill_production():
    with running_fusebill() as emulator:
        yield emulator


@pytest.fixture
def settings_overrides(qbo, fusebill_staging, fusebill_production) -> dict[str, object]:
    return {
        "qbo_emulator_url": qbo.url,
        "fusebill_staging_url": fusebill_staging.url,
        "fusebill_production_url": fusebill_production.url,
    }


@dataclass
class SignedIn:
    client: FlaskClient
    account: Account
    admin: User


@pytest.fixture
def enabled(client, make_account, admin_of) -> SignedIn:
    """An admin of an account with the integration enabled, signed in."""
    account = make_account(enabled=True)
    admin = admin_of(account)
    sign_in(client, admin)
    return SignedIn(client, account, admin)


def start_connect(client: FlaskClient) -> str:
    """Press "Connect to QuickBooks"; returns the Intuit (emulator) authorisation URL."""
    response = post_form(client, "/setup/connect", "/setup/connect/start")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response.headers["Location"]


def callback_path(params: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return "/setup/connect/callback?" + urlencode(params)


def connect(client: FlaskClient, qbo: RunningEmulator, realm_id: str | None = None, **new_company) -> str:
    """The whole OAuth round trip through the emulator's consent page; returns the realm id."""
    url = start_connect(client)
    assert urlsplit(url).netloc == urlsplit(qbo.url).netloc
    params = qbo.authorize(url, realm_id=realm_id, new_company=new_company or None)
    response = client.get(callback_path(params))
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    assert response.headers["Location"].endswith("/setup/connect")
    return params["realmId"]


def live(session: Session, account: Account) -> QboConnection | None:
    session.expire_all()
    from portal.models import Environment

    return session.scalar(
        select(QboConnection).join(Environment, Environment.id == QboConnection.environment_id)
        .where(Environment.account_id == account.id, QboConnection.disconnected_at.is_(None))
    )
