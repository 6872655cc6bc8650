"""Typed SQLAlchemy 2.x models, one module per aggregate. Importing this package registers them all."""
from portal.models.account import (
    ENVIRONMENTS,
    ROLE_ADMIN,
    ROLE_SUPPORT,
    Account,
    EnablementRequest,
    User,
)
from portal.models.audit import AuditEvent
from portal.models.base import Base, utcnow
from portal.models.integration import (
    Environment,
    LedgerChoice,
    ManagedItem,
    QboConnection,
    SyncLink,
    SyncRecord,
    SyncRun,
    TaxCombination,
    TaxMapping,
)
from portal.models.security import SignInThrottle

__all__ = [
    "Account",
    "AuditEvent",
    "Base",
    "ENVIRONMENTS",
    "EnablementRequest",
    "Environment",
    "LedgerChoice",
    "ManagedItem",
    "QboConnection",
    "SyncLink",
    "SyncRecord",
    "SyncRun",
    "TaxCombination",
    "TaxMapping",
    "ROLE_ADMIN",
    "ROLE_SUPPORT",
    "SignInThrottle",
    "User",
    "utcnow",
]
