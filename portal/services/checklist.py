"""The setup walk-through as a checklist: Connect QuickBooks → Choose ledgers → Choose environment
(→ Map taxes, which needs the environment's Fusebill API key to look for tax rules) → Sync, for the
account's active environment, with what blocks a sync."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from portal.models import Account, Environment, QboConnection
from portal.services.environments import active_environment, live_connection
from portal.services.ledgers import missing_ledgers, required_ledgers
from portal.services.qbo_connection import AUTO_APPLY_CREDITS_PATH
from portal.services.qbo_tokens import TokenHealth, token_health
from portal.services.taxes import combination_ignored, combinations, mapping_problems, mappings, tax_mapping_needed

DONE = "done"
TODO = "todo"
UNAVAILABLE = "unavailable"
ATTENTION = "attention"  # done, but something on it blocks the sync now (e.g. "Automatically apply credits" on)

STATE_LABELS = {DONE: "Done", TODO: "To do", UNAVAILABLE: "Not yet available", ATTENTION: "Needs attention"}


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    description: str
    state: str
    detail: str = ""
    endpoint: str | None = None  # where the step is done, when it can be
    links: tuple[tuple[str, str], ...] = ()  # (what to do, endpoint): one per thing still missing

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
        connected = f"Connected to {connection.company_name} ({connection.country or 'country unknown'}, {connection.home_currency or '—'})."
        if connection.auto_apply_credit:
            # Shown once, in the warning box above the checklist; the step only points at it.
            steps.append(Step("connect", "Connect QuickBooks", "Sign in to Intuit and choose the QuickBooks Online company to sync into.", ATTENTION,
                              f"{connected} Turn off “Automatically apply credits” in QuickBooks before syncing (see the warning above).", "setup.connect"))
        else:
            steps.append(Step("connect", "Connect QuickBooks", "Sign in to Intuit and choose the QuickBooks Online company to sync into.", DONE,
                              connected, "setup.connect"))
    if connection is not None and connection.auto_apply_credit:
        blockers.append(f"“Automatically apply credits” is on in {connection.company_name}. Turn it off in QuickBooks: {AUTO_APPLY_CREDITS_PATH}.")
    if health is not None and health.refresh_expires_soon and not health.needs_reconnect:
        blockers.append(f"The QuickBooks authorisation expires on {health.refresh_expires_at:%d %b %Y}; reconnect before then.")

    if connection is None:
        steps.append(Step("ledgers", "Choose ledgers", "Pick the QuickBooks account (ledger) each kind of Fusebill record posts to.", UNAVAILABLE,
                          "Connect QuickBooks first.", "setup.ledgers"))
    else:
        missing = missing_ledgers(session, environment, connection)
        total = len(required_ledgers(connection.tax_setup))
        if missing:
            steps.append(Step("ledgers", "Choose ledgers", "Pick the QuickBooks account (ledger) each kind of Fusebill record posts to.", TODO,
                              f"{total - len(missing)} of {total} required ledgers chosen; still needed: {', '.join(spec.label for spec in missing)}.",
                              "setup.ledgers"))
        else:
            steps.append(Step("ledgers", "Choose ledgers", "Pick the QuickBooks account (ledger) each kind of Fusebill record posts to.", DONE,
                              f"All {total} required ledgers chosen.", "setup.ledgers"))

    env_missing: list[tuple[str, str, str]] = []  # (what is missing, where, the link's words)
    if not environment.fusebill_key_verified_at:
        env_missing.append(("the Fusebill API key (on the Environments page)", "setup.environment",
                            f"Enter the {environment.kind} Fusebill API key"))
    if not environment.settings_saved_at:
        env_missing.append(("the sync settings, saved once (on the Settings page)", "setup.sync_settings",
                            f"Save the {environment.kind} sync settings"))
    label = "Sandbox (Fusebill staging ↔ QuickBooks sandbox)" if environment.kind == "sandbox" else "Production (Fusebill production ↔ QuickBooks production)"
    steps.append(Step("environment", "Choose environment", "Sandbox to try things out, then production. Each has its own Fusebill API key and settings.",
                      TODO if env_missing else DONE,
                      f"{label}: still needed: {' and '.join(what for what, _, _ in env_missing)}." if env_missing
                      else f"{label}: Fusebill API key checked, settings saved.",
                      env_missing[0][1] if env_missing else "setup.environment",
                      links=tuple((words, endpoint) for _, endpoint, words in env_missing)))

    if tax_mapping_needed(connection):  # after the environment step: looking for tax rules needs its Fusebill API key
        steps.append(_tax_step(session, environment, connection))

    # A step that needs attention is done as far as the order goes; its blocker stops the sync.
    steps.append(_sync_step(session, environment, prerequisites_done=all(step.state in (DONE, ATTENTION) for step in steps), blockers=blockers))
    return SetupStatus(account, environment, connection, health, steps, blockers)


def _tax_step(session: Session, environment: Environment, connection: QboConnection) -> Step:
    """Done when the zero-rate code is chosen and every rule found is mapped or set to ignore (with
    the combinations of rules not ignored). No rules found yet blocks nothing: a company without taxed
    invoices needs only the zero-rate code."""
    description = ("Match each combination of Fusebill tax rules to a QuickBooks tax code, each rule to one of its rates, "
                   "and pick the zero-rate code (needed for sales tax outside the US).")
    rules = mappings(session, environment, connection)
    ignored = [rule for rule in rules if rule.ignored]
    problems = mapping_problems(session, environment, connection)
    if problems:
        return Step("taxes", "Map taxes", description, TODO, "Still needed: " + "; ".join(problems) + ".", "setup.taxes")
    if not rules:
        return Step("taxes", "Map taxes", description, DONE,
                    "Zero-rate code chosen. No Fusebill tax rules found yet, which blocks nothing: if Fusebill starts charging tax, "
                    "look for the rules again; until a new rule is mapped, records that carry it fail with that reason.", "setup.taxes")
    ignored_keys = {rule.fusebill_tax_key for rule in ignored}
    combos = [row for row in combinations(session, environment, connection) if row.rule_keys and not combination_ignored(row.rule_keys, ignored_keys)]
    detail = f"{len(combos)} combinations and {len(rules) - len(ignored)} tax rules mapped; non-taxable records carry the zero-rate code."
    if ignored:
        detail += f" Set to ignore ({len(ignored)}): {', '.join(rule.fusebill_tax_name for rule in ignored[:5])}{' …' if len(ignored) > 5 else ''}."
    return Step("taxes", "Map taxes", description, DONE, detail, "setup.taxes")


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
    reasons = [f"{step.title}: {step.detail}" for step in status.steps if step.key != "sync" and step.state not in (DONE, ATTENTION)]
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
