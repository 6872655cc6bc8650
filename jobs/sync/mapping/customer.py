"""Fusebill customer → QBO Customer (contract: "Entity mapping", "Which customers")."""
from __future__ import annotations

import re
from typing import Any

from jobs.sync.mapping.common import NAME_LIMIT, MappingContext, check_currency, clean_text, ref
from jobs.sync.model import CUSTOMER, Doc, Key

DRAFT = "Draft"
# QBO's lengths (qbo-api.md §1.13, qbo-xsd-entities: GivenName 25, FamilyName 15); the full names
# are always in DisplayName (cut at NAME_LIMIT, well under QBO's 500).
PART_LIMITS = {"GivenName": 25, "FamilyName": 15, "CompanyName": 100}
# Every customer ever activated syncs, and keeps syncing after Hold, Suspension or Cancellation.
ACTIVATED = ("Active", "Hold", "Suspended", "Cancelled")
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")


def is_synced_status(customer: dict[str, Any]) -> bool:
    return str(customer.get("status") or "") in ACTIVATED


NAME_SEPARATOR = " — "  # between the company and the person (the settings page's example shows the same)


def display_name(ctx: MappingContext, customer: dict[str, Any]) -> str:
    """The Data Map's name plus the Fusebill id, e.g. "Acme Ltd (FB-100156)" (default: company name) or
    "Acme Ltd — Jane Doe (FB-100156)": the company, then first and last name, kept apart by
    NAME_SEPARATOR; with nothing chosen present, first + last (else the company). Unique by
    construction, ':' removed, cut to QBO's 100 characters."""
    suffix = f" (FB-{customer['id']})"
    parts = ctx.display_name_parts
    person = " ".join(str(customer[source]) for part, source in (("first_name", "firstName"), ("last_name", "lastName"))
                      if part in parts and customer.get(source))
    company = str(customer["companyName"]) if "company_name" in parts and customer.get("companyName") else ""
    chosen = [text for text in (clean_text(company, NAME_LIMIT), clean_text(person, NAME_LIMIT)) if text]
    if chosen:
        name = NAME_SEPARATOR.join(chosen)
    else:
        name = " ".join(str(p) for p in (customer.get("firstName"), customer.get("lastName")) if p) or str(customer.get("companyName") or "")
    name = clean_text(name, NAME_LIMIT - len(suffix)) or "Customer"
    return name + suffix


def first_email(raw: Any) -> str | None:
    """Fusebill may hold several addresses separated by "; " (fusebill-api.md §3.1): QBO takes one."""
    for candidate in str(raw or "").replace(",", ";").split(";"):
        candidate = candidate.strip()
        if candidate and len(candidate) <= 100 and _EMAIL.match(candidate):
            return candidate
    return None


def map_customer(ctx: MappingContext, customer: dict[str, Any]) -> Doc:
    customer_id = str(customer["id"])
    currency = str(customer.get("currency") or ctx.home_currency).upper()
    check_currency(ctx, currency)
    key = Key(CUSTOMER, customer_id)
    payload: dict[str, Any] = {"Notes": key.marker}
    if ctx.update_display_names:
        payload["DisplayName"] = display_name(ctx, customer)
    for field, source in (("GivenName", "firstName"), ("FamilyName", "lastName"), ("CompanyName", "companyName")):
        value = clean_text(customer.get(source), PART_LIMITS[field])
        if value:
            payload[field] = value
    email = first_email(customer.get("primaryEmail"))
    if email:
        payload["PrimaryEmailAddr"] = {"Address": email}
    create_only: dict[str, Any] = {}
    if not ctx.update_display_names:
        create_only["DisplayName"] = display_name(ctx, customer)
    if ctx.multicurrency:
        create_only["CurrencyRef"] = ref(currency)  # a QBO customer's currency cannot change
    return Doc(key, "Customer", payload, customer_id, sparse=True, create_only=create_only)
