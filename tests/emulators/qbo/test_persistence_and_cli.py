"""A state file survives a restart; `python -m emulators.qbo` serves and prints its URL."""
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import requests

from emulators.qbo import QboEmulatorConfig
from emulators.qbo.money import loads
from emulators.qbo.testing import running_emulator
from tests.emulators.qbo.conftest import RELAXED, Api


def test_state_file_survives_a_restart(tmp_path):
    state_file = str(tmp_path / "qbo.sqlite")
    config = QboEmulatorConfig(state_path=state_file, **RELAXED)
    with running_emulator(config) as first:
        realm_id = first.create_company("Persistent Co", multicurrency=True)
        tokens = first.tokens(realm_id)
        api = Api(first, realm_id, tokens["access_token"])
        customer, item = api.customer("Kept Customer"), api.item("Kept item")
        usd = {"value": "USD"}  # a multicurrency company's documents carry CurrencyRef
        invoice = api.invoice(customer, item, "75.00", CurrencyRef=usd)
        payment = api.payment(customer, "25.00", [("Invoice", invoice["Id"], "25.00")], CurrencyRef=usd)
        assert payment.status_code == 200
        created = api.post("customer", {"DisplayName": "Replayed"}, requestid="persist-1")
        first.advance_clock(600)
        first.mark_deposited(realm_id, [loads(payment.text)["Payment"]["Id"]])

    with running_emulator(config) as second:
        api = Api(second, realm_id, tokens["access_token"])
        assert api.balance(customer) == Decimal("50.00")
        assert api.read("Invoice", invoice["Id"])["Balance"] == Decimal("50.00")
        assert Decimal(api.account_named("Accounts Receivable (A/R)")["CurrentBalance"]) == Decimal("50.00")
        assert api.post("customer", {"DisplayName": "Replayed"}, requestid="persist-1").content == created.content
        assert second.state.clock.offset_seconds == 600
        assert api.fault(api.post("payment", {"Id": loads(payment.text)["Payment"]["Id"], "SyncToken": "0"}, operation="delete"))["code"] == "6540"
        # New ids continue the sequences; the refresh token still works.
        assert int(api.customer("After Restart")["Id"]) > int(customer["Id"])
        refreshed = requests.post(second.url + "/oauth2/v1/tokens/bearer", auth=("emulator-test-client", "emulator-test-secret"),
                                  data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, timeout=10)
        assert refreshed.status_code == 200
        prefs = loads(api.get("preferences").text)["Preferences"]
        assert prefs["CurrencyPrefs"]["MultiCurrencyEnabled"] is True


def test_command_line_prints_its_url_and_serves(tmp_path):
    repo = Path(__file__).resolve().parents[3]
    process = subprocess.Popen(
        [sys.executable, "-m", "emulators.qbo", "--port", "0", "--state-file", str(tmp_path / "cli.sqlite"), "--time-scale", "60"],
        cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        banner = process.stdout.readline().strip()
        assert banner.startswith("QBO emulator: http://127.0.0.1:")
        url = banner.split(": ", 1)[1]
        document = requests.get(url + "/.well-known/openid_configuration", timeout=10).json()
        assert document["token_endpoint"] == url + "/oauth2/v1/tokens/bearer"
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()
