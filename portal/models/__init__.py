"""Typed SQLAlchemy 2.x models, one module per aggregate. Importing this package registers them all."""
from portal.models.account import ENVIRONMENTS, ROLE_ADMIN, ROLE_SUPPORT, Account, EnablementRequest, User
from portal.models.audit import AuditEvent
from portal.models.base import Base, utcnow
from portal.models.integration import Environment, LedgerChoice, ManagedItem, QboConnection, SyncLink, SyncRecord, SyncRun, TaxCombination, TaxMapping
from portal.models.matching import CustomerDecision, CustomerMatch, MatchScan, ScannedQboCustomer
from portal.models.notifications import Notification
from portal.models.reconciliation import ReconciliationLine, ReconciliationReport
from portal.models.security import SignInThrottle

__all__ = [
    "Account",
    "AuditEvent",
    "CustomerDecision",
    "CustomerMatch",
    "Base",
    "ENVIRONMENTS",
    "EnablementRequest",
    "Environment",
    "LedgerChoice",
    "ManagedItem",
    "MatchScan",
    "Notification",
    "QboConnection",
    "SyncLink",
    "SyncRecord",
    "SyncRun",
    "TaxCombination",
    "TaxMapping",
    "ReconciliationLine",
    "ReconciliationReport",
    "ROLE_ADMIN",
    "ROLE_SUPPORT",
    "ScannedQboCustomer",
    "SignInThrottle",
    "User",
    "utcnow",
]
