"""QBO's error envelopes and the code table the emulator uses.

Three shapes exist (qbo-response-examples §1, §5):

* the ValidationFault JSON of the Accounting API — `{"Fault": {"Error": [...], "type": ...}, "time": ...}`,
  `code` always a string (python-quickbooks crashes on an Error without `code`, qbo-api §3.5);
* the gateway's lower-case 401 envelope with an epoch-millisecond `time` (§5.10);
* the XML ThrottleExceeded body of HTTP 429 (§5.11), sent even when JSON was asked for.

Handlers raise `QboFault`; `api.py` turns it into a response (or a batch item).
"""
from __future__ import annotations

from datetime import datetime

from . import rules
from .clock import epoch_millis, response_time
from .money import dumps

# Message text per code (qbo-api §1.9.4 and the recorded bodies of qbo-response-examples §5).
MESSAGES = {
    "500": "Unsupported Operation",
    "610": "Object Not Found",
    "1040": "Batch size exceeds allowed limit",
    "2010": "Request has invalid or unsupported property",
    "2020": "Required param missing, need to supply the required value for the API",
    "2030": "Invalid ID",
    "2170": "Invalid Enumeration",
    "2500": "Invalid Reference Id",
    "4000": "Error parsing query",
    "4001": "Invalid query",
    "5010": "Stale Object Error",
    "6000": "A business validation error has occurred while processing your request",
    "6010": "Invalid AccountType/SubType",
    "6070": "Amount is not equal to Qty * UnitPrice",
    "6080": "No Name Provided",
    "6140": "Duplicate Document Number Error",
    "6240": "Duplicate Name Exists Error",
    "6540": "Deposited Transaction cannot be changed",
    "10000": "An application error has occurred while processing your request",
    rules.LENGTH_FAULT_CODE: rules.LENGTH_FAULT_MESSAGE,
}

INACTIVE_DETAIL = "Something you're trying to use has been made inactive. Check the fields with accounts, customers, items, vendors or employees."

_UNSET = object()


class QboFault(Exception):
    """One ValidationFault error. `element` None leaves the key out (the 6240 body has none)."""

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        message: str | None = None,
        element: str | None = "",
        http_status: int = 400,
        fault_type: str = "ValidationFault",
        include_time: bool = True,
    ):
        super().__init__(f"{code}: {detail}")
        self.code = str(code)
        self.message = message if message is not None else MESSAGES.get(self.code, "A validation error occurred")
        self.detail = detail
        self.element = element
        self.http_status = http_status
        self.fault_type = fault_type
        self.include_time = include_time

    def error_object(self) -> dict:
        error = {"Message": self.message, "Detail": self.detail, "code": self.code}
        if self.element is not None:
            error["element"] = self.element
        return error

    def fault_object(self) -> dict:
        return {"Error": [self.error_object()], "type": self.fault_type}

    def body(self, now: datetime) -> dict:
        envelope: dict = {"Fault": self.fault_object()}
        if self.include_time:
            envelope["time"] = response_time(now)
        return envelope


# ---- constructors for the faults handlers raise most -------------------------------------------

def required(name: str, element: str | None = None) -> QboFault:
    """2020 — qbo-response-examples §5.3 ("Required parameter Name is missing in the request")."""
    return QboFault("2020", f"Required parameter {name} is missing in the request", element=element if element is not None else name)


def invalid_reference(element: str = "", detail: str | None = None) -> QboFault:
    """2500 — §5.4; field-specific variant names the element."""
    text = detail if detail is not None else (f"Invalid Reference Id : {element}" if element else f"Invalid Reference Id : {INACTIVE_DETAIL}")
    return QboFault("2500", text, element=element)


def object_not_found(detail: str | None = None) -> QboFault:
    """610 — §5.5 (missing/deleted record, or an inactive one used in a transaction)."""
    return QboFault("610", detail or f"Object Not Found : {INACTIVE_DETAIL}", element="")


def stale_object(user_name: str) -> QboFault:
    """5010 — §5.6; the Detail names the QBO user who saved last, twice."""
    return QboFault(
        "5010",
        f"Stale Object Error : You and {user_name} were working on this at the same time. {user_name} finished before you did, so your work was not saved.",
        element="",
    )


def business(detail: str, element: str = "") -> QboFault:
    """6000 — the Detail always starts "Business Validation Error: " (§5.2)."""
    return QboFault("6000", detail, element=element)


def too_long(field: str, maximum: int, supplied: int) -> QboFault:
    return QboFault(
        rules.LENGTH_FAULT_CODE,
        rules.LENGTH_FAULT_DETAIL.format(max=maximum, supplied=supplied),
        element=field,
    )


def invalid_value(field: str, value: object) -> QboFault:
    return QboFault(
        rules.INVALID_VALUE_FAULT_CODE,
        f"Property Name:{field} specified is unsupported or invalid: {value!r}",
        element=field,
    )


def invalid_enum(field: str, value: object) -> QboFault:
    return QboFault("2170", f"Invalid Enumeration : {value}", element=field)


def unknown_property(name: str, entity: str, known_count: int) -> QboFault:
    """2010 — §5.8 (the real Detail lists all known properties; we give the count only)."""
    return QboFault(
        "2010",
        f'Property Name:Unrecognized field "{name}" (class com.intuit.schema.finance.v3.{entity}), not marked as ignorable ({known_count} known properties)\n specified is unsupported or invalid',
        element=None,
    )


def unsupported_operation(path: str, full_url: str) -> QboFault:
    """500 "Unsupported Operation" with HTTP 400, as recorded for an unknown path (§5.9)."""
    return QboFault(
        "500",
        f"Operation Could not find resource for relative : {path} of full path: {full_url} is not supported.",
        element=None,
    )


def invalid_id(value: str) -> QboFault:
    """2030 — §5.9: no `time` key in this body."""
    return QboFault("2030", f"Id should be a valid number. Supplied value:{value}", element="Id", include_time=False)


def query_parse_error(detail: str) -> QboFault:
    """4000 — §5.7."""
    return QboFault("4000", f"QueryParserError: {detail}", element=None)


def from_rule(rule: tuple, element: str | None = "", **fmt: object) -> QboFault:
    """A fault defined in rules.py as (code, detail) or (code, message, detail)."""
    if len(rule) == 2:
        code, detail = rule
        return QboFault(code, detail.format(**fmt), element=element)
    code, message, detail = rule
    return QboFault(code, detail.format(**fmt), message=message, element=element)


# ---- the other two envelopes --------------------------------------------------------------------

def authentication_failed_body(detail: str | None, now: datetime) -> str:
    """The gateway's 401 body (qbo-response-examples §5.10), byte-for-byte in key order."""
    body = {
        "warnings": None,
        "intuitObject": None,
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": detail,
                    "code": "3200",
                    "element": None,
                }
            ],
            "type": "AUTHENTICATION",
        },
        "report": None,
        "queryResponse": None,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": None,
        "requestId": None,
        "time": epoch_millis(now),
        "status": None,
        "cdcresponse": [],
    }
    return dumps(body)


def throttle_body(now: datetime) -> str:
    """HTTP 429 body, XML although JSON was asked for (§5.11; two spaces after "reached.")."""
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<IntuitResponse time="{response_time(now)}" xmlns="http://schema.intuit.com/finance/v3">\n'
        '  <Fault type="SERVICE">\n'
        '    <Error code="3001">\n'
        "      <Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>\n"
        "      <Detail>The request limit was reached.  Try again later</Detail>\n"
        "    </Error>\n"
        "  </Fault>\n"
        "</IntuitResponse>\n"
    )


def system_fault(now: datetime) -> dict:
    """Body of an injected server error: SystemFault 10000 (qbo-api §1.9.4)."""
    fault = QboFault("10000", rules.INJECTED_ERROR_DETAIL, element="", fault_type="SystemFault")
    return fault.body(now)
