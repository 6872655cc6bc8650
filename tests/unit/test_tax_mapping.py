"""The Map taxes rules, on made-up QBO codes with several rates each (no database, no QBO)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from portal.clients.qbo import QboTaxCodeRates, QboTaxRate
from portal.models import TaxCombination, TaxMapping
from portal.services.taxes import (
    NON_TAXABLE,
    TaxMap,
    TaxRateChoice,
    combination_key,
    combination_rule_keys,
    mapping_view,
    suggest_code,
)

GST = QboTaxRate("r1", "GST", Decimal("5"))
QST = QboTaxRate("r2", "QST", Decimal("9.975"))
PST = QboTaxRate("r3", "PST BC", Decimal("7"))
HST = QboTaxRate("r4", "HST ON", Decimal("13"))
EXEMPT = QboTaxRate("r5", "Exempt", Decimal("0"))
ZERO = QboTaxRate("r6", "Zero-rated", Decimal("0"))

CODES = [
    QboTaxCodeRates("c1", "GST", "", (GST,)),
    QboTaxCodeRates("c2", "GST/QST QC", "", (GST, QST)),
    QboTaxCodeRates("c3", "GST/PST BC", "", (GST, PST)),
    QboTaxCodeRates("c4", "HST ON", "", (HST,)),
    QboTaxCodeRates("c6", "Zero-rated", "", (ZERO,)),
    QboTaxCodeRates("c5", "Exempt", "", (EXEMPT,)),
    QboTaxCodeRates("c7", "Out of Scope", "", ()),
]


def rule(rule_id: int, key: str, name: str, percent: str | None, **mapped) -> TaxMapping:
    return TaxMapping(id=rule_id, environment_id=1, realm_id="r", fusebill_tax_key=key, fusebill_tax_name=name,
                      fusebill_tax_rate=Decimal(percent) if percent is not None else None, source="discovered", **mapped)


def combo(combo_id: int, keys: list[str], label: str, code: str | None = None) -> TaxCombination:
    return TaxCombination(id=combo_id, environment_id=1, realm_id="r", rule_keys=combination_key(keys), label=label, qbo_tax_code_id=code)


RULES = [rule(1, "1", "GST", "5"), rule(2, "3", "QST", "9.975"), rule(3, "4", "PST (British Columbia)", "7"), rule(4, "2", "HST (Ontario)", "13")]


def test_combination_keys_are_sorted_distinct_and_empty_for_no_tax():
    assert combination_key(["3", "1", "3"]) == "1+3"
    assert combination_key([]) == NON_TAXABLE == ""
    assert combination_rule_keys("1+3") == ("1", "3") and combination_rule_keys("") == ()
    with pytest.raises(ValueError):
        combination_key(["GST+QST"])


def test_a_combination_is_suggested_the_code_whose_rates_match_its_percentages():
    gst, qst, pst, hst = RULES
    assert suggest_code([gst, qst], CODES).name == "GST/QST QC"
    assert suggest_code([qst, gst], CODES).name == "GST/QST QC"
    assert suggest_code([gst, pst], CODES).name == "GST/PST BC"
    assert suggest_code([gst], CODES).name == "GST"
    assert suggest_code([hst], CODES).name == "HST ON"
    assert suggest_code([gst, hst], CODES) is None
    assert suggest_code([rule(9, "9", "Mystery", None)], CODES) is None


def test_the_non_taxable_combination_is_suggested_a_zero_rate_code_exempt_first():
    assert suggest_code([], CODES).name == "Exempt"
    assert suggest_code([], [code for code in CODES if code.name != "Exempt"]).name == "Zero-rated"
    assert suggest_code([], [CODES[0]]) is None  # no zero-rate code: nothing suggested (a code without rates is not one)


def test_each_rule_chooses_among_the_rates_of_the_codes_its_combinations_use():
    combos = [combo(10, ["1"], "GST"), combo(11, ["1", "3"], "GST + QST"), combo(12, ["1", "4"], "GST + PST (British Columbia)"),
              combo(13, ["2"], "HST (Ontario)"), combo(14, [], "Non-taxable")]
    view = mapping_view(RULES, combos, CODES)
    by_label = {row.label: row for row in view.combinations}
    assert view.combinations[0].non_taxable and view.combinations[0].field == "code-none"
    assert by_label["Non-taxable charges, credits and write-offs"].selected_code_id == "c5"
    assert by_label["GST + QST"].selected_code_id == "c2" and by_label["GST + QST"].percents == (Decimal("5"), Decimal("9.975"))
    assert by_label["GST + PST (British Columbia)"].selected_code_id == "c3"
    assert by_label["GST"].selected_code_id == "c1"
    assert all(row.warning is None for row in view.combinations)

    rules = {row.rule.fusebill_tax_name: row for row in view.rules}
    # GST is charged alone, with QST and with PST: its choices are the rates of the three codes.
    assert {rate.id for rate in rules["GST"].options} == {"r1", "r2", "r3"}
    assert rules["GST"].selected_rate_id == rules["GST"].suggested_rate_id == "r1"
    assert {rate.id for rate in rules["QST"].options} == {"r1", "r2"} and rules["QST"].suggested_rate_id == "r2"
    assert rules["PST (British Columbia)"].suggested_rate_id == "r3"
    assert [rate.id for rate in rules["HST (Ontario)"].options] == ["r4"]
    assert all(row.warning is None for row in view.rules)


def test_mismatches_are_warned_about_and_what_was_submitted_is_shown():
    combos = [combo(10, ["1"], "GST"), combo(11, ["1", "3"], "GST + QST")]
    view = mapping_view(RULES[:2], combos, CODES, submitted={"code-10": "c4", "rate-1": "r4", "code-11": "c1", "code-none": "c1"},
                        errors={"rate-2": "Choose again."})
    by_label = {row.label: row for row in view.combinations}
    assert by_label["GST"].selected_code_id == "c4"
    assert "do not match GST (5 %)" in by_label["GST"].warning
    assert "do not match GST + QST (5 % + 9.975 %)" in by_label["GST + QST"].warning
    assert "is not a zero-rate code" in by_label["Non-taxable charges, credits and write-offs"].warning
    rules = {row.rule.fusebill_tax_name: row for row in view.rules}
    assert rules["GST"].selected_rate_id == "r4"
    assert rules["GST"].warning.startswith("GST 5 % → HST ON 13 %")
    assert rules["QST"].error == "Choose again."
    # QST's only combination now shows the GST code, which has no 9.975 % rate: nothing to suggest.
    assert rules["QST"].suggested_rate_id is None


def test_a_saved_rate_stays_visible_when_the_codes_around_it_change():
    gst = rule(1, "1", "GST", "5", qbo_tax_rate_id="r9", qbo_tax_rate_name="Old GST", qbo_tax_rate_percent=Decimal("5"))
    view = mapping_view([gst], [combo(10, ["1"], "GST", code="c1")], CODES)
    row = view.rules[0]
    assert row.selected_rate_id == "r9" and any(rate.id == "r9" and rate.name == "Old GST" for rate in row.options)
    assert "Old GST is not a rate of GST" in row.warning


def test_the_tax_map_gives_the_sync_codes_by_combination_and_rates_by_rule():
    mapped = TaxMap(codes={"": "c5", "1+3": "c2", "1": "c1"}, rates={"1": TaxRateChoice("r1", "GST", Decimal("5"))},
                    combination_labels={"1+3": "GST + QST"}, rule_names={"1": "GST", "3": "QST"})
    assert mapped.zero_rate_code_id == "c5"
    assert mapped.code_for(["3", "1"]) == "c2" and mapped.code_for([]) == "c5"
    assert mapped.rate_for("1").percent == Decimal("5") and mapped.rate_for("3") is None
    assert mapped.unmapped_reason(["1"]) is None
    assert mapped.unmapped_reason(["1", "3"]) == "Unmapped tax: the tax rule “QST” has no QuickBooks tax rate (Set up → Map taxes)."
    assert "the tax combination “GST + X” has no QuickBooks tax code" in TaxMap({}, {}, rule_names={"1": "GST", "7": "X"}).unmapped_reason(["1", "7"])
    assert "no zero-rate tax code" in TaxMap({}, {}).unmapped_reason([])
