"""Customer matching: which QBO customer each Fusebill customer likely is, and the admin's choice.

*Find matches* (`start_scan`) queues `jobs.matching.find_matches`, which reads every Fusebill
customer and every QBO customer and stores, per Fusebill customer, its likely QBO counterpart
(`suggest_matches`, pure): by its Fusebill marker first (`fusebill:customer:<id>` at the start of the
QBO customer's Notes, as the sync writes it), then by email (trimmed, case-insensitive), then by name
(case, whitespace and punctuation ignored). More than one candidate is *ambiguous* and shown as
such, never picked; a QBO customer another Fusebill customer owns (its link or its marker) is never
suggested.

The admin then chooses per customer (`decide`, `accept_all_suggested`): create a new QBO customer,
link to a QBO customer, or don't sync. Decisions belong to the environment and the QBO company,
are audited and show who chose and when; the engine honours them (jobs/sync/links.py
`honour_decisions`). Refused: a link to a QBO customer that belongs to another Fusebill customer,
and any change of QBO customer for a customer already synced (re-pointing existing books is out of
scope).
"""
from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, case, delete, func, or_, select
from sqlalchemy.orm import Session

from portal.models import Account, Environment, QboConnection, SyncLink, SyncRecord, User, utcnow
from portal.models.matching import (
    BASIS_EMAIL,
    BASIS_LINKED,
    BASIS_MARKER,
    BASIS_NAME,
    CHOICE_CREATE,
    CHOICE_DONT_SYNC,
    CHOICE_LINK,
    CHOICES,
    SCAN_ACTIVE,
    SCAN_FAILED,
    SCAN_QUEUED,
    CustomerDecision,
    CustomerMatch,
    MatchScan,
    ScannedQboCustomer,
)
from portal.services import NotAllowed, NotFound, ServiceError, audit
from portal.services.context import ServiceContext
from portal.services.environments import active_environment, live_connection

PER_PAGE = 50
STALE_SCAN = timedelta(hours=1)
CANDIDATES_SHOWN = 10
DRAFT = "Draft"  # never synced (contract "Which customers"): not listed

STATUS_SUGGESTED = "suggested"
STATUS_AMBIGUOUS = "ambiguous"
STATUS_NO_MATCH = "no_match"
STATUS_LINKED = "linked"
STATUS_DONT_SYNC = "dont_sync"
STATUS_WAITING = "waiting"
STATUS_DECIDED = "decided"
STATUSES = {
    STATUS_SUGGESTED: "Suggested match",
    STATUS_AMBIGUOUS: "Several possible matches",
    STATUS_NO_MATCH: "No match",
    STATUS_WAITING: "Waiting for a decision",
    STATUS_DECIDED: "Decided (applies at the next sync)",
    STATUS_LINKED: "Linked",
    STATUS_DONT_SYNC: "Don't sync",
}
BASIS_LABELS = {BASIS_MARKER: "its Fusebill marker", BASIS_EMAIL: "email", BASIS_NAME: "name", BASIS_LINKED: "linked by the sync"}
CHOICE_LABELS = {CHOICE_CREATE: "create a new QuickBooks customer", CHOICE_LINK: "link to a QuickBooks customer", CHOICE_DONT_SYNC: "don't sync"}
WAITING_REASON = "waiting for a decision%"  # the engine's reason for a customer parked by "don't create"
REPOINT_OUT_OF_SCOPE = "re-pointing a customer's existing books to another QuickBooks customer is not supported"


# ------------------------------------------------------------------ the matching itself (pure)
_FB_SUFFIX = re.compile(r"\s*\(FB-[^()]*\)\s*$")
_PUNCTUATION = re.compile(r"[^\w\s]|_")
_MARKER = re.compile(r"^fusebill:customer:([^:\s·]+)")


def normalise_email(value: Any) -> set[str]:
    """Every address in a field (Fusebill separates several with "; ", QBO with ","), trimmed, lower case."""
    return {part.strip().casefold() for part in re.split(r"[;,]", str(value or "")) if "@" in part}


def normalise_name(value: Any) -> str:
    """Case, whitespace and punctuation ignored ("ACME,  Ltd." == "acme ltd"); the sync's own
    " (FB-<id>)" suffix is not part of the name."""
    text = _FB_SUFFIX.sub("", unicodedata.normalize("NFKC", str(value or "")))
    text = _PUNCTUATION.sub("", text.casefold())
    return " ".join(text.split())


def fusebill_name(customer: dict[str, Any]) -> str:
    person = " ".join(p for p in (customer.get("firstName"), customer.get("lastName")) if p)
    return str(customer.get("companyName") or person or f"Customer {customer.get('id')}")


def marker_customer(notes: Any) -> str:
    """The Fusebill customer id in a QBO customer's Notes marker ("" when it carries none)."""
    found = _MARKER.match(str(notes or "").strip())
    return found.group(1) if found else ""


@dataclass(frozen=True)
class QboCustomer:
    id: str
    name: str
    email: str
    currency: str = ""
    sync_token: str = "0"
    marker_customer_id: str = ""
    names: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()

    @classmethod
    def from_qbo(cls, row: dict[str, Any]) -> QboCustomer:
        email = str((row.get("PrimaryEmailAddr") or {}).get("Address") or "")
        person = " ".join(p for p in (row.get("GivenName"), row.get("FamilyName")) if p)
        names = {normalise_name(n) for n in (row.get("DisplayName"), row.get("CompanyName"), person)} - {""}
        return cls(str(row["Id"]), str(row.get("DisplayName") or ""), email, str((row.get("CurrencyRef") or {}).get("value") or ""),
                   str(row.get("SyncToken") or "0"), marker_customer(row.get("Notes")), frozenset(names), frozenset(normalise_email(email)))


@dataclass
class Suggestion:
    basis: str = ""  # "" = no match
    qbo_id: str | None = None
    ambiguous: bool = False
    candidates: list[str] = field(default_factory=list)
    note: str = ""


def _order(qbo_id: str) -> tuple[int, str]:
    return (int(qbo_id) if qbo_id.isdigit() else 0, qbo_id)


def suggest_matches(fusebill: Iterable[dict[str, Any]], qbo: Iterable[QboCustomer], linked: dict[str, str]) -> dict[str, Suggestion]:
    """Per Fusebill customer id, its likely QBO customer. `linked`: Fusebill id → QBO id (link table)."""
    qbo = list(qbo)
    owner: dict[str, str] = {qbo_id: fb for fb, qbo_id in linked.items()}
    by_marker: dict[str, list[str]] = defaultdict(list)
    by_email: dict[str, set[str]] = defaultdict(set)
    by_name: dict[str, set[str]] = defaultdict(set)
    for row in qbo:
        if row.marker_customer_id:
            by_marker[row.marker_customer_id].append(row.id)
            owner.setdefault(row.id, row.marker_customer_id)
        for email in row.emails:
            by_email[email].add(row.id)
        for name in row.names:
            by_name[name].add(row.id)
    found: dict[str, Suggestion] = {}
    for customer in fusebill:
        fb = str(customer["id"])
        if fb in linked:
            found[fb] = Suggestion(BASIS_LINKED, linked[fb])
            continue
        marked = sorted(by_marker.get(fb, []), key=_order)
        if len(marked) == 1:
            found[fb] = Suggestion(BASIS_MARKER, marked[0])
            continue
        if marked:
            found[fb] = Suggestion(BASIS_MARKER, None, True, marked, f"{len(marked)} QuickBooks customers carry this customer's Fusebill marker")
            continue
        names = {normalise_name(n) for n in (customer.get("companyName"), " ".join(
            p for p in (customer.get("firstName"), customer.get("lastName")) if p))} - {""}
        found[fb] = Suggestion()
        for basis, keys, index, what in ((BASIS_EMAIL, normalise_email(customer.get("primaryEmail")), by_email, "email"),
                                         (BASIS_NAME, names, by_name, "name")):
            ids = sorted({i for key in keys for i in index.get(key, ()) if owner.get(i) in (None, fb)}, key=_order)
            if len(ids) == 1:
                found[fb] = Suggestion(basis, ids[0])
                break
            if ids:
                found[fb] = Suggestion(basis, None, True, ids, f"{len(ids)} QuickBooks customers have this {what}")
                break
    # One QBO customer likely for several Fusebill customers: none of them gets it picked.
    claims: dict[str, list[str]] = defaultdict(list)
    for fb, suggestion in found.items():
        if suggestion.basis in (BASIS_EMAIL, BASIS_NAME) and suggestion.qbo_id:
            claims[suggestion.qbo_id].append(fb)
    for qbo_id, fbs in claims.items():
        if len(fbs) > 1:
            for fb in fbs:
                others = ", ".join(o for o in fbs if o != fb)
                found[fb] = Suggestion(found[fb].basis, None, True, [qbo_id],
                                       f"QuickBooks customer {qbo_id} is also the likely match of Fusebill customer {others}")
    return found


# ------------------------------------------------------------------ scope
@dataclass(frozen=True)
class Scope:
    environment: Environment
    connection: QboConnection | None

    @property
    def realm_id(self) -> str:
        return self.connection.realm_id if self.connection is not None else ""


def scope(session: Session, account: Account) -> Scope:
    environment = active_environment(session, account)
    return Scope(environment, live_connection(session, environment))


def _connected(session: Session, account: Account) -> Scope:
    found = scope(session, account)
    if found.connection is None:
        raise NotAllowed("Connect QuickBooks first: matches are found in the connected QuickBooks company.")
    return found


# ------------------------------------------------------------------ Find matches
def latest_scan(session: Session, environment: Environment, realm_id: str) -> MatchScan | None:
    return session.scalar(select(MatchScan).where(MatchScan.environment_id == environment.id, MatchScan.realm_id == realm_id)
                          .order_by(MatchScan.id.desc()).limit(1))


def start_scan(session: Session, ctx: ServiceContext, account: Account, actor: User) -> MatchScan:
    """Queue a scan of the active environment (one at a time: a scan queued or running is returned). Commits, then enqueues."""
    from jobs.matching import enqueue_scan

    found = _connected(session, account)
    if not found.environment.fusebill_api_key_ciphertext:
        raise NotAllowed("Enter this environment's Fusebill API key first (Environments).")
    existing = latest_scan(session, found.environment, found.realm_id)
    if existing is not None and existing.status in SCAN_ACTIVE:
        if utcnow() - existing.started_at < STALE_SCAN:
            return existing
        existing.status, existing.finished_at = SCAN_FAILED, utcnow()  # its worker was lost: a new press starts over
        existing.error = "It did not finish within an hour (the worker running it may have stopped)."
    connection_id = found.connection.id  # type: ignore[union-attr]  # _connected refuses a scope without a connection
    scan = MatchScan(environment_id=found.environment.id, realm_id=found.realm_id, connection_id=connection_id, status=SCAN_QUEUED,
                     requested_by_id=actor.id)
    session.add(scan)
    session.flush()
    audit.record(session, "matching.scan_started", f"{actor.email} asked to find QuickBooks matches for the Fusebill customers",
                 actor=actor, account_id=account.id, environment=found.environment.kind, details={"scan_id": scan.id, "realm_id": found.realm_id})
    session.commit()
    enqueue_scan(ctx, scan.id)
    return scan


def record_scan(session: Session, scan: MatchScan, fusebill: list[dict[str, Any]], qbo_rows: list[dict[str, Any]]) -> None:
    """Store what a scan found (the job's last step): matches upserted per Fusebill customer (their
    ids stay stable, so a page of the list survives a new scan), QBO customers replaced."""
    environment_id, realm_id = scan.environment_id, scan.realm_id
    customers = [c for c in fusebill if str(c.get("status") or "") != DRAFT]
    qbo = [QboCustomer.from_qbo(row) for row in qbo_rows]
    linked = dict(session.execute(select(SyncLink.fusebill_id, SyncLink.qbo_id).where(
        SyncLink.environment_id == environment_id, SyncLink.entity_type == "customer", SyncLink.part == "")).all())
    suggestions = suggest_matches(customers, qbo, linked)
    by_id = {row.id: row for row in qbo}

    session.execute(delete(ScannedQboCustomer).where(ScannedQboCustomer.environment_id == environment_id, ScannedQboCustomer.realm_id == realm_id))
    for row in qbo:
        session.add(ScannedQboCustomer(environment_id=environment_id, realm_id=realm_id, qbo_id=row.id, display_name=row.name[:500],
                                       email=row.email[:254], currency=row.currency[:3], sync_token=row.sync_token[:16],
                                       marker_customer_id=row.marker_customer_id[:32], scan_id=scan.id))
    existing = {m.fusebill_customer_id: m for m in session.scalars(select(CustomerMatch).where(
        CustomerMatch.environment_id == environment_id, CustomerMatch.realm_id == realm_id))}
    now = utcnow()
    seen = set()
    for customer in customers:
        fb = str(customer["id"])
        seen.add(fb)
        suggestion = suggestions[fb]
        match = existing.get(fb)
        if match is None:
            match = CustomerMatch(environment_id=environment_id, realm_id=realm_id, fusebill_customer_id=fb)
            session.add(match)
        target = by_id.get(suggestion.qbo_id or "")
        match.name = fusebill_name(customer)[:255]
        match.email = str(customer.get("primaryEmail") or "")[:500]
        match.fusebill_status = str(customer.get("status") or "")[:32]
        match.currency = str(customer.get("currency") or "")[:3]
        match.basis = suggestion.basis
        match.qbo_customer_id = suggestion.qbo_id
        match.qbo_name = (target.name if target else "")[:500]
        match.qbo_email = (target.email if target else "")[:254]
        match.ambiguous = suggestion.ambiguous
        match.candidates = [{"id": i, "name": by_id[i].name, "email": by_id[i].email} for i in suggestion.candidates[:CANDIDATES_SHOWN] if i in by_id]
        match.note = suggestion.note[:500]
        match.scan_id = scan.id
        match.found_at = now
    for fb, match in existing.items():
        if fb not in seen:  # gone from Fusebill (or now a draft): its decision, if any, stays
            session.delete(match)
    scan.fusebill_customers = len(customers)
    scan.qbo_customers = len(qbo)


# ------------------------------------------------------------------ the list
@dataclass
class Row:
    match: CustomerMatch
    status: str
    decision: CustomerDecision | None
    linked_qbo_id: str | None
    linked_qbo_name: str = ""

    @property
    def status_label(self) -> str:
        return STATUSES[self.status]

    @property
    def basis_label(self) -> str:
        return BASIS_LABELS.get(self.match.basis, "")

    @property
    def choice_label(self) -> str:
        if self.decision is None:
            return ""
        if self.decision.choice == CHOICE_LINK:
            return f"link to QuickBooks customer {self.decision.qbo_customer_id}" + (f" ({self.decision.qbo_name})" if self.decision.qbo_name else "")
        return CHOICE_LABELS[self.decision.choice]

    @property
    def default_qbo_id(self) -> str:
        """What the row's link field starts with: the chosen, linked or suggested QBO customer."""
        if self.decision is not None and self.decision.qbo_customer_id:
            return self.decision.qbo_customer_id
        return self.linked_qbo_id or self.match.qbo_customer_id or ""


@dataclass
class ListPage:
    scope: Scope
    scan: MatchScan | None
    rows: list[Row]
    counts: dict[str, int]
    status: str
    page: int
    pages: int
    total: int
    waiting_unlisted: int  # parked customers the list does not show yet (no scan, or found since)

    @property
    def all_count(self) -> int:
        return sum(self.counts.values())


def _status_query(environment_id: int, realm_id: str):
    status = case(
        (CustomerDecision.choice == CHOICE_DONT_SYNC, STATUS_DONT_SYNC),
        (SyncLink.id.is_not(None), STATUS_LINKED),
        (CustomerDecision.id.is_not(None), STATUS_DECIDED),
        (SyncRecord.id.is_not(None), STATUS_WAITING),
        (CustomerMatch.ambiguous.is_(True), STATUS_AMBIGUOUS),
        (CustomerMatch.qbo_customer_id.is_not(None), STATUS_SUGGESTED),
        else_=STATUS_NO_MATCH,
    )
    return (select(CustomerMatch.id.label("id"), CustomerMatch.fusebill_customer_id.label("fusebill_id"), status.label("status"))
            .select_from(CustomerMatch)
            .outerjoin(CustomerDecision, and_(CustomerDecision.environment_id == CustomerMatch.environment_id,
                                              CustomerDecision.realm_id == CustomerMatch.realm_id,
                                              CustomerDecision.fusebill_customer_id == CustomerMatch.fusebill_customer_id))
            .outerjoin(SyncLink, and_(SyncLink.environment_id == CustomerMatch.environment_id, SyncLink.entity_type == "customer",
                                      SyncLink.part == "", SyncLink.fusebill_id == CustomerMatch.fusebill_customer_id))
            .outerjoin(SyncRecord, and_(SyncRecord.environment_id == CustomerMatch.environment_id, SyncRecord.entity_type == "customer",
                                        SyncRecord.fusebill_id == CustomerMatch.fusebill_customer_id, SyncRecord.state == "skipped",
                                        SyncRecord.reason.like(WAITING_REASON)))
            .where(CustomerMatch.environment_id == environment_id, CustomerMatch.realm_id == realm_id)
            .subquery())


def list_page(session: Session, account: Account, status: str = "", page: int = 1, per_page: int | None = None) -> ListPage:
    """One page of the list (filtered by status; "" = all). Reads only."""
    per_page = per_page or PER_PAGE
    found = scope(session, account)
    realm_id = found.realm_id
    scan = latest_scan(session, found.environment, realm_id) if found.connection is not None else None
    statuses = _status_query(found.environment.id, realm_id)
    counts = {s: 0 for s in STATUSES}
    counts.update({s: int(n) for s, n in session.execute(select(statuses.c.status, func.count()).group_by(statuses.c.status)).all()})
    total = counts[status] if status in STATUSES else sum(counts.values())
    pages = max(1, math.ceil(total / per_page))
    page = min(max(page, 1), pages)
    query = select(statuses.c.id, statuses.c.status)
    if status in STATUSES:
        query = query.where(statuses.c.status == status)
    ordered = query.order_by(func.length(statuses.c.fusebill_id), statuses.c.fusebill_id).offset((page - 1) * per_page).limit(per_page)
    picked = list(session.execute(ordered).all())
    matches = {m.id: m for m in session.scalars(select(CustomerMatch).where(CustomerMatch.id.in_([p.id for p in picked])))}
    rows = _rows(session, found, [(matches[p.id], p.status) for p in picked])
    listed = select(CustomerMatch.fusebill_customer_id).where(CustomerMatch.environment_id == found.environment.id, CustomerMatch.realm_id == realm_id)
    waiting_unlisted = int(session.scalar(select(func.count()).select_from(SyncRecord).where(
        SyncRecord.environment_id == found.environment.id, SyncRecord.entity_type == "customer", SyncRecord.state == "skipped",
        SyncRecord.reason.like(WAITING_REASON), SyncRecord.fusebill_id.not_in(listed))) or 0)
    return ListPage(found, scan, rows, counts, status if status in STATUSES else "", page, pages, total, waiting_unlisted)


def _rows(session: Session, found: Scope, picked: list[tuple[CustomerMatch, str]]) -> list[Row]:
    ids = [m.fusebill_customer_id for m, _ in picked]
    decisions = {d.fusebill_customer_id: d for d in session.scalars(select(CustomerDecision).where(
        CustomerDecision.environment_id == found.environment.id, CustomerDecision.realm_id == found.realm_id,
        CustomerDecision.fusebill_customer_id.in_(ids)))}
    links = dict(session.execute(select(SyncLink.fusebill_id, SyncLink.qbo_id).where(
        SyncLink.environment_id == found.environment.id, SyncLink.entity_type == "customer", SyncLink.part == "",
        SyncLink.fusebill_id.in_(ids))).all())
    names = dict(session.execute(select(ScannedQboCustomer.qbo_id, ScannedQboCustomer.display_name).where(
        ScannedQboCustomer.environment_id == found.environment.id, ScannedQboCustomer.realm_id == found.realm_id,
        ScannedQboCustomer.qbo_id.in_([q for q in links.values()]))).all())
    return [Row(match, status, decisions.get(match.fusebill_customer_id), links.get(match.fusebill_customer_id),
                names.get(links.get(match.fusebill_customer_id) or "", "")) for match, status in picked]


def row_for(session: Session, account: Account, match_id: int) -> Row:
    found = scope(session, account)
    match = _match(session, found, match_id)
    statuses = _status_query(found.environment.id, found.realm_id)
    status = session.scalar(select(statuses.c.status).where(statuses.c.id == match_id))
    return _rows(session, found, [(match, status or STATUS_NO_MATCH)])[0]


def _match(session: Session, found: Scope, match_id: int) -> CustomerMatch:
    match = session.get(CustomerMatch, match_id)
    if match is None or found.connection is None or match.environment_id != found.environment.id or match.realm_id != found.realm_id:
        raise NotFound("No such customer in this environment's list.")
    return match


@dataclass
class QboPage:
    rows: list[tuple[ScannedQboCustomer, str | None]]  # (QBO customer, the Fusebill customer it belongs to)
    page: int
    pages: int
    total: int


def qbo_customers(session: Session, account: Account, q: str = "", page: int = 1, per_page: int = PER_PAGE) -> QboPage:
    """The QBO customers the last scan read, searchable by name, email or id (to pick one to link)."""
    found = scope(session, account)
    where = [ScannedQboCustomer.environment_id == found.environment.id, ScannedQboCustomer.realm_id == found.realm_id]
    text = q.strip()
    if text:
        like = f"%{text.lower()}%"
        where.append(or_(func.lower(ScannedQboCustomer.display_name).like(like), func.lower(ScannedQboCustomer.email).like(like),
                         ScannedQboCustomer.qbo_id == text))
    total = int(session.scalar(select(func.count()).select_from(ScannedQboCustomer).where(*where)) or 0)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(page, 1), pages)
    rows = list(session.scalars(select(ScannedQboCustomer).where(*where).order_by(func.length(ScannedQboCustomer.qbo_id), ScannedQboCustomer.qbo_id)
                                .offset((page - 1) * per_page).limit(per_page)))
    owners = dict(session.execute(select(SyncLink.qbo_id, SyncLink.fusebill_id).where(
        SyncLink.environment_id == found.environment.id, SyncLink.entity_type == "customer", SyncLink.part == "",
        SyncLink.qbo_id.in_([r.qbo_id for r in rows]))).all())
    return QboPage([(r, owners.get(r.qbo_id) or r.marker_customer_id or None) for r in rows], page, pages, total)


# ------------------------------------------------------------------ decisions
@dataclass
class Outcome:
    saved: list[str] = field(default_factory=list)  # Fusebill customer ids
    refused: dict[str, str] = field(default_factory=dict)  # Fusebill customer id -> why


def _link_problem(session: Session, found: Scope, match: CustomerMatch, qbo_id: str) -> tuple[str | None, ScannedQboCustomer | None]:
    """Why this customer cannot be linked to QBO customer `qbo_id` (None: it can)."""
    environment_id, realm_id, fb = found.environment.id, found.realm_id, match.fusebill_customer_id
    target = session.scalar(select(ScannedQboCustomer).where(ScannedQboCustomer.environment_id == environment_id,
                                                            ScannedQboCustomer.realm_id == realm_id, ScannedQboCustomer.qbo_id == qbo_id))
    if target is None:
        return (f"No QuickBooks customer with id {qbo_id} was found by the last Find matches "
                "(if it was added in QuickBooks since, press Find matches again)."), None
    current = session.scalar(select(SyncLink.qbo_id).where(SyncLink.environment_id == environment_id, SyncLink.entity_type == "customer",
                                                           SyncLink.part == "", SyncLink.fusebill_id == fb))
    if current is not None and current != qbo_id:
        return (f"Fusebill customer {fb} is already synced to QuickBooks customer {current}: {REPOINT_OUT_OF_SCOPE}."), target
    owner = session.scalar(select(SyncLink.fusebill_id).where(SyncLink.environment_id == environment_id, SyncLink.entity_type == "customer",
                                                              SyncLink.part == "", SyncLink.qbo_type == "Customer", SyncLink.qbo_id == qbo_id,
                                                              SyncLink.fusebill_id != fb))
    if owner is not None:
        return f"QuickBooks customer {qbo_id} ({target.display_name}) is already linked to Fusebill customer {owner}.", target
    if target.marker_customer_id and target.marker_customer_id != fb:
        return (f"QuickBooks customer {qbo_id} ({target.display_name}) carries the marker of Fusebill customer "
                f"{target.marker_customer_id}: it is that customer's counterpart."), target
    chosen = session.scalar(select(CustomerDecision.fusebill_customer_id).where(
        CustomerDecision.environment_id == environment_id, CustomerDecision.realm_id == realm_id, CustomerDecision.choice == CHOICE_LINK,
        CustomerDecision.qbo_customer_id == qbo_id, CustomerDecision.fusebill_customer_id != fb))
    if chosen is not None:
        return f"QuickBooks customer {qbo_id} ({target.display_name}) is already chosen for Fusebill customer {chosen}.", target
    if match.currency and target.currency and match.currency.upper() != target.currency.upper():
        return (f"QuickBooks customer {qbo_id} is in {target.currency} and Fusebill customer {fb} in {match.currency}: "
                "a QuickBooks customer's currency cannot change."), target
    return None, target


def _problem(session: Session, found: Scope, match: CustomerMatch, choice: str, qbo_id: str) -> tuple[str | None, ScannedQboCustomer | None]:
    if choice == CHOICE_LINK:
        if not qbo_id:
            return "Enter or pick the QuickBooks customer to link to.", None
        return _link_problem(session, found, match, qbo_id)
    if choice == CHOICE_CREATE:
        current = session.scalar(select(SyncLink.qbo_id).where(SyncLink.environment_id == found.environment.id, SyncLink.entity_type == "customer",
                                                               SyncLink.part == "", SyncLink.fusebill_id == match.fusebill_customer_id))
        if current is not None:
            return (f"Fusebill customer {match.fusebill_customer_id} is already synced to QuickBooks customer {current}: "
                    f"{REPOINT_OUT_OF_SCOPE}. To keep syncing it, choose link to {current}."), None
    return None, None


def _save(session: Session, found: Scope, match: CustomerMatch, choice: str, target: ScannedQboCustomer | None, actor: User) -> None:
    decision = session.scalar(select(CustomerDecision).where(
        CustomerDecision.environment_id == found.environment.id, CustomerDecision.realm_id == found.realm_id,
        CustomerDecision.fusebill_customer_id == match.fusebill_customer_id))
    if decision is None:
        decision = CustomerDecision(environment_id=found.environment.id, realm_id=found.realm_id, fusebill_customer_id=match.fusebill_customer_id)
        session.add(decision)
    decision.choice = choice
    decision.qbo_customer_id = target.qbo_id if target is not None and choice == CHOICE_LINK else None
    decision.qbo_name = (target.display_name if target is not None and choice == CHOICE_LINK else "")[:500]
    decision.qbo_sync_token = (target.sync_token if target is not None and choice == CHOICE_LINK else "0") or "0"
    decision.decided_by_id = actor.id
    decision.decided_by_label = actor.email
    decision.decided_at = utcnow()
    decision.applied_at = None  # the next run takes the customer
    session.flush()  # later rows of a bulk choice see this one (a QBO customer is chosen once)


def _audit(session: Session, found: Scope, account: Account, actor: User, choice: str, outcome: Outcome, targets: dict[str, str], how: str) -> None:
    if not outcome.saved:
        return
    what = CHOICE_LABELS[choice]
    if len(outcome.saved) == 1:
        fb = outcome.saved[0]
        target = f" {targets[fb]}" if targets.get(fb) else ""
        summary = f"{actor.email} chose “{what}{target}” for Fusebill customer {fb}"
    else:
        summary = f"{actor.email} chose “{what}” for {len(outcome.saved)} Fusebill customers ({how})"
    audit.record(session, "matching.decided", summary, actor=actor, account_id=account.id, environment=found.environment.kind,
                 details={"choice": choice, "realm_id": found.realm_id, "how": how,
                          "customers": {fb: targets.get(fb) for fb in outcome.saved}, "refused": outcome.refused})


def decide(session: Session, account: Account, actor: User, match_id: int, choice: str, qbo_customer_id: str = "") -> str:
    """One row's choice. Raises (nothing saved) when refused; returns the Fusebill customer id. The caller commits."""
    if choice not in CHOICES:
        raise ServiceError("Choose create, link or don't sync.", field="choice")
    found = _connected(session, account)
    match = _match(session, found, match_id)
    qbo_id = qbo_customer_id.strip()
    problem, target = _problem(session, found, match, choice, qbo_id)
    if problem:
        raise ServiceError(problem, field="qbo_customer_id" if choice == CHOICE_LINK else "choice")
    _save(session, found, match, choice, target, actor)
    outcome = Outcome(saved=[match.fusebill_customer_id])
    _audit(session, found, account, actor, choice, outcome, {match.fusebill_customer_id: target.qbo_id if target else ""}, "one row")
    return match.fusebill_customer_id


def decide_many(session: Session, account: Account, actor: User, match_ids: list[int], choice: str, how: str = "checked rows") -> Outcome:
    """A choice for several rows; a link goes to each row's suggested QBO customer. Each row is
    checked on its own: the refused ones are reported, the others saved. The caller commits."""
    if choice not in CHOICES:
        raise ServiceError("Choose create, link to the suggested match or don't sync.", field="action")
    found = _connected(session, account)
    matches = [_match(session, found, match_id) for match_id in dict.fromkeys(match_ids)]
    if not matches:
        raise ServiceError("Tick at least one customer first.", field="rows")
    outcome, targets = Outcome(), {}
    for match in matches:
        fb = match.fusebill_customer_id
        qbo_id = (match.qbo_customer_id or "") if choice == CHOICE_LINK else ""
        if choice == CHOICE_LINK and not qbo_id:
            outcome.refused[fb] = ("Several QuickBooks customers could be this one: choose one on its row." if match.ambiguous
                                   else "There is no suggested match to link to: choose one on its row.")
            continue
        problem, target = _problem(session, found, match, choice, qbo_id)
        if problem:
            outcome.refused[fb] = problem
            continue
        _save(session, found, match, choice, target, actor)
        outcome.saved.append(fb)
        targets[fb] = target.qbo_id if target is not None else ""
    _audit(session, found, account, actor, choice, outcome, targets, how)
    return outcome


def accept_all_suggested(session: Session, account: Account, actor: User) -> Outcome:
    """Link every customer whose status is "suggested" (one unambiguous match, no decision yet) to its match."""
    found = _connected(session, account)
    statuses = _status_query(found.environment.id, found.realm_id)
    ids = list(session.scalars(select(statuses.c.id).where(statuses.c.status == STATUS_SUGGESTED)))
    if not ids:
        raise ServiceError("There is no suggested match waiting to be accepted.", field="accept_all")
    return decide_many(session, account, actor, ids, CHOICE_LINK, how="accept all suggested matches")
