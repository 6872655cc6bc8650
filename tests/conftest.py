"""Fixtures every test package shares: the network guard and a private Redis.

Tests never reach the network: a test that tries to connect anywhere but the loopback interface
fails (tests marked `real_qbo`, which talk to a real QuickBooks sandbox on purpose, are exempt).
"""
from __future__ import annotations

import ipaddress
import socket

import pytest

from tests.support.services import start_redis

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _is_local_host(host: object) -> bool:
    if not isinstance(host, str):
        return False
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class NetworkAccessInTest(RuntimeError):
    pass


def _check(sock: socket.socket, address: object) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0] if isinstance(address, tuple) else address
        if not _is_local_host(host):
            raise NetworkAccessInTest(f"test tried to reach the network: {address!r}")


def _guarded_connect(self: socket.socket, address: object) -> None:
    _check(self, address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    _check(self, address)
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
    if host is not None and not _is_local_host(host if isinstance(host, str) else host.decode()):
        raise NetworkAccessInTest(f"test tried to resolve a network name: {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True)
def _no_network(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("real_qbo"):
        return
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", _guarded_getaddrinfo)


@pytest.fixture(scope="session")
def redis_url() -> str:
    server = start_redis()
    yield server.url
    server.stop()


# Portal fixtures (settings → database → app → client, factories), shared by every portal test package.
from tests.portal_fixtures import (  # noqa: E402,F401
    admin_of,
    app,
    client,
    db_connection,
    make_account,
    make_user,
    migrated_database,
    session,
    settings,
    settings_overrides,
    support_user,
)
