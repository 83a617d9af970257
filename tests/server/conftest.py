"""End-to-end fixtures: the real server in a subprocess on 127.0.0.1, port 0.

Each test gets a fresh server started from a TOML config written to ``tmp_path``;
readiness is the ``listening on HOST:PORT`` line the server prints, never a sleep.
When the test is done the server gets SIGTERM and must exit with status 0.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from tests.server.wire import Conn, connect

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0

USERS = ("alice", "bob", "carol", "dave")

BASE_CONFIG = """\
[[symbols]]
symbol = "AAPL"
tick_size = "0.01"
lot_size = "1"
reference_price = "150.00"
price_band = "0.10"

[[symbols]]
symbol = "MSFT"
tick_size = "0.01"
lot_size = "1"
reference_price = "420.00"

[[symbols]]
symbol = "BTC-USD"
tick_size = "0.01"
lot_size = "0.0001"
reference_price = "50000.00"

[[symbols]]
symbol = "XYZ"
tick_size = "0.05"
lot_size = "10"
""" + "".join(f"""
[[users]]
user = "{u}"
name = "{u.title()} Example"
token = "{u}-token"
cash = "1000000"
holdings = {{ AAPL = "1000", MSFT = "1000", BTC-USD = "10", XYZ = "1000" }}
""" for u in USERS) + """
[[users]]
user = "poor"
name = "Poor Example"
token = "poor-token"
cash = "100"

[[users]]
user = "admin"
name = "Exchange Operator"
token = "admin-token"
cash = "1000000"
holdings = { AAPL = "1000" }
admin = true
"""
"""Four funded traders, a user with little cash and no holdings, and an administrator.

AAPL has a 10% band around 150.00; BTC-USD trades in 0.0001 lots (so cash counts in
10^-6 units); XYZ has a tick of 0.05 and a lot of 10."""


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    addr: tuple[str, int]
    log: Path
    others: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Each further front-end's address, from its ``<name> listening on`` line."""

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal the server and wait for it; its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"server did not exit within {STOP_TIMEOUT}s of {sig}") from None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _start(config: str, workdir: Path, name: str, args: tuple[str, ...] = (),
           append_log: bool = False) -> Server:
    """Start ``exchange serve`` on ``config``; ready once it prints ``listening on``.

    ``append_log``: a restart under the same name keeps the earlier run's log."""
    path = workdir / f"{name}.toml"
    path.write_text(config)
    log = workdir / f"{name}.log"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log, "ab" if append_log else "wb") as err:
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
        while not any(done.startswith(b"listening on ") for done in buf.split(b"\n")[:-1]):
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                proc.kill()
                raise AssertionError(f"server not listening after {START_TIMEOUT}s: "
                                     f"{log.read_text(errors='replace')}")
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                proc.wait()
                raise AssertionError(f"server exited with {proc.returncode} before listening: "
                                     f"{log.read_text(errors='replace')}")
            buf += chunk
    finally:
        sel.close()
    lines = buf.decode().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("listening on "))
    firsts, line = lines[:at], lines[at]
    host, _, port = line.removeprefix("listening on ").rpartition(":")
    others = {}
    for first in firsts:
        name, _, where = first.partition(" listening on ")
        other_host, _, other_port = where.rpartition(":")
        others[name] = (other_host, int(other_port))
    return Server(proc, (host, int(port)), log, others)


StartServer = Callable[..., Server]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start servers: ``start_server(extra_toml="", config=None, args=())``.

    ``extra_toml`` is added before the base config (a ``[limits]`` or ``[market]``
    table); ``config`` replaces the whole file; ``args`` are more ``serve`` options.
    Every server started is stopped with SIGTERM at the end of the test, and must exit 0.
    """
    servers: list[Server] = []

    def start(extra_toml: str = "", config: str | None = None,
              args: tuple[str, ...] = ()) -> Server:
        text = config if config is not None else extra_toml + "\n" + BASE_CONFIG
        server = _start(text, tmp_path, f"server{len(servers)}", args)
        servers.append(server)
        return server

    yield start
    for server in servers:
        code = server.stop()
        assert code == 0, f"server exited with {code}: {server.log_text()[-2000:]}"


@pytest.fixture
def server(start_server: StartServer) -> Server:
    return start_server()


@pytest.fixture
def addr(server: Server) -> tuple[str, int]:
    return server.addr


@pytest.fixture
async def alice(addr: tuple[str, int]) -> Conn:
    return await connect(addr, "alice")


@pytest.fixture
async def bob(addr: tuple[str, int]) -> Conn:
    return await connect(addr, "bob")


@pytest.fixture
async def admin(addr: tuple[str, int]) -> Conn:
    return await connect(addr, "admin")


@pytest.fixture
async def anon(addr: tuple[str, int]) -> Conn:
    return await Conn.open(addr)


@pytest.fixture
def hserver(start_server: StartServer) -> Server:
    """A server of the HTTP test market with the HTTP front-end on a free port (a module
    may override it with another market)."""
    from tests.server.http_wire import HTTP_CONFIG  # http_wire builds on this module

    return start_server(config=HTTP_CONFIG, args=("--http-port", "0"))


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp client session, closed after the test."""
    async with aiohttp.ClientSession() as session:
        yield session
