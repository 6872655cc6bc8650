"""Webhooks: every records change is POSTed with the base64 key, retried 1, 2 and 3 (scaled)
minutes after the first failure, then given up."""
from __future__ import annotations

import base64
import json

import pytest

from emulators.fusebill import FusebillEmulatorConfig, shapes
from emulators.fusebill.testing import running_emulator

# 600x: the retries come 0.1 s, 0.2 s and 0.3 s after the first failure.
TIME_SCALE = 600


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(FusebillEmulatorConfig(time_scale=TIME_SCALE, webhook_timeout_seconds=0.3)) as running:
        yield running


def _new_customer(emulator, key, **fields):
    return emulator.records(key, {"op": "create_customer", "currency": "USD", **fields})["results"][0]["id"]


def test_changes_are_delivered_with_the_key_base64_encoded(emulator, receiver):
    key = emulator.create_account("live")
    emulator.register_webhook(key, receiver.url, "s3cret-key")
    customer_id = _new_customer(emulator, key, companyName="Hooked Inc.")
    received = receiver.wait_for(1)
    assert emulator.wait_for_webhooks(5)
    assert len(received) == 1
    headers = received[0]["headers"]
    assert headers[shapes.WEBHOOK_KEY_HEADER] == base64.b64encode(b"s3cret-key").decode()
    assert headers["Content-Type"] == "application/json"
    body = json.loads(received[0]["body"])
    assert (body["eventType"], body["entityType"], body["entityId"], body["customerId"]) == (
        "CustomerCreated", "Customer", customer_id, customer_id)
    assert body["entity"]["companyName"] == "Hooked Inc."


def test_one_change_notifies_every_record_it_touched(emulator, receiver):
    key = emulator.create_account("live")
    customer_id = _new_customer(emulator, key)
    invoice = emulator.records(key, {"op": "post_invoice", "customer_id": customer_id, "charges": [{"name": "Plan", "amount": "10.00"}]})
    emulator.register_webhook(key, receiver.url, "k")
    emulator.records(key, {"op": "collect_payment", "customer_id": customer_id, "amount": "10.00",
                           "allocations": [{"invoice_id": invoice["results"][0]["id"], "amount": "10.00"}]})
    assert emulator.wait_for_webhooks(5)
    events = sorted(json.loads(r["body"])["eventType"] for r in receiver.received)
    # No CustomerUpdated: a customer's records changing does not change the customer (rules.py).
    assert events == ["InvoiceUpdated", "PaymentActivityCreated", "PaymentCreated"]
    invoice_event = next(json.loads(r["body"]) for r in receiver.received if "InvoiceUpdated" in r["body"])
    assert invoice_event["entity"]["outstandingBalance"] == 0


def test_failed_deliveries_are_retried_on_fusebills_schedule(receiver):
    # 150x: retries 0.4 s and 0.8 s after the first failure. Counted from each previous attempt
    # instead, the second would come at 1.2 s: the bounds below tell the two apart with room for a
    # busy machine.
    receiver.statuses = [500, 503]
    with running_emulator(FusebillEmulatorConfig(time_scale=150)) as emulator:
        key = emulator.create_account("live")
        emulator.register_webhook(key, receiver.url, "k")
        _new_customer(emulator, key)
        received = receiver.wait_for(3)
        assert emulator.wait_for_webhooks(5)
        delivery = emulator.webhook_log(key)["deliveries"][0]
    assert len(received) == 3
    first_failure = received[0]["at"]
    offsets = [r["at"] - first_failure for r in received[1:]]
    assert 0.39 <= offsets[0] < 0.7 and 0.79 <= offsets[1] < 1.1, offsets
    assert delivery["state"] == "delivered"
    assert [a["status"] for a in delivery["attempts"]] == [500, 503, 200]


def test_after_three_retries_the_delivery_is_given_up(emulator, receiver):
    receiver.statuses = [500] * 10
    key = emulator.create_account("live")
    emulator.register_webhook(key, receiver.url, "k")
    _new_customer(emulator, key)
    assert emulator.wait_for_webhooks(5)
    assert len(receiver.received) == 4
    delivery = emulator.webhook_log(key)["deliveries"][0]
    assert delivery["state"] == "failed" and len(delivery["attempts"]) == 4


def test_a_slow_receiver_times_out_and_is_retried(emulator, receiver):
    receiver.delay_seconds = 0.6  # the emulator gives up on each attempt after 0.3 s
    key = emulator.create_account("live")
    emulator.register_webhook(key, receiver.url, "k")
    _new_customer(emulator, key)
    assert emulator.wait_for_webhooks(10)
    delivery = emulator.webhook_log(key)["deliveries"][0]
    assert delivery["state"] == "failed"
    assert all(a["status"] is None and "Timeout" in a["error"] for a in delivery["attempts"])


def test_an_unreachable_receiver_is_a_failed_attempt_not_a_crash(emulator):
    key = emulator.create_account("live")
    emulator.register_webhook(key, "http://127.0.0.1:9/nobody-listens", "k")
    _new_customer(emulator, key)
    assert emulator.wait_for_webhooks(5)
    delivery = emulator.webhook_log(key)["deliveries"][0]
    assert delivery["state"] == "failed" and delivery["attempts"][0]["error"]


def test_a_registration_can_choose_its_events(emulator, receiver):
    key = emulator.create_account("live")
    emulator.register_webhook(key, receiver.url, "k", events=["InvoicePosted"])
    customer_id = _new_customer(emulator, key)
    emulator.records(key, {"op": "post_invoice", "customer_id": customer_id, "charges": [{"name": "Plan", "amount": "5.00"}]})
    assert emulator.wait_for_webhooks(5)
    assert [json.loads(r["body"])["eventType"] for r in receiver.received] == ["InvoicePosted"]


def test_bad_registrations_are_refused(emulator):
    key = emulator.create_account("live")
    for body in ({"url": "ftp://x", "key": "k"}, {"url": "http://127.0.0.1:1/", "key": ""},
                 {"url": "http://127.0.0.1:1/", "key": "k", "events": ["NoSuchEvent"]}):
        response = emulator.session.post(f"{emulator.control_url}/webhooks", json={"api_key": key, **body}, timeout=10)
        assert response.status_code == 400
