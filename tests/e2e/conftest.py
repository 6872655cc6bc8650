"""Browser tests: the portal served on a loopback port, driven by Playwright in the system Chromium.

No browser is downloaded: Playwright launches the Debian Chromium (`CHROMIUM_PATH`, default
/usr/bin/chromium), which `make test` installs when it is missing. A missing browser fails the test
with a clear message rather than skipping it.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterator

import pytest

from emulators.common.server import BackgroundServer
from portal import create_app
from tests.portal_fixtures import fresh_database, make_settings
from tests.support.services import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not os.access(path, os.X_OK):
        pytest.fail(f"Chromium not found at {path}: run `make test` (it installs the system package) or set CHROMIUM_PATH")
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def serve_portal(tmp_path, redis_url, **overrides) -> Iterator[tuple[str, object, object]]:
    """The portal on a free port over a fresh SQLite file (real commits; threads need a real DB)."""
    with fresh_database("sqlite", tmp_path) as fresh:
        port = free_port()
        # The OAuth redirect URI is built from the base URL, so it must name the real port.
        settings = make_settings(fresh.url, redis_url, tmp_path / "instance", base_url=f"http://127.0.0.1:{port}", **overrides)
        app = create_app(settings, database=fresh.database)
        with BackgroundServer(app, port=port) as server:
            yield server.url, fresh.database, app


@pytest.fixture
def live_portal(tmp_path, redis_url) -> Iterator[tuple[str, object, object]]:
    yield from serve_portal(tmp_path, redis_url)


class Screenshots:
    """Saves numbered full-page screenshots under test-artifacts/screenshots/<test name>/."""

    def __init__(self, name: str) -> None:
        self.folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", name)
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()
        self.count = 0
        self.saved: list[Path] = []

    def __call__(self, page, label: str) -> Path:  # type: ignore[no-untyped-def]
        self.count += 1
        path = self.folder / f"{self.count:02d}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        self.saved.append(path)
        return path


@pytest.fixture
def screenshots(request) -> Screenshots:  # type: ignore[no-untyped-def]
    return Screenshots(request.node.name)
