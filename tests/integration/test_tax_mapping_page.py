"""The Map taxes page an accountant can trust (issue #12 item 7): each QBO code shown with its rates,
the match suggested by percentage, a rate mismatch flagged next to its row and saved only when
confirmed, hand-added rules removable, rules that will never sync set to ignore, discovery that says
when the Fusebill key is missing, and a step that never blocks for good."""
from __future__ import annotations

import re

from sqlalchemy import select

from portal.models import AuditEvent, Environment, QboConnection, TaxCombination, TaxMapping
from portal.services.taxes import tax_map
from tests.integration.conftest import connect
from tests.portal_fixtures import post_form
from tests.support.helpers import option_for, save_key, selects


def canadian(enabled, qbo, name: str) -> str:  # type: ignore[no-untyped-def]
    realm = qbo.create_company(name=name, country="CA", home_currency="CAD", tax="codes")
    connect(enabled.client, qbo, realm_id=realm)
    return realm


def add_rule(enabled, name: str, rate: str) -> TaxMapping:  # type: ignore[no-untyped-def]
    assert post_form(enabled.client, "/setup/taxes", "/setup/taxes/add", {"name": name, "rate": rate}).status_code == 302
    return enabled.session.scalar(select(TaxMapping).where(TaxMapping.fusebill_tax_name == name))


def step(overview: str, key: str) -> str:
    start = overview.find(f'data-step="{key}"')
    assert start >= 0, f"no {key} step"
    return overview[start:start + 1500]


def test_codes_show_their_rates_the_match_is_suggested_and_a_mismatch_needs_a_confirmation(enabled, session, qbo):
    enabled.session = session
    canadian(enabled, qbo, "Maple Rates Co")
    gst = add_rule(enabled, "GST", "5")
    combo = session.scalar(select(TaxCombination).where(TaxCombination.rule_keys == gst.fusebill_tax_key))
    page = enabled.client.get("/setup/taxes").get_data(as_text=True)

    # Every code with its rates' names and percentages.
    assert 'data-test="qbo-tax-codes"' in page
    gst_qst = page[page.find('data-qbo-code="GST/QST QC"'):][:400]
    assert "GST 5 % + QST 9.975 %" in gst_qst and "14.975 %" in gst_qst
    # The match by percentage: GST 5 % → the GST code and its GST rate, shown with the code's rates.
    fields = selects(page)
    code_field, rate_field = f"code-{combo.id}", f"rate-{gst.id}"
    chosen = dict(fields[code_field]["options"])[fields[code_field]["selected"]]
    assert chosen.startswith("GST (5%)") and chosen.endswith("— suggested"), chosen
    assert f'data-code-rates="{code_field}">GST: GST 5 %' in page
    assert fields[rate_field]["selected"] == option_for(fields[rate_field], "GST (5%)")
    assert f'data-warning="{code_field}"' not in page and 'data-test="confirm-mismatch"' not in page

    # GST 5 % → HST ON 13 %: flagged on the save, nothing saved, the choices kept, the rows marked.
    hst_code = option_for(fields[code_field], "HST ON")
    refused = post_form(enabled.client, "/setup/taxes", "/setup/taxes", {code_field: hst_code, "code-none": fields["code-none"]["selected"]})
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert 'data-test="mismatch-summary"' in text and "do not match GST (5 %)" in text
    assert f'data-mismatch="{code_field}"' in text and f'data-warning="{code_field}"' in text
    assert 'name="confirm_mismatch"' in text
    assert selects(text)[code_field]["selected"] == hst_code
    session.expire_all()
    assert session.get(TaxCombination, combo.id).qbo_tax_code_id is None
    assert session.scalar(select(TaxCombination).where(TaxCombination.rule_keys == "")) is None or \
        session.scalar(select(TaxCombination).where(TaxCombination.rule_keys == "")).qbo_tax_code_id is None  # nothing at all

    # Confirmed: saved, and the confirmed difference is in the audit log; the row still says it differs.
    saved = post_form(enabled.client, "/setup/taxes", "/setup/taxes",
                      {code_field: hst_code, "code-none": fields["code-none"]["selected"], "confirm_mismatch": "y"})
    assert saved.status_code == 302
    session.expire_all()
    assert session.get(TaxCombination, combo.id).qbo_tax_code_id == hst_code
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "taxes.mapped")).all()[-1]
    assert any("do not match GST (5 %)" in message for message in event.details["mismatches_confirmed"])
    fields = selects(page := enabled.client.get("/setup/taxes").get_data(as_text=True))
    assert f'data-warning="{code_field}"' in page

    # The rule's rate: HST ON 13 % for GST 5 % is a second difference, asked for on its own.
    hst_rate = option_for(fields[rate_field], "HST ON")
    again = post_form(enabled.client, "/setup/taxes", "/setup/taxes", {code_field: hst_code, rate_field: hst_rate})
    assert again.status_code == 400
    assert f'data-mismatch="{rate_field}"' in again.get_data(as_text=True) and "GST 5 % → HST ON 13 %" in again.get_data(as_text=True)
    assert f'data-mismatch="{code_field}"' not in again.get_data(as_text=True)  # confirmed before, unchanged now
    assert post_form(enabled.client, "/setup/taxes", "/setup/taxes",
                     {code_field: hst_code, rate_field: hst_rate, "confirm_mismatch": "y"}).status_code == 302
    session.expire_all()
    assert session.get(TaxMapping, gst.id).qbo_tax_rate_name == "HST ON"


def test_a_hand_added_rule_is_deleted_with_its_combination_and_an_audit_event(enabled, session, qbo):
    enabled.session = session
    canadian(enabled, qbo, "Maple Delete Co")
    rule = add_rule(enabled, "PST MB", "7")
    rule_id, key = rule.id, rule.fusebill_tax_key
    page = enabled.client.get("/setup/taxes").get_data(as_text=True)
    assert f'data-test="delete-rule-{rule_id}"' in page
    done = post_form(enabled.client, "/setup/taxes", f"/setup/taxes/rules/{rule_id}/delete")
    assert done.status_code == 302 and done.headers["Location"].endswith("/setup/taxes")
    session.expire_all()
    assert session.get(TaxMapping, rule_id) is None
    assert session.scalar(select(TaxCombination).where(TaxCombination.rule_keys == key)) is None
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "taxes.rule_deleted")).one()
    assert event.details["name"] == "PST MB"
    page = enabled.client.get("/setup/taxes").get_data(as_text=True)
    assert "Tax rule “PST MB” removed." in page and 'data-tax-rule="PST MB"' not in page


def test_ignoring_foreign_rules_makes_the_step_done_and_their_records_fail_with_the_reason(enabled, session, qbo, fusebill_staging):
    from jobs.sync.jobs import mapping_context

    enabled.session = session
    realm = canadian(enabled, qbo, "Maple Ignore Co")
    assert save_key(enabled.client, fusebill_staging.create_account("sandbox")).status_code == 302
    gst = add_rule(enabled, "GST", "5")
    nyc = add_rule(enabled, "NYC sales tax", "8.875")
    vat = add_rule(enabled, "UK VAT", "20")
    gst_id, nyc_id, vat_id, nyc_key = gst.id, nyc.id, vat.id, nyc.fusebill_tax_key
    # Map what this Canadian company charges: the suggestions for GST and the zero-rate code.
    fields = selects(enabled.client.get("/setup/taxes").get_data(as_text=True))
    gst_combo = session.scalar(select(TaxCombination).where(TaxCombination.rule_keys == gst.fusebill_tax_key))
    form = {"code-none": fields["code-none"]["selected"], f"code-{gst_combo.id}": fields[f"code-{gst_combo.id}"]["selected"],
            f"rate-{gst_id}": fields[f"rate-{gst_id}"]["selected"]}
    assert all(form.values()), form
    assert post_form(enabled.client, "/setup/taxes", "/setup/taxes", form).status_code == 302
    taxes_step = step(enabled.client.get("/setup/").get_data(as_text=True), "taxes")
    assert 'data-state="todo"' in taxes_step and "NYC sales tax" in taxes_step and "UK VAT" in taxes_step

    # Set the foreign rules to ignore: the step is done, and nothing else about them is asked.
    for rule_id in (nyc_id, vat_id):
        response = post_form(enabled.client, "/setup/taxes", f"/setup/taxes/rules/{rule_id}/ignore")
        assert response.status_code == 302 and response.headers["Location"].endswith("/setup/taxes")
    taxes_step = step(enabled.client.get("/setup/").get_data(as_text=True), "taxes")
    assert 'data-state="done"' in taxes_step and "Set to ignore (2)" in taxes_step, taxes_step
    page = enabled.client.get("/setup/taxes").get_data(as_text=True)
    assert f'data-ignored="rate-{nyc_id}"' in page and f'name="rate-{nyc_id}"' not in page
    assert f'data-test="unignore-rule-{nyc_id}"' in page
    assert {e.details["name"] for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "taxes.rule_ignored"))} == {"NYC sales tax", "UK VAT"}
    # Saving the page again leaves the ignored rules as they are (their fields are not on it).
    assert post_form(enabled.client, "/setup/taxes", "/setup/taxes", form).status_code == 302

    # What the sync engine reads: a record carrying an ignored rule fails with that reason.
    session.expire_all()
    environment = session.get(Environment, session.get(TaxMapping, nyc_id).environment_id)
    assert tax_map(session, environment.id, realm).unmapped_reason([nyc_key]) == "tax rule NYC sales tax is set to ignore on the Taxes page."
    connection = session.scalar(select(QboConnection).where(QboConnection.realm_id == realm))
    plan = mapping_context(session, environment, connection).taxes
    assert plan.ignored == {nyc_key: "NYC sales tax", session.get(TaxMapping, vat_id).fusebill_tax_key: "UK VAT"}
    assert nyc_key not in plan.rates and session.get(TaxMapping, gst_id).fusebill_tax_key in plan.rates

    # Un-ignored, the rule must be mapped again.
    assert post_form(enabled.client, "/setup/taxes", f"/setup/taxes/rules/{nyc_id}/unignore").status_code == 302
    taxes_step = step(enabled.client.get("/setup/").get_data(as_text=True), "taxes")
    assert 'data-state="todo"' in taxes_step and "NYC sales tax" in taxes_step and "UK VAT" not in taxes_step
    assert f'name="rate-{nyc_id}"' in enabled.client.get("/setup/taxes").get_data(as_text=True)
    assert session.scalars(select(AuditEvent).where(AuditEvent.action == "taxes.rule_unignored")).one().details["name"] == "NYC sales tax"


def test_looking_for_rules_before_the_key_is_saved_says_so_and_links_to_it(enabled, session, qbo):
    canadian(enabled, qbo, "Maple Keyless Co")
    page = enabled.client.get("/setup/taxes").get_data(as_text=True)
    notice = page[page.find('data-test="discover-needs-key"'):][:800]
    assert "needs that account's Fusebill API key" in notice
    link = re.search(r'href="([^"]+)" data-test="enter-key-link"', notice)
    assert link and link.group(1) == "/setup/environment#key-sandbox-api_key"
    assert 'id="key-sandbox-api_key"' in enabled.client.get("/setup/environment").get_data(as_text=True)  # the link lands on the field
    pressed = post_form(enabled.client, "/setup/taxes", "/setup/taxes/discover", follow_redirects=True)
    assert pressed.status_code == 200
    text = pressed.get_data(as_text=True)
    assert "save it on the Environments page first" in text and 'data-test="enter-key-link"' in text
    assert session.scalars(select(AuditEvent).where(AuditEvent.action == "taxes.discovered")).first() is None

    # On the checklist the key's step comes before the tax discovery.
    overview = enabled.client.get("/setup/").get_data(as_text=True)
    assert overview.find('data-step="environment"') < overview.find('data-step="taxes"')


def test_no_tax_rules_found_is_not_a_blocker(enabled, session, qbo, fusebill_staging):
    canadian(enabled, qbo, "Maple Untaxed Co")
    assert save_key(enabled.client, fusebill_staging.create_account("sandbox")).status_code == 302  # no invoices at all
    found = post_form(enabled.client, "/setup/taxes", "/setup/taxes/discover", follow_redirects=True).get_data(as_text=True)
    assert "Found 0 tax rules" in found and 'data-test="no-tax-rules"' in found and "That blocks nothing" in found
    # Only the zero-rate code is asked for; once saved the step is done without a single rule.
    fields = selects(enabled.client.get("/setup/taxes").get_data(as_text=True))
    assert set(fields) == {"code-none"} and fields["code-none"]["selected"]
    assert post_form(enabled.client, "/setup/taxes", "/setup/taxes", {"code-none": fields["code-none"]["selected"]}).status_code == 302
    taxes_step = step(enabled.client.get("/setup/").get_data(as_text=True), "taxes")
    assert 'data-state="done"' in taxes_step and "No Fusebill tax rules found yet, which blocks nothing" in taxes_step
    assert session.scalar(select(TaxMapping)) is None
