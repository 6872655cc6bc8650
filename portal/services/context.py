"""The collaborators integration use cases need, bundled so views and jobs pass one object."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portal.crypto import Vault
from portal.db import Database
from portal.settings import Settings


@dataclass(frozen=True)
class ServiceContext:
    settings: Settings
    database: Database
    vault: Vault
    redis: Any  # redis.Redis
    # A person is waiting (a web request): wait for rate-limit room or another worker's refresh only
    # briefly, then say "try again" rather than hold the page for a minute.
    interactive: bool = False
    # Overrides the waits below. A page's optional re-check uses 0: with no rate-limit room (or another
    # worker refreshing the tokens) right now it is skipped, never waited for.
    max_wait: float | None = None

    @property
    def max_wait_seconds(self) -> float:
        if self.max_wait is not None:
            return self.max_wait
        return 10.0 if self.interactive else 90.0
