"""Choose a ledger per entity type: live account lists (0, 1 and 1,500 accounts), create, items follow."""
from __future__ import annotations

import re

from sqlalchemy import select

from portal.models import AuditEvent, LedgerChoice, ManagedItem
from tests.integration.conftest import connect, live
from tests.portal_fixtures import post_form
from tests.support.helpers import qbo_api, qbo_query

REQUIRED_US = ["deferred_revenue", "sales_tax_payable", "payments_deposit", "refunds", "credits", "write_offs"]


def _deactivate_all_but(qbo, realm, keep: int = 0):
    """Make every account inactive except the first `keep` (in Id order), through the API (batch)."""
    rows = qbo_query(qbo, realm, "SELECT * FROM Account WHERE Active = true MAXRESULTS 1000").get("Account", [])
    rows = sorted(rows, key=lambda r: int(r["Id"]))[keep:]
    for start in range(0, len(rows), 30):
        items = [{"bId": str(i), "operation": "update", "Account": {"Id": r["Id"], "SyncToken": r["SyncToken"], "Name": r["Name"], "sparse": True, "Active": False}}
                 for i, r in enumerate(rows[start:start + 30])]
        result = qbo_api(qbo, realm, "POST", "batch", json={"BatchItemRequest": items})
        faults = [item for item in result["BatchItemResponse"] if "Fault" in item]
        assert not faults, faults


def _options(page: str, ledger: str) -> list[str]:
    select_html = page.split(f'name="ledger-{ledger}"', 1)[1].split("</select>", 1)[0]
    return re.findall(r'<option value="(\d+)"', select_html)


def test_zero_active_accounts_offers_to_create_each_one(enabled, session, qbo):
    realm = qbo.create_company(name="Empty Chart Co")
    _deactivate_all_but(qbo, realm, keep=0)
    connect(enabled.client, qbo, realm_id=realm)
    page = enabled.client.get("/setup/ledgers").get_data(as_text=True)
    assert 'data-test="no-accounts"' in page
    assert _options(page, "deferred_revenue") == []
    for ledger in REQUIRED_US:
        response = post_form(enabled.client, "/setup/ledgers", "/setup/ledgers/create", {"ledger": ledger})
        assert response.status_code == 302
    choices = {row.ledger: row for row in session.scalars(select(LedgerChoice))}
    assert set(choices) == set(REQUIRED_US)
    assert (choices["deferred_revenue"].qbo_account_type, choices["deferred_revenue"].qbo_account_subtype) == ("Other Current Liability", "DeferredRevenue")
    assert (choices["write_offs"].qbo_account_type, choices["write_offs"].qbo_account_subtype) == ("Expense", "BadDebts")
    created = qbo_query(qbo, realm, "SELECT * FROM Account WHERE Name = 'Fusebill Deferred Revenue'")["Account"]
    assert len(created) == 1
    # creating twice does not make a second account
    post_form(enabled.client, "/setup/ledgers", "/setup/ledgers/create", {"ledger": "deferred_revenue"})
    assert len(qbo_query(qbo, realm, "SELECT * FROM Account WHERE Name = 'Fusebill Deferred Revenue'")["Account"]) == 1
    assert 'data-step="ledgers" data-state="done"' in enabled.client.get("/setup/").get_data(as_text=True)
    items = {row.item_key: row for row in session.scalars(select(ManagedItem))}
    assert set(items) == {"charges", "taxes", "credits", "charge_reversals", "write_offs"}
    charges = qbo_api(qbo, realm, "GET", f"item/{items['charges'].qbo_item_id}")["Item"]
    assert charges["Name"] == "Fusebill Charges" and charges["Type"] == "Service"
    assert charges["IncomeAccountRef"]["value"] == choices["deferred_revenue"].qbo_account_id
    # charge reversals have no ledger of their own: their item posts to Deferred Revenue
    reversals = qbo_api(qbo, realm, "GET", f"item/{items['charge_reversals'].qbo_item_id}")["Item"]
    assert reversals["IncomeAccountRef"]["value"] == choices["deferred_revenue"].qbo_account_id


def test_accounts_receivable_is_never_offered_nor_accepted(enabled, session, qbo):
    realm = qbo.create_company(name="Receivables Only Co")
    _deactivate_all_but(qbo, realm, keep=1)
    only = qbo_query(qbo, realm, "SELECT * FROM Account WHERE Active = true")["Account"]
    assert len(only) == 1 and only[0]["AccountType"] == "Accounts Receivable"
    connect(enabled.client, qbo, realm_id=realm)
    page = enabled.client.get("/setup/ledgers").get_data(as_text=True)
    # QuickBooks refuses A/R as an item's account: it is not offered, and the page offers to create each ledger
    assert 'data-test="no-accounts"' in page
    for ledger in REQUIRED_US + ["charge_reversals"]:
        assert _options(page, ledger) == []
    # A hand-made form naming it is refused next to each ledger, before anything reaches QuickBooks.
    response = post_form(enabled.client, "/setup/ledgers", "/setup/ledgers", {f"ledger-{k}": only[0]["Id"] for k in REQUIRED_US})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    for ledger in REQUIRED_US:
        assert f'data-field="ledger-{ledger}">“Accounts Receivable (A/R)” is an Accounts Receivable account: QuickBooks does not let' in body
    assert session.scalar(select(LedgerChoice)) is None
    assert session.scalar(select(ManagedItem)) is None
    assert "Item" not in qbo_query(qbo, realm, "SELECT * FROM Item WHERE Name LIKE 'Fusebill%' AND Active IN (true, false)")


def test_every_usable_account_is_offered_everywhere_and_a_refused_item_saves_nothing(enabled, session, qbo):
    realm = qbo.create_company(name="Two Accounts Co")
    _deactivate_all_but(qbo, realm, keep=3)  # A/R, Undeposited Funds, Checking
    usable = [row for row in qbo_query(qbo, realm, "SELECT * FROM Account WHERE Active = true")["Account"] if row["AccountType"] != "Accounts Receivable"]
    assert sorted(row["Name"] for row in usable) == ["Checking", "Undeposited Funds"]
    # QuickBooks already has an item of that name that is not a service: the "Fusebill Credits" item cannot be made.
    qbo_api(qbo, realm, "POST", "item", json={"Name": "Fusebill Credits", "Type": "Category"})
    connect(enabled.client, qbo, realm_id=realm)
    page = enabled.client.get("/setup/ledgers").get_data(as_text=True)
    for ledger in REQUIRED_US + ["charge_reversals"]:
        assert sorted(_options(page, ledger)) == sorted(row["Id"] for row in usable)  # unusual ones too, flagged, never hidden
    checking = next(row["Id"] for row in usable if row["Name"] == "Checking")
    response = post_form(enabled.client, "/setup/ledgers", "/setup/ledgers", {f"ledger-{k}": checking for k in REQUIRED_US})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert 'data-field="ledger-credits">QuickBooks refused to use “Checking” for the “Fusebill Credits” item' in body
    assert session.scalar(select(LedgerChoice)) is None
    assert session.scalar(select(ManagedItem)) is None


def test_1500_accounts_are_all_listed_recommended_first(enabled, session, qbo):
    realm = qbo.create_company(name="Big Chart Co")
    qbo.create_accounts(realm, [{"Name": f"Expense bucket {n:04d}", "AccountType": "Expense"} for n in range(1, 1501)])
    qbo.create_accounts(realm, [{"Name": "Deferred Subscription Revenue", "AccountType": "Other Current Liability", "AccountSubType": "DeferredRevenue"}])
    connect(enabled.client, qbo, realm_id=realm)
    page = enabled.client.get("/setup/ledgers").get_data(as_text=True)
    options = _options(page, "deferred_revenue")
    total = qbo_query(qbo, realm, "SELECT COUNT(*) FROM Account WHERE Active = true")["totalCount"]
    receivable_payable = qbo_query(qbo, realm, "SELECT COUNT(*) FROM Account WHERE Active = true AND AccountType IN ('Accounts Receivable', 'Accounts Payable')")["totalCount"]
    assert receivable_payable == 2  # never offered: QuickBooks refuses them for items
    assert total > 1500 and len(options) == total - receivable_payable  # paged past QBO's 1,000-row limit
    recommended = page.split('name="ledger-deferred_revenue"', 1)[1].split('label="Recommended"', 1)[1].split("</optgroup>", 1)[0]
    assert "Deferred Subscription Revenue" in recommended
    assert "Expense bucket 1500" in page


def test_required_ledgers_missing_are_explained_next_to_each_field(enabled, session, qbo):
    realm = qbo.create_company(name="Half Done Co")
    connect(enabled.client, qbo, realm_id=realm)
    accounts = qbo_query(qbo, realm, "SELECT * FROM Account WHERE AccountType = 'Bank'")["Account"]
    response = post_form(enabled.client, "/setup/ledgers", "/setup/ledgers", {"ledger-refunds": accounts[0]["Id"], "ledger-credits": "999999"})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert 'data-field="ledger-deferred_revenue">Choose the QuickBooks account for Deferred Revenue.' in body
    assert 'data-field="ledger-credits">That account is not an active account' in body
    refunds_select = body.split('name="ledger-refunds"', 1)[1].split("</select>", 1)[0]
    assert f'<option value="{accounts[0]["Id"]}" selected>' in refunds_select  # what was picked is kept
    assert session.scalar(select(LedgerChoice)) is None  # nothing half-saved
    assert 'data-step="ledgers" data-state="todo"' in enabled.client.get("/setup/").get_data(as_text=True)


def test_changing_a_ledger_updates_its_item_and_is_audited(enabled, session, qbo):
    realm = qbo.create_company(name="Change Co")
    qbo.create_accounts(realm, [
        {"Name": "Deferred A", "AccountType": "Other Current Liability", "AccountSubType": "DeferredRevenue"},
        {"Name": "Deferred B", "AccountType": "Other Current Liability", "AccountSubType": "DeferredRevenue"},
        {"Name": "Tax Liability", "AccountType": "Other Current Liability", "AccountSubType": "OtherCurrentLiabilities"},
        {"Name": "Bad Debts", "AccountType": "Expense", "AccountSubType": "BadDebts"},
        {"Name": "Credits Given", "AccountType": "Income", "AccountSubType": "DiscountsRefundsGiven"},
    ])
    connect(enabled.client, qbo, realm_id=realm)
    ids = {row["Name"]: row["Id"] for row in qbo_query(qbo, realm, "SELECT * FROM Account MAXRESULTS 1000")["Account"]}
    form = {"ledger-deferred_revenue": ids["Deferred A"], "ledger-sales_tax_payable": ids["Tax Liability"], "ledger-payments_deposit": ids["Undeposited Funds"],
            "ledger-refunds": ids["Checking"], "ledger-credits": ids["Credits Given"], "ledger-write_offs": ids["Bad Debts"]}
    assert post_form(enabled.client, "/setup/ledgers", "/setup/ledgers", form).status_code == 302
    item_id = session.scalar(select(ManagedItem).where(ManagedItem.item_key == "charges")).qbo_item_id
    first = qbo_api(qbo, realm, "GET", f"item/{item_id}")["Item"]
    assert first["IncomeAccountRef"]["value"] == ids["Deferred A"]
    form["ledger-deferred_revenue"] = ids["Deferred B"]
    assert post_form(enabled.client, "/setup/ledgers", "/setup/ledgers", form).status_code == 302
    second = qbo_api(qbo, realm, "GET", f"item/{item_id}")["Item"]
    assert second["IncomeAccountRef"]["value"] == ids["Deferred B"] and int(second["SyncToken"]) == int(first["SyncToken"]) + 1
    assert len(qbo_query(qbo, realm, "SELECT * FROM Item WHERE Name = 'Fusebill Charges'")["Item"]) == 1
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "ledgers.chosen").order_by(AuditEvent.id)).all()
    assert events[-1].details["changes"]["deferred_revenue"] == {"from": "Deferred A", "to": "Deferred B"}
    assert live(session, enabled.account) is not None


def test_ledgers_page_needs_a_connection(enabled):
    response = enabled.client.get("/setup/ledgers")
    assert response.status_code == 302 and response.headers["Location"].endswith("/setup/connect")
