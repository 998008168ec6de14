"""Every env test runs with the network cut: a game that tries to download (nltk) fails its test."""

from __future__ import annotations

import socket

import pytest


class NetworkUsed(RuntimeError):
    """Raised instead of opening a connection."""


def _refuse(*args: object, **kwargs: object) -> None:
    raise NetworkUsed(f"network access attempted: {args!r}")


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse)
    monkeypatch.setattr(socket, "create_connection", _refuse)
    monkeypatch.setattr(socket, "getaddrinfo", _refuse)
