"""What Choose ledgers recommends, on the emulator's sample charts of a US, a Canadian and a UK company.

The contract (design/accounting-mapping.md, "Ledgers the user chooses") names an account type and
detail type per ledger. The picker recommends by those, by name only where the detail type says
nothing; never QuickBooks' own tax agency accounts or inventory, and it offers no Accounts Receivable or
Payable at all (QuickBooks refuses them for the Fusebill items).
"""
from __future__ import annotations

import html
import re

import pytest
import requests

from tests.integration.conftest import connect
from tests.portal_fixtures import post_form

# Added to each sample chart, so the order within "Recommended" can be seen: the contract's detail type
# first, then accounts whose generic detail type lets their name speak, never a generic one without.
EXTRA_ACCOUNTS = [
    {"Name": "Deferred Revenue", "AccountType": "Other Current Liability", "AccountSubType": "DeferredRevenue"},
    {"Name": "Deferred income (other)", "AccountType": "Other Current Liability", "AccountSubType": "OtherCurrentLiabilities"},
    {"Name": "Customer Deposits", "AccountType": "Other Current Liability", "AccountSubType": "OtherCurrentLiabilities"},
    {"Name": "Fusebill tax collected", "AccountType": "Other Current Liability", "AccountSubType": "OtherCurrentLiabilities"},
    {"Name": "Bad Debts", "AccountType": "Expense", "AccountSubType": "BadDebts"},
]
TAX_AGENCY_SUBTYPES = {"SalesTaxPayable", "GlobalTaxPayable", "GlobalTaxSuspense"}
TAX_AGENCY_NAMES = re.compile(r"\b(GST|HST|PST|QST|VAT)\b|^Sales Tax Payable$|Payable$", re.IGNORECASE)
# The contract's type and detail type (None: any), which must come first in each picker.
CONTRACT_FIRST = {
    "deferred_revenue": ("Other Current Liability", "DeferredRevenue"),
    "charge_reversals": ("Other Current Liability", "DeferredRevenue"),
    "payments_deposit": ("Other Current Asset", "UndepositedFunds"),
    "refunds": ("Bank", None),
    "credits": ("Income", "DiscountsRefundsGiven"),
    "write_offs": ("Expense", "BadDebts"),
}
COMPANIES = {
    "US": {"country": "US", "home_currency": "USD", "tax": "us_automated"},
    "CA": {"country": "CA", "home_currency": "CAD", "tax": "codes"},
    "UK": {"country": "GB", "home_currency": "GBP", "tax": "codes"},
}


def _accounts(qbo, realm) -> dict[str, dict]:
    response = requests.post(
        f"{qbo.api_base}/company/{realm}/query", data="SELECT * FROM Account WHERE Active = true MAXRESULTS 1000",
        params={"minorversion": 75}, timeout=30,
        headers={"Authorization": f"Bearer {qbo.tokens(realm)['access_token']}", "Content-Type": "application/text", "Accept": "application/json"},
    )
    assert response.status_code == 200, response.text
    return {row["Id"]: row for row in response.json()["QueryResponse"]["Account"]}


def _pickers(page: str) -> dict[str, tuple[list[str], list[str]]]:
    """Per ledger: (recommended option ids in order, every option id)."""
    found = {}
    for key, body in re.findall(r'<select class="input" name="ledger-(\w+)".*?>(.*?)</select>', page, re.DOTALL):
        recommended = body.split('label="Recommended"', 1)[1].split("</optgroup>", 1)[0] if 'label="Recommended"' in body else ""
        found[key] = (re.findall(r'<option value="(\d+)"', recommended), re.findall(r'<option value="(\d+)"', body))
    return found


def _is_tax_agency(row: dict) -> bool:
    return row.get("AccountSubType") in TAX_AGENCY_SUBTYPES or bool(TAX_AGENCY_NAMES.search(row["Name"])) and row["AccountType"] == "Other Current Liability"


def _text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.mark.parametrize("country", sorted(COMPANIES))
def test_recommendations_follow_the_contract_on_each_countrys_chart(enabled, qbo, country):
    realm = qbo.create_company(name=f"Sample Books {country}", **COMPANIES[country])
    qbo.create_accounts(realm, EXTRA_ACCOUNTS)
    accounts = _accounts(qbo, realm)
    by_name = {row["Name"]: row["Id"] for row in accounts.values()}
    agency = [row for row in accounts.values() if _is_tax_agency(row)]
    assert agency, "the sample chart has tax agency accounts, or this test proves nothing"
    assert any(row.get("AccountSubType") == "Inventory" for row in accounts.values())
    assert {"Accounts Receivable", "Accounts Payable"} <= {row["AccountType"] for row in accounts.values()}
    connect(enabled.client, qbo, realm_id=realm)

    page = enabled.client.get("/setup/ledgers").get_data(as_text=True)
    pickers = _pickers(page)
    assert set(CONTRACT_FIRST) <= set(pickers)
    for ledger, (recommended, offered) in pickers.items():
        assert offered, ledger
        for account_id in offered:  # QuickBooks refuses A/R and A/P for items: never offered
            assert accounts[account_id]["AccountType"] not in ("Accounts Receivable", "Accounts Payable"), (ledger, accounts[account_id]["Name"])
        for account_id in recommended:
            row = accounts[account_id]
            assert not _is_tax_agency(row), (country, ledger, row["Name"])
            assert row.get("AccountSubType") != "Inventory" and "Inventory" not in row["Name"], (country, ledger, row["Name"])
        # the tax agency accounts are still there to choose (flagged), just never recommended
        assert {row["Id"] for row in agency} <= set(offered) - set(recommended), ledger
    for ledger, (account_type, subtype) in CONTRACT_FIRST.items():
        first = accounts[pickers[ledger][0][0]]
        assert first["AccountType"] == account_type and (subtype is None or first.get("AccountSubType") == subtype), (country, ledger, first)

    deferred = pickers["deferred_revenue"][0]
    assert deferred == [by_name["Deferred Revenue"], by_name["Deferred income (other)"]]  # Customer Deposits says nothing: not recommended
    assert pickers["payments_deposit"][0][:3] == [by_name["Undeposited Funds"], by_name["Checking"], by_name["Savings"]]
    assert pickers["credits"][0] == [by_name["Discounts given"]]  # not Rent, Utilities or Advertising
    assert pickers["write_offs"][0] == [by_name["Bad Debts"]]
    if country == "US":  # a company without tax codes has a Sales Tax Payable ledger: its own liability, by name
        assert pickers["sales_tax_payable"][0] == [by_name["Fusebill tax collected"]]
    else:
        assert "sales_tax_payable" not in pickers

    text = _text(page)
    assert "Recommended: Other current liability — deferred revenue." in text
    assert "Deferred Revenue · Other current liability — deferred revenue" in text
    assert "Discounts given · Income — discounts/refunds given" in text
    assert not re.search(r"\b(DeferredRevenue|UndepositedFunds|DiscountsRefundsGiven|BadDebts|OtherCurrentLiabilities)\b", text)
    assert not re.search(r"\ba (Expense|Income|Other|Accounts|expense|income|other)\b", text)


def test_an_unusual_choice_is_saved_with_a_warning_in_plain_words(enabled, session, qbo):
    realm = qbo.create_company(name="Maple Books", country="CA", home_currency="CAD", tax="codes")
    qbo.create_accounts(realm, EXTRA_ACCOUNTS)
    accounts = _accounts(qbo, realm)
    by_name = {row["Name"]: row["Id"] for row in accounts.values()}
    connect(enabled.client, qbo, realm_id=realm)
    form = {"ledger-deferred_revenue": by_name["GST/HST Payable"], "ledger-payments_deposit": by_name["Undeposited Funds"],
            "ledger-refunds": by_name["Checking"], "ledger-credits": by_name["Advertising"], "ledger-write_offs": by_name["Bad Debts"]}
    saved = post_form(enabled.client, "/setup/ledgers", "/setup/ledgers", form, follow_redirects=True)
    text = _text(saved.get_data(as_text=True))
    assert "Ledgers saved." in text
    assert ("“GST/HST Payable” (Other current liability — global tax payable) is a tax agency account that QuickBooks keeps for its own "
            "sales tax and tax returns") in text
    assert ("“Advertising” (Expense — advertising/promotional) is unusual for Credits. "
            "Recommended: Income — discounts/refunds given, or an Expense account for credits given.") in text
