"""Hostile numbers end to end, on a --data-dir server: refused, named, and nothing changed.

Each hostile spelling of a decimal (and its valid neighbours) goes over JSON and text,
followed by a normal order that must work; values at and one step past each symbol's
bounds; deposits that would overflow the exchange's 64-bit cash; errors about orders
addressed by `client_order_id`. Then the server is killed with SIGKILL and restarted on
the same directory: every restart must load, and the state must be exactly what was
acknowledged before the kill (nothing refused left a trace in the journal).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.server.durability_helpers import ServerProcess, dump_state, state_diff
from tests.server.wire import Conn

INT64_MAX = 2**63 - 1
CASH_UNIT = Decimal("0.000001")  # the demo market counts cash in 10^-6

HOSTILE = ["1_49", "1_0", "\u0661\u0664\u0669", "\uff11\uff14\uff19", " 149", "149 ", "+149",
           "1e2", "1E+2", "0x10", "1.2.3", "", "-", ".", "NaN", "Infinity", "1,5"]
TEXT_HOSTILE = ["1_49", "+149", "1e2", "0x10", "1.2.3", "-", ".", "NaN", "1,5",
                "\uff11\uff14\uff19"]


async def _normal_order_works(conn: Conn) -> None:
    r = await conn.place("TSLA", "buy", "1", "200.00")
    assert r["type"] == "accepted", r


def _refused(reply: dict[str, object], field: str) -> None:
    assert reply["type"] == "error" and reply["code"] == "bad_request", reply
    message = str(reply["message"])
    assert f"`$.{field}`" in message or message.startswith(f"{field}: "), reply


async def _hostile_session(addr: tuple[str, int]) -> None:
    alice = await Conn.open(addr)
    await alice.login("alice")
    for value in HOSTILE:
        _refused(await alice.place("TSLA", "buy", value, "200.00"), "qty")
        _refused(await alice.place("TSLA", "buy", "1", value), "price")
        _refused(await alice.request("place", symbol="TSLA", side="buy", qty="1",
                                     kind="stop", stop_price=value), "stop_price")
        _refused(await alice.request("deposit", amount=value), "amount")
        _refused(await alice.request("withdraw", amount=value), "amount")
        _refused(await alice.request("alert", symbol="TSLA", above=value), "above")
        await _normal_order_works(alice)
    for value in TEXT_HOSTILE:
        _refused(await alice.text(f"buy TSLA {value} @ 200"), "qty")
        _refused(await alice.text(f"buy TSLA 1 @ {value}"), "price")
        _refused(await alice.text(f"deposit {value}"), "amount")
        await _normal_order_works(alice)
    # The example: it used to place 10 @ 149.
    _refused(await alice.text("buy AAPL 1_0 @ 1_49"), "qty")
    # Valid neighbours: ".5"-style and "5." spellings, JSON numbers, and a negative
    # quantity, which is a rejected order (the contract's bad_qty), not a bad request.
    for qty in ("1.", "1.0", "01", 1):
        r = await alice.place("TSLA", "buy", qty, "200.00")  # type: ignore[arg-type]
        assert r["type"] == "accepted" and r["order"]["qty"] == "1", r
    r = await alice.place("TSLA", "buy", "1", ".5")
    assert r["type"] == "accepted" and r["order"]["price"] == "0.50", r
    r = await alice.place("TSLA", "buy", "1", ".005")
    assert r["type"] == "rejected" and r["order"]["reason"] == "bad_price", r
    r = await alice.place("TSLA", "buy", "-5", "200.00")
    assert r["type"] == "rejected" and r["order"]["reason"] == "bad_qty", r
    r = await alice.text("buy TSLA 1 @ 200.")
    assert r["type"] == "accepted", r

    # Bounds: BTC-USD qty at most 100000.0000 (10^9 lots), TSLA price at most 100000.00.
    r = await alice.place("BTC-USD", "buy", "100000.0000", "0.01")
    assert r["type"] == "accepted", r
    r = await alice.place("BTC-USD", "buy", "100000.0001", "0.01")
    _refused(r, "qty")
    assert "at most 100000.0000 for BTC-USD" in str(r["message"])
    r = await alice.place("BTC-USD", "buy", "999999999999999999", "0.01")  # was "internal error"
    _refused(r, "qty")
    r = await alice.place("TSLA", "sell", "1", "100000.00")
    assert r["type"] == "accepted", r
    _refused(await alice.place("TSLA", "sell", "1", "100000.01"), "price")
    _refused(await alice.request("place", symbol="TSLA", side="buy", qty="1", kind="stop",
                                 stop_price="100000.01"), "stop_price")
    _refused(await alice.text("sell TSLA 1 @ 100000.01"), "price")
    _refused(await alice.request("alert", symbol="TSLA", below="100000.01"), "below")
    ok = await alice.request("modify", order_id=r["order"]["order_id"], price="100000.01")
    _refused(ok, "price")
    _refused(await alice.request("modify", order_id=r["order"]["order_id"], qty="10000001"),
             "qty")
    await _normal_order_works(alice)

    # Cash: one huge deposit (10^13 of the currency overflowed the journal's integers),
    # then deposits up to the exchange-wide bound, and one unit past it.
    before = await alice.request("balance")
    r = await alice.request("deposit", amount=str(10**13))
    _refused(r, "amount")
    assert _strip(await alice.request("balance")) == _strip(before)
    r = await alice.request("deposit", amount="9000000000000")
    assert r["type"] == "balance", r
    r = await alice.request("deposit", amount="9000000000000")
    _refused(r, "amount")
    room = Decimal(str(r["message"]).split("at most ")[1].split(" ")[0])
    assert 0 < room < 9_000_000_000_000
    r = await alice.request("deposit", amount=str(room))
    assert r["type"] == "balance", r
    r = await alice.text(f"deposit {CASH_UNIT}")
    _refused(r, "amount")
    _refused(await alice.request("withdraw", amount=str(10**13)), "amount")
    await _normal_order_works(alice)

    # Errors name the field the request used.
    r = await alice.text("cancel cid=x")
    assert r["code"] == "unknown_order" and r["message"].startswith("client_order_id: "), r
    r = await alice.request("status", client_order_id="nope")
    assert r["message"] == "client_order_id: no such order 'nope'", r
    r = await alice.request("cancel", order_id=999_999)
    assert r["message"].startswith("order_id: "), r
    placed = await alice.place("TSLA", "buy", "1", "200.00", client_order_id="c-1")
    assert placed["type"] == "accepted", placed
    assert (await alice.request("cancel", client_order_id="c-1"))["type"] == "canceled"
    r = await alice.request("cancel", client_order_id="c-1")
    assert r["type"] == "error" and r["message"].startswith("client_order_id: "), r
    r = await alice.text("pause cid=c-1")
    assert r["type"] == "error" and r["message"].startswith("client_order_id: "), r
    await alice.close()


def _strip(reply: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in reply.items() if k != "ref"}


async def test_hostile_numbers_change_nothing_and_survive_kill9(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", tmp_path / "server.log")
    try:
        addr = await server.start()
        await _hostile_session(addr)
        before = await dump_state(addr)
        await server.kill9()
        addr = await server.start()
        after = await dump_state(addr)
        assert after == before, "\n".join(state_diff(before, after))
        # And it goes on accepting orders after the restart.
        alice = await Conn.open(addr)
        await alice.login("alice")
        await _normal_order_works(alice)
        await alice.close()
    finally:
        await server.stop_if_running()
    assert "Traceback" not in server.log()


async def test_help_lists_one_command_a_string(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", tmp_path / "server.log")
    try:
        addr = await server.start()
        anon = await Conn.open(addr)
        r = await anon.request("help")
        assert "\n" not in r["text"]
        assert len(r["commands"]) > 20
        assert all(isinstance(c, str) and "\n" not in c for c in r["commands"])
        assert any(c.startswith("login ") for c in r["commands"])
        raw_reply = await anon.text("help")
        assert raw_reply == _strip(r)
        await anon.send("help")
        line = await anon.recv_line()
        assert b"\\n" not in line
        await anon.close()
    finally:
        await server.stop_if_running()
