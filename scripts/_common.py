"""Helpers shared by the command-line tools in this folder: a spawned server, symbol
specs (tick and lot, decimals as whole ticks and lots), and the demo market's prices.

The tools import this module by name; each one puts its own folder on `sys.path` first,
so they work both as `python scripts/NAME.py` and when imported from elsewhere.
"""

from __future__ import annotations

import asyncio
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, TypeVar

T = TypeVar("T")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7878
READY_PREFIX = "listening on "

DEMO_REFERENCE: dict[str, Decimal] = {
    "AAPL": Decimal("150.00"),
    "MSFT": Decimal("420.00"),
    "TSLA": Decimal("250.00"),
    "BTC-USD": Decimal("50000.00"),
    "ETH-USD": Decimal("3000.00"),
}
"""Reference prices of the built-in demo market: where to start when a symbol has neither
a book nor a last trade yet."""

DEMO_BAND: dict[str, Decimal] = {"AAPL": Decimal("0.10"), "MSFT": Decimal("0.20")}
"""Price bands of the demo market (the fraction a limit price may stray from the last
trade, else from the reference)."""

DEMO_USERS = ("alice", "bob", "carol", "dave")
FALLBACK_MID = Decimal("100.00")


# --- symbols ----------------------------------------------------------------------------


@dataclass(slots=True)
class Spec:
    """A symbol's tick and lot, with exact conversions between decimals and whole units.

    Prices are handled as integers (ticks) and formatted once, when a request is built;
    formatted values are cached, since a tool reuses the same few hundred prices.
    """

    symbol: str
    tick: Decimal
    lot: Decimal
    _prices: dict[int, Decimal] = field(default_factory=dict, repr=False)
    _qtys: dict[int, Decimal] = field(default_factory=dict, repr=False)

    def price(self, ticks: int) -> Decimal:
        """`ticks` whole ticks as a Decimal with the tick's places."""
        value = self._prices.get(ticks)
        if value is None:
            value = self._prices[ticks] = (self.tick * ticks).quantize(self.tick)
        return value

    def qty(self, lots: int) -> Decimal:
        value = self._qtys.get(lots)
        if value is None:
            value = self._qtys[lots] = (self.lot * lots).quantize(self.lot)
        return value

    def to_ticks(self, price: Decimal | str) -> int:
        """A price in whole ticks (rounded to the nearest tick)."""
        return int((Decimal(price) / self.tick).to_integral_value())

    def to_lots(self, qty: Decimal | str) -> int:
        return int((Decimal(qty) / self.lot).to_integral_value())


def parse_list(text: str) -> list[str]:
    """`"AAPL, MSFT,TSLA"` -> `["AAPL", "MSFT", "TSLA"]`."""
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_users(text: str) -> list[tuple[str, str]]:
    """`"alice,bob:secret"` -> `[("alice", "alice-token"), ("bob", "secret")]`."""
    users = []
    for item in parse_list(text):
        user, sep, token = item.partition(":")
        users.append((user, token if sep else f"{user}-token"))
    return users


# --- a spawned server -------------------------------------------------------------------


class ServerError(RuntimeError):
    """The spawned server did not start."""


class SpawnedServer:
    """`python -m exchange serve --port 0` as a child process, ready once it printed
    `listening on HOST:PORT` (its stdout is read for that line, never slept on).

    Its log goes to a temporary file, shown when it fails to start. `stop()` sends SIGTERM
    (the server answers what it read, flushes and exits 0) and returns the exit status.
    """

    def __init__(
        self,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        config: str | os.PathLike[str] | None = None,
        host: str = DEFAULT_HOST,
        log_level: str = "WARNING",
        python: str = sys.executable,
    ) -> None:
        self.args = [python, "-m", "exchange", "serve", "--host", host, "--port", "0",
                     "--log-level", log_level]
        if config is not None:
            self.args += ["--config", str(config)]
        if data_dir is not None:
            self.args += ["--data-dir", str(data_dir)]
        self.host = host
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def start(self, timeout: float = 30.0) -> SpawnedServer:
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop() or kill()
        env = dict(os.environ)
        # The tools may run from any directory; the package may not be installed there.
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=self._log,
                                     stdin=subprocess.DEVNULL, env=env)
        assert self.proc.stdout is not None
        line = self._read_line(self.proc.stdout, timeout)
        if not line.startswith(READY_PREFIX):
            self.kill()
            raise ServerError(f"the server did not start: {line or 'no output'}\n{self.log()}")
        host, _, port = line[len(READY_PREFIX):].strip().rpartition(":")
        self.host, self.port = host or self.host, int(port)
        return self

    def _read_line(self, stream: IO[bytes], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        data = b""
        with selectors.DefaultSelector() as sel:
            sel.register(stream, selectors.EVENT_READ)
            while b"\n" not in data:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    break
                chunk = os.read(stream.fileno(), 4096)
                if not chunk:
                    break
                data += chunk
        return data.decode("utf-8", "replace").splitlines()[0] if data else ""

    def log(self) -> str:
        """What the server wrote to stderr so far."""
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then wait; SIGKILL if it does not exit in time. Returns the status."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._close()
        return proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close()

    def _close(self) -> None:
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> SpawnedServer:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` on uvloop where it is installed (it is wherever it builds)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(main)
    return uvloop.run(main)
