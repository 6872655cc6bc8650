"""The setup walk-through as a checklist: Connect QuickBooks → Choose ledgers → Choose environment → Sync."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from portal.models import Account

DONE = "done"
TODO = "todo"
UNAVAILABLE = "unavailable"

STATE_LABELS = {DONE: "Done", TODO: "To do", UNAVAILABLE: "Not yet available"}


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    description: str
    state: str
    detail: str = ""
    endpoint: str | None = None  # where the step is done, when it can be

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


def setup_checklist(session: Session, account: Account) -> list[Step]:
    """The four steps for the account's active environment, each done / to do / not yet available."""
    return [
        Step(
            "connect",
            "Connect QuickBooks",
            "Sign in to Intuit and choose the QuickBooks Online company to sync into.",
            TODO,
            "Not connected.",
        ),
        Step(
            "ledgers",
            "Choose ledgers",
            "Pick the QuickBooks account (ledger) each kind of Fusebill record posts to.",
            UNAVAILABLE,
            "Connect QuickBooks first.",
        ),
        Step(
            "environment",
            "Choose environment",
            "Sandbox (Fusebill staging ↔ QuickBooks sandbox) to try things out, then production.",
            UNAVAILABLE,
            "Connect QuickBooks first.",
        ),
        Step(
            "sync",
            "Sync",
            "Send customers, invoices, payments, refunds, credits, charge reversals and write-offs to QuickBooks.",
            UNAVAILABLE,
            "Finish the steps above first.",
        ),
    ]
