"""Control API under /_emulator/ (not QBO; JSON in and out; no auth).

| Endpoint | Body | Effect |
|---|---|---|
| `POST /_emulator/companies` | `{"name", "country"?, "home_currency"?, "multicurrency"?, "tax"?, "auto_apply_credits"?, "custom_txn_numbers"?, "owner_name"?, "us_sales_tax_rate_percent"?}` | new sandbox company → `{"realmId"}` |
| `GET /_emulator/companies` | | `{"companies": [{realmId, name, settings}]}` |
| `PATCH /_emulator/companies/<realm>/preferences` | `{"auto_apply_credits"?, "custom_txn_numbers"?, "multicurrency"?, "book_close_date"?}` | the user changing a setting in the QBO UI (`book_close_date`: "YYYY-MM-DD" closes the books up to that date, null reopens them) |
| `POST /_emulator/companies/<realm>/accounts` | `{"accounts": [{"Name", "AccountType", "AccountSubType"?, "Active"?, "CurrencyRef"?}]}` | bulk create, no throttling → `{"accounts": [{Id, Name}]}` |
| `GET /_emulator/companies/<realm>/ledger` | | every account's balance, P&L accounts included |
| `POST /_emulator/deposits` | `{"realmId", "payment_ids"}` | mark payments deposited (then 6540 on change) |
| `POST /_emulator/tokens` | `{"realmId", "client_id", "client_secret"?}` | a token response like the token endpoint's |
| `POST /_emulator/faults` | `{"error_rate", "timeout_rate", "timeout_after_write", "timeout_seconds", "latency_ms", "expire_tokens"}` | fault injection; `{}` resets |
| `POST /_emulator/clock` | `{"advance_seconds": N}` | move the virtual clock → `{"now"}` |
| `GET /_emulator/requests?realmId=` | | counts by kind |
| `POST /_emulator/exchangerates` | `{"realmId", "currency", "date", "rate"}` | fix a rate |
| `POST /_emulator/reset` | | forget everything (configuration stays) |

Faults: `error_rate` is the fraction of API requests answered HTTP 500 with a SystemFault (code 10000)
and nothing written; `timeout_rate` the fraction held `timeout_seconds` before answering — of those,
a fraction `timeout_after_write` (default 0.5) is executed (and its requestid answer stored) *before*
the hold, the rest is held and then answered 504 without writing; `latency_ms` is added to every API
call; `expire_tokens: true` expires every access token issued so far.
"""
from __future__ import annotations

from dataclasses import asdict
from datetime import date
from decimal import Decimal, InvalidOperation

from flask import Blueprint, Response, current_app, request

from .clock import meta_timestamp
from .entities.account import AccountType as AccountHandler
from .entities.reference import valid_date
from .faults import QboFault
from .money import dumps, loads
from .oauth import company_settings
from .state import EmulatorState, UnknownCompany
from .store import FaultSettings

blueprint = Blueprint("qbo_control", __name__, url_prefix="/_emulator")


def _state() -> EmulatorState:
    return current_app.extensions["qbo_emulator"]


def _json(payload: object, status: int = 200) -> Response:
    return Response(dumps(payload), status=status, content_type="application/json")


def _error(message: str, status: int = 400) -> Response:
    return _json({"error": message}, status)


def _body() -> dict:
    text = request.get_data(as_text=True)
    if not text.strip():
        return {}
    data = loads(text)
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


@blueprint.errorhandler(ValueError)
def bad_request(error: ValueError) -> Response:
    return _error(str(error))


@blueprint.errorhandler(UnknownCompany)
def unknown_company(error: UnknownCompany) -> Response:
    return _error(f"unknown realmId {error.args[0]}", 404)


@blueprint.post("/companies")
def create_company() -> Response:
    settings = company_settings(_body())
    company = _state().create_company(settings)
    return _json({"realmId": company.realm_id}, 201)


@blueprint.get("/companies")
def list_companies() -> Response:
    state = _state()
    with state.lock:
        return _json({"companies": [state.company_summary(company) for company in state.companies.values()]})


@blueprint.patch("/companies/<realm_id>/preferences")
def patch_preferences(realm_id: str) -> Response:
    state = _state()
    body = _body()
    allowed = {"auto_apply_credits", "custom_txn_numbers", "multicurrency", "book_close_date"}
    unknown = set(body) - allowed
    if unknown:
        raise ValueError(f"cannot change {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(allowed))})")
    with state.lock:
        company = state.company(realm_id)
        if company.settings.multicurrency and body.get("multicurrency") is False:
            raise ValueError("multicurrency cannot be turned off once on (QBO rule)")
        for key, value in body.items():
            setattr(company.settings, key, _preference_value(key, value))
        company.preferences_sync_token += 1
        company.preferences_updated_at = meta_timestamp(state.clock.now())
        state.save_company_header(company)
        return _json(state.company_summary(company))


def _preference_value(key: str, value: object) -> object:
    """Switches are booleans; the closing date is a date or null."""
    if key != "book_close_date":
        return bool(value)
    if value is None:
        return None
    if isinstance(value, str) and valid_date(value):
        return date.fromisoformat(value).isoformat()
    raise ValueError("book_close_date must be YYYY-MM-DD or null")


@blueprint.post("/companies/<realm_id>/accounts")
def bulk_accounts(realm_id: str) -> Response:
    state = _state()
    accounts = _body().get("accounts")
    if not isinstance(accounts, list):
        raise ValueError("accounts must be a list")
    handler = AccountHandler()
    created = []
    try:
        with state.operation(realm_id) as ctx:
            for entry in accounts:
                if not isinstance(entry, dict):
                    raise ValueError("each account must be an object")
                doc = handler.create(ctx, entry)
                created.append({"Id": doc["Id"], "Name": doc["Name"]})
    except QboFault as fault:
        return _json({"error": fault.detail, "code": fault.code, "Fault": fault.fault_object()}, 400)
    return _json({"accounts": created}, 201)


@blueprint.get("/companies/<realm_id>/ledger")
def ledger(realm_id: str) -> Response:
    state = _state()
    with state.lock:
        company = state.company(realm_id)
        rows = [
            {"Id": doc["Id"], "Name": doc["FullyQualifiedName"], "AccountType": doc["AccountType"],
             "Currency": doc["CurrencyRef"]["value"], "Balance": company.account_balance(doc["Id"])}
            for doc in company.table("Account").values()
        ]
    return _json({"accounts": rows})


@blueprint.post("/deposits")
def deposits() -> Response:
    state = _state()
    body = _body()
    realm_id = str(body.get("realmId", ""))
    payment_ids = body.get("payment_ids")
    if not isinstance(payment_ids, list) or not payment_ids:
        raise ValueError("payment_ids must be a non-empty list")
    with state.operation(realm_id) as ctx:
        for payment_id in payment_ids:
            if ctx.company.get("Payment", str(payment_id)) is None:
                raise ValueError(f"no payment {payment_id} in realm {realm_id}")
            doc = ctx.uow.editable("Payment", str(payment_id))
            doc["_deposited"] = True
            ctx.uow.save("Payment", doc)
    return _json({"deposited": [str(pid) for pid in payment_ids]})


@blueprint.post("/tokens")
def tokens() -> Response:
    state = _state()
    body = _body()
    realm_id = str(body.get("realmId", ""))
    client_id = str(body.get("client_id") or "")
    if not client_id:
        raise ValueError("client_id is required")
    with state.lock:
        state.company(realm_id)
        if body.get("client_secret"):
            if not state.oauth.client_matches(client_id, str(body["client_secret"])):
                return _error("client_secret does not match the secret already registered for this client_id", 401)
        payload = state.oauth.new_grant(client_id, realm_id, state.clock.now().timestamp(), state.config)
        state.save_oauth()
    return _json(payload)


@blueprint.post("/faults")
def set_faults() -> Response:
    state = _state()
    body = _body()
    known = {"error_rate", "timeout_rate", "timeout_after_write", "timeout_seconds", "latency_ms", "expire_tokens"}
    unknown = set(body) - known
    if unknown:
        raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
    settings = FaultSettings(timeout_seconds=state.config.fault_timeout_seconds)
    for key in ("error_rate", "timeout_rate", "timeout_after_write", "timeout_seconds", "latency_ms"):
        if key in body:
            value = float(body[key])
            is_fraction = key.endswith("rate") or key == "timeout_after_write"
            if value < 0 or (is_fraction and value > 1):
                raise ValueError(f"{key} out of range")
            setattr(settings, key, value)
    expired = 0
    with state.lock:
        state.faults = settings
        if body.get("expire_tokens"):
            expired = state.oauth.expire_access_tokens(state.clock.now().timestamp())
            state.save_oauth()
    return _json({"faults": asdict(settings), "expired_tokens": expired})


@blueprint.post("/clock")
def clock() -> Response:
    state = _state()
    body = _body()
    try:
        seconds = float(body.get("advance_seconds", 0))
    except (TypeError, ValueError):
        raise ValueError("advance_seconds must be a number") from None
    if seconds < 0:
        raise ValueError("the clock only moves forward")
    now = state.clock.advance(seconds)
    state.save_clock()
    return _json({"now": now.isoformat(), "offset_seconds": state.clock.offset_seconds})


@blueprint.get("/requests")
def request_counts() -> Response:
    return _json(_state().counters.snapshot(request.args.get("realmId")))


@blueprint.post("/exchangerates")
def exchange_rates() -> Response:
    state = _state()
    body = _body()
    currency = str(body.get("currency", "")).upper()
    day = str(body.get("date", ""))
    try:
        rate = Decimal(str(body.get("rate")))
    except InvalidOperation:
        raise ValueError("rate must be a number") from None
    if not currency or not valid_date(day) or rate <= 0:
        raise ValueError("currency, date (YYYY-MM-DD) and a positive rate are required")
    with state.lock:
        company = state.company(str(body.get("realmId", "")))
        company.exchange_rates[f"{currency}|{day}"] = str(rate)
        state.save_company_header(company)
    return _json({"realmId": company.realm_id, "currency": currency, "date": day, "rate": rate})


@blueprint.post("/reset")
def reset() -> Response:
    _state().reset()
    return _json({"reset": True})

