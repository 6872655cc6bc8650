"""Generating the largest supported account (10,000 customers): time and memory.

Run with: .venv/bin/python -m pytest -m bench tests/emulators/sampledata -s
"""
from __future__ import annotations

import resource
import time

import pytest

from emulators.sampledata import expected_books, generate

CUSTOMERS = 10_000
MAX_SECONDS = 15
MAX_GROWTH_MB = 800


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


@pytest.mark.bench
def test_generating_10000_customers_takes_seconds_not_minutes():
    rss_before = _max_rss_mb()
    started = time.perf_counter()
    dataset = generate(CUSTOMERS, 2024)
    generated = time.perf_counter() - started
    growth = _max_rss_mb() - rss_before
    started = time.perf_counter()
    books = expected_books(dataset)
    oracle = time.perf_counter() - started
    invoices = sum(len(b.invoices) for b in dataset.customers)
    print(f"\n{CUSTOMERS} customers, {invoices} invoices: generate {generated:.2f}s, "
          f"peak RSS growth {growth:.0f} MB, oracle {oracle:.2f}s")
    assert len(dataset.customers) == CUSTOMERS and len(books.customers) > 8_000
    assert generated < MAX_SECONDS and growth < MAX_GROWTH_MB
