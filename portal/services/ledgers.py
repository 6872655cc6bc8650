"""Choosing a QuickBooks account (ledger) for each kind of Fusebill record, and the items that post there.

The ledgers and their recommended account types come from the accounting contract
(design/accounting-mapping.md, "Ledgers the user chooses"). The picker lists the connected company's
active accounts, recommended ones first, and warns — never forbids — on an unusual type. Two kinds are
never recommended: QuickBooks' own tax agency accounts (GST/HST Payable, VAT Control, a US agency's
"… Payable": QBO manages them for its sales tax and its returns) and inventory. Accounts Receivable
and Accounts Payable are not offered at all: QuickBooks refuses them as an item's account (6430).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.clients import ExternalError, PermanentError
from portal.clients.qbo import QboAccount, QboApi, request_id
from portal.models import Environment, LedgerChoice, ManagedItem, QboConnection, User, utcnow
from portal.models.integration import TAX_CODES
from portal.services import ServiceError, audit
from portal.services.context import ServiceContext
from portal.services.enablement import ensure_integration_enabled
from portal.services.qbo_tokens import call_qbo

log = logging.getLogger(__name__)

OTHER_CURRENT_LIABILITY = "Other Current Liability"
OTHER_CURRENT_ASSET = "Other Current Asset"
# QuickBooks refuses these as an item's income account, so no ledger may use them.
NEVER_OFFERED_TYPES = frozenset({"Accounts Receivable", "Accounts Payable"})
# The detail types QuickBooks gives the liability accounts of its own tax engine (one per agency).
TAX_AGENCY_SUBTYPES = frozenset({"SalesTaxPayable", "GlobalTaxPayable", "GlobalTaxSuspense"})
# ... and their names, for a company that has them under another detail type.
_TAX_AGENCY_NAME = re.compile(r"(?<![a-z])(gst|hst|pst|qst|vat|tps|tvq|tvh)(?![a-z])|^sales tax payable$|^sales tax agency payable$", re.IGNORECASE)
# Detail types that say nothing about what an account is for: only then does its name count.
GENERIC_SUBTYPES = {
    OTHER_CURRENT_LIABILITY: frozenset({"", "OtherCurrentLiabilities"}),
    OTHER_CURRENT_ASSET: frozenset({"", "OtherCurrentAssets"}),
    "Income": frozenset({"", "OtherPrimaryIncome"}),
    "Other Income": frozenset({"", "OtherMiscellaneousIncome"}),
    "Expense": frozenset({"", "OtherMiscellaneousServiceCost", "OtherBusinessExpenses"}),
    "Other Expense": frozenset({"", "OtherMiscellaneousExpense", "OtherExpense"}),
}
# How QuickBooks shows a few detail types; the others read well split into words.
_SUBTYPE_WORDS = {
    "DiscountsRefundsGiven": "discounts/refunds given", "ServiceFeeIncome": "service/fee income",
    "AdvertisingPromotional": "advertising/promotional", "OfficeGeneralAdministrativeExpenses": "office/general administrative expenses",
    "SuppliesMaterialsCogs": "supplies & materials — COGS", "RentOrLeaseOfBuildings": "rent or lease of buildings",
    "OtherCurrentLiabilities": "other current liabilities", "OtherCurrentAssets": "other current assets",
}


def plain_type(account_type: str, subtype: str = "") -> str:
    """An account type as a person reads it: "Other current liability — deferred revenue"."""
    kind = account_type[:1].upper() + account_type[1:].lower() if account_type else "Unknown type"
    words = _SUBTYPE_WORDS.get(subtype) or re.sub(r"(?<=[a-z])(?=[A-Z])", " ", subtype or "").lower()
    if not words or words == kind.lower():
        return kind
    return f"{kind} — {words}"


def with_article(phrase: str) -> str:
    """ "an Other current liability account", "a Bank account" (every QBO type starts with its sound)."""
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def is_tax_agency(account: QboAccount) -> bool:
    return account.account_subtype in TAX_AGENCY_SUBTYPES or bool(_TAX_AGENCY_NAME.search(account.name.strip()))


def is_inventory(account: QboAccount) -> bool:
    return account.account_subtype == "Inventory" or "inventory" in account.fully_qualified_name.casefold()


def is_offered(account: QboAccount) -> bool:
    return account.account_type not in NEVER_OFFERED_TYPES


@dataclass(frozen=True)
class Rule:
    """Accounts of one type fit for a ledger: of these detail types (None: any), or, for a detail
    type that says nothing (GENERIC_SUBTYPES), named like one of `names`."""

    account_type: str
    subtypes: frozenset[str] | None = None
    names: tuple[str, ...] = ()

    def matches(self, account: QboAccount) -> bool:
        if account.account_type != self.account_type:
            return False
        if self.names:
            if account.account_subtype not in GENERIC_SUBTYPES.get(self.account_type, frozenset({""})):
                return False
            name = account.fully_qualified_name.casefold()
            return any(re.search(r"(?<![a-z])" + re.escape(word), name) for word in self.names)
        return self.subtypes is None or account.account_subtype in self.subtypes


def named(account_type: str, *names: str) -> Rule:
    return Rule(account_type, names=names)


@dataclass(frozen=True)
class LedgerSpec:
    key: str
    label: str
    used_for: str
    rules: tuple[Rule, ...]  # the contract's type first, then accounts named for the purpose
    recommendation: str  # the contract's recommendation, in plain words
    create_name: str
    create_type: str
    create_subtype: str
    optional_note: str = ""

    def rank(self, account: QboAccount) -> int | None:
        """The first rule the account fits (0 is the contract's own type), or None when it is not recommended."""
        if not is_offered(account) or is_tax_agency(account) or is_inventory(account):
            return None
        return next((index for index, rule in enumerate(self.rules) if rule.matches(account)), None)

    @property
    def create_kind(self) -> str:
        return plain_type(self.create_type, self.create_subtype)


_DEFERRED = Rule(OTHER_CURRENT_LIABILITY, frozenset({"DeferredRevenue"}))
_BANK = Rule("Bank")
_CREDIT_WORDS = ("credit", "discount", "refund", "promo")
_WRITE_OFF_WORDS = ("bad debt", "write-off", "write off", "writeoff", "written off", "uncollect", "doubtful")

LEDGERS: tuple[LedgerSpec, ...] = (
    LedgerSpec("deferred_revenue", "Deferred Revenue", "Invoices, net of taxes (and charge reversals unless they have their own ledger)",
               (_DEFERRED, named(OTHER_CURRENT_LIABILITY, "deferred", "unearned")),
               "Other current liability — deferred revenue",
               "Fusebill Deferred Revenue", OTHER_CURRENT_LIABILITY, "DeferredRevenue"),
    LedgerSpec("sales_tax_payable", "Sales Tax Payable", "Taxes on invoices, and taxes reversed",
               (named(OTHER_CURRENT_LIABILITY, "tax"),),
               "an Other current liability account of its own for these taxes (not one of the tax agency accounts QuickBooks keeps for its own sales tax)",
               "Fusebill Sales Tax Payable", OTHER_CURRENT_LIABILITY, "OtherCurrentLiabilities"),
    LedgerSpec("payments_deposit", "Payments deposit", "Payments received",
               (Rule(OTHER_CURRENT_ASSET, frozenset({"UndepositedFunds"})), _BANK, named(OTHER_CURRENT_ASSET, "clearing", "undeposited", "payment")),
               "Other current asset — undeposited funds, or Bank",
               "Fusebill Payments Clearing", OTHER_CURRENT_ASSET, "OtherCurrentAssets"),
    LedgerSpec("refunds", "Refunds paid from", "Refunds to customers",
               (_BANK, named(OTHER_CURRENT_ASSET, "clearing", "refund")),
               "Bank, or an Other current asset clearing account",
               "Fusebill Refunds Clearing", OTHER_CURRENT_ASSET, "OtherCurrentAssets"),
    LedgerSpec("credits", "Credits", "Credits given to customers",
               (Rule("Income", frozenset({"DiscountsRefundsGiven"})), named("Income", *_CREDIT_WORDS), named("Expense", *_CREDIT_WORDS)),
               "Income — discounts/refunds given, or an Expense account for credits given",
               "Fusebill Credits Given", "Income", "DiscountsRefundsGiven"),
    LedgerSpec("charge_reversals", "Charge Reversals", "Charge reversals (credit notes), net of taxes",
               (_DEFERRED, named(OTHER_CURRENT_LIABILITY, "deferred", "unearned", "reversal")),
               "Other current liability — deferred revenue",
               "Fusebill Charge Reversals", OTHER_CURRENT_LIABILITY, "DeferredRevenue",
               optional_note="Leave empty to post charge reversals to the Deferred Revenue ledger."),
    LedgerSpec("write_offs", "Write-Offs", "Invoices written off (gross, tax included)",
               (Rule("Expense", frozenset({"BadDebts"})), named("Expense", *_WRITE_OFF_WORDS), named("Other Expense", *_WRITE_OFF_WORDS)),
               "Expense — bad debts",
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
    ItemSpec("charge_reversals", "Fusebill Charge Reversals", "charge_reversals", "Fusebill charge reversals (credit notes)",
             fallback_ledger="deferred_revenue"),
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
    """Why an account is an unusual choice for a ledger ("" when it is a recommended one)."""
    if spec.rank(account) is not None:
        return ""
    kind = plain_type(account.account_type, account.account_subtype)
    if not is_offered(account):
        return (f"“{account.name}” is {with_article(account.account_type)} account: QuickBooks does not let the Fusebill items post there, "
                f"and it would double-count customer balances. Choose another account. Recommended: {spec.recommendation}.")
    if is_tax_agency(account):
        return (f"“{account.name}” ({kind}) is a tax agency account that QuickBooks keeps for its own sales tax and tax returns: "
                f"posting {spec.used_for[:1].lower() + spec.used_for[1:]} there would mix them into those returns. Recommended: {spec.recommendation}.")
    return f"“{account.name}” ({kind}) is unusual for {spec.label}. Recommended: {spec.recommendation}."


def build_pickers(spec_accounts: list[QboAccount], chosen: dict[str, LedgerChoice], specs: list[LedgerSpec] | None = None) -> list[LedgerPicker]:
    """One picker per ledger: recommended accounts first (the contract's type first), then every other
    account that a ledger may use (never Accounts Receivable or Payable)."""
    by_id = {account.id: account for account in spec_accounts}
    offered = [account for account in spec_accounts if is_offered(account)]
    pickers = []
    for spec in specs if specs is not None else LEDGERS:
        picker = LedgerPicker(spec=spec, chosen=chosen.get(spec.key))
        ranks = {account.id: spec.rank(account) for account in offered}
        picker.recommended = sorted((a for a in offered if ranks[a.id] is not None), key=lambda a: (ranks[a.id], a.fully_qualified_name.casefold()))
        picker.others = sorted((a for a in offered if ranks[a.id] is None), key=lambda a: a.fully_qualified_name.casefold())
        if picker.chosen is not None:
            match = by_id.get(picker.chosen.qbo_account_id)
            picker.chosen_still_active = match is not None and is_offered(match)
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
    def of(cls, account: QboAccount) -> PlannedLedger:
        return cls(account.id, account.fully_qualified_name[:255], account.account_type, account.account_subtype)

    @classmethod
    def stored(cls, row: LedgerChoice) -> PlannedLedger:
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
            errors[key] = ("That account is not an active account in the connected QuickBooks company (it may have been deleted or made inactive). "
                           "Reload and choose again.")
        elif account_id and not is_offered(accounts[account_id]):
            account = accounts[account_id]
            errors[key] = (f"“{account.name}” is {with_article(account.account_type)} account: QuickBooks does not let the Fusebill items "
                           "post there. Choose another account.")
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
        session, "ledgers.chosen",
        f"{actor.email} saved the ledgers of the {environment.kind} environment"
        + (f": {', '.join(LEDGERS_BY_KEY[k].label for k in changes)}" if changes else " (no change)"),
        actor=actor, account_id=environment.account_id, environment=environment.kind,
        details={"realm_id": connection.realm_id, "changes": changes, "warnings": warnings},
    )
    return SaveOutcome(warnings, prepared.created, prepared.updated)


def _store_choice(session: Session, environment: Environment, connection: QboConnection, key: str, choice: PlannedLedger, actor: User,
                  row: LedgerChoice | None) -> None:
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


def prepare_items(session: Session, ctx: ServiceContext, environment: Environment, connection: QboConnection,
                  planned: dict[str, PlannedLedger]) -> PreparedItems:
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
            if ledger is None or not ledger_key:
                continue
            try:
                found = _prepare_item(api, connection, item, ledger, managed.get(item.key), result, undo)
            except PermanentError as error:
                _undo(api, connection, undo)
                reason = (error.detail or error.message).removeprefix("Business Validation Error: ")
                raise LedgerErrors({ledger_key: f"QuickBooks refused to use “{ledger.name}” for the “{item.name}” item ({reason}). "
                                                "Nothing was changed; choose another account."}) from error
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
            session, "qbo.items_prepared",
            f"QuickBooks items created: {', '.join(prepared.created) or 'none'}; updated: {', '.join(prepared.updated) or 'none'}",
            actor=None, account_id=environment.account_id, environment=environment.kind,
            details={"created": prepared.created, "updated": prepared.updated, "realm_id": connection.realm_id},
        )


# ------------------------------------------------------------------ "Create this account for me"
@dataclass(frozen=True)
class CreatedAccount:
    account: QboAccount
    warning: str


def create_ledger_account(session: Session, ctx: ServiceContext, environment: Environment, connection: QboConnection, ledger: str,
                          actor: User) -> CreatedAccount:
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
