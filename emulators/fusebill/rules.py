"""Limits and timings of the Fusebill API the emulator enforces, with their provenance.

[V] verified in fusebill-api.md, [U] unverified (a choice; change it here). The other unverified
choices each sit in one place, marked [U] there:

* every JSON shape, header, error text, enum and webhook detail — `shapes.py`;
* filter semantics (case-insensitive matching, a bare date = that day, unknown field = 400) — the
  `query.py` docstring; which filters, sort fields, list shapes, modifiedTimestamp stamping, paging
  and rate-limit header formats — the issue #7 section at the end of this module;
* what Fusebill refuses (over-allocation, over-refund, reversing more than was charged...) — the
  `ledger.py` docstring;
* a charge reversal (credit note) beyond the invoice's outstanding balance, e.g. on a paid invoice
  (issue #8): [U] unconfirmed: allowed, the excess becomes open credit (the customer's, shown in the
  overview's `unallocatedCredits`; the invoice's balance stops at zero) — `ledger.py` `_credit_note`.
  Reversing more of a charge than was charged, or more tax than was invoiced, is still refused;
* how tax is rounded and reversed — `emulators/sampledata/taxes.py`.
"""
from __future__ import annotations

from dataclasses import dataclass

# --- paging (§1.3) -----------------------------------------------------------------------------
# "never below 1,000" is the documented floor of the maximum [V]; exactly 1,000 is [U]. The default
# page size when `pageSize` is absent is undocumented [U]: 20 (the docs' examples use 20 and 100),
# small enough that a client which forgets to page is caught by the tests.
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 20
# A pageSize above the maximum, below 1, or a negative pageNumber is a 400 [U] (not clamped), so a
# client bug is loud. A page past the end is an empty list with the paging headers [U].


# --- rate limits (§1.6 [V]) ------------------------------------------------------------------


@dataclass(frozen=True)
class RateLimits:
    per_minute: int
    per_day: int


RATE_LIMITS = {
    "live": RateLimits(per_minute=1_000, per_day=180_000),
    "sandbox": RateLimits(per_minute=50, per_day=5_000),
    "testdrive": RateLimits(per_minute=10, per_day=500),
}
# Windows are fixed (the minute and the UTC day a request falls in) [U]; the docs give a reset
# timestamp per window, which fixed windows produce naturally. Requests refused with 429 do not
# count against the limit [U]; requests answered with an injected 5xx do.
MINUTE_SECONDS = 60
DAY_SECONDS = 86_400


# --- webhooks (§4 [V]) -------------------------------------------------------------------------
WEBHOOK_TIMEOUT_SECONDS = 2.0
# "retries will be sent 1-minute, 2-minutes, and 3-minutes after the original failure" [V]:
# offsets from the first failed attempt, not from each other.
WEBHOOK_RETRY_OFFSETS_SECONDS = (60, 120, 180)
# How many delivery records the emulator keeps per account for /_emulator/webhooks (memory bound).
WEBHOOK_DELIVERY_LOG_SIZE = 2_000


# ================================================================================================
# Issue #7: strictness rules. Where fusebill-api.md documents a behaviour the emulator does exactly
# that; where it is [U] or silent the emulator takes the STRICTER reading (the one a client cannot
# quietly depend on), with a switch only where one is named below. Evidence per rule:
#   [V §x]  verified in fusebill-api.md section x
#   [I §x]  inferred there
#   [brief] stated by issue #7 (the docs page list-invoices-1), not quoted in fusebill-api.md
#   [unconfirmed, strict]  nothing documents it; the stricter reading is enforced
# ================================================================================================

# --- `query=` filters per list endpoint ---------------------------------------------------------
# Exactly these field names are accepted in `query=` (matched case-insensitively [I §1.4]: the docs
# write `CurrencyId`, `Invoice.CustomerId` and `modifiedTimestamp` alike). Any other name is a 400
# like every unknown filter [unconfirmed, strict] — including `id`, which the generic filtering page
# shows as a syntax example ("id:123,456,789") but no endpoint lists [unconfirmed, strict].
# api.py builds one FieldSet per endpoint and checks at import time that it serves exactly these.

CUSTOMER_FILTERS = (  # GET /customers [V §1.4 "Filters accepted by List Customers"]
    "AccountStatus", "Arbalance", "CompanyName", "CreatedTimestamp", "CurrencyId", "CurrentMrr", "CurrentNetMrr",
    "CustomerAcquisition.AdContent", "CustomerAcquisition.Campaign", "CustomerAcquisition.LandingPage",
    "CustomerAcquisition.Medium", "CustomerAcquisition.Source",
    "CustomerReference.Reference1", "CustomerReference.Reference2", "CustomerReference.Reference3",
    "CustomerReference.SalesTrackingCode1.Code", "CustomerReference.SalesTrackingCode1.Name",
    "CustomerReference.SalesTrackingCode2.Code", "CustomerReference.SalesTrackingCode2.Name",
    "CustomerReference.SalesTrackingCode3.Code", "CustomerReference.SalesTrackingCode3.Name",
    "FirstName", "LastName", "MiddleName", "ModifiedTimestamp", "MonthlyRecurringRevenue", "NetMRR",
    "NetsuiteEntityType", "NetSuiteId", "NetSuiteSynchStatusId", "ParentId", "PrimaryEmail", "PrimaryPhone",
    "QuickBooksId", "QuickBooksLatchTypeId", "QuickBooksSyncToken", "Reference",
    "SalesforceAccountType", "SalesforceId", "SalesforceSynchStatus", "SecondaryEmail", "SecondaryPhone", "Status",
)
CUSTOMER_INVOICE_FILTERS = (  # GET /Customers/{id}/Invoices [V §3.2 "Filters accepted by List Invoices By Customer"]
    "createdTimestamp", "closingArBalance", "effectiveTimestamp", "invoiceNumber", "netsuiteId", "openingArBalance",
    "poNumber", "postedTimestamp", "salesforceID", "totalInstallments", "quickBooksId",
)
INVOICE_FILTERS = (  # GET /Invoices, account-wide [brief: docs list-invoices-1]. No `modifiedTimestamp`.
    "customerId", "postedTimestamp", "effectiveTimestamp", "createdTimestamp", "Customer.ModifiedTimestamp",
)
INVOICE_SUMMARY_FILTERS = (  # GET /invoiceSummaries and /customers/{id}/invoiceSummaries [V §3.3]
    "companyName", "currency", "customerId", "firstName", "lastName", "middleName", "reference",
    "invoiceAmount", "invoiceNumber", "invoiceStatus", "modifiedTimestamp", "postedTimestamp", "effectiveTimestamp",
    "dueDate", "outstandingBalance", "sumOfCharges", "totalCreditNotes", "totalPayments", "writeoffs", "unsettled",
    "quickBooksId", "avalaraId",
)
PAYMENT_ACTIVITY_FILTERS = (  # /customers/{id}/paymentactivities and /PaymentActivities/GetByAccountID [V §3.4]
    # The enum filters by their documented enum names and by the field names given beside them;
    # PaymentMethodType has no field name in the reference, so only the enum name is accepted.
    "PaymentActivityStatus", "status", "PaymentType", "transactionType", "PaymentSource", "source", "PaymentMethodType",
    "amount", "createdTimestamp", "effectiveTimestamp", "modifiedTimestamp", "GatewayName", "parentCustomerId",
)
CREDIT_NOTE_FILTERS = (  # GET /CreditNotes [V §3.7]
    "invoiceId", "Invoice.CustomerId", "Invoice.InvoiceNumber", "Invoice.PostedTimestamp", "Invoice.QuickBooksId", "Number",
)
AR_ACTIVITY_QUERY_FIELDS = ("startDate", "endDate")  # /customers/{id}/customerArActivities [V §1.4]
# Account-wide lists that do NOT exist (404 like any unknown route): `/aractivities` (only
# claygorman's SDK names it, no documentation page [brief]); a list of refunds, credits, debits or
# payments (§2.1: "No per-customer 'list credits' or 'list refunds' endpoint is documented") [V §2.1].

# --- sorting --------------------------------------------------------------------------------------
# `sortOrder` / `sortExpression` exist on every list [V §1.5]; which fields sort is not documented.
# Both documented examples sort on a filter field (postedTimestamp on /Invoices, createdTimestamp in
# tap-fusebill), so `sortExpression` accepts exactly the endpoint's filter fields; anything else is a
# 400 [unconfirmed, strict]. AR activities have no filter fields: only `effectiveTimestamp` sorts
# there (the field their date window uses) [unconfirmed, strict]. Without `sortExpression` a list is in
# id order (AR activities: effective order) and says so in X-SortExpression [U].
AR_ACTIVITY_SORT_FIELDS = ("effectiveTimestamp",)

# --- list shapes vs per-id shapes -----------------------------------------------------------------
# GET /Invoices (account-wide): "no line items" [V §2]. Whether it carries `taxes` (or any other nested
# collection/object) is [U]: strict, every nested collection and object is null there — charges,
# chargeGroups, taxes, paymentSchedules, invoiceCustomer, invoiceCustomerAddressPreference — and only
# the scalar fields are filled [unconfirmed, strict]. /Customers/{id}/Invoices ("with line items",
# [V §2]) and /Invoices/{id} carry everything.
INVOICE_LIST_NULLED_FIELDS = (
    "charges", "chargeGroups", "taxes", "paymentSchedules", "invoiceCustomer", "invoiceCustomerAddressPreference",
)
# GET /CreditNotes is documented as "credit note summaries" (slug list-credit-note-summaries) [V §1.3,
# §2]; its item fields are not documented. Strict: no line items, no reversed-tax lines and no
# embedded invoice in the list — those only from /CreditNotes/{id} [unconfirmed, strict]. The keys are
# absent (a summary DTO, not a half-filled credit note) [U].
CREDIT_NOTE_LIST_OMITTED_FIELDS = ("invoice", "lineItems", "taxes")
# The invoice embedded in a credit note is "slightly summarised" [V §3.7]; the verified example has
# no `invoiceNumber`, `modifiedTimestamp` or `charges` between its fields, so the emulator leaves those
# out of it [V §3.2 example], plus invoiceCustomer, invoiceCustomerAddressPreference, taxes and
# paymentSchedules [unconfirmed, strict].
EMBEDDED_INVOICE_OMITTED_FIELDS = (
    "invoiceNumber", "modifiedTimestamp", "charges", "invoiceCustomer", "invoiceCustomerAddressPreference", "taxes",
    "paymentSchedules",
)
# Payment-activity lists carry the full PaymentActivity (nested `transaction` with its allocations):
# Help/Api documents a *collection* of Common.Dto.Get.PaymentActivity with those fields [V §3.4].
# Customers: the list and /customers/{id} carry the same object [U: nothing says otherwise].

# --- modifiedTimestamp ---------------------------------------------------------------------------
# Served only where the reference shows the field or a filter on it: customers (filter [V §1.4], field
# [I]), invoices (field [V §3.2]), invoice summaries (filter [V §3.3], field [I]), payment activities
# (filter [V §3.4], field [I]). Refunds, payments, credits, debits, credit notes and AR activities show
# no such field or filter, so none is served [unconfirmed, strict] (each still keeps its own internal
# stamp, persisted, for propagation and webhooks).
# What stamps what (strict default) [unconfirmed, strict unless marked]:
#   * a record is stamped when its own fields change, or when it is created;
#   * an invoice is also stamped when its balances change (a payment/credit allocated to it, a refund or
#     credit reversal taking money back out, a credit note, a write-off): invoice summaries are "the
#     cheapest way to learn status and balances by modifiedTimestamp" [I §3.3];
#   * a payment (internal stamp) when its allocations, unallocated amount or refunds change; a credit
#     likewise;
#   * the customer is NOT stamped when its invoices, payments, credits... change, nor when its AR
#     balance moves; a payment activity is NOT stamped when the payment/refund it embeds changes.
# Switch `propagate_modified` (config / POST /_emulator/settings, default off): the customer's
# modifiedTimestamp becomes the latest stamp of the customer or any of its records, and a payment
# activity's the latest of itself and its payment/refund (the emulator's behaviour before issue #7);
# `changed` and webhook events then also name the customer / activity.
DEFAULT_PROPAGATE_MODIFIED = False

# --- X-MaxPageIndex ------------------------------------------------------------------------------
# Documented as "Total number of pages"; tap-fusebill reads it as the last 0-based index [V/I §1.3].
# Switch `max_page_index`: "last_index" = ceil(X-Count / pageSize) - 1 (0 for an empty result) or
# "page_count" = ceil(X-Count / pageSize) (0 for an empty result). Default "last_index": a client that
# takes it for a page count then skips the last page in tests, the dangerous mistake; reading a page
# count as a last index only costs one empty request. A robust client stops on a page with fewer than
# pageSize rows (or an empty one) and never relies on either meaning.
MAX_PAGE_INDEX_MEANINGS = ("last_index", "page_count")
DEFAULT_MAX_PAGE_INDEX = "last_index"

# --- rate-limit headers ---------------------------------------------------------------------------
# X-Rate-Limit-{Limit,Remaining,Reset}-{Minute,Day} on every answer [V §1.6]; Reset is "a timestamp"
# whose format is not documented. Doc examples write timestamps without offset, Help/Api samples with
# "+00:00" [V §1.8: "Clients should parse both forms"]. Switch `rate_reset_format`: "naive"
# (2025-03-01T12:01:00, the default: the doc examples' form), "offset" (2025-03-01T12:01:00+00:00), or
# "alternate" (naive and offset on alternate answers, so a client must parse both).
RATE_RESET_FORMATS = ("naive", "offset", "alternate")
DEFAULT_RATE_RESET_FORMAT = "naive"
# No `Retry-After` header, on 429 or anywhere: none is documented [V §1.6 lists the headers; unconfirmed,
# strict]. A client waits until X-Rate-Limit-Reset-*.
SEND_RETRY_AFTER = False
# Limits per account type (RATE_LIMITS above, [V §1.6]): live 1,000/min and 180,000/day, sandbox
# 50/min and 5,000/day, testdrive 10/min and 500/day, per API key, enforced on every /v1 request.
# Accounts may override them (POST /_emulator/accounts "rate_limits"); the emulator's own tests use
# live accounts, whose real limits are generous enough.
