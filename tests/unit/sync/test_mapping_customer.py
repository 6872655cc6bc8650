"""Customer mapping: names from the data map plus the Fusebill id, QBO's limits, currency rules."""
from __future__ import annotations

import pytest

from jobs.sync.mapping.common import MappingError
from jobs.sync.mapping.customer import display_name, first_email, map_customer
from tests.unit.sync.conftest import context, customer


@pytest.mark.parametrize("parts, fields, expected", [
    (("company_name",), {}, "Acme Ltd (FB-7)"),
    (("company_name",), {"companyName": None}, "Jane Doe (FB-7)"),
    (("first_name", "last_name"), {}, "Jane Doe (FB-7)"),
    (("company_name",), {"companyName": "Acme: Widgets\tInc"}, "Acme Widgets Inc (FB-7)"),
    (("company_name",), {"companyName": "x" * 10_000}, "x" * 93 + " (FB-7)"),
    (("company_name",), {"companyName": None, "firstName": None, "lastName": None}, "Customer (FB-7)"),
    # Company and person kept apart, as the settings page's example shows them.
    (("company_name", "last_name"), {}, "Acme Ltd — Doe (FB-7)"),
    (("last_name", "company_name", "first_name"), {}, "Acme Ltd — Jane Doe (FB-7)"),
    (("company_name", "first_name", "last_name"), {"companyName": ""}, "Jane Doe (FB-7)"),
])
def test_display_name(parts, fields, expected):  # type: ignore[no-untyped-def]
    name = display_name(context(display_name_parts=parts), customer(**fields))
    assert name == expected and len(name) <= 100 and ":" not in name


@pytest.mark.parametrize("raw, expected", [
    ("a@b.example", "a@b.example"), ("bad; c@d.example", "c@d.example"), ("no-at-sign", None), (None, None),
])
def test_first_valid_email(raw, expected):  # type: ignore[no-untyped-def]
    assert first_email(raw) == expected


def test_marker_and_name_parts_cut_to_qbo_lengths():
    doc = map_customer(context(), customer(firstName="A" * 40, lastName="B" * 40))
    assert doc.payload["Notes"] == "fusebill:customer:7"
    assert len(doc.payload["GivenName"]) == 25 and len(doc.payload["FamilyName"]) == 15
    assert doc.sparse and "CurrencyRef" not in doc.create_only


def test_currency_is_set_once_on_a_multicurrency_company():
    doc = map_customer(context(multicurrency=True), customer(currency="EUR"))
    assert doc.create_only["CurrencyRef"] == {"value": "EUR"} and "CurrencyRef" not in doc.payload


def test_foreign_customer_without_multicurrency_is_refused_with_the_reason():
    with pytest.raises(MappingError, match="EUR.*without multicurrency"):
        map_customer(context(), customer(currency="EUR"))


def test_dont_update_display_names_sends_the_name_on_create_only():
    doc = map_customer(context(update_display_names=False), customer())
    assert "DisplayName" not in doc.payload and doc.create_only["DisplayName"] == "Acme Ltd (FB-7)"
