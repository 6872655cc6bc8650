"""Sales tax on Invoice, CreditMemo and RefundReceipt, by company set-up (qbo-accounting-patterns §8).

* `none`: no tax; `TxnTaxDetail` is `{"TotalTax": 0}` whatever the client sends.
* `us_automated`: lines name the pseudo codes TAX/NON only (6000 otherwise); a line without TaxCodeRef
  is taxable; tax is added on top at the company's rate unless the request carries
  `TxnTaxDetail.TotalTax`, which is honoured exactly.
* `codes` (CA, GB, AU...): every sales line must name a tax code (6000 otherwise); tax is computed from
  the codes' rates (one TaxLine per rate; a combined code has several) unless the request carries
  `TxnTaxDetail.TaxLine`s and/or `TotalTax`, kept exactly. Sent TaxLines must agree with the lines'
  codes: each names one of their rates, once, at its percent; every non-zero rate has one.

In both taxed modes a TotalTax sent next to TaxLines must equal their sum (rules.py, "Strict documents").

`compute` returns the TxnTaxDetail to store, the total, and the tax per liability account (positive =
owed to the agency; the caller signs the postings).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from . import faults, rules
from .entities.base import OpContext, blank, decimal, ref_id
from .money import ZERO, round_money

PSEUDO_CODES = ("TAX", "NON")


@dataclass
class TaxOutcome:
    detail: dict
    total: Decimal
    by_account: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class TaxableLine:
    """An item line as the tax engine sees it; `detail` is the line's SalesItemLineDetail (mutable)."""

    amount: Decimal
    detail: dict


def compute(ctx: OpContext, lines: list[TaxableLine], request_detail: object, currency: str) -> TaxOutcome:
    mode = ctx.company.settings.tax
    if mode == "none":
        if ctx.company.settings.country == "US":
            for line in lines:
                line.detail.setdefault("TaxCodeRef", {"value": "NON"})
        return TaxOutcome({"TotalTax": 0}, ZERO)
    explicit_total = _explicit_total(request_detail, currency)
    sent_lines = _sent_tax_lines(request_detail, currency)
    if sent_lines and explicit_total is not None:
        _check_total_matches_lines(explicit_total, sent_lines)
    if mode == "us_automated":
        return _us_automated(ctx, lines, explicit_total, currency)
    return _codes(ctx, lines, sent_lines, explicit_total, currency)


@dataclass
class SentTaxLine:
    """A TxnTaxDetail.TaxLine of the request: its rounded Amount and its TaxLineDetail."""

    amount: Decimal
    detail: dict


def _sent_tax_lines(request_detail: object, currency: str) -> list[SentTaxLine]:
    raw_lines = request_detail.get("TaxLine") if isinstance(request_detail, dict) else None
    if not isinstance(raw_lines, list):
        return []
    sent = []
    for line in raw_lines:
        if blank(line):
            continue
        if not isinstance(line, dict):
            raise faults.invalid_value("TxnTaxDetail.TaxLine", line)
        amount = decimal(line, "Amount", element="TxnTaxDetail.TaxLine.Amount")
        if amount is None:
            raise faults.required("TxnTaxDetail.TaxLine.Amount")
        detail = line.get("TaxLineDetail") if isinstance(line.get("TaxLineDetail"), dict) else {}
        sent.append(SentTaxLine(round_money(amount, currency), detail))
    return sent


def _check_total_matches_lines(total: Decimal, sent_lines: list[SentTaxLine]) -> None:
    line_total = sum((line.amount for line in sent_lines), ZERO)
    if total != line_total:
        detail = rules.TAX_TOTAL_MISMATCH_DETAIL.format(total=total, lines=line_total)
        raise faults.business(detail, "TxnTaxDetail.TotalTax")


def _explicit_total(request_detail: object, currency: str) -> Decimal | None:
    if not isinstance(request_detail, dict):
        return None
    total = decimal(request_detail, "TotalTax", element="TxnTaxDetail.TotalTax")
    return None if total is None else round_money(total, currency)


def _rate_percent(ctx: OpContext) -> Decimal:
    configured = ctx.company.settings.us_sales_tax_rate_percent
    return Decimal(configured) if configured is not None else rules.US_AST_DEFAULT_RATE_PERCENT


def _us_automated(ctx: OpContext, lines: list[TaxableLine], explicit: Decimal | None, currency: str) -> TaxOutcome:
    group_code = ctx.company.system_accounts["ast_tax_code"]
    rate_id = ctx.company.system_accounts["ast_tax_rate"]
    taxable_base = ZERO
    for line in lines:
        code = ref_id(line.detail.get("TaxCodeRef"), "Line.SalesItemLineDetail.TaxCodeRef")
        if code is None:
            # AST update (2018): no TaxCodeRef means TAX (rules.US_AST_LINE_WITHOUT_TAXCODE_IS_TAXABLE).
            code = "TAX" if rules.US_AST_LINE_WITHOUT_TAXCODE_IS_TAXABLE else "NON"
        code = code.upper()
        if code not in PSEUDO_CODES:
            raise faults.business(rules.AST_LINE_TAX_CODE_DETAIL.format(code=code), "Line.SalesItemLineDetail.TaxCodeRef")
        line.detail["TaxCodeRef"] = {"value": code}
        if code == "TAX":
            taxable_base += line.amount

    percent = _rate_percent(ctx)
    total = explicit if explicit is not None else round_money(taxable_base * percent / 100, currency)
    if taxable_base == 0 and total == 0:
        return TaxOutcome({"TotalTax": 0}, ZERO)
    rate = ctx.company.get("TaxRate", rate_id)
    detail = {
        "TxnTaxCodeRef": {"value": group_code},
        "TotalTax": total,
        "TaxLine": [{
            "Amount": total,
            "DetailType": "TaxLineDetail",
            "TaxLineDetail": {
                "TaxRateRef": {"value": rate_id},
                "PercentBased": True,
                "TaxPercent": percent,
                "NetAmountTaxable": round_money(taxable_base, currency),
            },
        }],
    }
    return TaxOutcome(detail, total, {rate["_account"]: total} if total else {})


def _codes(ctx: OpContext, lines: list[TaxableLine], sent_lines: list[SentTaxLine], explicit_total: Decimal | None,
           currency: str) -> TaxOutcome:
    per_rate = _rates_of_lines(ctx, lines)
    if sent_lines:
        return _explicit_tax_lines(ctx, sent_lines, per_rate, currency)

    tax_lines = []
    by_account: dict[str, Decimal] = {}
    computed = {rate_id: round_money(values[1], currency) for rate_id, values in per_rate.items()}
    computed_total = sum(computed.values(), ZERO)
    shares = computed
    if explicit_total is not None:
        shares = _prorate(explicit_total, computed, currency)
    for rate_id, (net, _tax) in per_rate.items():
        rate = ctx.company.get("TaxRate", rate_id)
        amount = shares.get(rate_id, ZERO)
        tax_lines.append({
            "Amount": amount,
            "DetailType": "TaxLineDetail",
            "TaxLineDetail": {
                "TaxRateRef": {"value": rate_id},
                "PercentBased": True,
                "TaxPercent": rate["RateValue"],
                "NetAmountTaxable": round_money(net, currency),
            },
        })
        if amount:
            by_account[rate["_account"]] = by_account.get(rate["_account"], ZERO) + amount
    total = explicit_total if explicit_total is not None else computed_total
    if explicit_total is not None and not per_rate and total:
        by_account[ctx.company.system_accounts["tax_payable"]] = total
    detail: dict = {"TotalTax": total}
    if tax_lines:
        detail["TaxLine"] = tax_lines
    return TaxOutcome(detail, total, by_account)


def _rates_of_lines(ctx: OpContext, lines: list[TaxableLine]) -> dict[str, list[Decimal]]:
    """Rate id -> [net taxable, computed tax] over the lines' tax codes (a combined code contributes
    each of its rates); 6000 for a line without a code."""
    per_rate: dict[str, list[Decimal]] = {}
    for line in lines:
        code_id = ref_id(line.detail.get("TaxCodeRef"), "Line.SalesItemLineDetail.TaxCodeRef")
        if code_id is None:
            detail = rules.MISSING_TAX_CODE_DETAIL.get(ctx.company.settings.country, rules.MISSING_TAX_CODE_DETAIL_DEFAULT)
            raise faults.business(detail, "Line.SalesItemLineDetail.TaxCodeRef")
        tax_code = ctx.lookup("TaxCode", code_id)
        if tax_code is None:
            raise faults.invalid_reference("Line.SalesItemLineDetail.TaxCodeRef")
        if tax_code.get("Active") is False:
            raise faults.object_not_found()
        line.detail["TaxCodeRef"] = {"value": tax_code["Id"]}
        for rate_detail in tax_code.get("SalesTaxRateList", {}).get("TaxRateDetail", []):
            rate = ctx.company.get("TaxRate", rate_detail["TaxRateRef"]["value"])
            bucket = per_rate.setdefault(rate["Id"], [ZERO, ZERO])
            bucket[0] += line.amount
            bucket[1] += line.amount * Decimal(rate["RateValue"]) / 100
    return per_rate


def _prorate(total: Decimal, computed: dict[str, Decimal], currency: str) -> dict[str, Decimal]:
    """Spread an explicit TotalTax over the rates in proportion to the computed tax (AST blog: QBO
    "honors the amount and prorates it across tax rates")."""
    if not computed:
        return {}
    base = sum(computed.values(), ZERO)
    ids = list(computed)
    shares: dict[str, Decimal] = {}
    allotted = ZERO
    for rate_id in ids[:-1]:
        share = round_money(total * computed[rate_id] / base, currency) if base else ZERO
        shares[rate_id] = share
        allotted += share
    shares[ids[-1]] = total - allotted
    return shares


def _explicit_tax_lines(ctx: OpContext, sent_lines: list[SentTaxLine], per_rate: dict[str, list[Decimal]],
                        currency: str) -> TaxOutcome:
    """The client's TaxLines, kept exactly once they agree with the lines' tax codes (rules.py, "Strict
    documents"); TotalTax is their sum (compute() refused a different one)."""
    kept = []
    by_account: dict[str, Decimal] = {}
    seen: set[str] = set()
    for line in sent_lines:
        rate = _sent_rate(ctx, line.detail, per_rate, seen)
        kept_detail: dict = {"TaxRateRef": {"value": rate["Id"]}}
        percent_based = line.detail.get("PercentBased")
        kept_detail["PercentBased"] = percent_based if isinstance(percent_based, bool) else True
        kept_detail["TaxPercent"] = rate["RateValue"]
        net = decimal(line.detail, "NetAmountTaxable", element="TxnTaxDetail.TaxLine.TaxLineDetail.NetAmountTaxable")
        if net is not None:
            kept_detail["NetAmountTaxable"] = round_money(net, currency)
        kept.append({"Amount": line.amount, "DetailType": "TaxLineDetail", "TaxLineDetail": kept_detail})
        by_account[rate["_account"]] = by_account.get(rate["_account"], ZERO) + line.amount
    _check_every_rate_has_a_line(ctx, per_rate, seen)
    total = sum((line.amount for line in sent_lines), ZERO)
    return TaxOutcome({"TotalTax": total, "TaxLine": kept}, total, by_account)


def _sent_rate(ctx: OpContext, detail: dict, per_rate: dict[str, list[Decimal]], seen: set[str]) -> dict:
    """The TaxRate a sent TaxLine names: required, one of the lines' rates, once, at its own percent."""
    element = "TxnTaxDetail.TaxLine.TaxLineDetail.TaxRateRef"
    rate_id = ref_id(detail.get("TaxRateRef"), element)
    if rate_id is None:
        raise faults.required(element, element)
    rate = ctx.lookup("TaxRate", rate_id)
    if rate is None:
        raise faults.invalid_reference(element)
    if rate["Id"] not in per_rate:
        raise faults.business(rules.TAX_RATE_NOT_ON_LINES_DETAIL.format(rate=rate["Name"]), element)
    if rate["Id"] in seen:
        raise faults.business(rules.TAX_RATE_TWICE_DETAIL.format(rate=rate["Name"]), element)
    seen.add(rate["Id"])
    percent = decimal(detail, "TaxPercent", element="TxnTaxDetail.TaxLine.TaxLineDetail.TaxPercent")
    if percent is not None and percent != Decimal(rate["RateValue"]):
        detail_text = rules.TAX_PERCENT_MISMATCH_DETAIL.format(sent=percent, rate=rate["Name"], expected=rate["RateValue"])
        raise faults.business(detail_text, "TxnTaxDetail.TaxLine.TaxLineDetail.TaxPercent")
    return rate


def _check_every_rate_has_a_line(ctx: OpContext, per_rate: dict[str, list[Decimal]], seen: set[str]) -> None:
    for rate_id in per_rate:
        rate = ctx.company.get("TaxRate", rate_id)
        if rate_id not in seen and Decimal(rate["RateValue"]) > 0:
            raise faults.business(rules.TAX_RATE_WITHOUT_LINE_DETAIL.format(rate=rate["Name"]), "TxnTaxDetail.TaxLine")
