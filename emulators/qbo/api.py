"""The Accounting API under /v3/company/<realmId>/ — the transport around operations.py.

Order of checks for every request, as QBO's gateway and service apply them:

1. bearer token (401 lower-case envelope, qbo-response-examples §5.10);
2. throttles (429 XML, §5.11);
3. injected faults (POST /_emulator/faults: latency, errors, timeouts before or after the write);
4. `requestid` replay for writes and batches: the first answer is stored and returned verbatim;
5. the operation itself (faults.QboFault → ValidationFault JSON, HTTP 400).

`minorversion` is accepted with any value (values below 75 are served as 75: nothing differs).
"""
from __future__ import annotations

import logging
import secrets
import time

from flask import Blueprint, Response, current_app, request

from . import faults, operations, rules
from .clock import response_time
from .faults import QboFault
from .money import dumps, loads
from .state import EmulatorState, UnknownCompany
from .store import StoredResponse

log = logging.getLogger(__name__)
blueprint = Blueprint("qbo_api", __name__)

SUCCESS_TYPE = "application/json;charset=utf-8"
ERROR_TYPE = "application/json"


def _state() -> EmulatorState:
    return current_app.extensions["qbo_emulator"]


def intuit_tid() -> str:
    return f"1-{secrets.token_hex(4)}-{secrets.token_hex(12)}"


def _response(body: str | bytes, status: int, content_type: str) -> Response:
    response = Response(body, status=status, content_type=content_type)
    if status == 200:
        response.headers["Qbo-Version"] = "emulator"
        response.headers["Cache-Control"] = "max-age=0, no-cache, no-store, must-revalidate, private"
        response.headers["Expires"] = "0"
    return response


def _payload_response(state: EmulatorState, payload: dict) -> Response:
    body = dict(payload)
    body["time"] = response_time(state.clock.now())
    return _response(dumps(body), 200, SUCCESS_TYPE)


def _fault_response(state: EmulatorState, fault: QboFault) -> Response:
    return _response(dumps(fault.body(state.clock.now())), fault.http_status, ERROR_TYPE)


def _unauthorized(state: EmulatorState, detail: str | None) -> Response:
    response = _response(faults.authentication_failed_body(detail, state.clock.now()), 401, ERROR_TYPE)
    response.headers["WWW-Authenticate"] = 'Bearer realm="Intuit", error="invalid_token"'
    return response


def _classify(method: str, segments: list[str]) -> str:
    head = segments[0].lower() if segments else ""
    if head == "query":
        return "query"
    if head == "batch":
        return "batch"
    return "read" if method == "GET" else "write"


@blueprint.route("/v3/company/<realm_id>/<path:rest>", methods=["GET", "POST"])
def company_api(realm_id: str, rest: str) -> Response:
    state = _state()
    segments = [segment for segment in rest.split("/") if segment]
    kind = _classify(request.method, segments)
    state.counters.count(realm_id, "total")

    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    with state.lock:
        check = state.oauth.check_access(token, realm_id, state.clock.now().timestamp())
    if not check.ok or realm_id not in state.companies:
        state.counters.count(realm_id, "auth_failed")
        return _unauthorized(state, check.detail)

    if not state.limiter.admit(realm_id, check.client_id or "", is_batch=kind == "batch"):
        state.counters.count(realm_id, "throttled")
        return _response(faults.throttle_body(state.clock.now()), 429, "application/xml")
    state.counters.count(realm_id, kind)

    settings = state.faults
    if settings.latency_ms:
        time.sleep(settings.latency_ms / 1000)
    if settings.error_rate or settings.timeout_rate:
        roll = state.dice.random()
        if roll < settings.error_rate:
            state.counters.count(realm_id, "fault_500")
            return _response(dumps(faults.system_fault(state.clock.now())), rules.INJECTED_ERROR_STATUS, ERROR_TYPE)
        if roll < settings.error_rate + settings.timeout_rate:
            if state.dice.random() < settings.timeout_after_write:
                state.counters.count(realm_id, "fault_timeout_after_write")
                response = _serve(state, realm_id, segments, kind)
                time.sleep(settings.timeout_seconds)
                return response
            state.counters.count(realm_id, "fault_timeout")
            time.sleep(settings.timeout_seconds)
            return _response(b"", rules.INJECTED_TIMEOUT_STATUS, "text/plain")
    return _serve(state, realm_id, segments, kind)


@blueprint.route("/v3/<path:rest>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
def outside_company(rest: str) -> Response:
    state = _state()
    fault = faults.unsupported_operation(f"/v3/{rest}", request.url)
    return _fault_response(state, fault)


def _serve(state: EmulatorState, realm_id: str, segments: list[str], kind: str) -> Response:
    """Steps 4 and 5: requestid replay, then the operation."""
    request_id = request.args.get("requestid")
    replayable = request_id and kind in ("write", "batch")
    if replayable:
        limit = rules.BATCH_REQUESTID_MAX_LENGTH if kind == "batch" else rules.REQUESTID_MAX_LENGTH
        if len(request_id) > limit:
            return _fault_response(state, faults.too_long("requestid", limit, len(request_id)))
    with state.lock:  # held across look-up, execution and storing: concurrent repeats wait and replay
        if replayable:
            stored = state.replays.get(realm_id, request_id)
            if stored is not None:
                return _response(stored.body, stored.status, stored.content_type)
        response = _execute(state, realm_id, segments, kind, request_id if kind == "batch" else None)
        if replayable and response.status_code in (200, 400):
            state.save_replay(realm_id, request_id, StoredResponse.of(response.status_code, response.content_type, response.get_data()))
        return response


def _execute(state: EmulatorState, realm_id: str, segments: list[str], kind: str, batch_request_id: str | None) -> Response:
    try:
        if kind == "batch":
            if request.method != "POST":
                raise faults.unsupported_operation(request.path, request.url)
            return _payload_response(state, operations.run_batch(state, realm_id, _json_body(), batch_request_id))
        with state.operation(realm_id) as ctx:
            payload = _dispatch(ctx, segments, kind)
        return _payload_response(state, payload)
    except QboFault as fault:
        return _fault_response(state, fault)
    except UnknownCompany:
        return _unauthorized(state, None)


def _dispatch(ctx, segments: list[str], kind: str) -> dict:
    head = segments[0].lower()
    args = request.args
    if kind == "query":
        if request.method == "POST":
            text = request.get_data(as_text=True) or args.get("query", "")
        else:
            text = args.get("query", "")
        return operations.run_query(ctx, text)
    if request.method == "GET":
        if head == "companyinfo" and len(segments) == 2:
            return operations.company_info(ctx, segments[1])
        if head == "preferences" and len(segments) == 1:
            return operations.preferences(ctx)
        if head == "exchangerate" and len(segments) == 1:
            return operations.exchange_rate(ctx, args.get("sourcecurrencycode"), args.get("asofdate"))
        handler = operations.handler_for(head)
        if handler is not None and len(segments) == 2:
            return operations.read(ctx, handler, segments[1])
        raise faults.unsupported_operation(request.path, request.url)
    handler = operations.handler_for(head)
    if handler is None or len(segments) != 1:
        raise faults.unsupported_operation(request.path, request.url)
    return operations.write(ctx, handler, _json_body(), args.get("operation", ""), args.get("include", ""))


def _json_body() -> object:
    raw = request.get_data()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise QboFault("500", "Unsupported Operation : the request body is not valid UTF-8.", message="Unsupported Operation", element=None) from None
    try:
        return loads(text) if text.strip() else {}
    except ValueError:
        raise QboFault(
            rules.INVALID_VALUE_FAULT_CODE,
            "Request has invalid or unsupported property : the body is not valid JSON.",
            element=None,
        ) from None


@blueprint.errorhandler(Exception)
def unexpected(error: Exception) -> Response:
    """An emulator bug: log it and answer like a QBO SystemFault rather than an HTML page."""
    log.exception("QBO emulator failed on %s %s", request.method, request.path)
    state = _state()
    return _response(dumps(faults.system_fault(state.clock.now())), 500, ERROR_TYPE)
