"""Representative Fusebill data and the accounting oracle the sync is judged against.

* `generate(customers, seed, **options) -> Dataset` — deterministic sample data (generator.py
  documents the mix and the options);
* `expected_books(dataset, charge_reversals_ledger=..., synced_statuses=...) -> ExpectedBooks` —
  what QuickBooks must show after a correct sync (oracle.py states every rule);
* `coverage(dataset)` / `missing_cases(dataset)` — which cases a dataset contains (cases.py);
* `records` — the dataclasses a Dataset is made of, with `to_plain`/`from_plain`.

Pure functions and plain data: nothing here does I/O or knows about the emulator.
"""
from emulators.sampledata.cases import REQUIRED_CASES, coverage, missing_cases, summary
from emulators.sampledata.generator import SCENARIOS, GeneratorOptions, generate
from emulators.sampledata.oracle import (
    CHARGE_REVERSALS, CREDITS, DEFERRED_REVENUE, LEDGER_LABELS, PAYMENTS, REFUNDS, SALES_TAX_PAYABLE,
    WRITE_OFFS, ExpectedBooks, ExpectedCustomer, ExpectedInvoice, ExpectedTaxTotal, expected_books,
)
from emulators.sampledata.records import Dataset

__all__ = [
    "CHARGE_REVERSALS", "CREDITS", "DEFERRED_REVENUE", "LEDGER_LABELS", "PAYMENTS", "REFUNDS",
    "REQUIRED_CASES", "SALES_TAX_PAYABLE", "SCENARIOS", "WRITE_OFFS", "Dataset", "ExpectedBooks",
    "ExpectedCustomer", "ExpectedInvoice", "ExpectedTaxTotal", "GeneratorOptions", "coverage",
    "expected_books", "generate", "missing_cases", "summary",
]
