"""Accounts and their records, in memory, optionally persisted to a SQLite file.

One `Account` per API key: its tax rules and, per customer, a `CustomerRecords` bundle (the same
dataclasses the sample-data generator produces). Balances are never stored: `Account.ledger()` replays
a customer's records (`ledger.replay`) and caches the result until that customer changes.

Changes go through a `Workspace`: it copies the bundles it touches, lets the caller change the
copies, replays every touched customer (which enforces Fusebill's rules), and only then swaps the
copies in and writes them to the state file. A failed change therefore leaves nothing behind.

Persistence: with a `state_path`, every account and every customer bundle is a row in SQLite (JSON
bodies in the `records.to_plain` form). Rate-limit counters, request counts, faults and the webhook
delivery log are in memory only.
"""
from __future__ import annotations

import copy
import json
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterator

from emulators.fusebill import shapes
from emulators.fusebill.ledger import CustomerLedger, replay
from emulators.fusebill.rules import RATE_LIMITS, RateLimits
from emulators.sampledata.ids import IdCounters
from emulators.sampledata.money import format_timestamp, parse_timestamp
from emulators.sampledata.records import (
    Customer, CustomerRecords, Dataset, PaymentActivity, TaxRule, from_plain, to_plain,
)
from emulators.sampledata.taxes import TAX_RULES

# Record kinds that can be looked up by id, and the bundle list each lives in.
KIND_LISTS = {
    "invoice": "invoices",
    "payment_activity": "payment_activities",
    "payment": "payments",
    "refund": "refunds",
    "credit": "credits",
    "debit": "debits",
    "credit_note": "credit_notes",
    "write_off": "write_offs",
}


class UnknownRecord(LookupError):
    """No record of `kind` with that id in the account (a 404; the message is Fusebill's)."""

    def __init__(self, kind: str, record_id: object) -> None:
        super().__init__(shapes.not_found_message(shapes.ENTITY_NAMES[kind], record_id))
        self.kind = kind
        self.record_id = record_id


@dataclass
class Webhook:
    id: int
    url: str
    key: str
    events: list[str] | None = None  # None = every event


@dataclass
class Account:
    api_key: str
    name: str
    account_type: str
    created: datetime
    limits: RateLimits
    # Every account starts with the standard catalogue (GST, HST, QST, ...); seeding replaces it
    # with the dataset's rules.
    tax_rules: dict[int, TaxRule] = field(default_factory=lambda: {rule.id: rule for rule in TAX_RULES})
    bundles: dict[int, CustomerRecords] = field(default_factory=dict)
    webhooks: list[Webhook] = field(default_factory=list)
    seed_summary: dict[str, Any] | None = None
    counters: IdCounters = field(default_factory=IdCounters)
    owners: dict[str, dict[int, int]] = field(default_factory=lambda: {kind: {} for kind in KIND_LISTS})
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _ledgers: dict[int, CustomerLedger] = field(default_factory=dict, repr=False)

    # --- reading ---

    def customer_records(self, customer_id: int) -> CustomerRecords:
        bundle = self.bundles.get(customer_id)
        if bundle is None:
            raise UnknownRecord("customer", customer_id)
        return bundle

    def ledger(self, customer_id: int) -> CustomerLedger:
        """The customer's balances, replayed once and cached until the customer changes."""
        cached = self._ledgers.get(customer_id)
        if cached is None:
            cached = self._ledgers[customer_id] = replay(self.customer_records(customer_id))
        return cached

    def find(self, kind: str, record_id: int) -> tuple[CustomerRecords, Any]:
        """The bundle holding record `record_id` of `kind`, and the record (UnknownRecord if none)."""
        owner = self.owners[kind].get(record_id)
        if owner is None:
            raise UnknownRecord(kind, record_id)
        bundle = self.bundles[owner]
        for record in getattr(bundle, KIND_LISTS[kind]):
            if record.id == record_id:
                return bundle, record
        raise UnknownRecord(kind, record_id)

    def payment_activity(self, customer_id: int, activity_id: int) -> PaymentActivity:
        for activity in self.customer_records(customer_id).payment_activities:
            if activity.id == activity_id:
                return activity
        raise UnknownRecord("payment_activity", activity_id)

    def iter_bundles(self) -> Iterator[CustomerRecords]:
        return iter(self.bundles.values())

    # --- changing (only through Workspace.commit and load) ---

    def put_bundle(self, bundle: CustomerRecords) -> None:
        customer_id = bundle.customer.id
        previous = self.bundles.get(customer_id)
        if previous is not None:
            for kind, attr in KIND_LISTS.items():
                for record in getattr(previous, attr):
                    self.owners[kind].pop(record.id, None)
        self.bundles[customer_id] = bundle
        for kind, attr in KIND_LISTS.items():
            index = self.owners[kind]
            for record in getattr(bundle, attr):
                index[record.id] = customer_id
        self.counters.observe(bundle)
        self._ledgers.pop(customer_id, None)

    def cache_ledger(self, customer_id: int, ledger: CustomerLedger) -> None:
        self._ledgers[customer_id] = ledger

    def clear_records(self) -> None:
        self.bundles.clear()
        self.owners = {kind: {} for kind in KIND_LISTS}
        self.counters = IdCounters()
        self._ledgers.clear()
        self.seed_summary = None

    def load_dataset(self, dataset: Dataset) -> None:
        """Take every customer of `dataset` (validated by replaying each one first).

        The generator stamps a customer, and the activity showing a payment, whenever one of their
        records changes. The emulator keeps only each record's own stamp (rules.py,
        "modifiedTimestamp"), so it re-derives those two here: a generated customer changes itself only
        when it is created and activated, a generated payment activity only when it is created.
        (`propagate_modified` serves the generator's values again: the latest stamp among them.)"""
        for bundle in dataset.customers:
            customer = bundle.customer
            customer.modified = customer.activated or customer.created
            for activity in bundle.payment_activities:
                activity.modified = activity.created
        ledgers = [(bundle, replay(bundle)) for bundle in dataset.customers]
        self.tax_rules = {rule.id: rule for rule in dataset.tax_rules}
        for bundle, ledger in ledgers:
            if bundle.customer.id in self.bundles:
                raise ValueError(f"customer id {bundle.customer.id} already exists in this account")
            self.put_bundle(bundle)
            self.cache_ledger(bundle.customer.id, ledger)

    # --- state file form ---

    def header_plain(self) -> dict[str, Any]:
        return {
            "api_key": self.api_key,
            "name": self.name,
            "account_type": self.account_type,
            "created": format_timestamp(self.created),
            "limits": {"per_minute": self.limits.per_minute, "per_day": self.limits.per_day},
            "tax_rules": to_plain(list(self.tax_rules.values())),
            "webhooks": [{"id": w.id, "url": w.url, "key": w.key, "events": w.events} for w in self.webhooks],
            "seed_summary": self.seed_summary,
        }

    @classmethod
    def from_header(cls, plain: dict[str, Any]) -> "Account":
        return cls(
            api_key=plain["api_key"],
            name=plain["name"],
            account_type=plain["account_type"],
            created=parse_timestamp(plain["created"]),
            limits=RateLimits(**plain["limits"]),
            tax_rules={rule.id: rule for rule in from_plain(list[TaxRule], plain["tax_rules"])},
            webhooks=[Webhook(**w) for w in plain["webhooks"]],
            seed_summary=plain.get("seed_summary"),
        )


def limits_for(account_type: str, override: dict[str, int] | None = None) -> RateLimits:
    if account_type not in RATE_LIMITS:
        raise ValueError(f"account_type must be one of {', '.join(RATE_LIMITS)}")
    base = RATE_LIMITS[account_type]
    if not override:
        return base
    return RateLimits(per_minute=int(override.get("per_minute", base.per_minute)), per_day=int(override.get("per_day", base.per_day)))


class StateFile:
    """The SQLite file behind a persistent emulator (one connection, serialised by a lock)."""

    def __init__(self, path: str) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False)
        with self._lock, self._db:
            self._db.execute("CREATE TABLE IF NOT EXISTS accounts (api_key TEXT PRIMARY KEY, body TEXT NOT NULL)")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS customers (api_key TEXT NOT NULL, customer_id INTEGER NOT NULL, "
                "body TEXT NOT NULL, PRIMARY KEY (api_key, customer_id))"
            )

    def load(self) -> list[Account]:
        with self._lock:
            headers = self._db.execute("SELECT body FROM accounts ORDER BY rowid").fetchall()
            accounts = []
            for (body,) in headers:
                account = Account.from_header(json.loads(body))
                rows = self._db.execute(
                    "SELECT body FROM customers WHERE api_key = ? ORDER BY customer_id", (account.api_key,)
                ).fetchall()
                for (bundle_body,) in rows:
                    account.put_bundle(from_plain(CustomerRecords, json.loads(bundle_body)))
                accounts.append(account)
            return accounts

    def save_account(self, account: Account) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO accounts (api_key, body) VALUES (?, ?) ON CONFLICT(api_key) DO UPDATE SET body = excluded.body",
                (account.api_key, json.dumps(account.header_plain(), ensure_ascii=False)),
            )

    def save_bundles(self, api_key: str, bundles: list[CustomerRecords], replace_all: bool = False) -> None:
        rows = [(api_key, b.customer.id, json.dumps(to_plain(b), ensure_ascii=False, separators=(",", ":"))) for b in bundles]
        with self._lock, self._db:
            if replace_all:
                self._db.execute("DELETE FROM customers WHERE api_key = ?", (api_key,))
            self._db.executemany(
                "INSERT INTO customers (api_key, customer_id, body) VALUES (?, ?, ?) "
                "ON CONFLICT(api_key, customer_id) DO UPDATE SET body = excluded.body",
                rows,
            )

    def delete_everything(self) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM customers")
            self._db.execute("DELETE FROM accounts")

    def close(self) -> None:
        with self._lock:
            self._db.close()


class Store:
    """All accounts of one emulator instance, keyed by API key."""

    def __init__(self, state_path: str | None = None) -> None:
        self._accounts: dict[str, Account] = {}
        self._lock = threading.Lock()
        self.state = StateFile(state_path) if state_path else None
        if self.state is not None:
            for account in self.state.load():
                self._accounts[account.api_key] = account

    def account(self, api_key: str) -> Account | None:
        return self._accounts.get(api_key)

    def accounts(self) -> list[Account]:
        with self._lock:
            return list(self._accounts.values())

    def add_account(self, account: Account) -> None:
        with self._lock:
            if account.api_key in self._accounts:
                raise ValueError("an account with this API key already exists")
            self._accounts[account.api_key] = account
        self.save_account(account)

    def save_account(self, account: Account) -> None:
        if self.state is not None:
            self.state.save_account(account)

    def save_bundles(self, account: Account, bundles: list[CustomerRecords], replace_all: bool = False) -> None:
        if self.state is not None:
            self.state.save_bundles(account.api_key, bundles, replace_all)

    def reset(self) -> None:
        with self._lock:
            self._accounts.clear()
        if self.state is not None:
            self.state.delete_everything()

    def close(self) -> None:
        if self.state is not None:
            self.state.close()


class Workspace:
    """Stage changes to some customers of an account, then apply them all at once with `commit()`.

    Use under `account.lock`. Records handed out by `records()`/`find()` are copies: change them
    freely, replay each changed customer (`ledger()`, which enforces the rules), and nothing reaches
    the account until `commit()`.
    """

    def __init__(self, account: Account) -> None:
        self.account = account
        self.counters = copy.copy(account.counters)
        self.staged: dict[int, CustomerRecords] = {}
        self.created_customers: set[int] = set()

    def next_id(self, space: str) -> int:
        return self.counters.take(space)

    def records(self, customer_id: int) -> CustomerRecords:
        staged = self.staged.get(customer_id)
        if staged is None:
            staged = self.staged[customer_id] = copy.deepcopy(self.account.customer_records(customer_id))
        return staged

    def add_customer(self, customer: Customer) -> CustomerRecords:
        bundle = CustomerRecords(customer=customer)
        self.staged[customer.id] = bundle
        self.created_customers.add(customer.id)
        return bundle

    def find(self, kind: str, record_id: int) -> tuple[CustomerRecords, Any]:
        for bundle in self.staged.values():
            for record in getattr(bundle, KIND_LISTS[kind]):
                if record.id == record_id:
                    return bundle, record
        owner = self.account.owners[kind].get(record_id)
        if owner is None:
            raise UnknownRecord(kind, record_id)
        bundle = self.records(owner)
        for record in getattr(bundle, KIND_LISTS[kind]):
            if record.id == record_id:
                return bundle, record
        raise UnknownRecord(kind, record_id)

    def ledger(self, customer_id: int) -> CustomerLedger:
        """Balances of the staged (or untouched) customer."""
        if customer_id in self.staged:
            return replay(self.staged[customer_id])
        return self.account.ledger(customer_id)

    def commit(self, store: Store, ledgers: dict[int, CustomerLedger]) -> None:
        """Swap the staged bundles in and persist them. `ledgers` must hold a replay of every staged
        customer as it is now (the caller validated them); they become the cached balances."""
        missing = set(self.staged) - set(ledgers)
        if missing:
            raise ValueError(f"customers {sorted(missing)} were changed but not replayed")
        for customer_id, bundle in self.staged.items():
            self.account.put_bundle(bundle)
            self.account.cache_ledger(customer_id, ledgers[customer_id])
        self.account.counters = self.counters
        for bundle in self.staged.values():
            self.account.counters.observe(bundle)
        store.save_bundles(self.account, list(self.staged.values()))
