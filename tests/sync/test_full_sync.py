"""A full sync of a generated data set (every case of emulators/sampledata/cases.py) into each QBO
set-up leaves QBO, read back through its API, matching the oracle — the contract's promises, to the
cent — and a second sync with no change makes no QBO write at all."""
from __future__ import annotations

import os
from collections import Counter

import pytest
from sqlalchemy import func, select

from emulators.sampledata.cases import missing_cases
from emulators.sampledata.generator import generate
from portal.models import SyncRecord
from tests.sync.conftest import build_world
from tests.sync.promises import check_promises

pytestmark = pytest.mark.sync

SYNCED_STATUSES = ("Active", "Hold", "Suspended", "Cancelled")
CUSTOMERS = int(os.environ.get("SYNC_TEST_CUSTOMERS", "200"))
SETUPS = {
    # name: (QBO company, generator options, ledgers)
    "us-no-tax": ({"country": "US", "home_currency": "USD", "tax": "none"}, {"currency_weights": {"USD": 1}}),
    "us-automated-tax": ({"country": "US", "home_currency": "USD", "tax": "us_automated"}, {"currency_weights": {"USD": 1}}),
    "ca-tax-codes": ({"country": "CA", "home_currency": "CAD", "tax": "codes"}, {"currency_weights": {"CAD": 1}}),
    "multicurrency": ({"country": "US", "home_currency": "USD", "tax": "none", "multicurrency": True}, {}),
}
LEDGERS = ("deferred_revenue", "sales_tax_payable", "payments_deposit", "refunds", "credits", "write_offs")


@pytest.fixture(scope="module", params=sorted(SETUPS))
def world(request, tmp_path_factory, backend, qbo, fusebill, redis_url):  # type: ignore[no-untyped-def]
    company, options = SETUPS[request.param]
    ledgers = tuple(l for l in LEDGERS if not (l == "sales_tax_payable" and company["tax"] == "codes"))
    seed = 11 + sorted(SETUPS).index(request.param)
    for built in build_world(tmp_path_factory.mktemp(request.param), backend, qbo, fusebill, redis_url, customers=CUSTOMERS, seed=seed,
                             company=company, seed_options=options, ledgers=ledgers):
        built.setup = request.param
        built.dataset = generate(CUSTOMERS, seed, **options)
        built.home = company["home_currency"]
        built.multicurrency = bool(company.get("multicurrency"))
        yield built


def test_first_sync_matches_the_oracle_and_a_second_writes_nothing(world):  # type: ignore[no-untyped-def]
    dataset = world.dataset
    assert not missing_cases(dataset) or CUSTOMERS < 200
    run = world.sync(timeout=240)
    with world.database.session_scope() as session:
        states = Counter(dict(session.execute(select(SyncRecord.state, func.count()).group_by(SyncRecord.state)).all()))
        held = [(r.customer_id, r.label, r.reason) for r in session.scalars(select(SyncRecord).where(SyncRecord.state.in_(("failed", "pending"))))]
    records = sum(states.values())
    print(f"\n{world.setup}: {records} records, {run.counts.get('qbo_requests')} QBO requests "
          f"({run.counts.get('qbo_requests', 0) / max(records, 1):.3f}/record), {run.counts.get('fusebill_requests')} Fusebill requests "
          f"({run.counts.get('fusebill_requests', 0) / max(records, 1):.3f}/record), {(run.finished_at - run.started_at).total_seconds():.1f} s")

    # The five promises, on the books read back from QBO (a company without multicurrency holds
    # exactly the foreign customers the generator's scripted stories include, with the reason).
    assert run.status == ("partial" if held else "succeeded"), (run.status, run.error, run.counts)
    check_promises(world, dataset, home=world.home, multicurrency=world.multicurrency)

    # A second sync with no change in Fusebill makes no QBO write at all (the emulator's own count).
    writes_before = _writes(world)
    again = world.sync(timeout=120)
    assert again.status == run.status, again.counts
    assert again.counts.get("created", 0) == 0 and again.counts.get("updated", 0) == 0 and again.counts.get("deleted", 0) == 0, again.counts
    assert _writes(world) == writes_before


def _writes(world) -> int:  # type: ignore[no-untyped-def]
    """Write requests (single or batched) the QBO emulator has answered for the company."""
    counts = world.qbo.request_counts(world.realm_id)
    return counts["write"] + counts["batch"]
