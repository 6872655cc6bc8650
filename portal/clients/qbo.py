"""The Intuit OAuth + QuickBooks Online adapter: intuit-oauth and python-quickbooks, used unpatched.

How the libraries are pointed at Intuit or at the local emulator (reference: qbo-api.md §2.6, §3.3):
- `AuthClient(environment=...)` takes "sandbox" / "production" for Intuit's own discovery documents,
  or the emulator's discovery URL, used verbatim;
- python-quickbooks builds every URL from `api_url_v3` / `sandbox_api_url_v3`, set per instance.

Behaviour we add on top, through subclasses rather than patches:
- a timeout on every HTTP call (neither library sets one);
- `minorversion` always passed;
- HTTP 429 (whose body is XML, which python-quickbooks cannot parse) and 5xx recognised before the
  library reads the body;
- every library error translated into RetryableError / PermanentError / AuthenticationError.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import requests
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError
from quickbooks import QuickBooks
from quickbooks import exceptions as qbo_exceptions

from portal.clients import AuthenticationError, ExternalError, PermanentError, RetryableError, Throttled
from portal.clients.ratelimit import QBO_BATCH_WINDOWS, QBO_REQUEST_WINDOWS, RateLimiter
from portal.settings import Settings

log = logging.getLogger(__name__)

SANDBOX_API = "https://sandbox-quickbooks.api.intuit.com/v3"
PRODUCTION_API = "https://quickbooks.api.intuit.com/v3"
# The local emulator accepts any client; these identify the portal to it. Not secrets.
EMULATOR_CLIENT_ID = "fusebill-qbo-portal"
EMULATOR_CLIENT_SECRET = "fusebill-qbo-portal-local"
QUERY_PAGE = 1000  # QBO's maximum MAXRESULTS


@dataclass(frozen=True)
class IntuitApp:
    """Everything needed to talk to Intuit (or the emulator) for one environment."""

    client_id: str
    client_secret: str
    redirect_uri: str
    auth_environment: str  # "sandbox", "production" or the emulator's discovery URL
    api_base: str  # …/v3
    minor_version: int
    timeout: float
    uses_emulator: bool


def intuit_app(settings: Settings, environment_kind: str) -> IntuitApp:
    if settings.uses_real_intuit:
        return IntuitApp(
            client_id=settings.intuit_client_id or "",
            client_secret=settings.intuit_client_secret or "",
            redirect_uri=settings.oauth_redirect_uri,
            auth_environment="sandbox" if environment_kind == "sandbox" else "production",
            api_base=SANDBOX_API if environment_kind == "sandbox" else PRODUCTION_API,
            minor_version=settings.qbo_minor_version,
            timeout=settings.http_timeout_seconds,
            uses_emulator=False,
        )
    return IntuitApp(
        client_id=EMULATOR_CLIENT_ID,
        client_secret=EMULATOR_CLIENT_SECRET,
        redirect_uri=settings.oauth_redirect_uri,
        auth_environment=settings.qbo_emulator_url + "/.well-known/openid_configuration",
        api_base=settings.qbo_emulator_url + "/v3",
        minor_version=settings.qbo_minor_version,
        timeout=settings.http_timeout_seconds,
        uses_emulator=True,
    )


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime


DISCOVERY_TTL_SECONDS = 3600.0
_discovery_cache: dict[str, tuple[float, bytes]] = {}  # discovery URL -> (fetched at, body)


def request_id(*parts: str) -> str:
    """A QBO requestid (≤ 50 characters, qbo-api.md §1.7) that is the same for the same intent, so a
    retried create is a replay of the first answer instead of a second record."""
    return "fbqbo-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:40]


class _TimedAuthClient(AuthClient):
    """AuthClient (a requests.Session) whose every request has a timeout, and whose discovery
    document (fetched by every AuthClient at construction) is fetched once an hour per process."""

    def __init__(self, *args: Any, timeout: float, **kwargs: Any) -> None:
        self._timeout = timeout  # set before AuthClient.__init__, which already fetches discovery
        super().__init__(*args, **kwargs)

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", self._timeout)
        is_discovery = method.upper() == "GET" and ("openid_configuration" in str(url) or "openid-configuration" in str(url))
        cached = _discovery_cache.get(str(url)) if is_discovery else None
        if cached is not None and time.monotonic() - cached[0] < DISCOVERY_TTL_SECONDS:
            response = requests.Response()
            response.status_code, response._content, response.url = 200, cached[1], str(url)
            response.headers["Content-Type"] = "application/json"
            return response
        response = super().request(method, url, *args, **kwargs)
        if is_discovery and response.status_code == 200:
            _discovery_cache[str(url)] = (time.monotonic(), response.content)
        return response


def _auth_client(app: IntuitApp, **tokens: Any) -> AuthClient:
    try:
        return _TimedAuthClient(app.client_id, app.client_secret, app.redirect_uri, app.auth_environment, timeout=app.timeout, **tokens)
    except AuthClientError as error:
        raise RetryableError("Intuit's sign-in service answered with an error.", detail=str(error.content)[:300], status=error.status_code) from error
    except requests.RequestException as error:
        raise RetryableError("Could not reach Intuit's sign-in service.", detail=str(error)[:300]) from error


def authorization_url(app: IntuitApp, state: str) -> str:
    return _auth_client(app, state_token=state).get_authorization_url([Scopes.ACCOUNTING])


def _tokens_from(client: AuthClient, now: datetime) -> TokenSet:
    return TokenSet(
        access_token=client.access_token,
        refresh_token=client.refresh_token,
        access_expires_at=now + timedelta(seconds=int(client.expires_in)),
        refresh_expires_at=now + timedelta(seconds=int(getattr(client, "x_refresh_token_expires_in", 100 * 86400))),
    )


def _oauth_error(error: AuthClientError, doing: str) -> Exception:
    content = error.content.decode() if isinstance(error.content, bytes) else str(error.content)
    if error.status_code in (400, 401) and ("invalid_grant" in content or "invalid_client" in content):
        why = "the authorisation is no longer valid" if "invalid_grant" in content else "the app credentials were not accepted"
        return AuthenticationError(f"Intuit refused {doing}: {why}.", detail=content[:300], status=error.status_code,
                                   code="invalid_grant" if "invalid_grant" in content else "invalid_client")
    if error.status_code >= 500 or error.status_code == 429:
        return RetryableError(f"Intuit could not complete {doing} right now.", detail=content[:300], status=error.status_code)
    return PermanentError(f"Intuit refused {doing}.", detail=content[:300], status=error.status_code)


def exchange_code(app: IntuitApp, code: str, realm_id: str, now: datetime | None = None) -> TokenSet:
    now = now or datetime.now(timezone.utc)
    client = _auth_client(app, realm_id=realm_id)
    try:
        client.get_bearer_token(code, realm_id=realm_id)
    except AuthClientError as error:
        raise _oauth_error(error, "the connection") from error
    except requests.RequestException as error:
        raise RetryableError("Could not reach Intuit to finish connecting.", detail=str(error)[:300]) from error
    return _tokens_from(client, now)


def refresh(app: IntuitApp, refresh_token: str, now: datetime | None = None) -> TokenSet:
    now = now or datetime.now(timezone.utc)
    client = _auth_client(app, refresh_token=refresh_token)
    try:
        client.refresh(refresh_token=refresh_token)
    except AuthClientError as error:
        raise _oauth_error(error, "to refresh the connection") from error
    except requests.RequestException as error:
        raise RetryableError("Could not reach Intuit to refresh the connection.", detail=str(error)[:300]) from error
    return _tokens_from(client, now)


def revoke(app: IntuitApp, token: str) -> None:
    client = _auth_client(app)
    try:
        client.revoke(token=token)
    except AuthClientError as error:
        raise _oauth_error(error, "to revoke the connection") from error
    except requests.RequestException as error:
        raise RetryableError("Could not reach Intuit to revoke the connection.", detail=str(error)[:300]) from error


THROTTLE_RETRY_DELAYS = (1.0, 2.0, 4.0)  # after a 429: QBO's limits are per second and per minute
TRANSIENT_RETRIES = 2  # background calls: a 5xx or timeout is tried again (QBO: "resubmit once", §1.9.2)
TRANSIENT_DELAYS = (0.5, 2.0)


_CALLS_LOCK = threading.Lock()


class _QuickBooks(QuickBooks):
    """python-quickbooks with a timeout, our rate limiter, refresh-on-401, and 429 / 5xx recognised
    from the status.

    A 429 comes with an XML body python-quickbooks cannot parse, so it is handled here, from the
    status code: a few short waits (someone else may share the company's quota), then Throttled.
    Background jobs set no waits (`throttle_retry_delays = ()`) and defer the work instead.
    A 401 to a token we believed valid calls `token_refresher` once (it returns a fresh access
    token, refreshing under the connection's lock) and repeats the same request: the refresh lives
    at the transport, so no caller reruns its work.
    """

    http_timeout: float = 30.0
    limiter: RateLimiter | None = None
    limiter_wait: float | None = None
    batch_wait: float | None = None  # set for one batch call by QboApi.batch(wait=...)
    throttle_retry_delays: tuple[float, ...] = THROTTLE_RETRY_DELAYS
    token_refresher: Callable[[], str] | None = None
    sleep = staticmethod(time.sleep)
    calls = 0  # HTTP requests made through this instance

    def process_request(self, request_type, url, headers="", params="", data=""):
        if self.session is None:
            raise qbo_exceptions.QuickbooksException("No session manager")
        refreshed = False
        while True:
            headers.update({"Authorization": "Bearer " + self.session.access_token})
            response = self._send(request_type, url, headers, params, data)
            if response.status_code == 401 and self.token_refresher is not None and not refreshed:
                refreshed = True
                self.session.access_token = self.token_refresher()
                continue
            return response

    def _send(self, request_type, url, headers, params, data):
        is_batch = url.rstrip("/").endswith("/batch")
        for attempt, delay in enumerate((0.0,) + tuple(self.throttle_retry_delays)):
            if delay:
                self.sleep(delay)
            if self.limiter is not None:
                # The scarcer budget first: a batch refused must not spend one of the 500 requests.
                if is_batch:
                    batch_wait = self.limiter_wait if self.batch_wait is None else self.batch_wait
                    self.limiter.acquire(f"qbo-batch:{self.company_id}", QBO_BATCH_WINDOWS, max_wait=batch_wait)
                self.limiter.acquire(f"qbo:{self.company_id}", QBO_REQUEST_WINDOWS, max_wait=self.limiter_wait)
            with _CALLS_LOCK:  # the writer sends singles from a few threads at once
                self.calls += 1
            try:
                response = self.session.request(request_type, url, headers=headers, params=params, data=data, timeout=self.http_timeout)
            except requests.Timeout as error:
                raise RetryableError(f"QuickBooks Online did not answer within {self.http_timeout:.0f} seconds.", detail=str(error)[:300]) from error
            except requests.ConnectionError as error:
                raise RetryableError("Could not reach QuickBooks Online.", detail=str(error)[:300]) from error
            if response.status_code != 429:
                break
            log.info("QBO answered 429 for realm %s (attempt %d)", self.company_id, attempt + 1)
        else:
            raise Throttled("QuickBooks Online's rate limit was reached; try again in a minute.", status=429, code="3001", retry_after=10.0)
        if response.status_code in (500, 502, 503, 504) and not _has_fault_body(response):
            raise RetryableError(f"QuickBooks Online is temporarily unavailable ({response.status_code}).", status=response.status_code)
        return response


def _has_fault_body(response: requests.Response) -> bool:
    """A 500 with a JSON Fault (e.g. SystemFault 10000) is left for python-quickbooks to translate."""
    return response.status_code == 500 and "json" in response.headers.get("Content-Type", "").lower()


def translate(error: qbo_exceptions.QuickbooksException) -> ExternalError:
    """A python-quickbooks exception as one of ours (see qbo-api.md §3.5 for the code ranges)."""
    code = str(error.error_code)
    detail = str(error.detail or "")[:500]
    if isinstance(error, qbo_exceptions.AuthorizationException):
        return AuthenticationError("QuickBooks Online did not accept the access token.", detail=detail, status=401, code=code)
    if error.error_code == 10000 and "json" in (error.message or "").lower():
        return RetryableError("QuickBooks Online sent an answer that could not be read.", detail=detail, code=code)
    if isinstance(error, qbo_exceptions.SevereException):
        return RetryableError("QuickBooks Online had an internal error.", detail=detail, code=code)
    return PermanentError(f"QuickBooks Online refused the request: {error.message}", detail=detail, code=code)


@dataclass(frozen=True)
class QboAccount:
    id: str
    name: str
    fully_qualified_name: str
    account_type: str
    account_subtype: str
    classification: str
    currency: str
    active: bool


@dataclass(frozen=True)
class QboTaxCode:
    id: str
    name: str
    description: str
    active: bool


@dataclass(frozen=True)
class CompanySetup:
    company_name: str
    country: str
    home_currency: str
    multicurrency: bool
    using_sales_tax: bool
    automated_sales_tax: bool
    auto_apply_credit: bool
    auto_apply_credit_reported: bool

    @property
    def tax_setup(self) -> str:
        if not self.using_sales_tax:
            return "none"
        if self.country.upper() in ("US", "USA", ""):
            return "us_automated" if self.automated_sales_tax else "us_manual"
        return "codes"


def quote(value: str) -> str:
    """A value inside a QBO query's single quotes."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


class QboApi:
    """python-quickbooks bound to one company (realm) with a valid access token."""

    def __init__(self, app: IntuitApp, realm_id: str, access_token: str, refresh_token: str = "", limiter: RateLimiter | None = None,
                 *, token_refresher: Callable[[], str] | None = None, background: bool = False) -> None:
        """`background`: a job, not a person, is waiting — never sleep on a rate limit (Throttled
        is raised at once and the job defers its work); `token_refresher` makes a 401 refresh once."""
        self.app = app
        self.realm_id = realm_id
        auth = _auth_client(app, access_token=access_token, refresh_token=refresh_token or None, realm_id=realm_id)
        # With an access token given, python-quickbooks makes no token call at construction.
        self.qb = _QuickBooks(auth_client=auth, refresh_token=refresh_token or None, company_id=realm_id, minorversion=app.minor_version, use_decimal=True)
        self.qb.api_url_v3 = app.api_base
        self.qb.sandbox_api_url_v3 = app.api_base
        self.qb.http_timeout = app.timeout
        self.qb.limiter = limiter
        self.qb.token_refresher = token_refresher
        self.transient_retries = 0
        if background:
            self.qb.throttle_retry_delays = ()
            self.qb.limiter_wait = 1.0
            self.transient_retries = TRANSIENT_RETRIES

    @property
    def calls(self) -> int:
        return self.qb.calls

    def _call(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: str | None = None, request_id: str | None = None) -> dict[str, Any]:
        """One API call; in background use a transient failure (5xx, timeout, reset) is tried again
        after a short wait, at most TRANSIENT_RETRIES times — safe because every write carries a
        requestid, so a write QBO did before failing is answered from its replay cache."""
        url = f"{self.qb.api_url}/company/{self.realm_id}/{path}"
        for attempt in range(self.transient_retries + 1):
            try:
                if method == "GET":
                    return self.qb.get(url, params=params or {})
                return self.qb.post(url, body or "", params=params or {}, request_id=request_id)
            except qbo_exceptions.QuickbooksException as error:
                failure: ExternalError = translate(error)
                cause: Exception = error
            except RetryableError as error:
                failure, cause = error, error
            if not failure.retryable or isinstance(failure, Throttled) or attempt == self.transient_retries or (method != "GET" and not request_id):
                if failure is cause:
                    raise failure
                raise failure from cause
            log.info("QBO %s %s failed (%s); trying again", method, path, failure.message)
            self.qb.sleep(TRANSIENT_DELAYS[min(attempt, len(TRANSIENT_DELAYS) - 1)])
        raise AssertionError("unreachable")

    def query(self, statement: str) -> dict[str, Any]:
        url = f"{self.qb.api_url}/company/{self.realm_id}/query"
        try:
            return self.qb.post(url, statement, content_type="application/text")
        except qbo_exceptions.QuickbooksException as error:
            raise translate(error) from error

    def query_all(self, entity: str, where: str = "", order_by: str = "Id") -> Iterator[dict[str, Any]]:
        """Every row of `SELECT * FROM entity [WHERE ...]`, paged past QBO's 1,000-row limit."""
        start = 1
        while True:
            statement = f"SELECT * FROM {entity}{' WHERE ' + where if where else ''} ORDERBY {order_by} STARTPOSITION {start} MAXRESULTS {QUERY_PAGE}"
            rows = self.query(statement).get("QueryResponse", {}).get(entity, [])
            yield from rows
            if len(rows) < QUERY_PAGE:
                return
            start += QUERY_PAGE

    # ------------------------------------------------------------ company
    def company_setup(self) -> CompanySetup:
        info = self._call("GET", f"companyinfo/{self.realm_id}").get("CompanyInfo", {})
        prefs = self._call("GET", "preferences").get("Preferences", {})
        currency = prefs.get("CurrencyPrefs", {})
        tax = prefs.get("TaxPrefs", {})
        sales_forms = prefs.get("SalesFormsPrefs", {})
        return CompanySetup(
            company_name=info.get("CompanyName") or info.get("LegalName") or "",
            country=(info.get("Country") or "").upper(),
            home_currency=(currency.get("HomeCurrency") or {}).get("value", ""),
            multicurrency=bool(currency.get("MultiCurrencyEnabled", False)),
            using_sales_tax=bool(tax.get("UsingSalesTax", False)),
            automated_sales_tax=bool(tax.get("PartnerTaxEnabled", False)),
            auto_apply_credit=bool(sales_forms.get("AutoApplyCredit", False)),
            auto_apply_credit_reported="AutoApplyCredit" in sales_forms,
        )

    # ------------------------------------------------------------ accounts
    @staticmethod
    def _account(row: dict[str, Any]) -> QboAccount:
        return QboAccount(
            id=str(row["Id"]),
            name=row.get("Name", ""),
            fully_qualified_name=row.get("FullyQualifiedName") or row.get("Name", ""),
            account_type=row.get("AccountType", ""),
            account_subtype=row.get("AccountSubType", ""),
            classification=row.get("Classification", ""),
            currency=(row.get("CurrencyRef") or {}).get("value", ""),
            active=bool(row.get("Active", True)),
        )

    def active_accounts(self) -> list[QboAccount]:
        return [self._account(row) for row in self.query_all("Account", "Active = true", order_by="Name")]

    def account(self, account_id: str) -> QboAccount:
        return self._account(self._call("GET", f"account/{account_id}")["Account"])

    def create_account(self, name: str, account_type: str, account_subtype: str, request_id: str) -> QboAccount:
        body = json.dumps({"Name": name, "AccountType": account_type, "AccountSubType": account_subtype})
        return self._account(self._call("POST", "account", body=body, request_id=request_id)["Account"])

    def find_account_by_name(self, name: str) -> QboAccount | None:
        """Active or not (name lists return only active rows unless asked)."""
        rows = self.query(f"SELECT * FROM Account WHERE Name = '{quote(name)}' AND Active IN (true, false)").get("QueryResponse", {}).get("Account", [])
        return self._account(rows[0]) if rows else None

    def reactivate_account(self, account_id: str, request_id: str) -> QboAccount:
        current = self._call("GET", f"account/{account_id}")["Account"]
        body = json.dumps({"Id": account_id, "SyncToken": current["SyncToken"], "Name": current["Name"].removesuffix(" (deleted)"),
                           "sparse": True, "Active": True})
        return self._account(self._call("POST", "account", body=body, request_id=request_id)["Account"])

    # ------------------------------------------------------------ items
    def find_item_by_name(self, name: str) -> dict[str, Any] | None:
        """Active or not (name lists return only active rows unless asked)."""
        rows = self.query(f"SELECT * FROM Item WHERE Name = '{quote(name)}' AND Active IN (true, false)").get("QueryResponse", {}).get("Item", [])
        return rows[0] if rows else None

    def get_item(self, item_id: str) -> dict[str, Any] | None:
        """The item with this id, or None when QBO no longer has it (610)."""
        try:
            return self._call("GET", f"item/{item_id}")["Item"]
        except PermanentError as error:
            if error.code == "610":
                return None
            raise

    def create_service_item(self, name: str, income_account_id: str, description: str, request_id: str) -> dict[str, Any]:
        body = json.dumps({
            "Name": name,
            "Type": "Service",
            "Description": description,
            "Taxable": False,
            "IncomeAccountRef": {"value": income_account_id},
        })
        return self._call("POST", "item", body=body, request_id=request_id)["Item"]

    def update_item(self, item_id: str, sync_token: str, changes: dict[str, Any], request_id: str) -> dict[str, Any]:
        body = json.dumps({"Id": item_id, "SyncToken": sync_token, "sparse": True, **changes})
        return self._call("POST", "item", body=body, request_id=request_id)["Item"]

    # ------------------------------------------------------------ taxes
    def tax_codes(self) -> list[QboTaxCode]:
        rows = self.query_all("TaxCode", "Active = true", order_by="Name")
        return [QboTaxCode(str(r["Id"]), r.get("Name", ""), r.get("Description", ""), bool(r.get("Active", True))) for r in rows]

    def tax_codes_with_rates(self) -> list[QboTaxCodeRates]:
        """Every active tax code with its sales rates, in two queries (TaxCode, then TaxRate), not one per code.

        A code's rates come from `SalesTaxRateList.TaxRateDetail[].TaxRateRef`; a rate the TaxRate query
        did not return (inactive, say) keeps the name on the reference and no percentage.
        """
        codes = list(self.query_all("TaxCode", "Active = true", order_by="Name"))
        rates = {str(row["Id"]): row for row in self.query_all("TaxRate")}
        result = []
        for code in codes:
            details = ((code.get("SalesTaxRateList") or {}).get("TaxRateDetail")) or []
            code_rates = []
            for detail in details:
                ref = (detail or {}).get("TaxRateRef") or {}
                rate_id = str(ref.get("value") or "")
                if not rate_id:
                    continue
                row = rates.get(rate_id, {})
                code_rates.append(QboTaxRate(
                    id=rate_id,
                    name=row.get("Name") or ref.get("name") or f"Rate {rate_id}",
                    percent=_percent(row.get("RateValue")),
                    agency_id=str(((row.get("AgencyRef") or {}).get("value")) or ""),
                ))
            result.append(QboTaxCodeRates(str(code["Id"]), code.get("Name", ""), code.get("Description", "") or "", tuple(code_rates)))
        return result


    # ------------------------------------------------------------ generic documents (the sync)
    def create(self, entity: str, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        return self._call("POST", entity.lower(), body=json.dumps(body, default=str), request_id=request_id)[entity]

    def update(self, entity: str, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        """A full update (or sparse, when `body` has "sparse": true); `body` carries Id and SyncToken."""
        return self._call("POST", entity.lower(), body=json.dumps(body, default=str), request_id=request_id)[entity]

    def delete(self, entity: str, qbo_id: str, sync_token: str, request_id: str) -> dict[str, Any]:
        body = json.dumps({"Id": qbo_id, "SyncToken": sync_token})
        return self._call("POST", entity.lower(), params={"operation": "delete"}, body=body, request_id=request_id)

    def read(self, entity: str, qbo_id: str) -> dict[str, Any] | None:
        """The record, or None when QBO has no such record (610, or deleted)."""
        try:
            return self._call("GET", f"{entity.lower()}/{qbo_id}")[entity]
        except PermanentError as error:
            if error.code == "610":
                return None
            raise

    def batch(self, items: list[dict[str, Any]], request_id: str | None = None, wait: float | None = None) -> dict[str, dict[str, Any]]:
        """One batch request (≤ 30 items, qbo-api.md §1.10): bId -> that item's BatchItemResponse.

        Each item is `{"bId", "operation": "create"|"update"|"delete", <Entity>: {...}}` or
        `{"bId", "Query": "..."}`. A Fault inside one item is that item's answer, not an exception.
        `wait`: the longest wait for the batch budget (40 a minute) before Throttled (limit
        "qbo-batch"); 0 for a caller that sends the items one by one instead.
        """
        if not items:
            return {}
        if len(items) > BATCH_MAX_ITEMS:
            raise ValueError(f"a QBO batch holds at most {BATCH_MAX_ITEMS} items")
        body = json.dumps({"BatchItemRequest": items}, default=str)
        previous, self.qb.batch_wait = self.qb.batch_wait, wait
        try:
            answer = self._call("POST", "batch", body=body, request_id=request_id)
        finally:
            self.qb.batch_wait = previous
        return {str(item.get("bId")): item for item in answer.get("BatchItemResponse", [])}

    def batch_slot_seconds(self) -> float:
        """How long one batch slot takes to come round (60 s ÷ the batches a minute, in the
        limiter's time): the longest a writer with singles to fall back on should wait for one."""
        window = QBO_BATCH_WINDOWS[0]
        scale = self.qb.limiter.time_scale if self.qb.limiter is not None else 1.0
        return window.seconds / window.limit / scale

    def exchange_rate(self, currency: str, as_of: str) -> Decimal | None:
        """QBO's rate for 1 `currency` in home currency on `as_of` (YYYY-MM-DD), or None if it has none."""
        answer = self._call("GET", "exchangerate", params={"sourcecurrencycode": currency, "asofdate": as_of})
        rate = (answer.get("ExchangeRate") or {}).get("Rate")
        return Decimal(str(rate)) if rate not in (None, "") else None

    def receivable_accounts(self) -> dict[str, str]:
        """Currency -> the id of that currency's Accounts Receivable account (QBO keeps one per currency)."""
        rows = self.query_all("Account", "AccountType = 'Accounts Receivable'")
        found: dict[str, str] = {}
        for row in rows:
            currency = (row.get("CurrencyRef") or {}).get("value", "")
            found.setdefault(currency, str(row["Id"]))
        return found


def _percent(value: Any) -> Decimal | None:
    from decimal import Decimal  # kept local: this section is appended to a shared module

    if value is None or isinstance(value, bool):
        return None
    try:
        percent = Decimal(str(value))
    except ArithmeticError:
        return None
    return percent if percent.is_finite() else None


def _format_percent(percent: Decimal | None) -> str:
    if percent is None:
        return "?"
    text = format(percent.normalize(), "f")
    return f"{text}%"


@dataclass(frozen=True)
class QboTaxRate:
    """A QBO sales tax rate: `percent` is RateValue (9.975 means 9.975 %), None when QBO gave none."""

    id: str
    name: str
    percent: Decimal | None
    agency_id: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} ({_format_percent(self.percent)})"


@dataclass(frozen=True)
class QboTaxCodeRates:
    """An active QBO tax code and the sales rates it groups (GST/QST QC: GST 5 % + QST 9.975 %)."""

    id: str
    name: str
    description: str
    rates: tuple[QboTaxRate, ...]

    @property
    def percents(self) -> tuple[Decimal, ...]:
        """The rates' percentages, sorted and normalised (for matching against Fusebill rules)."""
        return tuple(sorted(rate.percent.normalize() for rate in self.rates if rate.percent is not None))

    @property
    def is_zero_rate(self) -> bool:
        """Every sales rate is 0 % (Exempt, Zero-rated, Out of Scope); a code with no rates is not."""
        return bool(self.rates) and all(rate.percent is not None and rate.percent == 0 for rate in self.rates)

    @property
    def label(self) -> str:
        """"GST/QST QC (5% + 9.975%)"."""
        if not self.rates:
            return f"{self.name} (no sales rates)"
        return f"{self.name} ({' + '.join(_format_percent(rate.percent) for rate in self.rates)})"


BATCH_MAX_ITEMS = 30
