"""Intuit OAuth: discovery, consent page, token endpoint, rotation, revocation and the 401 envelope."""
import base64
import json
from urllib.parse import urlencode

import pytest
import requests

from emulators.qbo.testing import DEFAULT_REDIRECT_URI

DAY = 86400


def basic(client_id: str = "client-a", secret: str = "secret-a") -> dict:
    token = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Accept": "application/json"}


def authorize_url(emulator, **overrides) -> str:
    params = {"client_id": "client-a", "response_type": "code", "scope": "com.intuit.quickbooks.accounting",
              "redirect_uri": DEFAULT_REDIRECT_URI, "state": "xyz"}
    params.update(overrides)
    return f"{emulator.url}/connect/oauth2?{urlencode(params)}"


def token_call(emulator, data: dict, headers: dict | None = None) -> requests.Response:
    return requests.post(f"{emulator.url}/oauth2/v1/tokens/bearer", data=data, headers=headers or basic(), timeout=10)


def exchange(emulator, realm_id: str) -> dict:
    code = emulator.authorize(authorize_url(emulator), realm_id=realm_id)["code"]
    response = token_call(emulator, {"grant_type": "authorization_code", "code": code, "redirect_uri": DEFAULT_REDIRECT_URI})
    assert response.status_code == 200, response.text
    return response.json()


def refresh(emulator, refresh_token: str) -> requests.Response:
    return token_call(emulator, {"grant_type": "refresh_token", "refresh_token": refresh_token})


def api_get(emulator, realm_id: str, access_token: str) -> requests.Response:
    return requests.get(f"{emulator.url}/v3/company/{realm_id}/companyinfo/{realm_id}",
                        headers={"Authorization": f"Bearer {access_token}"}, timeout=10)


def test_discovery_document_points_at_this_server(emulator):
    document = requests.get(emulator.discovery_url, timeout=10).json()
    for key in ("issuer", "authorization_endpoint", "token_endpoint", "revocation_endpoint", "userinfo_endpoint", "jwks_uri"):
        assert document[key].startswith(emulator.url), key


def test_consent_page_lists_companies_and_the_stable_form(emulator):
    realm_id = emulator.create_company("Larry's Bakery")
    page = requests.get(authorize_url(emulator), timeout=10)
    assert page.status_code == 200
    html = page.text
    assert "client-a wants to connect to your QuickBooks company" in html
    assert '<form id="consent" method="post">' in html
    assert f'name="realm_id" value="{realm_id}"' in html
    assert "Larry&#39;s Bakery" in html
    for name in ('name="new_company_name"', 'name="country"', 'name="home_currency"', 'name="multicurrency"',
                 'name="tax"', 'name="auto_apply_credits"', 'name="decision" value="approve"', 'name="decision" value="deny"'):
        assert name in html


@pytest.mark.parametrize("missing", [{"client_id": ""}, {"redirect_uri": ""}, {"response_type": "token"}])
def test_incomplete_authorization_request_is_an_error_page_without_redirect(emulator, missing):
    page = requests.get(authorize_url(emulator, **missing), allow_redirects=False, timeout=10)
    assert page.status_code == 400
    assert "Location" not in page.headers


def test_approve_redirects_with_code_state_and_realm(emulator):
    realm_id = emulator.create_company()
    params = emulator.authorize(authorize_url(emulator), realm_id=realm_id)
    assert params["state"] == "xyz" and params["realmId"] == realm_id and params["code"]


def test_deny_redirects_with_access_denied(emulator):
    emulator.create_company()
    params = emulator.authorize(authorize_url(emulator), decision="deny")
    assert params == {"error": "access_denied", "state": "xyz"}


def test_consent_can_create_a_new_company(emulator):
    params = emulator.authorize(authorize_url(emulator), new_company={
        "name": "Maple Co", "country": "CA", "tax": "codes", "multicurrency": True, "auto_apply_credits": True})
    companies = {c["realmId"]: c for c in emulator.control("companies", method="GET")["companies"]}
    settings = companies[params["realmId"]]["settings"]
    assert settings["country"] == "CA" and settings["home_currency"] == "CAD"
    assert settings["tax"] == "codes" and settings["multicurrency"] and settings["auto_apply_credits"]


def test_token_response_shape_without_id_token(emulator):
    realm_id = emulator.create_company()
    tokens = exchange(emulator, realm_id)
    assert set(tokens) == {"token_type", "access_token", "refresh_token", "expires_in", "x_refresh_token_expires_in"}
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 3600
    assert tokens["x_refresh_token_expires_in"] == 100 * DAY


def test_authorization_code_is_single_use_and_bound(emulator):
    realm_id = emulator.create_company()
    code = emulator.authorize(authorize_url(emulator), realm_id=realm_id)["code"]
    wrong_redirect = token_call(emulator, {"grant_type": "authorization_code", "code": code, "redirect_uri": "http://evil/cb"})
    assert wrong_redirect.status_code == 400 and wrong_redirect.json() == {"error": "invalid_grant"}
    good = token_call(emulator, {"grant_type": "authorization_code", "code": code, "redirect_uri": DEFAULT_REDIRECT_URI})
    assert good.status_code == 200
    again = token_call(emulator, {"grant_type": "authorization_code", "code": code, "redirect_uri": DEFAULT_REDIRECT_URI})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert "intuit_tid" in again.headers


def test_authorization_code_expires_after_five_minutes(emulator):
    realm_id = emulator.create_company()
    code = emulator.authorize(authorize_url(emulator), realm_id=realm_id)["code"]
    emulator.advance_clock(301)
    response = token_call(emulator, {"grant_type": "authorization_code", "code": code, "redirect_uri": DEFAULT_REDIRECT_URI})
    assert response.status_code == 400


def test_code_issued_to_another_client_is_refused(emulator):
    realm_id = emulator.create_company()
    code = emulator.authorize(authorize_url(emulator), realm_id=realm_id)["code"]
    response = token_call(emulator, {"grant_type": "authorization_code", "code": code, "redirect_uri": DEFAULT_REDIRECT_URI},
                          headers=basic("client-b", "secret-b"))
    assert response.status_code == 400


def test_first_secret_is_remembered(emulator):
    emulator.create_company()
    first = token_call(emulator, {"grant_type": "refresh_token", "refresh_token": "nope"}, headers=basic("c", "s1"))
    assert first.status_code == 400  # client accepted, token unknown
    second = token_call(emulator, {"grant_type": "refresh_token", "refresh_token": "nope"}, headers=basic("c", "s2"))
    assert second.status_code == 401 and second.json() == {"error": "invalid_client"}
    no_auth = requests.post(f"{emulator.url}/oauth2/v1/tokens/bearer", data={"grant_type": "refresh_token"}, timeout=10)
    assert no_auth.status_code == 401


def test_refresh_rotates_and_the_old_token_has_a_24_hour_grace(emulator):
    realm_id = emulator.create_company()
    first = exchange(emulator, realm_id)
    second = refresh(emulator, first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert api_get(emulator, realm_id, second["access_token"]).status_code == 200

    emulator.advance_clock(23 * 3600)
    within_grace = refresh(emulator, first["refresh_token"])
    assert within_grace.status_code == 200  # stale, but inside the grace period

    emulator.advance_clock(2 * 3600)
    expired = refresh(emulator, first["refresh_token"])
    assert expired.status_code == 400
    assert expired.json() == {"error_description": "Incorrect or invalid refresh token", "error": "invalid_grant"}
    assert refresh(emulator, within_grace.json()["refresh_token"]).status_code == 200


def test_refresh_token_expires_after_100_days_unless_used(emulator):
    realm_id = emulator.create_company()
    tokens = exchange(emulator, realm_id)
    emulator.advance_clock(99 * DAY)
    rolled = refresh(emulator, tokens["refresh_token"])
    assert rolled.status_code == 200
    emulator.advance_clock(101 * DAY)
    assert refresh(emulator, rolled.json()["refresh_token"]).status_code == 400


def test_access_token_expires_after_an_hour_with_the_gateway_envelope(emulator):
    realm_id = emulator.create_company()
    tokens = exchange(emulator, realm_id)
    emulator.advance_clock(3601)
    response = api_get(emulator, realm_id, tokens["access_token"])
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="Intuit", error="invalid_token"'
    body = response.json()
    assert body["fault"]["type"] == "AUTHENTICATION"
    error = body["fault"]["error"][0]
    assert error["code"] == "3200" and error["element"] is None
    assert error["message"] == "message=AuthenticationFailed; errorCode=003200; statusCode=401"
    assert error["detail"].startswith("Token expired: ")
    assert isinstance(body["time"], int) and body["batchItemResponse"] == [] and body["intuitObject"] is None


def test_missing_and_unknown_tokens_are_401(emulator):
    realm_id = emulator.create_company()
    assert requests.get(f"{emulator.url}/v3/company/{realm_id}/customer/1", timeout=10).status_code == 401
    assert api_get(emulator, realm_id, "x" * 60).status_code == 401
    assert api_get(emulator, realm_id, "short").json()["fault"]["error"][0]["detail"] == "Malformed bearer token: too short or too long"
    assert emulator.request_counts(realm_id)["auth_failed"] == 3


def test_token_for_another_realm_is_401(emulator):
    realm_a = emulator.create_company("A")
    realm_b = emulator.create_company("B")
    tokens = exchange(emulator, realm_a)
    assert api_get(emulator, realm_a, tokens["access_token"]).status_code == 200
    response = api_get(emulator, realm_b, tokens["access_token"])
    assert response.status_code == 401
    assert realm_b in response.json()["fault"]["error"][0]["detail"]


@pytest.mark.parametrize("which", ["refresh_token", "access_token"])
def test_revoke_kills_the_whole_grant(emulator, which):
    realm_id = emulator.create_company()
    tokens = exchange(emulator, realm_id)
    response = requests.post(f"{emulator.url}/v2/oauth2/tokens/revoke", data=json.dumps({"token": tokens[which]}),
                             headers={**basic(), "Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 200
    assert api_get(emulator, realm_id, tokens["access_token"]).status_code == 401
    assert refresh(emulator, tokens["refresh_token"]).status_code == 400


def test_expire_tokens_fault_and_token_counts(emulator):
    realm_id = emulator.create_company()
    tokens = exchange(emulator, realm_id)
    refreshed = refresh(emulator, tokens["refresh_token"]).json()
    emulator.set_faults(expire_tokens=True)
    assert api_get(emulator, realm_id, refreshed["access_token"]).status_code == 401
    assert refresh(emulator, refreshed["refresh_token"]).status_code == 200
    counts = emulator.request_counts(realm_id)["token"]
    assert counts == {"authorization_code": 1, "refresh_token": 2}
