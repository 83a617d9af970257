"""End-to-end fixtures for FIX: the real server in a subprocess with ``--fix-port 0``.

Readiness is what the server prints: ``fix listening on HOST:PORT``, then the JSON-lines
``listening on HOST:PORT`` last, once every listener is ready.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.server.conftest import BASE_CONFIG, Server, _start


@dataclass
class FixServer(Server):
    fix: tuple[str, int] = ("", 0)


def start_fix_server(workdir: Path, name: str = "server", extra_toml: str = "",
                     args: tuple[str, ...] = ()) -> FixServer:
    """A server with a FIX listener: it prints ``fix listening on`` before the JSON-lines
    line (a restart under the same name appends to the same log)."""
    server = _start(extra_toml + "\n" + BASE_CONFIG, workdir, name, args, append_log=True)
    assert list(server.others) == ["fix"], server.others
    return FixServer(server.proc, server.addr, server.log, server.others,
                     fix=server.others["fix"])


@pytest.fixture
def fix_servers(tmp_path: Path) -> Iterator[list[FixServer]]:
    """Servers a test starts with :func:`start_fix_server`; each must exit 0 at the end."""
    servers: list[FixServer] = []
    yield servers
    for server in servers:
        code = server.stop()
        assert code == 0, f"server exited with {code}: {server.log_text()[-3000:]}"


@pytest.fixture
def fix_server(tmp_path: Path, fix_servers: list[FixServer]) -> FixServer:
    server = start_fix_server(tmp_path, "server", args=("--fix-port", "0"))
    fix_servers.append(server)
    return server
