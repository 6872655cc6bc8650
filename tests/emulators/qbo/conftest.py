"""Fixtures for the QBO emulator's own tests: a served emulator, a company, and a thin HTTP client."""
from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from emulators.qbo import QboEmulatorConfig
from emulators.qbo.money import loads
from emulators.qbo.testing import RELAXED_LIMITS, RunningEmulator, running_emulator

# Throttles far above what a test does, so only the throttling tests (which set their own) see 429s.
RELAXED = RELAXED_LIMITS


class Api:
    """Raw HTTP against one realm with one access token; JSON parsed with Decimal numbers."""

    def __init__(self, emulator: RunningEmulator, realm_id: str, token: str):
        self.emulator = emulator
        self.realm_id = realm_id
        self.token = token
        self.base = f"{emulator.url}/v3/company/{realm_id}"

    def _headers(self, extra: dict | None = None) -> dict:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        headers.update(extra or {})
        return headers

    def get(self, path: str, **params) -> requests.Response:
        params.setdefault("minorversion", "75")
        return requests.get(f"{self.base}/{path}", params=params, headers=self._headers(), timeout=30)

    def post(self, path: str, body: object, **params) -> requests.Response:
        params.setdefault("minorversion", "75")
        data = body if isinstance(body, (str, bytes)) else _encode(body)
        return requests.post(f"{self.base}/{path}", data=data, params=params,
                             headers=self._headers({"Content-Type": "application/json"}), timeout=30)

    def create(self, entity: str, body: dict, **params) -> dict:
        response = self.post(entity.lower(), body, **params)
        assert response.status_code == 200, response.text
        return loads(response.text)[entity]

    def read(self, entity: str, entity_id: str) -> dict:
        response = self.get(f"{entity.lower()}/{entity_id}")
        assert response.status_code == 200, response.text
        return loads(response.text)[entity]

    def fault(self, response: requests.Response) -> dict:
        """The first Error of a ValidationFault response (asserting HTTP 400)."""
        assert response.status_code == 400, response.text
        return loads(response.text)["Fault"]["Error"][0]

    def query(self, text: str) -> dict:
        response = requests.post(f"{self.base}/query", data=text, params={"minorversion": "75"},
                                 headers=self._headers({"Content-Type": "application/text"}), timeout=30)
        assert response.status_code == 200, response.text
        return loads(response.text)["QueryResponse"]

    # ---- fixtures of data ---------------------------------------------------------------------

    def customer(self, name: str = "Acme Ltd", **fields) -> dict:
        return self.create("Customer", {"DisplayName": name, **fields})

    def account(self, name: str, account_type: str, subtype: str | None = None, **fields) -> dict:
        body = {"Name": name, "AccountType": account_type, **fields}
        if subtype:
            body["AccountSubType"] = subtype
        return self.create("Account", body)

    def item(self, name: str = "Fusebill Charges", income_account: dict | None = None, **fields) -> dict:
        income = income_account or self.account(f"{name} income", "Other Current Liability", "DeferredRevenue")
        return self.create("Item", {"Name": name, "Type": "Service", "IncomeAccountRef": {"value": income["Id"]}, **fields})

    def invoice(self, customer: dict, item: dict, amount: str | Decimal = "100.00", **fields) -> dict:
        line = {"Amount": Decimal(amount), "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}}}
        return self.create("Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [line], **fields})

    def credit_memo(self, customer: dict, item: dict, amount: str | Decimal, **fields) -> dict:
        line = {"Amount": Decimal(amount), "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}}}
        return self.create("CreditMemo", {"CustomerRef": {"value": customer["Id"]}, "Line": [line], **fields})

    def payment(self, customer: dict, total: str | Decimal | None, links: list[tuple[str, str, str | Decimal]] = (), **fields) -> requests.Response:
        body = {"CustomerRef": {"value": customer["Id"]},
                "Line": [{"Amount": Decimal(amount), "LinkedTxn": [{"TxnId": txn_id, "TxnType": txn_type}]}
                         for txn_type, txn_id, amount in links], **fields}
        if total is not None:
            body["TotalAmt"] = Decimal(total)
        return self.post("payment", body)

    def balance(self, customer: dict) -> Decimal:
        return Decimal(self.read("Customer", customer["Id"])["Balance"])

    def account_named(self, name: str) -> dict:
        rows = self.query(f"select * from Account where Name = '{name}'")
        return rows["Account"][0]


def _encode(body: object) -> str:
    from emulators.qbo.money import dumps

    return dumps(body)


@pytest.fixture(scope="session")
def shared_emulator():
    """One server for the whole session (stopping a server costs half a second); every test works in
    companies of its own."""
    with running_emulator(QboEmulatorConfig(**RELAXED)) as served:
        yield served


@pytest.fixture
def emulator(shared_emulator):
    """The shared emulator; fault settings a test changed are cleared afterwards."""
    yield shared_emulator
    if shared_emulator.state.faults.active():
        shared_emulator.set_faults()


@pytest.fixture
def fresh_emulator():
    """A private emulator, for tests that depend on global state (company list, counters, clock)."""
    with running_emulator(QboEmulatorConfig(**RELAXED)) as served:
        yield served


def make_api(emulator: RunningEmulator, **company) -> Api:
    realm_id = emulator.create_company(company.pop("name", "Emulator Test Co"), **company)
    token = emulator.tokens(realm_id)["access_token"]
    return Api(emulator, realm_id, token)


@pytest.fixture
def api(emulator) -> Api:
    """A US company without sales tax and a valid access token."""
    return make_api(emulator)
