"""What a /v3 request does to a company: reads, writes, queries and batches.

These functions take an `OpContext` (one all-or-nothing unit of work, see state.py) and return the
response payload without the `time` key; `api.py` adds transport concerns (auth, throttling,
requestid replay, fault injection).
"""
from __future__ import annotations

from . import faults, query, rules, transactions
from .entities import registry
from .entities.base import EntityType, OpContext, blank_scalar, check_sync_token, numeric_id
from .entities.reference import USD_PER_UNIT, CompanyInfoType, ExchangeRateType, PreferencesType, valid_date
from .faults import QboFault
from .state import EmulatorState
from .store import name_key

NAMELISTS = ("Customer", "Vendor", "Employee", "Item", "Account")
# Name fields answered from Company.names (which holds the full name, case-folded like the query compare).
NAME_INDEX = {"Customer": "displayname", "Vendor": "displayname", "Employee": "displayname",
              "Item": "fullyqualifiedname", "Account": "fullyqualifiedname"}
_INDEX_MATCHES_COMPARE = rules.NAME_UNIQUENESS_CASE_INSENSITIVE == rules.QUERY_STRINGS_CASE_INSENSITIVE
# Fields whose value the emulator computes when rendering (queries on them render rows first).
COMPUTED_FIELDS = {"Customer": {"balance", "balancewithjobs"},
                   "Account": {"currentbalance", "currentbalancewithsubaccounts"}}


def handler_for(entity: str) -> EntityType | None:
    return registry.by_name(entity)


# ---- reads --------------------------------------------------------------------------------------

def read(ctx: OpContext, handler: EntityType, raw_id: str) -> dict:
    if handler.name == "TaxCode" and raw_id.upper() in ("TAX", "NON"):
        entity_id = raw_id.upper()
    else:
        entity_id = numeric_id(raw_id)
    doc = ctx.lookup(handler.name, entity_id)
    if doc is None:
        raise faults.object_not_found()
    return {handler.name: handler.render(ctx.company, doc)}


def company_info(ctx: OpContext, raw_id: str) -> dict:
    if raw_id != ctx.company.realm_id:
        numeric_id(raw_id)
        raise faults.object_not_found()
    handler = CompanyInfoType()
    return {"CompanyInfo": handler.document(ctx.company)}


def preferences(ctx: OpContext) -> dict:
    handler = PreferencesType()
    return {"Preferences": handler.render(ctx.company, handler.document(ctx.company))}


def exchange_rate(ctx: OpContext, source: str | None, as_of: str | None) -> dict:
    if not source:
        raise faults.required("sourcecurrencycode", "sourcecurrencycode")
    day = as_of or ctx.today().isoformat()
    if not valid_date(day):
        raise faults.invalid_value("asofdate", day)
    return {"ExchangeRate": ExchangeRateType().rate(ctx, source, day)}


# ---- writes -------------------------------------------------------------------------------------

def write(ctx: OpContext, handler: EntityType, body: object, operation: str, include: str) -> dict:
    """Create, update (full or sparse), delete or void one entity; returns `{Entity: {...}}`."""
    if not isinstance(body, dict):
        raise faults.invalid_value(handler.name, body)
    if not handler.writable:
        raise QboFault("500", f"Operation {operation or 'Create'} is not supported for {handler.name}.",
                       message="Unsupported Operation", element=None)
    operation = (operation or "").lower()
    include = (include or "").lower()
    if operation == "delete":
        return _delete(ctx, handler, body)
    if operation == "void" or (operation == "update" and include == "void"):
        return _void(ctx, handler, body)
    if operation not in ("", "create", "update"):
        raise QboFault("500", f"Operation {operation} is not supported.", message="Unsupported Operation", element=None)
    entity_id = body.get("Id")
    has_id = not blank_scalar(entity_id) and str(entity_id).strip() not in ("0", "")
    if operation == "update" and not has_id:
        raise faults.required("Id")
    if has_id:
        existing = _existing(ctx, handler, entity_id)
        sparse = body.get("sparse") is True or str(body.get("sparse")).lower() == "true"
        doc = handler.update(ctx, existing, body, sparse)
        transactions.check_open_period(ctx, handler.name, existing, doc)
    else:
        # A create ignores the SyncToken 0 and sparse false python-quickbooks always sends.
        doc = handler.create(ctx, {key: value for key, value in body.items() if key not in ("Id", "SyncToken", "sparse")})
        transactions.check_open_period(ctx, handler.name, doc)
    return {handler.name: handler.render(ctx.company, doc)}


def _existing(ctx: OpContext, handler: EntityType, raw_id: object) -> dict:
    entity_id = numeric_id(raw_id)
    doc = ctx.lookup(handler.name, entity_id)
    if doc is None:
        raise faults.object_not_found()
    return doc


def _delete(ctx: OpContext, handler: EntityType, body: dict) -> dict:
    if handler.namelist or not handler.deletable:
        raise faults.from_rule(rules.NAMELIST_DELETE_FAULT, element=None)
    if blank_scalar(body.get("Id")):
        raise faults.required("Id")
    existing = _existing(ctx, handler, body["Id"])
    check_sync_token(ctx, existing, body)
    transactions.check_open_period(ctx, handler.name, existing)
    handler.delete(ctx, existing)
    return {handler.name: {"domain": "QBO", "status": "Deleted", "Id": existing["Id"]}}


def _void(ctx: OpContext, handler: EntityType, body: dict) -> dict:
    if not handler.voidable:
        raise QboFault("500", f"Operation Void is not supported for {handler.name}.", message="Unsupported Operation", element=None)
    if blank_scalar(body.get("Id")):
        raise faults.required("Id")
    existing = _existing(ctx, handler, body["Id"])
    check_sync_token(ctx, existing, body)
    transactions.check_open_period(ctx, handler.name, existing)
    doc = handler.void(ctx, existing)
    return {handler.name: handler.render(ctx.company, doc)}


# ---- queries ------------------------------------------------------------------------------------

def run_query(ctx: OpContext, text: str) -> dict:
    """Execute a query; returns `{"QueryResponse": {...}}` shaped as qbo-response-examples §3."""
    parsed = query.parse(text)
    handler = handler_for(parsed.entity)
    if handler is None:
        raise faults.from_rule(rules.QUERY_UNKNOWN_ENTITY_FAULT, element=None, name=parsed.entity)
    name = handler.name
    _check_query_paths(handler, parsed)
    used = [condition.path for condition in parsed.conditions] + [path for path, _ in parsed.order] + (parsed.fields or [])

    conditions = list(parsed.conditions)
    if name in NAMELISTS and rules.QUERY_NAMELISTS_DEFAULT_ACTIVE_ONLY and not any(
        condition.path.lower() == "active" for condition in conditions
    ):
        conditions.append(query.Condition("Active", "=", [True]))

    computed = COMPUTED_FIELDS.get(name, set())
    needs_render = any(path.split(".")[0].lower() in computed for path in used)
    candidates = list(_candidates(ctx, handler, conditions))
    if needs_render:
        candidates = [handler.render(ctx.company, doc) for doc in candidates]
    rows = query.filter_rows(candidates, conditions)
    if parsed.count:
        return {"QueryResponse": {"totalCount": len(rows)}}
    order = parsed.order or [(rules.QUERY_DEFAULT_ORDER.get(name, "Id"), False)]
    rows = query.order_rows(rows, order)

    start = parsed.start_position - 1
    page = rows[start:start + parsed.max_results]
    if not page:
        return {"QueryResponse": {}}
    if not needs_render:
        page = [handler.render(ctx.company, doc) for doc in page]
    if parsed.fields is not None:
        page = [query.project(row, parsed.fields) for row in page]
    response: dict = {name: page, "startPosition": parsed.start_position, "maxResults": len(page)}
    if name in rules.QUERY_TYPES_WITH_TOTALCOUNT:
        response["totalCount"] = len(page)
    return {"QueryResponse": response}


def _check_query_paths(handler: EntityType, parsed: query.Query) -> None:
    """4001 for a path the query may not use: unknown in SELECT, not filterable in WHERE, not sortable
    in ORDERBY (rules.QUERY_FILTERABLE / QUERY_SORTABLE, qbo-api §1.3)."""
    known = {key.lower() for key in handler.queryable_fields()}
    filterable = _lowered(rules.QUERY_FILTERABLE.get(handler.name, rules.QUERY_FILTERABLE_DEFAULT))
    sortable = _lowered(rules.QUERY_SORTABLE.get(handler.name, rules.QUERY_FILTERABLE_DEFAULT))
    checks = [(path, path.split(".")[0].lower() in known) for path in parsed.fields or []]
    checks += [(condition.path, condition.path.lower() in filterable) for condition in parsed.conditions]
    if rules.QUERY_ORDERBY_NEEDS_SORTABLE:
        checks += [(path, path.lower() in sortable) for path, _descending in parsed.order]
    for path, allowed in checks:
        if not allowed:
            raise faults.from_rule(rules.QUERY_UNKNOWN_PROPERTY_FAULT, element=None, name=path)


def _lowered(paths: frozenset[str]) -> frozenset[str]:
    return frozenset(path.lower() for path in paths)


def _candidates(ctx: OpContext, handler: EntityType, conditions: list[query.Condition]):
    """The records a query must look at, narrowed through an index where a condition allows it."""
    company = ctx.company
    if handler.name == "ExchangeRate":
        return _exchange_rate_rows(ctx, handler, conditions)
    for condition in conditions:
        path = condition.path.lower()
        if condition.op not in ("=", "IN"):
            continue
        values = [str(value) for value in condition.values if not isinstance(value, bool)]
        if path == "id" and values:
            docs = (ctx.lookup(handler.name, value.strip()) for value in values)
            return [doc for doc in docs if doc is not None]
        if (values and handler.name in NAME_INDEX and path == NAME_INDEX[handler.name] and _INDEX_MATCHES_COMPARE
                and all(value == value.strip() for value in values)):
            ids = set()
            for value in values:
                ids |= company.names[handler.name].get(name_key(value), set())
            docs = (ctx.lookup(handler.name, entity_id) for entity_id in sorted(ids, key=int))
            return [doc for doc in docs if doc is not None]
        if path == "customerref" and values and handler.name in ("Invoice", "CreditMemo", "Payment", "RefundReceipt", "JournalEntry"):
            found = []
            for value in values:
                for entity, entity_id in company.by_customer.get(value.strip(), ()):
                    if entity == handler.name and (entity, entity_id) not in ctx.hidden:
                        found.append(company.get(entity, entity_id))
            return found
    return handler.rows(ctx)


def _exchange_rate_rows(ctx: OpContext, handler: EntityType, conditions: list[query.Condition]) -> list[dict]:
    """Rates are computed, not stored: build the rows for the AsOfDate the query asks for (default today)."""
    days = [ctx.today().isoformat()]
    for condition in conditions:
        if condition.path.lower() == "asofdate" and condition.op in ("=", "IN"):
            days = [str(value) for value in condition.values if valid_date(str(value))]
    home = ctx.company.settings.home_currency
    rate_handler = ExchangeRateType()
    rows = []
    for day in days:
        for code in sorted(USD_PER_UNIT):
            if code != home:
                row = rate_handler.rate(ctx, code, day)
                rows.append({key: value for key, value in row.items() if key not in ("domain", "sparse")})
    return rows


# ---- batch --------------------------------------------------------------------------------------

def run_batch(state: EmulatorState, realm_id: str, body: object, request_id: str | None) -> dict:
    """Execute a batch: items run one after another, each all-or-nothing on its own; an item cannot
    see what earlier items created (qbo-api §1.10). Returns `{"BatchItemResponse": [...]}`."""
    items = body.get("BatchItemRequest") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise faults.required("BatchItemRequest")
    if len(items) > state.config.batch_max_items:
        raise QboFault("1040", f"Batch size exceeds allowed limit : Number of items in the batch request ({len(items)}) "
                               f"exceeds the limit of {state.config.batch_max_items}", element="")
    if request_id:
        for item in items:
            bid = str(item.get("bId", "")) if isinstance(item, dict) else ""
            if len(bid) > rules.BATCH_BID_MAX_LENGTH_WITH_REQUESTID:
                raise faults.too_long("bId", rules.BATCH_BID_MAX_LENGTH_WITH_REQUESTID, len(bid))
    hidden: set[tuple[str, str]] = set()
    responses = []
    for item in items:
        bid = item.get("bId") if isinstance(item, dict) else None
        try:
            payload, created = _batch_item(state, realm_id, item, hidden)
            hidden.update(created)
            responses.append({**payload, "bId": bid})
        except QboFault as fault:
            responses.append({"Fault": fault.fault_object(), "bId": bid})
    return {"BatchItemResponse": responses}


def _batch_item(state: EmulatorState, realm_id: str, item: object, hidden: set) -> tuple[dict, list]:
    if not isinstance(item, dict):
        raise faults.invalid_value("BatchItemRequest", item)
    if "Query" in item:
        with state.operation(realm_id, hidden=hidden) as ctx:
            return run_query(ctx, str(item["Query"])), []
    entity_keys = [key for key in item if key not in ("bId", "operation", "optionsData")]
    if len(entity_keys) != 1:
        raise faults.required("IntuitObject", "")
    handler = handler_for(entity_keys[0])
    if handler is None or handler.name != entity_keys[0]:
        raise faults.unknown_property(entity_keys[0], "BatchItemRequest", 4)
    operation = str(item.get("operation") or "create").lower()
    options = str(item.get("optionsData") or "").lower()
    include = "void" if options == "void" else ""
    if operation == "create":
        body = {key: value for key, value in item[entity_keys[0]].items() if key != "Id"} if isinstance(item[entity_keys[0]], dict) else item[entity_keys[0]]
        operation = ""
    else:
        body = item[entity_keys[0]]
    if operation not in ("", "update", "delete", "void"):
        raise QboFault("500", f"Operation {operation} is not supported.", message="Unsupported Operation", element=None)
    with state.operation(realm_id, hidden=hidden) as ctx:
        payload = write(ctx, handler, body, operation, include)
        return payload, ctx.uow.created_keys()
