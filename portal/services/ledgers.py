"""Choosing a QuickBooks account (ledger) for each kind of Fusebill record, and the items that post there.

The ledgers and their recommended account types come from the accounting contract
(design/accounting-mapping.md, "Ledgers the user chooses"). The picker lists the connected company's
active accounts, recommended types first, and warns — never forbids — on an unusual type.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.clients import ExternalError, PermanentError
from portal.clients.qbo import QboAccount, QboApi
from portal.models import Environment, LedgerChoice, ManagedItem, QboConnection, User, utcnow
from portal.models.integration import TAX_CODES
from portal.services import ServiceError
from portal.services import audit
from portal.services.context import ServiceContext
from portal.services.enablement import ensure_integration_enabled
from portal.services.qbo_tokens import call_qbo


@dataclass(frozen=True)
class LedgerSpec:
    key: str
    label: str
    used_for: str
    recommended: tuple[tuple[str, str | None], ...]  # (AccountType, AccountSubType or None for any)
    create_name: str
    create_type: str
    create_subtype: str
    optional_note: str = ""

    def fit(self, account: QboAccount) -> int:
        """2 = recommended type and subtype, 1 = recommended type, 0 = unusual for this ledger."""
        best = 0
        for account_type, subtype in self.recommended:
            if account.account_type == account_type:
                best = max(best, 2 if subtype is not None and subtype == account.account_subtype else 1)
        return best

    @property
    def recommendation(self) -> str:
        parts = []
        for account_type, subtype in self.recommended:
            parts.append(f"{account_type} ({subtype})" if subtype else account_type)
        return " or ".join(parts)


LEDGERS: tuple[LedgerSpec, ...] = (
    LedgerSpec("deferred_revenue", "Deferred Revenue", "Invoices, net of taxes (and charge reversals unless they have their own ledger)",
               (("Other Current Liability", "DeferredRevenue"), ("Other Current Liability", None)),
               "Fusebill Deferred Revenue", "Other Current Liability", "DeferredRevenue"),
    LedgerSpec("sales_tax_payable", "Sales Tax Payable", "Taxes on invoices, and taxes reversed",
               (("Other Current Liability", None),),
               "Fusebill Sales Tax Payable", "Other Current Liability", "OtherCurrentLiabilities"),
    LedgerSpec("payments_deposit", "Payments deposit", "Payments received",
               (("Other Current Asset", "UndepositedFunds"), ("Bank", None), ("Other Current Asset", None)),
               "Fusebill Payments Clearing", "Other Current Asset", "OtherCurrentAssets"),
    LedgerSpec("refunds", "Refunds paid from", "Refunds to customers",
               (("Bank", None), ("Other Current Asset", None)),
               "Fusebill Refunds Clearing", "Other Current Asset", "OtherCurrentAssets"),
    LedgerSpec("credits", "Credits", "Credits given to customers",
               (("Income", "DiscountsRefundsGiven"), ("Income", None), ("Expense", None)),
               "Fusebill Credits Given", "Income", "DiscountsRefundsGiven"),
    LedgerSpec("charge_reversals", "Charge Reversals", "Charge reversals (credit notes), net of taxes",
               (("Other Current Liability", "DeferredRevenue"), ("Other Current Liability", None)),
               "Fusebill Charge Reversals", "Other Current Liability", "DeferredRevenue",
               optional_note="Leave empty to post charge reversals to the Deferred Revenue ledger."),
    LedgerSpec("write_offs", "Write-Offs", "Invoices written off (gross, tax included)",
               (("Expense", "BadDebts"), ("Expense", None), ("Other Expense", None)),
               "Fusebill Bad Debts", "Expense", "BadDebts"),
)
LEDGERS_BY_KEY = {spec.key: spec for spec in LEDGERS}


def ledgers_for(tax_setup: str) -> list[LedgerSpec]:
    """The ledgers that apply to a company: a tax-codes company never posts to a Sales Tax Payable ledger."""
    return [spec for spec in LEDGERS if not (spec.key == "sales_tax_payable" and tax_setup == TAX_CODES)]


def required_ledgers(tax_setup: str) -> list[str]:
    """Ledgers a sync cannot start without. Non-US companies with tax codes post tax through QBO's own
    tax codes (the Tax Mapping step), so they need no Sales Tax Payable ledger; charge reversals fall
    back to Deferred Revenue when not chosen."""
    keys = [spec.key for spec in LEDGERS if spec.key != "charge_reversals"]
    if tax_setup == TAX_CODES:
        keys.remove("sales_tax_payable")
    return keys


@dataclass(frozen=True)
class ItemSpec:
    key: str
    name: str
    ledger: str
    description: str
    fallback_ledger: str | None = None


ITEMS: tuple[ItemSpec, ...] = (
    ItemSpec("charges", "Fusebill Charges", "deferred_revenue", "Fusebill invoice charges, net of taxes"),
    ItemSpec("taxes", "Fusebill Taxes", "sales_tax_payable", "Taxes on Fusebill invoices"),
    ItemSpec("credits", "Fusebill Credits", "credits", "Credits given in Fusebill"),
    ItemSpec("charge_reversals", "Fusebill Charge Reversals", "charge_reversals", "Fusebill charge reversals (credit notes)", fallback_ledger="deferred_revenue"),
    ItemSpec("write_offs", "Fusebill Write-Offs", "write_offs", "Fusebill invoices written off"),
)


def items_needed(tax_setup: str) -> list[ItemSpec]:
    # With tax codes (non-US), tax rides on the lines' tax codes, never on an item line.
    return [item for item in ITEMS if not (item.key == "taxes" and tax_setup == TAX_CODES)]


# ------------------------------------------------------------------ reading choices
def choices_for(session: Session, environment: Environment, realm_id: str) -> dict[str, LedgerChoice]:
    rows = session.scalars(select(LedgerChoice).where(LedgerChoice.environment_id == environment.id, LedgerChoice.realm_id == realm_id))
    return {row.ledger: row for row in rows}


def missing_ledgers(session: Session, environment: Environment, connection: QboConnection) -> list[LedgerSpec]:
    chosen = choices_for(session, environment, connection.realm_id)
    return [LEDGERS_BY_KEY[key] for key in required_ledgers(connection.tax_setup) if key not in chosen]


# ------------------------------------------------------------------ the picker
@dataclass
class LedgerPicker:
    spec: LedgerSpec
    recommended: list[QboAccount] = field(default_factory=list)
    others: list[QboAccount] = field(default_factory=list)
    chosen: LedgerChoice | None = None
    chosen_still_active: bool = True
    warning: str = ""


def unusual_type_warning(spec: LedgerSpec, account: QboAccount) -> str:
    if spec.fit(account) > 0:
        return ""
    if account.account_type == "Accounts Receivable":
        return f"“{account.name}” is an Accounts Receivable account: posting {spec.used_for.lower()} there would double-count customer balances. A {spec.recommendation} account is expected."
    return f"“{account.name}” is a {account.account_type} account, which is unusual for {spec.label}. Fusebill recommends {spec.recommendation}."


def build_pickers(spec_accounts: list[QboAccount], chosen: dict[str, LedgerChoice], specs: list[LedgerSpec] | None = None) -> list[LedgerPicker]:
    """One picker per ledger: recommended accounts first (best fit first), then every other account."""
    active_ids = {account.id for account in spec_accounts}
    pickers = []
    for spec in specs if specs is not None else LEDGERS:
        ranked = sorted(spec_accounts, key=lambda a: (-spec.fit(a), a.fully_qualified_name.casefold()))
        picker = LedgerPicker(spec=spec, chosen=chosen.get(spec.key))
        for account in ranked:
            (picker.recommended if spec.fit(account) else picker.others).append(account)
        if picker.chosen is not None:
            picker.chosen_still_active = picker.chosen.qbo_account_id in active_ids
            match = next((a for a in spec_accounts if a.id == picker.chosen.qbo_account_id), None)
            if match is not None:
                picker.warning = unusual_type_warning(spec, match)
            else:
                picker.warning = f"“{picker.chosen.qbo_account_name}” is no longer an active account in QuickBooks. Choose another."
        pickers.append(picker)
    return pickers


def load_pickers(session: Session, ctx: ServiceContext, environment: Environment, connection: QboConnection) -> list[LedgerPicker]:
    accounts = call_qbo(ctx, connection.id, lambda api: api.active_accounts())
    return build_pickers(accounts, choices_for(session, environment, connection.realm_id), ledgers_for(connection.tax_setup))


# ------------------------------------------------------------------ saving choices
@dataclass(frozen=True)
class SaveOutcome:
    warnings: dict[str, str]
    items_created: list[str]
    items_updated: list[str]


def save_choices(
    session: Session, ctx: ServiceContext, environment: Environment, connection: QboConnection, selected: dict[str, str], actor: User
) -> SaveOutcome:
    """Save the chosen account per ledger (checked live against QBO), then make the items follow them."""
    ensure_integration_enabled(environment.account)
    accounts = {account.id: account for account in call_qbo(ctx, connection.id, lambda api: api.active_accounts())}
    errors: dict[str, str] = {}
    for key in required_ledgers(connection.tax_setup):
        if not selected.get(key):
            errors[key] = f"Choose the QuickBooks account for {LEDGERS_BY_KEY[key].label}."
    for key, account_id in selected.items():
        if key not in LEDGERS_BY_KEY:
            errors[key] = "Unknown ledger."
        elif account_id and account_id not in accounts:
            errors[key] = "That account is not an active account in the connected QuickBooks company (it may have been deleted or made inactive). Reload and choose again."
    if errors:
        raise LedgerErrors(errors)

    existing = choices_for(session, environment, connection.realm_id)
    warnings: dict[str, str] = {}
    changes: dict[str, dict[str, str | None]] = {}
    now = utcnow()
    for spec in ledgers_for(connection.tax_setup):
        account_id = selected.get(spec.key) or ""
        row = existing.get(spec.key)
        if not account_id:
            if row is not None:  # only the optional ledger may be emptied
                changes[spec.key] = {"from": row.qbo_account_name, "to": None}
                session.delete(row)
            continue
        account = accounts[account_id]
        warning = unusual_type_warning(spec, account)
        if warning:
            warnings[spec.key] = warning
        if row is None:
            row = LedgerChoice(environment_id=environment.id, realm_id=connection.realm_id, ledger=spec.key)
            session.add(row)
        elif row.qbo_account_id == account.id:
            continue
        changes[spec.key] = {"from": row.qbo_account_name if row.qbo_account_id else None, "to": account.name}
        row.qbo_account_id = account.id
        row.qbo_account_name = account.fully_qualified_name[:255]
        row.qbo_account_type = account.account_type
        row.qbo_account_subtype = account.account_subtype
        row.chosen_at = now
        row.chosen_by_id = actor.id
    session.flush()
    audit.record(
        session, "ledgers.chosen", f"{actor.email} saved the ledgers of the {environment.kind} environment" + (f": {', '.join(LEDGERS_BY_KEY[k].label for k in changes)}" if changes else " (no change)"),
        actor=actor, account_id=environment.account_id, environment=environment.kind,
        details={"realm_id": connection.realm_id, "changes": changes, "warnings": warnings},
    )
    created, updated = ensure_items(session, ctx, environment, connection)
    return SaveOutcome(warnings, created, updated)


class LedgerErrors(ServiceError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()) or "Some ledgers need attention.")
        self.errors = errors


# ------------------------------------------------------------------ items
def _request_id(*parts: str) -> str:
    """A QBO requestid (≤ 50 characters) that is the same for the same intent, so a retry is a replay."""
    return "fbqbo-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:40]


def ensure_items(session: Session, ctx: ServiceContext, environment: Environment, connection: QboConnection) -> tuple[list[str], list[str]]:
    """Find or create each item the mapping needs, pointing at its chosen ledger; update on a change."""
    chosen = choices_for(session, environment, connection.realm_id)
    managed = {row.item_key: row for row in session.scalars(
        select(ManagedItem).where(ManagedItem.environment_id == environment.id, ManagedItem.realm_id == connection.realm_id))}
    created: list[str] = []
    updated: list[str] = []

    def work(api: QboApi) -> None:
        for item in items_needed(connection.tax_setup):
            ledger_key = item.ledger if item.ledger in chosen else item.fallback_ledger
            ledger = chosen.get(ledger_key) if ledger_key else None
            if ledger is None:
                continue
            try:
                found = _prepare_item(api, connection, item, ledger, created, updated)
            except PermanentError as error:
                reason = (error.detail or error.message).removeprefix("Business Validation Error: ")
                raise LedgerErrors({ledger_key: f"QuickBooks refused to use “{ledger.qbo_account_name}” for the “{item.name}” item ({reason}). Choose another account."}) from error
            row = managed.get(item.key)
            if row is None:
                row = ManagedItem(environment_id=environment.id, realm_id=connection.realm_id, item_key=item.key)
                session.add(row)
                managed[item.key] = row
            row.qbo_item_id = str(found["Id"])
            row.qbo_item_name = item.name
            row.income_account_id = ledger.qbo_account_id
            row.sync_token = str(found.get("SyncToken", "0"))
            row.updated_at = utcnow()

    try:
        call_qbo(ctx, connection.id, work)
    except ExternalError as error:
        raise ServiceError(f"The QuickBooks items could not be prepared, so nothing was saved: {error.message}") from error
    if created or updated:
        audit.record(
            session, "qbo.items_prepared", f"QuickBooks items {'created' if created else 'updated'}: {', '.join(created + updated)}",
            actor=None, account_id=environment.account_id, environment=environment.kind,
            details={"created": created, "updated": updated, "realm_id": connection.realm_id},
        )
    return created, updated


def _prepare_item(api: QboApi, connection: QboConnection, item: ItemSpec, ledger: LedgerChoice, created: list[str], updated: list[str]) -> dict:
    found = api.find_item_by_name(item.name)
    if found is not None and found.get("Type") not in ("Service", "NonInventory"):
        raise PermanentError(f"QuickBooks already has an item named “{item.name}” of type {found.get('Type')}; rename that item in QuickBooks")
    if found is None:
        created.append(item.name)
        return api.create_service_item(item.name, ledger.qbo_account_id, item.description,
                                       _request_id(connection.realm_id, "item", item.key, ledger.qbo_account_id))
    if (found.get("IncomeAccountRef") or {}).get("value") != ledger.qbo_account_id or not found.get("Active", True):
        updated.append(item.name)
        return api.update_item(str(found["Id"]), str(found["SyncToken"]), {"IncomeAccountRef": {"value": ledger.qbo_account_id}, "Active": True},
                               _request_id(connection.realm_id, "item-update", item.key, str(found["Id"]), str(found["SyncToken"]), ledger.qbo_account_id))
    return found


# ------------------------------------------------------------------ "Create this account for me"
def create_ledger_account(session: Session, ctx: ServiceContext, environment: Environment, connection: QboConnection, ledger: str, actor: User) -> QboAccount:
    """Create the recommended account for a ledger in QBO (or reuse one with that name) and choose it."""
    ensure_integration_enabled(environment.account)
    spec = LEDGERS_BY_KEY.get(ledger)
    if spec is None:
        raise ServiceError("Unknown ledger.")

    def work(api: QboApi) -> QboAccount:
        existing = api.find_account_by_name(spec.create_name)
        if existing is not None:
            return existing
        return api.create_account(spec.create_name, spec.create_type, spec.create_subtype, _request_id(connection.realm_id, "account", spec.key))

    try:
        account = call_qbo(ctx, connection.id, work)
    except ExternalError as error:
        raise ServiceError(f"QuickBooks did not create the account: {error.message}") from error
    if not account.active:
        raise ServiceError(f"An inactive account named “{account.name}” already exists in QuickBooks. Make it active there, or choose another account.")
    row = choices_for(session, environment, connection.realm_id).get(spec.key)
    if row is None:
        row = LedgerChoice(environment_id=environment.id, realm_id=connection.realm_id, ledger=spec.key)
        session.add(row)
    row.qbo_account_id = account.id
    row.qbo_account_name = account.fully_qualified_name[:255]
    row.qbo_account_type = account.account_type
    row.qbo_account_subtype = account.account_subtype
    row.chosen_at = utcnow()
    row.chosen_by_id = actor.id
    audit.record(
        session, "qbo.account_created", f"{actor.email} had “{account.name}” ({account.account_type}) created in QuickBooks for {spec.label}",
        actor=actor, account_id=environment.account_id, environment=environment.kind,
        details={"realm_id": connection.realm_id, "ledger": spec.key, "qbo_account_id": account.id},
    )
    session.flush()
    ensure_items(session, ctx, environment, connection)
    return account
