"""Fault injection fixtures: private servers that tests may kill, and a Redis that never answers.

Fault tests never touch the session's shared Chroma/Redis (other tests rely on them staying up):
each gets its own server process, killed and restarted on the same port and data directory.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.utils.servers import ServerProcess, start_chroma, start_redis


class ConnectAttempts:
    """Counts TCP connection attempts per destination port, made by any client in this process.

    It wraps ``socket.socket.connect`` and calls the real one, so every connection still happens:
    tests use it to prove "no retries" by counting, not by timing (a count does not flake on a
    busy machine, an elapsed-time bound does).
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ports: list[int] = []
        real_connect = socket.socket.connect
        attempts = self

        def connect(sock: socket.socket, address: Any) -> None:
            if isinstance(address, tuple) and len(address) >= 2:
                attempts.ports.append(int(address[1]))
            return real_connect(sock, address)

        monkeypatch.setattr(socket.socket, "connect", connect)

    def to(self, port: int) -> int:
        return self.ports.count(port)


@pytest.fixture
def connect_attempts(monkeypatch: pytest.MonkeyPatch) -> ConnectAttempts:
    return ConnectAttempts(monkeypatch)


@pytest.fixture
def own_redis() -> Iterator[ServerProcess]:
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def own_chroma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A Chroma server for this module only; tests kill and restart it (same port, same data)."""
    server = start_chroma(tmp_path_factory.mktemp("faulty-chroma"))
    yield server
    server.stop()


@pytest.fixture
def chroma_up(own_chroma: ServerProcess) -> ServerProcess:
    """``own_chroma``, restarted first if a previous test left it dead."""
    if own_chroma.process.poll() is not None:
        own_chroma.restart()
    return own_chroma


class Blackhole:
    """A TCP server that accepts connections and never sends a byte: a hung Redis.

    The kernel completes the handshake, so clients connect fine and then wait for a reply that
    never comes; only their read timeout gets them out.
    """

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = int(self._sock.getsockname()[1])
        self.connections: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self._sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.connections.append(conn)  # held open, never read, never answered

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for conn in self.connections:
            conn.close()
        self._sock.close()


@pytest.fixture
def blackhole() -> Iterator[Blackhole]:
    hole = Blackhole()
    yield hole
    hole.close()


@pytest.fixture
def chroma_services(make_services: Any, chroma_up: ServerProcess, tmp_path: Path) -> Any:
    """make_services bound to the module's private Chroma server."""

    def factory(**overrides: Any) -> Any:
        return make_services(chroma_port=chroma_up.port, **overrides)

    return factory
