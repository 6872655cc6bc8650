from __future__ import annotations

from decimal import Decimal

import pytest

from jobs.sync.mapping.common import MappingContext, TaxPlan

ITEMS = {"charges": "I1", "taxes": "I2", "credits": "I3", "charge_reversals": "I4", "write_offs": "I5"}
LEDGERS = {"payments_deposit": "A1", "refunds": "A2", "credits": "A3", "deferred_revenue": "A4"}


def context(**overrides) -> MappingContext:  # type: ignore[no-untyped-def]
    values = dict(tax_setup="none", home_currency="USD", multicurrency=False, items=ITEMS, ledgers=LEDGERS)
    values.update(overrides)
    return MappingContext(**values)  # type: ignore[arg-type]


CA_TAXES = TaxPlan(codes={"1": "C-GST", "1+2": "C-GSTQST", "": "C-EXEMPT"}, rates={"1": ("R-GST", Decimal("5")), "2": ("R-QST", Decimal("9.975"))})


@pytest.fixture
def ctx() -> MappingContext:
    return context()


def customer(customer_id: int = 7, **fields) -> dict:  # type: ignore[no-untyped-def]
    base = {"id": customer_id, "status": "Active", "companyName": "Acme Ltd", "firstName": "Jane", "lastName": "Doe",
            "primaryEmail": "jane@acme.example", "currency": "USD"}
    base.update(fields)
    return base


def invoice(invoice_id: int = 100, amount: str = "110.00", taxes: list | None = None, charges: list | None = None, **fields) -> dict:  # type: ignore[no-untyped-def]
    base = {"id": invoice_id, "invoiceNumber": invoice_id, "postedTimestamp": "2025-03-01T10:00:00", "invoiceAmount": amount,
            "taxes": taxes or [], "charges": charges or [{"amount": amount, "taxable": True}],
            "paymentSchedules": [{"dueDate": "2025-03-31T00:00:00"}]}
    base.update(fields)
    return base


def payment_activity(payment_id: int, amount: str, allocations: list[tuple[int, str]], kind: str = "Collect", when: str = "2025-03-05T00:00:00",
                     status: str = "Successful") -> dict:
    return {"customerId": 7, "status": status, "transactionType": kind, "effectiveTimestamp": when,
            "transaction": {"id": payment_id, "amount": amount, "effectiveTimestamp": when, "reference": "R-1",
                            "invoiceAllocations": [{"invoiceId": i, "amount": a} for i, a in allocations]}}
