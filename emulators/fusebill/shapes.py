"""What the emulator puts on the wire: every JSON shape, header and name, in one place.

Markers follow fusebill-api.md: [V] verified there, [I] inferred, [U] unverified — a guess kept here
so it is one edit when a real Fusebill response shows otherwise. Section numbers (§) point into that
reference. Confirmed conventions applied everywhere: camelCase fields, money as JSON numbers,
timestamps ISO 8601 without offset (UTC), `id` and `uri` last (§1.8), lists as bare arrays (§1.3),
errors as `{"ErrorId", "HttpStatusCode", "Errors": [{"Key", "Value"}]}` (§1.7).
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable

from emulators.fusebill import rules as strict
from emulators.sampledata.money import ZERO, format_timestamp, quantum
from emulators.sampledata.records import (
    Allocation, Credit, CreditNote, Customer, Debit, Invoice, Payment, PaymentActivity, Refund, TaxRule, WriteOff,
)

if TYPE_CHECKING:
    from emulators.fusebill.ledger import ArEntry, CustomerLedger, InvoiceState

# --- errors (§1.7 [V] for 404; the 400/401/429/5xx texts are [U]) -------------------------------

ERROR_KEY = "Api Error"


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"ErrorId": 0, "HttpStatusCode": status, "Errors": [{"Key": ERROR_KEY, "Value": message}]}


# How errors and webhook `entityType` name each kind of record [U beyond "Invoice"].
ENTITY_NAMES = {
    "customer": "Customer", "invoice": "Invoice", "payment_activity": "PaymentActivity", "payment": "Payment",
    "refund": "Refund", "credit": "Credit", "debit": "Debit", "credit_note": "CreditNote", "write_off": "WriteOff",
}


def not_found_message(kind: str, record_id: object) -> str:
    """ "Invoice with id 22 not found." [V] — the same sentence for every kind [I]."""
    return f"{kind} with id {record_id} not found."


INJECTED_FAULT_MESSAGE = "The service is temporarily unavailable (fault injected by the emulator)."
MISSING_KEY_MESSAGE = "Authorization has been denied for this request. Provide your API key as: Authorization: Basic {APIKey}"  # [U]
BAD_KEY_MESSAGE = "Authorization has been denied for this request. The API key is not valid."  # [U]


def rate_limit_message(window: str, limit: int) -> str:
    """429 body text; the docs only say it "will indicate which limit" (§1.6) [U]."""
    return f"Rate limit exceeded: {limit} requests per {window} allowed for this account."


# --- paging headers (§1.3) ----------------------------------------------------------------------
# X-MaxCount: documented as "total number of results" beside X-Count "that match the search
# criteria"; read here as the size of the collection before filtering [U].
# X-NextPage on the last page and X-MaxPageIndex of an empty result are undocumented: -1 and 0 [U]
# (0, not -1, so a client looping `until pageNumber == X-MaxPageIndex` stops on an empty list).
# X-MaxPageIndex is the last 0-based index or the number of pages, per the `max_page_index` switch
# (rules.MAX_PAGE_INDEX_MEANINGS).
NO_PAGE = -1
SORT_ASCENDING, SORT_DESCENDING = "Ascending", "Descending"


def paging_headers(count: int, max_count: int, page: int, size: int, sort_order: str, sort_expression: str,
                   max_page_index: str = strict.DEFAULT_MAX_PAGE_INDEX) -> dict[str, str]:
    pages = -(-count // size)
    last = max(0, pages - 1)
    return {
        "X-Count": str(count),
        "X-MaxCount": str(max_count),
        "X-CurrentPage": str(page),
        "X-PageSize": str(size),
        "X-MaxPageIndex": str(pages if max_page_index == "page_count" else last),
        "X-NextPage": str(page + 1 if page < last else NO_PAGE),
        "X-PreviousPage": str(page - 1 if page > 0 else NO_PAGE),
        "X-SortOrder": sort_order,
        "X-SortExpression": sort_expression,
    }


# --- rate-limit headers (§1.6 [V] names; the reset timestamp's form per rules.RATE_RESET_FORMATS) --
# Never a Retry-After header (rules.SEND_RETRY_AFTER).


def reset_timestamp(moment: datetime, reset_format: str) -> str:
    """A UTC reset time as "2025-03-01T12:01:00" ("naive") or "2025-03-01T12:01:00+00:00" ("offset")."""
    text = format_timestamp(moment)
    return text + "+00:00" if reset_format == "offset" else text


def rate_limit_headers(limit_minute: int, remaining_minute: int, reset_minute: datetime,
                       limit_day: int, remaining_day: int, reset_day: datetime,
                       reset_format: str = "naive") -> dict[str, str]:
    return {
        "X-Rate-Limit-Limit-Minute": str(limit_minute),
        "X-Rate-Limit-Remaining-Minute": str(max(0, remaining_minute)),
        "X-Rate-Limit-Reset-Minute": reset_timestamp(reset_minute, reset_format),
        "X-Rate-Limit-Limit-Day": str(limit_day),
        "X-Rate-Limit-Remaining-Day": str(max(0, remaining_day)),
        "X-Rate-Limit-Reset-Day": reset_timestamp(reset_day, reset_format),
    }


# --- enumerations -------------------------------------------------------------------------------

# AR activity transactionType (§3.9): "Charge" is [V]; the rest are the reference's candidates [U].
AR_CHARGE = "Charge"
AR_TAX = "Tax"
AR_PAYMENT = "Payment"
AR_REFUND = "Refund"
AR_CREDIT = "Credit"
AR_DEBIT = "Debit"
AR_REVERSE_CHARGE = "ReverseCharge"
AR_REVERSE_TAX = "ReverseTax"
AR_WRITE_OFF = "WriteOff"

# Invoice summary invoiceStatus values are [V] (§3.3); which one applies when is [U]:
# nothing owed after a write-off -> WrittenOff, nothing owed -> Paid, owed past the due date ->
# Overdue, else Due (Void/Disputed/Pending are never produced).
INVOICE_DUE, INVOICE_OVERDUE, INVOICE_PAID, INVOICE_WRITTEN_OFF = "Due", "Overdue", "Paid", "WrittenOff"


def invoice_status(state: "InvoiceState", now: datetime) -> str:
    if state.outstanding == 0:
        return INVOICE_WRITTEN_OFF if state.write_offs_total > 0 else INVOICE_PAID
    return INVOICE_OVERDUE if state.invoice.due_date < now else INVOICE_DUE


# The List Customers filter takes CurrencyId 1-24 (§1.4 [V]); the numbering is [U].
CURRENCY_IDS = {"USD": 1, "CAD": 2, "EUR": 3, "GBP": 4, "AUD": 5, "JPY": 6}

# --- webhooks (§4: delivery [V]; everything about the message itself [U]) ---------------------

WEBHOOK_KEY_HEADER = "X-Fusebill-Webhook-Key"  # carries base64(key) [U: "Base64 encoded in the header"]
EVENT_CUSTOMER_CREATED = "CustomerCreated"
EVENT_CUSTOMER_UPDATED = "CustomerUpdated"
EVENT_CUSTOMER_ACTIVATED = "CustomerActivated"
EVENT_INVOICE_POSTED = "InvoicePosted"
EVENT_INVOICE_UPDATED = "InvoiceUpdated"
EVENT_PAYMENT_CREATED = "PaymentCreated"
EVENT_PAYMENT_UPDATED = "PaymentUpdated"
EVENT_PAYMENT_ACTIVITY_CREATED = "PaymentActivityCreated"
EVENT_REFUND_CREATED = "RefundCreated"
EVENT_CREDIT_CREATED = "CreditCreated"
EVENT_CREDIT_UPDATED = "CreditUpdated"
EVENT_DEBIT_CREATED = "DebitCreated"
EVENT_CREDIT_NOTE_CREATED = "CreditNoteCreated"
EVENT_WRITE_OFF_CREATED = "InvoiceWrittenOff"
WEBHOOK_EVENT_TYPES = (
    EVENT_CUSTOMER_CREATED, EVENT_CUSTOMER_UPDATED, EVENT_CUSTOMER_ACTIVATED, EVENT_INVOICE_POSTED,
    EVENT_INVOICE_UPDATED, EVENT_PAYMENT_CREATED, EVENT_PAYMENT_UPDATED, EVENT_PAYMENT_ACTIVITY_CREATED,
    EVENT_REFUND_CREATED, EVENT_CREDIT_CREATED, EVENT_CREDIT_UPDATED, EVENT_DEBIT_CREATED,
    EVENT_CREDIT_NOTE_CREATED, EVENT_WRITE_OFF_CREATED,
)


def webhook_key_header_value(key: str) -> str:
    return base64.b64encode(key.encode("utf-8")).decode("ascii")


def webhook_payload(event_id: int, event_type: str, entity_type: str, entity_id: int, customer_id: int,
                    at: datetime, entity: dict[str, Any] | None) -> dict[str, Any]:
    """The body of one webhook POST [U: no sample exists]."""
    return {
        "eventId": event_id,
        "eventType": event_type,
        "eventTimestamp": format_timestamp(at),
        "entityType": entity_type,
        "entityId": entity_id,
        "customerId": customer_id,
        "entity": entity,
    }


# --- rendering ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderContext:
    """What rendering needs besides the record: where uris point, the time, and the account."""

    base_url: str  # ".../v1"
    now: datetime
    customer: Callable[[int], Customer]
    ledger: Callable[[int], "CustomerLedger"]
    tax_rule: Callable[[int], TaxRule]
    payment_activity: Callable[[int, int], PaymentActivity]  # (customer id, activity id)
    # The modifiedTimestamp served for a customer / payment activity: its own stamp, or a propagated
    # one under the `propagate_modified` switch (rules.py).
    customer_modified: Callable[[Customer], datetime] = lambda c: c.modified
    activity_modified: Callable[[PaymentActivity], datetime] = lambda a: a.modified

    def uri(self, collection: str, record_id: object) -> str:
        return f"{self.base_url}/{collection}/{record_id}"


def _ts(moment: datetime | None) -> str | None:
    return format_timestamp(moment) if moment is not None else None


def _m(amount: Decimal, currency: str) -> Decimal:
    """Money as the currency writes it: 0 -> 0.00 USD (amounts are already whole minor units)."""
    return amount.quantize(quantum(currency))


def customer(c: Customer, ctx: RenderContext) -> dict[str, Any]:
    """Customer (§3.1): fields up to `secondaryPhone` [V]; `title`/`status`/`createdTimestamp` seen
    in the overview [V]; the rest — `currency` (3-letter code), `modifiedTimestamp`,
    `customerAccountStatus`, QuickBooks fields, references — [U]."""
    return {
        "title": c.title,
        "firstName": c.first_name,
        "middleName": c.middle_name,
        "lastName": c.last_name,
        "companyName": c.company_name,
        "suffix": c.suffix,
        "primaryEmail": c.primary_email,
        "primaryPhone": c.primary_phone,
        "secondaryEmail": None,
        "secondaryPhone": None,
        "reference": c.reference,
        "status": c.status,
        "customerAccountStatus": c.account_status,
        "currency": c.currency,
        "parentId": None,
        "isParent": False,
        "quickBooksLatchType": None,
        "quickBooksId": None,
        "quickBooksSyncToken": None,
        "salesforceId": None,
        "netsuiteId": None,
        "portalUserName": None,
        "customerReference": {"reference1": c.reference, "reference2": None, "reference3": None},
        "customerAcquisition": {"adContent": None, "campaign": None, "landingPage": None, "medium": None, "source": None},
        "createdTimestamp": _ts(c.created),
        "activationTimestamp": _ts(c.activated),
        "modifiedTimestamp": _ts(ctx.customer_modified(c)),
        "id": c.id,
        "uri": ctx.uri("customers", c.id),
    }


def customer_overview(c: Customer, ledger: "CustomerLedger", ctx: RenderContext) -> dict[str, Any]:
    """Customer overview: the customer plus balances. `arBalance` is the AR balance (the field
    name follows the Arbalance filter, §1.4) [U]; `unallocatedPayments`/`unallocatedCredits` [U].
    `unallocatedCredits` is the credits' unallocated money plus the open credit left by credit notes
    beyond their invoice's balance (ledger.py) [U], so arBalance = Σ invoice outstandingBalance −
    unallocatedPayments − unallocatedCredits always holds."""
    body = customer(c, ctx)
    credits = sum((cr.unallocated for cr in ledger.credits.values()), ZERO) + ledger.credit_note_credit
    balances = {
        "arBalance": _m(ledger.ar_balance, c.currency),
        "unallocatedPayments": _m(sum((p.unallocated for p in ledger.payments.values()), ZERO), c.currency),
        "unallocatedCredits": _m(credits, c.currency),
    }
    tail = {"id": body.pop("id"), "uri": ctx.uri("customers", f"{c.id}/overview")}
    body.pop("uri")
    return {**body, **balances, **tail}


def _address(c: Customer, kind: str, ctx: RenderContext) -> dict[str, Any] | None:
    if c.address is None:
        return None
    a = c.address
    address_id = c.id * 10 + (1 if kind == "Billing" else 2)
    return {
        "companyName": c.company_name,
        "line1": a.line1,
        "line2": a.line2,
        "city": a.city,
        "postalZip": a.postal_zip,
        "state": a.state,
        "country": a.country,
        "countryCode": a.country_code,
        "addressType": kind,
        "id": address_id,
        "uri": ctx.uri("Addresses", address_id),
    }


def address_preferences(c: Customer, ctx: RenderContext) -> dict[str, Any]:
    """`GET customerAddressPreferences/{id}`: the shape is the reference's guess (§3.1) [U]."""
    return {
        "contactName": " ".join(part for part in (c.first_name, c.last_name) if part) or None,
        "shippingInstructions": None,
        "useBillingAddressAsShippingAddress": True,
        "billingAddress": _address(c, "Billing", ctx),
        "shippingAddress": _address(c, "Shipping", ctx),
        "id": c.id,
        "uri": ctx.uri("customerAddressPreferences", c.id),
    }


def billing_setting(c: Customer, ctx: RenderContext) -> dict[str, Any]:
    """`GET customerbillingsetting/{id}`: the term (e.g. "Net30") is [V]; other fields [U]."""
    return {
        "term": c.term,
        "invoiceDay": None,
        "autoCollect": True,
        "autoPostDraftInvoice": True,
        "customerId": c.id,
        "id": c.id,
        "uri": ctx.uri("customerbillingsetting", c.id),
    }


def _charge(charge, invoice: Invoice) -> dict[str, Any]:
    """Invoice charge line: field names are the reference's guesses (§3.2) [U]; `transactionId`,
    `transactionType`, `quantity`, `unitPrice` are seen on draft invoices [V]."""
    return {
        "transactionId": charge.transaction_id,
        "transactionType": AR_CHARGE,
        "name": charge.name,
        "description": charge.description,
        "productCode": charge.product_code,
        "quantity": charge.quantity,
        "unitPrice": charge.unit_price,
        "amount": _m(charge.amount, invoice.currency),
        "taxable": charge.taxable,
        "effectiveTimestamp": _ts(invoice.posted),
        "glCode": charge.gl_code,
    }


def _tax(tax, currency: str) -> dict[str, Any]:
    """Invoice tax line (§3.2 `Common.Dto.Get.Tax`): fields [U]; `percentage` in percent (9.975)."""
    return {
        "transactionId": tax.transaction_id,
        "taxRuleId": tax.tax_rule_id,
        "name": tax.name,
        "percentage": tax.percentage,
        "taxableAmount": _m(tax.taxable_amount, currency),
        "amount": _m(tax.amount, currency),
    }


def invoice(inv: Invoice, state: "InvoiceState", ctx: RenderContext, with_lines: bool = True) -> dict[str, Any]:
    """Invoice (§3.2): fields and order [V] up to `invoiceInMemoryOnly`; `datePaid`, `currency`,
    `customerId` snapshot fields and charge/tax fields [U]. Without lines (`GET /Invoices`,
    "no line items", §2) every nested collection and object is null (rules.INVOICE_LIST_NULLED_FIELDS:
    charges, chargeGroups, taxes, paymentSchedules, invoiceCustomer, invoiceCustomerAddressPreference)."""
    body = _full_invoice(inv, state, ctx)
    if not with_lines:
        for name in strict.INVOICE_LIST_NULLED_FIELDS:
            body[name] = None
    return body


def _full_invoice(inv: Invoice, state: "InvoiceState", ctx: RenderContext) -> dict[str, Any]:
    c = ctx.customer(inv.customer_id)
    cur = inv.currency
    tax_rules = {tax.tax_rule_id: ctx.tax_rule(tax.tax_rule_id) for tax in inv.taxes}
    return {
        "invoiceNumber": inv.invoice_number,
        "invoiceSignature": None,
        "poNumber": inv.po_number,
        "effectiveTimestamp": _ts(inv.posted),
        "postedTimestamp": _ts(inv.posted),
        "modifiedTimestamp": _ts(inv.modified),
        "charges": [_charge(charge, inv) for charge in inv.charges],
        "chargeGroups": None,
        "subtotal": _m(inv.subtotal, cur),
        "invoiceAmount": _m(inv.invoice_amount, cur),
        "totalPayments": _m(state.total_payments, cur),
        "unsettled": False,
        "outstandingBalance": _m(state.outstanding, cur),
        "terms": inv.terms,
        "defaultTerms": inv.terms,
        "isDefaultTerms": True,
        "customerId": inv.customer_id,
        "invoiceCustomer": _customer_snapshot(c),
        "invoiceCustomerAddressPreference": address_preferences(c, ctx),
        "sumOfCreditNotes": _m(state.credit_notes_total, cur),
        "totalWriteoffs": _m(state.write_offs_total, cur),
        "taxes": [{**_tax(tax, cur), "registrationCode": tax_rules[tax.tax_rule_id].registration_code} for tax in inv.taxes],
        "totalDiscount": _m(ZERO, cur),
        "paymentSchedules": [{
            "dueDate": _ts(inv.due_date),
            "amount": _m(inv.invoice_amount, cur),
            "outstandingBalance": _m(state.outstanding, cur),
            "status": invoice_status(state, ctx.now),
            "daysDueAfterTerm": (inv.due_date - inv.posted).days,
        }],
        "notes": None,
        "customerReferenceValue": c.reference,
        "openingArBalance": _m(state.opening_ar, cur),
        "closingArBalance": _m(state.closing_ar, cur),
        "invoiceInMemoryOnly": False,
        "datePaid": _ts(state.paid_at),
        "currency": inv.currency,
        "id": inv.id,
        "uri": ctx.uri("Invoices", inv.id),
    }


def _customer_snapshot(c: Customer) -> dict[str, Any]:
    """`invoiceCustomer` (§3.2): the customer's names as shown on the invoice [U: current, not as at posting]."""
    return {
        "firstName": c.first_name,
        "middleName": c.middle_name,
        "lastName": c.last_name,
        "companyName": c.company_name,
        "primaryEmail": c.primary_email,
        "reference": c.reference,
        "currency": c.currency,
        "id": c.id,
    }


def invoice_summary(inv: Invoice, state: "InvoiceState", ctx: RenderContext) -> dict[str, Any]:
    """Invoice summary: names from the filter list (§3.3) [I]; `id` is the invoice id [U]."""
    c = ctx.customer(inv.customer_id)
    cur = inv.currency
    return {
        "invoiceNumber": inv.invoice_number,
        "invoiceStatus": invoice_status(state, ctx.now),
        "customerId": inv.customer_id,
        "firstName": c.first_name,
        "middleName": c.middle_name,
        "lastName": c.last_name,
        "companyName": c.company_name,
        "reference": c.reference,
        "currency": inv.currency,
        "invoiceAmount": _m(inv.invoice_amount, cur),
        "sumOfCharges": _m(inv.subtotal, cur),
        "totalCreditNotes": _m(state.credit_notes_total, cur),
        "totalPayments": _m(state.total_payments, cur),
        "writeoffs": _m(state.write_offs_total, cur),
        "outstandingBalance": _m(state.outstanding, cur),
        "unsettled": False,
        "postedTimestamp": _ts(inv.posted),
        "effectiveTimestamp": _ts(inv.posted),
        "modifiedTimestamp": _ts(inv.modified),
        "dueDate": _ts(inv.due_date),
        "quickBooksId": None,
        "avalaraId": None,
        "id": inv.id,
        "uri": ctx.uri("Invoices", inv.id),
    }


def invoice_allocation(invoice_id: int, amount: Decimal, ledger: "CustomerLedger", ctx: RenderContext) -> dict[str, Any]:
    """Invoice allocation inside a payment, refund, credit or debit (§3.4) [V field list];
    `outstandingBalance` is the invoice's current balance [V]."""
    state = ledger.invoices[invoice_id]
    cur = state.invoice.currency
    return {
        "invoiceId": invoice_id,
        "invoiceNumber": state.invoice.invoice_number,
        "amount": _m(amount, cur),
        "outstandingBalance": _m(state.outstanding, cur),
        "invoiceTotal": _m(state.invoice.invoice_amount, cur),
        "netsuiteId": None,
        "quickBooksId": None,
        "uri": ctx.uri("Invoices", invoice_id),
    }


def _allocations(allocations: list[Allocation], ledger: "CustomerLedger", ctx: RenderContext) -> list[dict[str, Any]]:
    return [invoice_allocation(a.invoice_id, a.amount, ledger, ctx) for a in allocations]


def payment_allocation(payment: Payment, allocation: Allocation, ctx: RenderContext) -> dict[str, Any]:
    """`GET invoices/{id}/paymentAllocations` row (§3.4, Help/Api sample) [V field names]."""
    activity = ctx.payment_activity(payment.customer_id, payment.payment_activity_id)
    return {
        "paymentId": payment.id,
        "invoiceId": allocation.invoice_id,
        "amount": _m(allocation.amount, payment.currency),
        "paymentEffectiveTimestamp": _ts(payment.effective),
        "effectiveTimestamp": _ts(allocation.effective),
        "paymentMethod": activity.method,
        "paymentReference": payment.reference,
        "paymentActivityId": payment.payment_activity_id,
        "parentCustomerId": None,
        "surchargingFee": _m(ZERO, payment.currency),
    }


def credit_allocation(credit: Credit, allocation: Allocation) -> dict[str, Any]:
    """`GET invoices/{id}/creditAllocations` row: shape mirrors paymentAllocations [U]."""
    return {
        "creditId": credit.id,
        "invoiceId": allocation.invoice_id,
        "amount": _m(allocation.amount, credit.currency),
        "creditEffectiveTimestamp": _ts(credit.effective),
        "effectiveTimestamp": _ts(allocation.effective),
        "reference": credit.reference,
    }


def refund(r: Refund, ledger: "CustomerLedger", ctx: RenderContext) -> dict[str, Any]:
    """Refund (§3.5) [V field list]."""
    original = ledger.payments[r.payment_id].payment
    return {
        "paymentActivityId": r.payment_activity_id,
        "reference": r.reference,
        "effectiveTimestamp": _ts(r.effective),
        "description": f"Refund of payment {r.payment_id}",
        "customerId": r.customer_id,
        "originalPaymentActivityId": original.payment_activity_id,
        "amount": _m(r.amount, r.currency),
        "currency": r.currency,
        "invoiceAllocations": _allocations(r.allocations, ledger, ctx),
        "gatewayFee": None,
        "settlement": None,
        "id": r.id,
        "uri": ctx.uri("Refunds", r.id),
    }


def payment(p: Payment, ledger: "CustomerLedger", ctx: RenderContext) -> dict[str, Any]:
    """Payment (§3.4 example) [V field list]. `invoiceAllocations` are as made (a later refund
    shows under `refunds`, not as a smaller allocation) [U]."""
    state = ledger.payments[p.id]
    return {
        "paymentActivityId": p.payment_activity_id,
        "reference": p.reference,
        "effectiveTimestamp": _ts(p.effective),
        "description": None,
        "customerId": p.customer_id,
        "originalPaymentActivityId": None,
        "amount": _m(p.amount, p.currency),
        "currency": p.currency,
        "invoiceAllocations": _allocations(p.allocations, ledger, ctx),
        "refunds": [refund(r, ledger, ctx) for r in state.refunds],
        "unallocatedAmount": _m(state.unallocated, p.currency),
        "refundableAmount": _m(state.refundable, p.currency),
        "gatewayFee": None,
        "settlement": None,
        "id": p.id,
        "uri": ctx.uri("payments", p.id),
    }


def gateway_name(a: PaymentActivity) -> str | None:
    """`paymentGateway` (and the GatewayName filter): none for manual payments [U]."""
    return None if a.source == "Manual" else "Emulated Gateway"


def payment_activity(a: PaymentActivity, ledger: "CustomerLedger", ctx: RenderContext) -> dict[str, Any]:
    """Payment activity (§3.4) [V field list and example]. `modifiedTimestamp` (a documented
    filter) as a field [I], and the `customer`/`invoices` sub-objects' fields, are [U]. Lists carry
    this whole object (Help/Api returns a collection of it) [V §3.4]."""
    transaction: dict[str, Any] | None = None
    invoices: list[dict[str, Any]] = []
    if a.payment_id is not None:
        p = ledger.payments[a.payment_id].payment
        transaction = payment(p, ledger, ctx)
        invoices = [{"invoiceId": x.invoice_id, "invoiceNumber": ledger.invoices[x.invoice_id].invoice.invoice_number,
                     "amount": _m(x.amount, p.currency)} for x in p.allocations]
    elif a.refund_id is not None:
        r = next(r for state in ledger.payments.values() for r in state.refunds if r.id == a.refund_id)
        transaction = refund(r, ledger, ctx)
    c = ctx.customer(a.customer_id)
    return {
        "customerId": a.customer_id,
        "status": a.status,
        "effectiveTimestamp": _ts(a.effective),
        "createdTimestamp": _ts(a.created),
        "modifiedTimestamp": _ts(ctx.activity_modified(a)),
        "source": a.source,
        "method": a.method,
        "transactionType": a.transaction_type,
        "amount": _m(a.amount, a.currency),
        "gatewayFee": None,
        "currency": a.currency,
        "transaction": transaction,
        "paymentGateway": gateway_name(a),
        "methodIsAch": a.method.startswith("ACH"),
        "isOutsidePayment": a.source == "Manual",
        "parentCustomerId": None,
        "reconciliationId": None,
        "trigger": a.source,
        "triggeringUserId": None,
        "attemptNumber": a.attempt_number,
        "customer": {"firstName": c.first_name, "lastName": c.last_name, "companyName": c.company_name, "id": c.id},
        "paymentMethod": None,
        "invoices": invoices,
        "id": a.id,
        "uri": ctx.uri("PaymentActivities", a.id),
    }


def debit(d: Debit, ledger: "CustomerLedger", ctx: RenderContext) -> dict[str, Any]:
    """Debit, the reversal of a credit (§3.6) [V field list]."""
    return {
        "reference": d.reference,
        "effectiveTimestamp": _ts(d.effective),
        "description": f"Reversal of credit {d.credit_id}",
        "customerId": d.customer_id,
        "originalCreditId": d.credit_id,
        "amount": _m(d.amount, d.currency),
        "currency": d.currency,
        "invoiceAllocations": _allocations(d.allocations, ledger, ctx),
        "id": d.id,
        "uri": ctx.uri("Debits", d.id),
    }


def credit(cr: Credit, ledger: "CustomerLedger", ctx: RenderContext) -> dict[str, Any]:
    """Credit (§3.6) [V field list, including the spelling `reversableAmount`]."""
    state = ledger.credits[cr.id]
    return {
        "reference": cr.reference,
        "effectiveTimestamp": _ts(cr.effective),
        "customerId": cr.customer_id,
        "amount": _m(cr.amount, cr.currency),
        "currency": cr.currency,
        "unallocatedAmount": _m(state.unallocated, cr.currency),
        "reversableAmount": _m(state.reversable, cr.currency),
        "invoiceAllocations": _allocations(cr.allocations, ledger, ctx),
        "debits": [debit(d, ledger, ctx) for d in state.debits],
        "id": cr.id,
        "uri": ctx.uri("Credits", cr.id),
    }


def credit_note(note: CreditNote, ledger: "CustomerLedger", ctx: RenderContext, summary: bool = False) -> dict[str, Any]:
    """Credit note = charge reversal (§3.7): `netAmount`, `creditNotesNumber`, `invoiceNumber`,
    `invoice`, `customerName`... [V]; `invoiceId`, the line fields beyond `chargeGroup*`, the
    reversed `taxes[]`, `totalTaxAmount` and `totalAmount` [U]. No `modifiedTimestamp`: none is
    documented (rules.py). `summary=True` is the `GET /CreditNotes` item: without
    rules.CREDIT_NOTE_LIST_OMITTED_FIELDS (the embedded invoice, lineItems, taxes)."""
    body = _full_credit_note(note, ledger, ctx)
    if summary:
        for name in strict.CREDIT_NOTE_LIST_OMITTED_FIELDS:
            del body[name]
    return body


def _full_credit_note(note: CreditNote, ledger: "CustomerLedger", ctx: RenderContext) -> dict[str, Any]:
    state = ledger.invoices[note.invoice_id]
    inv = state.invoice
    c = ctx.customer(note.customer_id)
    charges = {charge.transaction_id: charge for charge in inv.charges}
    embedded = _full_invoice(inv, state, ctx)
    embedded["chargeGroups"] = None
    for name in strict.EMBEDDED_INVOICE_OMITTED_FIELDS:
        del embedded[name]
    return {
        "netAmount": _m(note.net_amount, note.currency),
        "invoiceNumber": inv.invoice_number,
        "creditNotesNumber": note.number,
        "reference": note.reference,
        "customerId": note.customer_id,
        "invoiceId": note.invoice_id,
        "invoice": embedded,
        "currency": note.currency,
        "customerName": " ".join(part for part in (c.first_name, c.last_name) if part) or None,
        "customerCompany": c.company_name,
        "invoicePostedDate": _ts(inv.posted),
        "effectiveTimestamp": _ts(note.effective),
        "lineItems": [{
            "chargeGroupName": charges[line.charge_transaction_id].name,
            "chargeGroupDescription": charges[line.charge_transaction_id].description,
            "chargeGroupReference": None,
            "transactionId": line.transaction_id,
            "chargeId": line.charge_transaction_id,
            "name": charges[line.charge_transaction_id].name,
            "amount": _m(line.amount, note.currency),
        } for line in note.lines],
        "taxes": [{
            "transactionId": tax.transaction_id,
            "taxRuleId": tax.tax_rule_id,
            "name": tax.name,
            "percentage": tax.percentage,
            "amount": _m(tax.amount, note.currency),
        } for tax in note.taxes],
        "totalTaxAmount": _m(note.tax_amount, note.currency),
        "totalAmount": _m(note.total_amount, note.currency),
        "id": note.id,
        "uri": ctx.uri("CreditNotes", note.id),
    }


def ar_activity(entry: "ArEntry", ledger: "CustomerLedger", ctx: RenderContext) -> dict[str, Any]:
    """AR activity / transaction (§3.9): fields up to `associatedId` [V]; the `transactionType`
    values other than Charge, the allocation sub-object and `id`/`uri` [U]."""
    return {
        "effectiveTimestamp": _ts(entry.effective),
        "transactionType": entry.transaction_type,
        "name": entry.name,
        "description": entry.description,
        "productCode": entry.product_code,
        "paymentActivityId": entry.payment_activity_id,
        "reference": None,
        "manualReference": entry.manual_reference,
        "quantity": entry.quantity,
        "unitPrice": entry.unit_price,
        "arDebit": _m(entry.ar_debit, ledger.currency),
        "arCredit": _m(entry.ar_credit, ledger.currency),
        "glCode": entry.gl_code,
        "invoiceAllocation": [
            {"invoiceId": invoice_id, "invoiceNumber": ledger.invoices[invoice_id].invoice.invoice_number,
             "amount": _m(amount, ledger.currency)}
            for invoice_id, amount in entry.invoice_allocations
        ],
        "associatedId": entry.associated_id,
        "id": entry.id,
        "uri": ctx.uri("customerArActivities", entry.id),
    }


def write_off(w: WriteOff, ledger: "CustomerLedger", ctx: RenderContext) -> dict[str, Any]:
    """A write-off. Fusebill documents no read DTO for it (§3.8); this shape exists only as the
    entity of a webhook event and mirrors the write DTO plus timestamps [U]."""
    return {
        "invoiceId": w.invoice_id,
        "invoiceNumber": ledger.invoices[w.invoice_id].invoice.invoice_number,
        "amount": _m(w.amount, w.currency),
        "reference": w.reference,
        "currency": w.currency,
        "effectiveTimestamp": _ts(w.effective),
        "customerId": w.customer_id,
        "id": w.id,
        "uri": ctx.uri("Invoices", w.invoice_id),
    }
