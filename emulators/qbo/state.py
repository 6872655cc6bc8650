"""`EmulatorState`: everything one emulator instance knows, loaded from and saved to its backend."""
from __future__ import annotations

import random
import secrets
import threading
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from typing import Iterator

from .clock import VirtualClock, meta_timestamp
from .config import QboEmulatorConfig
from .entities.base import OpContext
from .limits import RateLimiter
from .money import loads
from .oauth_state import OAuthState
from .store import (
    Company,
    CompanySettings,
    FaultSettings,
    MemoryBackend,
    ReplayCache,
    RequestCounters,
    SqliteBackend,
    StoredResponse,
    UnitOfWork,
)


class UnknownCompany(KeyError):
    """A realm id the emulator does not know."""


class EmulatorState:
    """Companies, OAuth grants, replay cache, counters, fault settings — and the lock guarding them."""

    def __init__(self, config: QboEmulatorConfig):
        self.config = config
        self.lock = threading.RLock()
        self.backend = SqliteBackend(config.state_path) if config.state_path else MemoryBackend()
        self.clock = VirtualClock()
        self.companies: dict[str, Company] = {}
        self.oauth = OAuthState()
        self.replays = ReplayCache()
        self.counters = RequestCounters()
        self.faults = FaultSettings(timeout_seconds=config.fault_timeout_seconds)
        self.dice = random.Random(config.fault_seed)
        self.limiter = RateLimiter(config)
        self._load()

    # ---- loading and saving ---------------------------------------------------------------------

    def _load(self) -> None:
        data = self.backend.load()
        meta = data["meta"]
        self.clock.set_offset(float(meta.get("clock_offset_seconds", 0)))
        if "oauth" in meta:
            self.oauth = OAuthState.from_json(meta["oauth"])
        for header in data["companies"]:
            company = Company.from_header(header)
            self.companies[company.realm_id] = company
        for realm_id, entity, doc_text in data["entities"]:
            company = self.companies.get(realm_id)
            if company is not None:
                company.put(entity, loads(doc_text))
        for realm_id, request_id, status, content_type, body in data["replays"]:
            self.replays.put(realm_id, request_id, StoredResponse(status, content_type, bytes(body)))

    def save_oauth(self) -> None:
        with self.backend.transaction():
            self.backend.save_meta("oauth", self.oauth.to_json())

    def save_clock(self) -> None:
        with self.backend.transaction():
            self.backend.save_meta("clock_offset_seconds", str(self.clock.offset_seconds))

    def save_replay(self, realm_id: str, request_id: str, stored: StoredResponse) -> None:
        self.replays.put(realm_id, request_id, stored)
        with self.backend.transaction():
            self.backend.save_replay(realm_id, request_id, stored)

    def save_company_header(self, company: Company) -> None:
        with self.backend.transaction():
            self.backend.save_company(company.header())

    def reset(self) -> None:
        """Forget every company, grant and replay (configuration, counters' meaning and faults stay)."""
        with self.lock:
            self.companies.clear()
            self.oauth = OAuthState()
            self.replays.clear()
            self.counters.clear()
            self.clock.set_offset(0)
            self.faults = FaultSettings(timeout_seconds=self.config.fault_timeout_seconds)
            self.limiter.clear()
            self.backend.clear()

    def close(self) -> None:
        self.backend.close()

    # ---- companies and operations ---------------------------------------------------------------

    def company(self, realm_id: str) -> Company:
        company = self.companies.get(realm_id)
        if company is None:
            raise UnknownCompany(realm_id)
        return company

    def new_realm_id(self) -> str:
        """A 19-digit realm id like a sandbox company's (e.g. 9130356779712345678)."""
        while True:
            realm_id = "9" + "".join(secrets.choice("0123456789") for _ in range(18))
            if realm_id not in self.companies:
                return realm_id

    def create_company(self, settings: CompanySettings) -> Company:
        from .chart import seed_company

        with self.lock:
            now = self.clock.now()
            company = Company(self.new_realm_id(), settings, meta_timestamp(now))
            self.companies[company.realm_id] = company
            try:
                with self.operation(company.realm_id, now=now) as ctx:
                    seed_company(ctx)
            except BaseException:
                del self.companies[company.realm_id]
                raise
            return company

    @contextmanager
    def operation(self, realm_id: str, hidden: set | None = None, now: datetime | None = None) -> Iterator[OpContext]:
        """An all-or-nothing change to one company: rolled back on any exception, persisted on success."""
        with self.lock:
            company = self.company(realm_id)
            uow = UnitOfWork(company)
            ctx = OpContext(company, uow, now or self.clock.now(), self.config, hidden if hidden is not None else set())
            try:
                yield ctx
            except BaseException:
                uow.rollback()
                raise
            rows = uow.touched_rows()
            if rows:  # reads and queries leave nothing to save
                with self.backend.transaction():
                    self.backend.save_entities(realm_id, rows)
                    self.backend.save_company(company.header())

    def company_summary(self, company: Company) -> dict:
        return {"realmId": company.realm_id, "name": company.settings.name, "settings": asdict(company.settings)}
