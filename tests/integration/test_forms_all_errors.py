"""The set-up pages say everything at once, and say it once: every form error in one round, a
disconnect confirmation whose words are its rule, one "Automatically apply credits" warning with the
Connect step marked as needing attention, environment fields a screen reader can tell apart, and a
"Choose environment" step that names and links what is missing."""
from __future__ import annotations

import html
import re
from datetime import date, timedelta

from sqlalchemy import select

from portal.models import Account, AuditEvent, LedgerChoice
from tests.integration.conftest import connect, live
from tests.portal_fixtures import post_form

SETTINGS = {"display_name_parts": ["company_name"], "update_display_names": "yes", "new_customers": "create",
            "sync_start_date": "2025-01-01", "schedule": "off", "notification_email": ""}


def _errors(body: str) -> dict[str, str]:
    return {name: html.unescape(message) for name, message in re.findall(r'data-field="([\w-]+)">([^<]*)<', body)}


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def test_settings_show_every_error_in_one_round(enabled, session):
    # The case: a bad date and no name part used to come back one after the other.
    form = {**SETTINGS, "display_name_parts": [], "sync_start_date": "31/12/2024", "notification_email": "finance@",
            "update_display_names": ""}
    response = post_form(enabled.client, "/setup/settings", "/setup/settings", form)
    assert response.status_code == 400
    errors = _errors(response.get_data(as_text=True))
    assert set(errors) == {"display_name_parts", "sync_start_date", "notification_email", "update_display_names"}, errors
    assert "at least one of company name" in errors["display_name_parts"]
    assert "valid email" in errors["notification_email"].lower()
    # a date the form can read but the rules refuse, with the other rules' errors
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    response = post_form(enabled.client, "/setup/settings", "/setup/settings", {**form, "sync_start_date": tomorrow, "update_display_names": "yes"})
    errors = _errors(response.get_data(as_text=True))
    assert set(errors) == {"display_name_parts", "sync_start_date", "notification_email"}, errors
    assert "cannot be in the future" in errors["sync_start_date"]
    assert len(re.findall(r'data-field="sync_start_date"', response.get_data(as_text=True))) == 1  # each said once
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "settings.updated")) is None
    assert post_form(enabled.client, "/setup/settings", "/setup/settings", SETTINGS).status_code == 302


def test_switching_shows_the_confirmation_and_the_reason_errors_together(enabled, session):
    response = post_form(enabled.client, "/setup/environment", "/setup/environment/switch", {"target": "production", "override_reason": ""})
    assert response.status_code == 400
    errors = _errors(response.get_data(as_text=True))
    assert errors.keys() >= {"confirm", "override_reason"}, errors
    assert errors["confirm"] == "Tick the box to confirm the switch." and "write why" in errors["override_reason"]
    too_long = post_form(enabled.client, "/setup/environment", "/setup/environment/switch", {"target": "production", "override_reason": "x" * 501})
    assert _errors(too_long.get_data(as_text=True)).keys() >= {"confirm", "override_reason"}
    assert session.get(Account, enabled.account.id).active_environment == "sandbox"


def test_the_disconnect_words_are_its_rule_and_say_what_happens_to_the_choices(enabled, session, qbo):
    realm = qbo.create_company(name="Careful Books")
    connect(enabled.client, qbo, realm_id=realm)
    assert post_form(enabled.client, "/setup/ledgers", "/setup/ledgers/create", {"ledger": "deferred_revenue"}).status_code == 302
    page = _text(enabled.client.get("/setup/disconnect").get_data(as_text=True))
    assert "Type “Careful Books” to confirm. Letter case doesn't matter." in page
    assert "exactly as shown" not in page
    assert "reconnect the sandbox environment to this same company and they apply again" in page
    assert "Connect it to a different company and that company starts with none" in page
    wrong = post_form(enabled.client, "/setup/disconnect", "/setup/disconnect", {"company_name": "Careful Book"})
    assert wrong.status_code == 400
    assert _errors(wrong.get_data(as_text=True))["company_name"] == "That is not the company name. Type “Careful Books” (letter case doesn't matter)."
    # the rule as stated: letter case doesn't matter
    assert post_form(enabled.client, "/setup/disconnect", "/setup/disconnect", {"company_name": "careful BOOKS"}).status_code == 302
    assert live(session, enabled.account) is None

    # What the page promised: the same company gets its ledger choice back ...
    connect(enabled.client, qbo, realm_id=realm)
    ledgers = enabled.client.get("/setup/ledgers").get_data(as_text=True)
    chosen = session.scalar(select(LedgerChoice).where(LedgerChoice.realm_id == realm, LedgerChoice.ledger == "deferred_revenue"))
    assert re.search(rf'name="ledger-deferred_revenue".*?<option value="{chosen.qbo_account_id}" selected', ledgers, re.DOTALL)
    assert 'data-step="ledgers" data-state="todo"' in enabled.client.get("/setup/").get_data(as_text=True)
    # ... and another company starts with none.
    post_form(enabled.client, "/setup/disconnect", "/setup/disconnect", {"company_name": "Careful Books"})
    other = qbo.create_company(name="Other Books")
    connect(enabled.client, qbo, realm_id=other)
    assert " selected" not in enabled.client.get("/setup/ledgers").get_data(as_text=True).split('name="ledger-deferred_revenue"', 1)[1].split("</select>", 1)[0]
    overview = _text(enabled.client.get("/setup/").get_data(as_text=True))
    assert "0 of 6 required ledgers chosen" in overview


def test_automatically_apply_credits_is_said_once_and_the_connect_step_needs_attention(enabled, session, qbo):
    realm = qbo.create_company(name="Auto Credits Books", auto_apply_credits=True)
    connect(enabled.client, qbo, realm_id=realm)
    connect_page = enabled.client.get("/setup/connect").get_data(as_text=True)  # where the callback lands, flashes included
    flashes = " ".join(re.findall(r'<div class="flash flash-\w+"[^>]*>(.*?)</div>', connect_page, re.DOTALL))
    assert "Connected to Auto Credits Books." in flashes and "Automatically apply credits" not in flashes  # no yellow message ...
    assert connect_page.count('data-test="auto-apply-warning"') == 1  # ... only the one warning box
    assert connect_page.count("With it on, QuickBooks applies open credits") == 1
    overview = enabled.client.get("/setup/").get_data(as_text=True)
    assert 'data-step="connect" data-state="attention"' in overview
    step = _text(overview[overview.find('data-step="connect"'):overview.find('data-step="ledgers"')])
    assert "Needs attention" in step and "Done" not in step
    qbo.set_preferences(realm, auto_apply_credits=False)
    connection = live(session, enabled.account)
    connection.company_checked_at -= timedelta(minutes=30)
    session.commit()
    assert 'data-step="connect" data-state="done"' in enabled.client.get("/setup/").get_data(as_text=True)


def test_environment_fields_are_grouped_and_labelled_by_environment(enabled):
    page = enabled.client.get("/setup/environment").get_data(as_text=True)
    labels = [html.unescape(re.sub(r"<[^>]+>", "", text)).strip() for text in re.findall(r"<label[^>]*>(.*?)</label>", page, re.DOTALL)]
    assert len(labels) == len(set(labels)), labels
    assert {"Sandbox Fusebill API key", "Production Fusebill API key"} <= set(labels)
    legends = [html.unescape(text).strip() for text in re.findall(r"<legend[^>]*>(.*?)</legend>", page, re.DOTALL)]
    assert "Sandbox: Fusebill staging API key" in legends and "Production: Fusebill production API key" in legends
    for kind in ("sandbox", "production"):  # each key field sits in its environment's group
        group = page.split(f'data-test="key-fieldset-{kind}"', 1)[1].split("</fieldset>", 1)[0]
        assert f'name="key-{kind}-api_key"' in group and f'data-test="save-key-{kind}"' in group
    buttons = [re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", text))).strip() for text in re.findall(r"<button[^>]*>(.*?)</button>", page, re.DOTALL)]
    assert len(buttons) == len(set(buttons)), buttons
    names = re.findall(r'<button[^>]*\bname="([^"]+)"', page)
    assert len(names) == len(set(names)) and {"save-key-sandbox", "save-key-production"} <= set(names)
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_the_environment_step_names_and_links_what_is_missing(enabled, fusebill_staging):
    overview = enabled.client.get("/setup/").get_data(as_text=True)
    step = overview[overview.find('data-step="environment"'):overview.find('data-step="sync"')]
    assert "Sandbox (Fusebill staging ↔ QuickBooks sandbox): still needed: the Fusebill API key (on the Environments page) and the sync settings, saved once (on the Settings page)." in _text(step)
    assert '<a href="/setup/environment">Enter the sandbox Fusebill API key</a>' in step
    assert '<a href="/setup/settings">Save the sandbox sync settings</a>' in step
    environment_page = _text(enabled.client.get("/setup/environment").get_data(as_text=True))
    assert "saved on the Settings page" in environment_page and "Not saved yet" in environment_page

    api_key = fusebill_staging.create_account("sandbox")
    saved = post_form(enabled.client, "/setup/environment", "/setup/environment/fusebill-key/sandbox",
                      {"key-sandbox-environment": "sandbox", "key-sandbox-api_key": api_key})
    assert saved.status_code == 302
    overview = enabled.client.get("/setup/").get_data(as_text=True)
    step = overview[overview.find('data-step="environment"'):overview.find('data-step="sync"')]
    assert "Fusebill API key" not in _text(step).split("still needed:", 1)[1]
    assert '<a href="/setup/settings">Choose environment</a>' in step  # the step itself leads to what is left
    assert '<a href="/setup/settings">Save the sandbox sync settings</a>' in step
    post_form(enabled.client, "/setup/settings", "/setup/settings", SETTINGS)
    overview = enabled.client.get("/setup/").get_data(as_text=True)
    assert 'data-step="environment" data-state="done"' in overview
