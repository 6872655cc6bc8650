"""Intuit OAuth 2.0 endpoints, as the real `intuitlib.AuthClient` uses them (qbo-api §2).

* `GET /.well-known/openid_configuration` — discovery document; pass its URL as AuthClient's
  `environment` and every endpoint below is used.
* `GET|POST /connect/oauth2` — the consent page (stable form names: see the template).
* `POST /oauth2/v1/tokens/bearer` — authorization_code and refresh_token grants, HTTP Basic client auth.
* `POST /v2/oauth2/tokens/revoke` — JSON `{"token": ...}`, revokes the whole grant.
* `GET /v1/openid_connect/userinfo`, `GET /oauth2/v1/keys` — minimal, for completeness.

Responses carry an `intuit_tid` header (intuitlib's AuthClientError reads it). Token responses have no
`id_token`: intuitlib would try to verify it against a JWKS (qbo-api §2.4).
"""
from __future__ import annotations

import base64
import binascii
import json
from urllib.parse import urlencode, urlsplit, urlunsplit, parse_qsl

from flask import Blueprint, Response, current_app, render_template, request

from . import rules
from .chart import COUNTRIES_WITH_TAX_CODES, DEFAULT_CURRENCY
from .money import CURRENCY_NAMES, dumps
from .oauth_state import InvalidGrant
from .store import CompanySettings

blueprint = Blueprint("qbo_oauth", __name__, template_folder="templates")

PATHS = {
    "issuer": "/op/v1",
    "authorization_endpoint": "/connect/oauth2",
    "token_endpoint": "/oauth2/v1/tokens/bearer",
    "revocation_endpoint": "/v2/oauth2/tokens/revoke",
    "userinfo_endpoint": "/v1/openid_connect/userinfo",
    "jwks_uri": "/oauth2/v1/keys",
}
COUNTRIES = ("US", "CA", "GB", "AU")
TAX_CHOICES = (("none", "No sales tax"), ("us_automated", "US automated sales tax"), ("codes", "Tax codes (GST/HST, VAT...)"))


def _state():
    return current_app.extensions["qbo_emulator"]


def base_url() -> str:
    configured = _state().config.base_url
    return (configured or request.host_url).rstrip("/")


def json_response(payload: object, status: int = 200, headers: dict | None = None) -> Response:
    response = Response(dumps(payload), status=status, content_type="application/json;charset=utf-8")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


@blueprint.get("/.well-known/openid_configuration")
@blueprint.get("/.well-known/openid_sandbox_configuration")
def discovery() -> Response:
    root = base_url()
    document = {key: root + path for key, path in PATHS.items()}
    document.update({
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile", "address", "phone"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
    })
    return json_response(document)


# ---- consent page ---------------------------------------------------------------------------------

def _consent_params() -> dict:
    source = request.args if request.method == "GET" else {**request.args.to_dict(), **request.form.to_dict()}
    return {key: source.get(key, "") for key in ("client_id", "response_type", "scope", "redirect_uri", "state")}


def _redirect(uri: str, params: dict) -> Response:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    response = Response(status=302)
    response.headers["Location"] = urlunsplit(parts._replace(query=urlencode(query)))
    return response


def _render(params: dict, error: str | None = None, status: int = 200) -> Response:
    state = _state()
    with state.lock:
        companies = [state.company_summary(company) for company in state.companies.values()]
    html = render_template(
        "qbo_consent.html", params=params, companies=companies, error=error, countries=COUNTRIES,
        currencies=sorted(CURRENCY_NAMES), tax_choices=TAX_CHOICES, default_currency=DEFAULT_CURRENCY,
    )
    return Response(html, status=status, content_type="text/html; charset=utf-8")


@blueprint.route("/connect/oauth2", methods=["GET", "POST"])
def authorize() -> Response:
    params = _consent_params()
    if not params["client_id"] or not params["redirect_uri"] or params["response_type"] != "code":
        return _render(params, error="invalid_request: client_id, redirect_uri and response_type=code are required.", status=400)
    if request.method == "GET":
        return _render(params)

    state = _state()
    decision = request.form.get("decision", "")
    if decision == "deny":
        return _redirect(params["redirect_uri"], {"error": "access_denied", "state": params["state"]})
    if decision != "approve":
        return _render(params, error="Choose Connect or Cancel.", status=400)

    new_name = request.form.get("new_company_name", "").strip()
    realm_id = request.form.get("realm_id", "").strip()
    if new_name:
        try:
            settings = company_settings({
                "name": new_name,
                "country": request.form.get("country", "US"),
                "home_currency": request.form.get("home_currency", ""),
                "multicurrency": request.form.get("multicurrency") in ("on", "true", "1"),
                "tax": request.form.get("tax", "none"),
                "auto_apply_credits": request.form.get("auto_apply_credits") in ("on", "true", "1"),
            })
        except ValueError as exc:
            return _render(params, error=str(exc), status=400)
        realm_id = state.create_company(settings).realm_id
    with state.lock:
        if realm_id not in state.companies:
            return _render(params, error="Choose a company or create a new one.", status=400)
        now = state.clock.now().timestamp()
        code = state.oauth.issue_code(params["client_id"], params["redirect_uri"], realm_id, now, state.config)
        state.save_oauth()
    return _redirect(params["redirect_uri"], {"code": code, "state": params["state"], "realmId": realm_id})


def company_settings(data: dict) -> CompanySettings:
    """Validate a company set-up (consent form or control API); ValueError names what is wrong."""
    name = str(data.get("name") or "").strip()
    if not name:
        raise ValueError("name is required")
    country = str(data.get("country") or "US").upper()
    if country not in COUNTRIES:
        raise ValueError(f"country must be one of {', '.join(COUNTRIES)}")
    currency = str(data.get("home_currency") or DEFAULT_CURRENCY[country]).upper()
    if currency not in CURRENCY_NAMES:
        raise ValueError(f"unknown home_currency {currency}")
    tax = str(data.get("tax") or "none")
    if tax not in ("none", "us_automated", "codes"):
        raise ValueError("tax must be none, us_automated or codes")
    if tax == "us_automated" and country != "US":
        raise ValueError("us_automated tax is for US companies")
    if tax == "codes" and country not in COUNTRIES_WITH_TAX_CODES:
        raise ValueError(f"tax codes are modelled for {', '.join(sorted(COUNTRIES_WITH_TAX_CODES))}; use us_automated for US")
    rate = data.get("us_sales_tax_rate_percent")
    return CompanySettings(
        name=name,
        country=country,
        home_currency=currency,
        multicurrency=bool(data.get("multicurrency", False)),
        tax=tax,
        auto_apply_credits=bool(data.get("auto_apply_credits", False)),
        custom_txn_numbers=bool(data.get("custom_txn_numbers", False)),
        owner_name=str(data.get("owner_name") or "Sandbox Owner"),
        us_sales_tax_rate_percent=str(rate) if rate is not None else (
            str(_state().config.us_sales_tax_rate_percent) if _state().config.us_sales_tax_rate_percent is not None else None
        ),
    )


# ---- token and revoke endpoints -------------------------------------------------------------------

def _basic_auth() -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, separator, secret = decoded.partition(":")
    return (client_id, secret) if separator and client_id else None


def _oauth_error(error: str, status: int, description: str | None = None) -> Response:
    body = {"error_description": description, "error": error} if description else {"error": error}
    return json_response(body, status)


@blueprint.post(PATHS["token_endpoint"])
def token() -> Response:
    state = _state()
    credentials = _basic_auth()
    grant_type = request.form.get("grant_type", "")
    with state.lock:
        if credentials is None or not state.oauth.client_matches(*credentials):
            state.counters.count_token(None, grant_type or "unknown")
            state.save_oauth()
            return _oauth_error("invalid_client", 401)
        client_id = credentials[0]
        now = state.clock.now().timestamp()
        realm_id = None
        try:
            if grant_type == "authorization_code":
                code = request.form.get("code", "")
                realm_id = (state.oauth.codes.get(code) or {}).get("realm_id")
                payload = state.oauth.exchange_code(client_id, code, request.form.get("redirect_uri", ""), now, state.config)
            elif grant_type == "refresh_token":
                refresh_entry = state.oauth.refresh_tokens.get(request.form.get("refresh_token", ""))
                realm_id = state.oauth.grant_realm(refresh_entry["grant"]) if refresh_entry else None
                payload, realm_id = state.oauth.refresh(client_id, request.form.get("refresh_token", ""), now, state.config)
            else:
                state.counters.count_token(None, grant_type or "unknown")
                return _oauth_error("unsupported_grant_type", 400)
        except InvalidGrant as exc:
            state.counters.count_token(realm_id, grant_type)
            state.save_oauth()
            return _oauth_error("invalid_grant", 400, exc.description)
        state.counters.count_token(realm_id, grant_type)
        state.save_oauth()
    return json_response(payload)


@blueprint.post(PATHS["revocation_endpoint"])
def revoke() -> Response:
    state = _state()
    credentials = _basic_auth()
    try:
        body = json.loads(request.get_data(as_text=True) or "{}")
    except ValueError:
        body = {}
    token_value = body.get("token") if isinstance(body, dict) else None
    if not token_value:
        token_value = request.form.get("token")
    with state.lock:
        if credentials is None or not state.oauth.client_matches(*credentials):
            return _oauth_error("invalid_client", 401)
        if not token_value:
            return _oauth_error("invalid_request", 400)
        revoked = state.oauth.revoke(token_value)
        state.save_oauth()
    status = 200 if revoked else rules.REVOKE_UNKNOWN_TOKEN_STATUS
    return Response(b"", status=status)


@blueprint.get(PATHS["userinfo_endpoint"])
def userinfo() -> Response:
    state = _state()
    header = request.headers.get("Authorization", "")
    token_value = header[7:].strip() if header.lower().startswith("bearer ") else ""
    with state.lock:
        entry = state.oauth.access_tokens.get(token_value)
        grant = state.oauth.grants.get(entry["grant"]) if entry else None
        valid = entry is not None and grant is not None and not grant["revoked"] and entry["expires_at"] > state.clock.now().timestamp()
    if not valid:
        return _oauth_error("invalid_token", 401)
    return json_response({"sub": f"emulator-user-{grant['realm_id']}", "email": "sandbox.owner@example.com",
                          "emailVerified": True, "givenName": "Sandbox", "familyName": "Owner"})


@blueprint.get(PATHS["jwks_uri"])
def jwks() -> Response:
    return json_response({"keys": []})
