"""A property: hostile and valid requests mixed, kill -9 at random points, restart, compare.

Hypothesis draws a few rounds of raw lines for the demo users: ordinary orders, cancels,
modifies and cash moves mixed with the values an attacker tries first (numbers spelled
with underscores, non-ASCII digits, spaces, signs, exponents, values past every bound,
huge deposits repeated, junk bytes, nested and duplicated JSON, lines past the limit),
over JSON and over text commands. After each round every session syncs with a `ping`,
the visible state is dumped, the server is killed with SIGKILL and restarted on the same
``--data-dir``. The property:

* no request ever drops a session or kills the server, and none is answered with an
  internal error: hostile input gets a `bad_request` (or a rejected order) and the
  session reads on;
* every restart succeeds, and the state after it equals the state acknowledged before
  the kill (every request of a round was answered before the kill, so all of it was
  acknowledged).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.server.durability_helpers import (
    DEMO_SYMBOLS,
    DEMO_USERS,
    READ_TIMEOUT,
    Msg,
    ServerProcess,
    dump_state,
    state_diff,
)

# -- what a round is made of ------------------------------------------------------------------

NASTY_NUMBERS = [
    "1_0", "1_49", "\u0661\u0664\u0669", "\uff11\uff14\uff19", " 149", "149 ", "+149",
    "1e2", "1E2", "0x10", "1.2.3", ".", "", "-", "--1", "1..2", "NaN", "Infinity", "-0",
    "0", "-5", "1,5", "\u00a0149", "149\t", "9" * 18, "9" * 19, "9" * 40,
    "9223372036854775807", "9223372036854775808", "18446744073709551616",
    "0." + "0" * 17 + "1", "0." + "0" * 30 + "1", "1" + "0" * 17, "99999999.99",
    "1000000000000000", "0.0001", "0.00001", "149.999",
]
"""Spellings and magnitudes of a price, quantity or amount that must be refused or handled:
bad syntax is `bad_request`, a non-positive or off-grid value a rejected order, a value
past a symbol's bound `bad_request` -- never an internal error, a gap or a dead session."""

HUGE_AMOUNTS = ["10000000000000", "9223372036854.775807", "9223372036854775807",
                "999999999999999999", "4611686018427387904", "1" + "0" * 17]

JUNK_LINES = [
    b"\xff\xfe\xfd garbage", b"\x00\x01\x02", b"{", b"}", b"[1,2,3]", b'{"op":',
    b"[" * 5000 + b"]" * 5000, b'{"op":"ping","ref":' + b"[" * 3000 + b"]" * 3000 + b"}",
    b'{"op":"deposit","amount":"1","amount":"1e30"}',
    b'{"op":"place","symbol":"AAPL","side":"buy","qty":"1","price":"150","qty":"1e30"}',
    b'{"op":"nope"}', b'{"op":123}', b'{"op":"place","symbol":"AAPL"}',
    b"x" * 70_000, b"buy AAPL 1_0 @ 1_49", b"deposit 1e30", b"cancel cid=" + b"z" * 300,
    b"modify 99999999999999999999 qty=1", b"status -1", b"\t\t  \t",
]


def _json(op: str, **fields: Any) -> bytes:
    return json.dumps({"op": op, **fields}).encode()


@st.composite
def valid_line(draw: st.DrawFn) -> bytes:
    symbol = draw(st.sampled_from(DEMO_SYMBOLS))
    side = draw(st.sampled_from(["buy", "sell"]))
    kind = draw(st.integers(0, 9))
    if kind <= 4:
        step = {"BTC-USD": 5, "ETH-USD": 1}.get(symbol, 0.05)
        mid = {"AAPL": 150, "MSFT": 420, "TSLA": 250, "BTC-USD": 50000, "ETH-USD": 3000}[symbol]
        price = f"{mid + step * draw(st.integers(-8, 8)):.2f}"
        unit = {"BTC-USD": "0.01", "ETH-USD": "0.1"}.get(symbol, "1")
        qty = str(draw(st.integers(1, 9))) if unit == "1" else f"{unit}"
        tif = draw(st.sampled_from(["gtc", "ioc", "day"]))
        if draw(st.booleans()):
            return _json("place", symbol=symbol, side=side, qty=qty, price=price, tif=tif)
        return f"{side} {symbol} {qty} @ {price} {tif}".encode()
    if kind == 5:
        return _json("cancel", order_id=draw(st.integers(1, 60)))
    if kind == 6:
        return _json("modify", order_id=draw(st.integers(1, 60)),
                     qty=str(draw(st.integers(1, 5))))
    if kind == 7:
        cents = draw(st.integers(100, 1_000_000))
        return _json("deposit", amount=f"{cents // 100}.{cents % 100:02d}")
    if kind == 8:
        return _json("withdraw", amount=str(draw(st.integers(1, 500))))
    return _json("place", symbol=symbol, side=side, qty="1", kind="market")


@st.composite
def hostile_line(draw: st.DrawFn) -> bytes:
    nasty = draw(st.sampled_from(NASTY_NUMBERS))
    symbol = draw(st.sampled_from(DEMO_SYMBOLS))
    side = draw(st.sampled_from(["buy", "sell"]))
    which = draw(st.integers(0, 11))
    if which == 0:
        return _json("place", symbol=symbol, side=side, qty=nasty, price="150.00")
    if which == 1:
        return _json("place", symbol=symbol, side=side, qty="1", price=nasty)
    if which == 2:
        return _json("place", symbol=symbol, side=side, qty="1", kind="stop", stop_price=nasty)
    if which == 3:
        return f"{side} {symbol} {nasty} @ 150.00".encode()
    if which == 4:
        return f"{side} {symbol} 1 @ {nasty}".encode()
    if which == 5:
        return _json(draw(st.sampled_from(["deposit", "withdraw"])), amount=nasty)
    if which == 6:  # the same huge deposit, again and again: cash must stay in bounds
        amount = draw(st.sampled_from(HUGE_AMOUNTS))
        return b"\n".join([_json("deposit", amount=amount)] * draw(st.integers(1, 4)))
    if which == 7:  # JSON numbers, not strings: big ints and floats past every bound
        value = draw(st.sampled_from([2**63, 2**64, 10**30, 1e300, 123456789012345678901]))
        return json.dumps({"op": "place", "symbol": symbol, "side": side, "qty": value,
                           "price": "150.00"}).encode()
    if which == 8:
        return _json("place", symbol=symbol, side=side, qty=nasty, kind="market")
    if which == 9:
        return _json("modify", order_id=draw(st.integers(1, 60)), price=nasty)
    if which == 10:
        return f"deposit {nasty}".encode()
    return draw(st.sampled_from(JUNK_LINES))


ROUND = st.lists(st.tuples(st.sampled_from(DEMO_USERS), st.one_of(valid_line(), hostile_line())),
                 min_size=5, max_size=40)


# -- a raw session ----------------------------------------------------------------------------

class RawSession:
    """One logged-in connection that writes raw lines and syncs with a `ping` by ref."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.received: list[Msg] = []
        self.sync = 0

    @classmethod
    async def open(cls, addr: tuple[str, int], user: str) -> RawSession:
        reader, writer = await asyncio.open_connection(*addr, limit=2**24)
        session = cls(reader, writer)
        await session.write(_json("login", user=user, token=f"{user}-token"))
        await session.settle()
        assert session.received[0]["type"] == "welcome", session.received
        return session

    async def write(self, line: bytes) -> None:
        self.writer.write(line + b"\n")
        await self.writer.drain()

    async def settle(self) -> None:
        """Read until the reply to a fresh `ping`: every earlier line is answered then."""
        self.sync += 1
        ref = f"sync-{self.sync}"
        await self.write(_json("ping", ref=ref))
        while True:
            line = await asyncio.wait_for(self.reader.readline(), READ_TIMEOUT)
            assert line, f"the server closed the session; it had sent {self.received[-3:]}"
            msg = json.loads(line)
            self.received.append(msg)
            if msg.get("ref") == ref:
                assert msg["type"] == "pong", msg
                return

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


def _internal_errors(messages: list[Msg]) -> list[Msg]:
    return [m for m in messages if m.get("type") == "error"
            and "internal" in str(m.get("message", "")).lower()]


async def _round(addr: tuple[str, int], lines: list[tuple[str, bytes]]) -> None:
    sessions = {user: await RawSession.open(addr, user) for user in DEMO_USERS}
    try:
        for user, line in lines:
            await sessions[user].write(line)
        for session in sessions.values():
            await session.settle()
        for user, session in sessions.items():
            assert not _internal_errors(session.received), (user, _internal_errors(
                session.received))
            assert all("type" in m for m in session.received)
    finally:
        for session in sessions.values():
            await session.close()


async def _run(tmp: Path, rounds: list[list[tuple[str, bytes]]]) -> None:
    server = ServerProcess(tmp / "data", tmp / "server.log")
    try:
        addr = await server.start()
        for i, lines in enumerate(rounds):
            await _round(addr, lines)
            before = await dump_state(addr)
            await server.kill9()
            addr = await server.start()
            after = await dump_state(addr)
            assert before == after, (f"round {i}: the restart differs from what was "
                                     f"acknowledged:\n" + "\n".join(state_diff(before, after)))
        await server.terminate()
    finally:
        await server.stop_if_running()


@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(rounds=st.lists(ROUND, min_size=1, max_size=3))
@example(rounds=[  # the two reported ways to make a data directory unloadable, then normal use
    [("alice", _json("deposit", amount="10000000000000")),
     ("bob", _json("place", symbol="BTC-USD", side="buy", qty="99999999999999",
                   price="50000.00")),
     ("alice", b"buy AAPL 1_0 @ 1_49"),
     ("carol", b"buy AAPL 10 @ 149.00"), ("dave", b"sell AAPL 4 @ 149.00")],
    [("alice", _json("deposit", amount="1000.50")), ("bob", b"deposit 1e3")],
])
def test_hostile_and_valid_requests_survive_kill9(tmp_path_factory: Any,
                                                  rounds: list[list[tuple[str, bytes]]]) -> None:
    asyncio.run(_run(tmp_path_factory.mktemp("hostile"), rounds))
