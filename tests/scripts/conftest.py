"""Fixtures for the command-line tools: a spawned server, and a raw line connection.

The tools live in `scripts/` (not a package); `script(name)` imports one by path. The
server is `python -m exchange serve --port 0`, ready once it printed `listening on`.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"


def script(name: str) -> ModuleType:
    """Import `scripts/<name>.py` as a module (once)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def server() -> Iterator[Any]:
    """A fresh demo-market server; must exit 0 on SIGTERM."""
    srv = script("_common").SpawnedServer().start()
    try:
        yield srv
    finally:
        assert srv.stop() == 0, srv.log()


class Lines:
    """A blocking line connection: send a text command, get its JSON reply."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        self.file = self.sock.makefile("rwb")

    def ask(self, line: str) -> dict[str, Any]:
        self.file.write(line.encode() + b"\n")
        self.file.flush()
        reply: dict[str, Any] = json.loads(self.file.readline())
        return reply

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture
def lines(server: Any) -> Iterator[Any]:
    def connect() -> Lines:
        conn = Lines(server.host, server.port)
        opened.append(conn)
        return conn

    opened: list[Lines] = []
    yield connect
    for conn in opened:
        conn.close()
