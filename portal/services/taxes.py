"""Map taxes, for non-US companies with sales tax on (QBO tax codes).

The contract (accounting-mapping.md, "Taxes"): in QBO a tax *code* groups one or more tax *rates*.
So each distinct **combination of Fusebill tax rules** charged together (GST alone; GST + QST; HST ON)
maps to one QBO tax code whose rates match it (`TaxCombination`), and **each Fusebill rule** to one of
that code's rates (`TaxMapping.qbo_tax_rate_*`). Non-taxable charges, credits and write-offs carry the
company's zero-rate code, picked once: the combination with the empty key "" (`NON_TAXABLE`).

The sync puts the combination's code on the invoice's lines and one `TaxLine` per rule with the rule's
rate and Fusebill's exact amount. A record whose combination or rule is unmapped fails with that reason;
the engine reads all of it through `tax_map()`.

Fusebill documents no endpoint that lists tax rules, so rules and combinations are found on the
environment's posted invoices (`FusebillClient.discover_taxes`), and rules can be added by hand.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TypeGuard

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.clients import ExternalError
from portal.clients.fusebill import rule_key
from portal.clients.qbo import QboTaxCodeRates, QboTaxRate
from portal.models import Environment, QboConnection, TaxCombination, TaxMapping, User, utcnow
from portal.models.integration import TAX_CODES
from portal.services import NotFound, ServiceError, audit
from portal.services.context import ServiceContext
from portal.services.enablement import ensure_integration_enabled
from portal.services.environments import fusebill_client
from portal.services.qbo_tokens import call_qbo
from portal.services.transactions import before_remote_call

NON_TAXABLE = ""  # the combination key of charges without tax, credits and write-offs
NON_TAXABLE_LABEL = "Non-taxable charges, credits and write-offs"
NON_TAXABLE_FIELD = "code-none"
# Preferred names for the zero-rate code, best first (matched case-insensitively, ignoring punctuation).
ZERO_RATE_NAMES = ("exempt", "zero rated", "out of scope")
MAX_KEY_LENGTH = 400


# ------------------------------------------------------------------ keys (pure; the sync engine uses these)
def combination_key(rule_keys: Iterable[str]) -> str:
    """The TaxCombination.rule_keys of a set of Fusebill rule keys: sorted, distinct, joined by "+".

    No keys → "" (NON_TAXABLE). Rule keys never contain "+" (`portal.clients.fusebill.rule_key`).
    """
    keys = sorted({str(key) for key in rule_keys})
    for key in keys:
        if not key or "+" in key:
            raise ValueError(f"not a tax rule key: {key!r}")
    return "+".join(keys)


def combination_rule_keys(key: str) -> tuple[str, ...]:
    """The rule keys of a combination key (inverse of `combination_key`)."""
    return tuple(key.split("+")) if key else ()


def _normalise(percent: Decimal | None) -> Decimal | None:
    return None if percent is None else percent.normalize()


def format_percent(percent: Decimal | None) -> str:
    return "?" if percent is None else f"{format(percent.normalize(), 'f')} %"


# ------------------------------------------------------------------ reading
def tax_mapping_needed(connection: QboConnection | None) -> TypeGuard[QboConnection]:
    return connection is not None and connection.tax_setup == TAX_CODES


def mappings(session: Session, environment: Environment, connection: QboConnection) -> list[TaxMapping]:
    """The environment's Fusebill tax rules for this company, by name."""
    return list(session.scalars(
        select(TaxMapping)
        .where(TaxMapping.environment_id == environment.id, TaxMapping.realm_id == connection.realm_id)
        .order_by(TaxMapping.fusebill_tax_name, TaxMapping.id)
    ))


def combinations(session: Session, environment: Environment, connection: QboConnection) -> list[TaxCombination]:
    """The combinations of rules seen (or added), the non-taxable one first when stored."""
    rows = list(session.scalars(
        select(TaxCombination)
        .where(TaxCombination.environment_id == environment.id, TaxCombination.realm_id == connection.realm_id)
        .order_by(TaxCombination.label, TaxCombination.id)
    ))
    return sorted(rows, key=lambda row: row.rule_keys != NON_TAXABLE)


def unmapped(session: Session, environment: Environment, connection: QboConnection) -> list[TaxMapping]:
    """Rules without a QBO tax rate (rules set to ignore need none)."""
    return [row for row in mappings(session, environment, connection) if not row.qbo_tax_rate_id and not row.ignored]


def ignored_keys(rules: Iterable[TaxMapping]) -> set[str]:
    return {rule.fusebill_tax_key for rule in rules if rule.ignored}


def combination_ignored(key: str, ignored: set[str]) -> bool:
    """A combination with a rule set to ignore needs no code: its records fail for that rule anyway."""
    return any(rule in ignored for rule in combination_rule_keys(key))


def mapping_problems(session: Session, environment: Environment, connection: QboConnection) -> list[str]:
    """What is still unmapped, in words (empty: the zero-rate code is chosen, every combination has a
    code and every rule a rate, leaving out rules set to ignore and the combinations they are in).
    No rules found yet is no problem: a company without taxed invoices needs only the zero-rate code."""
    rules = mappings(session, environment, connection)
    combos = combinations(session, environment, connection)
    ignored = ignored_keys(rules)
    problems = []
    zero = next((row for row in combos if row.rule_keys == NON_TAXABLE), None)
    if zero is None or not zero.qbo_tax_code_id:
        problems.append("no zero-rate tax code chosen for non-taxable charges, credits and write-offs")
    open_combos = [row.label for row in combos
                   if row.rule_keys != NON_TAXABLE and not row.qbo_tax_code_id and not combination_ignored(row.rule_keys, ignored)]
    if open_combos:
        problems.append(f"no tax code for {_some(open_combos)}")
    open_rules = [row.fusebill_tax_name for row in rules if not row.qbo_tax_rate_id and not row.ignored]
    if open_rules:
        problems.append(f"no tax rate for {_some(open_rules)}")
    return problems


def _some(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(f"“{name}”" for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


@dataclass(frozen=True)
class TaxRateChoice:
    rate_id: str
    name: str
    percent: Decimal | None


@dataclass(frozen=True)
class TaxMap:
    """Everything the sync needs to post Fusebill taxes with QBO tax codes, for one environment + realm.

    `codes`: combination key (see `combination_key`) → QBO tax code id, mapped combinations only;
    `codes[""]` is the zero-rate code. `rates`: Fusebill rule key → the QBO tax rate of that rule.
    `ignored`: the keys of the rules set to ignore (a record that carries one is not posted).
    """

    codes: Mapping[str, str]
    rates: Mapping[str, TaxRateChoice]
    combination_labels: Mapping[str, str] = field(default_factory=dict)
    rule_names: Mapping[str, str] = field(default_factory=dict)
    ignored: frozenset[str] = frozenset()

    @property
    def zero_rate_code_id(self) -> str | None:
        return self.codes.get(NON_TAXABLE)

    def code_for(self, rule_keys: Iterable[str]) -> str | None:
        """The QBO tax code for charges taxed by exactly these rules (no rules: the zero-rate code)."""
        return self.codes.get(combination_key(rule_keys))

    def rate_for(self, rule_key_: str) -> TaxRateChoice | None:
        return self.rates.get(rule_key_)

    def unmapped_reason(self, rule_keys: Iterable[str]) -> str | None:
        """Why a record taxed by these rules cannot be posted yet (None: it can), for the event log."""
        keys = combination_rule_keys(combination_key(rule_keys))
        key = combination_key(keys)
        ignored = [self.rule_names.get(k, k) for k in keys if k in self.ignored]
        if ignored:
            return "; ".join(f"tax rule {name} is set to ignore on the Taxes page" for name in ignored) + "."
        reasons = []
        if key not in self.codes:
            if key == NON_TAXABLE:
                reasons.append("no zero-rate tax code is chosen for non-taxable charges, credits and write-offs")
            else:
                label = self.combination_labels.get(key) or " + ".join(self.rule_names.get(k, k) for k in keys)
                reasons.append(f"the tax combination “{label}” has no QuickBooks tax code")
        missing = [self.rule_names.get(k, f"Fusebill tax rule {k}") for k in keys if k not in self.rates]
        if missing:
            reasons.append(f"the tax rule{'s' if len(missing) > 1 else ''} {', '.join(f'“{name}”' for name in missing)} "
                           f"{'have' if len(missing) > 1 else 'has'} no QuickBooks tax rate")
        if not reasons:
            return None
        return "Unmapped tax: " + "; ".join(reasons) + " (Set up → Map taxes)."


def tax_map(session: Session, environment_id: int, realm_id: str) -> TaxMap:
    """The stored tax mapping of an environment for one QBO company (see TaxMap)."""
    combos = session.scalars(select(TaxCombination).where(TaxCombination.environment_id == environment_id, TaxCombination.realm_id == realm_id))
    rules = session.scalars(select(TaxMapping).where(TaxMapping.environment_id == environment_id, TaxMapping.realm_id == realm_id))
    codes, labels = {}, {}
    for combo in combos:
        labels[combo.rule_keys] = combo.label
        if combo.qbo_tax_code_id:
            codes[combo.rule_keys] = combo.qbo_tax_code_id
    rates, names, ignored = {}, {}, set()
    for rule in rules:
        names[rule.fusebill_tax_key] = rule.fusebill_tax_name
        if rule.ignored:
            ignored.add(rule.fusebill_tax_key)
        elif rule.qbo_tax_rate_id:
            rates[rule.fusebill_tax_key] = TaxRateChoice(rule.qbo_tax_rate_id, rule.qbo_tax_rate_name or "", rule.qbo_tax_rate_percent)
    return TaxMap(codes, rates, labels, names, frozenset(ignored))


def qbo_tax_codes(ctx: ServiceContext, connection: QboConnection, session: Session | None = None) -> list[QboTaxCodeRates]:
    """The company's active tax codes with their sales rates (two QBO queries)."""
    return call_qbo(ctx, connection.id, lambda api: api.tax_codes_with_rates(), session=session)


# ------------------------------------------------------------------ what the page shows (pure)
@dataclass(frozen=True)
class CombinationRow:
    field: str
    key: str
    label: str
    combination_id: int | None
    percents: tuple[Decimal, ...] | None  # the rules' percentages, when all are known
    saved_code_id: str | None
    saved_code_name: str | None
    selected_code_id: str  # what the select shows
    suggested_code_id: str | None
    options: tuple[QboTaxCodeRates, ...]
    warning: str | None
    error: str | None
    ignored_rules: tuple[str, ...] = ()  # names of its rules set to ignore: then it needs no code

    @property
    def non_taxable(self) -> bool:
        return self.key == NON_TAXABLE

    @property
    def ignored(self) -> bool:
        return bool(self.ignored_rules)

    @property
    def selected_code(self) -> QboTaxCodeRates | None:
        return next((code for code in self.options if code.id == self.selected_code_id), None)


@dataclass(frozen=True)
class RuleRow:
    field: str
    rule: TaxMapping
    options: tuple[QboTaxRate, ...]
    selected_rate_id: str
    suggested_rate_id: str | None
    warning: str | None
    error: str | None

    @property
    def deletable(self) -> bool:
        return self.rule.source == "manual"

    @property
    def ignored(self) -> bool:
        return self.rule.ignored


@dataclass(frozen=True)
class MappingView:
    combinations: tuple[CombinationRow, ...]
    rules: tuple[RuleRow, ...]

    @property
    def has_warnings(self) -> bool:
        """Some choice shown does not match its Fusebill percentages (saving it needs a confirmation)."""
        return any(row.warning for row in self.combinations) or any(row.warning for row in self.rules)


def _words(text: str) -> set[str]:
    return {word for word in re.split(r"[^0-9a-z]+", text.casefold()) if word}


def _name_score(candidate: str, names: Iterable[str]) -> int:
    wanted = set().union(*(_words(name) for name in names)) if names else set()
    return len(_words(candidate) & wanted)


def _rule_percents(rules: Sequence[TaxMapping]) -> tuple[Decimal, ...] | None:
    percents = [rule.fusebill_tax_rate for rule in rules if rule.fusebill_tax_rate is not None]
    if not rules or len(percents) != len(rules):
        return None
    return tuple(sorted(percent.normalize() for percent in percents))


def suggest_code(rules: Sequence[TaxMapping], codes: Sequence[QboTaxCodeRates]) -> QboTaxCodeRates | None:
    """The code whose rates match the combination's percentages (the non-taxable one: a zero-rate code,
    Exempt first, then Zero-rated, Out of Scope); ties go to the code whose name shares most words."""
    if not rules:
        zero = [code for code in codes if code.is_zero_rate]
        if not zero:
            return None

        def preference(code: QboTaxCodeRates) -> tuple[int, int, str]:
            name = " ".join(re.findall(r"[0-9a-z]+", code.name.casefold()))
            rank = next((index for index, wanted in enumerate(ZERO_RATE_NAMES) if wanted in name), len(ZERO_RATE_NAMES))
            return (rank, len(code.rates), code.name)

        return min(zero, key=preference)
    percents = _rule_percents(rules)
    if percents is None:
        return None
    matches = [code for code in codes if len(code.rates) == len(rules) and code.percents == percents]
    if not matches:
        return None
    names = [rule.fusebill_tax_name for rule in rules]
    return max(matches, key=lambda code: (_name_score(code.name, names), -len(code.name)))


def code_warning(key: str, label: str, rules: Sequence[TaxMapping], code: QboTaxCodeRates | None) -> str | None:
    """A mismatch between a combination and the code chosen for it, in words (None: they match)."""
    if code is None:
        return None
    if key == NON_TAXABLE:
        if code.is_zero_rate:
            return None
        return f"{code.label} is not a zero-rate code: QuickBooks would treat non-taxable charges, credits and write-offs as taxed."
    percents = _rule_percents(rules)
    if percents is None:
        return None
    if len(code.rates) == len(rules) and code.percents == percents:
        return None
    wanted = " + ".join(format_percent(p) for p in percents)
    return f"The rates of {code.label} do not match {label} ({wanted}). Check that this is the right code."


def _rate_warning(rule: TaxMapping, rate: QboTaxRate | None) -> str | None:
    if rate is None or rule.fusebill_tax_rate is None or rate.percent is None:
        return None
    if _normalise(rule.fusebill_tax_rate) == _normalise(rate.percent):
        return None
    return (f"{rule.fusebill_tax_name} {format_percent(rule.fusebill_tax_rate)} → {rate.name} {format_percent(rate.percent)}: "
            "the percentages differ. Fusebill's tax amounts are posted as they are, but the QuickBooks rate reports would be misleading.")


def suggest_rate(rule: TaxMapping, options: Sequence[QboTaxRate], codes: Sequence[QboTaxCodeRates] = ()) -> QboTaxRate | None:
    """The option with the rule's percentage; ties go to a rate every given code has, then by name."""
    if rule.fusebill_tax_rate is None:
        return None
    wanted = _normalise(rule.fusebill_tax_rate)
    matches = [rate for rate in options if _normalise(rate.percent) == wanted]
    if not matches:
        return None
    def in_all(rate: QboTaxRate) -> int:
        return sum(1 for code in codes if any(r.id == rate.id for r in code.rates))
    return max(matches, key=lambda rate: (in_all(rate), _name_score(rate.name, [rule.fusebill_tax_name])))


def _unique_rates(codes: Iterable[QboTaxCodeRates]) -> tuple[QboTaxRate, ...]:
    seen: dict[str, QboTaxRate] = {}
    for code in codes:
        for rate in code.rates:
            seen.setdefault(rate.id, rate)
    return tuple(seen.values())


def combination_field(combo: TaxCombination | None, key: str) -> str:
    return NON_TAXABLE_FIELD if key == NON_TAXABLE else f"code-{combo.id}"  # type: ignore[union-attr]  # only the zero-rate key may have no row


def rule_field(rule: TaxMapping) -> str:
    return f"rate-{rule.id}"


def mapping_view(
    rules: Sequence[TaxMapping],
    combos: Sequence[TaxCombination],
    codes: Sequence[QboTaxCodeRates],
    submitted: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
) -> MappingView:
    """The two tables of the Map taxes page: combinations → code, rules → rate, with the choice each
    select shows (submitted, else saved, else the suggestion), suggestions and mismatch warnings.

    Rule options are the rates of the codes the rule's combinations show; a rule none of whose
    combinations has a code yet may choose among all the company's rates.
    """
    submitted = submitted or {}
    errors = errors or {}
    by_id = {code.id: code for code in codes}
    rules_by_key = {rule.fusebill_tax_key: rule for rule in rules}
    ignored = ignored_keys(rules)
    stored = {combo.rule_keys: combo for combo in combos}
    keys = [NON_TAXABLE] + [combo.rule_keys for combo in combos if combo.rule_keys != NON_TAXABLE]

    combo_rows = []
    code_of: dict[str, QboTaxCodeRates] = {}  # combination key → code the select shows
    for key in keys:
        combo = stored.get(key)
        members = [rules_by_key[k] for k in combination_rule_keys(key) if k in rules_by_key]
        label = NON_TAXABLE_LABEL if key == NON_TAXABLE else (combo.label if combo is not None else key)
        name = combination_field(combo, key)
        if combination_ignored(key, ignored):
            combo_rows.append(CombinationRow(
                field=name, key=key, label=label, combination_id=combo.id if combo is not None else None,
                percents=_rule_percents(members), saved_code_id=combo.qbo_tax_code_id if combo is not None else None,
                saved_code_name=combo.qbo_tax_code_name if combo is not None else None, selected_code_id="",
                suggested_code_id=None, options=tuple(codes), warning=None, error=errors.get(name),
                ignored_rules=tuple(rules_by_key[k].fusebill_tax_name for k in combination_rule_keys(key) if k in ignored),
            ))
            continue
        suggestion = suggest_code(members, codes) if len(members) == len(combination_rule_keys(key)) else None
        saved = combo.qbo_tax_code_id if combo is not None else None
        selected = submitted[name] if name in submitted else (saved or (suggestion.id if suggestion else ""))
        if selected in by_id:
            code_of[key] = by_id[selected]
        combo_rows.append(CombinationRow(
            field=name, key=key, label=label, combination_id=combo.id if combo is not None else None,
            percents=_rule_percents(members) if key != NON_TAXABLE else (), saved_code_id=saved,
            saved_code_name=combo.qbo_tax_code_name if combo is not None else None, selected_code_id=selected,
            suggested_code_id=suggestion.id if suggestion else None, options=tuple(codes),
            warning=code_warning(key, label, members, by_id.get(selected)), error=errors.get(name),
        ))

    all_rates = _unique_rates(codes)
    rule_rows = []
    for rule in rules:
        if rule.ignored:
            rule_rows.append(RuleRow(field=rule_field(rule), rule=rule, options=(), selected_rate_id="", suggested_rate_id=None,
                                     warning=None, error=errors.get(rule_field(rule))))
            continue
        used = [code_of[key] for key in keys if key != NON_TAXABLE and rule.fusebill_tax_key in combination_rule_keys(key) and key in code_of]
        options = _unique_rates(used) if used else all_rates
        name = rule_field(rule)
        rate_suggestion = suggest_rate(rule, options, used)
        saved = rule.qbo_tax_rate_id
        selected = submitted[name] if name in submitted else (saved or (rate_suggestion.id if rate_suggestion else ""))
        if selected and all(rate.id != selected for rate in options):
            # Keep a saved (or submitted) rate visible even when the codes around it changed.
            extra = next((rate for rate in all_rates if rate.id == selected), None)
            if extra is None and selected == saved:
                extra = QboTaxRate(saved, rule.qbo_tax_rate_name or saved, rule.qbo_tax_rate_percent)
            if extra is not None:
                options = options + (extra,)
        chosen = next((rate for rate in options if rate.id == selected), None)
        warning = _rate_warning(rule, chosen)
        outside = [code.name for code in used if chosen is not None and all(r.id != chosen.id for r in code.rates)]
        if chosen is not None and outside:
            warning = ((warning + " ") if warning else "") + f"{chosen.name} is not a rate of {', '.join(outside)}."
        rule_rows.append(RuleRow(field=name, rule=rule, options=options, selected_rate_id=selected,
                                 suggested_rate_id=rate_suggestion.id if rate_suggestion else None, warning=warning, error=errors.get(name)))
    return MappingView(tuple(combo_rows), tuple(rule_rows))


# ------------------------------------------------------------------ changing
class NeedsFusebillKey(ServiceError):
    """Looking for tax rules needs the environment's Fusebill API key, which is not saved yet."""


@dataclass(frozen=True)
class DiscoverOutcome:
    found: int
    added: int
    combinations_found: int = 0
    combinations_added: int = 0
    customers_read: int = 0
    complete: bool = True


def _label(keys: Sequence[str], names: Mapping[str, str]) -> str:
    if not keys:
        return NON_TAXABLE_LABEL
    return " + ".join(sorted((names.get(key, key) for key in keys), key=str.casefold))[:MAX_KEY_LENGTH]


def _ensure_combination(session: Session, environment: Environment, connection: QboConnection, existing: dict[str, TaxCombination],
                        keys: Sequence[str], names: Mapping[str, str]) -> bool:
    """Add the combination of `keys` unless it is listed (True when added); relabel it otherwise."""
    key = combination_key(keys)
    if len(key) > MAX_KEY_LENGTH:
        return False
    row = existing.get(key)
    if row is not None:
        row.label = _label(combination_rule_keys(key), names)
        return False
    row = TaxCombination(environment_id=environment.id, realm_id=connection.realm_id, rule_keys=key,
                         label=_label(combination_rule_keys(key), names))
    session.add(row)
    existing[key] = row
    return True


def discover_rules(session: Session, ctx: ServiceContext, environment: Environment, connection: QboConnection, actor: User) -> DiscoverOutcome:
    """Read recent Fusebill invoices for tax rules and the combinations they are charged in."""
    ensure_integration_enabled(environment.account)
    if not environment.fusebill_api_key_ciphertext:
        raise NeedsFusebillKey(f"Looking for tax rules reads the {environment.kind} Fusebill account's invoices, so it needs that "
                               "account's Fusebill API key: save it on the Environments page first.")
    client, since = fusebill_client(ctx, environment), environment.sync_start_date
    before_remote_call(session)
    try:
        found = client.discover_taxes(since)
    except ExternalError as error:
        raise ServiceError(f"Could not read tax rules from Fusebill: {error.message}") from error
    existing = {row.fusebill_tax_key: row for row in mappings(session, environment, connection)}
    added = 0
    for rule in found.rules:
        row = existing.get(rule.key)
        if row is None:
            row = TaxMapping(environment_id=environment.id, realm_id=connection.realm_id, fusebill_tax_key=rule.key,
                             fusebill_tax_name=rule.name, fusebill_tax_rate=rule.percentage, source="discovered")
            session.add(row)
            existing[rule.key] = row
            added += 1
        else:
            row.fusebill_tax_name = rule.name
            row.fusebill_tax_rate = rule.percentage
    names = {key: row.fusebill_tax_name for key, row in existing.items()}
    combos = {row.rule_keys: row for row in combinations(session, environment, connection)}
    combos_added = 0
    for keys in list(found.combinations) + [()]:
        combos_added += _ensure_combination(session, environment, connection, combos, keys, names)
    for key, combo in combos.items():  # names may have changed
        combo.label = _label(combination_rule_keys(key), names)
    audit.record(
        session, "taxes.discovered",
        f"{actor.email} looked for tax rules in Fusebill: {len(found.rules)} rules and {len(found.combinations)} combinations found, "
        f"{added} new rules, {combos_added} new combinations",
        actor=actor, account_id=environment.account_id, environment=environment.kind,
        details={"found": len(found.rules), "added": added, "combinations_found": len(found.combinations), "combinations_added": combos_added,
                 "customers_read": found.customers_read, "invoices_read": found.invoices_read, "complete": found.complete},
    )
    return DiscoverOutcome(len(found.rules), added, len(found.combinations), combos_added, found.customers_read, found.complete)


def _parse_rate(rate: str) -> Decimal | None:
    if not (rate or "").strip():
        return None
    try:
        percentage = Decimal(rate.strip().rstrip("%").strip())
    except InvalidOperation as error:
        raise ServiceError("Give the rate as a number, like 13 or 9.975.", field="rate") from error
    if not percentage.is_finite():
        raise ServiceError("Give the rate as a number, like 13 or 9.975.", field="rate")
    if not (Decimal(0) <= percentage <= Decimal(100)) or percentage.as_tuple().exponent < -5:  # type: ignore[operator]  # finite: an int exponent
        raise ServiceError("The rate must be between 0 and 100, with at most 5 decimals.", field="rate")
    return percentage


def add_rule(session: Session, environment: Environment, connection: QboConnection, name: str, rate: str, actor: User) -> TaxMapping:
    """Add a Fusebill tax rule by hand, and the combination of that rule alone (to map to a code)."""
    ensure_integration_enabled(environment.account)
    name = (name or "").strip()
    if not name:
        raise ServiceError("Give the tax rule's name as it appears on Fusebill invoices.", field="name")
    if len(name) > 200:
        raise ServiceError("A tax rule name is at most 200 characters.", field="name")
    percentage = _parse_rate(rate)
    key = rule_key(f"name:{name.casefold()}")
    rows = mappings(session, environment, connection)
    if any(row.fusebill_tax_key == key or row.fusebill_tax_name.casefold() == name.casefold() for row in rows):
        raise ServiceError(f"A tax rule named “{name}” is already listed.", field="name")
    row = TaxMapping(environment_id=environment.id, realm_id=connection.realm_id, fusebill_tax_key=key,
                     fusebill_tax_name=name, fusebill_tax_rate=percentage, source="manual")
    session.add(row)
    names = {existing.fusebill_tax_key: existing.fusebill_tax_name for existing in rows} | {key: name}
    combos = {combo.rule_keys: combo for combo in combinations(session, environment, connection)}
    _ensure_combination(session, environment, connection, combos, [key], names)
    _ensure_combination(session, environment, connection, combos, [], names)
    audit.record(session, "taxes.rule_added", f"{actor.email} added the tax rule “{name}”", actor=actor,
                 account_id=environment.account_id, environment=environment.kind,
                 details={"name": name, "rate": str(percentage) if percentage is not None else None})
    return row


def delete_rule(session: Session, environment: Environment, connection: QboConnection, rule_id: int, actor: User) -> str:
    """Remove a rule added by hand and the combinations it is part of; returns its name."""
    ensure_integration_enabled(environment.account)
    row = next((rule for rule in mappings(session, environment, connection) if rule.id == rule_id), None)
    if row is None:
        raise NotFound("That tax rule is not listed any more.")
    if row.source != "manual":
        raise ServiceError(f"“{row.fusebill_tax_name}” was found on Fusebill invoices; only rules added by hand can be removed.")
    removed = [combo for combo in combinations(session, environment, connection) if row.fusebill_tax_key in combination_rule_keys(combo.rule_keys)]
    for combo in removed:
        session.delete(combo)
    session.delete(row)
    audit.record(session, "taxes.rule_deleted", f"{actor.email} removed the tax rule “{row.fusebill_tax_name}” (added by hand)", actor=actor,
                 account_id=environment.account_id, environment=environment.kind,
                 details={"name": row.fusebill_tax_name, "rate": row.qbo_tax_rate_name, "combinations": [combo.label for combo in removed]})
    return row.fusebill_tax_name


def set_ignored(session: Session, environment: Environment, connection: QboConnection, rule_id: int, ignored: bool, actor: User) -> str:
    """Set a rule to ignore (it will never be synced: it blocks nothing, and a record that carries it
    fails with that reason) or back to be mapped; returns its name. Its rate choice is kept either way."""
    ensure_integration_enabled(environment.account)
    row = next((rule for rule in mappings(session, environment, connection) if rule.id == rule_id), None)
    if row is None:
        raise NotFound("That tax rule is not listed any more.")
    if row.ignored == ignored:
        return row.fusebill_tax_name
    row.ignored_at = utcnow() if ignored else None
    row.ignored_by_id = actor.id if ignored else None
    action, verb = (("taxes.rule_ignored", "set the tax rule “{}” to ignore") if ignored
                    else ("taxes.rule_unignored", "set the tax rule “{}” to be mapped again"))
    audit.record(session, action, f"{actor.email} {verb.format(row.fusebill_tax_name)}", actor=actor,
                 account_id=environment.account_id, environment=environment.kind,
                 details={"name": row.fusebill_tax_name, "key": row.fusebill_tax_key, "realm_id": connection.realm_id})
    return row.fusebill_tax_name


class TaxMappingErrors(ServiceError):
    """Some choices were refused; `errors` maps the form field to the message shown next to it.
    `mismatches` (field → the difference) are choices saved only once the user confirms them."""

    def __init__(self, errors: dict[str, str], mismatches: dict[str, str] | None = None) -> None:
        super().__init__("Some tax choices need attention.")
        self.errors = errors
        self.mismatches = mismatches or {}


def save_mapping(session: Session, ctx: ServiceContext, environment: Environment, connection: QboConnection,
                 selected: Mapping[str, str], actor: User, confirm_mismatch: bool = False) -> int:
    """Save the Map taxes form: `selected` maps form fields to choices — `code-<combination id>` and
    `code-none` (the zero-rate code) to a QBO tax code id, `rate-<rule id>` to a QBO tax rate id; ""
    unmaps. Every choice is checked against the company's live codes and rates first; on any error
    nothing is saved (TaxMappingErrors). Rules set to ignore, and the combinations they are in, keep
    what is stored. Returns how many choices changed.

    A changed choice whose percentages differ from Fusebill's (GST 5 % → HST ON 13 %) is saved only
    with `confirm_mismatch`; without it nothing is saved and `TaxMappingErrors.mismatches` says what
    differs. Confirm rather than refuse: an accountant can have good reasons (a rate that changed on a
    date, Fusebill's percentage for a rule the company books on a combined rate), and the tax amounts
    posted are Fusebill's either way, so the books stay right — only QuickBooks' rate reports would
    differ. Refusing would leave such a company blocked for good; a silent save is how a typo slips
    through. So the difference is shown next to the row, the save asks for an explicit tick, and the
    confirmed differences go into the audit log."""
    ensure_integration_enabled(environment.account)
    codes = {code.id: code for code in qbo_tax_codes(ctx, connection, session)}
    rates = {rate.id: rate for rate in _unique_rates(codes.values())}
    all_rules = mappings(session, environment, connection)
    ignored = ignored_keys(all_rules)
    rules = {rule_field(rule): rule for rule in all_rules}
    stored = combinations(session, environment, connection)
    combos = {combination_field(combo, combo.rule_keys): combo for combo in stored}
    selected = {name: value for name, value in selected.items()
                if not (name in rules and rules[name].ignored)
                and not (name in combos and combination_ignored(combos[name].rule_keys, ignored))}
    errors: dict[str, str] = {}
    code_choice: dict[str, str] = {}  # combination key → chosen code id (after this save)
    combo: TaxCombination | None
    for combo in stored:
        code_choice[combo.rule_keys] = combo.qbo_tax_code_id or ""
    for name, value in selected.items():
        if name.startswith("code-"):
            if name != NON_TAXABLE_FIELD and name not in combos:
                errors[name] = "That tax combination is not listed any more. Reload the page."
            elif value and value not in codes:
                errors[name] = "That tax code is not active in QuickBooks any more. Reload and choose again."
            else:
                code_choice[NON_TAXABLE if name == NON_TAXABLE_FIELD else combos[name].rule_keys] = value
        elif name.startswith("rate-"):
            if name not in rules:
                errors[name] = "That tax rule is not listed any more. Reload the page."
            elif value and value not in rates:
                errors[name] = "That tax rate is not used by any active tax code in QuickBooks. Choose again."
    for name, value in selected.items():
        if not name.startswith("rate-") or name in errors or not value:
            continue
        rule = rules[name]
        used = [codes[code_id] for key, code_id in code_choice.items()
                if key != NON_TAXABLE and code_id in codes and rule.fusebill_tax_key in combination_rule_keys(key)
                and not combination_ignored(key, ignored)]
        if used and all(rate.id != value for code in used for rate in code.rates):
            errors[name] = (f"Choose one of the rates of {', '.join(code.name for code in used)}, the code"
                            f"{'s' if len(used) > 1 else ''} used for “{rule.fusebill_tax_name}”.")
    if errors:
        raise TaxMappingErrors(errors)

    rules_by_key = {rule.fusebill_tax_key: rule for rule in all_rules}
    mismatches: dict[str, str] = {}
    for name, value in selected.items():
        if not value:
            continue
        if name.startswith("code-"):
            combo = combos.get(name)
            key = NON_TAXABLE if name == NON_TAXABLE_FIELD or combo is None else combo.rule_keys
            if ((combo.qbo_tax_code_id if combo is not None else None) or "") == value:
                continue
            members = [rules_by_key[k] for k in combination_rule_keys(key) if k in rules_by_key]
            label = NON_TAXABLE_LABEL if key == NON_TAXABLE or combo is None else combo.label
            warning = code_warning(key, label, members, codes[value])
        else:
            rule = rules[name]
            if (rule.qbo_tax_rate_id or "") == value:
                continue
            warning = _rate_warning(rule, rates[value])
        if warning:
            mismatches[name] = warning
    if mismatches and not confirm_mismatch:
        raise TaxMappingErrors({}, mismatches)

    now = utcnow()
    changes: dict[str, dict[str, object]] = {}
    zero = next((combo for combo in stored if combo.rule_keys == NON_TAXABLE), None)
    for name, value in selected.items():
        if not name.startswith("code-"):
            continue
        combo = zero if name == NON_TAXABLE_FIELD else combos[name]
        if combo is None:
            if not value:
                continue
            combo = TaxCombination(environment_id=environment.id, realm_id=connection.realm_id, rule_keys=NON_TAXABLE, label=NON_TAXABLE_LABEL)
            session.add(combo)
        if (combo.qbo_tax_code_id or "") == value:
            continue
        changes[f"combination: {combo.label}"] = {"from": combo.qbo_tax_code_name, "to": codes[value].name if value else None}
        combo.qbo_tax_code_id = value or None
        combo.qbo_tax_code_name = codes[value].name if value else None
        combo.mapped_at = now if value else None
        combo.mapped_by_id = actor.id if value else None
    for name, value in selected.items():
        if not name.startswith("rate-"):
            continue
        rule = rules[name]
        if (rule.qbo_tax_rate_id or "") == value:
            continue
        rate = rates.get(value)
        changes[f"rule: {rule.fusebill_tax_name}"] = {"from": rule.qbo_tax_rate_name, "to": rate.name if rate else None,
                                                     "percent": str(rate.percent) if rate and rate.percent is not None else None}
        rule.qbo_tax_rate_id = rate.id if rate else None
        rule.qbo_tax_rate_name = rate.name[:200] if rate else None
        rule.qbo_tax_rate_percent = rate.percent if rate else None
        rule.mapped_at = now if rate else None
        rule.mapped_by_id = actor.id if rate else None
    audit.record(
        session, "taxes.mapped", f"{actor.email} saved the tax mapping ({len(changes)} changed)", actor=actor,
        account_id=environment.account_id, environment=environment.kind,
        details={"changes": changes, "realm_id": connection.realm_id, "mismatches_confirmed": sorted(mismatches.values())},
    )
    return len(changes)
