"""The real server as a subprocess: `python -m exchange serve --port 0 --config FILE`.

Readiness is the `listening on HOST:PORT` line on its stdout, never a sleep. One server per
test module; each test takes fresh symbols from the `symbol` fixture so that tests sharing a
server do not see each other's books. The config is written here, so the tests know every
balance they start from.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from client import Client

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 30.0

DEMO_SYMBOLS = [("AAPL", "0.01", "1"), ("MSFT", "0.01", "1"), ("TSLA", "0.01", "1")]
TEST_SYMBOLS = [f"T{i:02d}" for i in range(1, 61)]
"""Symbols handed out one per test (tick 0.01, lot 1), so tests never share a book."""
USERS = ["alice", "bob", "carol", "dave"]
CASH = "1000000"
HOLDING = "10000"
BTC_HOLDING = "10"
REFERENCE_PRICE = "100.00"


def config_toml(extra: str = "") -> str:
    """The test market; `extra` is TOML put first (a `[limits]` table, say)."""
    lines: list[str] = [extra]
    for symbol, tick, lot in [*DEMO_SYMBOLS, *((s, "0.01", "1") for s in TEST_SYMBOLS)]:
        lines += [
            "[[symbols]]",
            f'symbol = "{symbol}"',
            f'tick_size = "{tick}"',
            f'lot_size = "{lot}"',
            f'reference_price = "{REFERENCE_PRICE}"',
            "",
        ]
    lines += [
        "[[symbols]]",
        'symbol = "BTC-USD"',
        'tick_size = "0.01"',
        'lot_size = "0.0001"',
        "",
    ]
    holdings = ", ".join(
        f'"{s}" = "{HOLDING}"' for s in [s for s, _, _ in DEMO_SYMBOLS] + TEST_SYMBOLS
    )
    for user in [*USERS, "admin"]:
        lines += [
            "[[users]]",
            f'user = "{user}"',
            f'name = "{user.title()} Example"',
            f'token = "{user}-token"',
            f'cash = "{CASH}"',
            f'holdings = {{ {holdings}, "BTC-USD" = "{BTC_HOLDING}" }}',
            f"admin = {'true' if user == 'admin' else 'false'}",
            "",
        ]
    return "\n".join(lines)


class ServerProcess:
    """One `exchange serve` subprocess; `start` returns once it is listening."""

    def __init__(self, config: Path, log: Path, data_dir: Path | None = None) -> None:
        self.config = config
        self.log = log
        self.data_dir = data_dir
        self.host = "127.0.0.1"
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None
        self.used_symbols: set[str] = set()

    def start(self, port: int | None = None) -> ServerProcess:
        """Start on `port` (default: the port of the previous run, else a free one)."""
        if port is None:
            port = self.port
        cmd = [sys.executable, "-m", "exchange", "serve", "--port", str(port)]
        cmd += ["--config", str(self.config)]
        if self.data_dir is not None:
            cmd += ["--data-dir", str(self.data_dir)]
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_pump, args=(self.proc, lines), daemon=True).start()
        while True:
            try:
                line = lines.get(timeout=STARTUP_TIMEOUT)
            except queue.Empty:
                self.kill()
                raise RuntimeError(f"server not listening after {STARTUP_TIMEOUT}s") from None
            if line is None:
                raise RuntimeError(f"server exited before listening:\n{self.log.read_text()}")
            if line.startswith("listening on "):
                host, _, port_text = line.removeprefix("listening on ").strip().rpartition(":")
                self.host, self.port = host, int(port_text)
                return self

    def kill(self) -> None:
        """SIGKILL: a crash, as far as clients can tell."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def _pump(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
    """Read the server's stdout to the end (so the pipe never fills up)."""
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.put(line)
    lines.put(None)


def start_server(tmp: Path, *, data_dir: Path | None = None, extra: str = "") -> ServerProcess:
    config = tmp / "exchange.toml"
    config.write_text(config_toml(extra))
    return ServerProcess(config, tmp / "server.log", data_dir).start()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = start_server(tmp_path_factory.mktemp("server"))
    yield proc
    proc.stop()


@pytest.fixture
def symbol(server: ServerProcess) -> str:
    """A symbol no other test on this server has used (tick 0.01, lot 1)."""
    used = server.used_symbols
    for candidate in TEST_SYMBOLS:
        if candidate not in used:
            used.add(candidate)
            return candidate
    raise RuntimeError("out of test symbols: add more to TEST_SYMBOLS")


def connect(server: ServerProcess, user: str | None = "alice", **options: Any) -> Any:
    """`Client.connect(...)` to the test server, logged in as `user` (None: anonymous)."""
    token = None if user is None else f"{user}-token"
    return Client.connect(server.host, server.port, user=user, token=token, **options)


@pytest.fixture
async def alice(server: ServerProcess) -> AsyncIterator[Client]:
    async with connect(server, "alice") as c:
        yield c


@pytest.fixture
async def bob(server: ServerProcess) -> AsyncIterator[Client]:
    async with connect(server, "bob") as c:
        yield c


@pytest.fixture
async def admin(server: ServerProcess) -> AsyncIterator[Client]:
    async with connect(server, "admin") as c:
        yield c
