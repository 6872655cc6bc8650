"""Sales tax on Invoice, CreditMemo and RefundReceipt, by company set-up (qbo-accounting-patterns §8).

* `none`: no tax; `TxnTaxDetail` is `{"TotalTax": 0}` whatever the client sends.
* `us_automated`: pseudo codes TAX/NON; a line without TaxCodeRef is taxable; tax is added on top at the
  company's rate unless the request carries `TxnTaxDetail.TotalTax`, which is honoured exactly.
* `codes` (CA, GB, AU...): every sales line must name a tax code (6000 otherwise); tax is computed from
  the codes' rates unless the request carries `TxnTaxDetail.TaxLine`s and/or `TotalTax`, kept exactly.

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
    if mode == "us_automated":
        return _us_automated(ctx, lines, request_detail, currency)
    if mode == "codes":
        return _codes(ctx, lines, request_detail, currency)
    if ctx.company.settings.country == "US":
        for line in lines:
            line.detail.setdefault("TaxCodeRef", {"value": "NON"})
    return TaxOutcome({"TotalTax": 0}, ZERO)


def _explicit_total(request_detail: object, currency: str) -> Decimal | None:
    if not isinstance(request_detail, dict):
        return None
    total = decimal(request_detail, "TotalTax", element="TxnTaxDetail.TotalTax")
    return None if total is None else round_money(total, currency)


def _rate_percent(ctx: OpContext) -> Decimal:
    configured = ctx.company.settings.us_sales_tax_rate_percent
    return Decimal(configured) if configured is not None else rules.US_AST_DEFAULT_RATE_PERCENT


def _us_automated(ctx: OpContext, lines: list[TaxableLine], request_detail: object, currency: str) -> TaxOutcome:
    group_code = ctx.company.system_accounts["ast_tax_code"]
    rate_id = ctx.company.system_accounts["ast_tax_rate"]
    taxable_base = ZERO
    for line in lines:
        code = ref_id(line.detail.get("TaxCodeRef"), "Line.SalesItemLineDetail.TaxCodeRef")
        if code is None:
            # AST update (2018): no TaxCodeRef means TAX (rules.US_AST_LINE_WITHOUT_TAXCODE_IS_TAXABLE).
            code = "TAX" if rules.US_AST_LINE_WITHOUT_TAXCODE_IS_TAXABLE else "NON"
        code = code.upper() if code.upper() in PSEUDO_CODES else code
        line.detail["TaxCodeRef"] = {"value": code}
        if code == "NON":
            continue
        if code != "TAX":
            tax_code = ctx.lookup("TaxCode", code)
            if tax_code is None:
                raise faults.invalid_reference("Line.SalesItemLineDetail.TaxCodeRef")
            if not tax_code.get("Taxable", False):
                continue
        taxable_base += line.amount

    percent = _rate_percent(ctx)
    explicit = _explicit_total(request_detail, currency)
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


def _codes(ctx: OpContext, lines: list[TaxableLine], request_detail: object, currency: str) -> TaxOutcome:
    per_rate: dict[str, list[Decimal]] = {}  # rate id -> [net taxable, computed tax]
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

    explicit_lines = request_detail.get("TaxLine") if isinstance(request_detail, dict) else None
    explicit_total = _explicit_total(request_detail, currency)
    if isinstance(explicit_lines, list) and any(not blank(line) for line in explicit_lines):
        return _explicit_tax_lines(ctx, explicit_lines, explicit_total, currency)

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


def _explicit_tax_lines(ctx: OpContext, lines: list, explicit_total: Decimal | None, currency: str) -> TaxOutcome:
    kept = []
    by_account: dict[str, Decimal] = {}
    line_total = ZERO
    for index, line in enumerate(lines):
        if blank(line):
            continue
        if not isinstance(line, dict):
            raise faults.invalid_value("TxnTaxDetail.TaxLine", line)
        amount = decimal(line, "Amount", element="TxnTaxDetail.TaxLine.Amount")
        if amount is None:
            raise faults.required("TxnTaxDetail.TaxLine.Amount")
        amount = round_money(amount, currency)
        detail = line.get("TaxLineDetail") if isinstance(line.get("TaxLineDetail"), dict) else {}
        rate_id = ref_id(detail.get("TaxRateRef"), "TxnTaxDetail.TaxLine.TaxLineDetail.TaxRateRef")
        rate = ctx.lookup("TaxRate", rate_id) if rate_id else None
        if rate_id is not None and rate is None:
            raise faults.invalid_reference("TxnTaxDetail.TaxLine.TaxLineDetail.TaxRateRef")
        kept_detail: dict = {}
        if rate is not None:
            kept_detail["TaxRateRef"] = {"value": rate["Id"]}
        kept_detail["PercentBased"] = detail.get("PercentBased", True) if isinstance(detail.get("PercentBased"), bool) else True
        percent = decimal(detail, "TaxPercent")
        kept_detail["TaxPercent"] = percent if percent is not None else (rate["RateValue"] if rate else 0)
        net = decimal(detail, "NetAmountTaxable")
        if net is not None:
            kept_detail["NetAmountTaxable"] = round_money(net, currency)
        kept.append({"Amount": amount, "DetailType": "TaxLineDetail", "TaxLineDetail": kept_detail})
        account = rate["_account"] if rate is not None else ctx.company.system_accounts["tax_payable"]
        by_account[account] = by_account.get(account, ZERO) + amount
        line_total += amount
    total = explicit_total if explicit_total is not None else line_total
    if total != line_total and by_account:
        # TotalTax and the lines disagree: the ledger follows TotalTax, the difference on the first account.
        first = next(iter(by_account))
        by_account[first] += total - line_total
    return TaxOutcome({"TotalTax": total, "TaxLine": kept}, total, by_account)
