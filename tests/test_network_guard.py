import socket

import pytest

from tests.conftest import NetworkAccessInTest


def test_connecting_outside_loopback_fails_the_test():
    with pytest.raises(NetworkAccessInTest):
        socket.create_connection(("192.0.2.1", 443), timeout=0.1)


def test_resolving_a_public_name_fails_the_test():
    with pytest.raises(NetworkAccessInTest):
        socket.getaddrinfo("quickbooks.api.intuit.com", 443)


def test_loopback_is_allowed():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname(), timeout=1)
    client.close()
    server.close()
