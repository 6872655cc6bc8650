"""Plain helper functions more than one test module uses (fixtures stay in conftest.py files and
tests/portal_fixtures.py). A test module never imports from another test module: what two of them
share lives here (tests/unit/test_test_layout.py holds that)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from quickbooks.exceptions import QuickbooksException
from sqlalchemy import Engine, event
from werkzeug.test import TestResponse

from tests.portal_fixtures import post_form


# ------------------------------------------------------------------ the portal's forms
def save_key(client: FlaskClient, api_key: str, kind: str = "sandbox") -> TestResponse:
    """Save a Fusebill API key for the `kind` environment on the Environment step (the response, not followed)."""
    return post_form(client, "/setup/environment", f"/setup/environment/fusebill-key/{kind}",
                     {f"key-{kind}-environment": kind, f"key-{kind}-api_key": api_key})


class _Selects(HTMLParser):
    """The page's <select>s: name → (selected value, [(value, label)])."""

    def __init__(self) -> None:
        super().__init__()
        self.selects: dict[str, dict] = {}
        self._current: str | None = None
        self._option: list | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes: dict[str, Any] = dict(attrs)
        if tag == "select":
            self._current = attributes["name"]
            self.selects[self._current] = {"selected": "", "options": []}
        elif tag == "option" and self._current is not None:
            self._option = [attributes.get("value", ""), ""]
            if "selected" in attributes:
                self.selects[self._current]["selected"] = attributes.get("value", "")

    def handle_data(self, data: str) -> None:
        if self._option is not None:
            self._option[1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "option" and self._option is not None and self._current is not None:
            self.selects[self._current]["options"].append((self._option[0], self._option[1].strip()))
            self._option = None
        elif tag == "select":
            self._current = None


def selects(page: str) -> dict[str, dict]:
    """Every <select> of an HTML page: name → {"selected": value, "options": [(value, label), …]}."""
    parser = _Selects()
    parser.feed(page)
    return parser.selects


def option_for(select: dict, starts_with: str) -> str:
    """The value of the first non-empty option of `select` whose label starts with `starts_with`."""
    return next(value for value, label in select["options"] if value and label.startswith(starts_with))


# ------------------------------------------------------------------ the QBO emulator's API, directly
def qbo_api(qbo: Any, realm: str, method: str, path: str, **kwargs: Any) -> Any:
    """One call to the emulated QBO company `realm` (as its connected app would), asserting a 200: the JSON."""
    tokens = qbo.tokens(realm)
    response = requests.request(method, f"{qbo.api_base}/company/{realm}/{path}", params={"minorversion": 75}, timeout=30,
                                headers={"Authorization": f"Bearer {tokens['access_token']}", "Accept": "application/json"}, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def qbo_query(qbo: Any, realm: str, statement: str) -> Any:
    """A QBO query against the emulated company `realm`, asserting a 200: its QueryResponse."""
    response = requests.post(
        f"{qbo.api_base}/company/{realm}/query", data=statement, params={"minorversion": 75}, timeout=30,
        headers={"Authorization": f"Bearer {qbo.tokens(realm)['access_token']}", "Content-Type": "application/text", "Accept": "application/json"},
    )
    assert response.status_code == 200, response.text
    return response.json()["QueryResponse"]


# ------------------------------------------------------------------ python-quickbooks errors
def raised(exception_type: type[QuickbooksException], call: Callable[..., Any], *args: Any, **kwargs: Any) -> QuickbooksException:
    """Run `call` and return the exception, asserting its exact class (not a subclass)."""
    with pytest.raises(QuickbooksException) as caught:
        call(*args, **kwargs)
    assert type(caught.value) is exception_type, f"{type(caught.value).__name__}: {caught.value}"
    return caught.value


# ------------------------------------------------------------------ the database
@contextmanager
def writes_recorded(engine: Engine) -> Iterator[list[str]]:
    """Every INSERT / UPDATE / DELETE sent to the database inside the block (committed or not)."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            seen.append(statement.split("\n", 1)[0][:120])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
