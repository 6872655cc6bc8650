"""Issue #7, rule 13: a record's modifiedTimestamp changes when that record changes, and only then.
A customer is not re-stamped when its invoices, payments, credits... change (no evidence says
Fusebill does that); the `propagate_modified` switch (off by default) turns that on. Each child
shows its own change through its own list (invoice summaries, payment activities)."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest

from emulators.fusebill import FusebillEmulatorConfig
from emulators.fusebill.jsonwire import loads
from emulators.fusebill.testing import running_emulator
from emulators.sampledata import generate
from emulators.sampledata.money import format_timestamp


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 4, 1, 8, 0, 0)

    def __call__(self) -> datetime:
        return self.now

    def tick(self) -> str:
        self.now += timedelta(minutes=1)
        return self.now.isoformat()


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def emulator(clock):
    with running_emulator(FusebillEmulatorConfig(clock=clock)) as running:
        yield running


@contextmanager
def propagating(emulator):
    emulator.settings(propagate_modified=True)
    try:
        yield
    finally:
        emulator.settings(propagate_modified=False)


def _get(emulator, key, path, **params):
    response = emulator.get(key, path, **params)
    assert response.status_code == 200, response.text
    return loads(response.content)


def _history(emulator, clock, key):
    """A customer, then one change per minute to its records; returns ids and the stamp of each step."""
    stamps = {"created": clock.tick()}
    customer_id = emulator.records(key, {"op": "create_customer", "currency": "CAD", "jurisdiction": "CA-ON",
                                         "companyName": "Stamp Co"})["results"][0]["id"]
    stamps["invoice"] = clock.tick()
    invoice = emulator.records(key, {"op": "post_invoice", "customer_id": customer_id,
                                     "charges": [{"name": "Plan", "amount": "100.00"}, {"name": "Seat", "amount": "50.00"}]})["results"][0]
    stamps["payment"] = clock.tick()
    payment = emulator.records(key, {"op": "collect_payment", "customer_id": customer_id, "amount": "80.00"})["results"][0]
    stamps["allocation"] = clock.tick()
    emulator.records(key, {"op": "allocate_payment", "payment_id": payment["id"], "invoice_id": invoice["id"], "amount": "60.00"})
    stamps["refund"] = clock.tick()
    refund = emulator.records(key, {"op": "refund", "payment_id": payment["id"], "amount": "10.00"})["results"][0]
    stamps["credit"] = clock.tick()
    credit = emulator.records(key, {"op": "credit", "customer_id": customer_id, "amount": "5.00"})["results"][0]
    stamps["credit_note"] = clock.tick()
    charges = _get(emulator, key, f"/Invoices/{invoice['id']}")["charges"]
    note = emulator.records(key, {"op": "reverse_charges", "invoice_id": invoice["id"],
                                  "charges": [{"charge_id": charges[1]["transactionId"]}]})["results"][0]
    return {"customer": customer_id, "invoice": invoice["id"], "payment": payment["id"],
            "collect_activity": payment["paymentActivityId"], "refund": refund["id"],
            "refund_activity": refund["paymentActivityId"], "credit": credit["id"], "note": note["id"]}, stamps


def test_a_customer_is_not_stamped_when_its_records_change(emulator, clock):
    key = emulator.create_account("live")
    ids, stamps = _history(emulator, clock, key)
    assert _get(emulator, key, f"/customers/{ids['customer']}")["modifiedTimestamp"] == stamps["created"]
    after_creation = format_timestamp(datetime.fromisoformat(stamps["created"]) + timedelta(seconds=1))
    assert _get(emulator, key, "/customers", query=f"modifiedTimestamp:{after_creation}|") == []
    # Its invoices' Customer.ModifiedTimestamp is the customer's own stamp too.
    assert _get(emulator, key, "/Invoices", query=f"Customer.ModifiedTimestamp:{after_creation}|") == []
    # A change to the customer itself does stamp it.
    renamed = clock.tick()
    changed = emulator.records(key, {"op": "update_customer", "customer_id": ids["customer"], "set": {"companyName": "Renamed"}})
    assert changed["changed"] == {"customer": [ids["customer"]]}
    assert _get(emulator, key, f"/customers/{ids['customer']}")["modifiedTimestamp"] == renamed
    assert [i["id"] for i in _get(emulator, key, "/Invoices", query=f"Customer.ModifiedTimestamp:{renamed}|")] == [ids["invoice"]]


def test_each_child_carries_its_own_stamp_and_shows_in_its_own_list(emulator, clock):
    key = emulator.create_account("live")
    ids, stamps = _history(emulator, clock, key)
    # The invoice was last changed by the credit note (its balance moved): summaries find it by that.
    assert _get(emulator, key, f"/Invoices/{ids['invoice']}")["modifiedTimestamp"] == stamps["credit_note"]
    found = _get(emulator, key, "/invoiceSummaries", query=f"modifiedTimestamp:{stamps['credit_note']}|")
    assert [s["id"] for s in found] == [ids["invoice"]]
    # Activities keep the stamp of their creation: the collect stays at "payment" although its payment
    # was allocated and refunded later; the refund shows up as a new activity.
    activities = {a["id"]: a for a in _get(emulator, key, f"/customers/{ids['customer']}/paymentactivities")}
    assert activities[ids["collect_activity"]]["modifiedTimestamp"] == stamps["payment"]
    assert activities[ids["refund_activity"]]["modifiedTimestamp"] == stamps["refund"]
    recent = _get(emulator, key, "/PaymentActivities/GetByAccountID", query=f"modifiedTimestamp:{stamps['allocation']}|")
    assert [a["id"] for a in recent] == [ids["refund_activity"]]


def test_a_later_allocation_stamps_the_invoice_and_not_the_activity(emulator, clock):
    key = emulator.create_account("live")
    created = emulator.records(key, {"op": "create_customer", "currency": "USD"})["results"][0]["id"]
    invoice = emulator.records(key, {"op": "post_invoice", "customer_id": created, "charges": [{"name": "Plan", "amount": "30.00"}]})["results"][0]["id"]
    paid_at = clock.tick()
    payment = emulator.records(key, {"op": "collect_payment", "customer_id": created, "amount": "30.00"})["results"][0]
    allocated_at = clock.tick()
    result = emulator.records(key, {"op": "allocate_payment", "payment_id": payment["id"], "invoice_id": invoice, "amount": "30.00"})
    assert result["changed"] == {"invoice": [invoice], "payment": [payment["id"]]}
    assert _get(emulator, key, f"/Invoices/{invoice}")["modifiedTimestamp"] == allocated_at
    activity = _get(emulator, key, f"/PaymentActivities/{payment['paymentActivityId']}")
    assert activity["modifiedTimestamp"] == paid_at and activity["transaction"]["unallocatedAmount"] == 0
    with propagating(emulator):  # the switch: the activity follows the payment it shows
        assert _get(emulator, key, f"/PaymentActivities/{payment['paymentActivityId']}")["modifiedTimestamp"] == allocated_at


def test_the_propagation_switch_stamps_the_customer_with_any_record_change(emulator, clock):
    key = emulator.create_account("live")
    ids, stamps = _history(emulator, clock, key)
    with propagating(emulator):
        assert emulator.settings()["propagate_modified"] is True
        assert _get(emulator, key, f"/customers/{ids['customer']}")["modifiedTimestamp"] == stamps["credit_note"]
        recent = _get(emulator, key, "/customers", query=f"modifiedTimestamp:{stamps['credit_note']}|")
        assert [c["id"] for c in recent] == [ids["customer"]]
        assert [i["id"] for i in _get(emulator, key, "/Invoices", query=f"Customer.ModifiedTimestamp:{stamps['credit_note']}|")] == [ids["invoice"]]
        credited = clock.tick()
        changed = emulator.records(key, {"op": "credit", "customer_id": ids["customer"], "amount": "1.00"})["changed"]
        assert changed["customer"] == [ids["customer"]]
        assert _get(emulator, key, f"/customers/{ids['customer']}")["modifiedTimestamp"] == credited
    # Off again: the customer's own stamp is served (stamps are stored per record, not propagated).
    assert _get(emulator, key, f"/customers/{ids['customer']}")["modifiedTimestamp"] == stamps["created"]


def test_the_switch_is_off_by_default_settable_by_config_and_reset_restores_it():
    with running_emulator() as emulator:
        assert emulator.settings() == {"propagate_modified": False, "max_page_index": "last_index", "rate_reset_format": "naive"}
        emulator.settings(propagate_modified=True)
        emulator.reset()
        assert emulator.settings()["propagate_modified"] is False
        refused = emulator.session.post(f"{emulator.control_url}/settings", json={"propagate_modified": "yes"}, timeout=10)
        assert refused.status_code == 400
        assert emulator.session.post(f"{emulator.control_url}/settings", json={"nope": 1}, timeout=10).status_code == 400
    with running_emulator(FusebillEmulatorConfig(propagate_modified=True)) as emulator:
        assert emulator.settings()["propagate_modified"] is True


def test_seeded_customers_show_their_own_stamp_unless_propagating(emulator):
    key = emulator.create_account("live")
    emulator.seed(key, 30, 6)
    dataset = generate(30, 6)  # the generator's customer.modified is the latest change of anything
    own = {b.customer.id: format_timestamp(b.customer.activated or b.customer.created) for b in dataset.customers}
    latest = {b.customer.id: format_timestamp(b.customer.modified) for b in dataset.customers}
    assert own != latest
    assert {c["id"]: c["modifiedTimestamp"] for c in _get(emulator, key, "/customers", pageSize=100)} == own
    with propagating(emulator):
        assert {c["id"]: c["modifiedTimestamp"] for c in _get(emulator, key, "/customers", pageSize=100)} == latest
    activities = {a.id: a for b in dataset.customers for a in b.payment_activities}
    for row in _get(emulator, key, "/PaymentActivities/GetByAccountID", pageSize=1000):
        assert row["modifiedTimestamp"] == format_timestamp(activities[row["id"]].created)
