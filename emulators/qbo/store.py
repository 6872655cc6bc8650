"""State of the emulator: companies, their entities and indexes, persistence and locking.

One `EmulatorState` per app. All reads and writes of company data happen under `state.lock` (one
re-entrant lock for the whole emulator: simple, and fast enough since every operation is a few
dictionary look-ups). A write goes through a `UnitOfWork`: every entity it replaces is remembered, so
a fault raised half-way restores the company exactly (QBO is all-or-nothing per request), and on
success exactly the touched rows are written to SQLite.

Entities are stored as dicts in their response shape (Decimal amounts). Keys starting with `_` are
internal (postings, applications, the deposit lock) and never leave the emulator. Stored dicts are
never mutated in place: a handler copies, changes and saves, so the previous object can be put back.
"""
from __future__ import annotations

import copy
import sqlite3
import threading
import zlib
from collections import Counter, OrderedDict
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Iterable, Iterator

from . import rules
from .money import ZERO, dumps, loads

# Entities whose records are indexed by the customer they belong to.
CUSTOMER_LINKED = ("Invoice", "CreditMemo", "Payment", "RefundReceipt", "JournalEntry")
# Entities with a unique name, and the field holding it.
NAMED = {"Customer": "DisplayName", "Vendor": "DisplayName", "Employee": "DisplayName", "Item": "FullyQualifiedName",
         "Account": "FullyQualifiedName"}
# Entities whose DocNumber is tracked for the duplicate check.
NUMBERED = ("Invoice", "CreditMemo", "RefundReceipt", "JournalEntry")

# Id sequences: QBO numbers name-list entities (Customer, Vendor, Employee) from one sequence and all
# transactions from another (the recorded Customer 70 / Vendor 71 pair; Invoice/Payment/JE ids).
ID_FAMILIES = {
    "Customer": "name",
    "Vendor": "name",
    "Employee": "name",
    "Item": "item",
    "Account": "account",
    "Invoice": "txn",
    "CreditMemo": "txn",
    "Payment": "txn",
    "RefundReceipt": "txn",
    "JournalEntry": "txn",
    "TaxCode": "taxcode",
    "TaxRate": "taxrate",
    "TaxAgency": "taxagency",
}


def _discard(index: dict[str, set[str]], key: str, entity_id: str) -> None:
    ids = index.get(key)
    if ids is not None:
        ids.discard(entity_id)
        if not ids:
            del index[key]


def name_key(name: str) -> str:
    return name.strip().lower() if rules.NAME_UNIQUENESS_CASE_INSENSITIVE else name.strip()


@dataclass
class CompanySettings:
    """How a sandbox company is set up (what the consent page / control API chose)."""

    name: str
    country: str = "US"
    home_currency: str = "USD"
    multicurrency: bool = False
    tax: str = "none"  # "none" | "us_automated" | "codes"
    auto_apply_credits: bool = False
    custom_txn_numbers: bool = False
    owner_name: str = "Sandbox Owner"
    us_sales_tax_rate_percent: str | None = None
    book_close_date: str | None = None  # Preferences.AccountingInfoPrefs.BookCloseDate ("YYYY-MM-DD")


class Company:
    """One QBO company (realm): settings, entity tables, indexes and ledger balances."""

    def __init__(self, realm_id: str, settings: CompanySettings, created_at: str):
        self.realm_id = realm_id
        self.settings = settings
        self.created_at = created_at  # MetaData timestamp of CompanyInfo/Preferences
        self.preferences_updated_at = created_at
        self.preferences_sync_token = 0
        self.sequences: dict[str, int] = {}
        self.next_doc_number = rules.FIRST_DOC_NUMBER
        self.exchange_rates: dict[str, str] = {}  # "EUR|2024-01-31" -> rate text (control API overrides)
        self.system_accounts: dict[str, str] = {}  # role ("ar", "undeposited", ...) -> account id
        self.tables: dict[str, dict[str, dict]] = {}
        self.by_customer: dict[str, set[tuple[str, str]]] = {}
        self.children: dict[tuple[str, str], set[str]] = {}  # (entity, parent id) -> child ids
        self.names: dict[str, dict[str, set[str]]] = {entity: {} for entity in NAMED}
        self.doc_numbers: dict[str, dict[str, set[str]]] = {entity: {} for entity in NUMBERED}
        self.balances: dict[str, Decimal] = {}

    # ---- ids ---------------------------------------------------------------------------------

    def next_id(self, entity: str) -> str:
        family = ID_FAMILIES[entity]
        value = self.sequences.get(family, 1)
        self.sequences[family] = value + 1
        return str(value)

    # ---- reads -------------------------------------------------------------------------------

    def table(self, entity: str) -> dict[str, dict]:
        return self.tables.setdefault(entity, {})

    def get(self, entity: str, entity_id: str) -> dict | None:
        return self.tables.get(entity, {}).get(str(entity_id))

    def find_by_doc_number(self, entity: str, number: str) -> str | None:
        ids = self.doc_numbers[entity].get(number.strip().lower())
        return min(ids, key=int) if ids else None

    def doc_number_owner(self, number: str, hidden: set | frozenset = frozenset(),
                         own: tuple[str, str] | None = None) -> tuple[str, str] | None:
        """(entity, id) of a visible transaction of any numbered type using `number`, other than `own`."""
        key = number.strip().lower()
        for entity in NUMBERED:
            for entity_id in sorted(self.doc_numbers[entity].get(key, ()), key=int):
                if (entity, entity_id) != own and (entity, entity_id) not in hidden:
                    return entity, entity_id
        return None

    def customer_documents(self, customer_id: str) -> Iterator[tuple[str, dict]]:
        for entity, entity_id in sorted(self.by_customer.get(customer_id, ()), key=lambda k: (k[0], int(k[1]))):
            doc = self.get(entity, entity_id)
            if doc is not None:
                yield entity, doc

    def account_balance(self, account_id: str) -> Decimal:
        return self.balances.get(account_id, ZERO)

    # ---- writes (through UnitOfWork only) ------------------------------------------------------

    def put(self, entity: str, doc: dict) -> None:
        entity_id = doc["Id"]
        old = self.table(entity).get(entity_id)
        if old is not None:
            self._unindex(entity, old)
        self.table(entity)[entity_id] = doc
        self._index(entity, doc)

    def drop(self, entity: str, entity_id: str) -> None:
        old = self.table(entity).pop(entity_id, None)
        if old is not None:
            self._unindex(entity, old)

    def _customers_of(self, entity: str, doc: dict) -> list[str]:
        if entity == "JournalEntry":
            return list(doc.get("_customers", ()))
        ref = doc.get("CustomerRef")
        return [ref["value"]] if isinstance(ref, dict) and ref.get("value") else []

    def _index(self, entity: str, doc: dict) -> None:
        if entity in CUSTOMER_LINKED:
            for customer_id in self._customers_of(entity, doc):
                self.by_customer.setdefault(customer_id, set()).add((entity, doc["Id"]))
        if entity in NAMED:
            self.names[entity].setdefault(name_key(doc[NAMED[entity]]), set()).add(doc["Id"])
        if entity in NUMBERED and doc.get("DocNumber"):
            self.doc_numbers[entity].setdefault(doc["DocNumber"].strip().lower(), set()).add(doc["Id"])
        if entity in ("Customer", "Account") and doc.get("ParentRef"):
            self.children.setdefault((entity, doc["ParentRef"]["value"]), set()).add(doc["Id"])
        for account_id, amount in doc.get("_postings", ()):
            self.balances[account_id] = self.balances.get(account_id, ZERO) + Decimal(amount)

    def _unindex(self, entity: str, doc: dict) -> None:
        if entity in CUSTOMER_LINKED:
            for customer_id in self._customers_of(entity, doc):
                bucket = self.by_customer.get(customer_id)
                if bucket is not None:
                    bucket.discard((entity, doc["Id"]))
        if entity in NAMED:
            _discard(self.names[entity], name_key(doc[NAMED[entity]]), doc["Id"])
        if entity in NUMBERED and doc.get("DocNumber"):
            _discard(self.doc_numbers[entity], doc["DocNumber"].strip().lower(), doc["Id"])
        if entity in ("Customer", "Account") and doc.get("ParentRef"):
            self.children.get((entity, doc["ParentRef"]["value"]), set()).discard(doc["Id"])
        for account_id, amount in doc.get("_postings", ()):
            self.balances[account_id] = self.balances.get(account_id, ZERO) - Decimal(amount)

    # ---- persistence shape ---------------------------------------------------------------------

    def header(self) -> dict:
        """Everything but the entity tables (those are stored row by row)."""
        return {
            "realm_id": self.realm_id,
            "settings": asdict(self.settings),
            "created_at": self.created_at,
            "preferences_updated_at": self.preferences_updated_at,
            "preferences_sync_token": self.preferences_sync_token,
            "sequences": self.sequences,
            "next_doc_number": self.next_doc_number,
            "exchange_rates": self.exchange_rates,
            "system_accounts": self.system_accounts,
        }

    @classmethod
    def from_header(cls, data: dict) -> "Company":
        company = cls(data["realm_id"], CompanySettings(**data["settings"]), data["created_at"])
        company.preferences_updated_at = data.get("preferences_updated_at", company.created_at)
        company.preferences_sync_token = data.get("preferences_sync_token", 0)
        company.sequences = dict(data.get("sequences", {}))
        company.next_doc_number = data.get("next_doc_number", rules.FIRST_DOC_NUMBER)
        company.exchange_rates = dict(data.get("exchange_rates", {}))
        company.system_accounts = dict(data.get("system_accounts", {}))
        return company


class UnitOfWork:
    """All-or-nothing changes to one company; see the module docstring."""

    def __init__(self, company: Company):
        self.company = company
        self._undo: list[tuple[str, str, str, dict | None]] = []
        self._touched: dict[tuple[str, str], None] = {}
        self._saved_counters = (dict(company.sequences), company.next_doc_number, dict(company.system_accounts))

    def save(self, entity: str, doc: dict) -> dict:
        previous = self.company.get(entity, doc["Id"])
        self._undo.append(("put", entity, doc["Id"], previous))
        self.company.put(entity, doc)
        self._touched[(entity, doc["Id"])] = None
        return doc

    def remove(self, entity: str, entity_id: str) -> None:
        previous = self.company.get(entity, entity_id)
        if previous is None:
            return
        self._undo.append(("drop", entity, entity_id, previous))
        self.company.drop(entity, entity_id)
        self._touched[(entity, entity_id)] = None

    def editable(self, entity: str, entity_id: str) -> dict:
        """A private deep copy of a stored record, to change and `save`."""
        doc = self.company.get(entity, entity_id)
        if doc is None:
            raise KeyError((entity, entity_id))
        return copy.deepcopy(doc)

    def rollback(self) -> None:
        for _kind, entity, entity_id, previous in reversed(self._undo):
            if previous is None:
                self.company.drop(entity, entity_id)
            else:
                self.company.put(entity, previous)
        self.company.sequences, self.company.next_doc_number, self.company.system_accounts = self._saved_counters
        self._undo.clear()
        self._touched.clear()

    def created_keys(self) -> list[tuple[str, str]]:
        """(entity, id) of the records this unit of work created."""
        return [(entity, entity_id) for kind, entity, entity_id, previous in self._undo if kind == "put" and previous is None]

    def touched_rows(self) -> list[tuple[str, str, dict | None]]:
        return [(entity, entity_id, self.company.get(entity, entity_id)) for entity, entity_id in self._touched]


# ---- persistence ------------------------------------------------------------------------------

class MemoryBackend:
    """No persistence: `state_path=None`."""

    def load(self) -> dict:
        return {"meta": {}, "companies": [], "entities": [], "replays": []}

    @contextmanager
    def transaction(self) -> Iterator[None]:
        yield

    def save_company(self, header: dict) -> None:
        return None

    def save_entities(self, realm_id: str, rows: Iterable[tuple[str, str, dict | None]]) -> None:
        return None

    def save_meta(self, key: str, value: object) -> None:
        return None

    def save_replay(self, realm_id: str, request_id: str, stored: "StoredResponse") -> None:
        return None

    def clear(self) -> None:
        return None

    def close(self) -> None:
        return None


class SqliteBackend:
    """State in one SQLite file; every unit of work is one SQLite transaction."""

    _SCHEMA = (
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS companies (realm_id TEXT PRIMARY KEY, header TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS entities (realm_id TEXT NOT NULL, entity TEXT NOT NULL, id TEXT NOT NULL,"
        " doc TEXT NOT NULL, PRIMARY KEY (realm_id, entity, id))",
        "CREATE TABLE IF NOT EXISTS replays (realm_id TEXT NOT NULL, request_id TEXT NOT NULL, status INTEGER NOT NULL,"
        " content_type TEXT NOT NULL, body BLOB NOT NULL, seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " UNIQUE (realm_id, request_id))",
    )

    def __init__(self, path: str):
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        for statement in self._SCHEMA:
            self._conn.execute(statement)
        self._depth = 0

    def load(self) -> dict:
        meta = {key: loads(value) for key, value in self._conn.execute("SELECT key, value FROM meta")}
        companies = [loads(header) for (header,) in self._conn.execute("SELECT header FROM companies")]
        entities = self._conn.execute("SELECT realm_id, entity, doc FROM entities ORDER BY realm_id, entity, CAST(id AS INTEGER)")
        replays = self._conn.execute("SELECT realm_id, request_id, status, content_type, body FROM replays ORDER BY seq")
        return {"meta": meta, "companies": companies, "entities": entities, "replays": replays}

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._depth = 1
        self._conn.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        else:
            self._conn.execute("COMMIT")
        finally:
            self._depth = 0

    def save_company(self, header: dict) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO companies (realm_id, header) VALUES (?, ?)", (header["realm_id"], dumps(header, persist=True))
        )

    def save_entities(self, realm_id: str, rows: Iterable[tuple[str, str, dict | None]]) -> None:
        for entity, entity_id, doc in rows:
            if doc is None:
                self._conn.execute("DELETE FROM entities WHERE realm_id=? AND entity=? AND id=?", (realm_id, entity, entity_id))
            else:
                self._conn.execute(
                    "INSERT OR REPLACE INTO entities (realm_id, entity, id, doc) VALUES (?, ?, ?, ?)",
                    (realm_id, entity, entity_id, dumps(doc, persist=True)),
                )

    def save_meta(self, key: str, value: object) -> None:
        self._conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, dumps(value, persist=True)))

    def save_replay(self, realm_id: str, request_id: str, stored: "StoredResponse") -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO replays (realm_id, request_id, status, content_type, body) VALUES (?, ?, ?, ?, ?)",
            (realm_id, request_id, stored.status, stored.content_type, stored.compressed_body),
        )

    def clear(self) -> None:
        with self.transaction():
            for table in ("meta", "companies", "entities", "replays"):
                self._conn.execute(f"DELETE FROM {table}")  # table names are the constants above

    def close(self) -> None:
        self._conn.close()


# ---- requestid replays --------------------------------------------------------------------------

@dataclass
class StoredResponse:
    """The first answer to a (realm, requestid), replayed verbatim for repeats (qbo-api §1.7)."""

    status: int
    content_type: str
    compressed_body: bytes

    @classmethod
    def of(cls, status: int, content_type: str, body: bytes) -> "StoredResponse":
        return cls(status, content_type, zlib.compress(body))

    @property
    def body(self) -> bytes:
        return zlib.decompress(self.compressed_body)


class ReplayCache:
    def __init__(self) -> None:
        self._by_realm: dict[str, OrderedDict[str, StoredResponse]] = {}

    def get(self, realm_id: str, request_id: str) -> StoredResponse | None:
        return self._by_realm.get(realm_id, {}).get(request_id)

    def put(self, realm_id: str, request_id: str, stored: StoredResponse) -> None:
        bucket = self._by_realm.setdefault(realm_id, OrderedDict())
        bucket[request_id] = stored
        while len(bucket) > rules.REQUESTID_CACHE_PER_REALM:
            bucket.popitem(last=False)

    def clear(self) -> None:
        self._by_realm.clear()


# ---- request statistics and fault settings --------------------------------------------------------

class RequestCounters:
    """Counts by kind (read, write, query, batch, throttled, auth_failed, token, total), per realm and overall."""

    # fault_*: answers the fault injection gave instead of (or after) serving the request.
    KINDS = ("read", "write", "query", "batch", "throttled", "auth_failed", "total", "fault_500", "fault_timeout", "fault_timeout_after_write")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._overall: Counter = Counter()
        self._by_realm: dict[str, Counter] = {}
        self._tokens: Counter = Counter()
        self._tokens_by_realm: dict[str, Counter] = {}

    def count(self, realm_id: str | None, kind: str) -> None:
        with self._lock:
            self._overall[kind] += 1
            if realm_id:
                self._by_realm.setdefault(realm_id, Counter())[kind] += 1

    def count_token(self, realm_id: str | None, grant_type: str) -> None:
        with self._lock:
            self._tokens[grant_type] += 1
            if realm_id:
                self._tokens_by_realm.setdefault(realm_id, Counter())[grant_type] += 1

    def snapshot(self, realm_id: str | None = None) -> dict:
        with self._lock:
            counts = self._overall if realm_id is None else self._by_realm.get(realm_id, Counter())
            tokens = self._tokens if realm_id is None else self._tokens_by_realm.get(realm_id, Counter())
            result = {kind: counts.get(kind, 0) for kind in self.KINDS}
            result["token"] = dict(tokens)
            return result

    def clear(self) -> None:
        with self._lock:
            self._overall.clear()
            self._by_realm.clear()
            self._tokens.clear()
            self._tokens_by_realm.clear()


@dataclass
class FaultSettings:
    """What POST /_emulator/faults configured (see control.py for the meaning of each field)."""

    error_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_after_write: float = 0.5
    timeout_seconds: float = 5.0
    latency_ms: float = 0.0

    def active(self) -> bool:
        return bool(self.error_rate or self.timeout_rate or self.latency_ms)

