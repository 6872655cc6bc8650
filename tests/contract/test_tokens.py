"""Refresh-token rotation with the 24-hour stale grace, expiry, and revocation (qbo-api §2.3-2.4)."""
import pytest
from intuitlib.exceptions import AuthClientError
from quickbooks.exceptions import AuthorizationException
from quickbooks.objects.customer import Customer

from tests.contract.target import QboTarget


def new_auth(target: QboTarget, tokens: dict):
    """A fresh intuitlib AuthClient holding `tokens` (no network call besides discovery)."""
    return target.emulator.auth_client("rotation-client", "rotation-secret", tokens=tokens, realm_id=target.realm_id)


def client_for(target: QboTarget, auth):
    """python-quickbooks on `auth` (refreshes on construction when auth.access_token is None)."""
    return target.emulator.quickbooks_class()(auth_client=auth, refresh_token=auth.refresh_token,
                                              company_id=target.realm_id, minorversion=75)


@pytest.mark.emulator_only
def test_refresh_rotates_and_the_previous_token_expires_after_24_hours(qbo_target: QboTarget):
    emulator = qbo_target.emulator
    tokens = emulator.tokens(qbo_target.realm_id, "rotation-client", "rotation-secret")
    auth = new_auth(qbo_target, tokens)
    original = auth.refresh_token
    auth.refresh()
    rotated = auth.refresh_token
    assert rotated != original and auth.x_refresh_token_expires_in == 100 * 86400

    emulator.advance_clock(23 * 3600)
    stale_user = new_auth(qbo_target, {"refresh_token": original})
    stale_user.refresh()  # still inside the 24-hour grace
    emulator.advance_clock(2 * 3600)
    late = new_auth(qbo_target, {"refresh_token": original})
    with pytest.raises(AuthClientError) as caught:
        late.refresh()
    assert caught.value.status_code == 400 and "invalid_grant" in caught.value.content.decode()
    assert caught.value.intuit_tid

    latest = new_auth(qbo_target, {"refresh_token": stale_user.refresh_token})
    latest.refresh()
    assert Customer.count(qb=client_for(qbo_target, latest)) == 0


@pytest.mark.emulator_only
def test_refresh_token_dies_after_100_days_without_use(qbo_target: QboTarget):
    tokens = qbo_target.emulator.tokens(qbo_target.realm_id, "rotation-client", "rotation-secret")
    auth = new_auth(qbo_target, tokens)
    qbo_target.emulator.advance_clock(100 * 86400 + 1)
    with pytest.raises(AuthClientError) as caught:
        auth.refresh()
    assert caught.value.status_code == 400


@pytest.mark.emulator_only
def test_revoke_ends_the_connection(qbo_target: QboTarget):
    tokens = qbo_target.emulator.tokens(qbo_target.realm_id, "rotation-client", "rotation-secret")
    auth = new_auth(qbo_target, tokens)
    qb = client_for(qbo_target, auth)
    assert Customer.count(qb=qb) == 0
    assert auth.revoke(token=auth.refresh_token) is True
    with pytest.raises(AuthorizationException) as caught:
        Customer.count(qb=qb)
    assert caught.value.error_code == 401
    with pytest.raises(AuthClientError):
        auth.refresh()


@pytest.mark.emulator_only
def test_python_quickbooks_refreshes_on_construction_without_access_token(qbo_target: QboTarget):
    """qbo-api §3.2: constructing QuickBooks with access_token None calls refresh() and rotates the token."""
    tokens = qbo_target.emulator.tokens(qbo_target.realm_id, "rotation-client", "rotation-secret")
    auth = new_auth(qbo_target, {"refresh_token": tokens["refresh_token"]})
    qb = client_for(qbo_target, auth)
    assert auth.refresh_token != tokens["refresh_token"] and qb.refresh_token == auth.refresh_token
    counts = qbo_target.emulator.request_counts(qbo_target.realm_id)["token"]
    assert counts["refresh_token"] >= 1
