"""What every entity's mapping shares: the context of one environment + company, money and dates."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from jobs.sync.model import Key, Rate, Ref

ZERO = Decimal("0")
# Minor-unit digits per currency (ISO 4217); every other supported currency has 2.
MINOR_DIGITS = {"JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3}
NAME_LIMIT = 100  # QBO DisplayName / GivenName / FamilyName / CompanyName
DOC_NUMBER_LIMIT = 21
PRIVATE_NOTE_LIMIT = 4000


class MappingError(ValueError):
    """This record cannot be expressed in QBO as it is: `reason` says why, with the amounts."""

    def __init__(self, reason: str, hint: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


class Waiting(ValueError):
    """This record depends on one that cannot be synced (yet): it is pending on it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class TaxPlan:
    """Non-US tax codes: combination of Fusebill rule keys ("" = non-taxable) -> QBO tax code id;
    Fusebill rule key -> (QBO tax rate id, percent); `ignored`: rule key -> name of the rules set to
    ignore on the Map taxes step (a record that carries one fails with that reason)."""

    codes: dict[str, str] = field(default_factory=dict)
    rates: dict[str, tuple[str, Decimal | None]] = field(default_factory=dict)
    ignored: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MappingContext:
    tax_setup: str  # none | us_automated | us_manual | codes
    home_currency: str
    multicurrency: bool
    items: dict[str, str]  # item key (charges, taxes, credits, charge_reversals, write_offs) -> QBO item id
    ledgers: dict[str, str]  # ledger key -> QBO account id
    taxes: TaxPlan = TaxPlan()
    display_name_parts: tuple[str, ...] = ("company_name",)
    update_display_names: bool = True
    start_date: date | None = None
    create_new_customers: bool = True
    auto_apply_credit: bool = False

    def foreign(self, currency: str) -> bool:
        return currency != self.home_currency


def digits(currency: str) -> int:
    return MINOR_DIGITS.get(currency.upper(), 2)


def money(value: Any, currency: str, what: str) -> Decimal:
    """A Fusebill amount as Decimal; more minor-unit digits than the currency has is an error."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError) as error:
        raise MappingError(f"{what}: the amount {value!r} is not a number") from error
    if not amount.is_finite():
        raise MappingError(f"{what}: the amount {value!r} is not a number")
    places = digits(currency)
    try:
        rounded = amount.quantize(Decimal(1).scaleb(-places))
    except InvalidOperation as error:  # more digits than any ledger holds (e.g. 1e30)
        raise MappingError(f"{what}: the amount {value!r} is too large to post") from error
    if amount != rounded:
        raise MappingError(f"{what}: {amount} {currency} has more than {places} decimals, which {currency} does not have")
    return rounded


def fmt(amount: Decimal) -> str:
    return format(amount, "f")


def day(value: Any) -> str:
    """A Fusebill timestamp (UTC, with or without offset) as a QBO date."""
    if not value:
        raise MappingError("the record has no date")
    text = str(value).replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text).date().isoformat()
    except ValueError as error:
        raise MappingError(f"the date {value!r} is not understood") from error


def before_start(ctx: MappingContext, when: str) -> bool:
    return ctx.start_date is not None and date.fromisoformat(when) < ctx.start_date


def ref(value: Any) -> dict[str, Any]:
    return {"value": value}


def customer_ref(customer_id: str) -> dict[str, Any]:
    return {"value": Ref(Key("customer", customer_id))}


def currency_fields(ctx: MappingContext, currency: str, on: str) -> dict[str, Any]:
    """CurrencyRef + an explicit ExchangeRate on every foreign document (QBO stores 1 when omitted)."""
    if not ctx.multicurrency:
        return {}
    fields: dict[str, Any] = {"CurrencyRef": ref(currency)}
    if ctx.foreign(currency):
        fields["ExchangeRate"] = Rate(currency, on)
    return fields


def check_currency(ctx: MappingContext, currency: str) -> None:
    if not currency:
        raise MappingError("the customer has no currency")
    if ctx.foreign(currency) and not ctx.multicurrency:
        raise MappingError(
            f"the customer's currency is {currency} but the QuickBooks company works in {ctx.home_currency} only, without multicurrency",
            hint="Turn on multicurrency in QuickBooks (Settings → Account and settings → Advanced → Currency), then retry.",
        )


def printable(value: Any, limit: int) -> str:
    """Text as QBO should store it: control and format characters (e.g. right-to-left overrides) become
    spaces, whitespace is collapsed, and it is cut to `limit`."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(value if value is not None else ""))
    return " ".join(text.split())[:limit].strip()


def clean_text(value: Any, limit: int) -> str:
    """Printable text for QBO names, without ':' (QBO's sub-customer separator)."""
    return printable(str(value or "").replace(":", " "), limit)


def sales_line(amount: Decimal, item_id: str, description: str, tax_code: str | None) -> dict[str, Any]:
    detail: dict[str, Any] = {"ItemRef": ref(item_id), "Qty": 1, "UnitPrice": fmt(amount)}
    if tax_code:
        detail["TaxCodeRef"] = ref(tax_code)
    return {"DetailType": "SalesItemLineDetail", "Amount": fmt(amount), "Description": description, "SalesItemLineDetail": detail}


def private_note(marker: str, text: str = "") -> str:
    text = printable(text, PRIVATE_NOTE_LIMIT)
    return (marker + (f" · {text}" if text else ""))[:PRIVATE_NOTE_LIMIT]
