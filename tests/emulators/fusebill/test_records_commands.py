"""The /_emulator/records command language: changes that drive an incremental sync."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from emulators.fusebill import FusebillEmulatorConfig
from emulators.fusebill.jsonwire import loads
from emulators.fusebill.testing import ControlCallFailed, running_emulator


class Clock:
    """A controllable emulator clock: every test step happens a minute later."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 9, 0, 0)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, minutes: int = 1) -> str:
        self.now += timedelta(minutes=minutes)
        return self.now.isoformat()


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def emulator(clock):
    """One emulator for the module (each test makes its own account); its clock moves on demand."""
    with running_emulator(FusebillEmulatorConfig(clock=clock)) as running:
        yield running


def _get(emulator, key, path, **params):
    response = emulator.get(key, path, **params)
    assert response.status_code == 200, response.text
    return loads(response.content)


def _customer_with_invoice(emulator, key, amount="100.00", jurisdiction=""):
    result = emulator.records(
        key,
        {"op": "create_customer", "currency": "CAD", "companyName": "Maple Ltd", "jurisdiction": jurisdiction},
    )
    customer_id = result["results"][0]["id"]
    invoice = emulator.records(key, {"op": "post_invoice", "customer_id": customer_id, "charges": [{"name": "Plan", "amount": amount}]})
    return customer_id, invoice["results"][0]["id"]


def test_a_rename_bumps_the_customer_and_shows_in_an_incremental_query(emulator, clock):
    key = emulator.create_account("live")
    emulator.seed(key, 20, 4)
    customers = _get(emulator, key, "/customers", pageSize=100)
    since = clock.tick()
    target = customers[5]["id"]
    changed = emulator.records(key, {"op": "update_customer", "customer_id": target, "set": {"companyName": "Renamed: Ltd"}})
    assert changed["changed"] == {"customer": [target]}
    recent = _get(emulator, key, "/customers", query=f"modifiedTimestamp:{since}|")
    assert [c["id"] for c in recent] == [target]
    assert recent[0]["companyName"] == "Renamed: Ltd" and recent[0]["modifiedTimestamp"] == since


def test_a_payment_bumps_the_invoice_payment_and_new_activity_but_not_the_customer(emulator, clock):
    key = emulator.create_account("live")
    customer_id, invoice_id = _customer_with_invoice(emulator, key, "80.00")
    customer_stamp = _get(emulator, key, f"/customers/{customer_id}")["modifiedTimestamp"]
    stamp = clock.tick()
    result = emulator.records(key, {
        "op": "collect_payment", "customer_id": customer_id, "amount": "100.00",
        "allocations": [{"invoice_id": invoice_id, "amount": "80.00"}], "reference": "CHK-1",
    })
    payment_id = result["results"][0]["id"]
    activity_id = result["results"][0]["paymentActivityId"]
    assert result["changed"] == {"invoice": [invoice_id], "payment": [payment_id], "payment_activity": [activity_id]}
    assert _get(emulator, key, f"/customers/{customer_id}")["modifiedTimestamp"] == customer_stamp
    invoice = _get(emulator, key, f"/Invoices/{invoice_id}")
    assert (invoice["outstandingBalance"], invoice["totalPayments"], invoice["modifiedTimestamp"]) == (Decimal("0.00"), Decimal("80.00"), stamp)
    payment = _get(emulator, key, f"/payments/{payment_id}")
    assert payment["unallocatedAmount"] == Decimal("20.00")
    assert _get(emulator, key, f"/customers/{customer_id}/overview")["arBalance"] == Decimal("-20.00")
    assert [s["invoiceStatus"] for s in _get(emulator, key, "/invoiceSummaries", query=f"modifiedTimestamp:{stamp}|")] == ["Paid"]
    activities = _get(emulator, key, f"/customers/{customer_id}/paymentactivities", query=f"modifiedTimestamp:{stamp}|")
    assert [a["id"] for a in activities] == [activity_id]


def test_allocating_unallocated_money_later_updates_payment_and_invoice(emulator, clock):
    key = emulator.create_account("live")
    customer_id, first = _customer_with_invoice(emulator, key, "30.00")
    payment = emulator.records(key, {"op": "collect_payment", "customer_id": customer_id, "amount": "50.00"})["results"][0]["id"]
    second = emulator.records(key, {"op": "post_invoice", "customer_id": customer_id, "charges": [{"name": "Seat", "amount": "45.00"}]})["results"][0]["id"]
    stamp = clock.tick()
    emulator.records(key, {"op": "allocate_payment", "payment_id": payment, "invoice_id": first, "amount": "30.00"},
                     {"op": "allocate_payment", "payment_id": payment, "invoice_id": second, "amount": "20.00"})
    assert _get(emulator, key, f"/payments/{payment}")["unallocatedAmount"] == 0
    summaries = {s["id"]: s for s in _get(emulator, key, f"/customers/{customer_id}/invoiceSummaries")}
    assert (summaries[first]["outstandingBalance"], summaries[second]["outstandingBalance"]) == (0, Decimal("25.00"))
    assert summaries[first]["modifiedTimestamp"] == summaries[second]["modifiedTimestamp"] == stamp
    allocations = _get(emulator, key, f"/invoices/{second}/paymentAllocations")
    assert [(a["paymentId"], a["amount"], a["effectiveTimestamp"]) for a in allocations] == [(payment, Decimal("20.00"), stamp)]


def test_a_refund_of_allocated_money_reopens_the_invoice(emulator):
    key = emulator.create_account("live")
    customer_id, invoice_id = _customer_with_invoice(emulator, key, "60.00")
    payment = emulator.records(key, {"op": "collect_payment", "customer_id": customer_id, "amount": "60.00",
                                     "allocations": [{"invoice_id": invoice_id, "amount": "60.00"}]})["results"][0]["id"]
    refund = emulator.records(key, {"op": "refund", "payment_id": payment, "amount": "25.00",
                                    "allocations": [{"invoice_id": invoice_id, "amount": "25.00"}]})["results"][0]
    invoice = _get(emulator, key, f"/Invoices/{invoice_id}")
    assert (invoice["outstandingBalance"], invoice["totalPayments"]) == (Decimal("25.00"), Decimal("35.00"))
    shown = _get(emulator, key, f"/Refunds/{refund['id']}")
    assert shown["invoiceAllocations"][0]["outstandingBalance"] == Decimal("25.00")
    assert _get(emulator, key, f"/PaymentActivities/{refund['paymentActivityId']}")["transactionType"] == "Refund"
    assert _get(emulator, key, f"/payments/{payment}")["refundableAmount"] == Decimal("35.00")
    assert _get(emulator, key, f"/customers/{customer_id}/overview")["arBalance"] == Decimal("25.00")


def test_credit_applied_then_reversed(emulator):
    key = emulator.create_account("live")
    customer_id, invoice_id = _customer_with_invoice(emulator, key, "40.00")
    credit = emulator.records(key, {"op": "credit", "customer_id": customer_id, "amount": "50.00", "reference": "Goodwill",
                                    "allocations": [{"invoice_id": invoice_id, "amount": "40.00"}]})["results"][0]["id"]
    debit = emulator.records(key, {"op": "reverse_credit", "credit_id": credit, "amount": "15.00",
                                   "allocations": [{"invoice_id": invoice_id, "amount": "10.00"}]})["results"][0]["id"]
    shown = _get(emulator, key, f"/Credits/{credit}")
    assert (shown["unallocatedAmount"], shown["reversableAmount"], [d["id"] for d in shown["debits"]]) == (
        Decimal("5.00"), Decimal("35.00"), [debit])
    assert _get(emulator, key, f"/Invoices/{invoice_id}")["outstandingBalance"] == Decimal("10.00")
    assert _get(emulator, key, f"/invoices/{invoice_id}/creditAllocations")[0]["creditId"] == credit
    assert _get(emulator, key, f"/customers/{customer_id}/overview")["arBalance"] == Decimal("5.00")


def test_a_charge_reversal_is_a_credit_note_with_reversed_tax(emulator):
    key = emulator.create_account("live")
    created = emulator.records(key, {"op": "create_customer", "currency": "CAD", "jurisdiction": "CA-QC", "lastName": "Côté"})
    customer_id = created["results"][0]["id"]
    invoice = emulator.records(key, {"op": "post_invoice", "customer_id": customer_id,
                                     "charges": [{"name": "Training", "amount": "33.33"}] * 3})["results"][0]
    assert invoice["invoiceAmount"] == Decimal("114.96")  # 99.99 + GST 5.00 + QST 9.97
    charges = _get(emulator, key, f"/Invoices/{invoice['id']}")["charges"]
    notes = [
        emulator.records(key, {"op": "reverse_charges", "invoice_id": invoice["id"], "charges": [{"charge_id": c["transactionId"]}]})["results"][0]
        for c in charges
    ]
    assert [n["creditNotesNumber"] for n in notes] == ["01-CR-01", "01-CR-02", "01-CR-03"]
    reversed_taxes = [
        [t["amount"] for t in _get(emulator, key, f"/CreditNotes/{n['id']}")["taxes"]] for n in notes
    ]
    # 1.67 + 3.32 on the first two, and the last gives back exactly what is left: 1.66 + 3.33.
    assert reversed_taxes == [[Decimal("1.67"), Decimal("3.32")], [Decimal("1.67"), Decimal("3.32")], [Decimal("1.66"), Decimal("3.33")]]
    invoice_now = _get(emulator, key, f"/Invoices/{invoice['id']}")
    assert (invoice_now["sumOfCreditNotes"], invoice_now["outstandingBalance"]) == (Decimal("114.96"), 0)


def test_reversing_the_charges_of_a_paid_invoice_leaves_open_credit(emulator, clock):
    # Issue #8 [U]: allowed; the balance stops at zero and the excess is the customer's open credit.
    key = emulator.create_account("live")
    customer_id, invoice_id = _customer_with_invoice(emulator, key, "100.00", jurisdiction="CA-ON")  # 113.00
    emulator.records(key, {"op": "collect_payment", "customer_id": customer_id, "amount": "113.00",
                           "allocations": [{"invoice_id": invoice_id, "amount": "113.00"}]})
    paid_at = _get(emulator, key, f"/Invoices/{invoice_id}")["datePaid"]
    clock.tick()
    result = emulator.records(key, {"op": "reverse_charges", "invoice_id": invoice_id, "all": True, "reference": "Refunded elsewhere"})
    note = result["results"][0]
    assert note["totalAmount"] == Decimal("113.00") and "invoice" in result["changed"]
    invoice = _get(emulator, key, f"/Invoices/{invoice_id}")
    assert (invoice["outstandingBalance"], invoice["sumOfCreditNotes"], invoice["totalPayments"]) == (
        0, Decimal("113.00"), Decimal("113.00"))
    assert invoice["datePaid"] == paid_at  # it was already paid
    assert _get(emulator, key, f"/customers/{customer_id}/invoiceSummaries")[0]["invoiceStatus"] == "Paid"
    overview = _get(emulator, key, f"/customers/{customer_id}/overview")
    assert (overview["arBalance"], overview["unallocatedPayments"], overview["unallocatedCredits"]) == (
        Decimal("-113.00"), 0, Decimal("113.00"))
    shown = _get(emulator, key, f"/CreditNotes/{note['id']}")
    assert (shown["netAmount"], shown["totalTaxAmount"]) == (Decimal("100.00"), Decimal("13.00"))
    # Everything is reversed now: nothing more of the charge or its tax can be.
    response = emulator.session.post(f"{emulator.control_url}/records", json={"api_key": key, "commands": [
        {"op": "reverse_charges", "invoice_id": invoice_id, "all": True}]}, timeout=10)
    assert response.status_code == 400 and "nothing left" in response.json()["error"]


def test_a_reversal_beyond_a_partly_paid_balance_credits_only_the_excess(emulator):
    key = emulator.create_account("live")
    created = emulator.records(key, {"op": "create_customer", "currency": "CAD", "jurisdiction": "CA-ON", "lastName": "Roy"})
    customer_id = created["results"][0]["id"]
    invoice = emulator.records(key, {"op": "post_invoice", "customer_id": customer_id,
                                     "charges": [{"name": "Plan", "amount": "40.00"}, {"name": "Seats", "amount": "60.00"}]})["results"][0]
    charges = _get(emulator, key, f"/Invoices/{invoice['id']}")["charges"]
    emulator.records(key, {"op": "collect_payment", "customer_id": customer_id, "amount": "50.00",
                           "allocations": [{"invoice_id": invoice["id"], "amount": "50.00"}]})
    first = emulator.records(key, {"op": "reverse_charges", "invoice_id": invoice["id"],
                                   "charges": [{"charge_id": charges[0]["transactionId"]}]})["results"][0]
    assert first["totalAmount"] == Decimal("45.20")  # within the 63.00 still owed
    assert _get(emulator, key, f"/Invoices/{invoice['id']}")["outstandingBalance"] == Decimal("17.80")
    second = emulator.records(key, {"op": "reverse_charges", "invoice_id": invoice["id"], "all": True})["results"][0]
    assert second["totalAmount"] == Decimal("67.80")  # 17.80 closes the invoice, 50.00 is open credit
    assert _get(emulator, key, f"/Invoices/{invoice['id']}")["outstandingBalance"] == 0
    overview = _get(emulator, key, f"/customers/{customer_id}/overview")
    assert (overview["arBalance"], overview["unallocatedCredits"]) == (Decimal("-50.00"), Decimal("50.00"))


def test_a_reversal_still_cannot_exceed_the_charge_or_its_tax(emulator):
    key = emulator.create_account("live")
    customer_id, invoice_id = _customer_with_invoice(emulator, key, "100.00", jurisdiction="CA-ON")
    emulator.records(key, {"op": "collect_payment", "customer_id": customer_id, "amount": "113.00",
                           "allocations": [{"invoice_id": invoice_id, "amount": "113.00"}]})
    charge = _get(emulator, key, f"/Invoices/{invoice_id}")["charges"][0]["transactionId"]
    hst = _get(emulator, key, f"/Invoices/{invoice_id}")["taxes"][0]["taxRuleId"]
    attempts = {
        "more than the charge": {"op": "reverse_charges", "invoice_id": invoice_id, "charges": [{"charge_id": charge, "amount": "100.01"}]},
        "more tax than charged": {"op": "reverse_charges", "invoice_id": invoice_id, "charges": [{"charge_id": charge}],
                                  "taxes": [{"taxRuleId": hst, "amount": "13.01"}]},
    }
    for name, command in attempts.items():
        response = emulator.session.post(f"{emulator.control_url}/records", json={"api_key": key, "commands": [command]}, timeout=10)
        assert response.status_code == 400 and "reverses" in response.json()["error"], name
    assert _get(emulator, key, f"/customers/{customer_id}/overview")["unallocatedCredits"] == 0


def test_a_write_off_takes_what_is_outstanding(emulator):
    key = emulator.create_account("live")
    customer_id, invoice_id = _customer_with_invoice(emulator, key, "70.00")
    emulator.records(key, {"op": "collect_payment", "customer_id": customer_id, "amount": "20.00",
                           "allocations": [{"invoice_id": invoice_id, "amount": "20.00"}]})
    result = emulator.records(key, {"op": "write_off", "invoice_id": invoice_id, "reference": "Bad debt"})["results"][0]
    assert result["amount"] == Decimal("50.00")
    summary = _get(emulator, key, f"/customers/{customer_id}/invoiceSummaries")[0]
    assert (summary["invoiceStatus"], summary["writeoffs"], summary["outstandingBalance"]) == ("WrittenOff", Decimal("50.00"), 0)


def test_draft_customers_cannot_be_billed_until_activated(emulator, clock):
    key = emulator.create_account("live")
    customer_id = emulator.records(key, {"op": "create_customer", "currency": "USD", "status": "Draft", "firstName": "Ada"})["results"][0]["id"]
    with pytest.raises(ControlCallFailed, match="Draft"):
        emulator.records(key, {"op": "post_invoice", "customer_id": customer_id, "charges": [{"name": "Plan", "amount": "9.00"}]})
    stamp = clock.tick()
    emulator.records(key, {"op": "update_customer", "customer_id": customer_id, "set": {"status": "Active"}})
    customer = _get(emulator, key, f"/customers/{customer_id}")
    assert (customer["status"], customer["activationTimestamp"], customer["modifiedTimestamp"]) == ("Active", stamp, stamp)
    emulator.records(key, {"op": "post_invoice", "customer_id": customer_id, "charges": [{"name": "Plan", "amount": "9.00"}]})
    with pytest.raises(ControlCallFailed, match="back to Draft"):
        emulator.records(key, {"op": "update_customer", "customer_id": customer_id, "set": {"status": "Draft"}})


def test_failed_and_validate_activities_move_no_money(emulator):
    key = emulator.create_account("live")
    customer_id, invoice_id = _customer_with_invoice(emulator, key, "10.00")
    emulator.records(key, {"op": "payment_activity", "customer_id": customer_id, "status": "Failed", "transactionType": "Collect", "amount": "10.00"},
                     {"op": "payment_activity", "customer_id": customer_id, "status": "Successful", "transactionType": "Validate", "amount": "0"})
    activities = _get(emulator, key, f"/customers/{customer_id}/paymentactivities")
    assert [(a["status"], a["transactionType"], a["transaction"]) for a in activities] == [
        ("Failed", "Collect", None), ("Successful", "Validate", None)]
    assert _get(emulator, key, f"/customers/{customer_id}/overview")["arBalance"] == Decimal("10.00")
    with pytest.raises(ControlCallFailed, match="collect_payment"):
        emulator.records(key, {"op": "payment_activity", "customer_id": customer_id, "status": "Successful", "transactionType": "Collect", "amount": "1"})


def test_a_batch_is_all_or_nothing(emulator):
    key = emulator.create_account("live")
    customer_id, invoice_id = _customer_with_invoice(emulator, key, "10.00")
    before = _get(emulator, key, f"/customers/{customer_id}/overview")
    response = emulator.session.post(f"{emulator.control_url}/records", json={"api_key": key, "commands": [
        {"op": "update_customer", "customer_id": customer_id, "set": {"companyName": "Should not stick"}},
        {"op": "collect_payment", "customer_id": customer_id, "amount": "5.00", "allocations": [{"invoice_id": invoice_id, "amount": "5.00"}]},
        {"op": "collect_payment", "customer_id": customer_id, "amount": "9.00", "allocations": [{"invoice_id": invoice_id, "amount": "9.00"}]},
    ]}, timeout=10)
    assert response.status_code == 400
    assert response.json()["command_index"] == 2 and "outstanding" in response.json()["error"]
    assert _get(emulator, key, f"/customers/{customer_id}/overview") == before
    assert _get(emulator, key, f"/customers/{customer_id}/paymentactivities") == []
    # The ids the failed batch took are not skipped either.
    assert emulator.records(key, {"op": "credit", "customer_id": customer_id, "amount": "1.00"})["results"][0]["id"] > invoice_id


@pytest.mark.parametrize("command, fragment", [
    ({"op": "collect_payment", "amount": "1.00"}, "customer_id"),
    ({"op": "collect_payment", "customer_id": 1, "amount": "1.00"}, "Customer with id 1 not found"),
    ({"op": "refund", "payment_id": 123, "amount": "1.00"}, "Payment with id 123 not found"),
    ({"op": "fly"}, "unknown op"),
    ({"op": "post_invoice", "customer_id": None, "charges": []}, "integer id"),
])
def test_malformed_commands_are_400(emulator, command, fragment):
    key = emulator.create_account("live")
    response = emulator.session.post(f"{emulator.control_url}/records", json={"api_key": key, "commands": [command]}, timeout=10)
    assert response.status_code == 400 and fragment in response.json()["error"]


def test_rules_fusebill_enforces(emulator):
    key = emulator.create_account("live")
    customer_id, invoice_id = _customer_with_invoice(emulator, key, "10.00")
    payment = emulator.records(key, {"op": "collect_payment", "customer_id": customer_id, "amount": "10.00"})["results"][0]["id"]
    attempts = {
        "over-allocation": {"op": "allocate_payment", "payment_id": payment, "invoice_id": invoice_id, "amount": "10.01"},
        "refund too big": {"op": "refund", "payment_id": payment, "amount": "10.01"},
        "refund from an invoice never paid": {"op": "refund", "payment_id": payment, "amount": "1.00", "allocations": [{"invoice_id": invoice_id, "amount": "1.00"}]},
        "sub-cent": {"op": "credit", "customer_id": customer_id, "amount": "1.001"},
        "write-off too big": {"op": "write_off", "invoice_id": invoice_id, "amount": "10.01"},
    }
    for name, command in attempts.items():
        response = emulator.session.post(f"{emulator.control_url}/records", json={"api_key": key, "commands": [command]}, timeout=10)
        assert response.status_code == 400, name
