"""Helpers for the crash-recovery tests: a server process, a raw line client, state dumps.

The server runs as ``python -m exchange serve --port 0 --data-dir DIR`` in a subprocess;
readiness is the ``listening on HOST:PORT`` line, never a sleep. It can be stopped the
hard way (SIGKILL: nothing is flushed, nothing is snapshotted) or the orderly way
(SIGTERM: it must exit 0).

The client is a few lines of asyncio streams: JSON requests with an integer ``ref``,
replies paired by ``ref``, everything else kept as events. Every wait has a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import os
import random
import signal
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0
READ_TIMEOUT = 10.0

Msg = dict[str, Any]

DEMO_USERS = ("alice", "bob", "carol", "dave")
DEMO_SYMBOLS = ("AAPL", "MSFT", "TSLA", "BTC-USD", "ETH-USD")
DEMO_CASH = Decimal(1_000_000)
DEMO_HOLDINGS = {"AAPL": Decimal(1000), "MSFT": Decimal(1000), "TSLA": Decimal(1000),
                 "BTC-USD": Decimal(10), "ETH-USD": Decimal(100)}
LIVE = frozenset({"accepted", "partially_filled", "paused", "pending"})


# -- the server process ----------------------------------------------------------------------

class ServerProcess:
    """One ``exchange serve`` process on a data directory."""

    def __init__(self, data_dir: Path, log_path: Path, config: Path | None = None) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.config = config
        self.proc: asyncio.subprocess.Process | None = None
        self.addr: tuple[str, int] | None = None

    def _argv(self) -> list[str]:
        argv = [sys.executable, "-m", "exchange", "serve", "--port", "0",
                "--data-dir", str(self.data_dir)]
        if self.config is not None:
            argv += ["--config", str(self.config)]
        return argv

    async def _spawn(self) -> asyncio.subprocess.Process:
        with open(self.log_path, "ab") as log:
            return await asyncio.create_subprocess_exec(
                *self._argv(), cwd=REPO, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=log)

    async def start(self) -> tuple[str, int]:
        proc = self.proc = await self._spawn()
        assert proc.stdout is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise AssertionError(f"server did not start:\n{self.log()}") from None
        text = line.decode().strip()
        if not text.startswith("listening on "):
            await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
            raise AssertionError(f"server did not start ({text!r}, exit {proc.returncode}):"
                                 f"\n{self.log()}")
        host, _, port = text.removeprefix("listening on ").rpartition(":")
        self.addr = (host, int(port))
        return self.addr

    async def start_expecting_failure(self) -> tuple[int, str]:
        """Start it and expect it to refuse: ``(exit status, what it printed)``."""
        proc = self.proc = await self._spawn()
        assert proc.stdout is not None
        out = await asyncio.wait_for(proc.stdout.read(), START_TIMEOUT)
        code = await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
        return code, out.decode() + self.log()

    async def kill9(self) -> None:
        proc = self.proc
        assert proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        code = await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
        assert code == -signal.SIGKILL, code

    async def terminate(self) -> None:
        proc = self.proc
        assert proc is not None
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
        assert code == 0, f"exit status {code} after SIGTERM:\n{self.log()}"

    async def terminate_then_kill(self, delay: float) -> int:
        """SIGTERM, then SIGKILL ``delay`` seconds later unless it is gone by then."""
        proc = self.proc
        assert proc is not None
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(proc.wait()), delay)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
        code = await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
        assert code in (0, -signal.SIGKILL), f"exit status {code}:\n{self.log()}"
        return code

    async def stop_if_running(self) -> None:
        proc = self.proc
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def file_hashes(path: Path) -> dict[str, str]:
    """Every file of a data directory by name, with its SHA-256: to show it unchanged."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.iterdir())}


async def inspect(data_dir: Path, records: int = 0) -> str:
    """What ``exchange inspect DIR`` prints."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "exchange", "inspect", str(data_dir), "--records", str(records),
        cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), STOP_TIMEOUT)
    assert proc.returncode == 0, out.decode()
    return out.decode()


# -- a raw line client ------------------------------------------------------------------------

class Client:
    """One connection. ``send`` pipelines; ``call`` waits for the reply (with a timeout)."""

    _refs = itertools.count(1)

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.pending: dict[int, tuple[Msg, asyncio.Future[Msg]]] = {}
        self.sent: dict[int, Msg] = {}  # every request written, by ref
        self.events: list[Msg] = []
        self.received: list[Msg] = []  # replies and events, in arrival order
        self.user: str | None = None
        self._task = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def connect(cls, addr: tuple[str, int], user: str | None = None) -> Client:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(addr[0], addr[1], limit=2**24), READ_TIMEOUT)
        client = cls(reader, writer)
        if user is not None:
            reply = await client.call("login", user=user, token=f"{user}-token")
            assert reply["type"] == "welcome", reply
            client.user = user
        return client

    async def _read(self) -> None:
        error: BaseException = ConnectionError("connection closed")
        try:
            while True:
                line = await self.reader.readline()
                if not line:
                    break
                msg = json.loads(line)
                self.received.append(msg)
                ref = msg.get("ref")
                entry = self.pending.pop(ref, None) if isinstance(ref, int) else None
                if entry is None:
                    self.events.append(msg)
                elif not entry[1].done():
                    entry[1].set_result(msg)
        except (ConnectionError, OSError) as exc:
            error = exc
        for _, future in self.pending.values():
            if not future.done():
                future.set_exception(ConnectionError(str(error)))

    def send(self, op: str, **fields: Any) -> asyncio.Future[Msg]:
        """Write one request now; the future resolves to its reply."""
        ref = next(self._refs)
        request = {"op": op, "ref": ref, **{k: v for k, v in fields.items() if v is not None}}
        future: asyncio.Future[Msg] = asyncio.get_running_loop().create_future()
        if self._task.done():
            future.set_exception(ConnectionError("connection closed"))
            return future
        self.pending[ref] = (request, future)
        self.sent[ref] = request
        self.writer.write(json.dumps(request).encode() + b"\n")
        return future

    async def call(self, op: str, **fields: Any) -> Msg:
        return await asyncio.wait_for(self.send(op, **fields), READ_TIMEOUT)

    async def gather(self, futures: Iterable[asyncio.Future[Msg]]) -> list[Msg]:
        return list(await asyncio.wait_for(asyncio.gather(*futures), READ_TIMEOUT))

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), READ_TIMEOUT)
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task


async def connect_all(addr: tuple[str, int],
                      users: Iterable[str] = DEMO_USERS) -> dict[str, Client]:
    return {user: await Client.connect(addr, user) for user in users}


async def close_all(clients: dict[str, Client]) -> None:
    for client in clients.values():
        await client.close()


# -- the whole visible state ------------------------------------------------------------------

async def dump_state(addr: tuple[str, int], users: Iterable[str] = DEMO_USERS,
                     symbols: Iterable[str] = DEMO_SYMBOLS) -> Msg:
    """Everything a restart must preserve, as the wire shows it.

    Per user: every order (``orders all``), every fill, balance and portfolio. Per
    symbol: every trade kept, the whole book (``seq`` included), the minute candles and
    the symbol row (last price, open/halted/closed).
    """
    state: Msg = {"users": {}, "symbols": {}}
    for user in users:
        client = await Client.connect(addr, user)
        try:
            orders, fills, balance, portfolio = await client.gather([
                client.send("orders", status="all"), client.send("fills", limit=10_000),
                client.send("balance"), client.send("portfolio")])
        finally:
            await client.close()
        state["users"][user] = {
            "orders": _strip(orders), "fills": _strip(fills),
            "balance": _strip(balance), "portfolio": _strip(portfolio)}
    client = await Client.connect(addr)
    try:
        rows = {row["symbol"]: row for row in (await client.call("symbols"))["symbols"]}
        for symbol in symbols:
            trades, book, candles = await client.gather([
                client.send("trades", symbol=symbol, limit=10_000),
                client.send("book", symbol=symbol, depth=10_000),
                client.send("candles", symbol=symbol, interval="1m", limit=10_000)])
            state["symbols"][symbol] = {"trades": _strip(trades), "book": _strip(book),
                                        "candles": _strip(candles), "row": rows[symbol]}
    finally:
        await client.close()
    return state


def _strip(reply: Msg) -> Msg:
    assert reply["type"] != "error", reply
    return {k: v for k, v in reply.items() if k != "ref"}


def state_diff(before: Msg, after: Msg, path: str = "") -> list[str]:
    """Readable differences between two dumps (first few of them)."""
    out: list[str] = []
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after), key=str):
            if key not in after:
                out.append(f"{path}/{key}: missing after restart")
            elif key not in before:
                out.append(f"{path}/{key}: new after restart")
            else:
                out += state_diff(before[key], after[key], f"{path}/{key}")
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for i, (b, a) in enumerate(zip(before, after, strict=True)):
            out += state_diff(b, a, f"{path}[{i}]")
    elif before != after:
        out.append(f"{path}: {before!r} -> {after!r}")
    return out[:20]


# -- a seeded mixed load ----------------------------------------------------------------------

# symbol: (mid price, price step used by the load, qty unit, max units per order)
MARKETS: dict[str, tuple[Decimal, Decimal, Decimal, int]] = {
    "AAPL": (Decimal("150.00"), Decimal("0.05"), Decimal("1"), 20),
    "MSFT": (Decimal("420.00"), Decimal("0.10"), Decimal("1"), 10),
    "TSLA": (Decimal("250.00"), Decimal("0.05"), Decimal("1"), 20),
    "BTC-USD": (Decimal("50000.00"), Decimal("5.00"), Decimal("0.001"), 20),
    "ETH-USD": (Decimal("3000.00"), Decimal("0.50"), Decimal("0.01"), 30),
}

@dataclass
class Trader:
    """One session's view while it sends: what it may address next."""

    client: Client
    rng: random.Random
    tag: str = ""
    live: list[int] = field(default_factory=list)
    paused: list[int] = field(default_factory=list)
    cids: list[str] = field(default_factory=list)
    symbol_of: dict[int | str, str] = field(default_factory=dict)
    futures: list[asyncio.Future[Msg]] = field(default_factory=list)
    short_ttl_until: float = 0.0

    def track(self, future: asyncio.Future[Msg]) -> None:
        self.futures.append(future)
        future.add_done_callback(self._learn)

    def _learn(self, future: asyncio.Future[Msg]) -> None:
        if future.cancelled() or future.exception() is not None:
            return
        order = future.result().get("order")
        if not isinstance(order, dict):
            return
        oid = order["order_id"]
        self.symbol_of[oid] = order["symbol"]
        for bucket in (self.live, self.paused):
            if oid in bucket:
                bucket.remove(oid)
        if order["status"] == "paused":
            self.paused.append(oid)
        elif order["status"] in LIVE:
            self.live.append(oid)

    # -- request generation --------------------------------------------------------------------
    def _qty(self, symbol: str) -> str:
        _, _, unit, most = MARKETS[symbol]
        return str(unit * self.rng.randint(1, most))

    def _price(self, symbol: str, side: str, crossing: bool) -> str:
        mid, step, _, _ = MARKETS[symbol]
        offset = step * self.rng.randint(1, 10)
        above = (side == "buy") == crossing
        return str(mid + offset if above else mid - offset)

    def next_request(self, n: int) -> tuple[str, dict[str, Any]]:
        rng = self.rng
        symbol = rng.choice(DEMO_SYMBOLS)
        side = rng.choice(("buy", "sell"))
        roll = rng.random()
        place: dict[str, Any] = {"symbol": symbol, "side": side, "qty": self._qty(symbol)}
        if rng.random() < 0.2:
            place["client_order_id"] = f"{self.client.user}-{self.tag}{n}"
            self.cids.append(place["client_order_id"])
            self.symbol_of[place["client_order_id"]] = symbol
        if rng.random() < 0.15:
            place["stp"] = rng.choice(("cancel_newest", "cancel_oldest", "cancel_both"))
        if roll < 0.28:  # resting limit
            place["price"] = self._price(symbol, side, crossing=False)
            place["tif"] = rng.choice(("gtc", "gtc", "day"))
            place["post_only"] = rng.random() < 0.2 or None
            return "place", place
        if roll < 0.43:  # crossing limit
            place["price"] = self._price(symbol, side, crossing=True)
            place["tif"] = rng.choice(("gtc", "gtc", "ioc", "fok"))
            return "place", place
        if roll < 0.47:
            place["kind"] = "market"
            return "place", place
        if roll < 0.53:  # gtd: some expire while the test runs, some long after it
            place["price"] = self._price(symbol, side, crossing=rng.random() < 0.3)
            if rng.random() < 0.5:
                place["ttl_ms"] = rng.randint(30, 300)
                self.short_ttl_until = asyncio.get_running_loop().time() + 0.35
            else:
                place["ttl_ms"] = 600_000
            return "place", place
        if roll < 0.58:  # stops: sells trigger below the mid, buys above it
            mid, step, _, _ = MARKETS[symbol]
            away = step * rng.randint(0, 6)
            stop = mid - away if side == "sell" else mid + away
            place["stop_price"] = str(stop)
            if rng.random() < 0.5:
                place["kind"] = "stop"
            else:
                place["kind"] = "stop_limit"
                place["price"] = str(stop - step if side == "sell" else stop + step)
            return "place", place
        target = self._target(rng)
        if roll < 0.70 and target is not None:
            fields = dict(target)
            symbol = self.symbol_of[next(iter(target.values()))]
            if rng.random() < 0.5:
                fields["qty"] = str(MARKETS[symbol][2] * rng.randint(1, 25))
            else:
                fields["price"] = self._price(symbol, side, crossing=rng.random() < 0.3)
            return "modify", fields
        if roll < 0.80 and target is not None:
            return "cancel", target
        if roll < 0.85 and target is not None:
            return "pause", target
        if roll < 0.89 and self.paused:
            return "resume", {"order_id": rng.choice(self.paused)}
        if roll < 0.91:
            return "cancel_all", {"symbol": symbol if rng.random() < 0.7 else None}
        if roll < 0.96:
            return "deposit", {"amount": f"{rng.randint(1, 50_000)}.{rng.randint(0, 99):02d}"}
        if roll < 0.99:
            return "withdraw", {"amount": f"{rng.randint(1, 500)}.{rng.randint(0, 99):02d}"}
        if self.cids:  # a retry of an earlier client_order_id: must answer the same order
            return "place", {"symbol": symbol, "side": side, "qty": "1", "kind": "market",
                             "client_order_id": rng.choice(self.cids)}
        return "ping", {}

    def _target(self, rng: random.Random) -> dict[str, Any] | None:
        if self.cids and rng.random() < 0.15:
            return {"client_order_id": rng.choice(self.cids)}
        if self.live:
            return {"order_id": rng.choice(self.live[-20:])}
        return None


@dataclass
class Shared:
    kill_at: int
    sent: int = 0


async def run_trader(trader: Trader, shared: Shared) -> None:
    rng = trader.rng
    while shared.sent < shared.kill_at:
        for _ in range(rng.randint(1, 12)):
            if shared.sent >= shared.kill_at:
                break
            op, fields = trader.next_request(shared.sent)
            shared.sent += 1
            trader.track(trader.client.send(op, **fields))
        waiting = [f for f in trader.futures if not f.done()]
        if waiting and (len(waiting) > 40 or rng.random() < 0.5):
            keep = rng.randint(0, 6)  # leave a few in flight
            head = waiting[:-keep] if keep else waiting
            await asyncio.wait_for(asyncio.gather(*head), 10.0)
        else:
            await asyncio.sleep(0)
        await trader.client.writer.drain()


async def run_admin(trader: Trader, shared: Shared) -> None:
    """Now and then halt a symbol and resume it, or close the market and open it."""
    rng = trader.rng
    while shared.sent < shared.kill_at:
        await asyncio.sleep(rng.uniform(0.005, 0.02))
        if rng.random() < 0.7:
            symbol = rng.choice(DEMO_SYMBOLS)
            pair = [("halt", {"symbol": symbol}), ("resume_trading", {"symbol": symbol})]
        else:
            pair = [("close_market", {}), ("open_market", {})]
        for op, fields in pair:
            trader.track(trader.client.send(op, **fields))
            await asyncio.sleep(rng.uniform(0, 0.004))


async def run_load(clients: dict[str, Client], seed: int, count: int,
                   admin: Client | None = None, tag: str = "") -> list[Trader]:
    """Send ``count`` requests from the clients at once, a few in flight at a time.

    With ``admin``, an administrator halts and resumes symbols and closes and opens the
    market meanwhile (its requests are not counted).
    """
    base = random.Random(seed)
    traders = [Trader(c, random.Random(base.random()), tag) for c in clients.values()]
    shared = Shared(count)
    runs = [run_trader(t, shared) for t in traders]
    if admin is not None:
        boss = Trader(admin, random.Random(base.random()), tag)
        traders.append(boss)
        runs.append(run_admin(boss, shared))
    await asyncio.wait_for(asyncio.gather(*runs), 30.0)
    return traders


async def settle(traders: list[Trader]) -> None:
    """Wait for every reply, then until the short-lived gtd orders have expired."""
    for trader in traders:
        await trader.client.gather(trader.futures)
    loop = asyncio.get_running_loop()
    until = max(t.short_ttl_until for t in traders)
    if until > loop.time():
        await asyncio.sleep(until - loop.time() + 0.1)


async def final_burst(traders: list[Trader], rng: random.Random) -> None:
    """A last burst from every session, written out but not waited for."""
    for trader in traders:
        if trader.client.user == "admin":
            continue
        for i in range(rng.randint(5, 25)):
            op, fields = trader.next_request(10_000 + i)
            trader.track(trader.client.send(op, **fields))
    for trader in traders:
        await trader.client.writer.drain()
