"""Choosing a QuickBooks account (ledger) for each kind of Fusebill record, and the items that post there.

The ledgers and their recommended account types come from the accounting contract
(design/accounting-mapping.md, "Ledgers the user chooses"). The picker lists the connected company's
active accounts, recommended types first, and warns — never forbids — on an unusual type.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.clients import ExternalError, PermanentError
from portal.clients.qbo import QboAccount, QboApi, request_id
from portal.models import Environment, LedgerChoice, ManagedItem, QboConnection, User, utcnow
from portal.models.integration import TAX_CODES
from portal.services import ServiceError
from portal.services import audit
from portal.services.context import ServiceContext
from portal.services.enablement import ensure_integration_enabled
from portal.services.qbo_tokens import call_qbo

log = logging.getLogger(__name__)


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
    accounts = call_qbo(ctx, connection.id, lambda api: api.active_accounts(), session=session)
    return build_pickers(accounts, choices_for(session, environment, connection.realm_id), ledgers_for(connection.tax_setup))


# ------------------------------------------------------------------ saving choices
@dataclass(frozen=True)
class SaveOutcome:
    warnings: dict[str, str]
    items_created: list[str]
    items_updated: list[str]


@dataclass(frozen=True)
class PlannedLedger:
    """An account chosen for a ledger, not yet stored."""

    account_id: str
    name: str
    account_type: str
    account_subtype: str

    @classmethod
    def of(cls, account: QboAccount) -> "PlannedLedger":
        return cls(account.id, account.fully_qualified_name[:255], account.account_type, account.account_subtype)

    @classmethod
    def stored(cls, row: LedgerChoice) -> "PlannedLedger":
        return cls(row.qbo_account_id, row.qbo_account_name, row.qbo_account_type, row.qbo_account_subtype)


class LedgerErrors(ServiceError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()) or "Some ledgers need attention.")
        self.errors = errors


def save_choices(
    session: Session, ctx: ServiceContext, environment: Environment, connection: QboConnection, selected: dict[str, str], actor: User
) -> SaveOutcome:
    """Save the chosen account per ledger (checked live against QBO), and make the items follow them.

    All QuickBooks work happens before anything is written here, and a refused item undoes the item
    changes already made: either QuickBooks and the portal both take the new ledgers, or neither does.
    (It also means no write lock of this request is held while a token refresh needs to commit.)
    """
    ensure_integration_enabled(environment.account)
    accounts = {account.id: account for account in call_qbo(ctx, connection.id, lambda api: api.active_accounts(), session=session)}
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

    specs = ledgers_for(connection.tax_setup)
    planned = {spec.key: PlannedLedger.of(accounts[selected[spec.key]]) for spec in specs if selected.get(spec.key)}
    warnings = {key: warning for key in planned if (warning := unusual_type_warning(LEDGERS_BY_KEY[key], accounts[planned[key].account_id]))}
    prepared = prepare_items(session, ctx, environment, connection, planned)

    existing = choices_for(session, environment, connection.realm_id)
    changes: dict[str, dict[str, str | None]] = {}
    for spec in specs:
        row, choice = existing.get(spec.key), planned.get(spec.key)
        if choice is None:
            if row is not None:  # only the optional ledger may be emptied
                changes[spec.key] = {"from": row.qbo_account_name, "to": None}
                session.delete(row)
            continue
        if row is None or row.qbo_account_id != choice.account_id:
            changes[spec.key] = {"from": row.qbo_account_name if row is not None else None, "to": choice.name}
            _store_choice(session, environment, connection, spec.key, choice, actor, row)
    _store_items(session, environment, connection, prepared)
    audit.record(
        session, "ledgers.chosen", f"{actor.email} saved the ledgers of the {environment.kind} environment" + (f": {', '.join(LEDGERS_BY_KEY[k].label for k in changes)}" if changes else " (no change)"),
        actor=actor, account_id=environment.account_id, environment=environment.kind,
        details={"realm_id": connection.realm_id, "changes": changes, "warnings": warnings},
    )
    return SaveOutcome(warnings, prepared.created, prepared.updated)


def _store_choice(session: Session, environment: Environment, connection: QboConnection, key: str, choice: PlannedLedger, actor: User, row: LedgerChoice | None) -> None:
    if row is None:
        row = LedgerChoice(environment_id=environment.id, realm_id=connection.realm_id, ledger=key)
        session.add(row)
    row.qbo_account_id = choice.account_id
    row.qbo_account_name = choice.name
    row.qbo_account_type = choice.account_type
    row.qbo_account_subtype = choice.account_subtype
    row.chosen_at = utcnow()
    row.chosen_by_id = actor.id


# ------------------------------------------------------------------ items
@dataclass
class PreparedItems:
    items: dict[str, dict] = field(default_factory=dict)  # item key -> the QBO item as it now is
    accounts: dict[str, str] = field(default_factory=dict)  # item key -> income account id
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


def prepare_items(session: Session, ctx: ServiceContext, environment: Environment, connection: QboConnection, planned: dict[str, PlannedLedger]) -> PreparedItems:
    """Make each item the mapping needs exist, be active and post to its planned ledger (QBO only).

    An item QuickBooks refuses raises LedgerErrors on the ledger at fault, after undoing the changes
    this call already made to other items. Nothing is written to the database here.
    """
    managed = {row.item_key: row for row in session.scalars(
        select(ManagedItem).where(ManagedItem.environment_id == environment.id, ManagedItem.realm_id == connection.realm_id))}

    def work(api: QboApi) -> PreparedItems:
        result = PreparedItems()  # fresh on every attempt (call_qbo retries after a 401)
        undo: list[tuple[str, dict]] = []  # (item id, fields to restore)
        for item in items_needed(connection.tax_setup):
            ledger_key = item.ledger if item.ledger in planned else item.fallback_ledger
            ledger = planned.get(ledger_key) if ledger_key else None
            if ledger is None:
                continue
            try:
                found = _prepare_item(api, connection, item, ledger, managed.get(item.key), result, undo)
            except PermanentError as error:
                _undo(api, connection, undo)
                reason = (error.detail or error.message).removeprefix("Business Validation Error: ")
                raise LedgerErrors({ledger_key: f"QuickBooks refused to use “{ledger.name}” for the “{item.name}” item ({reason}). Nothing was changed; choose another account."}) from error
            result.items[item.key] = found
            result.accounts[item.key] = ledger.account_id
        return result

    try:
        return call_qbo(ctx, connection.id, work, session=session)
    except LedgerErrors:
        raise
    except ExternalError as error:
        raise ServiceError(f"The QuickBooks items could not be prepared, so nothing was saved: {error.message}") from error


def _prepare_item(api: QboApi, connection: QboConnection, item: ItemSpec, ledger: PlannedLedger, row: ManagedItem | None,
                  result: PreparedItems, undo: list[tuple[str, dict]]) -> dict:
    # The item we made before, by id (it may have been renamed or made inactive in QuickBooks since).
    found = api.get_item(row.qbo_item_id) if row is not None else None
    if found is None:
        found = api.find_item_by_name(item.name)
    if found is not None and found.get("Type") not in ("Service", "NonInventory"):
        raise PermanentError(f"QuickBooks already has an item named “{item.name}” of type {found.get('Type')}; rename that item in QuickBooks")
    if found is None:
        made = api.create_service_item(item.name, ledger.account_id, item.description,
                                       request_id(connection.realm_id, "item", item.key, ledger.account_id, row.qbo_item_id if row else "-"))
        result.created.append(item.name)
        # A replayed create answers with the item as it was made then: read it as it is now.
        found = api.get_item(str(made["Id"])) or made
        if found.get("Active", True) and (found.get("IncomeAccountRef") or {}).get("value") == ledger.account_id:
            return found
    current_account = (found.get("IncomeAccountRef") or {}).get("value")
    if current_account == ledger.account_id and found.get("Active", True):
        return found
    updated = api.update_item(str(found["Id"]), str(found["SyncToken"]), {"IncomeAccountRef": {"value": ledger.account_id}, "Active": True},
                              request_id(connection.realm_id, "item-update", item.key, str(found["Id"]), str(found["SyncToken"]), ledger.account_id))
    undo.append((str(found["Id"]), {"IncomeAccountRef": {"value": current_account}, "Active": bool(found.get("Active", True))}))
    if item.name not in result.created:
        result.updated.append(item.name)
    return updated


def _undo(api: QboApi, connection: QboConnection, undo: list[tuple[str, dict]]) -> None:
    """Put back the items this save already changed (best effort; each failure is logged)."""
    for item_id, fields in reversed(undo):
        try:
            current = api.get_item(item_id)
            if current is not None:
                api.update_item(item_id, str(current["SyncToken"]), fields,
                                request_id(connection.realm_id, "item-undo", item_id, str(current["SyncToken"])))
        except ExternalError as error:
            log.warning("could not restore QBO item %s after a refused ledger save: %s", item_id, error.message)


def _store_items(session: Session, environment: Environment, connection: QboConnection, prepared: PreparedItems) -> None:
    managed = {row.item_key: row for row in session.scalars(
        select(ManagedItem).where(ManagedItem.environment_id == environment.id, ManagedItem.realm_id == connection.realm_id))}
    for key, found in prepared.items.items():
        row = managed.get(key)
        if row is None:
            row = ManagedItem(environment_id=environment.id, realm_id=connection.realm_id, item_key=key)
            session.add(row)
        row.qbo_item_id = str(found["Id"])
        row.qbo_item_name = str(found.get("Name", ""))[:100]
        row.income_account_id = prepared.accounts[key]
        row.sync_token = str(found.get("SyncToken", "0"))
        row.updated_at = utcnow()
    if prepared.created or prepared.updated:
        audit.record(
            session, "qbo.items_prepared", f"QuickBooks items created: {', '.join(prepared.created) or 'none'}; updated: {', '.join(prepared.updated) or 'none'}",
            actor=None, account_id=environment.account_id, environment=environment.kind,
            details={"created": prepared.created, "updated": prepared.updated, "realm_id": connection.realm_id},
        )


# ------------------------------------------------------------------ "Create this account for me"
@dataclass(frozen=True)
class CreatedAccount:
    account: QboAccount
    warning: str


def create_ledger_account(session: Session, ctx: ServiceContext, environment: Environment, connection: QboConnection, ledger: str, actor: User) -> CreatedAccount:
    """Create the recommended account for a ledger in QBO (or reuse or reactivate ours) and choose it."""
    ensure_integration_enabled(environment.account)
    spec = next((s for s in ledgers_for(connection.tax_setup) if s.key == ledger), None)
    if spec is None:
        raise ServiceError("Unknown ledger.")

    def work(api: QboApi) -> QboAccount:
        account = api.find_account_by_name(spec.create_name)
        if account is None:
            created = api.create_account(spec.create_name, spec.create_type, spec.create_subtype, request_id(connection.realm_id, "account", spec.key))
            # A replayed create answers with the account as it was then: read it as it is now.
            account = api.account(created.id)
        if not account.active:  # ours, made inactive in QuickBooks since (or a replayed create): bring it back
            account = api.reactivate_account(account.id, request_id(connection.realm_id, "account-reactivate", account.id, utcnow().isoformat()))
        return account

    try:
        account = call_qbo(ctx, connection.id, work, session=session)
    except ExternalError as error:
        raise ServiceError(f"QuickBooks did not create the account: {error.message}") from error
    planned = {key: PlannedLedger.stored(row) for key, row in choices_for(session, environment, connection.realm_id).items()}
    planned[spec.key] = PlannedLedger.of(account)
    prepared = prepare_items(session, ctx, environment, connection, planned)
    row = choices_for(session, environment, connection.realm_id).get(spec.key)
    _store_choice(session, environment, connection, spec.key, planned[spec.key], actor, row)
    _store_items(session, environment, connection, prepared)
    audit.record(
        session, "qbo.account_created", f"{actor.email} had “{account.name}” ({account.account_type}) made ready in QuickBooks for {spec.label}",
        actor=actor, account_id=environment.account_id, environment=environment.kind,
        details={"realm_id": connection.realm_id, "ledger": spec.key, "qbo_account_id": account.id},
    )
    return CreatedAccount(account, unusual_type_warning(spec, account))
