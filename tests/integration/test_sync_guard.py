"""A sync cannot start on a disabled account, nor before connection, ledgers, taxes and environment are ready."""
from __future__ import annotations

from datetime import timedelta

import pytest

from portal.models import Account
from portal.services import NotAllowed
from portal.services.checklist import ensure_sync_can_start, sync_blockers
from tests.integration.conftest import connect, live
from tests.portal_fixtures import post_form
from tests.support.helpers import save_key


def test_disabled_account_cannot_start(session, make_account):
    account = make_account(enabled=False)
    with pytest.raises(NotAllowed, match="not enabled"):
        ensure_sync_can_start(session, account)


def test_every_missing_step_is_named_until_ready(enabled, session, qbo, fusebill_staging):
    account = session.get(Account, enabled.account.id)
    reasons = " ".join(sync_blockers(session, account))
    assert "Connect QuickBooks" in reasons and "Choose ledgers" in reasons and "Fusebill API key" in reasons
    realm = qbo.create_company(name="Ready Co", auto_apply_credits=True)
    connect(enabled.client, qbo, realm_id=realm)
    for ledger in ("deferred_revenue", "sales_tax_payable", "payments_deposit", "refunds", "credits", "write_offs"):
        post_form(enabled.client, "/setup/ledgers", "/setup/ledgers/create", {"ledger": ledger})
    save_key(enabled.client, fusebill_staging.create_account("sandbox"))
    post_form(enabled.client, "/setup/settings", "/setup/settings", {"display_name_parts": ["company_name"], "update_display_names": "yes",
                                                                    "new_customers": "create", "sync_start_date": "2025-01-01", "schedule": "off"})
    session.expire_all()
    reasons = sync_blockers(session, account)
    assert len(reasons) == 1 and "Automatically apply credits" in reasons[0]
    qbo.set_preferences(realm, auto_apply_credits=False)
    connection = live(session, account)
    connection.company_checked_at -= timedelta(minutes=10)
    session.commit()
    enabled.client.get("/setup/")  # the next visit, a few minutes later, re-checks the company
    session.expire_all()
    assert sync_blockers(session, account) == []
    ensure_sync_can_start(session, account)
