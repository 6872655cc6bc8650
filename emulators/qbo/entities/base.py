"""What every entity module shares: the operation context, field readers and the handler base class.

Field readers accept what python-quickbooks really sends (qbo-sample-payloads.md): `""` in decimal,
date, boolean and enum fields means "not given", Refs arrive as `{"name": "", "type": "", "value": ..}`,
ids may be ints. They raise `QboFault` for values QBO would refuse.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Iterable

from .. import faults, rules
from . import characters, schema
from ..clock import meta_timestamp, pacific_date
from ..faults import QboFault
from ..money import CURRENCY_NAMES, to_decimal

if TYPE_CHECKING:
    from ..store import Company, UnitOfWork

# Keys every entity may carry (IntuitEntity + JSON attributes).
ENTITY_KEYS = frozenset({"Id", "SyncToken", "MetaData", "CustomField", "AttachableRef", "domain", "sparse", "status"})

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class OpContext:
    """One API operation (or one batch item) against one company.

    `hidden` holds the records created earlier in the same batch: QBO evaluates a batch item against
    the state before the batch, so those are invisible to later items (qbo-api §1.10).
    """

    company: "Company"
    uow: "UnitOfWork"
    now: datetime
    config: Any
    hidden: set[tuple[str, str]] = field(default_factory=set)

    def lookup(self, entity: str, entity_id: object) -> dict | None:
        key = (entity, str(entity_id))
        if key in self.hidden:
            return None
        return self.company.get(entity, str(entity_id))

    @property
    def uniqueness_hidden(self) -> set[tuple[str, str]]:
        """The batch creations a uniqueness check (names, DocNumber) ignores: none while
        rules.BATCH_ITEMS_SHARE_UNIQUENESS holds, since a later item cannot take an earlier one's name."""
        return set() if rules.BATCH_ITEMS_SHARE_UNIQUENESS else self.hidden

    def today(self) -> date:
        """The date QBO fills in when TxnDate is omitted (rules.TXN_DATE_FROM_SERVER_ZONE)."""
        return pacific_date(self.now) if rules.TXN_DATE_FROM_SERVER_ZONE else self.now.date()

    def timestamp(self) -> str:
        return meta_timestamp(self.now)

    def metadata(self, existing: dict | None = None) -> dict:
        stamp = self.timestamp()
        created = existing["MetaData"]["CreateTime"] if existing else stamp
        return {"CreateTime": created, "LastUpdatedTime": stamp}

    @property
    def home_currency(self) -> str:
        return self.company.settings.home_currency

    @property
    def multicurrency(self) -> bool:
        return self.company.settings.multicurrency


# ---- blank handling ----------------------------------------------------------------------------

def blank(value: object) -> bool:
    """None, "", empty containers, and a Ref whose value is empty all mean "not given"."""
    if value is None or value == "" or value == [] or value == {}:
        return True
    if isinstance(value, dict) and set(value) <= {"value", "name", "type"} and blank_scalar(value.get("value")):
        return True
    return False


def blank_scalar(value: object) -> bool:
    return value is None or value == ""


def clean(value: object) -> object:
    """Drop empty strings, None and empty containers recursively (how QBO echoes what it stored)."""
    if isinstance(value, dict):
        cleaned = {}
        for key, item in value.items():
            item = clean(item)
            if item is None or item == "" or item == {} or item == []:
                continue
            cleaned[key] = item
        return cleaned
    if isinstance(value, list):
        return [clean(item) for item in value if not blank(item)]
    return value


# ---- field readers -----------------------------------------------------------------------------

def check_known_keys(entity: str, body: dict, known: frozenset[str]) -> None:
    """What QBO checks of a request body before any business rule: 2010 for a key its schema does not
    know, top-level (qbo-response-examples §5.8) or nested (schema.check_nested); 2040 for characters a
    name may not hold and 2210 for a malformed e-mail address (characters.py)."""
    for key in body:
        if key not in known:
            raise faults.unknown_property(key, entity, len(known))
    schema.check_nested(entity, body)
    characters.check_name_characters(entity, body)
    characters.check_emails(body)


def text(body: dict, key: str, *, limit: int | None = None, element: str | None = None) -> str | None:
    value = body.get(key)
    if blank_scalar(value):
        return None
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        raise faults.invalid_value(element or key, value)
    result = str(value)
    if limit is not None and len(result) > limit:
        raise faults.too_long(element or key, limit, len(result))
    return result


def boolean(body: dict, key: str, default: bool | None = None) -> bool | None:
    value = body.get(key)
    if blank_scalar(value):
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise faults.invalid_value(key, value)


def decimal(body: dict, key: str, *, element: str | None = None) -> Decimal | None:
    try:
        return to_decimal(body.get(key))
    except ValueError:
        raise faults.invalid_value(element or key, body.get(key)) from None


def date_value(body: dict, key: str, *, element: str | None = None) -> str | None:
    value = body.get(key)
    if blank_scalar(value):
        return None
    if not isinstance(value, str) or not _DATE.match(value.strip()[:10]):
        raise faults.invalid_value(element or key, value)
    day = value.strip()[:10]
    try:
        date.fromisoformat(day)
    except ValueError:
        raise faults.invalid_value(element or key, value) from None
    return day


def ref_id(value: object, element: str) -> str | None:
    """The id inside a Ref (`{"value": "58"}`; ints accepted), None when blank."""
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        inner = value.get("value")
        if blank_scalar(inner):
            return None
        if isinstance(inner, bool) or isinstance(inner, (dict, list)):
            raise faults.invalid_value(element, value)
        return str(inner).strip()
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value).strip()
    raise faults.invalid_value(element, value)


def currency_ref(code: str) -> dict:
    return {"value": code, "name": CURRENCY_NAMES.get(code, code)}


def public(doc: dict) -> dict:
    """The record without internal (`_`) keys."""
    return {key: value for key, value in doc.items() if not key.startswith("_")}


def check_sync_token(ctx: OpContext, existing: dict, body: dict) -> None:
    """5010 when the client's SyncToken is not the current one (checked on sparse updates too)."""
    sent = body.get("SyncToken")
    if blank_scalar(sent):
        raise faults.required("SyncToken")
    if str(sent).strip() != existing["SyncToken"]:
        raise faults.stale_object(ctx.company.settings.owner_name)


def next_sync_token(existing: dict | None) -> str:
    return "0" if existing is None else str(int(existing["SyncToken"]) + 1)


def numeric_id(value: object) -> str:
    """An entity id from a URL or body; 2030 when it is not a whole number (qbo-response-examples §5.9)."""
    text_value = str(value).strip()
    if not text_value.isdigit():
        raise faults.invalid_id(text_value)
    return str(int(text_value))


def resolve(ctx: OpContext, entity: str, ref: object, element: str, *, allow_inactive: bool = False,
            required: bool = False, missing_name: str | None = None) -> dict | None:
    """Follow a Ref: 2020 when required and blank, 2500 when unknown, 610 when inactive."""
    entity_id = ref_id(ref, element)
    if entity_id is None:
        if required:
            raise faults.required(missing_name or element, element)
        return None
    doc = ctx.lookup(entity, entity_id)
    if doc is None:
        raise faults.invalid_reference(element)
    if not allow_inactive and doc.get("Active") is False:
        raise faults.object_not_found()
    return doc


def merge_for_update(existing: dict, body: dict, sparse: bool, retained: Iterable[str] = ()) -> dict:
    """The field set an update describes: sparse = stored fields overlaid with the sent ones; full =
    only the sent ones (omitted writable fields reset), except `retained` fields kept when omitted."""
    if sparse:
        merged = {key: value for key, value in existing.items() if not key.startswith("_")}
        merged.update(body)
        return merged
    merged = dict(body)
    for key in retained:
        if blank(merged.get(key)) and key in existing:
            merged[key] = existing[key]
    return merged


class EntityType:
    """Handler for one QBO entity. Subclasses implement what their entity supports.

    `create`/`update` return the stored record; `render` turns a record into its response shape
    (computed fields such as Customer.Balance are filled in there).
    """

    name = ""
    known_keys: frozenset[str] = ENTITY_KEYS
    namelist = False  # Customer, Item, Account: deactivate instead of delete
    writable = True
    deletable = False
    voidable = False

    @property
    def url_name(self) -> str:
        return self.name.lower()

    def create(self, ctx: OpContext, body: dict) -> dict:
        raise QboFault("500", f"Operation Create is not supported for {self.name}.", message="Unsupported Operation", element=None)

    def update(self, ctx: OpContext, existing: dict, body: dict, sparse: bool) -> dict:
        raise QboFault("500", f"Operation Update is not supported for {self.name}.", message="Unsupported Operation", element=None)

    def delete(self, ctx: OpContext, existing: dict) -> None:
        raise faults.from_rule(rules.NAMELIST_DELETE_FAULT, element=None)

    def void(self, ctx: OpContext, existing: dict) -> dict:
        raise QboFault("500", f"Operation Void is not supported for {self.name}.", message="Unsupported Operation", element=None)

    def render(self, company: "Company", doc: dict) -> dict:
        return public(doc)

    def rows(self, ctx: OpContext) -> Iterable[dict]:
        """Records a query over this entity starts from (hidden batch creations excluded)."""
        table = ctx.company.tables.get(self.name, {})
        if not ctx.hidden:
            return table.values()
        return (doc for doc in table.values() if (self.name, doc["Id"]) not in ctx.hidden)

    def queryable_fields(self) -> frozenset[str]:
        return self.known_keys
