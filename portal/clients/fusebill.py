"""The Fusebill REST API v1 adapter (reads only: the sync is one-way).

Facts it relies on (reference: fusebill-api.md): `Authorization: Basic <api key>` with the key sent
as is; lists are bare JSON arrays, paged with `pageSize` and a 0-based `pageNumber`, the last page
index in `X-MaxPageIndex`; `query=field:value;field:a|b` filters; 429 when a per-minute or per-day
limit is reached, with `X-Rate-Limit-*` headers; errors as `{"Errors": [{"Key", "Value"}]}`.
Unconfirmed shapes ([U]: the invoice `taxes[]` fields) are read defensively.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterator

import requests

from portal.clients import AuthenticationError, PermanentError, RetryableError

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 1000
MAX_ATTEMPTS = 4


@dataclass(frozen=True)
class FusebillTaxRule:
    key: str  # the tax rule id when Fusebill gives one, else its name
    name: str
    percentage: Decimal | None


def _error_text(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        errors = body.get("Errors") or []
        values = [str(item.get("Value", "")) for item in errors if isinstance(item, dict)]
        if values:
            return "; ".join(values)[:300]
    return str(body)[:300]


class FusebillClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key.strip()
        self.timeout = timeout
        self._session = session or requests.Session()
        self._sleep = sleep
        self.max_attempts = max_attempts

    # ------------------------------------------------------------ transport
    def _get(self, path: str, params: dict[str, Any] | None = None) -> requests.Response:
        url = f"{self.base_url}/{path.lstrip('/')}"
        headers = {"Authorization": f"Basic {self._api_key}", "Content-Type": "application/json", "Accept": "application/json"}
        delay = 1.0
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = self._session.get(url, params=params, headers=headers, timeout=self.timeout)
            except requests.Timeout as error:
                failure: Exception = RetryableError(f"Fusebill did not answer within {self.timeout:.0f} seconds.", detail=str(error))
            except requests.ConnectionError as error:
                failure = RetryableError(f"Could not reach Fusebill at {self.base_url}.", detail=str(error))
            else:
                if response.status_code == 200:
                    return response
                if response.status_code in (401, 403):
                    raise AuthenticationError("Fusebill did not accept this API key.", detail=_error_text(response), status=response.status_code)
                if response.status_code == 429:
                    failure = RetryableError("Fusebill's rate limit was reached.", detail=_error_text(response), status=429)
                    delay = max(delay, self._reset_in(response))
                elif response.status_code >= 500:
                    failure = RetryableError(f"Fusebill answered with an error ({response.status_code}).", detail=_error_text(response), status=response.status_code)
                else:
                    raise PermanentError(f"Fusebill refused the request ({response.status_code}): {_error_text(response)}", status=response.status_code)
            if attempt == self.max_attempts:
                raise failure
            log.info("fusebill %s failed (%s); retrying in %.1fs", path, failure, delay)
            self._sleep(delay)
            delay = min(delay * 2, 60.0)
        raise AssertionError("unreachable")

    @staticmethod
    def _reset_in(response: requests.Response) -> float:
        """Seconds until the per-minute window resets, from X-Rate-Limit-Reset-Minute when parseable."""
        raw = response.headers.get("X-Rate-Limit-Reset-Minute")
        if raw:
            try:
                reset = datetime.fromisoformat(raw.replace("Z", "+00:00"))
                if reset.tzinfo is None:
                    reset = reset.replace(tzinfo=timezone.utc)
                return min(max((reset - datetime.now(timezone.utc)).total_seconds(), 1.0), 60.0)
            except ValueError:
                pass
        return 5.0

    def iter_list(self, path: str, params: dict[str, Any] | None = None, page_size: int = MAX_PAGE_SIZE) -> Iterator[dict[str, Any]]:
        """Every item of a paged list endpoint, page after page."""
        page = 0
        while True:
            query = dict(params or {}, pageSize=page_size, pageNumber=page)
            response = self._get(path, query)
            items = response.json()
            if not isinstance(items, list):
                raise PermanentError(f"Fusebill returned an unexpected body for {path}.")
            yield from items
            last = response.headers.get("X-MaxPageIndex")
            if not items or (last is not None and last.lstrip("-").isdigit() and page >= int(last)) or (last is None and len(items) < page_size):
                return
            page += 1

    # ------------------------------------------------------------ use cases
    def check_key(self) -> None:
        """Raise AuthenticationError when the key is refused; other errors as they come."""
        self._get("customers", {"pageSize": 1, "pageNumber": 0})

    def discover_tax_rules(self, posted_since: date | None = None, max_invoices: int = 20_000) -> list[FusebillTaxRule]:
        """The distinct tax rules on posted invoices (since `posted_since`), most used first."""
        params: dict[str, Any] = {"sortOrder": "Descending", "sortExpression": "postedTimestamp"}
        if posted_since is not None:
            params["query"] = f"postedTimestamp:{posted_since.isoformat()}|"
        seen: dict[str, tuple[FusebillTaxRule, int]] = {}
        for number, invoice in enumerate(self.iter_list("Invoices", params)):
            if number >= max_invoices:
                break
            for tax in invoice.get("taxes") or []:
                rule = _tax_rule(tax)
                if rule is None:
                    continue
                previous = seen.get(rule.key)
                seen[rule.key] = (rule, (previous[1] if previous else 0) + 1)
        return [rule for rule, _count in sorted(seen.values(), key=lambda pair: (-pair[1], pair[0].name))]


def _tax_rule(tax: dict[str, Any]) -> FusebillTaxRule | None:
    name = str(tax.get("name") or "").strip()
    rule_id = tax.get("taxRuleId")
    if not name and rule_id is None:
        return None
    percentage: Decimal | None
    try:
        percentage = Decimal(str(tax["percentage"])) if tax.get("percentage") is not None else None
    except (InvalidOperation, ValueError):
        percentage = None
    key = str(rule_id) if rule_id is not None else name
    return FusebillTaxRule(key=key[:64], name=(name or f"Tax rule {rule_id}")[:200], percentage=percentage)
