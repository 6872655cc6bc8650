"""A chunk deferred by Fusebill's limit part-way through its reads goes on from where it stopped: what
it read is kept for the run (real Redis), so a chunk needing more requests than a sandbox allows a
minute still finishes instead of starting over every minute."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from redis import Redis

from jobs.sync.fetch import Changes
from jobs.sync.jobs import read_customer
from jobs.sync.mapping import CustomerData
from portal.clients import Throttled


class BudgetReader:
    """Reads that cost one request each, with a budget of `allowed` before Fusebill says "wait"."""

    def __init__(self, allowed: int) -> None:
        self.allowed = allowed
        self.reads: list[str] = []

    def customer(self, customer_id: str, changes: Changes, per_rule_taxes: bool = False) -> CustomerData:
        if len(self.reads) >= self.allowed:
            raise Throttled("Fusebill's limit for this account is reached", retry_after=60, limit="fusebill")
        self.reads.append(customer_id)
        return CustomerData(customer={"id": int(customer_id), "companyName": f"Co {customer_id}", "amount": 10.5},
                            invoices=[{"id": 1, "invoiceAmount": 10.5}])


@pytest.fixture
def ctx(redis_url):
    connection = Redis.from_url(redis_url)
    connection.flushdb()
    yield SimpleNamespace(redis=connection)
    connection.flushdb()


def _chunk(ctx, reader, run_id: int, customers: list[str]) -> list[CustomerData]:  # type: ignore[no-untyped-def]
    return [read_customer(ctx, reader, run_id, c, Changes(full=False), per_rule_taxes=False) for c in customers]


def test_a_chunk_throttled_mid_way_resumes_instead_of_starting_over(ctx):
    customers = [str(n) for n in range(1, 26)]  # 25 customers, 10 reads a "minute"
    reads = 0
    for attempt in range(1, 10):
        reader = BudgetReader(allowed=10)
        try:
            data = _chunk(ctx, reader, 7, customers)
        except Throttled:
            reads += len(reader.reads)
            continue
        reads += len(reader.reads)
        break
    else:
        pytest.fail("the chunk never finished")
    assert attempt == 3 and reads == 25  # every customer read exactly once over three attempts
    assert [d.customer["id"] for d in data] == list(range(1, 26))
    assert data[0].invoices == [{"id": 1, "invoiceAmount": 10.5}] and data[0].customer["amount"] == 10.5  # exact round trip


def test_reads_belong_to_their_run(ctx):
    _chunk(ctx, BudgetReader(allowed=5), 7, ["1"])
    other = BudgetReader(allowed=5)
    _chunk(ctx, other, 8, ["1"])
    assert other.reads == ["1"]  # another run reads afresh
