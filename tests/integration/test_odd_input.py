"""Odd input is answered next to the field it came from, never with a 500: tax rates that are not
numbers (NaN, Infinity), form keys the page never sent, a Fusebill API key that is not ASCII."""
from __future__ import annotations

from tests.integration.conftest import connect
from tests.portal_fixtures import post_form
from tests.support.helpers import save_key


def test_odd_tax_input_is_answered_next_to_the_field(enabled, session, qbo):
    connect(enabled.client, qbo, realm_id=qbo.create_company(name="Odd Input Co", country="CA", home_currency="CAD", tax="codes"))
    for rate in ("NaN", "Infinity", "-inf"):
        response = post_form(enabled.client, "/setup/taxes", "/setup/taxes/add", {"name": "GST", "rate": rate})
        assert response.status_code == 400 and 'data-field="rate">' in response.get_data(as_text=True), rate
    post_form(enabled.client, "/setup/taxes", "/setup/taxes/add", {"name": "GST", "rate": "5"})
    response = post_form(enabled.client, "/setup/taxes", "/setup/taxes", {"code-²": "x", "rate-99999999999999999999": "y", "map-1": "z"})
    assert response.status_code == 302  # ignored keys, not a crash


def test_a_non_ascii_fusebill_key_is_refused_next_to_the_field(enabled):
    response = save_key(enabled.client, "ключ-не-тот")
    assert response.status_code == 400
    assert 'data-field="key-sandbox-api_key">That does not look like a Fusebill API key' in response.get_data(as_text=True)
