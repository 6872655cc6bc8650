"""Issue 9 in a real browser, with RQ workers running in the background: connect → ledgers → match
customers (one linked to a QuickBooks customer that was there before) → Sync now → the progress bar
reaches 100 % in place → the reconciliation report shows every customer matched → a record made to
fail in the Fusebill emulator shows in the event log with its hint → fixed in Fusebill → Retry →
synced; then a change made in the Fusebill emulator reaches QuickBooks through the emulator's
webhook delivery without pressing anything (the seconds it took are printed). A screenshot of each page.
"""
from __future__ import annotations

import time

import pytest
from redis import Redis

from emulators.fusebill.config import FusebillEmulatorConfig
from emulators.fusebill.testing import running_emulator as running_fusebill
from emulators.qbo.config import QboEmulatorConfig
from emulators.qbo.testing import running_emulator as running_qbo
from jobs import context as job_context_module
from portal.clients.qbo import request_id
from portal.models import Account, User
from tests.e2e.conftest import serve_portal
from tests.portal_fixtures import TEST_PASSWORD, _test_password_hash
from tests.support.workers import WorkerPool

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

CUSTOMERS = 8
SEED = 909
WORKERS = 2
TIME_SCALE = 20.0  # rate-limit windows run this much faster (as in tests/sync)
WAIT = 30_000  # ms: the longest any one step may take on a loaded 2-core machine
SYNCED_STATUSES = ("Active", "Hold", "Suspended", "Cancelled")


@pytest.fixture
def stack(tmp_path, redis_url):  # type: ignore[no-untyped-def]
    """Emulators, the portal served on a loopback port, and RQ workers (forked like `python -m
    jobs.worker`, each in its own process group) whose jobs run against the served app."""
    Redis.from_url(redis_url).flushdb()  # RQ job ids are per portal database: start from an empty Redis
    # Both emulators' limits (QBO's, and Fusebill's 50 requests a minute for a sandbox account) and the
    # portal's own pacing of them run TIME_SCALE times faster, so their windows pass in seconds.
    with running_qbo(QboEmulatorConfig(time_scale=TIME_SCALE)) as qbo, running_fusebill(FusebillEmulatorConfig(time_scale=TIME_SCALE)) as staging:
        portal = serve_portal(tmp_path, redis_url, qbo_emulator_url=qbo.url, fusebill_staging_url=staging.url,
                              fusebill_production_url=staging.url, rate_limit_time_scale=TIME_SCALE)
        base, database, app = next(portal)
        job_context_module.use_app(app)
        job_context_module.use_context(None)
        pool = WorkerPool(redis_url)
        try:
            pool.keep(WORKERS)
            yield base, database, app, qbo, staging, pool
        finally:
            pool.stop()
            job_context_module.use_context(None)
            job_context_module.use_app(None)
            portal.close()


def qbo_api(app, database):  # type: ignore[no-untyped-def]
    """The QBO API as the portal's own client reaches it (tokens from the connection made in the browser)."""
    from sqlalchemy import select

    from portal.extensions import service_context
    from portal.models import QboConnection
    from portal.services.qbo_tokens import qbo_session

    with app.app_context():
        ctx = service_context()
        with database.session_scope() as session:
            connection_id = session.scalar(select(QboConnection.id).where(QboConnection.disconnected_at.is_(None)))
        return qbo_session(ctx, connection_id)


def qbo_customer_of(api, customer_id: str) -> dict:  # type: ignore[no-untyped-def]
    found = [c for c in api.query_all("Customer") if str(c.get("DisplayName", "")).endswith(f"(FB-{customer_id})")]
    assert len(found) == 1, found
    return found[0]


def reload_until(page, selector: str, timeout: float = WAIT / 1000, every: float = 0.5):  # type: ignore[no-untyped-def]
    """Reload a page that does not update itself until `selector` is on it."""
    deadline = time.monotonic() + timeout
    while not page.locator(selector).count():
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} did not appear on {page.url} within {timeout}s")
        time.sleep(every)
        page.reload()
    return page.locator(selector)


def sync_now(page, base: str) -> str:
    """Press Sync now and watch the run page until the run ends, without reloading it: the bar reaches
    its maximum. Returns the run's final status."""
    page.goto(base + "/sync/")
    page.click("[data-test=sync-now]")
    page.wait_for_selector("[data-page=sync-run]")
    page.evaluate("window.__sameDocument = true")  # gone if anything reloaded the page
    page.wait_for_function("""() => {
        const root = document.querySelector('[data-page=sync-run]');
        const bar = root.querySelector('progress[data-live=bar]');
        return ['succeeded', 'partial', 'failed'].includes(root.dataset.status) && bar.value === bar.max;
    }""", timeout=WAIT)
    assert page.evaluate("window.__sameDocument === true"), "the run page reloaded itself"
    label = page.inner_text("[data-live=bar_label]")
    assert label.startswith("Complete: ") or label.endswith("(100 %)"), label  # "Complete" only for a run that succeeded
    return page.get_attribute("[data-page=sync-run]", "data-status")


def test_match_sync_reconcile_fail_fix_retry_and_a_webhook_change(browser, stack, screenshots, capsys):
    base, database, app, qbo, staging, pool = stack
    started = time.monotonic()
    with database.session_scope() as session:
        account = Account(name="Liberty Subscriptions", fusebill_account_id="FB-LIBERTY", integration_enabled=True)
        session.add(account)
        session.flush()
        session.add(User(email="owner@liberty.example", name="Owner", password_hash=_test_password_hash(), role="admin", account_id=account.id))
    realm = qbo.create_company(name="Liberty Books (sandbox)", country="US", home_currency="USD", tax="none", auto_apply_credits=False)
    api_key = staging.create_account("sandbox")
    # Without the scripted stories (which keep the currency their story needs): every customer in USD.
    staging.seed(api_key, customers=CUSTOMERS, seed=SEED, currency_weights={"USD": 1}, guaranteed_cases=False)
    customers = staging.get(api_key, "/customers", pageSize=100).json()
    emails = [str(c.get("primaryEmail") or "").lower() for c in customers]
    usable = [c for c in customers if c["status"] == "Active" and c.get("primaryEmail") and emails.count(str(c["primaryEmail"]).lower()) == 1]
    assert len(usable) >= 3, [(c["id"], c["status"]) for c in customers]
    matched, failing, renamed = (str(c["id"]) for c in usable[:3])
    synced_customers = {str(c["id"]) for c in customers if c["status"] in SYNCED_STATUSES}

    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(WAIT)
    page = context.new_page()
    page.goto(base + "/sign-in")
    page.fill("input[name=email]", "owner@liberty.example")
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-page=setup-overview]")

    # 1. Connect through the (emulated) consent page
    page.goto(base + "/setup/connect")
    page.click("[data-test=connect-qbo]")
    page.wait_for_selector("form#consent")
    page.check(f"input[name=realm_id][value='{realm}']")
    page.click("button[name=decision][value=approve]")
    page.wait_for_selector("[data-test=connection-facts]")
    assert "Liberty Books (sandbox)" in page.inner_text("[data-test=company-name]")
    screenshots(page, "connected")

    # 2. Fusebill key, ledgers (each made for us), sync settings
    page.goto(base + "/setup/environment")
    page.fill("input[name='key-sandbox-api_key']", api_key)
    page.click("[data-test=save-key-sandbox]")
    page.wait_for_selector("text=checked with Fusebill and saved")
    page.goto(base + "/setup/ledgers")
    ledgers = [name.removeprefix("ledger-") for name in page.locator("select[name^=ledger-]").evaluate_all("els => els.map(e => e.name)")]
    assert {"deferred_revenue", "payments_deposit", "refunds", "credits", "write_offs"} <= set(ledgers), ledgers
    for ledger in ledgers:
        page.click(f"[data-test=create-{ledger}]")
        page.wait_for_selector("text=is ready in QuickBooks and chosen")
    page.click("[data-test=save-ledgers]")
    page.wait_for_selector("text=Ledgers saved.")
    screenshots(page, "ledgers")
    page.goto(base + "/setup/settings")
    page.check("input[name=display_name_parts][value=company_name]")
    page.check("input[name=update_display_names][value=yes]")
    page.check("input[name=new_customers][value=create]")
    page.fill("input[name=sync_start_date]", "2020-01-01")
    page.select_option("select[name=schedule]", "off")
    page.click("[data-test=save-settings]")
    page.wait_for_selector("text=Sync settings for the sandbox environment saved")
    page.goto(base + "/setup/")
    assert "Set-up complete" in page.inner_text("[data-step=sync]")
    screenshots(page, "setup-complete")

    # 3. Customers: a QuickBooks customer kept before (same email as a Fusebill customer) is found and linked
    api = qbo_api(app, database)
    email = next(c["primaryEmail"] for c in customers if str(c["id"]) == matched)
    existing_id = str(api.create("Customer", {"DisplayName": "Books Already Kept Here", "PrimaryEmailAddr": {"Address": email.upper()}},
                                 request_id("e2e", "existing"))["Id"])
    page.goto(base + "/matching/")
    page.click("[data-test=find-matches]")
    row = page.locator(f"tr[data-customer='{matched}'][data-status=suggested]")
    row.wait_for()  # the page reloads itself while the search runs
    assert "Last searched" in page.inner_text("[data-test=scan-state]")
    assert f"{existing_id} Books Already Kept Here" in row.locator("[data-test=qbo]").inner_text()
    assert "matched by email" in row.inner_text()
    assert row.locator("select[name=choice]").input_value() == "link"
    assert row.locator("input[name=qbo_customer_id]").input_value() == existing_id
    screenshots(page, "customers-suggested")
    row.locator("[data-test=save-choice]").click()
    decided = page.locator(f"tr[data-customer='{matched}'][data-status=decided]")
    decided.or_(page.locator("[data-test=row-error]")).first.wait_for()
    assert decided.count() == 1, page.locator("[data-test=row-error]").all_inner_texts()
    assert "Chosen:" in decided.locator("[data-test=decision]").inner_text()
    screenshots(page, "customers-decided")

    # 4. Sync now: the run page's bar reaches 100 % in place
    status = sync_now(page, base)
    assert status == "succeeded", page.inner_text("[data-page=sync-run]")
    assert page.inner_text("[data-live=bar_label]").startswith("Complete")
    screenshots(page, "run-complete")
    linked = qbo_customer_of(api, matched)
    assert linked["Id"] == existing_id  # the customer that was there, not a second one
    page.goto(base + "/matching/")
    assert page.locator(f"tr[data-customer='{matched}'][data-status=linked]").count() == 1

    # 5. Reconciliation: every customer matched
    page.goto(base + "/reports/")
    page.click("[data-test=check-now]")
    page.wait_for_selector("[data-test=report-summary]")  # the page reloads itself while the report is built
    screenshots(page, "reconciliation")
    counts = {key: int(page.inner_text(f"[data-count={key}]")) for key in ("checked", "matched", "mismatched", "missing", "accepted-pairs")}
    assert counts["mismatched"] == 0 and counts["missing"] == 0, counts
    # "Matched (open refund pair)": a refunded overpayment leaves two open A/R entries that net to the
    # right balance, which the accounting contract accepts as matched.
    assert counts["checked"] == counts["matched"] + counts["accepted-pairs"] == len(synced_customers), counts
    lines = page.locator("[data-test=report-customers] tr[data-customer]")
    statuses = dict(lines.evaluate_all("rows => rows.map(r => [r.dataset.customer, r.dataset.status])"))
    assert {c for c, s in statuses.items() if s in ("matched", "accepted-pair")} == synced_customers, statuses
    assert statuses[matched] == "matched" and f"QuickBooks {existing_id}" in page.inner_text(f"[data-test=report-customers] tr[data-customer='{matched}']")
    assert "matches Fusebill to the cent" in page.inner_text("[data-test=report-headline]")

    # 6. A record made to fail in Fusebill: renamed to a name a QuickBooks vendor already has
    clash = "Clash Supplies"
    api.create("Vendor", {"DisplayName": f"{clash} (FB-{failing})"}, request_id("e2e", "vendor"))
    staging.records(api_key, {"op": "update_customer", "customer_id": int(failing), "set": {"companyName": clash}})
    status = sync_now(page, base)
    assert status == "partial", page.inner_text("[data-page=sync-run]")
    screenshots(page, "run-partial")
    page.goto(base + "/sync/records?state=failed")
    failed = page.locator(f"tr[data-record='customer:{failing}'][data-state=failed]")
    assert failed.count() == 1, page.inner_text("[data-test=records]")
    assert "already exists" in failed.locator("[data-test=hint]").inner_text()
    assert "Rename one of them, then retry." in failed.locator("[data-test=hint]").inner_text()
    assert failed.locator("[data-test=reason]").inner_text()
    screenshots(page, "event-log-failed")

    # 7. Fixed in Fusebill, then Retry on that row: synced
    staging.records(api_key, {"op": "update_customer", "customer_id": int(failing), "set": {"companyName": "Clash Supplies West"}})
    failed.locator("[data-test=retry]").click()
    page.wait_for_selector("text=Retry queued")
    screenshots(page, "retry-queued")
    page.goto(base + f"/sync/records?customer={failing}&type=customer")
    reload_until(page, f"tr[data-record='customer:{failing}'][data-state=synced]")
    screenshots(page, "event-log-synced")
    assert qbo_customer_of(api, failing)["DisplayName"] == f"Clash Supplies West (FB-{failing})"
    page.goto(base + "/sync/records?state=failed")
    assert page.locator("[data-test=no-records]").count() == 1, page.inner_text("[data-test=records]")  # its other records went with it

    # 8. A change in Fusebill reaches QuickBooks through the webhook, without pressing anything
    page.goto(base + "/setup/environment")
    url = page.inner_text("[data-test=webhook-url-sandbox]").strip()
    key = page.inner_text("[data-test=webhook-key-sandbox]").strip()
    assert url.startswith(base + "/webhooks/fusebill/")
    staging.register_webhook(api_key, url, key)
    screenshots(page, "webhook-endpoint")
    qbo_id = qbo_customer_of(api, renamed)["Id"]
    page.goto(base + "/sync/")
    last_run = int(page.get_attribute("[data-test=runs] tr[data-run]", "data-run"))
    assert "retry" in page.locator("[data-test=runs] tr[data-run]").first.inner_text()  # the Retry's run says so
    changed = time.monotonic()
    staging.records(api_key, {"op": "update_customer", "customer_id": int(renamed), "set": {"companyName": "Renamed By Webhook"}})
    name = ""
    while time.monotonic() - changed < WAIT / 1000:
        name = api.read("Customer", qbo_id)["DisplayName"]
        if name.startswith("Renamed By Webhook"):
            break
        time.sleep(0.2)
    elapsed = time.monotonic() - changed
    assert name == f"Renamed By Webhook (FB-{renamed})", name
    with capsys.disabled():
        print(f"\n[webhook latency] Fusebill change → QuickBooks DisplayName: {elapsed:.2f}s (whole walk-through {time.monotonic() - started:.1f}s)")
    page.goto(base + "/sync/")
    latest = page.locator("[data-test=runs] tr[data-run]").first
    assert int(latest.get_attribute("data-run")) == last_run + 1 and "webhook" in latest.inner_text(), latest.inner_text()
    screenshots(page, "sync-runs")
    page.goto(base + f"/sync/records?customer={renamed}&type=customer")
    reload_until(page, f"tr[data-record='customer:{renamed}'][data-state=synced]")
    screenshots(page, "event-log-webhook")
    assert all(path.stat().st_size > 5000 for path in screenshots.saved)
    pool.reap()
    assert len(pool.children) == WORKERS, "a worker process died during the walk-through"
    context.close()
