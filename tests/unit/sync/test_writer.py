"""The writer against a fake QBO: what it records when QBO answers partly, refuses, or was asked before."""
from __future__ import annotations

from typing import Any

import pytest

from jobs.sync.links import Linked
from jobs.sync.model import CustomerPlan, Doc, Key, Ref
from jobs.sync.write import Writer
from portal.clients import RetryableError


class FakeQbo:
    def __init__(self, refuse: set[str] = frozenset(), fail_reads: bool = False) -> None:
        self.refuse = refuse
        self.fail_reads = fail_reads
        self.request_ids: list[str] = []
        self.next_id = 100
        self.calls = 0

    def _made(self, entity: str, body: dict) -> dict:
        self.next_id += 1
        return {"Id": str(self.next_id), "SyncToken": "0", **body}

    def batch(self, items: list[dict], request_id: str | None = None, wait: float | None = None) -> dict[str, Any]:
        self.calls += 1
        self.request_ids.append(request_id or "")
        answers = {}
        for item in items:
            entity = next(k for k in item if k not in ("bId", "operation"))
            body = item[entity]
            if body.get("PrivateNote", body.get("Notes", "")).split(" · ")[0] in self.refuse:
                answers[item["bId"]] = {"bId": item["bId"], "Fault": {"Error": [{"code": "5010", "Message": "Stale Object Error"}]}}
            else:
                answers[item["bId"]] = {"bId": item["bId"], entity: self._made(entity, body)}
        return answers

    def create(self, entity: str, body: dict, request_id: str) -> dict:
        self.calls += 1
        self.request_ids.append(request_id)
        return self._made(entity, body)

    update = create

    def batch_slot_seconds(self) -> float:
        return 0.05

    def read(self, entity: str, qbo_id: str) -> dict | None:
        if self.fail_reads:
            raise RetryableError("QuickBooks Online is temporarily unavailable (503).")
        return {"Id": qbo_id, "SyncToken": "7"}


def writer(api: FakeQbo, stored: list, linked: dict | None = None, salts: dict | None = None) -> Writer:
    def commit(work):  # type: ignore[no-untyped-def]
        work(_Session(stored))

    return Writer(api, realm_id="9", environment_id=1, commit=commit, linked=linked or {}, rates=lambda c, d: None, salts=salts)  # type: ignore[arg-type]


class _Session:
    def __init__(self, stored: list) -> None:
        self.stored = stored


@pytest.fixture(autouse=True)
def _no_database(monkeypatch):  # type: ignore[no-untyped-def]
    import jobs.sync.write as write

    monkeypatch.setattr(write.link_store, "save", lambda session, env, realm, key, customer, linked: session.stored.append((key, linked.qbo_id)))
    monkeypatch.setattr(write.link_store, "remove", lambda session, env, key: session.stored.append((key, None)))


def invoice(n: int) -> Doc:
    key = Key("invoice", str(n))
    return Doc(key, "Invoice", {"CustomerRef": {"value": Ref(Key("customer", "7"))}, "PrivateNote": key.marker, "Line": []}, "7")


def plan(*docs: Doc) -> CustomerPlan:
    customer = Key("customer", "7")
    return CustomerPlan("7", docs=[Doc(customer, "Customer", {"Notes": customer.marker}, "7"), *docs])


def test_a_failing_recovery_does_not_lose_what_the_batch_made():
    api, stored = FakeQbo(refuse={"fusebill:invoice:2"}, fail_reads=True), []
    linked = {Key("invoice", "2"): Linked("Invoice", "55", "3", "old")}
    with pytest.raises(RetryableError):
        writer(api, stored, linked).write([plan(invoice(1), invoice(2), invoice(3))])
    assert {key.fusebill_id for key, _ in stored if key.entity_type == "invoice"} == {"1", "3"}


def test_dependants_wait_for_their_customer_and_states_follow():
    api, stored = FakeQbo(), []
    result = writer(api, stored).write([plan(invoice(1))])
    assert {o.record.fusebill_id: o.state for o in result.outcomes} == {"7": "synced", "1": "synced"}
    assert [key.entity_type for key, _ in stored] == ["customer", "invoice"]  # customer first, in its own wave


def test_a_record_refused_before_is_asked_with_a_new_requestid():
    first, second = FakeQbo(), FakeQbo()
    writer(first, []).write([plan(invoice(1))])
    writer(second, [], salts={Key("invoice", "1"): 1}).write([plan(invoice(1))])
    assert first.request_ids[0] == second.request_ids[0]  # the customer: nothing refused, same intent
    assert first.request_ids[1] != second.request_ids[1]  # the invoice refused before: a fresh one


def test_an_unchanged_payload_costs_no_call():
    api, stored = FakeQbo(), []
    w = writer(api, stored)
    w.write([plan(invoice(1))])
    calls = api.calls
    again = writer(api, [], linked=dict(w.linked)).write([plan(invoice(1))])
    assert api.calls == calls and again.counts["unchanged"] == 2


class NoBatchesLeft(FakeQbo):
    """QBO's batch budget is spent: every batch is refused by our limiter, singles still go."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float | None] = []
        self.threads: set[str] = set()

    def batch(self, items: list[dict], request_id: str | None = None, wait: float | None = None) -> dict[str, Any]:
        from portal.clients import Throttled

        self.waits.append(wait)
        raise Throttled("The QuickBooks batch limit is used up for now.", retry_after=5.0, limit="qbo-batch")

    def create(self, entity: str, body: dict, request_id: str) -> dict:
        import threading
        import time

        self.threads.add(threading.current_thread().name)
        time.sleep(0.02)  # a round trip: the singles overlap
        return super().create(entity, body, request_id)


def test_with_no_batch_free_the_documents_go_one_by_one_in_parallel_and_all_are_linked():
    api, stored = NoBatchesLeft(), []
    result = writer(api, stored).write([plan(*[invoice(n) for n in range(1, 13)])])
    assert api.waits and set(api.waits) == {0.05}  # waits one batch slot at most, then singles
    assert {o.state for o in result.outcomes} == {"synced"} and len(stored) == 13
    assert result.counts["singles_after_batch_limit"] == 12  # the customer alone is a single anyway
    assert len({name for name in api.threads if name.startswith("qbo-single")}) > 1  # in parallel
    assert len(set(api.request_ids)) == 13  # each its own requestid (a replay of a single is exact)
