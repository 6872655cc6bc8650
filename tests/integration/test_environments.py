"""Two environments per account: Fusebill keys checked and encrypted, the production switch guard, isolation."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select, text

from portal.models import Account, AuditEvent, Environment, SyncLink, SyncRun
from tests.integration.conftest import connect, live
from tests.portal_fixtures import post_form
from tests.support.helpers import save_key


def test_a_fusebill_key_is_checked_against_fusebill_and_stored_encrypted(enabled, session, fusebill_staging):
    bad = save_key(enabled.client, "bm90LWEta2V5")
    assert bad.status_code == 400
    assert 'data-field="key-sandbox-api_key">Fusebill (staging) did not accept this API key' in bad.get_data(as_text=True)
    api_key = fusebill_staging.create_account("sandbox")
    assert save_key(enabled.client, api_key).status_code == 302
    environment = session.scalar(select(Environment).where(Environment.kind == "sandbox"))
    session.refresh(environment)
    assert environment.fusebill_key_verified_at is not None and environment.fusebill_api_key_hint == api_key[-4:]
    raw = session.execute(text("SELECT * FROM environments WHERE id = :id"), {"id": environment.id}).mappings().one()
    assert api_key not in " ".join(str(v) for v in raw.values())
    page = enabled.client.get("/setup/environment").get_data(as_text=True)
    assert api_key not in page and f"•••• {api_key[-4:]}" in page
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "fusebill.key_saved"))
    assert api_key not in event.summary and api_key not in str(event.details)


def test_a_production_key_is_checked_against_fusebill_production(enabled, fusebill_staging, fusebill_production):
    staging_key = fusebill_staging.create_account("sandbox")
    refused = save_key(enabled.client, staging_key, kind="production")  # a staging key is unknown to production
    assert refused.status_code == 400 and "Fusebill (production) did not accept" in refused.get_data(as_text=True)
    assert save_key(enabled.client, fusebill_production.create_account("live"), kind="production").status_code == 302


def test_unreachable_fusebill_is_reported_and_nothing_saved(enabled, session, settings_overrides, app):
    app.extensions["portal.settings"] = app.extensions["portal.settings"].with_overrides(fusebill_staging_url="http://127.0.0.1:9/v1")
    response = save_key(enabled.client, "c29tZS1rZXk=")
    assert response.status_code == 400
    assert "Could not check the key: Could not reach Fusebill" in response.get_data(as_text=True)
    assert session.scalar(select(Environment.fusebill_api_key_ciphertext).where(Environment.kind == "sandbox")) is None


def _switch(client, target, confirm=True, reason=""):
    data = {"target": target, "override_reason": reason}
    if confirm:
        data["confirm"] = "y"
    return post_form(client, "/setup/environment", "/setup/environment/switch", data)


def test_switching_to_production_needs_confirmation_and_a_sandbox_sync_or_a_reason(enabled, session):
    unconfirmed = _switch(enabled.client, "production", confirm=False)
    assert unconfirmed.status_code == 400 and 'data-field="confirm">Tick the box' in unconfirmed.get_data(as_text=True)
    page = enabled.client.get("/setup/environment").get_data(as_text=True)
    assert 'data-test="switch-guard"' in page and "No sandbox sync has succeeded yet" in page
    no_reason = _switch(enabled.client, "production")
    assert no_reason.status_code == 400 and 'data-field="override_reason">' in no_reason.get_data(as_text=True)
    assert session.get(Account, enabled.account.id).active_environment == "sandbox"
    switched = _switch(enabled.client, "production", reason="Go-live approved by the controller")
    assert switched.status_code == 302
    session.expire_all()
    assert session.get(Account, enabled.account.id).active_environment == "production"
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "environment.switched"))
    assert event.details == {"from": "sandbox", "to": "production", "override_reason": "Go-live approved by the controller"}
    overview = enabled.client.get("/setup/").get_data(as_text=True)
    assert 'data-environment="production"' in overview and "env-production" in overview
    assert _switch(enabled.client, "sandbox").status_code == 302  # back: confirmation only


def test_a_successful_sandbox_sync_lifts_the_guard(enabled, session):
    enabled.client.get("/setup/environment")  # creates both environments
    sandbox = session.scalar(select(Environment).where(Environment.account_id == enabled.account.id, Environment.kind == "sandbox"))
    session.add(SyncRun(environment_id=sandbox.id, realm_id="1", status="succeeded"))
    session.commit()
    assert 'data-test="switch-guard"' not in enabled.client.get("/setup/environment").get_data(as_text=True)
    assert _switch(enabled.client, "production").status_code == 302
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "environment.switched")).details["override_reason"] is None


def test_environments_do_not_touch_each_other(enabled, session, qbo):
    sandbox_realm = qbo.create_company(name="Sandbox Books")
    connect(enabled.client, qbo, realm_id=sandbox_realm)
    sandbox_connection = live(session, enabled.account)
    session.add(SyncLink(environment_id=sandbox_connection.environment_id, realm_id=sandbox_realm, entity_type="customer",
                         fusebill_id="100", qbo_type="Customer", qbo_id="58"))
    session.commit()
    _switch(enabled.client, "production", reason="Trying production connect")
    assert 'data-step="connect" data-state="todo"' in enabled.client.get("/setup/").get_data(as_text=True)
    production_realm = qbo.create_company(name="Production Books")
    connect(enabled.client, qbo, realm_id=production_realm)
    assert "Production Books" in enabled.client.get("/setup/connect").get_data(as_text=True)
    post_form(enabled.client, "/setup/disconnect", "/setup/disconnect", {"company_name": "Production Books"})
    _switch(enabled.client, "sandbox")
    session.expire_all()
    still = live(session, enabled.account)
    assert still is not None and still.realm_id == sandbox_realm
    assert session.scalar(select(SyncLink).where(SyncLink.environment_id == sandbox_connection.environment_id)) is not None


def test_sync_settings_are_saved_per_environment_and_audited(enabled, session):
    form = {"display_name_parts": ["company_name", "last_name"], "update_display_names": "no", "new_customers": "dont_create",
            "sync_start_date": "2025-01-01", "schedule": "hourly", "notification_email": "Finance@Example.com"}
    response = post_form(enabled.client, "/setup/settings", "/setup/settings", form)
    assert response.status_code == 302
    environment = session.scalar(select(Environment).where(Environment.account_id == enabled.account.id, Environment.kind == "sandbox"))
    session.refresh(environment)
    assert environment.display_name_parts == ["company_name", "last_name"] and environment.update_display_names is False
    assert (environment.new_customers, environment.schedule, str(environment.sync_start_date)) == ("dont_create", "hourly", "2025-01-01")
    assert environment.notification_email == "Finance@example.com"
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "settings.updated"))
    assert event.details["changed"]["schedule"] == {"from": "off", "to": "hourly"}
    page = enabled.client.get("/setup/settings").get_data(as_text=True)
    assert "Acme Ltd — Doe (FB-100156)" in page
    enabled.client.get("/setup/environment")  # both environments exist from here
    production = session.scalar(select(Environment).where(Environment.account_id == enabled.account.id, Environment.kind == "production"))
    session.refresh(production)
    assert (production.schedule, production.settings_saved_at, production.display_name_parts) == ("off", None, ["company_name"])


def test_bad_settings_are_explained_next_to_each_field(enabled, session):
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    cases = [
        ({"sync_start_date": tomorrow}, "sync_start_date", "cannot be in the future"),
        ({"sync_start_date": "31/12/2024"}, "sync_start_date", "date"),
        ({"display_name_parts": []}, "display_name_parts", "at least one of company name"),
        ({"notification_email": "finance@"}, "notification_email", "valid email"),
        ({"schedule": "weekly"}, "schedule", "Not a valid choice"),
        ({"new_customers": ""}, "new_customers", "Choose one."),
    ]
    for change, field, message in cases:
        form = {"display_name_parts": ["company_name"], "update_display_names": "yes", "new_customers": "create",
                "sync_start_date": "2025-01-01", "schedule": "off", "notification_email": ""}
        form.update(change)
        response = post_form(enabled.client, "/setup/settings", "/setup/settings", form)
        body = response.get_data(as_text=True)
        assert response.status_code == 400, change
        assert f'data-field="{field}">' in body and message.lower() in body.lower(), (change, body[body.find("field-error"):][:300])
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "settings.updated")) is None
