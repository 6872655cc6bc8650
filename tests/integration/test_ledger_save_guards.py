"""Saving ledgers cannot leave QuickBooks half changed: a save QuickBooks refuses part-way undoes the
item changes it had made, and an item or an account of ours made inactive in QuickBooks is brought
back, not duplicated."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.models import LedgerChoice, ManagedItem
from tests.integration.conftest import connect
from tests.portal_fixtures import post_form
from tests.support.helpers import qbo_api, qbo_query


def _ids(qbo, realm):
    return {row["Name"]: row["Id"] for row in qbo_query(qbo, realm, "SELECT * FROM Account MAXRESULTS 1000")["Account"]}


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
    # Someone turned the "Fusebill Write-Offs" item into a category in QuickBooks: it can no longer be pointed
    # at a ledger, so QuickBooks refuses the last item of the save, after the earlier ones were changed.
    write_offs = session.scalar(select(ManagedItem).where(ManagedItem.item_key == "write_offs"))
    item = qbo_api(qbo, realm, "GET", f"item/{write_offs.qbo_item_id}")["Item"]
    qbo_api(qbo, realm, "POST", "item", json={"Id": item["Id"], "SyncToken": item["SyncToken"], "Name": item["Name"], "sparse": True, "Type": "Category"})
    response = post_form(enabled.client, "/setup/ledgers", "/setup/ledgers", form)
    assert response.status_code == 400
    assert 'data-field="ledger-write_offs">QuickBooks refused to use' in response.get_data(as_text=True)
    charges = session.scalar(select(ManagedItem).where(ManagedItem.item_key == "charges"))
    item = qbo_api(qbo, realm, "GET", f"item/{charges.qbo_item_id}")["Item"]
    assert item["IncomeAccountRef"]["value"] == ids["Deferred A"]  # the earlier item change was undone
    choice = session.scalar(select(LedgerChoice).where(LedgerChoice.ledger == "deferred_revenue"))
    session.refresh(choice)
    assert choice.qbo_account_name == "Deferred A"


def test_an_item_made_inactive_in_quickbooks_is_brought_back(enabled, session, qbo, chart):
    realm, ids = chart
    charges = session.scalar(select(ManagedItem).where(ManagedItem.item_key == "charges"))
    item = qbo_api(qbo, realm, "GET", f"item/{charges.qbo_item_id}")["Item"]
    qbo_api(qbo, realm, "POST", "item", json={"Id": item["Id"], "SyncToken": item["SyncToken"], "Name": item["Name"], "sparse": True, "Active": False})
    assert post_form(enabled.client, "/setup/ledgers", "/setup/ledgers", _ledger_form(ids, "Deferred B")).status_code == 302
    session.expire_all()
    charges = session.scalar(select(ManagedItem).where(ManagedItem.item_key == "charges"))
    item = qbo_api(qbo, realm, "GET", f"item/{charges.qbo_item_id}")["Item"]
    assert item["Active"] is True and item["Name"] == "Fusebill Charges" and item["IncomeAccountRef"]["value"] == ids["Deferred B"]
    assert len(qbo_query(qbo, realm, "SELECT * FROM Item WHERE Name = 'Fusebill Charges' AND Active IN (true, false)")["Item"]) == 1


def test_our_account_made_inactive_is_reactivated_not_duplicated(enabled, session, qbo):
    realm = qbo.create_company(name="Reactivate Co")
    connect(enabled.client, qbo, realm_id=realm)
    post_form(enabled.client, "/setup/ledgers", "/setup/ledgers/create", {"ledger": "write_offs"})
    account = qbo_query(qbo, realm, "SELECT * FROM Account WHERE Name = 'Fusebill Bad Debts'")["Account"][0]
    qbo_api(qbo, realm, "POST", "account", json={"Id": account["Id"], "SyncToken": account["SyncToken"], "Name": account["Name"], "sparse": True, "Active": False})
    assert post_form(enabled.client, "/setup/ledgers", "/setup/ledgers/create", {"ledger": "write_offs"}).status_code == 302
    again = qbo_api(qbo, realm, "GET", f"account/{account['Id']}")["Account"]
    assert again["Active"] is True and again["Name"] == "Fusebill Bad Debts"
    assert session.scalar(select(LedgerChoice).where(LedgerChoice.ledger == "write_offs")).qbo_account_id == account["Id"]
