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
