"""Fusebill reads, on documented ground only (fusebill-api.md), paced by a limiter shared in Redis.

A run first reads the account-wide lists at page size 1,000: `/customers`, `/invoiceSummaries` and
`/PaymentActivities/GetByAccountID` filtered by `modifiedTimestamp` (everything on a first run), and
`/CreditNotes` (it documents no time filter). Then, per customer that changed, only what no list
carries: `/Customers/{id}/Invoices` (charges and taxes) and `/customers/{id}/customerArActivities`
(credits, credit reversals, write-offs) — about 2 requests per customer on a first sync. On a later
run a changed customer also costs `/customers/{id}/paymentactivities` (its payments that did not
change are not in the filtered list) and, when the customer record itself did not change,
`/customers/{id}`. A charge reversal is read in full (`/CreditNotes/{id}`: its reversed taxes per
rule) only in a company with tax codes, where the mapping needs them; elsewhere the list's summary
(net, total tax) is all it needs.

Gap, named: credits, credit reversals and write-offs appear in no account-wide list, and nothing
documents that they change the customer's `modifiedTimestamp`. One that touches no invoice (an
unallocated credit) on a customer with no other change is found by a full run (`full=True`), a
webhook (a later issue) or the customer's next change.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from jobs.sync.mapping import CustomerData
from portal.clients.fusebill import FusebillClient

PAGE = 1000
Keep = Callable[[str, str, dict[str, Any]], None]


def since_filter(since: datetime | None) -> dict[str, str]:
    if since is None:
        return {}
    stamp = since.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")
    return {"query": f"modifiedTimestamp:{stamp}|"}


@dataclass
class Changes:
    """What the account-wide lists said, grouped by customer id (strings)."""

    full: bool
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)  # changed (or all) customers
    activities: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    credit_notes: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    changed: set[str] = field(default_factory=set)


class FusebillReader:
    def __init__(self, client: FusebillClient) -> None:
        self.client = client

    def changes(self, since: datetime | None, known_credit_notes: set[str], keep: Keep | None = None) -> Changes:
        """Customers whose records changed since `since` (None: every customer, a first run).

        With `keep`, the customer records and payment activities are handed to it page by page
        (kind "customer" or "activity", customer id, record) instead of being held here: a run of
        10,000 customers then never holds the account's lists in memory."""
        found = Changes(full=since is None)
        query = since_filter(since)
        for customer in self.client.iter_list("customers", dict(query), PAGE):
            customer_id = str(customer["id"])
            found.changed.add(customer_id)
            if keep is not None:
                keep("customer", customer_id, customer)
            else:
                found.customers[customer_id] = customer
        if since is not None:
            for summary in self.client.iter_list("invoiceSummaries", dict(query), PAGE):
                found.changed.add(str(summary["customerId"]))
        for activity in self.client.iter_list("PaymentActivities/GetByAccountID", dict(query), PAGE):
            customer_id = str(activity["customerId"])
            found.changed.add(customer_id)
            if since is None:
                if keep is not None:
                    keep("activity", customer_id, activity)
                else:
                    found.activities[customer_id].append(activity)
        for note in self.client.iter_list("CreditNotes", {}, PAGE):
            customer_id = str(note.get("customerId") or (note.get("invoice") or {}).get("customerId") or "")
            if not customer_id:
                continue
            found.credit_notes[customer_id].append(note)
            if str(note["id"]) not in known_credit_notes:
                found.changed.add(customer_id)
        return found

    def customer(self, customer_id: str, changes: Changes, per_rule_taxes: bool = False) -> CustomerData:
        """Everything the mapping needs about one customer."""
        record = changes.customers.get(customer_id)
        if record is None:
            record = self.client._get(f"customers/{customer_id}").json()
        invoices = list(self.client.iter_list(f"Customers/{customer_id}/Invoices", {}, PAGE))
        ar = list(self.client.iter_list(f"customers/{customer_id}/customerArActivities", {}, PAGE))
        if changes.full:
            activities = changes.activities.get(customer_id, [])
        else:
            activities = list(self.client.iter_list(f"customers/{customer_id}/paymentactivities", {}, PAGE))
        notes = [self.credit_note(note, per_rule_taxes) for note in changes.credit_notes.get(customer_id, [])]
        return CustomerData(customer=record, invoices=invoices, payment_activities=activities, ar_activities=ar, credit_notes=notes)

    def credit_note(self, summary: dict[str, Any], per_rule_taxes: bool) -> dict[str, Any]:
        """A credit note as the mapping needs it. The summary carries its net, total tax and total;
        the reversed tax per rule (companies with tax codes only) needs `/CreditNotes/{id}`, read
        each time its customer is synced (nothing of ours keeps it)."""
        taxed = str(summary.get("totalTaxAmount") or "0") not in ("0", "0.0", "0.00")
        if per_rule_taxes and taxed and summary.get("taxes") is None:
            return self.client._get(f"CreditNotes/{summary['id']}").json()
        return summary


