"""Benchmark: the product's biggest demo data set, 10,000 customers with ~10 documents each.

Run with `pytest -m bench tests/emulators/qbo/test_bench.py -s`. It drives the app in-process (no
sockets) so it measures the emulator, not the HTTP stack, and checks that the cost of a write and of a
customer-balance read does not grow with the number of stored records (indexes, not scans).
"""
import time
from decimal import Decimal

import pytest

from emulators.qbo import QboEmulatorConfig, create_app
from emulators.qbo.money import dumps, loads
from emulators.qbo.testing import RELAXED_LIMITS

CUSTOMERS = 10_000


@pytest.mark.bench
def test_ten_thousand_customers_with_ten_documents_each():
    app = create_app(QboEmulatorConfig(**RELAXED_LIMITS))
    client = app.test_client()
    realm = client.post("/_emulator/companies", json={"name": "Bench Co"}).get_json()["realmId"]
    token = client.post("/_emulator/tokens", json={"realmId": realm, "client_id": "bench"}).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    base = f"/v3/company/{realm}"

    def post(path: str, body: dict, request_id: str) -> dict:
        response = client.post(f"{base}/{path}?minorversion=75&requestid={request_id}", data=dumps(body), headers=headers)
        assert response.status_code == 200, response.data
        return loads(response.data)

    account = post("account", {"Name": "Deferred Revenue", "AccountType": "Other Current Liability"}, "a")["Account"]
    item = post("item", {"Name": "Fusebill Charges", "Type": "Service", "IncomeAccountRef": {"value": account["Id"]}}, "i")["Item"]
    slices = []
    started = time.perf_counter()
    for number in range(CUSTOMERS):
        slice_started = time.perf_counter()
        customer = post("customer", {"DisplayName": f"Customer {number} (FB-{number})"}, f"c{number}")["Customer"]
        invoices = [post("invoice", {"CustomerRef": {"value": customer["Id"]}, "DocNumber": f"{number}-{n}", "Line": [
            {"Amount": 100, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}}}]},
            f"i{number}-{n}")["Invoice"] for n in range(5)]
        for n in range(4):
            post("payment", {"CustomerRef": {"value": customer["Id"]}, "TotalAmt": 100,
                             "Line": [{"Amount": 100, "LinkedTxn": [{"TxnId": invoices[n]["Id"], "TxnType": "Invoice"}]}]},
                 f"p{number}-{n}")
        balance = loads(client.get(f"{base}/customer/{customer['Id']}", headers=headers).data)["Customer"]["Balance"]
        assert balance == Decimal("100.00")
        slices.append(time.perf_counter() - slice_started)
    elapsed = time.perf_counter() - started
    first, last = sum(slices[:500]) / 500, sum(slices[-500:]) / 500
    print(f"\n{CUSTOMERS} customers, {CUSTOMERS * 11} requests in {elapsed:.1f} s "
          f"({CUSTOMERS * 11 / elapsed:.0f} requests/s); per customer: first 500 {first * 1000:.2f} ms, last 500 {last * 1000:.2f} ms")
    assert last < first * 2.5, "per-customer cost grows with the data set: something scans instead of using an index"
