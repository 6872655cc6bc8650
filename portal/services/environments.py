"""The two environments of an account: which one is active, its Fusebill key, its sync settings."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.clients import AuthenticationError, ExternalError
from portal.clients.fusebill import FusebillClient
from portal.crypto import mask
from portal.models import Account, Environment, QboConnection, SyncRun, User, utcnow
from portal.models.account import ENVIRONMENT_PRODUCTION, ENVIRONMENT_SANDBOX, ENVIRONMENTS
from portal.models.integration import NAME_PARTS, NEW_CUSTOMERS_CREATE, NEW_CUSTOMERS_DONT_CREATE, SCHEDULES
from portal.services import ServiceError, audit
from portal.services.context import ServiceContext
from portal.services.enablement import ensure_integration_enabled
from portal.services.transactions import before_remote_call

OVERRIDE_REASON_MIN = 10
# Fusebill shows the key as a base64 Basic credential (fusebill-api.md §1.2): letters, digits, + / = - _.
API_KEY_PATTERN = re.compile(r"[A-Za-z0-9+/=_\-]+")
FUSEBILL_KEY_MAX = 512


class FieldErrors(ServiceError):
    """Every problem of a form at once, by field name."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()) or "Some fields need attention.")
        self.errors = errors


def create_environments(session: Session, account: Account) -> list[Environment]:
    """Give a new account (flushed, so it has an id) both its environments, sandbox and production.

    Every account has both from its creation (migration 0004 backfilled older ones), so pages only
    read them: a GET never writes.
    """
    environments = [Environment(account_id=account.id, kind=kind) for kind in ENVIRONMENTS]
    session.add_all(environments)
    return environments


def get_environment(session: Session, account: Account, kind: str) -> Environment:
    """The account's environment of this kind.

    Both exist from the account's creation (`create_environments`); the fallback that creates one here
    only serves rows made outside the services (old test fixtures) and is kept only by a request
    that commits.
    """
    if kind not in ENVIRONMENTS:
        raise ServiceError(f"Unknown environment {kind!r}.")
    environment = session.scalar(select(Environment).where(Environment.account_id == account.id, Environment.kind == kind))
    if environment is not None:
        return environment
    environment = Environment(account_id=account.id, kind=kind)
    try:
        with session.begin_nested():
            session.add(environment)
    except IntegrityError:  # created by a concurrent request
        environment = session.scalar(select(Environment).where(Environment.account_id == account.id, Environment.kind == kind))
        if environment is None:
            raise
    return environment


def active_environment(session: Session, account: Account) -> Environment:
    return get_environment(session, account, account.active_environment)


def live_connection(session: Session, environment: Environment) -> QboConnection | None:
    return session.scalar(
        select(QboConnection).where(QboConnection.environment_id == environment.id, QboConnection.disconnected_at.is_(None))
    )


def fusebill_client(ctx: ServiceContext, environment: Environment) -> FusebillClient:
    if not environment.fusebill_api_key_ciphertext:
        raise ServiceError("Enter this environment's Fusebill API key first.")
    return FusebillClient(
        ctx.settings.fusebill_url(environment.kind),
        ctx.vault.decrypt(environment.fusebill_api_key_ciphertext),
        timeout=ctx.settings.http_timeout_seconds,
    )


def save_fusebill_key(session: Session, ctx: ServiceContext, environment: Environment, api_key: str, actor: User) -> None:
    """Check the key against this environment's Fusebill API, then keep it encrypted."""
    ensure_integration_enabled(environment.account)
    api_key = (api_key or "").strip()
    if not api_key:
        raise ServiceError("Paste the API key from Fusebill (Settings → Integrations → API Key).", field="api_key")
    if len(api_key) > FUSEBILL_KEY_MAX or not API_KEY_PATTERN.fullmatch(api_key):
        raise ServiceError("That does not look like a Fusebill API key: it should be one line of letters, digits and = + / characters.", field="api_key")
    url = ctx.settings.fusebill_url(environment.kind)
    before_remote_call(session)
    try:
        # One attempt: someone is waiting at the form, and a retry would only delay the message.
        FusebillClient(url, api_key, timeout=ctx.settings.http_timeout_seconds, max_attempts=1).check_key()
    except AuthenticationError as error:
        fusebill = "staging" if environment.kind == ENVIRONMENT_SANDBOX else "production"
        raise ServiceError(f"Fusebill ({fusebill}) did not accept this API key. Check that it is the key of the {fusebill} account.",
                           field="api_key") from error
    except ExternalError as error:
        raise ServiceError(f"Could not check the key: {error.message} Nothing was saved; try again.", field="api_key") from error
    replacing = environment.fusebill_api_key_ciphertext is not None
    environment.fusebill_api_key_ciphertext = ctx.vault.encrypt(api_key)
    environment.fusebill_api_key_hint = mask(api_key)
    environment.fusebill_key_verified_at = utcnow()
    audit.record(
        session, "fusebill.key_saved",
        f"{actor.email} {'replaced' if replacing else 'entered'} the Fusebill API key of the {environment.kind} environment "
        f"(ends …{environment.fusebill_api_key_hint})",
        actor=actor, account_id=environment.account_id, environment=environment.kind,
        details={"replaced": replacing, "fusebill_url": url},
    )


def has_successful_sync(session: Session, environment: Environment) -> bool:
    return session.scalar(
        select(SyncRun.id).where(SyncRun.environment_id == environment.id, SyncRun.status == "succeeded").limit(1)
    ) is not None


@dataclass(frozen=True)
class SwitchCheck:
    target: str
    needs_override: bool
    reason: str


def switch_check(session: Session, account: Account, target: str) -> SwitchCheck:
    """What switching to `target` requires: production needs one successful sandbox sync, or an override."""
    if target == ENVIRONMENT_PRODUCTION:
        sandbox = get_environment(session, account, ENVIRONMENT_SANDBOX)
        if not has_successful_sync(session, sandbox):
            return SwitchCheck(target, True, "No sandbox sync has succeeded yet. Fusebill recommends a successful sandbox-to-sandbox sync before production.")
    return SwitchCheck(target, False, "")


def switch_environment(session: Session, account: Account, target: str, actor: User, *, confirmed: bool, override_reason: str = "") -> Environment:
    ensure_integration_enabled(account)
    if target not in ENVIRONMENTS:
        raise ServiceError("Choose sandbox or production.", field="target")
    if target == account.active_environment:
        raise ServiceError(f"The {target} environment is already active.", field="target")
    errors: dict[str, str] = {}  # every problem at once
    if not confirmed:
        errors["confirm"] = "Tick the box to confirm the switch."
    check = switch_check(session, account, target)
    override_reason = (override_reason or "").strip()
    if check.needs_override:
        if len(override_reason) < OVERRIDE_REASON_MIN:
            errors["override_reason"] = f"{check.reason} To switch anyway, write why (at least {OVERRIDE_REASON_MIN} characters)."
        elif len(override_reason) > 500:
            errors["override_reason"] = "Keep the reason to 500 characters or fewer."
    if errors:
        raise FieldErrors(errors)
    previous = account.active_environment
    account.active_environment = target
    audit.record(
        session, "environment.switched",
        f"{actor.email} switched from {previous} to {target}" + (f" (override: {override_reason})" if check.needs_override else ""),
        actor=actor, account_id=account.id, environment=target,
        details={"from": previous, "to": target, "override_reason": override_reason if check.needs_override else None},
    )
    return get_environment(session, account, target)


@dataclass
class SyncSettingsInput:
    display_name_parts: list[str]
    update_display_names: bool
    new_customers: str
    sync_start_date: date | None
    schedule: str
    notification_email: str


# Between the company and the person in a DisplayName: "Acme Ltd — Jane Doe (FB-100156)". The same rule
# runs in the browser as the boxes are ticked (static/settings.js reads it from the page).
NAME_SEPARATOR = " — "


def display_name_preview(parts: list[str], company: str = "Acme Ltd", first: str = "Jane", last: str = "Doe", fusebill_id: str = "100156") -> str:
    """How a customer's QBO DisplayName will look: the company name, then first and last name, the two
    kept apart by NAME_SEPARATOR; nothing to show gives first + last. The Fusebill id is always added."""
    person = " ".join(value for part, value in (("first_name", first), ("last_name", last)) if part in parts and value)
    chosen = [value for value in ((company if "company_name" in parts else ""), person) if value]
    name = NAME_SEPARATOR.join(chosen) if chosen else f"{first} {last}"
    return f"{name} (FB-{fusebill_id})"


def sync_settings_errors(data: SyncSettingsInput) -> dict[str, str]:
    """Everything wrong with these settings, by field (empty: they may be saved)."""
    errors: dict[str, str] = {}
    if not [part for part in NAME_PARTS if part in data.display_name_parts]:
        errors["display_name_parts"] = "Choose at least one of company name, first name and last name (the Fusebill id is always added)."
    if data.new_customers not in (NEW_CUSTOMERS_CREATE, NEW_CUSTOMERS_DONT_CREATE):
        errors["new_customers"] = "Choose what happens to newly activated customers."
    if data.schedule not in SCHEDULES:
        errors["schedule"] = "Choose off, hourly or daily."
    if data.sync_start_date is None:
        errors["sync_start_date"] = "Choose the date from which Fusebill records are synced."
    elif data.sync_start_date > date.today():
        errors["sync_start_date"] = "The sync start date cannot be in the future."
    elif data.sync_start_date.year < 2000:
        errors["sync_start_date"] = "The sync start date must be in the year 2000 or later."
    email = (data.notification_email or "").strip()
    if email:
        try:
            validate_email(email, check_deliverability=False)
        except EmailNotValidError as error:
            errors["notification_email"] = f"Not a valid email address: {error}"
    return errors


def update_sync_settings(session: Session, environment: Environment, data: SyncSettingsInput, actor: User) -> None:
    ensure_integration_enabled(environment.account)
    errors = sync_settings_errors(data)
    if errors:
        raise FieldErrors(errors)
    assert data.sync_start_date is not None  # checked above
    parts = [part for part in NAME_PARTS if part in data.display_name_parts]
    email = (data.notification_email or "").strip()
    if email:
        email = validate_email(email, check_deliverability=False).normalized
    before = {
        "display_name_parts": environment.display_name_parts, "update_display_names": environment.update_display_names,
        "new_customers": environment.new_customers, "sync_start_date": environment.sync_start_date.isoformat() if environment.sync_start_date else None,
        "schedule": environment.schedule, "notification_email": environment.notification_email,
    }
    environment.display_name_parts = parts
    environment.update_display_names = data.update_display_names
    environment.new_customers = data.new_customers
    environment.sync_start_date = data.sync_start_date
    environment.schedule = data.schedule
    environment.notification_email = email or None
    environment.settings_saved_at = utcnow()
    after = {
        "display_name_parts": parts, "update_display_names": data.update_display_names, "new_customers": data.new_customers,
        "sync_start_date": data.sync_start_date.isoformat(), "schedule": data.schedule, "notification_email": email or None,
    }
    changed = {key: {"from": before[key], "to": after[key]} for key in after if before[key] != after[key]}
    audit.record(
        session, "settings.updated", f"{actor.email} saved the {environment.kind} sync settings" + (f" ({', '.join(changed)})" if changed else " (no change)"),
        actor=actor, account_id=environment.account_id, environment=environment.kind, details={"changed": changed},
    )
