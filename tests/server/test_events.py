"""Events pushed to the owner of an order, across sessions and users."""

from __future__ import annotations

import json

from tests.server.wire import Conn, connect


async def test_maker_in_another_users_session_gets_fill(alice: Conn, bob: Conn) -> None:
    sell = await alice.order_id("AAPL", "sell", "10", "150.00")
    r = await bob.place("AAPL", "buy", "4", "150.00")
    ev = await alice.event("fill")
    assert set(ev) == {"type", "order", "fill"}
    assert ev["order"]["order_id"] == sell
    assert (ev["order"]["status"], ev["order"]["filled_qty"], ev["order"]["leaves_qty"]) == (
        "partially_filled", "4", "6")
    assert ev["fill"]["trade_id"] == r["fills"][0]["trade_id"]
    assert (ev["fill"]["order_id"], ev["fill"]["side"], ev["fill"]["liquidity"]) == (
        sell, "sell", "maker")
    # The taker learns from its reply only.
    await bob.no_more()


async def test_two_sessions_of_one_user(addr: tuple[str, int], alice: Conn, bob: Conn) -> None:
    alice2 = await connect(addr, "alice")
    sell = await alice.order_id("AAPL", "sell", "10", "150.00")
    # Both sessions hear of the fill of the resting order.
    await bob.place("AAPL", "buy", "3", "150.00")
    ev1 = await alice.event("fill")
    ev2 = await alice2.event("fill")
    assert ev1 == ev2 and ev1["order"]["order_id"] == sell
    # A cancel from the other session: reply there, `canceled` event here.
    r = await alice2.request("cancel", order_id=sell)
    assert r["type"] == "canceled"
    ev = await alice.event("canceled")
    assert "ref" not in ev
    assert ev["order"] == r["order"]
    await alice2.no_more()
    # What one session's order does as a taker is pushed to the other session.
    await bob.order_id("AAPL", "sell", "2", "150.00")
    r = await alice.place("AAPL", "buy", "5", "150.00", tif="ioc")
    assert (r["order"]["status"], r["order"]["filled_qty"]) == ("expired", "2")
    fill = await alice2.event("fill")
    assert fill["order"]["order_id"] == r["order"]["order_id"]
    assert (fill["fill"]["liquidity"], fill["fill"]["qty"]) == ("taker", "2")
    expired = await alice2.event("expired")
    assert expired["order"]["order_id"] == r["order"]["order_id"]
    await alice.no_more()
    # cancel_all from one session: a canceled event per order in the other.
    ids = [await alice.order_id("AAPL", "buy", "1", "149.00") for _ in range(3)]
    r = await alice2.text("cancel all")
    assert r["order_ids"] == ids
    evs = [await alice.event("canceled") for _ in ids]
    assert [e["order"]["order_id"] for e in evs] == ids
    assert {e["order"]["status"] for e in evs} == {"canceled"}
    # A modify from the other session that trades pushes the fills.
    buy = await alice.order_id("AAPL", "buy", "2", "149.00")
    await bob.order_id("AAPL", "sell", "1", "149.50")
    r = await alice2.request("modify", order_id=buy, price="149.50")
    assert len(r["fills"]) == 1
    fill = await alice.event("fill")
    assert fill["order"]["order_id"] == buy and fill["fill"]["price"] == "149.50"


async def test_self_trade_maker_side_pushed_to_the_session_that_caused_it(alice: Conn) -> None:
    sell = await alice.order_id("AAPL", "sell", "1", "150.00")
    r = await alice.place("AAPL", "buy", "1", "150.00")
    assert r["fills"][0]["liquidity"] == "taker"
    ev = await alice.event("fill")
    assert ev["order"]["order_id"] == sell and ev["fill"]["liquidity"] == "maker"


async def test_event_never_arrives_before_the_reply_that_accepted_the_order(
        alice: Conn, bob: Conn) -> None:
    for i in range(30):
        place = {"op": "place", "ref": f"s{i}", "symbol": "AAPL", "side": "sell", "qty": "1",
                 "price": "150.00"}
        take = {"op": "place", "ref": f"b{i}", "symbol": "AAPL", "side": "buy", "qty": "1",
                "price": "150.00"}
        await alice.send_raw(json.dumps(place).encode() + b"\n")
        await bob.send_raw(json.dumps(take).encode() + b"\n")
        first = await alice.recv()
        assert first["type"] == "accepted" and first["ref"] == f"s{i}", first
        if first["order"]["status"] != "filled":  # bob's buy came first, alice took it
            ev = await alice.recv()
            assert ev["type"] == "fill" and ev["order"]["order_id"] == first["order"]["order_id"]
        reply = await bob.reply(f"b{i}")
        if reply["order"]["status"] != "filled":
            ev = await bob.recv()
            assert ev["type"] == "fill", ev
        bob.events.clear()


async def test_triggered_and_fill_events_of_a_stop(addr: tuple[str, int], alice: Conn,
                                                   bob: Conn) -> None:
    alice2 = await connect(addr, "alice")
    await bob.order_id("AAPL", "sell", "10", "150.00")
    stop = await alice.order_id("AAPL", "buy", "2", kind="stop", stop_price="150.00")
    r = await alice.place("AAPL", "buy", "1", "150.00")  # last = 150: the stop triggers
    assert r["order"]["status"] == "filled"
    for conn in (alice, alice2):
        trig = await conn.event("triggered")
        assert trig["order"]["order_id"] == stop and trig["order"]["status"] == "accepted"
        fill = await conn.event("fill", lambda m: m["order"]["order_id"] == stop)
        assert fill["order"]["status"] == "filled" and fill["fill"]["qty"] == "2"


async def test_stop_triggered_by_its_own_request_is_pushed_to_other_sessions(
        addr: tuple[str, int], alice: Conn, bob: Conn) -> None:
    alice2 = await connect(addr, "alice")
    await bob.order_id("AAPL", "sell", "10", "150.00")
    await alice.place("AAPL", "buy", "1", "150.00")  # last = 150.00
    await alice2.event("fill")
    # A stop whose condition holds on arrival: the reply tells this session; the other
    # session hears that it triggered, then its fill.
    r = await alice.place("AAPL", "buy", "2", kind="stop", stop_price="150.00")
    assert r["order"]["status"] == "filled" and len(r["fills"]) == 1
    trig = await alice2.recv()
    assert trig["type"] == "triggered" and trig["order"]["order_id"] == r["order"]["order_id"]
    fill = await alice2.recv()
    assert fill["type"] == "fill" and fill["fill"]["trade_id"] == r["fills"][0]["trade_id"]
    # resume of a paused stop whose condition now holds triggers it too.
    stop = await alice.order_id("AAPL", "buy", "1", kind="stop", stop_price="150.50")
    await alice.request("pause", order_id=stop)
    await alice.place("AAPL", "buy", "7", "150.00")  # takes the rest of bob's sell
    await alice.order_id("AAPL", "sell", "1", "151.00")
    await alice.place("AAPL", "buy", "1", "151.00")  # last = 151.00 (a self-trade)
    await alice2.no_more(ignore=("fill",))
    r = await alice.request("resume", order_id=stop)
    assert r["order"]["status"] == "expired"  # a market buy facing an empty book
    trig = await alice2.recv()
    assert trig["type"] == "triggered" and trig["order"]["order_id"] == stop
    expired = await alice2.recv()
    assert expired["type"] == "expired" and expired["order"]["order_id"] == stop
    await alice.no_more(ignore=("fill",))
