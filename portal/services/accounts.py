"""Creating accounts and users, and finding them."""
from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from portal.models import ROLE_ADMIN, ROLE_SUPPORT, Account, EnablementRequest, User
from portal.models.account import REQUEST_PENDING
from portal.services import NotFound, ServiceError, audit
from portal.services.environments import create_environments

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256


def normalise_email(raw: str) -> str:
    """Lower-cased, validated address; raises ServiceError on a malformed one."""
    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise ServiceError(f"Not a valid email address: {error}", field="email") from error
    return result.normalized.lower()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ServiceError(f"Password must be at least {MIN_PASSWORD_LENGTH} characters.", field="password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ServiceError(f"Password must be at most {MAX_PASSWORD_LENGTH} characters.", field="password")
    return generate_password_hash(password, method="scrypt")


def create_account(session: Session, name: str, fusebill_account_id: str, *, actor: User | None = None) -> Account:
    name = name.strip()
    fusebill_account_id = fusebill_account_id.strip()
    if not name:
        raise ServiceError("Account name is required.", field="name")
    if not fusebill_account_id:
        raise ServiceError("Fusebill account id is required.", field="fusebill_account_id")
    if session.scalar(select(Account.id).where(Account.fusebill_account_id == fusebill_account_id)):
        raise ServiceError(f"An account with Fusebill id {fusebill_account_id} already exists.", field="fusebill_account_id")
    account = Account(name=name, fusebill_account_id=fusebill_account_id, integration_enabled=False)
    session.add(account)
    session.flush()
    create_environments(session, account)  # both environments exist from the start: pages never create them
    audit.record(
        session, "account.created", f"Account {name} ({fusebill_account_id}) created",
        actor=actor, account_id=account.id, details={"name": name, "fusebill_account_id": fusebill_account_id},
    )
    return account


def create_user(
    session: Session,
    email: str,
    password: str,
    role: str,
    *,
    account: Account | None = None,
    name: str = "",
    actor: User | None = None,
) -> User:
    if role not in (ROLE_ADMIN, ROLE_SUPPORT):
        raise ServiceError(f"Role must be {ROLE_ADMIN} or {ROLE_SUPPORT}.", field="role")
    if role == ROLE_ADMIN and account is None:
        raise ServiceError("An admin must belong to an account.", field="account")
    if role == ROLE_SUPPORT and account is not None:
        raise ServiceError("Support staff do not belong to an account.", field="account")
    address = normalise_email(email)
    if session.scalar(select(User.id).where(User.email == address)):
        raise ServiceError(f"A user with email {address} already exists.", field="email")
    user = User(
        email=address,
        name=name.strip(),
        password_hash=hash_password(password),
        role=role,
        account_id=account.id if account is not None else None,
    )
    session.add(user)
    session.flush()
    audit.record(
        session, "user.created", f"{role.capitalize()} {address} created",
        actor=actor, account_id=user.account_id, details={"email": address, "role": role},
    )
    return user


def get_account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound("No such account.")
    return account


def find_account_by_fusebill_id(session: Session, fusebill_account_id: str) -> Account:
    account = session.scalar(select(Account).where(Account.fusebill_account_id == fusebill_account_id.strip()))
    if account is None:
        raise NotFound(f"No account with Fusebill id {fusebill_account_id}.")
    return account


def search_accounts(
    session: Session, query: str = "", *, state: str = "all", limit: int = 200
) -> list[tuple[Account, int]]:
    """Accounts matching `query` (name, Fusebill id or an admin's email), with their pending request count.

    `state`: "all", "enabled", "disabled" or "pending" (has a pending enablement request).
    Accounts with pending requests come first, then by name.
    """
    pending = (
        select(EnablementRequest.account_id, func.count().label("pending"))
        .where(EnablementRequest.status == REQUEST_PENDING)
        .group_by(EnablementRequest.account_id)
        .subquery()
    )
    pending_count = func.coalesce(pending.c.pending, 0)
    statement = select(Account, pending_count).outerjoin(pending, pending.c.account_id == Account.id)
    term = query.strip()
    if term:
        like = f"%{term.lower()}%"
        admin_match = select(User.account_id).where(func.lower(User.email).like(like)).scalar_subquery()
        statement = statement.where(
            or_(
                func.lower(Account.name).like(like),
                func.lower(Account.fusebill_account_id).like(like),
                Account.id.in_(admin_match),
            )
        )
    if state == "enabled":
        statement = statement.where(Account.integration_enabled.is_(True))
    elif state == "disabled":
        statement = statement.where(Account.integration_enabled.is_(False))
    elif state == "pending":
        statement = statement.where(pending_count > 0)
    statement = statement.order_by(pending_count.desc(), func.lower(Account.name), Account.id).limit(limit)
    return [(account, int(count)) for account, count in session.execute(statement)]
