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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

import requests

from portal.clients import AuthenticationError, PermanentError, RetryableError, Throttled

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
        before_request: Callable[[], object] | None = None,  # its result is ignored
    ) -> None:
        """`before_request` runs before every HTTP request (the sync's shared Redis rate limiter);
        background jobs pass `max_attempts=1` and defer on a 429 instead of sleeping on it."""
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key.strip()
        self.timeout = timeout
        self._session = session or requests.Session()
        self._sleep = sleep
        self.max_attempts = max_attempts
        self._before_request = before_request
        self.calls = 0  # HTTP requests made
        self.defer_on_throttle = False
        self.remaining_day: int | None = None  # from X-Rate-Limit-Remaining-Day, when sent

    # ------------------------------------------------------------ transport
    def _get(self, path: str, params: dict[str, Any] | None = None) -> requests.Response:
        url = f"{self.base_url}/{path.lstrip('/')}"
        headers = {"Authorization": f"Basic {self._api_key}", "Content-Type": "application/json", "Accept": "application/json"}
        delay = 1.0
        for attempt in range(1, self.max_attempts + 1):
            if self._before_request is not None:
                self._before_request()
            self.calls += 1
            try:
                response = self._session.get(url, params=params, headers=headers, timeout=self.timeout)
            except requests.Timeout as error:
                failure: Exception = RetryableError(f"Fusebill did not answer within {self.timeout:.0f} seconds.", detail=str(error))
            except requests.ConnectionError as error:
                failure = RetryableError(f"Could not reach Fusebill at {self.base_url}.", detail=str(error))
            else:
                remaining = response.headers.get("X-Rate-Limit-Remaining-Day", "")
                if remaining.isdigit():
                    self.remaining_day = int(remaining)
                if response.status_code == 200:
                    return response
                if response.status_code in (401, 403):
                    raise AuthenticationError("Fusebill did not accept this API key.", detail=_error_text(response), status=response.status_code)
                if response.status_code == 429:
                    window = "Day" if self.remaining_day == 0 else "Minute"
                    failure = Throttled(f"Fusebill's {'daily' if window == 'Day' else 'per-minute'} rate limit was reached.",
                                        detail=_error_text(response), status=429, retry_after=self._reset_in(response, window))
                    if self.defer_on_throttle:
                        raise failure  # a job defers its work rather than sleep until the window resets
                    delay = max(delay, self._reset_in(response))
                elif response.status_code >= 500:
                    failure = RetryableError(f"Fusebill answered with an error ({response.status_code}).", detail=_error_text(response),
                                             status=response.status_code)
                else:
                    raise PermanentError(f"Fusebill refused the request ({response.status_code}): {_error_text(response)}", status=response.status_code)
            if attempt == self.max_attempts:
                raise failure
            log.info("fusebill %s failed (%s); retrying in %.1fs", path, failure, delay)
            self._sleep(delay)
            delay = min(delay * 2, 60.0)
        raise AssertionError("unreachable")

    @staticmethod
    def _reset_in(response: requests.Response, window: str = "Minute") -> float:
        """Seconds until a window resets, from X-Rate-Limit-Reset-Minute (or -Day).

        The reference gives it as a timestamp; seen with and without an offset (naive = UTC)."""
        raw = response.headers.get(f"X-Rate-Limit-Reset-{window}")
        longest = 86400.0 if window == "Day" else 60.0
        if raw:
            try:
                reset = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
                if reset.tzinfo is None:
                    reset = reset.replace(tzinfo=timezone.utc)
                return min(max((reset - datetime.now(timezone.utc)).total_seconds(), 1.0), longest)
            except ValueError:
                pass
        return 5.0

    def iter_list(self, path: str, params: dict[str, Any] | None = None, page_size: int = MAX_PAGE_SIZE) -> Iterator[dict[str, Any]]:
        """Every item of a paged list endpoint, page after page.

        `X-MaxPageIndex` is documented as "total number of pages" but read by clients as the last
        0-based index (fusebill-api.md §1.3): stop on a short page, or when the page read is at or
        past the header's value — correct under both readings (at worst one empty page more).
        """
        page = 0
        while True:
            query = dict(params or {}, pageSize=page_size, pageNumber=page)
            response = self._get(path, query)
            items = response.json()
            if not isinstance(items, list):
                raise PermanentError(f"Fusebill returned an unexpected body for {path}.")
            yield from items
            last = response.headers.get("X-MaxPageIndex", "")
            if len(items) < page_size or (last.lstrip("-").isdigit() and page >= int(last)):
                return
            page += 1

    # ------------------------------------------------------------ use cases
    def check_key(self) -> None:
        """Raise AuthenticationError when the key is refused; other errors as they come."""
        self._get("customers", {"pageSize": 1, "pageNumber": 0})

    def discover_tax_rules(self, posted_since: date | None = None) -> list[FusebillTaxRule]:
        """The distinct tax rules on recent posted invoices (see `discover_taxes`), most used first."""
        return self.discover_taxes(posted_since).rules

    def discover_taxes(self, posted_since: date | None = None, *, max_customers: int = 50, max_requests: int = 30,
                       invoices_per_customer: int = 100) -> TaxDiscovery:
        """The tax rules and the combinations of rules charged together, read from posted invoices.

        Account-wide `GET /Invoices` has no line items and cannot be relied on for `taxes[]`, so this
        reads `GET /customers/{id}/invoices` (charges and taxes) of the most recently modified
        customers, within a budget: one request for the customer list, then one page of invoices per
        customer, at most `max_requests` requests in all. `complete` says whether every listed
        customer was read. The default budget stays well under a sandbox account's 50 requests a
        minute (fusebill-api.md §1.6), so a sync running meanwhile keeps room.

        Each invoice's combination is the set of rule keys in its `taxes[]`; an invoice without
        taxes, or with a charge marked `taxable: false`, also counts the non-taxable combination ().
        """
        budget = max(2, max_requests)
        page_size = max(1, min(max_customers, budget - 1, MAX_PAGE_SIZE))
        response = self._get("customers", {"pageSize": page_size, "pageNumber": 0,
                                           "sortOrder": "Descending", "sortExpression": "modifiedTimestamp"})
        customers = response.json()
        if not isinstance(customers, list):
            raise PermanentError("Fusebill returned an unexpected body for customers.")
        requests_made = 1
        params: dict[str, Any] = {"pageSize": invoices_per_customer, "pageNumber": 0,
                                  "sortOrder": "Descending", "sortExpression": "postedTimestamp"}
        if posted_since is not None:
            params["query"] = f"postedTimestamp:{posted_since.isoformat()}|"
        seen: dict[str, tuple[FusebillTaxRule, int]] = {}
        combinations: dict[tuple[str, ...], int] = {}
        invoices_read = customers_read = 0
        candidates = [c for c in customers if isinstance(c, dict) and c.get("id") is not None and str(c.get("status") or "") != "Draft"]
        for customer in candidates:
            if requests_made >= budget:
                break
            invoices = self._get(f"customers/{customer['id']}/invoices", params).json()
            requests_made += 1
            customers_read += 1
            if not isinstance(invoices, list):
                raise PermanentError("Fusebill returned an unexpected body for a customer's invoices.")
            for invoice in invoices:
                if not isinstance(invoice, dict):
                    continue
                invoices_read += 1
                keys: set[str] = set()
                for tax in invoice.get("taxes") or []:
                    rule = _tax_rule(tax) if isinstance(tax, dict) else None
                    if rule is None:
                        continue
                    keys.add(rule.key)
                    previous = seen.get(rule.key)
                    seen[rule.key] = (rule, (previous[1] if previous else 0) + 1)
                if keys:
                    combo = tuple(sorted(keys))
                    combinations[combo] = combinations.get(combo, 0) + 1
                charges = invoice.get("charges") or []
                if not keys or any(isinstance(charge, dict) and charge.get("taxable") is False for charge in charges):
                    combinations[()] = combinations.get((), 0) + 1
        rules = [rule for rule, _count in sorted(seen.values(), key=lambda pair: (-pair[1], pair[0].name))]
        return TaxDiscovery(rules=rules, combinations=combinations, customers_read=customers_read, invoices_read=invoices_read,
                            complete=customers_read == len(candidates))


@dataclass(frozen=True)
class TaxDiscovery:
    """What `discover_taxes` found: rules (most used first) and combinations (sorted rule keys → invoices)."""

    rules: list[FusebillTaxRule]
    combinations: dict[tuple[str, ...], int]
    customers_read: int
    invoices_read: int
    complete: bool


def rule_key(raw: str) -> str:
    """A tax rule key safe to join with "+" into a combination key (at most 64 characters)."""
    return raw.replace("+", "%2B")[:64]


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
    return FusebillTaxRule(key=rule_key(key), name=(name or f"Tax rule {rule_id}")[:200], percentage=percentage)
