"""A new account's first day, in a real browser: landing screen → request → support enables → setup."""
from __future__ import annotations

import pytest

from portal.cli import seed_demo, DEMO_ADMIN, DEMO_SUPPORT

pytestmark = pytest.mark.e2e


def _sign_in(page, base, email, password):
    page.goto(base + "/sign-in")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_admin_requests_support_enables_admin_sees_setup(browser, live_portal, screenshots):
    base, database, _app = live_portal
    with database.session_scope() as session:
        seed_demo(session)

    admin = browser.new_context(viewport={"width": 1200, "height": 900})
    page = admin.new_page()
    page.goto(base + "/setup/")
    assert "/sign-in" in page.url  # a hand-typed setup URL asks for sign-in first
    screenshots(page, "sign-in")

    _sign_in(page, base, DEMO_ADMIN["email"], "wrong password!")
    assert page.locator(".field-error").inner_text().endswith("The email address or password is not correct.")
    screenshots(page, "sign-in-error")

    _sign_in(page, base, DEMO_ADMIN["email"], DEMO_ADMIN["password"])
    page.wait_for_selector("[data-page=integration-disabled]")
    assert "not enabled for your account" in page.inner_text("h1")
    screenshots(page, "landing-disabled")

    page.fill("textarea[name=message]", "We would like to start with the sandbox this week.")
    page.click("[data-test=request-enablement]")
    page.wait_for_selector("[data-test=request-pending]")
    assert "Your request has been sent to Fusebill support" in page.inner_text(".flashes")
    screenshots(page, "landing-requested")

    page.goto(base + "/setup/")  # typed by hand: still gated
    assert page.url.endswith("/integration-disabled/")

    support = browser.new_context(viewport={"width": 1200, "height": 900})
    console = support.new_page()
    _sign_in(console, base, DEMO_SUPPORT["email"], DEMO_SUPPORT["password"])
    console.wait_for_selector("[data-page=support-accounts]")
    console.select_option("select[name=state]", "pending")
    console.click("button:has-text('Search')")
    row = console.locator("tr[data-account=FB-DEMO-1001]")
    assert "Requested" in row.inner_text()
    screenshots(console, "support-accounts-pending")

    row.locator("a").click()
    console.wait_for_selector("[data-test=pending-request]")
    assert "We would like to start with the sandbox this week." in console.inner_text("[data-test=pending-request]")
    console.click("[data-test=enable]")  # without a reason first
    assert "A reason is required" in console.inner_text(".field-error")
    screenshots(console, "support-reason-required")

    console.fill("textarea[name=enablement-reason]", "Customer confirmed their QuickBooks Online plan")
    console.click("[data-test=enable]")
    console.wait_for_selector("text=The integration is now enabled")
    assert "Enabled" in console.inner_text("[data-test=enablement-state]")
    assert "Customer confirmed their QuickBooks Online plan" in console.inner_text("[data-test=audit-log]")
    screenshots(console, "support-enabled")

    page.reload()
    page.wait_for_selector("[data-page=setup-overview]")
    steps = page.locator("[data-step]")
    assert steps.count() == 4
    assert page.locator("[data-step=connect]").get_attribute("data-state") == "todo"
    assert page.get_attribute(".env-banner", "data-environment") == "sandbox"
    assert "Working in the sandbox environment" in page.inner_text(".env-banner")
    screenshots(page, "setup-overview")

    assert len(screenshots.saved) == 8 and all(path.stat().st_size > 5000 for path in screenshots.saved)
    admin.close()
    support.close()
