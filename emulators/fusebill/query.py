"""List endpoints' `query=` filters, sorting and 0-based paging (fusebill-api.md §1.3-1.5).

    query=firstName:Jessica;lastName:Smith*       exact / `*` wildcards, case-insensitive [U]
    query=status:Active,Draft                     set (enum and id fields only)
    query=companyName:[empty]                     null or empty
    query=modifiedTimestamp:2024-01-01|           range: lower bound included, upper excluded
    query=createdTimestamp:|2019-01-01T12:00:00   (dates or numbers; either end may be open)
    sortOrder=Ascending|Descending & sortExpression=<field>
    pageSize=<1..MAX_PAGE_SIZE> & pageNumber=<0-based>

Field names match case-insensitively (the docs write `CurrencyId` and `Invoice.CustomerId`).
Each endpoint accepts exactly the filters its documentation lists (rules.py, issue #7), and sorts
only on those. A field the endpoint does not document, a malformed value, or bad paging is a 400 [U]:
the real API's answer is undocumented, and being strict makes client mistakes visible in tests.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Mapping, Sequence

from emulators.fusebill import rules, shapes
from emulators.sampledata.money import parse_timestamp

EMPTY = "[empty]"
KINDS = ("id", "int", "string", "enum", "date", "decimal", "bool")


class QueryError(ValueError):
    """A bad `query`, paging or sort parameter (answered with 400)."""


@dataclass(frozen=True)
class Field:
    """One filterable/sortable field of a list endpoint: `get` reads it from an item."""

    name: str
    kind: str
    get: Callable[[Any], Any]

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown field kind {self.kind!r}")


class FieldSet:
    """The fields one endpoint accepts in `query=` and `sortExpression`, looked up case-insensitively
    (aliases: a second documented name for the same field). `default_sort` orders a list without
    `sortExpression`; it need not be a filter field itself (the id order, [U])."""

    def __init__(self, fields: Iterable[Field], aliases: Mapping[str, str] | None = None,
                 default_sort: str | Field = "id") -> None:
        self._by_name = {f.name.lower(): f for f in fields}
        self._names = {f.name for f in self._by_name.values()}
        for alias, target in (aliases or {}).items():
            self._by_name[alias.lower()] = self._by_name[target.lower()]
            self._names.add(alias)
        self.default_sort = default_sort if isinstance(default_sort, Field) else self._by_name[default_sort.lower()]

    @property
    def names(self) -> set[str]:
        """Every accepted name (fields and aliases), as written."""
        return set(self._names)

    def get(self, name: str) -> Field:
        found = self._by_name.get(name.strip().lower())
        if found is None:
            raise QueryError(f"'{name}' is not a valid field for this query.")
        return found


# --- filters -----------------------------------------------------------------------------------


def parse_filters(text: str | None, fields: FieldSet) -> list[Callable[[Any], bool]]:
    """Predicates for a `query=` value (all must hold)."""
    if not text:
        return []
    predicates = []
    for pair in text.split(";"):
        if not pair.strip():
            continue
        name, sep, value = pair.partition(":")
        if not sep:
            raise QueryError(f"Query term '{pair}' must have the form field:value.")
        field = fields.get(name)
        predicates.append(_predicate(field, value.strip()))
    return predicates


def _predicate(field: Field, value: str) -> Callable[[Any], bool]:
    get = field.get
    if value.lower() == EMPTY:
        return lambda item: get(item) in (None, "")
    if field.kind == "string":
        if "*" in value:
            pattern = re.compile("^" + ".*".join(re.escape(part) for part in value.split("*")) + "$", re.IGNORECASE | re.DOTALL)
            return lambda item: (v := get(item)) is not None and bool(pattern.match(str(v)))
        folded = value.casefold()
        return lambda item: (v := get(item)) is not None and str(v).casefold() == folded
    if field.kind == "enum":
        wanted = {part.strip().casefold() for part in value.split(",")}
        return lambda item: (v := get(item)) is not None and str(v).casefold() in wanted
    if field.kind == "bool":
        if value.lower() not in ("true", "false"):
            raise QueryError(f"'{value}' is not a valid value for {field.name} (true or false).")
        flag = value.lower() == "true"
        return lambda item: get(item) is flag
    if field.kind == "id" and "|" not in value:
        ids = {_number(field, part, int) for part in value.split(",")}
        return lambda item: get(item) in ids
    parse = _date if field.kind == "date" else (lambda f, text: _number(f, text, Decimal if f.kind == "decimal" else int))
    if "|" in value:
        low_text, _, high_text = value.partition("|")
        low = parse(field, low_text) if low_text.strip() else None
        high = parse(field, high_text) if high_text.strip() else None
        if low is None and high is None:
            raise QueryError(f"The range for {field.name} needs at least one bound.")
        return lambda item: (v := get(item)) is not None and (low is None or v >= low) and (high is None or v < high)
    exact = parse(field, value)
    if field.kind == "date" and len(value.strip()) == 10:  # a bare date means that whole day [U]
        next_day = exact + timedelta(days=1)
        return lambda item: (v := get(item)) is not None and exact <= v < next_day
    return lambda item: get(item) == exact


def _date(field: Field, text: str) -> datetime:
    try:
        return parse_timestamp(text)
    except ValueError:
        raise QueryError(f"'{text}' is not a valid date for {field.name}.") from None


def _number(field: Field, text: str, kind: type) -> Any:
    try:
        return kind(text.strip())
    except (ValueError, InvalidOperation):
        raise QueryError(f"'{text}' is not a valid number for {field.name}.") from None


# --- paging and sorting ------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    items: list[Any]
    headers: dict[str, str]


def _int_arg(args: Mapping[str, str], name: str, default: int) -> int:
    raw = _arg(args, name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise QueryError(f"'{raw}' is not a valid value for {name}.") from None


def _arg(args: Mapping[str, str], name: str) -> str | None:
    """Query-string parameters are matched case-insensitively too (pageSize, PageSize...)."""
    lowered = name.lower()
    for key, value in args.items():
        if key.lower() == lowered:
            return value
    return None


def paging(args: Mapping[str, str]) -> tuple[int, int]:
    size = _int_arg(args, "pageSize", rules.DEFAULT_PAGE_SIZE)
    number = _int_arg(args, "pageNumber", 0)
    if not 1 <= size <= rules.MAX_PAGE_SIZE:
        raise QueryError(f"pageSize must be between 1 and {rules.MAX_PAGE_SIZE}.")
    if number < 0:
        raise QueryError("pageNumber must be 0 or greater (pages are 0-based).")
    return number, size


def sorting(args: Mapping[str, str], fields: FieldSet) -> tuple[Field, bool]:
    """The sort field and whether it is descending."""
    expression = _arg(args, "sortExpression")
    field = fields.get(expression) if expression else fields.default_sort
    order = (_arg(args, "sortOrder") or shapes.SORT_ASCENDING).strip().lower()
    if order not in ("ascending", "descending"):
        raise QueryError("sortOrder must be Ascending or Descending.")
    return field, order == "descending"


def page_of(items: Sequence[Any], args: Mapping[str, str], fields: FieldSet,
            max_page_index: str = rules.DEFAULT_MAX_PAGE_INDEX) -> Page:
    """Filter by `query`, sort and cut one page of `items`, with Fusebill's paging headers."""
    number, size = paging(args)
    sort_field, descending = sorting(args, fields)
    predicates = parse_filters(_arg(args, "query"), fields)
    matching = [item for item in items if all(p(item) for p in predicates)] if predicates else list(items)
    get = sort_field.get

    def sort_key(item: Any) -> tuple:
        value = get(item)
        return (0, 0) if value is None else (1, value)  # None sorts before any value

    matching.sort(key=sort_key, reverse=descending)  # stable: ties keep the order of `items`
    start = number * size
    headers = shapes.paging_headers(
        count=len(matching), max_count=len(items), page=number, size=size,
        sort_order=shapes.SORT_DESCENDING if descending else shapes.SORT_ASCENDING, sort_expression=sort_field.name,
        max_page_index=max_page_index,
    )
    return Page(items=matching[start:start + size], headers=headers)
