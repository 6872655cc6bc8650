"""QBO's query language: parser and evaluator.

Grammar (qbo-api §1.3; keywords case-insensitive, clauses in any order):

    SELECT ( * [, field...] | COUNT(*) | field [, field...] ) FROM Entity
        [WHERE cond (AND cond)*] [ORDERBY | ORDER BY field [ASC|DESC] [, ...]]
        [STARTPOSITION n] [MAXRESULTS n]
    cond := path (= | < | > | <= | >= | IN (v, ...) | LIKE 'pat%') value

Values are single-quoted strings (`\\'` escapes a quote), numbers, or true/false. Paths may be nested
(`MetaData.LastUpdatedTime`); a Ref field compares its `value` (`CustomerRef = '58'`). There is no OR.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Iterable

from . import faults, rules
from .clock import parse_timestamp

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:\\.|[^'\\])*')
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op><=|>=|!=|<>|=|<|>)
      | (?P<punct>[(),*])
      | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)

KEYWORDS = {"SELECT", "FROM", "WHERE", "AND", "OR", "ORDER", "ORDERBY", "BY", "ASC", "DESC", "STARTPOSITION",
            "MAXRESULTS", "IN", "LIKE", "COUNT", "TRUE", "FALSE", "NOT"}


@dataclass
class Token:
    kind: str  # string | number | op | punct | ident | keyword | end
    text: str
    column: int

    @property
    def upper(self) -> str:
        return self.text.upper()


@dataclass
class Condition:
    path: str
    op: str  # = < > <= >= != IN LIKE
    values: list  # literal values (str | Decimal | bool)


@dataclass
class Query:
    entity: str
    count: bool = False
    fields: list[str] | None = None  # None = all fields
    conditions: list[Condition] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (path, descending)
    start_position: int = 1
    max_results: int = rules.QUERY_DEFAULT_MAX_RESULTS


def _tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    text = text.rstrip().rstrip(";")
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            column = position + 1 + (len(text[position:]) - len(text[position:].lstrip()))
            raise faults.query_parse_error(
                f'Lexical error at line 1, column {column}.  Encountered: "{text[column - 1]}"'
            )
        kind = match.lastgroup
        value = match.group(kind)
        column = match.start(kind) + 1
        if kind == "ident" and value.upper() in KEYWORDS:
            kind = "keyword"
        tokens.append(Token(kind, value, column))
        position = match.end()
    tokens.append(Token("end", "<EOF>", len(text) + 1))
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.tokens = _tokenize(text)
        self.index = 0

    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def fail(self, expecting: str) -> faults.QboFault:
        token = self.peek()
        shown = token.text if token.kind != "end" else "<EOF>"
        return faults.query_parse_error(
            f'Encountered " "{shown}" "{shown.upper()} "" at line 1, column {token.column}.\nWas expecting:\n    {expecting} ...\n    '
        )

    def keyword(self, *words: str) -> Token:
        token = self.peek()
        if token.kind == "keyword" and token.upper in words:
            return self.take()
        raise self.fail(" | ".join(f'"{word}"' for word in words))

    def at_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "keyword" and token.upper in words

    def identifier(self) -> str:
        token = self.peek()
        if token.kind == "ident":
            return self.take().text
        raise self.fail("<IDENTIFIER>")

    def integer(self) -> int:
        token = self.peek()
        if token.kind == "number" and "." not in token.text and not token.text.startswith("-"):
            return int(self.take().text)
        if token.kind == "string" and token.text[1:-1].isdigit():
            return int(self.take().text[1:-1])
        raise self.fail("<INTEGER>")

    def parse(self) -> Query:
        self.keyword("SELECT")
        count, fields = self.select_list()
        self.keyword("FROM")
        query = Query(entity=self.identifier(), count=count, fields=fields)
        seen: set[str] = set()
        while self.peek().kind != "end":
            token = self.peek()
            clause = token.upper if token.kind == "keyword" else ""
            if clause == "ORDER":
                self.take()
                self.keyword("BY")
                clause = "ORDERBY"
            elif clause in ("WHERE", "ORDERBY", "STARTPOSITION", "MAXRESULTS"):
                self.take()
            else:
                raise self.fail('"WHERE" | "ORDERBY" | "STARTPOSITION" | "MAXRESULTS" | <EOF>')
            if clause in seen:
                raise faults.query_parse_error(f'Encountered " "{token.text}" at line 1, column {token.column}. Duplicate clause.')
            seen.add(clause)
            if clause == "WHERE":
                query.conditions = self.conditions()
            elif clause == "ORDERBY":
                query.order = self.order_list()
            elif clause == "STARTPOSITION":
                query.start_position = max(1, self.integer())
            else:
                query.max_results = self.integer()
        return query

    def select_list(self) -> tuple[bool, list[str] | None]:
        token = self.peek()
        if token.kind == "keyword" and token.upper == "COUNT":
            self.take()
            self.expect_punct("(")
            self.expect_punct("*")
            self.expect_punct(")")
            return True, None
        if token.kind == "punct" and token.text == "*":
            self.take()
            while self.peek().kind == "punct" and self.peek().text == ",":
                self.take()
                self.identifier()  # extra columns next to * (python-quickbooks sends `*, Sku`)
            return False, None
        fields = [self.identifier()]
        while self.peek().kind == "punct" and self.peek().text == ",":
            self.take()
            fields.append(self.identifier())
        return False, fields

    def expect_punct(self, text: str) -> None:
        token = self.peek()
        if token.kind == "punct" and token.text == text:
            self.take()
            return
        raise self.fail(f'"{text}"')

    def conditions(self) -> list[Condition]:
        conditions = [self.condition()]
        while self.at_keyword("AND"):
            self.take()
            conditions.append(self.condition())
        if self.at_keyword("OR"):
            raise self.fail('"AND" | "ORDERBY" | "STARTPOSITION" | "MAXRESULTS" | <EOF>')
        return conditions

    def condition(self) -> Condition:
        path = self.identifier()
        token = self.peek()
        if token.kind == "op":
            op = self.take().text
            if op in ("!=", "<>"):
                if not rules.QUERY_ALLOW_NOT_EQUAL:
                    raise faults.query_parse_error(
                        f'Encountered " "{op}" "{op} "" at line 1, column {token.column}.\nWas expecting one of:\n    "=" ...\n    "<" ...\n    ">" ...\n    "<=" ...\n    ">=" ...\n    "IN" ...\n    "LIKE" ...\n    '
                    )
                op = "!="
            return Condition(path, op, [self.value()])
        if self.at_keyword("IN"):
            self.take()
            self.expect_punct("(")
            values = [self.value()]
            while self.peek().kind == "punct" and self.peek().text == ",":
                self.take()
                values.append(self.value())
            self.expect_punct(")")
            return Condition(path, "IN", values)
        if self.at_keyword("LIKE"):
            self.take()
            token = self.peek()
            if token.kind != "string":
                raise self.fail("<STRING>")
            return Condition(path, "LIKE", [self.value()])
        raise self.fail('"=" | "<" | ">" | "<=" | ">=" | "IN" | "LIKE"')

    def value(self) -> object:
        token = self.peek()
        if token.kind == "string":
            self.take()
            return re.sub(r"\\(.)", r"\1", token.text[1:-1])
        if token.kind == "number":
            self.take()
            return Decimal(token.text)
        if token.kind == "keyword" and token.upper in ("TRUE", "FALSE"):
            self.take()
            return token.upper == "TRUE"
        raise self.fail("<STRING> | <NUMBER> | true | false")

    def order_list(self) -> list[tuple[str, bool]]:
        order = [self.order_item()]
        while self.peek().kind == "punct" and self.peek().text == ",":
            self.take()
            order.append(self.order_item())
        return order

    def order_item(self) -> tuple[str, bool]:
        path = self.identifier()
        descending = False
        if self.at_keyword("ASC", "DESC"):
            descending = self.take().upper == "DESC"
        return path, descending


def parse(text: str) -> Query:
    """Parse a query; raises QboFault 4000 on a syntax error, 4001 on MAXRESULTS > 1000."""
    if not text or not text.strip():
        raise faults.query_parse_error('Encountered "<EOF>" at line 1, column 1.')
    query = _Parser(text).parse()
    if query.max_results > rules.QUERY_MAX_RESULTS or query.max_results < 1:
        raise faults.from_rule(rules.QUERY_TOO_MANY_RESULTS_FAULT, element=None, value=query.max_results)
    return query


# ---- evaluation --------------------------------------------------------------------------------

def resolve_path(doc: dict, path: str) -> object:
    """Follow a dotted path case-insensitively; a Ref yields its value."""
    current: object = doc
    for part in path.split("."):
        if not isinstance(current, dict):
            return None
        if part in current:
            current = current[part]
            continue
        lowered = part.lower()
        for key, value in current.items():
            if key.lower() == lowered:
                current = value
                break
        else:
            return None
    if isinstance(current, dict) and "value" in current:
        return current["value"]
    if isinstance(current, dict) and "Address" in current:  # PrimaryEmailAddr compares its Address
        return current["Address"]
    return current


def _as_number(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def _fold(text: str) -> str:
    return text.lower() if rules.QUERY_STRINGS_CASE_INSENSITIVE else text


def _compare(field_value: object, literal: object) -> int | None:
    """-1/0/1 comparing a record's value with a literal, None when they cannot be compared."""
    if field_value is None:
        return None
    if isinstance(field_value, bool):
        if isinstance(literal, bool):
            target = literal
        elif isinstance(literal, str) and literal.lower() in ("true", "false"):
            target = literal.lower() == "true"
        else:
            return None
        return (field_value > target) - (field_value < target)
    number = _as_number(field_value) if not isinstance(field_value, str) else None
    if number is not None:
        other = _as_number(literal)
        if other is None:
            return None
        return (number > other) - (number < other)
    if isinstance(field_value, str):
        literal_text = str(literal) if not isinstance(literal, bool) else str(literal).lower()
        if field_value.isdigit() and literal_text.isdigit():  # Ids compare as numbers
            a, b = int(field_value), int(literal_text)
            return (a > b) - (a < b)
        if len(field_value) >= 10 and field_value[4:5] == "-" and field_value[7:8] == "-":
            left, right = parse_timestamp(field_value), parse_timestamp(literal_text)
            if left is not None and right is not None:
                if len(field_value) == 10 and len(literal_text) == 10:
                    a, b = field_value, literal_text
                    return (a > b) - (a < b)
                return (left > right) - (left < right)
        a, b = _fold(field_value), _fold(literal_text)
        return (a > b) - (a < b)
    return None


def _like(field_value: object, pattern: str) -> bool:
    if not isinstance(field_value, str):
        return False
    regex = "^" + ".*".join(re.escape(part) for part in pattern.split("%")) + "$"
    flags = re.IGNORECASE if rules.QUERY_STRINGS_CASE_INSENSITIVE else 0
    return re.match(regex, field_value, flags | re.DOTALL) is not None


def matches(doc: dict, condition: Condition) -> bool:
    value = resolve_path(doc, condition.path)
    if condition.op == "LIKE":
        return _like(value, str(condition.values[0]))
    if condition.op == "IN":
        return any(_compare(value, literal) == 0 for literal in condition.values)
    outcome = _compare(value, condition.values[0])
    if outcome is None:
        return False
    return {
        "=": outcome == 0, "!=": outcome != 0, "<": outcome < 0, ">": outcome > 0, "<=": outcome <= 0, ">=": outcome >= 0,
    }[condition.op]


def sort_key(value: object) -> tuple:
    """Sort missing values first, then numbers, then text (case-insensitive); digit strings as numbers."""
    if value is None:
        return (0, 0, "")
    if isinstance(value, bool):
        return (1, int(value), "")
    if isinstance(value, (int, Decimal)):
        return (1, value, "")
    if isinstance(value, str):
        if value.isdigit():
            return (1, int(value), "")
        return (2, 0, _fold(value))
    return (3, 0, str(value))


def order_rows(rows: list[dict], order: list[tuple[str, bool]]) -> list[dict]:
    for path, descending in reversed(order):
        rows.sort(key=lambda row, p=path: sort_key(resolve_path(row, p)), reverse=descending)
    return rows


def filter_rows(rows: Iterable[dict], conditions: list[Condition]) -> list[dict]:
    return [row for row in rows if all(matches(row, condition) for condition in conditions)]


def project(row: dict, fields: list[str]) -> dict:
    """A row with only the SELECTed fields (plus Id and domain), marked sparse (rules)."""
    shown: dict = {}
    lowered = {key.lower(): key for key in row}
    for name in fields:
        top = name.split(".")[0]
        key = lowered.get(top.lower())
        if key is not None:
            shown[key] = row[key]
    shown.setdefault("Id", row.get("Id"))
    if "domain" in row:
        shown["domain"] = row["domain"]
        shown["sparse"] = True
    return {key: value for key, value in shown.items() if value is not None}
