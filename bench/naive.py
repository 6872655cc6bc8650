"""The naive baseline: the sync a user would otherwise get, written the usual way, honestly.

Fusebill is read customer by customer — the customer list page by page, then for each customer
`GET /customers/{id}`, its invoices and its payment activities — and every record is written with
python-quickbooks `save()`, one request per record, after a look-up query that asks whether it is
already there (Customer by DisplayName, Invoice by DocNumber, Payment by customer, date and amount).
A 429 is waited out briefly and the request tried again (refused requests count against neither
API's limits, so this costs the baseline nothing but time).

It syncs customers, invoices and payments only: enough for a fair rate comparison (those are ~90 %
of the records, and every record costs the baseline the same two requests), not a full accounting
mapping (no taxes, credits, refunds, write-offs). Same emulators, same limits, same data as the
engine, in the same benchmark run; its QBO company is its own, so the two never share a limit.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import requests

MARKER = "naive"


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


@dataclass
class NaiveResult:
    customers: int = 0
    records: int = 0  # QBO documents saved (customers + invoices + payments)
    failed: int = 0
    seconds: float = 0.0
    qbo_requests: int = 0
    fusebill_requests: int = 0
    throttled: int = 0
    errors: list[str] = field(default_factory=list)


class NaiveSync:
    def __init__(self, qb: Any, fusebill_api_url: str, api_key: str, time_scale: float, sleep: Callable[[float], None] = time.sleep) -> None:
        self.qb = qb  # a python-quickbooks QuickBooks client for the baseline's own company
        self.fusebill = requests.Session()
        self.fusebill.headers.update({"Authorization": f"Basic {api_key}", "Content-Type": "application/json"})
        self.fusebill_url = fusebill_api_url.rstrip("/")
        self.time_scale = time_scale
        self.sleep = sleep
        self.result = NaiveResult()

    # ---------------------------------------------------------------- the two APIs, with a naive retry on 429
    def _fusebill(self, path: str, **params: Any) -> Any:
        while True:
            self.result.fusebill_requests += 1
            response = self.fusebill.get(f"{self.fusebill_url}/{path}", params=params or None, timeout=60)
            if response.status_code == 429:
                self.result.throttled += 1
                self.sleep(1.0 / self.time_scale)  # one (emulated) second, then again
                continue
            response.raise_for_status()
            return response.json()

    def _qbo(self, call: Callable[[], Any]) -> Any:
        from quickbooks.exceptions import QuickbooksException

        while True:
            self.result.qbo_requests += 1
            try:
                return call()
            except QuickbooksException as error:
                if "ThrottleExceeded" not in str(error.message) and "statusCode=429" not in str(error.message):
                    raise
                self.result.throttled += 1
                self.sleep(1.0 / self.time_scale)

    # ---------------------------------------------------------------- the sync
    def run(self, limit: int) -> NaiveResult:
        from quickbooks.objects.account import Account
        from quickbooks.objects.item import Item

        started = time.monotonic()
        income = self._qbo(lambda: Account.where("AccountType = 'Income'", qb=self.qb))[0]
        items = self._qbo(lambda: Item.where("Name = 'Naive Charges'", qb=self.qb))
        if items:
            self.item = items[0]
        else:
            item = Item()
            item.Name, item.Type, item.IncomeAccountRef = "Naive Charges", "Service", income.to_ref()
            self.item = self._qbo(lambda: item.save(qb=self.qb))
        ids: list[int] = []
        page = 0
        while len(ids) < limit:
            batch = self._fusebill("customers", pageSize=100, pageNumber=page)
            ids.extend(c["id"] for c in batch)
            if len(batch) < 100:
                break
            page += 1
        for customer_id in ids[:limit]:
            try:
                self.sync_customer(customer_id)
            except Exception as error:  # noqa: BLE001 - the baseline counts its failures and goes on, as such scripts do
                self.result.failed += 1
                self.result.errors.append(f"{customer_id}: {type(error).__name__}: {str(error)[:200]}")
        self.result.seconds = time.monotonic() - started
        return self.result

    def sync_customer(self, customer_id: int) -> None:
        customer = self._fusebill(f"customers/{customer_id}")
        invoices = self._fusebill(f"customers/{customer_id}/invoices", pageSize=1000, pageNumber=0)
        activities = self._fusebill(f"customers/{customer_id}/paymentactivities", pageSize=1000, pageNumber=0)
        if customer.get("status") == "Draft":
            return
        self.result.customers += 1
        qbo_customer = self.save_customer(customer)
        qbo_invoices: dict[int, Any] = {}
        for invoice in invoices:
            try:
                qbo_invoices[invoice["id"]] = self.save_invoice(invoice, qbo_customer)
            except Exception as error:  # noqa: BLE001
                self.result.failed += 1
                self.result.errors.append(f"invoice {invoice.get('id')}: {str(error)[:200]}")
        for activity in activities:
            if activity.get("status") != "Successful" or activity.get("transactionType") != "Collect":
                continue
            try:
                self.save_payment(activity, qbo_customer, qbo_invoices)
            except Exception as error:  # noqa: BLE001
                self.result.failed += 1
                self.result.errors.append(f"payment {activity.get('id')}: {str(error)[:200]}")

    def save_customer(self, data: dict[str, Any]) -> Any:
        from quickbooks.objects.customer import Customer

        name = (data.get("companyName") or " ".join(p for p in (data.get("firstName"), data.get("lastName")) if p) or "Customer")
        display = f"{name.replace(':', ' ')[:80]} ({data['id']})"
        found = self._qbo(lambda: Customer.where(f"DisplayName = '{_quote(display)}'", qb=self.qb))
        customer = found[0] if found else Customer()
        customer.DisplayName = display
        customer.CompanyName = (data.get("companyName") or "")[:100] or None
        customer.GivenName = (data.get("firstName") or "")[:25] or None  # QBO's field lengths
        customer.FamilyName = (data.get("lastName") or "")[:25] or None
        customer.Notes = f"{MARKER}:customer:{data['id']}"
        saved = self._qbo(lambda: customer.save(qb=self.qb))
        self.result.records += 1
        return saved

    def save_invoice(self, data: dict[str, Any], customer: Any) -> Any:
        from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
        from quickbooks.objects.invoice import Invoice

        number = str(data.get("invoiceNumber") or data["id"])[:21]
        found = self._qbo(lambda: Invoice.where(f"DocNumber = '{_quote(number)}'", qb=self.qb))
        invoice = found[0] if found else Invoice()
        line = SalesItemLine()
        line.Amount = Decimal(str(data.get("invoiceAmount") or data.get("total") or "0"))
        line.Description = "Fusebill invoice"
        line.SalesItemLineDetail = SalesItemLineDetail()
        line.SalesItemLineDetail.ItemRef = self.item.to_ref()
        invoice.Line = [line]
        invoice.CustomerRef = customer.to_ref()
        invoice.DocNumber = number
        invoice.TxnDate = str(data.get("postedTimestamp") or "")[:10] or None
        invoice.PrivateNote = f"{MARKER}:invoice:{data['id']}"
        saved = self._qbo(lambda: invoice.save(qb=self.qb))
        self.result.records += 1
        return saved

    def save_payment(self, activity: dict[str, Any], customer: Any, invoices: dict[int, Any]) -> Any:
        from quickbooks.objects.base import LinkedTxn
        from quickbooks.objects.payment import Payment, PaymentLine

        amount = Decimal(str(activity["amount"]))
        day = str(activity.get("effectiveTimestamp") or "")[:10]
        found = self._qbo(lambda: Payment.where(f"CustomerRef = '{customer.Id}' AND TxnDate = '{day}' AND TotalAmt = '{amount}'", qb=self.qb))
        payment = found[0] if found else Payment()
        payment.TotalAmt = amount
        payment.CustomerRef = customer.to_ref()
        payment.TxnDate = day or None
        lines = []
        for allocation in activity.get("invoices") or []:
            target = invoices.get(allocation.get("invoiceId"))
            if target is None:
                continue
            line = PaymentLine()
            line.Amount = Decimal(str(allocation["amount"]))
            linked = LinkedTxn()
            linked.TxnId, linked.TxnType = target.Id, "Invoice"
            line.LinkedTxn = [linked]
            lines.append(line)
        payment.Line = lines
        payment.PrivateNote = f"{MARKER}:payment:{activity['id']}"
        saved = self._qbo(lambda: payment.save(qb=self.qb))
        self.result.records += 1
        return saved
