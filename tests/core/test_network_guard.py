"""Unit tests cannot reach the network: only loopback connections are allowed."""

from __future__ import annotations

import socket

import pytest
from pytest_socket import SocketConnectBlockedError


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_connecting_outside_loopback_is_blocked() -> None:
    with pytest.raises(SocketConnectBlockedError):
        socket.create_connection(("203.0.113.7", 443), timeout=0.5)


def test_loopback_is_allowed() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    try:
        client = socket.create_connection(server.getsockname(), timeout=2)
        client.close()
    finally:
        server.close()
