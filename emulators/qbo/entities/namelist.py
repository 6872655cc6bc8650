"""Rules shared by the name-list entities (Customer, Vendor, Employee, Item, Account)."""
from __future__ import annotations

from .. import faults, rules
from ..faults import QboFault
from ..store import name_key
from .base import OpContext, text

NAME_PARTS = ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")

# NameBase (IntuitNamesTypes.xsd): the keys Customer, Vendor and Employee share.
NAMEBASE_KEYS = frozenset({
    "IntuitId", "Organization", "Title", "GivenName", "MiddleName", "FamilyName", "Suffix", "FullyQualifiedName",
    "CompanyName", "DisplayName", "PrintOnCheckName", "UserId", "Active", "V4IDPseudonym", "PrimaryPhone",
    "AlternatePhone", "Mobile", "Fax", "PrimaryEmailAddr", "WebAddr", "OtherContactInfo", "DefaultTaxCodeRef",
})


def check_no_colon(name: str, element: str) -> None:
    """2040 for a colon: it separates the levels of FullyQualifiedName (rules.INVALID_NAME_CHARS_FAULT)."""
    if ":" in name:
        raise faults.from_rule(rules.INVALID_NAME_CHARS_FAULT, element=element, value=name)


def display_name(fields: dict, limits: dict) -> str:
    """DisplayName as sent, else the name parts joined; 6080 when there is neither."""
    display = text(fields, "DisplayName", limit=limits["DisplayName"])
    if display is not None and display.strip():
        return display
    parts = (text(fields, key, limit=limits.get(key)) for key in NAME_PARTS)
    derived = " ".join(value.strip() for value in parts if value and value.strip())
    if not derived:
        raise QboFault(
            "6080",
            "Title, GivenName, MiddleName, FamilyName, DisplayName, Suffix - one of these must be non-empty",
            element="",
        )
    return derived


def active_name(name: str, active: bool) -> str:
    """QBO renames an inactive record "<name> (deleted)" and restores the name on reactivation."""
    suffix = rules.INACTIVE_NAME_SUFFIX
    base = name[: -len(suffix)] if suffix and name.endswith(suffix) else name
    return base + suffix if (suffix and not active) else base


def check_unique(ctx: OpContext, entity: str, full_name: str, own_id: str | None, detail: str, element: str) -> None:
    """6240 when another record already uses the name: one of `entity`, or for Customer, Vendor and
    Employee one of any of the three (rules.PERSON_NAME_LISTS). Records created by earlier items of
    the same batch count (rules.BATCH_ITEMS_SHARE_UNIQUENESS)."""
    key = name_key(full_name)
    for other_entity in _name_space(entity):
        for other_id in ctx.company.names.get(other_entity, {}).get(key, ()):
            if (other_entity, other_id) == (entity, own_id):
                continue
            if (other_entity, other_id) in ctx.uniqueness_hidden:
                continue
            shown = detail if other_entity == entity else rules.DUPLICATE_NAME_OTHER_KIND_DETAIL.format(kind=other_entity.lower())
            raise QboFault("6240", shown, element=element if entity != "Customer" else None)


def _name_space(entity: str) -> tuple[str, ...]:
    return rules.PERSON_NAME_LISTS if entity in rules.PERSON_NAME_LISTS else (entity,)
