"""The navigation lists every set-up step and marks the page you are on; every page has a favicon."""
from __future__ import annotations

import re
from typing import Iterator

import pytest

from emulators.qbo.testing import RunningEmulator, running_emulator
from tests.integration.conftest import connect
from tests.portal_fixtures import sign_in

# Every set-up step's page, in the checklist's order (other features may add links of their own).
STEPS = ["setup.overview", "setup.connect", "setup.ledgers", "setup.environment", "setup.sync_settings", "setup.taxes",
         "sync.index", "setup.disconnect_page"]
LABELS = {"setup.taxes": "Taxes", "setup.disconnect_page": "Disconnect"}

# page → the nav entry marked current on it
PAGES = [
    ("/setup/", "setup.overview"),
    ("/setup/connect", "setup.connect"),
    ("/setup/ledgers", "setup.ledgers"),
    ("/setup/environment", "setup.environment"),
    ("/setup/settings", "setup.sync_settings"),
    ("/setup/taxes", "setup.taxes"),
    ("/sync/", "sync.index"),
    ("/sync/records", "sync.index"),  # a page under Sync keeps Sync marked
    ("/setup/disconnect", "setup.disconnect_page"),
]


@pytest.fixture(scope="module")
def qbo() -> Iterator[RunningEmulator]:
    with running_emulator() as emulator:
        yield emulator


@pytest.fixture
def settings_overrides(qbo) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {"qbo_emulator_url": qbo.url}


@pytest.fixture
def connected(client, make_account, admin_of, qbo):  # type: ignore[no-untyped-def]
    """An admin of an enabled account connected to a Canadian company (so Taxes has something to map)."""
    sign_in(client, admin_of(make_account(enabled=True)))
    connect(client, qbo, realm_id=qbo.create_company(name="Nav Co", country="CA", home_currency="CAD", tax="codes"))
    return client


def nav_links(page: str) -> list[dict[str, str]]:
    nav = re.search(r'<nav class="topnav"[^>]*>(.*?)</nav>', page, re.S)
    assert nav, "no main navigation"
    links = []
    for tag, label in re.findall(r"(<a\b[^>]*>)(.*?)</a>", nav.group(1), re.S):
        attributes = dict(re.findall(r'([\w-]+)="([^"]*)"', tag))
        attributes["label"] = label.strip()
        links.append(attributes)
    return links


@pytest.mark.parametrize("path, current", PAGES)
def test_every_step_is_listed_and_the_current_page_is_marked(connected, path, current):
    response = connected.get(path)
    assert response.status_code == 200, (path, response.status_code)
    links = nav_links(response.get_data(as_text=True))
    endpoints = [link.get("data-nav") for link in links]
    assert [endpoint for endpoint in endpoints if endpoint in STEPS] == STEPS
    for endpoint, label in LABELS.items():
        assert next(link for link in links if link.get("data-nav") == endpoint)["label"] == label
    marked = [link for link in links if link.get("aria-current") == "page"]
    assert [link["data-nav"] for link in marked] == [current], (path, marked)
    assert "is-current" in marked[0].get("class", "").split()
    assert all("is-current" not in link.get("class", "") for link in links if link not in marked)


def test_pages_have_a_favicon(client, make_account, admin_of):
    signed_out = client.get("/sign-in").get_data(as_text=True)
    icon = re.search(r'<link rel="icon" type="image/svg\+xml" href="([^"]+)">', signed_out)
    assert icon and icon.group(1).endswith("/favicon.svg")
    with client.get(icon.group(1)) as served:
        assert served.status_code == 200 and served.mimetype == "image/svg+xml" and b"<svg" in served.data
    sign_in(client, admin_of(make_account(enabled=True)))
    assert icon.group(0) in client.get("/setup/").get_data(as_text=True)
