"""Administration, halts, market close, and expiry by timer, lazily and at the close."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta

import pytest

from exchange.core.builds import active_build
from tests.server.conftest import StartServer
from tests.server.wire import Conn, connect


async def test_halt_and_resume_trading(alice: Conn, bob: Conn, admin: Conn) -> None:
    resting = await alice.order_id("AAPL", "buy", "10", "149.00")
    paused = await alice.order_id("AAPL", "buy", "5", "148.00")
    await alice.request("pause", order_id=paused)
    other = await alice.order_id("AAPL", "buy", "1", "147.00")
    r = await admin.request("halt", ref="h", symbol="AAPL")
    assert r == {"type": "halted", "symbol": "AAPL", "ref": "h"}
    syms = {s["symbol"]: s["status"] for s in (await bob.request("symbols"))["symbols"]}
    assert syms == {"AAPL": "halted", "MSFT": "open", "BTC-USD": "open", "XYZ": "open"}
    # place is rejected; modify and resume answer bad_state.
    r = await bob.place("AAPL", "sell", "10", "149.00")
    assert r["type"] == "rejected" and r["order"]["reason"] == "halted"
    r = await alice.request("modify", order_id=resting, qty="5")
    assert r["type"] == "error" and r["code"] == "bad_state"
    r = await alice.request("resume", order_id=paused)
    assert r["code"] == "bad_state"
    assert (await alice.text(f"modify {resting} price=149.01"))["code"] == "bad_state"
    # cancel, pause, cancel_all and queries work.
    r = await alice.request("pause", order_id=resting)
    assert r["type"] == "paused"
    r = await alice.request("cancel", order_id=resting)
    assert r["type"] == "canceled"
    r = await alice.request("cancel_all", symbol="AAPL")
    assert r["order_ids"] == [paused, other]
    assert (await bob.request("book", symbol="AAPL"))["type"] == "book"
    assert (await bob.request("quote", symbol="AAPL"))["type"] == "quote"
    assert (await alice.request("orders"))["orders"] == []
    # Other symbols trade on.
    await alice.order_id("MSFT", "sell", "1", "400.00")
    assert (await bob.place("MSFT", "buy", "1", "400.00"))["order"]["status"] == "filled"
    r = await admin.text("resume_trading aapl")
    assert r == {"type": "trading_resumed", "symbol": "AAPL"}
    assert (await bob.place("AAPL", "sell", "1", "160.00"))["type"] == "accepted"
    assert (await admin.text("halt aapl")) == {"type": "halted", "symbol": "AAPL"}
    assert (await admin.request("halt", symbol="NOPE"))["code"] == "unknown_symbol"
    assert (await admin.request("resume_trading", symbol="NOPE"))["code"] == "unknown_symbol"


async def test_close_market_expires_day_orders(alice: Conn, bob: Conn, admin: Conn) -> None:
    day1 = await alice.order_id("AAPL", "buy", "10", "149.00", tif="day")
    gtc = await alice.order_id("AAPL", "buy", "10", "148.00")
    day2 = await bob.order_id("MSFT", "sell", "10", "500.00", tif="day")
    stop = await bob.order_id("AAPL", "sell", "5", kind="stop", stop_price="140.00",
                              tif="day")
    r = await admin.request("close_market", ref=1)
    assert r == {"type": "market_closed", "count": 3, "order_ids": [day1, day2, stop], "ref": 1}
    ev = await alice.event("expired")
    assert ev["order"]["order_id"] == day1 and ev["order"]["status"] == "expired"
    assert ev["order"]["leaves_qty"] == "0"
    evs = [await bob.event("expired") for _ in range(2)]
    assert sorted(e["order"]["order_id"] for e in evs) == [day2, stop]
    assert (await alice.request("status", order_id=gtc))["order"]["status"] == "accepted"
    assert (await alice.request("balance"))["reserved"] == "1480"
    syms = {s["symbol"]: s["status"] for s in (await bob.request("symbols"))["symbols"]}
    assert set(syms.values()) == {"closed"}
    # Closed: place rejected, modify and resume bad_state, cancel and pause work.
    r = await alice.place("AAPL", "buy", "1", "149.00")
    assert r["type"] == "rejected" and r["order"]["reason"] == "market_closed"
    assert (await alice.request("modify", order_id=gtc, qty="5"))["code"] == "bad_state"
    assert (await alice.request("pause", order_id=gtc))["type"] == "paused"
    assert (await alice.request("resume", order_id=gtc))["code"] == "bad_state"
    assert (await alice.request("cancel", order_id=gtc))["type"] == "canceled"
    r = await admin.request("open_market", ref="o")
    assert r == {"type": "market_opened", "ref": "o"}
    assert (await alice.place("AAPL", "buy", "1", "149.00"))["type"] == "accepted"


async def test_close_market_expire_all(alice: Conn, bob: Conn, admin: Conn) -> None:
    ids = [await alice.order_id("AAPL", "buy", "10", "149.00"),
           await alice.order_id("MSFT", "sell", "10", "500.00", tif="day"),
           await bob.order_id("BTC-USD", "buy", "0.1", "40000.00", ttl_ms=3_600_000),
           await bob.order_id("AAPL", "sell", "1", kind="stop", stop_price="100.00")]
    paused = await alice.order_id("XYZ", "sell", "10", "2.00")
    await alice.request("pause", order_id=paused)
    ids.append(paused)
    r = await admin.text("close_market all")
    assert r == {"type": "market_closed", "count": 5, "order_ids": sorted(ids)}
    assert (await alice.request("orders"))["orders"] == []
    assert (await bob.request("orders"))["orders"] == []
    statuses = {o["status"] for o in (await alice.request("orders", status="all"))["orders"]}
    assert statuses == {"expired"}
    assert (await alice.request("balance"))["reserved"] == "0"
    assert (await admin.text("open_market")) == {"type": "market_opened"}


async def test_close_market_runs_after_earlier_requests(admin: Conn) -> None:
    """Requests are answered in order: a place sent before close_market is not closed out."""
    place = {"op": "place", "ref": 1, "symbol": "AAPL", "side": "buy", "qty": "1",
             "price": "149.00", "tif": "day"}
    await admin.send_raw(f"{json.dumps(place)}\n{json.dumps({'op': 'close_market', 'ref': 2})}\n"
                         .encode())
    placed = await admin.reply(1)
    closed = await admin.reply(2)
    assert placed["type"] == "accepted", placed
    assert closed["order_ids"] == [placed["order"]["order_id"]]
    # And a place sent right behind close_market (or open_market) sees it done.
    lines = [{"op": "open_market", "ref": 3}, {**place, "ref": 4},
             {"op": "close_market", "ref": 5}, {**place, "ref": 6}]
    await admin.send_raw("".join(json.dumps(x) + "\n" for x in lines).encode())
    assert (await admin.reply(3))["type"] == "market_opened"
    assert (await admin.reply(4))["type"] == "accepted"
    assert (await admin.reply(5))["count"] == 1
    late = await admin.reply(6)
    assert late["type"] == "rejected" and late["order"]["reason"] == "market_closed"


async def test_stats(alice: Conn, bob: Conn, admin: Conn) -> None:
    await alice.order_id("AAPL", "sell", "1", "150.00")
    await bob.place("AAPL", "buy", "1", "150.00")
    await bob.order_id("AAPL", "buy", "1", "149.00")
    r = await admin.request("stats")
    assert r["type"] == "stats"
    c = r["counters"]
    assert c["sessions"] == 3 and c["orders"] == 3 and c["trades"] == 1
    assert c["live_orders"] == 1
    assert all(isinstance(v, int) for v in c.values())
    assert {k for k in c if k.startswith("queue_depth.")} == {
        "queue_depth.AAPL", "queue_depth.MSFT", "queue_depth.BTC-USD", "queue_depth.XYZ"}
    assert (await admin.text("stats"))["type"] == "stats"
    assert r["build"] == active_build() and r["build"] in ("python", "compiled")


# -- expiry -------------------------------------------------------------------------------------

async def test_ttl_expires_by_timer_without_traffic(alice: Conn, bob: Conn) -> None:
    r = await alice.place("AAPL", "buy", "5", "149.00", ttl_ms=200)
    order = r["order"]
    assert (order["tif"], order["status"]) == ("gtd", "accepted")
    assert order["expires_at"] > order["accepted_at"]
    assert (await alice.request("balance"))["reserved"] == "745"
    # Nobody sends anything: the event must come by itself.
    ev = await alice.event("expired", timeout=3.0)
    assert ev["order"]["order_id"] == order["order_id"]
    assert (ev["order"]["status"], ev["order"]["leaves_qty"], ev["order"]["reason"]) == (
        "expired", "0", None)
    assert (await alice.request("balance"))["reserved"] == "0"
    assert (await bob.request("book", symbol="AAPL"))["bids"] == []


async def test_text_ttl_and_expire_at(alice: Conn) -> None:
    r = await alice.text("buy AAPL 1 149 ttl=150ms")
    assert r["order"]["tif"] == "gtd"
    at = (datetime.utcnow() + timedelta(milliseconds=300)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    r2 = await alice.place("AAPL", "buy", "1", "149.00", expire_at=at)
    assert r2["order"]["expires_at"] == at and r2["order"]["tif"] == "gtd"
    e1 = await alice.event("expired", timeout=3.0)
    e2 = await alice.event("expired", timeout=3.0)
    assert [e1["order"]["order_id"], e2["order"]["order_id"]] == [
        r["order"]["order_id"], r2["order"]["order_id"]]


async def test_expired_order_never_trades(alice: Conn, bob: Conn) -> None:
    """Whether the timer or the next match sees it first, an expired order does not trade."""
    for _ in range(3):
        r = await alice.place("AAPL", "sell", "5", "150.00", ttl_ms=50)
        expires_at = r["order"]["expires_at"]
        # Wait on the server's own clock (pong ts), then cross right away.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3.0
        while (await bob.request("ping"))["ts"] <= expires_at:
            assert loop.time() < deadline
        b = await bob.place("AAPL", "buy", "5", "150.00")
        assert b["fills"] == [] and b["order"]["status"] == "accepted", b
        ev = await alice.event("expired")
        assert ev["order"]["order_id"] == r["order"]["order_id"]
        assert ev["order"]["filled_qty"] == "0"
        await bob.request("cancel", order_id=b["order"]["order_id"])
    assert (await alice.request("fills"))["fills"] == []


async def test_expired_order_never_trades_when_the_timer_is_late(alice: Conn) -> None:
    """The timer's command queues behind requests already read: the crossing order
    below runs first, after the expiry time, and must find the order expired (lazy)."""
    dead = await alice.order_id("AAPL", "buy", "1", "140.00")
    await alice.request("cancel", order_id=dead)
    sell = {"op": "place", "ref": "sell", "symbol": "AAPL", "side": "sell", "qty": "5",
            "price": "150.00", "ttl_ms": 1}
    buy = {"op": "place", "ref": "buy", "symbol": "AAPL", "side": "buy", "qty": "5",
           "price": "150.00"}
    filler = f"cancel {dead}\n".encode() * 5000  # keeps the actor busy past the expiry
    await alice.send_raw(json.dumps(sell).encode() + b"\n" + filler
                         + json.dumps(buy).encode() + b"\n")
    placed = await alice.reply("sell")
    assert placed["order"]["status"] == "accepted"
    crossing = await alice.reply("buy", timeout=10)
    assert crossing["fills"] == [] and crossing["order"]["status"] == "accepted", crossing
    ev = await alice.event("expired")
    assert ev["order"]["order_id"] == placed["order"]["order_id"]
    assert (await alice.request("fills"))["fills"] == []


async def test_ttl_order_filled_before_it_expires(alice: Conn, bob: Conn) -> None:
    r = await alice.place("AAPL", "sell", "5", "150.00", ttl_ms=300)
    await bob.place("AAPL", "buy", "5", "150.00")
    fill = await alice.event("fill")
    assert fill["order"]["status"] == "filled"
    # No expired event follows for a filled order; wait past its expiry on the server clock.
    while (await alice.request("ping"))["ts"] <= r["order"]["expires_at"]:
        pass
    await alice.no_more()


async def test_daily_close_from_config(start_server: StartServer) -> None:
    now = datetime.now()
    close = (now + timedelta(seconds=2)).replace(microsecond=0)
    if close.date() != now.date():
        pytest.skip("too close to midnight")
    server = start_server(f'[market]\nclose = "{close:%H:%M:%S}"\n')
    alice = await connect(server.addr, "alice")
    day = await alice.order_id("AAPL", "buy", "1", "149.00", tif="day")
    gtc = await alice.order_id("AAPL", "buy", "1", "148.00")
    ev = await alice.event("expired", timeout=5.0)
    assert ev["order"]["order_id"] == day
    # The market stays open.
    assert (await alice.place("AAPL", "buy", "1", "149.00", tif="day"))["type"] == "accepted"
    assert (await alice.request("status", order_id=gtc))["order"]["status"] == "accepted"
