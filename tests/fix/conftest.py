"""End-to-end fixtures for FIX: the real server in a subprocess with ``--fix-port 0``.

Readiness is what the server prints: ``fix listening on HOST:PORT``, then the JSON-lines
``listening on HOST:PORT`` last, once every listener is ready.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.server.conftest import BASE_CONFIG, START_TIMEOUT, Server


@dataclass
class FixServer(Server):
    fix: tuple[str, int] = ("", 0)


def start_fix_server(workdir: Path, name: str = "server", extra_toml: str = "",
                     args: tuple[str, ...] = ()) -> FixServer:
    path = workdir / f"{name}.toml"
    path.write_text(extra_toml + "\n" + BASE_CONFIG)
    log = workdir / f"{name}.log"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log, "ab") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "exchange", "serve", "--host", "127.0.0.1", "--port", "0",
             "--config", str(path), *args],
            stdout=subprocess.PIPE, stderr=err, cwd=root, env=env)
    assert proc.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf = b""
    try:
        while not any(line.startswith(b"listening on ") for line in buf.split(b"\n")[:-1]):
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                proc.kill()
                raise AssertionError(f"server not listening: {log.read_text()}")
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                proc.wait()
                raise AssertionError(f"server exited with {proc.returncode}: {log.read_text()}")
            buf += chunk
    finally:
        sel.close()
    lines = buf.decode().splitlines()
    assert lines[0].startswith("fix listening on "), lines
    assert lines[1].startswith("listening on "), lines
    fix_host, _, fix_port = lines[0].removeprefix("fix listening on ").rpartition(":")
    host, _, port = lines[1].removeprefix("listening on ").rpartition(":")
    return FixServer(proc, (host, int(port)), log, {"fix": (fix_host, int(fix_port))},
                     fix=(fix_host, int(fix_port)))


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
