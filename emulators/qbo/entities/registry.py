"""The entity handlers by JSON name and by URL segment (QBO URLs use the lower-case name)."""
from __future__ import annotations

from .account import AccountType
from .base import EntityType
from .customer import CustomerType
from .item import ItemType
from .journalentry import JournalEntryType
from .payment import PaymentType
from .person import EmployeeType, VendorType
from .reference import (
    CompanyInfoType,
    ExchangeRateType,
    PreferencesType,
    TaxAgencyType,
    TaxCodeType,
    TaxRateType,
)
from .sales import CreditMemoType, InvoiceType, RefundReceiptType

HANDLERS: dict[str, EntityType] = {
    handler.name: handler
    for handler in (
        AccountType(), ItemType(), CustomerType(), InvoiceType(), PaymentType(), CreditMemoType(),
        RefundReceiptType(), JournalEntryType(), VendorType(), EmployeeType(), TaxCodeType(), TaxRateType(), TaxAgencyType(),
        CompanyInfoType(), PreferencesType(), ExchangeRateType(),
    )
}

BY_URL: dict[str, EntityType] = {name.lower(): handler for name, handler in HANDLERS.items()}


def by_name(name: str) -> EntityType | None:
    """Case-insensitive lookup ("invoice", "Invoice", "INVOICE")."""
    return BY_URL.get(name.lower())
