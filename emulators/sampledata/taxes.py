"""Tax rules, the jurisdictions that use them, and how tax amounts are computed.

Rates are the real published ones (GST 5 %, HST Ontario 13 %, QST 9.975 %, PST British Columbia
7 %, New York City combined sales tax 8.875 %, UK VAT 20 %, German VAT 19 %).

How Fusebill rounds tax is not documented (fusebill-api.md §3.2 lists `taxes[]` only as a
collection of `Common.Dto.Get.Tax`), so these are this project's choices, kept here in one place:

* **Per invoice, per rule.** Each rule's tax is computed once on the invoice's taxable subtotal
  and rounded half-up to the currency's minor unit. (Per-line rounding gives a different cent on
  e.g. 3 x 33.33 at 9.975 %: 9.97 on the invoice, 3 x 3.32 = 9.96 per line — the generator makes
  such invoices on purpose so a sync that recomputes tax instead of copying it is caught.)
* **Québec: QST is not compounded on GST.** Since 2013 both GST and QST are charged on the net
  amount, so each rule applies to the same taxable subtotal.
* **Reversals.** A charge reversal reverses round-half-up(reversed net x rate) of each rule, except
  that the reversal which brings a rule's reversed net up to the whole taxable amount reverses
  exactly the tax still unreversed, so reversing every charge reverses the invoice's tax to the cent.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from emulators.sampledata.money import round_money
from emulators.sampledata.records import TaxRule

HUNDRED = Decimal(100)

# id, code, name, percentage, jurisdiction, registration code (ids are per account; these are stable
# so tests and the QBO tax-mapping step can name them).
TAX_RULES: tuple[TaxRule, ...] = (
    TaxRule(1, "GST", "GST", Decimal("5"), "CA", "123456789RT0001"),
    TaxRule(2, "HST-ON", "HST (Ontario)", Decimal("13"), "CA-ON", "123456789RT0001"),
    TaxRule(3, "QST", "QST", Decimal("9.975"), "CA-QC", "1234567890TQ0001"),
    TaxRule(4, "PST-BC", "PST (British Columbia)", Decimal("7"), "CA-BC", "PST-1234-5678"),
    TaxRule(5, "US-NY", "New York City Sales Tax", Decimal("8.875"), "US-NY", None),
    TaxRule(6, "GB-VAT", "VAT (UK)", Decimal("20"), "GB", "GB123456789"),
    TaxRule(7, "DE-VAT", "MwSt. (Deutschland)", Decimal("19"), "DE", "DE123456789"),
)
_RULES_BY_CODE = {rule.code: rule for rule in TAX_RULES}


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    """Where a customer is billed: which tax rules apply and a plausible address."""

    code: str
    currency: str
    rule_codes: tuple[str, ...]
    city: str
    state: str | None
    country: str
    country_code: str
    postal_zip: str


# Per currency: (jurisdiction, weight). Weights are relative within the currency.
JURISDICTIONS: dict[str, tuple[tuple[Jurisdiction, int], ...]] = {
    "CAD": (
        (Jurisdiction("CA-ON", "CAD", ("HST-ON",), "Toronto", "Ontario", "Canada", "CA", "M5V 2T6"), 35),
        (Jurisdiction("CA-QC", "CAD", ("GST", "QST"), "Montréal", "Québec", "Canada", "CA", "H2Y 1C6"), 25),
        (Jurisdiction("CA-BC", "CAD", ("GST", "PST-BC"), "Vancouver", "British Columbia", "Canada", "CA", "V6B 1A1"), 20),
        (Jurisdiction("CA-AB", "CAD", ("GST",), "Calgary", "Alberta", "Canada", "CA", "T2P 1J9"), 15),
        (Jurisdiction("CA-EXPORT", "CAD", (), "Ottawa", "Ontario", "Canada", "CA", "K1P 1J1"), 5),
    ),
    "USD": (
        (Jurisdiction("US-NY", "USD", ("US-NY",), "New York", "New York", "United States", "US", "10001"), 45),
        (Jurisdiction("US-OR", "USD", (), "Portland", "Oregon", "United States", "US", "97201"), 35),
        (Jurisdiction("US-DE", "USD", (), "Wilmington", "Delaware", "United States", "US", "19801"), 20),
    ),
    "EUR": (
        (Jurisdiction("DE", "EUR", ("DE-VAT",), "Berlin", None, "Germany", "DE", "10115"), 50),
        (Jurisdiction("FR-B2B", "EUR", (), "Paris", None, "France", "FR", "75001"), 50),  # reverse charge
    ),
    "GBP": (
        (Jurisdiction("GB", "GBP", ("GB-VAT",), "London", None, "United Kingdom", "GB", "EC1A 1BB"), 80),
        (Jurisdiction("GB-EXEMPT", "GBP", (), "Edinburgh", None, "United Kingdom", "GB", "EH1 1YZ"), 20),
    ),
    "AUD": ((Jurisdiction("AU", "AUD", (), "Sydney", "New South Wales", "Australia", "AU", "2000"), 1),),
    "JPY": ((Jurisdiction("JP", "JPY", (), "Tokyo", None, "Japan", "JP", "100-0001"), 1),),
}
JURISDICTIONS_BY_CODE = {j.code: j for options in JURISDICTIONS.values() for j, _ in options}


def rule_by_code(code: str) -> TaxRule:
    return _RULES_BY_CODE[code]


def rules_for(jurisdiction_code: str) -> tuple[TaxRule, ...]:
    """The tax rules charged to a customer billed in `jurisdiction_code` ("" = none)."""
    if not jurisdiction_code:
        return ()
    return tuple(_RULES_BY_CODE[code] for code in JURISDICTIONS_BY_CODE[jurisdiction_code].rule_codes)


def tax_on(taxable_amount: Decimal, rule: TaxRule, currency: str) -> Decimal:
    """Tax of one rule on a taxable amount, rounded half-up to the currency's minor unit."""
    return round_money(taxable_amount * rule.percentage / HUNDRED, currency)


def reversed_tax(
    reversed_net: Decimal,
    already_reversed_net: Decimal,
    already_reversed_tax: Decimal,
    invoice_taxable: Decimal,
    invoice_tax: Decimal,
    rule: TaxRule,
    currency: str,
) -> Decimal:
    """Tax one rule gives back when `reversed_net` of taxable charges is reversed (module rules)."""
    if already_reversed_net + reversed_net >= invoice_taxable:
        return invoice_tax - already_reversed_tax
    return min(tax_on(reversed_net, rule, currency), invoice_tax - already_reversed_tax)
