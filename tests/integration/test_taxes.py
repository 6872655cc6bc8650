"""Map taxes for a non-US company with tax codes: combinations of Fusebill rules → a QBO tax code,
each rule → one of that code's rates, and the zero-rate code for non-taxable records."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from portal.models import AuditEvent, TaxCombination, TaxMapping
from portal.services.taxes import combination_key, tax_map
from tests.integration.conftest import connect
from tests.portal_fixtures import post_form
from tests.support.helpers import option_for, save_key, selects


def _canadian_company(enabled, qbo, fusebill_staging, name="Maple Tax Co"):
    realm = qbo.create_company(name=name, country="CA", home_currency="CAD", tax="codes")
    connect(enabled.client, qbo, realm_id=realm)
    api_key = fusebill_staging.create_account("sandbox")
    fusebill_staging.seed(api_key, customers=40, seed=7, currency_weights={"CAD": 1})
    assert save_key(enabled.client, api_key).status_code == 302
    return realm


def test_combinations_map_to_codes_and_rules_to_rates_suggested_by_percentage(enabled, session, qbo, fusebill_staging):
    realm = _canadian_company(enabled, qbo, fusebill_staging)
    page = enabled.client.get("/setup/taxes").get_data(as_text=True)
    assert 'data-test="no-tax-rules"' in page
    assert "Non-taxable charges, credits and write-offs" in page  # the zero-rate code is asked for from the start

    found = post_form(enabled.client, "/setup/taxes", "/setup/taxes/discover", follow_redirects=True).get_data(as_text=True)
    assert "combinations" in found and "customers" in found
    rules = {row.fusebill_tax_name: row for row in session.scalars(select(TaxMapping))}
    assert {"GST", "HST (Ontario)", "QST", "PST (British Columbia)"} <= set(rules), rules.keys()
    keys = {name: row.fusebill_tax_key for name, row in rules.items()}
    combos = {row.rule_keys: row for row in session.scalars(select(TaxCombination))}
    # Québec charges GST and QST together; British Columbia GST and PST; Ontario HST alone; exports nothing.
    assert combination_key([keys["GST"], keys["QST"]]) in combos
    assert combination_key([keys["GST"], keys["PST (British Columbia)"]]) in combos
    assert combination_key([keys["HST (Ontario)"]]) in combos
    assert "" in combos
    assert combos[combination_key([keys["GST"], keys["QST"]])].label == "GST + QST"

    overview = enabled.client.get("/setup/").get_data(as_text=True)
    assert 'data-step="taxes" data-state="todo"' in overview
    assert "no zero-rate tax code chosen" in overview and "“GST + QST”" in overview

    page = enabled.client.get("/setup/taxes").get_data(as_text=True)
    fields = selects(page)
    hst = combos[combination_key([keys["HST (Ontario)"]])]
    # Suggestions by percentage: the HST code (13 %) for HST alone, a zero-rate code for non-taxable records.
    hst_choice = fields[f"code-{hst.id}"]
    assert hst_choice["selected"] and "13%" in dict(hst_choice["options"])[hst_choice["selected"]]
    zero_choice = fields["code-none"]
    assert zero_choice["selected"] and "(0%)" in dict(zero_choice["options"])[zero_choice["selected"]]
    # Each code shows its rates.
    assert any("(5%" in label or "5%)" in label for _value, label in hst_choice["options"])

    # Map every combination: the suggestion where there is one, else a code that has the rule's rate.
    form = {name: field["selected"] for name, field in fields.items()}
    for combo in combos.values():
        name = "code-none" if combo.rule_keys == "" else f"code-{combo.id}"
        if not form.get(name):
            form[name] = option_for(fields[name], "GST (")  # no combined code in this company yet: the GST code
    unmapped_rule = f"rate-{rules['QST'].id}"
    form[unmapped_rule] = ""
    form["confirm_mismatch"] = "y"  # the GST code for GST + QST differs from Fusebill's percentages: confirmed
    assert post_form(enabled.client, "/setup/taxes", "/setup/taxes", form).status_code == 302
    overview = enabled.client.get("/setup/").get_data(as_text=True)
    step = overview[overview.find('data-step="taxes"'):][:1500]
    assert 'data-state="todo"' in step and "no tax rate for" in step and "“QST”" in step, step

    # The rules' choices are the rates of the codes their combinations use: a rate for each rule.
    fields = selects(enabled.client.get("/setup/taxes").get_data(as_text=True))
    for name, rule in rules.items():
        choice = fields[f"rate-{rule.id}"]
        assert len(choice["options"]) > 1, (name, choice)
        form[f"rate-{rule.id}"] = choice["selected"] or choice["options"][1][0]
    assert post_form(enabled.client, "/setup/taxes", "/setup/taxes", form).status_code == 302
    assert 'data-step="taxes" data-state="done"' in enabled.client.get("/setup/").get_data(as_text=True)
    assert session.scalars(select(AuditEvent).where(AuditEvent.action == "taxes.mapped")).first() is not None

    # What the sync engine reads.
    session.expire_all()
    environment_id = rules["GST"].environment_id
    mapped = tax_map(session, environment_id, realm)
    assert mapped.zero_rate_code_id == form["code-none"]
    assert mapped.code_for([keys["HST (Ontario)"]]) == hst_choice["selected"]
    hst_rate = mapped.rate_for(keys["HST (Ontario)"])
    assert hst_rate is not None and hst_rate.percent == Decimal("13")
    assert mapped.unmapped_reason([keys["GST"], keys["QST"]]) is None
    assert "“Nope”" not in (mapped.unmapped_reason(["unknown-rule"]) or "")
    assert "has no QuickBooks tax code" in mapped.unmapped_reason(["unknown-rule"])


def test_a_mismatched_choice_is_saved_with_a_warning_and_an_unknown_one_refused_next_to_the_field(enabled, session, qbo, fusebill_staging):
    realm = qbo.create_company(name="Maple Typo Co", country="CA", home_currency="CAD", tax="codes")
    connect(enabled.client, qbo, realm_id=realm)
    assert post_form(enabled.client, "/setup/taxes", "/setup/taxes/add", {"name": "GST", "rate": "5"}).status_code == 302
    rule = session.scalar(select(TaxMapping))
    combo = session.scalar(select(TaxCombination).where(TaxCombination.rule_keys == rule.fusebill_tax_key))
    assert combo is not None and combo.label == "GST"
    fields = selects(enabled.client.get("/setup/taxes").get_data(as_text=True))
    hst_code = option_for(fields[f"code-{combo.id}"], "HST ON")

    # Unknown code and unknown rate: refused next to their fields, nothing saved, the choices kept.
    response = post_form(enabled.client, "/setup/taxes", "/setup/taxes", {f"code-{combo.id}": "NOPE", f"rate-{rule.id}": "NOPE", "code-none": ""})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f'data-field="code-{combo.id}">That tax code is not active' in page
    assert f'data-field="rate-{rule.id}">That tax rate is not used' in page
    session.expire_all()
    assert session.get(TaxCombination, combo.id).qbo_tax_code_id is None

    # A rate outside the codes the rule's combinations use is refused.
    gst_code = option_for(fields[f"code-{combo.id}"], "GST (")
    qst_rate = option_for(selects(page)[f"rate-{rule.id}"], "QST")  # offered while no code is chosen: every rate
    response = post_form(enabled.client, "/setup/taxes", "/setup/taxes", {f"code-{combo.id}": gst_code, f"rate-{rule.id}": qst_rate})
    assert response.status_code == 400
    assert f'data-field="rate-{rule.id}">Choose one of the rates of GST' in response.get_data(as_text=True)

    # GST 5 % mapped to the HST code and rate: allowed once confirmed, with the mismatch spelled out.
    first = post_form(enabled.client, "/setup/taxes", "/setup/taxes", {f"code-{combo.id}": hst_code, "confirm_mismatch": "y"})
    assert first.status_code == 302
    fields = selects(enabled.client.get("/setup/taxes").get_data(as_text=True))
    hst_rate = option_for(fields[f"rate-{rule.id}"], "HST ON")
    assert post_form(enabled.client, "/setup/taxes", "/setup/taxes",
                     {f"code-{combo.id}": hst_code, f"rate-{rule.id}": hst_rate, "confirm_mismatch": "y"}).status_code == 302
    page = enabled.client.get("/setup/taxes").get_data(as_text=True)
    assert f'data-warning="code-{combo.id}"' in page and "do not match GST (5 %)" in page
    assert "GST 5 % → HST ON 13 %" in page


def test_a_rule_added_by_hand_can_be_removed_but_a_discovered_one_cannot(enabled, session, qbo, fusebill_staging):
    _canadian_company(enabled, qbo, fusebill_staging, name="Maple Remove Co")
    post_form(enabled.client, "/setup/taxes", "/setup/taxes/discover")
    assert post_form(enabled.client, "/setup/taxes", "/setup/taxes/add", {"name": "PST MB", "rate": "7"}).status_code == 302
    manual = session.scalar(select(TaxMapping).where(TaxMapping.source == "manual"))
    discovered = session.scalar(select(TaxMapping).where(TaxMapping.source == "discovered"))
    manual_id, manual_key = manual.id, manual.fusebill_tax_key
    page = enabled.client.get("/setup/taxes").get_data(as_text=True)
    assert f'data-test="delete-rule-{manual.id}"' in page and f'data-test="delete-rule-{discovered.id}"' not in page
    assert "PST MB" in page

    removed = post_form(enabled.client, "/setup/taxes", f"/setup/taxes/rules/{manual_id}/delete", follow_redirects=True)
    assert "Tax rule “PST MB” removed." in removed.get_data(as_text=True)
    session.expire_all()
    assert session.scalar(select(TaxMapping).where(TaxMapping.id == manual_id)) is None
    assert session.scalar(select(TaxCombination).where(TaxCombination.rule_keys == manual_key)) is None
    refused = post_form(enabled.client, "/setup/taxes", f"/setup/taxes/rules/{discovered.id}/delete", follow_redirects=True)
    assert "only rules added by hand can be removed" in refused.get_data(as_text=True)
    assert session.get(TaxMapping, discovered.id) is not None
    assert session.scalars(select(AuditEvent).where(AuditEvent.action == "taxes.rule_deleted")).first() is not None


def test_adding_a_rule_by_hand_checks_the_input(enabled, session, qbo):
    realm = qbo.create_company(name="Maple Manual Co", country="CA", home_currency="CAD", tax="codes")
    connect(enabled.client, qbo, realm_id=realm)
    for data, field, message in [
        ({"name": "", "rate": ""}, "name", "Give the tax rule"),
        ({"name": "QST", "rate": "nine"}, "rate", "Give the rate as a number"),
        ({"name": "QST", "rate": "150"}, "rate", "between 0 and 100"),
        ({"name": "Q" * 201, "rate": "9.975"}, "name", "At most 200 characters"),
    ]:
        response = post_form(enabled.client, "/setup/taxes", "/setup/taxes/add", data)
        assert response.status_code == 400, data
        assert f'data-field="{field}">' in response.get_data(as_text=True) and message in response.get_data(as_text=True), data
    assert post_form(enabled.client, "/setup/taxes", "/setup/taxes/add", {"name": "QST", "rate": "9.975%"}).status_code == 302
    duplicate = post_form(enabled.client, "/setup/taxes", "/setup/taxes/add", {"name": "qst", "rate": ""})
    assert duplicate.status_code == 400 and "already listed" in duplicate.get_data(as_text=True)
    row = session.scalar(select(TaxMapping))
    assert str(row.fusebill_tax_rate) == "9.97500" and row.source == "manual"
    # A name with "+" still makes a key that combination keys can be split on.
    assert post_form(enabled.client, "/setup/taxes", "/setup/taxes/add", {"name": "GST+PST", "rate": "12"}).status_code == 302
    assert all("+" not in rule.fusebill_tax_key for rule in session.scalars(select(TaxMapping)))


def test_us_and_untaxed_companies_have_nothing_to_map(enabled, qbo):
    realm = qbo.create_company(name="Plain US Co", country="US")
    connect(enabled.client, qbo, realm_id=realm)
    assert 'data-test="no-tax-mapping"' in enabled.client.get("/setup/taxes").get_data(as_text=True)
    assert 'data-step="taxes"' not in enabled.client.get("/setup/").get_data(as_text=True)
