"""Taxes by the QBO company's set-up (contract: "Taxes, by the QBO company's tax set-up").

Amounts are Fusebill's as posted: nothing here recomputes a tax or a total.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from jobs.sync.mapping.common import ZERO, MappingContext, MappingError, fmt, money, ref, sales_line

US_NON_TAXABLE = "NON"


@dataclass(frozen=True)
class TaxAmount:
    rule_key: str
    name: str
    amount: Decimal
    taxable: Decimal | None  # the net amount it was charged on, when Fusebill gives it


def rule_key(tax: dict[str, Any]) -> str:
    """The Map taxes step's key for a Fusebill tax rule: its id when given, else its name."""
    return str(tax["taxRuleId"]) if tax.get("taxRuleId") is not None else str(tax.get("name") or "")


def tax_amounts(taxes: list[dict[str, Any]] | None, currency: str, what: str) -> list[TaxAmount]:
    found = []
    for tax in taxes or []:
        amount = money(tax.get("amount"), currency, f"{what} tax {tax.get('name')}")
        taxable = money(tax["taxableAmount"], currency, f"{what} taxable amount") if tax.get("taxableAmount") is not None else None
        found.append(TaxAmount(rule_key(tax), str(tax.get("name") or rule_key(tax)), amount, taxable))
    return found


def combination_key(keys) -> str:
    return "+".join(sorted(set(keys)))


def zero_code(ctx: MappingContext) -> str:
    code = ctx.taxes.codes.get("")
    if not code:
        raise MappingError("no tax code is chosen for non-taxable charges, credits and write-offs",
                           hint="Choose the zero-rate tax code (Exempt, Zero-rated or Out of Scope) on the Map taxes step, then retry.")
    return code


def untaxed_code(ctx: MappingContext) -> str | None:
    """The line code of a line that carries no tax (credits, write-offs, the taxes line itself)."""
    if ctx.tax_setup in ("us_automated", "us_manual"):
        return US_NON_TAXABLE
    if ctx.tax_setup == "codes":
        return zero_code(ctx)
    return None


def sales_lines(ctx: MappingContext, *, net: Decimal, taxable_net: Decimal, taxes: list[TaxAmount], item: str,
                description: str, currency: str, what: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The lines and extra fields (TxnTaxDetail, GlobalTaxCalculation) of a sales document."""
    total_tax = sum((t.amount for t in taxes), ZERO)
    if ctx.tax_setup != "codes":
        code = untaxed_code(ctx)
        lines = [sales_line(net, ctx.items[item], description, code)] if net else []
        if total_tax:
            if "taxes" not in ctx.items:
                raise MappingError(f"{what} carries tax but no “Fusebill Taxes” item is prepared", hint="Save the ledgers again so the items are made.")
            lines.append(sales_line(total_tax, ctx.items["taxes"], "Fusebill Taxes", code))
        return lines, {}
    keys = [t.rule_key for t in taxes if t.amount or t.taxable]
    ignored = [ctx.taxes.ignored[key] or key for key in dict.fromkeys(keys) if key in ctx.taxes.ignored]
    if ignored:
        raise MappingError(f"{what}: {', '.join(f'tax rule {name}' for name in ignored)} "
                           f"{'is' if len(ignored) == 1 else 'are'} set to ignore on the Taxes page",
                           hint="To sync it, un-ignore the rule on the Map taxes step and map it, then retry.")
    combo = combination_key(keys)
    lines = []
    if combo:
        code = ctx.taxes.codes.get(combo)
        if not code:
            names = " + ".join(sorted({t.name for t in taxes}))
            raise MappingError(f"{what}: the tax combination {names} is not mapped to a QuickBooks tax code",
                               hint="Map it on the Map taxes step, then retry.")
        taxed = min(taxable_net, net) if taxable_net else net
        if taxed:
            lines.append(sales_line(taxed, ctx.items[item], description, code))
        rest = net - taxed
    else:
        rest = net
    if rest:
        lines.append(sales_line(rest, ctx.items[item], description, zero_code(ctx)))
    if not combo:
        return lines, {"GlobalTaxCalculation": "TaxExcluded"}
    tax_lines = []
    for tax in taxes:
        mapped = ctx.taxes.rates.get(tax.rule_key)
        if not mapped:
            raise MappingError(f"{what}: the tax rule {tax.name} is not mapped to a QuickBooks tax rate",
                               hint="Map it on the Map taxes step, then retry.")
        rate_id, percent = mapped
        detail: dict[str, Any] = {"TaxRateRef": ref(rate_id), "PercentBased": True,
                                  "NetAmountTaxable": fmt(tax.taxable if tax.taxable is not None else net)}
        if percent is not None:
            detail["TaxPercent"] = fmt(percent)
        tax_lines.append({"Amount": fmt(tax.amount), "DetailType": "TaxLineDetail", "TaxLineDetail": detail})
    return lines, {"GlobalTaxCalculation": "TaxExcluded",
                   "TxnTaxDetail": {"TotalTax": fmt(total_tax), "TaxLine": tax_lines}}
