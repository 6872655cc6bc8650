"""Tax Mapping: each Fusebill tax rule ↔ a QBO tax code, for non-US companies with sales tax on.

QBO rejects sales lines without a tax code in those companies (qbo-accounting-patterns §8), so the
sync puts the mapped tax code on each line and Fusebill's exact tax in `TxnTaxDetail`. A record whose
tax rule is not mapped is held back with that reason.

Fusebill documents no endpoint that lists tax rules, so they are found on the environment's posted
invoices (`taxes[]`, fields unconfirmed) and can also be added by hand.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.clients import ExternalError
from portal.clients.qbo import QboTaxCode
from portal.models import Environment, QboConnection, TaxMapping, User, utcnow
from portal.models.integration import TAX_CODES
from portal.services import ServiceError
from portal.services import audit
from portal.services.context import ServiceContext
from portal.services.enablement import ensure_integration_enabled
from portal.services.environments import fusebill_client
from portal.services.qbo_tokens import call_qbo
from portal.services.transactions import before_remote_call


def tax_mapping_needed(connection: QboConnection | None) -> bool:
    return connection is not None and connection.tax_setup == TAX_CODES


def mappings(session: Session, environment: Environment, connection: QboConnection) -> list[TaxMapping]:
    return list(session.scalars(
        select(TaxMapping)
        .where(TaxMapping.environment_id == environment.id, TaxMapping.realm_id == connection.realm_id)
        .order_by(TaxMapping.fusebill_tax_name, TaxMapping.id)
    ))


def unmapped(session: Session, environment: Environment, connection: QboConnection) -> list[TaxMapping]:
    return [row for row in mappings(session, environment, connection) if not row.qbo_tax_code_id]


def qbo_tax_codes(ctx: ServiceContext, connection: QboConnection, session: Session | None = None) -> list[QboTaxCode]:
    return call_qbo(ctx, connection.id, lambda api: api.tax_codes(), session=session)


@dataclass(frozen=True)
class DiscoverOutcome:
    found: int
    added: int


def discover_rules(session: Session, ctx: ServiceContext, environment: Environment, connection: QboConnection, actor: User) -> DiscoverOutcome:
    ensure_integration_enabled(environment.account)
    client, since = fusebill_client(ctx, environment), environment.sync_start_date
    before_remote_call(session)
    try:
        rules = client.discover_tax_rules(since)
    except ExternalError as error:
        raise ServiceError(f"Could not read tax rules from Fusebill: {error.message}") from error
    existing = {row.fusebill_tax_key: row for row in mappings(session, environment, connection)}
    added = 0
    for rule in rules:
        row = existing.get(rule.key)
        if row is None:
            session.add(TaxMapping(environment_id=environment.id, realm_id=connection.realm_id, fusebill_tax_key=rule.key,
                                   fusebill_tax_name=rule.name, fusebill_tax_rate=rule.percentage, source="discovered"))
            added += 1
        else:
            row.fusebill_tax_name = rule.name
            row.fusebill_tax_rate = rule.percentage
    audit.record(
        session, "taxes.discovered", f"{actor.email} looked for tax rules in Fusebill: {len(rules)} found, {added} new",
        actor=actor, account_id=environment.account_id, environment=environment.kind, details={"found": len(rules), "added": added},
    )
    return DiscoverOutcome(len(rules), added)


def add_rule(session: Session, environment: Environment, connection: QboConnection, name: str, rate: str, actor: User) -> TaxMapping:
    ensure_integration_enabled(environment.account)
    name = (name or "").strip()
    if not name:
        raise ServiceError("Give the tax rule's name as it appears on Fusebill invoices.", field="name")
    if len(name) > 200:
        raise ServiceError("A tax rule name is at most 200 characters.", field="name")
    percentage: Decimal | None = None
    if (rate or "").strip():
        try:
            percentage = Decimal(rate.strip().rstrip("%").strip())
        except InvalidOperation as error:
            raise ServiceError("Give the rate as a number, like 13 or 9.975.", field="rate") from error
        if not percentage.is_finite():
            raise ServiceError("Give the rate as a number, like 13 or 9.975.", field="rate")
        if not (Decimal(0) <= percentage <= Decimal(100)) or percentage.as_tuple().exponent < -5:  # type: ignore[operator]
            raise ServiceError("The rate must be between 0 and 100, with at most 5 decimals.", field="rate")
    key = f"name:{name.casefold()}"[:64]
    if any(row.fusebill_tax_key == key or row.fusebill_tax_name.casefold() == name.casefold() for row in mappings(session, environment, connection)):
        raise ServiceError(f"A tax rule named “{name}” is already listed.", field="name")
    row = TaxMapping(environment_id=environment.id, realm_id=connection.realm_id, fusebill_tax_key=key,
                     fusebill_tax_name=name, fusebill_tax_rate=percentage, source="manual")
    session.add(row)
    audit.record(session, "taxes.rule_added", f"{actor.email} added the tax rule “{name}”", actor=actor,
                 account_id=environment.account_id, environment=environment.kind, details={"name": name, "rate": str(percentage) if percentage is not None else None})
    return row


def save_mapping(session: Session, ctx: ServiceContext, environment: Environment, connection: QboConnection, selected: dict[int, str], actor: User) -> int:
    """Map rules to tax codes (`selected`: mapping id → QBO tax code id, "" to unmap); returns how many changed."""
    ensure_integration_enabled(environment.account)
    codes = {code.id: code for code in qbo_tax_codes(ctx, connection, session)}
    rows = {row.id: row for row in mappings(session, environment, connection)}
    errors: dict[int, str] = {}
    for mapping_id, code_id in selected.items():
        if mapping_id not in rows:
            errors[mapping_id] = "Unknown tax rule."
        elif code_id and code_id not in codes:
            errors[mapping_id] = "That tax code is not active in QuickBooks any more. Reload and choose again."
    if errors:
        raise TaxMappingErrors(errors)
    changed = {}
    now = utcnow()
    for mapping_id, code_id in selected.items():
        row = rows[mapping_id]
        if (row.qbo_tax_code_id or "") == code_id:
            continue
        changed[row.fusebill_tax_name] = {"from": row.qbo_tax_code_name, "to": codes[code_id].name if code_id else None}
        row.qbo_tax_code_id = code_id or None
        row.qbo_tax_code_name = codes[code_id].name if code_id else None
        row.mapped_at = now if code_id else None
        row.mapped_by_id = actor.id if code_id else None
    audit.record(
        session, "taxes.mapped", f"{actor.email} saved the tax mapping ({len(changed)} changed)", actor=actor,
        account_id=environment.account_id, environment=environment.kind, details={"changes": changed, "realm_id": connection.realm_id},
    )
    return len(changed)


class TaxMappingErrors(ServiceError):
    def __init__(self, errors: dict[int, str]) -> None:
        super().__init__("Some tax rules need attention.")
        self.errors = errors
