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

    @property
    def max_wait_seconds(self) -> float:
        return 10.0 if self.interactive else 90.0
