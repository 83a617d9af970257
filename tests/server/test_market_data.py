"""Market data without login: symbols, book, quote, trades, candles; streams and alerts."""

from __future__ import annotations

import re
from typing import Any

from tests.server.wire import Conn, connect

MINUTE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000000Z$")
DAY = re.compile(r"^\d{4}-\d\d-\d\dT00:00:00\.000000Z$")


async def test_symbols(anon: Conn, alice: Conn, bob: Conn) -> None:
    r = await anon.request("symbols", ref=1)
    # The contract's fields, then this server's additions (bounds, reference, band, name:
    # the symbol itself, as this config gives no names).
    assert r == {"type": "symbols", "ref": 1, "symbols": [
        {"symbol": "AAPL", "tick_size": "0.01", "lot_size": "1", "last": None, "status": "open",
         "max_qty": "10000000", "max_price": "100000.00", "reference_price": "150.00",
         "price_band": "0.1", "name": "AAPL"},
        {"symbol": "MSFT", "tick_size": "0.01", "lot_size": "1", "last": None, "status": "open",
         "max_qty": "10000000", "max_price": "100000.00", "reference_price": "420.00",
         "price_band": None, "name": "MSFT"},
        {"symbol": "BTC-USD", "tick_size": "0.01", "lot_size": "0.0001", "last": None,
         "status": "open", "max_qty": "100000.0000", "max_price": "10000000.00",
         "reference_price": "50000.00", "price_band": None, "name": "BTC-USD"},
        {"symbol": "XYZ", "tick_size": "0.05", "lot_size": "10", "last": None, "status": "open",
         "max_qty": "100000000", "max_price": "50000.00", "reference_price": None,
         "price_band": None, "name": "XYZ"},
    ]}
    await alice.order_id("XYZ", "sell", "10", "3")
    await bob.place("XYZ", "buy", "10", "3")
    r = await anon.text("symbols")
    assert r["symbols"][3]["last"] == "3.00"


async def test_book_levels_depth_and_paused_orders(anon: Conn, alice: Conn, bob: Conn) -> None:
    empty = await anon.request("book", symbol="AAPL")
    assert empty == {"type": "book", "symbol": "AAPL", "seq": 0, "bids": [], "asks": [],
                     "ref": empty["ref"]}
    for price, qty in [("149.00", "5"), ("149.50", "3"), ("149.50", "4"), ("148.00", "1")]:
        await alice.order_id("AAPL", "buy", qty, price)
    for price in ("150.50", "150.25", "151.00"):
        await bob.order_id("AAPL", "sell", "2", price)
    paused = await bob.order_id("AAPL", "sell", "9", "150.25")
    await bob.request("pause", order_id=paused)
    r = await anon.request("book", symbol="AAPL")
    assert r["bids"] == [["149.50", "7"], ["149.00", "5"], ["148.00", "1"]]
    assert r["asks"] == [["150.25", "2"], ["150.50", "2"], ["151.00", "2"]]
    assert r["seq"] == 9  # one per change of the visible book (the pause is one)
    r = await anon.request("book", symbol="AAPL", depth=1)
    assert (r["bids"], r["asks"]) == ([["149.50", "7"]], [["150.25", "2"]])
    r = await anon.text("book aapl 2")
    assert r["type"] == "book" and "ref" not in r
    assert (r["bids"], r["asks"]) == ([["149.50", "7"], ["149.00", "5"]],
                                      [["150.25", "2"], ["150.50", "2"]])
    for i in range(12):
        await alice.order_id("AAPL", "buy", "1", f"{140 + i * 0.25:.2f}")
    assert len((await anon.request("book", symbol="AAPL"))["bids"]) == 10  # default depth
    assert (await anon.request("book", symbol="NOPE"))["code"] == "unknown_symbol"
    assert (await anon.request("book", symbol="AAPL", depth=0))["code"] == "bad_request"


async def test_quote_and_session_statistics(anon: Conn, alice: Conn, bob: Conn,
                                            admin: Conn) -> None:
    q = await anon.request("quote", symbol="AAPL")
    assert q == {"type": "quote", "symbol": "AAPL", "bid": None, "bid_qty": None, "ask": None,
                 "ask_qty": None, "last": None, "open": None, "high": None, "low": None,
                 "volume": "0", "ref": q["ref"]}
    await bob.order_id("AAPL", "sell", "10", "150.00")
    await bob.order_id("AAPL", "sell", "10", "152.00")
    await alice.place("AAPL", "buy", "3", "150.00")
    await alice.place("AAPL", "buy", "9", "152.00")
    await alice.order_id("AAPL", "buy", "4", "149.00")
    await alice.order_id("AAPL", "buy", "1", "149.00")
    q = await anon.text("quote AAPL")
    assert q == {"type": "quote", "symbol": "AAPL", "bid": "149.00", "bid_qty": "5",
                 "ask": "152.00", "ask_qty": "8", "last": "152.00", "open": "150.00",
                 "high": "152.00", "low": "150.00", "volume": "12"}
    # open_market starts a new session: open/high/low/volume restart, last stays.
    await admin.request("close_market")
    await admin.request("open_market")
    q = await anon.request("quote", symbol="AAPL")
    assert (q["last"], q["open"], q["high"], q["low"], q["volume"]) == (
        "152.00", None, None, None, "0")
    await alice.place("AAPL", "buy", "1", "152.00")
    q = await anon.request("quote", symbol="AAPL")
    assert (q["open"], q["high"], q["low"], q["volume"]) == ("152.00", "152.00", "152.00", "1")
    assert (await anon.request("quote", symbol="nope"))["code"] == "unknown_symbol"


async def test_trades_and_candles(anon: Conn, alice: Conn, bob: Conn) -> None:
    sells = [await bob.order_id("BTC-USD", "sell", "0.0010", f"{50000 + i}.00")
             for i in range(4)]
    r = await alice.place("BTC-USD", "buy", "0.0025", "50010.00")
    buy = r["order"]["order_id"]
    t = await anon.request("trades", symbol="BTC-USD")
    assert [(x["trade_id"], x["price"], x["qty"], x["buy_order_id"], x["sell_order_id"],
             x["taker_side"]) for x in t["trades"]] == [
        (1, "50000.00", "0.0010", buy, sells[0], "buy"),
        (2, "50001.00", "0.0010", buy, sells[1], "buy"),
        (3, "50002.00", "0.0005", buy, sells[2], "buy")]
    assert set(t["trades"][0]) == {"trade_id", "symbol", "price", "qty", "buy_order_id",
                                   "sell_order_id", "taker_side", "ts"}
    t = await anon.request("trades", symbol="BTC-USD", limit=2)
    assert [x["trade_id"] for x in t["trades"]] == [2, 3]
    t = await anon.text("trades btc-usd 1")
    assert [x["trade_id"] for x in t["trades"]] == [3]
    c = await anon.request("candles", symbol="BTC-USD", interval="1m")
    [candle] = c["candles"]
    assert MINUTE.match(candle["t"])
    assert {k: v for k, v in candle.items() if k != "t"} == {
        "o": "50000.00", "h": "50002.00", "l": "50000.00", "c": "50002.00", "v": "0.0025"}
    d = await anon.text("candles BTC-USD 1d")
    assert DAY.match(d["candles"][0]["t"]) and d["candles"][0]["v"] == "0.0025"
    h = await anon.request("candles", symbol="BTC-USD", interval="1h", limit=5)
    assert h["candles"][0]["t"].endswith(":00:00.000000Z")
    assert (await anon.request("candles", symbol="AAPL", interval="5m"))["candles"] == []
    assert (await anon.request("trades", symbol="NOPE"))["code"] == "unknown_symbol"
    assert (await anon.request("candles", symbol="NOPE", interval="1m"))["code"] == (
        "unknown_symbol")


async def test_book_stream_snapshot_then_updates_with_seq(anon: Conn, alice: Conn,
                                                          bob: Conn) -> None:
    for i in range(15):
        await alice.order_id("AAPL", "buy", "1", f"{140 + i * 0.5:.2f}")
    await anon.send({"op": "subscribe", "channel": "book", "symbol": "AAPL", "ref": "s"})
    sub = await anon.recv()
    assert sub == {"type": "subscribed", "channel": "book", "symbol": "AAPL", "ref": "s"}
    snap = await anon.recv()
    assert snap["type"] == "book" and "ref" not in snap
    assert snap["seq"] == 15
    assert len(snap["bids"]) == 15 and snap["bids"][0] == ["147.00", "1"]  # full depth
    seq = snap["seq"]
    # A new level, a bigger level, a trade that removes a level, a cancel.
    a = await alice.order_id("AAPL", "sell", "5", "150.00")
    await bob.order_id("AAPL", "sell", "2", "150.00")
    await bob.place("AAPL", "buy", "7", "150.00")
    await alice.order_id("AAPL", "buy", "2", "146.50")
    c = await alice.place("AAPL", "buy", "1", "100.00")  # outside the band: no change
    assert c["type"] == "rejected" and c["order"]["reason"] == "price_band"
    await alice.request("cancel_all", symbol="AAPL")
    updates = [await anon.event("book_update") for _ in range(5)]
    assert [u["seq"] for u in updates] == [seq + 1, seq + 2, seq + 3, seq + 4, seq + 5]
    assert all(u["symbol"] == "AAPL" and "ref" not in u for u in updates)
    assert (updates[0]["bids"], updates[0]["asks"]) == ([], [["150.00", "5"]])
    assert (updates[1]["bids"], updates[1]["asks"]) == ([], [["150.00", "7"]])
    assert (updates[2]["bids"], updates[2]["asks"]) == ([], [["150.00", "0"]])
    assert (updates[3]["bids"], updates[3]["asks"]) == ([["146.50", "3"]], [])
    assert updates[4]["asks"] == []
    assert sorted(updates[4]["bids"]) == sorted([f"{140 + i * 0.5:.2f}", "0"]
                                                for i in range(15))
    assert a > 0
    book = await anon.request("book", symbol="AAPL")
    assert book["seq"] == seq + 5 and book["bids"] == [] and book["asks"] == []
    # Unsubscribed: no more updates.
    assert (await anon.text("unsubscribe book aapl")) == {
        "type": "unsubscribed", "channel": "book", "symbol": "AAPL"}
    await alice.order_id("AAPL", "buy", "1", "149.00")
    await anon.no_more()


async def test_book_stream_text_subscribe(anon: Conn, alice: Conn) -> None:
    await alice.order_id("MSFT", "buy", "3", "400.00")
    await anon.send("subscribe book msft")
    assert await anon.recv() == {"type": "subscribed", "channel": "book", "symbol": "MSFT"}
    snap = await anon.recv()
    assert snap == {"type": "book", "symbol": "MSFT", "seq": 1, "bids": [["400.00", "3"]],
                    "asks": []}


async def test_trade_stream(anon: Conn, alice: Conn, bob: Conn) -> None:
    r = await anon.request("subscribe", channel="trades", symbol="AAPL")
    assert r["type"] == "subscribed" and r["channel"] == "trades"
    await anon.request("subscribe", channel="trades", symbol="AAPL")  # twice is once
    s = await bob.order_id("AAPL", "sell", "5", "150.00")
    b = await alice.place("AAPL", "buy", "5", "151.00")
    await alice.order_id("MSFT", "sell", "1", "400.00")
    await bob.place("MSFT", "buy", "1", "400.00")  # not subscribed
    ev = await anon.event("trade")
    assert "ref" not in ev
    trade = ev["trade"]
    assert {k: v for k, v in trade.items() if k != "ts"} == {
        "trade_id": 1, "symbol": "AAPL", "price": "150.00", "qty": "5",
        "buy_order_id": b["order"]["order_id"], "sell_order_id": s, "taker_side": "buy"}
    await anon.no_more()
    await anon.request("unsubscribe", channel="trades", symbol="AAPL")
    await bob.order_id("AAPL", "sell", "5", "150.00")
    await alice.place("AAPL", "buy", "5", "151.00")
    await anon.no_more()


async def test_quote_stream(anon: Conn, alice: Conn, bob: Conn) -> None:
    await anon.text("subscribe quote AAPL")
    await alice.order_id("AAPL", "buy", "5", "149.00")
    q1 = await anon.event("quote")
    assert q1 == {"type": "quote", "symbol": "AAPL", "bid": "149.00", "bid_qty": "5",
                  "ask": None, "ask_qty": None, "last": None, "open": None, "high": None,
                  "low": None, "volume": "0"}
    await bob.place("AAPL", "sell", "2", "149.00")
    q2 = await anon.event("quote")
    assert (q2["bid_qty"], q2["last"], q2["open"], q2["volume"]) == ("3", "149.00", "149.00",
                                                                     "2")
    # A change below the top of the book changes no quote field: nothing is pushed.
    await alice.order_id("AAPL", "buy", "5", "148.00")
    await anon.no_more()
    await bob.order_id("AAPL", "sell", "1", "151.00")
    q3 = await anon.event("quote")
    assert (q3["ask"], q3["ask_qty"]) == ("151.00", "1")


async def test_quote_stream_after_resubscribing(anon: Conn, alice: Conn) -> None:
    await anon.request("subscribe", channel="quote", symbol="AAPL")
    first = await alice.order_id("AAPL", "buy", "5", "149.00")
    q1 = await anon.event("quote")
    assert (q1["bid"], q1["bid_qty"]) == ("149.00", "5")
    await anon.request("unsubscribe", channel="quote", symbol="AAPL")
    await alice.request("cancel", order_id=first)
    await anon.request("subscribe", channel="quote", symbol="AAPL")
    await alice.order_id("AAPL", "buy", "5", "149.00")  # the same quote as before, anew
    assert await anon.event("quote") == q1


async def test_subscribe_errors(anon: Conn) -> None:
    r = await anon.request("subscribe", channel="book", symbol="NOPE")
    assert r["type"] == "error" and r["code"] == "unknown_symbol"
    r = await anon.request("unsubscribe", channel="book", symbol="NOPE")
    assert r["code"] == "unknown_symbol"
    r = await anon.text("subscribe candles AAPL")
    assert r["code"] == "bad_request"


async def test_alerts(addr: tuple[str, int], alice: Conn, bob: Conn) -> None:
    other = await connect(addr, "alice")  # alerts go to every session of the user
    up = await alice.request("alert", symbol="AAPL", above="151.00")
    assert up["type"] == "alert_set" and isinstance(up["alert_id"], int)
    down = await alice.text("alert aapl below 149")
    assert down["type"] == "alert_set" and down["alert_id"] != up["alert_id"]
    await bob.order_id("AAPL", "sell", "10", "150.00")
    await alice.place("AAPL", "buy", "1", "150.00")
    await alice.no_more(ignore=("fill",))
    await bob.order_id("AAPL", "sell", "10", "151.00")
    await alice.place("AAPL", "buy", "10", "151.00")  # 9 @ 150, 1 @ 151
    ev = await alice.event("alert")
    assert ev == {"type": "alert", "alert_id": up["alert_id"], "symbol": "AAPL",
                  "last": "151.00"}
    assert await other.event("alert") == ev
    # One-shot: a later trade above does not fire it again.
    await alice.place("AAPL", "buy", "1", "151.00")
    await alice.no_more(ignore=("fill",))
    await other.no_more(ignore=("fill",))
    await alice.order_id("AAPL", "buy", "5", "148.50")
    await bob.place("AAPL", "sell", "5", "148.50")
    ev = await alice.event("alert")
    assert ev == {"type": "alert", "alert_id": down["alert_id"], "symbol": "AAPL",
                  "last": "148.50"}
    # An alert already due fires right after alert_set.
    await alice.send({"op": "alert", "symbol": "AAPL", "below": "160", "ref": "due"})
    first = await alice.recv()
    assert first["type"] == "alert_set" and first["ref"] == "due"
    ev = await alice.event("alert")
    assert (ev["alert_id"], ev["last"]) == (first["alert_id"], "148.50")
    # Errors.
    r = await alice.request("alert", symbol="AAPL", above="151.001")
    assert r["code"] == "bad_request" and "above" in r["message"]
    r = await alice.request("alert", symbol="NOPE", above="1")
    assert r["code"] == "unknown_symbol"
    r = await alice.request("alert", symbol="AAPL", above="1", below="2")
    assert r["code"] == "bad_request"
    anon = await connect(addr)
    assert (await anon.request("alert", symbol="AAPL", above="1"))["code"] == "auth_required"


def _levels(book: dict[str, Any]) -> tuple[list[list[str]], list[list[str]]]:
    return book["bids"], book["asks"]


async def test_book_stream_replays_to_the_book(anon: Conn, alice: Conn, bob: Conn) -> None:
    """Applying every update to the snapshot gives the book the server reports."""
    await alice.order_id("AAPL", "buy", "3", "149.00")
    await anon.request("subscribe", channel="book", symbol="AAPL")
    snap = await anon.event("book")
    bids = {p: q for p, q in snap["bids"]}
    asks = {p: q for p, q in snap["asks"]}
    seq = snap["seq"]
    for i in range(20):
        conn, side = (alice, "buy") if i % 2 else (bob, "sell")
        price = f"{149 + (i % 5) * 0.25:.2f}"
        await conn.place("AAPL", side, str(1 + i % 3), price)
    end = await anon.request("book", symbol="AAPL", depth=100)
    while seq < end["seq"]:
        u = await anon.event("book_update")
        assert u["seq"] == seq + 1
        seq = u["seq"]
        for levels, rows in ((bids, u["bids"]), (asks, u["asks"])):
            for p, q in rows:
                if q == "0":
                    levels.pop(p)
                else:
                    levels[p] = q
    assert sorted(bids.items(), reverse=True) == [tuple(x) for x in end["bids"]]
    assert sorted(asks.items()) == [tuple(x) for x in end["asks"]]
