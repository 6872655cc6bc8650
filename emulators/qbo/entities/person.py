"""Vendor and Employee, modelled as minimal name lists (NameBase → Vendor / Employee in the XSDs).

They exist so that a Customer DisplayName clashing with a vendor's or an employee's name gets QBO's
6240 (DisplayName is unique across the three, qbo-api §1.13). Both are created and updated through
the API like any name list (never deleted); DisplayName follows the Customer rules (derived from the
name parts when omitted, 6080 without any, 2040 for a colon, 6240 when taken). Other fields are stored
as sent; nothing posts to the ledger.
"""
from __future__ import annotations

from .. import rules
from .base import (
    ENTITY_KEYS,
    EntityType,
    OpContext,
    blank,
    boolean,
    check_known_keys,
    check_sync_token,
    clean,
    merge_for_update,
    next_sync_token,
)
from .namelist import NAMEBASE_KEYS, active_name, check_no_colon, check_unique, display_name

VENDOR_KEYS = frozenset({
    "ContactInfo", "BillAddr", "ShipAddr", "OtherAddr", "TaxCountry", "TaxIdentifier", "BusinessNumber",
    "ParentRef", "VendorTypeRef", "TermRef", "PrefillAccountRef", "Balance", "BillRate", "CostRate",
    "AcctNum", "Vendor1099", "T4AEligible", "T5018Eligible", "CurrencyRef", "TDSEnabled", "TDSEntityTypeId",
    "TDSSectionTypeId", "TDSOverrideThreshold", "TaxReportingBasis", "APAccountRef", "VendorPaymentBankDetail",
    "GSTIN", "GSTRegistrationType", "IsSubContractor", "SubcontractorType", "CISRate", "HasTPAR", "Source",
    "VendorEx",
})
EMPLOYEE_KEYS = frozenset({
    "EmployeeType", "EmployeeNumber", "SSN", "PrimaryAddr", "OtherAddr", "BillableTime", "BillRate", "CostRate",
    "UseTimeEntry", "BirthDate", "Gender", "HiredDate", "ReleasedDate", "EmailAddress", "EmployeeEx",
})
READ_ONLY = frozenset({"FullyQualifiedName", "Balance", "V4IDPseudonym", "IntuitId"})
HANDLED = frozenset({"DisplayName", "Active", "PrintOnCheckName"})
_LIMITS = rules.MAX_LENGTHS["Customer"]  # [U] the Customer name limits (NameBase) apply


class PersonType(EntityType):
    """A name list whose records are people or companies; subclasses set `name` and `own_keys`."""

    namelist = True
    own_keys: frozenset[str] = frozenset()

    @property
    def known_keys(self) -> frozenset[str]:  # type: ignore[override]
        return ENTITY_KEYS | NAMEBASE_KEYS | self.own_keys

    def _build(self, ctx: OpContext, fields: dict, existing: dict | None) -> dict:
        active = boolean(fields, "Active", True)
        base_display = active_name(display_name(fields, _LIMITS), True)
        check_no_colon(base_display, "DisplayName")
        shown_display = active_name(base_display, active)
        check_unique(ctx, self.name, shown_display, existing["Id"] if existing else None,
                     rules.DUPLICATE_OTHER_NAME_DETAIL.format(kind=self.name.lower()), "DisplayName")
        doc: dict = {key: clean(value) if isinstance(value, (dict, list)) else value
                     for key, value in fields.items()
                     if key not in HANDLED | READ_ONLY | ENTITY_KEYS and not blank(value)}
        doc.update({
            "DisplayName": shown_display,
            "FullyQualifiedName": shown_display,
            "PrintOnCheckName": (fields.get("PrintOnCheckName") or base_display),
            "Active": active,
            "domain": "QBO",
            "sparse": False,
            "Id": existing["Id"] if existing else ctx.company.next_id(self.name),
            "SyncToken": next_sync_token(existing),
            "MetaData": ctx.metadata(existing),
        })
        return doc

    def create(self, ctx: OpContext, body: dict) -> dict:
        check_known_keys(self.name, body, self.known_keys)
        return ctx.uow.save(self.name, self._build(ctx, body, None))

    def update(self, ctx: OpContext, existing: dict, body: dict, sparse: bool) -> dict:
        check_known_keys(self.name, body, self.known_keys)
        check_sync_token(ctx, existing, body)
        fields = merge_for_update(existing, body, sparse)
        if sparse and "DisplayName" not in body:
            fields["DisplayName"] = active_name(existing["DisplayName"], True)
        return ctx.uow.save(self.name, self._build(ctx, fields, existing))


class VendorType(PersonType):
    name = "Vendor"
    own_keys = VENDOR_KEYS


class EmployeeType(PersonType):
    name = "Employee"
    own_keys = EMPLOYEE_KEYS
