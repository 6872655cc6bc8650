"""Ledger picker ordering and warnings, items per tax set-up, the DisplayName preview."""
from __future__ import annotations

from portal.clients.qbo import QboAccount
from portal.models import LedgerChoice
from portal.services.environments import display_name_preview
from portal.services.ledgers import LEDGERS_BY_KEY, build_pickers, items_needed, required_ledgers, unusual_type_warning


def account(id_, name, type_, subtype=""):
    return QboAccount(id_, name, name, type_, subtype, "", "USD", True)


ACCOUNTS = [
    account("1", "Checking", "Bank", "Checking"),
    account("2", "Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable"),
    account("3", "Undeposited Funds", "Other Current Asset", "UndepositedFunds"),
    account("4", "Deferred Revenue", "Other Current Liability", "DeferredRevenue"),
    account("5", "Customer Deposits", "Other Current Liability", "OtherCurrentLiabilities"),
    account("6", "Services", "Income", "ServiceFeeIncome"),
    account("7", "Bad Debts", "Expense", "BadDebts"),
]


def test_recommended_accounts_come_first_best_fit_first():
    pickers = {p.spec.key: p for p in build_pickers(ACCOUNTS, {})}
    deferred = pickers["deferred_revenue"]
    # a generic liability ("Customer Deposits") says nothing about deferred revenue: not recommended
    assert [a.name for a in deferred.recommended] == ["Deferred Revenue"]
    assert {a.name for a in deferred.others} == {"Checking", "Customer Deposits", "Undeposited Funds", "Services", "Bad Debts"}
    assert pickers["payments_deposit"].recommended[0].name == "Undeposited Funds"
    assert pickers["write_offs"].recommended[0].name == "Bad Debts"
    # every account a ledger may use is offered for every ledger: unusual ones are warned about, never
    # hidden; Accounts Receivable is never offered (QuickBooks refuses it for an item)
    assert all(len(p.recommended) + len(p.others) == len(ACCOUNTS) - 1 for p in pickers.values())
    assert all("Accounts Receivable (A/R)" not in [a.name for a in p.recommended + p.others] for p in pickers.values())


def test_unusual_choice_is_warned_about_in_plain_words_and_ar_strongly():
    spec = LEDGERS_BY_KEY["deferred_revenue"]
    assert unusual_type_warning(spec, ACCOUNTS[3]) == ""
    warning = unusual_type_warning(spec, ACCOUNTS[5])
    assert warning == ("“Services” (Income — service/fee income) is unusual for Deferred Revenue. "
                       "Recommended: Other current liability — deferred revenue.")
    assert "QuickBooks does not let the Fusebill items post there" in unusual_type_warning(spec, ACCOUNTS[1])
    assert "an Accounts Receivable account" in unusual_type_warning(spec, ACCOUNTS[1])


def test_chosen_account_that_disappeared_is_flagged():
    choice = LedgerChoice(ledger="credits", qbo_account_id="99", qbo_account_name="Old Credits", qbo_account_type="Income")
    picker = next(p for p in build_pickers(ACCOUNTS, {"credits": choice}) if p.spec.key == "credits")
    assert not picker.chosen_still_active
    assert "no longer an active account" in picker.warning


def test_tax_codes_companies_need_no_sales_tax_ledger_and_no_tax_item():
    assert "sales_tax_payable" in required_ledgers("none")
    assert "sales_tax_payable" in required_ledgers("us_automated")
    assert "sales_tax_payable" not in required_ledgers("codes")
    assert "charge_reversals" not in required_ledgers("none")  # optional: falls back to Deferred Revenue
    assert "taxes" in [i.key for i in items_needed("us_automated")]
    assert "taxes" not in [i.key for i in items_needed("codes")]


def test_display_name_always_carries_the_fusebill_id():
    assert display_name_preview(["company_name"]) == "Acme Ltd (FB-100156)"
    assert display_name_preview(["first_name", "last_name"]) == "Jane Doe (FB-100156)"
    assert display_name_preview(["company_name", "last_name"], company="") == "Doe (FB-100156)"
    # the company and the person are kept apart by a separator
    assert display_name_preview(["company_name", "last_name"]) == "Acme Ltd — Doe (FB-100156)"
    assert display_name_preview(["last_name", "first_name", "company_name"]) == "Acme Ltd — Jane Doe (FB-100156)"
