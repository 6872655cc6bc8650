"""Tax Mapping for a non-US company with tax codes: rules found on Fusebill invoices, mapped to QBO codes."""
from __future__ import annotations

import re

from sqlalchemy import select

from portal.models import AuditEvent, TaxMapping
from tests.integration.conftest import connect
from tests.portal_fixtures import post_form


def _save_key(client, api_key, kind="sandbox"):
    return post_form(client, "/setup/environment", f"/setup/environment/fusebill-key/{kind}", {f"key-{kind}-environment": kind, f"key-{kind}-api_key": api_key})


def test_canadian_company_maps_each_fusebill_tax_rule_to_a_qbo_tax_code(enabled, session, qbo, fusebill_staging):
    realm = qbo.create_company(name="Maple Tax Co", country="CA", home_currency="CAD", tax="codes")
    connect(enabled.client, qbo, realm_id=realm)
    api_key = fusebill_staging.create_account("sandbox")
    fusebill_staging.seed(api_key, customers=40, seed=7, currency_weights={"CAD": 1})
    assert _save_key(enabled.client, api_key).status_code == 302

    page = enabled.client.get("/setup/taxes").get_data(as_text=True)
    assert 'data-test="no-tax-rules"' in page
    found = post_form(enabled.client, "/setup/taxes", "/setup/taxes/discover", follow_redirects=True).get_data(as_text=True)
    assert "tax rules on Fusebill invoices" in found
    rules = {row.fusebill_tax_name: row for row in session.scalars(select(TaxMapping))}
    assert {"GST", "HST"} <= {name.split(" ")[0] for name in rules}, rules.keys()
    overview = enabled.client.get("/setup/").get_data(as_text=True)
    assert 'data-step="taxes" data-state="todo"' in overview and "not mapped" in overview

    page = enabled.client.get("/setup/taxes").get_data(as_text=True)  # lists the company's QBO tax codes
    code_ids = {name: value for value, name in re.findall(r'<option value="(\w+)" >([^<—]+?)(?: —[^<]*)?</option>', page)}
    assert code_ids, page[:2000]
    first_code = next(iter(code_ids.values()))
    # map all but one: the step stays to do and names the rule left
    names = sorted(rules)
    form = {f"map-{rules[name].id}": first_code for name in names[:-1]}
    form[f"map-{rules[names[-1]].id}"] = ""
    assert post_form(enabled.client, "/setup/taxes", "/setup/taxes", form).status_code == 302
    assert names[-1] in enabled.client.get("/setup/").get_data(as_text=True)
    form[f"map-{rules[names[-1]].id}"] = first_code
    assert post_form(enabled.client, "/setup/taxes", "/setup/taxes", form).status_code == 302
    assert 'data-step="taxes" data-state="done"' in enabled.client.get("/setup/").get_data(as_text=True)
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "taxes.mapped")) is not None


def test_unknown_tax_code_is_refused_next_to_the_rule(enabled, session, qbo, fusebill_staging):
    realm = qbo.create_company(name="Maple Typo Co", country="CA", home_currency="CAD", tax="codes")
    connect(enabled.client, qbo, realm_id=realm)
    post_form(enabled.client, "/setup/taxes", "/setup/taxes/add", {"name": "PST BC", "rate": "7"})
    rule = session.scalar(select(TaxMapping))
    response = post_form(enabled.client, "/setup/taxes", "/setup/taxes", {f"map-{rule.id}": "NOPE"})
    assert response.status_code == 400
    assert f'data-field="map-{rule.id}">That tax code is not active' in response.get_data(as_text=True)


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


def test_us_and_untaxed_companies_have_nothing_to_map(enabled, qbo):
    realm = qbo.create_company(name="Plain US Co", country="US")
    connect(enabled.client, qbo, realm_id=realm)
    assert 'data-test="no-tax-mapping"' in enabled.client.get("/setup/taxes").get_data(as_text=True)
    assert 'data-step="taxes"' not in enabled.client.get("/setup/").get_data(as_text=True)
