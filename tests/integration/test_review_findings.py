"""Each of these once went wrong: bad input that made a 500, a ledger save that left QuickBooks half
changed, an item made inactive in QuickBooks, one company in two environments, no way to reconnect
an expiring connection, Redis down, and a token refresh inside a request on SQLite."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import create_app
from portal.models import Account, LedgerChoice, ManagedItem, QboConnection, User, utcnow
from tests.integration.conftest import callback_path, connect, live, start_connect
from tests.integration.test_ledgers import _api, _query
from tests.integration.test_taxes import _save_key
from tests.portal_fixtures import TEST_PASSWORD, _test_password_hash, fresh_database, make_settings, post_form, sign_in


# ------------------------------------------------------------------ bad input never 500s
def test_odd_tax_input_is_answered_next_to_the_field(enabled, session, qbo):
    connect(enabled.client, qbo, realm_id=qbo.create_company(name="Odd Input Co", country="CA", home_currency="CAD", tax="codes"))
    for rate in ("NaN", "Infinity", "-inf"):
        response = post_form(enabled.client, "/setup/taxes", "/setup/taxes/add", {"name": "GST", "rate": rate})
        assert response.status_code == 400 and 'data-field="rate">' in response.get_data(as_text=True), rate
    post_form(enabled.client, "/setup/taxes", "/setup/taxes/add", {"name": "GST", "rate": "5"})
    response = post_form(enabled.client, "/setup/taxes", "/setup/taxes", {"code-²": "x", "rate-99999999999999999999": "y", "map-1": "z"})
    assert response.status_code == 302  # ignored keys, not a crash


def test_a_non_ascii_fusebill_key_is_refused_next_to_the_field(enabled):
    response = _save_key(enabled.client, "ключ-не-тот")
    assert response.status_code == 400
    assert 'data-field="key-sandbox-api_key">That does not look like a Fusebill API key' in response.get_data(as_text=True)


# ------------------------------------------------------------------ ledgers and items
def _ids(qbo, realm):
    return {row["Name"]: row["Id"] for row in _query(qbo, realm, "SELECT * FROM Account MAXRESULTS 1000")["Account"]}


def _ledger_form(ids, deferred):
    return {"ledger-deferred_revenue": ids[deferred], "ledger-sales_tax_payable": ids["Tax Liability"], "ledger-payments_deposit": ids["Undeposited Funds"],
            "ledger-refunds": ids["Checking"], "ledger-credits": ids["Credits Given"], "ledger-write_offs": ids["Bad Debts"]}


@pytest.fixture
def chart(enabled, qbo):
    realm = qbo.create_company(name="Chart Co")
    qbo.create_accounts(realm, [
        {"Name": "Deferred A", "AccountType": "Other Current Liability", "AccountSubType": "DeferredRevenue"},
        {"Name": "Deferred B", "AccountType": "Other Current Liability", "AccountSubType": "DeferredRevenue"},
        {"Name": "Tax Liability", "AccountType": "Other Current Liability", "AccountSubType": "OtherCurrentLiabilities"},
        {"Name": "Bad Debts", "AccountType": "Expense", "AccountSubType": "BadDebts"},
        {"Name": "Credits Given", "AccountType": "Income", "AccountSubType": "DiscountsRefundsGiven"},
    ])
    connect(enabled.client, qbo, realm_id=realm)
    ids = _ids(qbo, realm)
    assert post_form(enabled.client, "/setup/ledgers", "/setup/ledgers", _ledger_form(ids, "Deferred A")).status_code == 302
    return realm, ids


def test_a_refused_ledger_save_leaves_quickbooks_as_it_was(enabled, session, qbo, chart):
    realm, ids = chart
    form = _ledger_form(ids, "Deferred B")
    form["ledger-write_offs"] = ids["Accounts Receivable (A/R)"]  # QuickBooks refuses an item posting to A/R
    response = post_form(enabled.client, "/setup/ledgers", "/setup/ledgers", form)
    assert response.status_code == 400
    assert 'data-field="ledger-write_offs">QuickBooks refused to use' in response.get_data(as_text=True)
    charges = session.scalar(select(ManagedItem).where(ManagedItem.item_key == "charges"))
    item = _api(qbo, realm, "GET", f"item/{charges.qbo_item_id}")["Item"]
    assert item["IncomeAccountRef"]["value"] == ids["Deferred A"]  # the earlier item change was undone
    choice = session.scalar(select(LedgerChoice).where(LedgerChoice.ledger == "deferred_revenue"))
    session.refresh(choice)
    assert choice.qbo_account_name == "Deferred A"


def test_an_item_made_inactive_in_quickbooks_is_brought_back(enabled, session, qbo, chart):
    realm, ids = chart
    charges = session.scalar(select(ManagedItem).where(ManagedItem.item_key == "charges"))
    item = _api(qbo, realm, "GET", f"item/{charges.qbo_item_id}")["Item"]
    _api(qbo, realm, "POST", "item", json={"Id": item["Id"], "SyncToken": item["SyncToken"], "Name": item["Name"], "sparse": True, "Active": False})
    assert post_form(enabled.client, "/setup/ledgers", "/setup/ledgers", _ledger_form(ids, "Deferred B")).status_code == 302
    session.expire_all()
    charges = session.scalar(select(ManagedItem).where(ManagedItem.item_key == "charges"))
    item = _api(qbo, realm, "GET", f"item/{charges.qbo_item_id}")["Item"]
    assert item["Active"] is True and item["Name"] == "Fusebill Charges" and item["IncomeAccountRef"]["value"] == ids["Deferred B"]
    assert len(_query(qbo, realm, "SELECT * FROM Item WHERE Name = 'Fusebill Charges' AND Active IN (true, false)")["Item"]) == 1


def test_our_account_made_inactive_is_reactivated_not_duplicated(enabled, session, qbo):
    realm = qbo.create_company(name="Reactivate Co")
    connect(enabled.client, qbo, realm_id=realm)
    post_form(enabled.client, "/setup/ledgers", "/setup/ledgers/create", {"ledger": "write_offs"})
    account = _query(qbo, realm, "SELECT * FROM Account WHERE Name = 'Fusebill Bad Debts'")["Account"][0]
    _api(qbo, realm, "POST", "account", json={"Id": account["Id"], "SyncToken": account["SyncToken"], "Name": account["Name"], "sparse": True, "Active": False})
    assert post_form(enabled.client, "/setup/ledgers", "/setup/ledgers/create", {"ledger": "write_offs"}).status_code == 302
    again = _api(qbo, realm, "GET", f"account/{account['Id']}")["Account"]
    assert again["Active"] is True and again["Name"] == "Fusebill Bad Debts"
    assert session.scalar(select(LedgerChoice).where(LedgerChoice.ledger == "write_offs")).qbo_account_id == account["Id"]


# ------------------------------------------------------------------ one company, one environment
def test_a_company_live_in_another_environment_or_account_is_refused(enabled, session, qbo, app, make_account, admin_of):
    realm = qbo.create_company(name="Shared Co")
    connect(enabled.client, qbo, realm_id=realm)
    post_form(enabled.client, "/setup/environment", "/setup/environment/switch", {"target": "production", "confirm": "y", "override_reason": "testing the guard here"})
    params = qbo.authorize(start_connect(enabled.client), realm_id=realm)
    response = enabled.client.get(callback_path(params))
    assert response.status_code == 400 and "connected to this account&#39;s sandbox environment" in response.get_data(as_text=True)
    other = app.test_client()
    sign_in(other, admin_of(make_account(enabled=True)))
    params = qbo.authorize(start_connect(other), realm_id=realm)
    response = other.get(callback_path(params))
    assert response.status_code == 400 and "another Fusebill account" in response.get_data(as_text=True)
    assert len(session.scalars(select(QboConnection).where(QboConnection.realm_id == realm)).all()) == 1


# ------------------------------------------------------------------ reconnect before it is too late
def test_an_expiring_connection_offers_reconnect_which_renews_it_in_place(enabled, session, qbo):
    realm = qbo.create_company(name="Expiring Soon Co")
    connect(enabled.client, qbo, realm_id=realm)
    connection = live(session, enabled.account)
    connection.refresh_token_expires_at = utcnow() + timedelta(days=5)
    session.commit()
    page = enabled.client.get("/setup/connect").get_data(as_text=True)
    assert 'data-test="reconnect"' in page and "Reconnect to Expiring Soon Co" in page
    connect(enabled.client, qbo, realm_id=realm)
    renewed = live(session, enabled.account)
    assert renewed.id == connection.id and renewed.refresh_token_expires_at - utcnow() > timedelta(days=90)


# ------------------------------------------------------------------ Redis down
def test_pages_still_answer_when_redis_is_down(enabled, session, qbo, app):
    connect(enabled.client, qbo, realm_id=qbo.create_company(name="No Redis Co"))
    connection = live(session, enabled.account)
    connection.company_checked_at -= timedelta(hours=1)  # a re-check is due
    session.commit()
    app.extensions["portal.settings"] = app.extensions["portal.settings"].with_overrides(redis_url="redis://127.0.0.1:9/0")
    app.extensions.pop("portal.redis", None)
    response = enabled.client.get("/setup/")
    assert response.status_code == 200
    # No Redis, no rate limiter: the optional re-check is skipped and the last known set-up shown.
    assert "No Redis Co" in response.get_data(as_text=True)
    ledgers = enabled.client.get("/setup/ledgers")
    assert ledgers.status_code == 200 and 'data-test="load-error"' in ledgers.get_data(as_text=True)


# ------------------------------------------------------------------ a refresh inside a request, real commits
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_token_refresh_in_the_middle_of_a_request_commits(backend, tmp_path, redis_url, qbo, fusebill_staging, fusebill_production):
    """With its own transaction, while the request has read (and on SQLite, in the default journal
    mode, would hold a lock): the per-test rollback fixture cannot show this, real commits can."""
    with fresh_database(backend, tmp_path) as fresh:
        settings = make_settings(fresh.url, redis_url, tmp_path / "instance", qbo_emulator_url=qbo.url,
                                 fusebill_staging_url=fusebill_staging.url, fusebill_production_url=fusebill_production.url)
        app = create_app(settings, database=fresh.database)
        client = app.test_client()
        with fresh.database.session_scope() as session:
            account = Account(name="Real Commits", fusebill_account_id=f"FB-RC-{backend}", integration_enabled=True)
            session.add(account)
            session.flush()
            admin = User(email=f"rc-{backend}@example.com", password_hash=_test_password_hash(), role="admin", account_id=account.id)
            session.add(admin)
        sign_in(client, admin, TEST_PASSWORD)
        realm = qbo.create_company(name="Real Commits Co")
        connect(client, qbo, realm_id=realm)
        with fresh.database.session_scope() as session:
            connection = session.scalar(select(QboConnection).where(QboConnection.realm_id == realm))
            connection.access_token_expires_at = utcnow() + timedelta(minutes=1)  # due for refresh
            version = connection.token_version
        assert client.get("/setup/").status_code == 200  # the visit re-checks the company: refresh first
        assert post_form(client, "/setup/ledgers", "/setup/ledgers/create", {"ledger": "deferred_revenue"}).status_code == 302
        with fresh.database.session_scope() as session:
            connection = session.scalar(select(QboConnection).where(QboConnection.realm_id == realm))
            assert connection.token_version == version + 1 and connection.last_refresh_error is None
            assert session.scalar(select(LedgerChoice)) is not None
