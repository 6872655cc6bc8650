"""Choose ledgers in Chromium: "Create this account for me" keeps the other pickers' unsaved choices,
and at phone width (390 px) every picker is full width and can be opened and changed. Also the
Settings page's DisplayName example, which follows the ticked boxes (static/settings.js)."""
from __future__ import annotations

import pytest

from emulators.qbo.testing import running_emulator as running_qbo
from portal.models import Account, User
from portal.services.environments import display_name_preview
from tests.e2e.conftest import serve_portal
from tests.portal_fixtures import TEST_PASSWORD, _test_password_hash

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}
EMAIL = "books@northwind.example"


@pytest.fixture
def stack(tmp_path, redis_url):
    with running_qbo() as qbo:
        portal = serve_portal(tmp_path, redis_url, qbo_emulator_url=qbo.url)
        base, database, _app = next(portal)
        try:
            with database.session_scope() as session:
                account = Account(name="Northwind Subscriptions", fusebill_account_id="FB-NORTH", integration_enabled=True)
                session.add(account)
                session.flush()
                session.add(User(email=EMAIL, name="Books", password_hash=_test_password_hash(), role="admin", account_id=account.id))
            yield base, qbo
        finally:
            portal.close()


def _signed_in(browser, base, viewport):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(base + "/sign-in")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-page=setup-overview]")
    return context, page


def _connect(page, base, realm):  # type: ignore[no-untyped-def]
    page.goto(base + "/setup/connect")
    page.click("[data-test=connect-qbo]")
    page.wait_for_selector("form#consent")
    page.check(f"input[name=realm_id][value='{realm}']")
    page.click("button[name=decision][value=approve]")
    page.wait_for_selector("[data-test=connection-facts]")


def _pick(page, ledger: str, starts_with: str) -> str:  # type: ignore[no-untyped-def]
    """Choose the first option whose label starts with `starts_with`; returns its value (the account id)."""
    options = page.locator(f"select[name=ledger-{ledger}] option")
    labels = options.all_inner_texts()
    index = next(i for i, label in enumerate(labels) if label.startswith(starts_with))
    value = options.nth(index).get_attribute("value")
    page.select_option(f"select[name=ledger-{ledger}]", value=value)
    return value


def _chosen_label(page, ledger: str) -> str:  # type: ignore[no-untyped-def]
    return page.locator(f"select[name=ledger-{ledger}] option:checked").inner_text()


def test_create_this_account_keeps_the_other_choices(browser, stack, screenshots):
    base, qbo = stack
    realm = qbo.create_company(name="Northwind Books (sandbox)")
    context, page = _signed_in(browser, base, {"width": 1200, "height": 900})
    _connect(page, base, realm)

    page.goto(base + "/setup/ledgers")
    picked = {"payments_deposit": _pick(page, "payments_deposit", "Undeposited Funds"),
              "refunds": _pick(page, "refunds", "Checking"),
              "credits": _pick(page, "credits", "Discounts given")}
    screenshots(page, "picked-not-saved")
    page.click("[data-test=create-deferred_revenue]")
    page.wait_for_selector("text=is ready in QuickBooks and chosen")
    for ledger, value in picked.items():  # the unsaved picks came back
        assert page.input_value(f"select[name=ledger-{ledger}]") == value, ledger
    assert _chosen_label(page, "deferred_revenue").startswith("Fusebill Deferred Revenue · Other current liability — deferred revenue")
    assert "Payments deposit" in page.inner_text("[data-test=unsaved-choices]")
    screenshots(page, "after-create-choices-kept")

    page.click("[data-test=create-write_offs]")  # a second one, and the picks still hold
    page.wait_for_selector("text=“Fusebill Bad Debts”")
    for ledger, value in picked.items():
        assert page.input_value(f"select[name=ledger-{ledger}]") == value, ledger
    assert _chosen_label(page, "deferred_revenue").startswith("Fusebill Deferred Revenue")
    page.click("[data-test=create-sales_tax_payable]")
    page.wait_for_selector("text=“Fusebill Sales Tax Payable”")
    page.click("[data-test=save-ledgers]")
    page.wait_for_selector("text=Ledgers saved.")
    page.goto(base + "/setup/ledgers")  # stored now, not only carried
    for ledger, value in picked.items():
        assert page.input_value(f"select[name=ledger-{ledger}]") == value, ledger
    assert page.locator("[data-test=unsaved-choices]").count() == 0
    page.goto(base + "/setup/")
    assert page.get_attribute("[data-step=ledgers]", "data-state") == "done"
    context.close()


def test_every_picker_is_usable_at_phone_width(browser, stack, screenshots):
    base, qbo = stack
    realm = qbo.create_company(name="Northwind Phone Books")
    context, page = _signed_in(browser, base, PHONE)
    _connect(page, base, realm)
    page.goto(base + "/setup/ledgers")
    selects = page.locator("select[name^=ledger-]")
    assert selects.count() >= 6
    for index in range(selects.count()):
        box = selects.nth(index).bounding_box()
        assert box is not None and box["width"] >= 250, box  # a full-width picker, not a sliver showing "—"
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        button = page.locator("[data-test^=create-]").nth(index).bounding_box()
        assert button is not None and button["x"] + button["width"] <= PHONE["width"], button
    refunds = page.locator("select[name=ledger-refunds]")
    refunds.scroll_into_view_if_needed()
    refunds.click()  # opens the native list
    page.keyboard.press("Escape")
    value = _pick(page, "refunds", "Checking")
    assert page.input_value("select[name=ledger-refunds]") == value
    assert _chosen_label(page, "refunds").startswith("Checking · Bank — checking")
    shot = screenshots(page, "ledgers-390px")
    assert shot.stat().st_size > 5000
    context.close()


def test_the_display_name_example_follows_the_boxes(browser, stack, screenshots):
    base, _qbo = stack
    context, page = _signed_in(browser, base, {"width": 1000, "height": 900})
    page.goto(base + "/setup/settings")
    preview = page.locator("[data-test=name-preview]")
    assert preview.inner_text() == display_name_preview(["company_name"])
    page.check("input[name=display_name_parts][value=last_name]")
    assert preview.inner_text() == display_name_preview(["company_name", "last_name"]) == "Acme Ltd — Doe (FB-100156)"
    page.check("input[name=display_name_parts][value=first_name]")
    assert preview.inner_text() == display_name_preview(["company_name", "first_name", "last_name"])
    page.uncheck("input[name=display_name_parts][value=company_name]")
    assert preview.inner_text() == display_name_preview(["first_name", "last_name"]) == "Jane Doe (FB-100156)"
    page.uncheck("input[name=display_name_parts][value=first_name]")
    page.uncheck("input[name=display_name_parts][value=last_name]")
    assert preview.inner_text() == display_name_preview([])
    screenshots(page, "settings-preview")
    context.close()
