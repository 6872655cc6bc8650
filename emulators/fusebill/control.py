"""The control API under /_emulator (JSON, no auth): accounts, seeding, record changes, webhooks,
request counts, faults and reset. Not part of Fusebill; it is how tests and `make run` drive the
emulator. Errors answer `{"error": "..."}` with 400 (bad request), 404 (unknown account) or 409.

    POST /_emulator/accounts   {"account_type": "sandbox"|"live"|"testdrive", "name"?, "api_key"?,
                                "rate_limits"?: {"per_minute", "per_day"}}      -> 201 {"api_key", ...}
    GET  /_emulator/accounts                                                    -> [{"api_key", ...}]
    POST /_emulator/seed       {"api_key", "customers", "seed", "replace"?, ...generator options}
                                                                                -> summary (counts, currencies)
    POST /_emulator/records    {"api_key", "commands": [...], "at"?}            -> see commands.py
    POST /_emulator/webhooks   {"api_key", "url", "key", "events"?}             -> 201 {"id"}
    GET  /_emulator/webhooks?api_key=          registrations and delivery attempts
    GET  /_emulator/requests?api_key=          {"total", "by_route", "by_status", "rate_limited"}
    POST /_emulator/faults     {"error_rate", "latency_ms", "status"?, "api_key"?, "seed"?}
    GET  /_emulator/settings   {"propagate_modified", "max_page_index", "rate_reset_format"}
    POST /_emulator/settings   any of those                                     -> the settings now
                               (the strictness switches of rules.py; reset restores the config's)
    POST /_emulator/reset      forget every account, counter, fault and delivery
    GET  /_emulator/health     {"status": "ok", "environment", "base_url", "accounts"}
"""
from __future__ import annotations

import base64
import random
import secrets
import time
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, request

from emulators.fusebill import jsonwire, shapes
from emulators.fusebill.api import render_context
from emulators.fusebill.app import Faults, emulator_state, json_response
from emulators.fusebill.commands import CommandError, run_commands
from emulators.fusebill.store import Account, Webhook, limits_for
from emulators.sampledata import cases
from emulators.sampledata.generator import generate
from emulators.sampledata.money import format_timestamp, parse_timestamp

control = Blueprint("control", __name__, url_prefix="/_emulator")


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@control.errorhandler(ControlError)
def _control_error(error: ControlError) -> Response:
    return json_response({"error": str(error)}, error.status)


def _body() -> dict[str, Any]:
    try:
        body = jsonwire.loads(request.get_data() or b"{}")
    except ValueError as exc:
        raise ControlError(400, f"request body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ControlError(400, "request body must be a JSON object")
    return body


def _account(api_key: Any) -> Account:
    account = emulator_state().store.account(api_key) if isinstance(api_key, str) else None
    if account is None:
        raise ControlError(404, "no account with that api_key")
    return account


def new_api_key() -> str:
    """A key shaped like Fusebill's: base64 of "0:" + secret (fusebill-api.md §1.2)."""
    return base64.b64encode(f"0:{secrets.token_hex(20)}".encode("ascii")).decode("ascii")


@control.post("/accounts")
def create_account() -> Response:
    body = _body()
    state = emulator_state()
    account_type = body.get("account_type", "sandbox")
    try:
        limits = limits_for(account_type, body.get("rate_limits"))
    except (ValueError, TypeError) as exc:
        raise ControlError(400, str(exc)) from None
    api_key = body.get("api_key") or new_api_key()
    if not isinstance(api_key, str) or not api_key.strip() or " " in api_key:
        raise ControlError(400, "api_key must be a non-empty string without spaces")
    account = Account(
        api_key=api_key, name=str(body.get("name") or f"Fusebill {account_type} account"),
        account_type=account_type, created=state.now(), limits=limits,
    )
    try:
        state.store.add_account(account)
    except ValueError as exc:
        raise ControlError(409, str(exc)) from None
    return json_response(_describe(account), 201)


def _describe(account: Account) -> dict[str, Any]:
    return {
        "api_key": account.api_key,
        "name": account.name,
        "account_type": account.account_type,
        "rate_limits": {"per_minute": account.limits.per_minute, "per_day": account.limits.per_day},
        "customers": len(account.bundles),
        "created": format_timestamp(account.created),
    }


@control.get("/accounts")
def list_accounts() -> Response:
    return json_response([_describe(account) for account in emulator_state().store.accounts()])


@control.post("/seed")
def seed() -> Response:
    body = _body()
    account = _account(body.pop("api_key", None))
    customers, seed_value, replace = body.pop("customers", None), body.pop("seed", None), bool(body.pop("replace", False))
    if not isinstance(customers, int) or not isinstance(seed_value, int):
        raise ControlError(400, "'customers' and 'seed' must be integers")
    started = time.perf_counter()
    try:
        dataset = generate(customers, seed_value, **body)
    except (ValueError, TypeError) as exc:
        raise ControlError(400, str(exc)) from None
    state = emulator_state()
    with account.lock:
        if account.bundles and not replace:
            raise ControlError(409, "the account already has records; pass \"replace\": true to start over")
        account.clear_records()
        account.load_dataset(dataset)
        summary = {**cases.summary(dataset), "options": dataset.options}
        account.seed_summary = summary
        state.store.save_account(account)
        state.store.save_bundles(account, dataset.customers, replace_all=True)
    return json_response({**summary, "seconds": Decimal(f"{time.perf_counter() - started:.3f}")})


@control.post("/records")
def change_records() -> Response:
    body = _body()
    account = _account(body.get("api_key"))
    state = emulator_state()
    now = state.now()
    try:
        default_effective = parse_timestamp(str(body["at"])) if body.get("at") else None
    except ValueError:
        raise ControlError(400, f"'at' is not a timestamp: {body['at']!r}") from None
    with account.lock:
        try:
            outcome = run_commands(state.store, account, body.get("commands"), now, default_effective,
                                   state.settings.propagate_modified)
        except CommandError as exc:
            return json_response({"error": str(exc), "command_index": exc.index}, 400)
        changed: dict[str, list[int]] = {}
        for change in outcome.changes:
            changed.setdefault(change.kind, []).append(change.record_id)
        events = _queue_events(account, outcome.changes, now)
    return json_response({"results": outcome.results, "changed": changed, "events": events})


def _queue_events(account: Account, changes: list, now) -> int:
    """Queue one webhook delivery per (change with an event, matching registration)."""
    if not account.webhooks:
        return 0
    state = emulator_state()
    ctx = render_context(account, request.url_root.rstrip("/") + "/v1", now, state.settings.propagate_modified)
    queued = 0
    for change in changes:
        if change.event_type is None:
            continue
        entity = _entity(account, change.kind, change.record_id, ctx)
        payload = shapes.webhook_payload(
            event_id=state.next_event_id(), event_type=change.event_type,
            entity_type=shapes.ENTITY_NAMES[change.kind], entity_id=change.record_id, customer_id=change.customer_id,
            at=now, entity=entity,
        )
        for hook in account.webhooks:
            if hook.events is None or change.event_type in hook.events:
                state.webhooks.enqueue(account.api_key, hook.id, hook.url, hook.key, change.event_type, payload)
                queued += 1
    return queued


def _entity(account: Account, kind: str, record_id: int, ctx: shapes.RenderContext) -> dict[str, Any]:
    if kind == "customer":
        return shapes.customer(account.customer_records(record_id).customer, ctx)
    bundle, record = account.find(kind, record_id)
    ledger = account.ledger(bundle.customer.id)
    if kind == "invoice":
        return shapes.invoice(record, ledger.invoices[record.id], ctx)
    renderers = {
        "payment_activity": shapes.payment_activity, "payment": shapes.payment, "refund": shapes.refund,
        "credit": shapes.credit, "debit": shapes.debit, "credit_note": shapes.credit_note, "write_off": shapes.write_off,
    }
    return renderers[kind](record, ledger, ctx)


@control.post("/webhooks")
def register_webhook() -> Response:
    body = _body()
    account = _account(body.get("api_key"))
    url, key, events = body.get("url"), body.get("key"), body.get("events")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ControlError(400, "'url' must be an http(s) URL")
    if not isinstance(key, str) or not key:
        raise ControlError(400, "'key' must be a non-empty string")
    if events is not None and (not isinstance(events, list) or set(events) - set(shapes.WEBHOOK_EVENT_TYPES)):
        raise ControlError(400, f"'events' must be a list drawn from {', '.join(shapes.WEBHOOK_EVENT_TYPES)}")
    with account.lock:
        hook = Webhook(id=max((w.id for w in account.webhooks), default=0) + 1, url=url, key=key, events=events)
        account.webhooks.append(hook)
        emulator_state().store.save_account(account)
    return json_response({"id": hook.id, "url": url, "events": events}, 201)


@control.get("/webhooks")
def webhook_deliveries() -> Response:
    account = _account(request.args.get("api_key"))
    return json_response({
        "webhooks": [{"id": w.id, "url": w.url, "events": w.events} for w in account.webhooks],
        "deliveries": [d.describe() for d in emulator_state().webhooks.deliveries(account.api_key)],
    })


@control.get("/requests")
def request_counts() -> Response:
    account = _account(request.args.get("api_key"))
    return json_response(emulator_state().requests.describe(account.api_key))


@control.post("/faults")
def set_faults() -> Response:
    body = _body()
    try:
        error_rate = float(body.get("error_rate", 0))
        latency_ms = int(body.get("latency_ms", 0))
        status = int(body.get("status", 503))
    except (TypeError, ValueError):
        raise ControlError(400, "error_rate, latency_ms and status must be numbers") from None
    if not 0 <= error_rate <= 1 or latency_ms < 0 or not 500 <= status <= 599:
        raise ControlError(400, "error_rate must be within 0..1, latency_ms >= 0, status a 5xx code")
    api_key = body.get("api_key")
    if api_key is not None:
        _account(api_key)
    state = emulator_state()
    state.faults = Faults(error_rate=error_rate, latency_ms=latency_ms, status=status, api_key=api_key,
                          rng=random.Random(body.get("seed", 0)))
    return json_response(state.faults.describe())


@control.get("/settings")
def get_settings() -> Response:
    return json_response(emulator_state().settings.describe())


@control.post("/settings")
def change_settings() -> Response:
    settings = emulator_state().settings
    try:
        settings.update(_body())
    except ValueError as exc:
        raise ControlError(400, str(exc)) from None
    return json_response(settings.describe())


@control.post("/reset")
def reset() -> Response:
    emulator_state().reset()
    return json_response({"status": "reset"})


@control.get("/health")
def health() -> Response:
    state = emulator_state()
    return json_response({
        "status": "ok",
        "environment": state.config.environment_name,
        "base_url": request.url_root.rstrip("/") + "/v1",
        "accounts": len(state.store.accounts()),
    })
