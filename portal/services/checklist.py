"""The setup walk-through as a checklist: Connect QuickBooks → Choose ledgers (→ Map taxes) → Choose
environment → Sync, for the account's active environment, with what blocks a sync."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from portal.models import Account, Environment, QboConnection
from portal.services.environments import active_environment, live_connection
from portal.services.ledgers import missing_ledgers, required_ledgers
from portal.services.qbo_connection import AUTO_APPLY_CREDITS_PATH
from portal.services.qbo_tokens import TokenHealth, token_health
from portal.services.taxes import combinations, mapping_problems, mappings, tax_mapping_needed

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


@dataclass
class SetupStatus:
    account: Account
    environment: Environment
    connection: QboConnection | None
    health: TokenHealth | None
    steps: list[Step]
    blockers: list[str] = field(default_factory=list)


def setup_status(session: Session, account: Account, warning_days: int = 14) -> SetupStatus:
    environment = active_environment(session, account)
    connection = live_connection(session, environment)
    health = token_health(connection, warning_days) if connection is not None else None
    steps: list[Step] = []
    blockers: list[str] = []

    if connection is None:
        steps.append(Step("connect", "Connect QuickBooks", "Sign in to Intuit and choose the QuickBooks Online company to sync into.", TODO,
                          "Not connected.", "setup.connect"))
    elif connection.needs_reconnect:
        steps.append(Step("connect", "Connect QuickBooks", "QuickBooks no longer accepts this connection.", TODO,
                          f"Reconnect to {connection.company_name}.", "setup.connect"))
        blockers.append(f"QuickBooks no longer accepts the connection to {connection.company_name}: reconnect.")
    else:
        steps.append(Step("connect", "Connect QuickBooks", "Sign in to Intuit and choose the QuickBooks Online company to sync into.", DONE,
                          f"Connected to {connection.company_name} ({connection.country or 'country unknown'}, {connection.home_currency or '—'}).", "setup.connect"))
    if connection is not None and connection.auto_apply_credit:
        blockers.append(f"“Automatically apply credits” is on in {connection.company_name}. Turn it off in QuickBooks: {AUTO_APPLY_CREDITS_PATH}.")
    if health is not None and health.refresh_expires_soon and not health.needs_reconnect:
        blockers.append(f"The QuickBooks authorisation expires on {health.refresh_expires_at:%d %b %Y}; reconnect before then.")

    if connection is None:
        steps.append(Step("ledgers", "Choose ledgers", "Pick the QuickBooks account (ledger) each kind of Fusebill record posts to.", UNAVAILABLE, "Connect QuickBooks first.", "setup.ledgers"))
    else:
        missing = missing_ledgers(session, environment, connection)
        total = len(required_ledgers(connection.tax_setup))
        if missing:
            steps.append(Step("ledgers", "Choose ledgers", "Pick the QuickBooks account (ledger) each kind of Fusebill record posts to.", TODO,
                              f"{total - len(missing)} of {total} required ledgers chosen; still needed: {', '.join(spec.label for spec in missing)}.", "setup.ledgers"))
        else:
            steps.append(Step("ledgers", "Choose ledgers", "Pick the QuickBooks account (ledger) each kind of Fusebill record posts to.", DONE,
                              f"All {total} required ledgers chosen.", "setup.ledgers"))

    if tax_mapping_needed(connection):
        description = ("Match each combination of Fusebill tax rules to a QuickBooks tax code, each rule to one of its rates, "
                       "and pick the zero-rate code (needed for sales tax outside the US).")
        rules = mappings(session, environment, connection)  # type: ignore[arg-type]
        problems = mapping_problems(session, environment, connection)  # type: ignore[arg-type]
        if problems:
            detail = "Still needed: " + "; ".join(problems) + "."
            if not rules:
                detail += " No Fusebill tax rules listed yet: look for them on Fusebill invoices, or add them."
            steps.append(Step("taxes", "Map taxes", description, TODO, detail, "setup.taxes"))
        else:
            combos = [row for row in combinations(session, environment, connection) if row.rule_keys]  # type: ignore[arg-type]
            steps.append(Step("taxes", "Map taxes", description, DONE,
                              f"{len(combos)} combinations and {len(rules)} tax rules mapped; non-taxable records carry the zero-rate code.", "setup.taxes"))

    env_missing = []
    if not environment.fusebill_key_verified_at:
        env_missing.append("the Fusebill API key")
    if not environment.settings_saved_at:
        env_missing.append("the sync settings")
    label = "Sandbox (Fusebill staging ↔ QuickBooks sandbox)" if environment.kind == "sandbox" else "Production (Fusebill production ↔ QuickBooks production)"
    steps.append(Step("environment", "Choose environment", "Sandbox to try things out, then production. Each has its own Fusebill API key and settings.",
                      TODO if env_missing else DONE,
                      f"{label}: still needed: {' and '.join(env_missing)}." if env_missing else f"{label}: Fusebill API key checked, settings saved.",
                      "setup.environment"))

    steps.append(_sync_step(session, environment, prerequisites_done=all(step.state == DONE for step in steps), blockers=blockers))
    return SetupStatus(account, environment, connection, health, steps, blockers)


def _sync_step(session: Session, environment: Environment, *, prerequisites_done: bool, blockers: list[str]) -> Step:
    """Available (linking to the sync page) once every other step is done and nothing blocks;
    done while the last run succeeded. A partial or failed last run leaves it to do."""
    from portal.models.integration import RUN_SUCCEEDED
    from portal.services.sync_progress import last_run, last_run_detail

    description = "Send customers, invoices, payments, refunds, credits, charge reversals and write-offs to QuickBooks."
    if not prerequisites_done:
        return Step("sync", "Sync", description, UNAVAILABLE, "Finish the steps above first.")
    if blockers:
        return Step("sync", "Sync", description, UNAVAILABLE, "Blocked: " + " ".join(blockers))
    run = last_run(session, environment)
    if run is None:
        return Step("sync", "Sync", description, TODO, "Set-up complete. No sync yet: press Sync now.", "sync.index")
    return Step("sync", "Sync", description, DONE if run.status == RUN_SUCCEEDED else TODO, last_run_detail(run), "sync.index")


def sync_blockers(session: Session, account: Account, warning_days: int = 14) -> list[str]:
    """Every reason a sync of the account's active environment may not start now (empty: it may)."""
    if not account.integration_enabled:
        return ["The QuickBooks Online integration is not enabled for this account."]
    status = setup_status(session, account, warning_days)
    reasons = [f"{step.title}: {step.detail}" for step in status.steps if step.key != "sync" and step.state != DONE]
    return reasons + status.blockers


def ensure_sync_can_start(session: Session, account: Account, warning_days: int = 14) -> None:
    """The guard the sync calls before queuing anything: refuses with every reason at once.

    It judges the stored set-up. Before each run the sync must also re-read what can change in
    QuickBooks behind our back: `qbo_connection.recheck_company` (Automatically apply credits) and
    `ledgers.prepare_items` (the items exist, are active and post to the chosen ledgers).
    """
    from portal.services import NotAllowed

    reasons = sync_blockers(session, account, warning_days)
    if reasons:
        raise NotAllowed("A sync cannot start yet: " + " ".join(reasons))
