"""The Fusebill REST API v1 routes (read side), with auth, rate limits and injected faults.

Every /v1 request, in order: `Authorization: Basic <api key>` (401 otherwise) → per-key rate limit
(429 when exhausted; headers on every answer) → injected latency/5xx (`/_emulator/faults`) → route.
Paths were lower-cased and stripped of a trailing slash by the app's middleware.

Each list accepts exactly the `query=` filters (and sort fields) its documentation lists, as recorded
in `rules.py`; `_check_documented` below fails at import if a FieldSet drifts from those lists.
There is no `/aractivities` route (rules.py): it answers 404 like any unknown path.
"""
from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Callable

from flask import Blueprint, Response, g, request

from emulators.fusebill import rules, shapes
from emulators.fusebill.app import emulator_state, json_response
from emulators.fusebill.ledger import CustomerLedger, LedgerError
from emulators.fusebill.query import EMPTY, Field, FieldSet, QueryError, page_of
from emulators.fusebill.store import KIND_LISTS, Account, UnknownRecord
from emulators.sampledata.money import ZERO, parse_timestamp
from emulators.sampledata.records import Customer, CustomerRecords, Invoice, PaymentActivity

api = Blueprint("api", __name__, url_prefix="/v1")


# --- modifiedTimestamp as served (rules.py: stamps are per record; propagation is a switch) -------


def customer_modified(account: Account, customer: Customer, propagate: bool) -> datetime:
    """The customer's own stamp, or (propagate_modified) the latest stamp of it and its records."""
    if not propagate:
        return customer.modified
    bundle = account.customer_records(customer.id)
    stamps = [record.modified for attr in KIND_LISTS.values() for record in getattr(bundle, attr)]
    return max([customer.modified, *stamps])


def activity_modified(account: Account, activity: PaymentActivity, propagate: bool) -> datetime:
    """The activity's own stamp, or (propagate_modified) the latest of it and its payment/refund."""
    if not propagate:
        return activity.modified
    stamps = [activity.modified]
    for kind, record_id in (("payment", activity.payment_id), ("refund", activity.refund_id)):
        if record_id is not None:
            stamps.append(account.find(kind, record_id)[1].modified)
    return max(stamps)


def _propagate() -> bool:
    return emulator_state().settings.propagate_modified


def render_context(account: Account, base_url: str, now: datetime, propagate: bool = False) -> shapes.RenderContext:
    return shapes.RenderContext(
        base_url=base_url,
        now=now,
        customer=lambda customer_id: account.customer_records(customer_id).customer,
        ledger=account.ledger,
        tax_rule=lambda rule_id: account.tax_rules[rule_id],
        payment_activity=account.payment_activity,
        customer_modified=lambda c: customer_modified(account, c, propagate),
        activity_modified=lambda a: activity_modified(account, a, propagate),
    )


def _ctx() -> shapes.RenderContext:
    return render_context(g.account, request.url_root.rstrip("/") + "/v1", emulator_state().now(), _propagate())


# --- the gate every /v1 request passes ---------------------------------------------------------


@api.before_app_request
def _gate() -> Response | None:
    if not request.path.startswith("/v1"):
        return None
    state = emulator_state()
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.strip().partition(" ")
    if not header:
        return _error(401, shapes.MISSING_KEY_MESSAGE)
    account = state.store.account(key.strip()) if scheme.lower() == "basic" else None
    if account is None:
        return _error(401, shapes.BAD_KEY_MESSAGE)
    g.account = account
    decision = state.limiter.check(account.api_key, account.limits, state.settings.next_reset_format())
    g.rate_headers = decision.headers
    if not decision.allowed:
        return _error(429, shapes.rate_limit_message(decision.exceeded or "minute", decision.limit))
    delay, failure = state.faults.decide(account.api_key)
    if delay:
        time.sleep(delay)
    if failure is not None:
        return _error(failure, shapes.INJECTED_FAULT_MESSAGE)
    return None


@api.after_app_request
def _finish(response: Response) -> Response:
    account = g.get("account")
    if account is None or not request.path.startswith("/v1"):
        return response
    response.headers.update(g.get("rate_headers", {}))
    route = request.url_rule.endpoint.removeprefix("api.") if request.url_rule is not None else "unknown"
    emulator_state().requests.record(account.api_key, route, response.status_code)
    return response


def _error(status: int, message: str) -> Response:
    return json_response(shapes.error_body(status, message), status)


@api.errorhandler(UnknownRecord)
def _not_found(error: UnknownRecord) -> Response:
    return _error(404, str(error.args[0]))


@api.errorhandler(QueryError)
def _bad_query(error: QueryError) -> Response:
    return _error(400, str(error))


@api.errorhandler(LedgerError)
def _broken_records(error: LedgerError) -> Response:
    # Records are validated when they are stored, so this means an emulator bug: say so loudly.
    return _error(500, f"Emulator records are inconsistent: {error}")


def _one(body: dict[str, Any]) -> Response:
    return json_response(body)


def _list(items: list[Any], args: Any, fields: FieldSet, render: Callable[[Any], dict[str, Any]]) -> Response:
    page = page_of(items, args, fields, emulator_state().settings.max_page_index)
    return json_response([render(item) for item in page.items], headers=page.headers)


def _none(_item: Any) -> None:
    return None


def _zero(_item: Any) -> Any:
    return ZERO


# Lists without `sortExpression` come in id order [U]; `id` itself is no documented filter.
_BY_ID = Field("id", "id", lambda item: item.id)
_BY_CUSTOMER_ID = Field("id", "id", lambda bundle: bundle.customer.id)


# --- customers ---------------------------------------------------------------------------------


def _customer_fields(account: Account, propagate: bool) -> FieldSet:
    """List Customers' documented filters (rules.CUSTOMER_FILTERS). Values the emulator does not model
    (MRR, NetSuite/Salesforce/QuickBooks links, acquisition, sales tracking codes) are 0 or null, as on
    an account without subscriptions or integrations."""

    def c(attr: str) -> Callable[[CustomerRecords], Any]:
        return lambda bundle: getattr(bundle.customer, attr)

    fields = [
        Field("AccountStatus", "enum", c("account_status")),
        Field("Arbalance", "decimal", lambda b: account.ledger(b.customer.id).ar_balance),
        Field("CompanyName", "string", c("company_name")),
        Field("CreatedTimestamp", "date", c("created")),
        Field("CurrencyId", "id", lambda b: shapes.CURRENCY_IDS.get(b.customer.currency)),
        Field("CurrentMrr", "decimal", _zero),
        Field("CurrentNetMrr", "decimal", _zero),
        *(Field(f"CustomerAcquisition.{name}", "string", _none) for name in ("AdContent", "Campaign", "LandingPage", "Medium", "Source")),
        Field("CustomerReference.Reference1", "string", c("reference")),
        Field("CustomerReference.Reference2", "string", _none),
        Field("CustomerReference.Reference3", "string", _none),
        *(Field(f"CustomerReference.SalesTrackingCode{n}.{part}", "string", _none) for n in (1, 2, 3) for part in ("Code", "Name")),
        Field("FirstName", "string", c("first_name")),
        Field("LastName", "string", c("last_name")),
        Field("MiddleName", "string", c("middle_name")),
        Field("ModifiedTimestamp", "date", lambda b: customer_modified(account, b.customer, propagate)),
        Field("MonthlyRecurringRevenue", "decimal", _zero),
        Field("NetMRR", "decimal", _zero),
        Field("NetsuiteEntityType", "enum", _none),
        Field("NetSuiteId", "string", _none),
        Field("NetSuiteSynchStatusId", "id", _none),
        Field("ParentId", "id", _none),
        Field("PrimaryEmail", "string", c("primary_email")),
        Field("PrimaryPhone", "string", c("primary_phone")),
        Field("QuickBooksId", "id", _none),
        Field("QuickBooksLatchTypeId", "enum", _none),
        Field("QuickBooksSyncToken", "string", _none),
        Field("Reference", "string", c("reference")),
        Field("SalesforceAccountType", "enum", _none),
        Field("SalesforceId", "string", _none),
        Field("SalesforceSynchStatus", "enum", _none),
        Field("SecondaryEmail", "string", _none),
        Field("SecondaryPhone", "string", _none),
        Field("Status", "enum", c("status")),
    ]
    return FieldSet(fields, default_sort=_BY_CUSTOMER_ID)


@api.get("/customers")
def list_customers() -> Response:
    account: Account = g.account
    with account.lock:
        ctx = _ctx()
        return _list(list(account.iter_bundles()), request.args, _customer_fields(account, _propagate()),
                     lambda b: shapes.customer(b.customer, ctx))


@api.get("/customers/<int:customer_id>")
def read_customer(customer_id: int) -> Response:
    with g.account.lock:
        return _one(shapes.customer(g.account.customer_records(customer_id).customer, _ctx()))


@api.get("/customers/<int:customer_id>/overview")
def customer_overview(customer_id: int) -> Response:
    account: Account = g.account
    with account.lock:
        bundle = account.customer_records(customer_id)
        return _one(shapes.customer_overview(bundle.customer, account.ledger(customer_id), _ctx()))


@api.get("/customeraddresspreferences/<int:customer_id>")
def address_preferences(customer_id: int) -> Response:
    with g.account.lock:
        return _one(shapes.address_preferences(g.account.customer_records(customer_id).customer, _ctx()))


@api.get("/customerbillingsetting/<int:customer_id>")
def billing_setting(customer_id: int) -> Response:
    with g.account.lock:
        return _one(shapes.billing_setting(g.account.customer_records(customer_id).customer, _ctx()))


# --- invoices ----------------------------------------------------------------------------------


def _invoice_fields(account: Account, documented: tuple[str, ...], propagate: bool = False,
                    now: datetime | None = None) -> FieldSet:
    """The invoice filters named in `documented` (one of rules.CUSTOMER_INVOICE_FILTERS,
    INVOICE_FILTERS, INVOICE_SUMMARY_FILTERS): each endpoint gets exactly its own list."""

    def state(inv: Invoice):
        return account.ledger(inv.customer_id).invoices[inv.id]

    def customer(attr: str) -> Callable[[Invoice], Any]:
        return lambda inv: getattr(account.customer_records(inv.customer_id).customer, attr)

    now = now or emulator_state().now()
    every = [
        Field("invoiceNumber", "int", lambda inv: inv.invoice_number),
        Field("customerId", "id", lambda inv: inv.customer_id),
        Field("postedTimestamp", "date", lambda inv: inv.posted),
        Field("effectiveTimestamp", "date", lambda inv: inv.posted),
        Field("createdTimestamp", "date", lambda inv: inv.posted),
        Field("modifiedTimestamp", "date", lambda inv: inv.modified),
        Field("Customer.ModifiedTimestamp", "date",
              lambda inv: customer_modified(account, account.customer_records(inv.customer_id).customer, propagate)),
        Field("dueDate", "date", lambda inv: inv.due_date),
        Field("poNumber", "string", lambda inv: inv.po_number),
        Field("currency", "enum", lambda inv: inv.currency),
        Field("invoiceAmount", "decimal", lambda inv: inv.invoice_amount),
        Field("sumOfCharges", "decimal", lambda inv: inv.subtotal),
        Field("outstandingBalance", "decimal", lambda inv: state(inv).outstanding),
        Field("totalPayments", "decimal", lambda inv: state(inv).total_payments),
        Field("openingArBalance", "decimal", lambda inv: state(inv).opening_ar),
        Field("closingArBalance", "decimal", lambda inv: state(inv).closing_ar),
        Field("invoiceStatus", "enum", lambda inv: shapes.invoice_status(state(inv), now)),
        Field("totalInstallments", "int", lambda inv: 1),  # one payment schedule per invoice [U]
        Field("quickBooksId", "id", _none),
        Field("netsuiteId", "string", _none),
        Field("salesforceID", "string", _none),
        Field("avalaraId", "string", _none),
        Field("firstName", "string", customer("first_name")),
        Field("middleName", "string", customer("middle_name")),
        Field("lastName", "string", customer("last_name")),
        Field("companyName", "string", customer("company_name")),
        Field("reference", "string", customer("reference")),
        Field("totalCreditNotes", "decimal", lambda inv: state(inv).credit_notes_total),
        Field("writeoffs", "decimal", lambda inv: state(inv).write_offs_total),
        Field("unsettled", "bool", lambda inv: False),
    ]
    by_name = {f.name.lower(): f for f in every}
    return FieldSet([by_name[name.lower()] for name in documented], default_sort=_BY_ID)


def _all_invoices(account: Account) -> list[Invoice]:
    return [invoice for bundle in account.iter_bundles() for invoice in bundle.invoices]


def _render_invoice(account: Account, ctx: shapes.RenderContext, with_lines: bool) -> Callable[[Invoice], dict[str, Any]]:
    return lambda inv: shapes.invoice(inv, account.ledger(inv.customer_id).invoices[inv.id], ctx, with_lines)


def _render_summary(account: Account, ctx: shapes.RenderContext) -> Callable[[Invoice], dict[str, Any]]:
    return lambda inv: shapes.invoice_summary(inv, account.ledger(inv.customer_id).invoices[inv.id], ctx)


@api.get("/customers/<int:customer_id>/invoices")
def customer_invoices(customer_id: int) -> Response:
    account: Account = g.account
    with account.lock:
        invoices = list(account.customer_records(customer_id).invoices)
        return _list(invoices, request.args, _invoice_fields(account, rules.CUSTOMER_INVOICE_FILTERS),
                     _render_invoice(account, _ctx(), True))


@api.get("/invoices")
def list_invoices() -> Response:
    """All posted invoices: no line items, and no nested collections or objects (rules.py)."""
    account: Account = g.account
    with account.lock:
        return _list(_all_invoices(account), request.args, _invoice_fields(account, rules.INVOICE_FILTERS, _propagate()),
                     _render_invoice(account, _ctx(), False))


@api.get("/invoices/<int:invoice_id>")
def read_invoice(invoice_id: int) -> Response:
    account: Account = g.account
    with account.lock:
        _, invoice = account.find("invoice", invoice_id)
        return _one(_render_invoice(account, _ctx(), True)(invoice))


@api.get("/customers/<int:customer_id>/invoicesummaries")
def customer_invoice_summaries(customer_id: int) -> Response:
    account: Account = g.account
    with account.lock:
        invoices = list(account.customer_records(customer_id).invoices)
        return _list(invoices, request.args, _invoice_fields(account, rules.INVOICE_SUMMARY_FILTERS), _render_summary(account, _ctx()))


@api.get("/invoicesummaries")
def list_invoice_summaries() -> Response:
    account: Account = g.account
    with account.lock:
        return _list(_all_invoices(account), request.args, _invoice_fields(account, rules.INVOICE_SUMMARY_FILTERS),
                     _render_summary(account, _ctx()))


# An invoice's allocations are returned whole, without paging [U]: the Help/Api sample is a
# plain array and one invoice rarely has more than a handful.
@api.get("/invoices/<int:invoice_id>/paymentallocations")
def payment_allocations(invoice_id: int) -> Response:
    account: Account = g.account
    with account.lock:
        bundle, _ = account.find("invoice", invoice_id)
        state = account.ledger(bundle.customer.id).invoices[invoice_id]
        ctx = _ctx()
        return json_response([shapes.payment_allocation(p, a, ctx) for p, a in state.payment_allocations])


@api.get("/invoices/<int:invoice_id>/creditallocations")
def credit_allocations(invoice_id: int) -> Response:
    account: Account = g.account
    with account.lock:
        bundle, _ = account.find("invoice", invoice_id)
        state = account.ledger(bundle.customer.id).invoices[invoice_id]
        return json_response([shapes.credit_allocation(c, a) for c, a in state.credit_allocations])


# --- payment activities and transactions -------------------------------------------------------

PAYMENT_METHOD_TYPES = ("Check", "DirectDeposit", "CreditCard", "Cash", "ACH", "Paypal")  # [V §3.4]


def _method_type(activity: PaymentActivity) -> str | None:
    """PaymentMethodType of an activity, from its `method` text ("CreditCard (Visa ending in 1111)")."""
    word = activity.method.split(" ", 1)[0].split("(", 1)[0]
    return word if word in PAYMENT_METHOD_TYPES else None


def _activity_fields(account: Account, propagate: bool) -> FieldSet:
    """The payment-activity filters (rules.PAYMENT_ACTIVITY_FILTERS), the same on both lists."""
    return FieldSet([
        Field("status", "enum", lambda a: a.status),
        Field("transactionType", "enum", lambda a: a.transaction_type),
        Field("source", "enum", lambda a: a.source),
        Field("PaymentMethodType", "enum", _method_type),
        Field("amount", "decimal", lambda a: a.amount),
        Field("effectiveTimestamp", "date", lambda a: a.effective),
        Field("createdTimestamp", "date", lambda a: a.created),
        Field("modifiedTimestamp", "date", lambda a: activity_modified(account, a, propagate)),
        Field("GatewayName", "string", lambda a: shapes.gateway_name(a)),
        Field("parentCustomerId", "id", _none),
    ], aliases={"PaymentActivityStatus": "status", "PaymentType": "transactionType", "PaymentSource": "source"},
        default_sort=_BY_ID)


def _render_activity(account: Account, ctx: shapes.RenderContext) -> Callable[[Any], dict[str, Any]]:
    return lambda a: shapes.payment_activity(a, account.ledger(a.customer_id), ctx)


@api.get("/customers/<int:customer_id>/paymentactivities")
def customer_payment_activities(customer_id: int) -> Response:
    account: Account = g.account
    with account.lock:
        activities = list(account.customer_records(customer_id).payment_activities)
        return _list(activities, request.args, _activity_fields(account, _propagate()), _render_activity(account, _ctx()))


@api.get("/paymentactivities/getbyaccountid")
def all_payment_activities() -> Response:
    account: Account = g.account
    with account.lock:
        activities = [a for bundle in account.iter_bundles() for a in bundle.payment_activities]
        return _list(activities, request.args, _activity_fields(account, _propagate()), _render_activity(account, _ctx()))


@api.get("/paymentactivities/<int:activity_id>")
def read_payment_activity(activity_id: int) -> Response:
    account: Account = g.account
    with account.lock:
        bundle, activity = account.find("payment_activity", activity_id)
        return _one(shapes.payment_activity(activity, account.ledger(bundle.customer.id), _ctx()))


def _transaction(kind: str, render: Callable[[Any, CustomerLedger, shapes.RenderContext], dict[str, Any]], record_id: int) -> Response:
    account: Account = g.account
    with account.lock:
        bundle, record = account.find(kind, record_id)
        return _one(render(record, account.ledger(bundle.customer.id), _ctx()))


@api.get("/payments/<int:payment_id>")
def read_payment(payment_id: int) -> Response:
    return _transaction("payment", shapes.payment, payment_id)


@api.get("/refunds/<int:refund_id>")
def read_refund(refund_id: int) -> Response:
    return _transaction("refund", shapes.refund, refund_id)


@api.get("/credits/<int:credit_id>")
def read_credit(credit_id: int) -> Response:
    return _transaction("credit", shapes.credit, credit_id)


@api.get("/debits/<int:debit_id>")
def read_debit(debit_id: int) -> Response:
    return _transaction("debit", shapes.debit, debit_id)


# Sortable on effectiveTimestamp only (rules.AR_ACTIVITY_SORT_FIELDS); `query` is the date window.
_AR_FIELDS = FieldSet([Field("effectiveTimestamp", "date", lambda e: e.effective)], default_sort="effectiveTimestamp")


@api.get("/customers/<int:customer_id>/customeraractivities")
def customer_ar_activities(customer_id: int) -> Response:
    """AR activities take only `startDate` and `endDate` in `query` (fusebill-api.md §1.4 [V]);
    the window includes its start and excludes its end, like every date range [I]."""
    account: Account = g.account
    with account.lock:
        ledger = account.ledger(customer_id)
        start, end = _ar_window(request.args.get("query"))
        entries = [e for e in ledger.ar_entries if (start is None or e.effective >= start) and (end is None or e.effective < end)]
        entries.sort(key=lambda e: e.seq)
        args = {k: v for k, v in request.args.items() if k.lower() != "query"}
        ctx = _ctx()
        return _list(entries, args, _AR_FIELDS, lambda e: shapes.ar_activity(e, ledger, ctx))


def _ar_window(query: str | None) -> tuple[datetime | None, datetime | None]:
    bounds: dict[str, datetime | None] = {"startdate": None, "enddate": None}
    for pair in (query or "").split(";"):
        if not pair.strip():
            continue
        name, _, value = pair.partition(":")
        key = name.strip().lower()
        if key not in bounds:
            raise QueryError(f"'{name}' is not a valid field for this query (use startDate and endDate).")
        if value.strip() and value.strip().lower() != EMPTY:
            try:
                bounds[key] = parse_timestamp(value)
            except ValueError:
                raise QueryError(f"'{value}' is not a valid date for {name}.") from None
    return bounds["startdate"], bounds["enddate"]


# --- credit notes ------------------------------------------------------------------------------


def _credit_note_fields(account: Account) -> FieldSet:
    def invoice(note) -> Invoice:
        return account.ledger(note.customer_id).invoices[note.invoice_id].invoice

    return FieldSet(
        [
            Field("invoiceId", "id", lambda n: n.invoice_id),
            Field("Invoice.CustomerId", "id", lambda n: n.customer_id),
            Field("Invoice.InvoiceNumber", "int", lambda n: invoice(n).invoice_number),
            Field("Invoice.PostedTimestamp", "date", lambda n: invoice(n).posted),
            Field("Invoice.QuickBooksId", "id", _none),
            Field("Number", "string", lambda n: n.number),
        ],
        default_sort=_BY_ID,
    )


@api.get("/creditnotes")
def list_credit_notes() -> Response:
    account: Account = g.account
    with account.lock:
        notes = [note for bundle in account.iter_bundles() for note in bundle.credit_notes]
        ctx = _ctx()
        return _list(notes, request.args, _credit_note_fields(account),
                     lambda n: shapes.credit_note(n, account.ledger(n.customer_id), ctx, summary=True))


@api.get("/creditnotes/<int:note_id>")
def read_credit_note(note_id: int) -> Response:
    return _transaction("credit_note", shapes.credit_note, note_id)



# --- the filter lists above are exactly the documented ones (rules.py) --------------------------


def _check_documented() -> None:
    """Fail at import when a FieldSet accepts a filter the docs do not list, or misses one."""
    probe = Account(api_key="probe", name="probe", account_type="live", created=datetime(2000, 1, 1),
                    limits=rules.RATE_LIMITS["live"])
    now = datetime(2000, 1, 1)
    checks = {
        "/customers": (_customer_fields(probe, False), rules.CUSTOMER_FILTERS),
        "/Customers/{id}/Invoices": (_invoice_fields(probe, rules.CUSTOMER_INVOICE_FILTERS, now=now), rules.CUSTOMER_INVOICE_FILTERS),
        "/Invoices": (_invoice_fields(probe, rules.INVOICE_FILTERS, now=now), rules.INVOICE_FILTERS),
        "invoiceSummaries": (_invoice_fields(probe, rules.INVOICE_SUMMARY_FILTERS, now=now), rules.INVOICE_SUMMARY_FILTERS),
        "payment activities": (_activity_fields(probe, False), rules.PAYMENT_ACTIVITY_FILTERS),
        "/CreditNotes": (_credit_note_fields(probe), rules.CREDIT_NOTE_FILTERS),
        "customerArActivities (sort only)": (_AR_FIELDS, rules.AR_ACTIVITY_SORT_FIELDS),
    }
    for label, (fields, documented) in checks.items():
        if {n.lower() for n in fields.names} != {n.lower() for n in documented}:
            raise AssertionError(f"{label}: accepted filters {sorted(fields.names)} differ from rules.py {sorted(documented)}")


_check_documented()
