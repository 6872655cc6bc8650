"""Requesting enablement, and support enabling / disabling with a reason, audited."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.models import AuditEvent, EnablementRequest
from tests.portal_fixtures import post_form, sign_in

LANDING = "/integration-disabled/"


def _request(client, message=""):
    return post_form(client, LANDING, "/integration-disabled/request", {"message": message}, follow_redirects=True)


def test_landing_screen_explains_and_offers_a_request(client, make_account, admin_of):
    sign_in(client, admin_of(make_account(name="Acme Billing")))
    body = client.get(LANDING).get_data(as_text=True)
    assert "The QuickBooks Online integration is not enabled for your account" in body
    assert "Fusebill support turns this feature on" in body
    assert "Request enablement" in body
    assert "Fusebill Charges" in body and "Deferred Revenue" in body


def test_request_is_recorded_and_a_second_click_says_already_requested(client, session, make_account, admin_of):
    account = make_account()
    admin = admin_of(account)
    sign_in(client, admin)
    first = _request(client, "We go live next month")
    assert "Your request has been sent to Fusebill support" in first.get_data(as_text=True)
    second = _request(client)
    assert "Enablement was already requested on" in second.get_data(as_text=True)
    rows = session.scalars(select(EnablementRequest).where(EnablementRequest.account_id == account.id)).all()
    assert len(rows) == 1 and rows[0].status == "pending" and rows[0].message == "We go live next month"
    assert rows[0].requested_by_id == admin.id
    audits = session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "enablement.requested", AuditEvent.account_id == account.id))
    assert audits == 1
    assert "Enablement requested on" in client.get(LANDING).get_data(as_text=True)


def test_request_note_too_long_is_refused_next_to_the_field(client, session, make_account, admin_of):
    account = make_account()
    sign_in(client, admin_of(account))
    response = post_form(client, LANDING, "/integration-disabled/request", {"message": "x" * 1001})
    assert response.status_code == 400
    assert 'data-field="message">Keep the note to 1,000 characters or fewer.' in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(EnablementRequest)) == 0


def test_support_sees_pending_request_in_search_and_on_the_account(client, make_account, admin_of, support_user):
    quiet = make_account(name="Quiet Co")
    asking = make_account(name="Asking Co")
    admin = admin_of(asking)
    sign_in(client, admin)
    _request(client, "please")
    client.post("/sign-out", data={"csrf_token": ""})
    client.delete_cookie("fbqbo_session")
    sign_in(client, support_user)
    listing = client.get("/support/?state=pending").get_data(as_text=True)
    assert "Asking Co" in listing and "Quiet Co" not in listing
    assert "Requested" in listing
    by_email = client.get(f"/support/?q={admin.email}").get_data(as_text=True)
    assert "Asking Co" in by_email and "Quiet Co" not in by_email
    by_id = client.get(f"/support/?q={quiet.fusebill_account_id.lower()}").get_data(as_text=True)
    assert "Quiet Co" in by_id and "Asking Co" not in by_id
    page = client.get(f"/support/accounts/{asking.id}").get_data(as_text=True)
    assert "Pending enablement request" in page and "please" in page


def _change(client, account, action, reason):
    page = f"/support/accounts/{account.id}"
    return post_form(client, page, f"/support/accounts/{account.id}/enablement", {"enablement-action": action, "enablement-reason": reason})


def test_enable_with_reason_is_audited_shown_and_grants_the_request(client, session, make_account, admin_of, support_user):
    account = make_account()
    admin = admin_of(account)
    sign_in(client, admin)
    _request(client)
    client.delete_cookie("fbqbo_session")
    sign_in(client, support_user)
    response = _change(client, account, "enable", "Customer signed the QBO addendum")
    assert response.status_code == 302
    session.expire_all()
    assert session.get(type(account), account.id).integration_enabled is True
    request_row = session.scalar(select(EnablementRequest).where(EnablementRequest.account_id == account.id))
    assert request_row.status == "granted" and request_row.resolved_by_id == support_user.id
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "enablement.enabled"))
    assert event.actor_id == support_user.id and event.details["reason"] == "Customer signed the QBO addendum"
    page = client.get(f"/support/accounts/{account.id}").get_data(as_text=True)
    assert "Customer signed the QBO addendum" in page  # on the account's page, in its audit log
    assert 'data-action="enablement.enabled"' in page


def test_disable_is_audited_and_the_admin_is_gated_again(client, session, make_account, admin_of, support_user):
    account = make_account(enabled=True)
    admin = admin_of(account)
    sign_in(client, support_user)
    assert _change(client, account, "disable", "Customer cancelled").status_code == 302
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "enablement.disabled"))
    assert event.details["reason"] == "Customer cancelled"
    client.delete_cookie("fbqbo_session")
    sign_in(client, admin)
    assert client.get("/setup/", follow_redirects=True).request.path == LANDING


@pytest.mark.parametrize(
    "reason,message",
    [("", "A reason is required"), ("   ", "A reason is required"), ("ok", "Write between 5 and 500 characters."), ("x" * 501, "Write between 5 and 500 characters."), ("bad\x00reason", "characters that are not allowed")],
)
def test_reason_is_required_and_bounded(client, session, make_account, support_user, reason, message):
    account = make_account()
    sign_in(client, support_user)
    response = _change(client, account, "enable", reason)
    assert response.status_code == 400
    assert 'data-field="enablement-reason">' in response.get_data(as_text=True)
    assert message in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(type(account), account.id).integration_enabled is False
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("enablement.%"))) == 0


def test_unknown_action_is_refused(client, make_account, support_user):
    account = make_account()
    sign_in(client, support_user)
    assert _change(client, account, "explode", "because I can").status_code == 400


def test_enabling_twice_says_so_and_audits_once(client, session, make_account, support_user):
    account = make_account()
    sign_in(client, support_user)
    _change(client, account, "enable", "first time")
    response = _change(client, account, "enable", "second time")
    assert response.status_code == 302
    assert "already enabled" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "enablement.enabled")) == 1


def test_support_can_decline_a_request_with_a_reason(client, session, make_account, admin_of, support_user):
    account = make_account()
    sign_in(client, admin_of(account))
    _request(client)
    client.delete_cookie("fbqbo_session")
    sign_in(client, support_user)
    pending = session.scalar(select(EnablementRequest))
    page = f"/support/accounts/{account.id}"
    response = post_form(client, page, f"/support/requests/{pending.id}/decline", {"decline-reason": "No QBO plan yet"})
    assert response.status_code == 302
    session.expire_all()
    assert session.get(EnablementRequest, pending.id).status == "declined"
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "enablement.declined")).details["reason"] == "No QBO plan yet"


def test_unknown_account_is_a_styled_404(client, support_user):
    sign_in(client, support_user)
    response = client.get("/support/accounts/99999")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_search_rejects_bad_input_next_to_the_field(client, support_user):
    sign_in(client, support_user)
    too_long = client.get("/support/?q=" + "a" * 201)
    assert too_long.status_code == 400 and 'data-field="q">Search for at most 200 characters.' in too_long.get_data(as_text=True)
    bad_state = client.get("/support/?state=everything")
    assert bad_state.status_code == 400 and 'data-field="state">' in bad_state.get_data(as_text=True)
