"""Order ops end to end, through JSON and the text grammar: place, modify, cancel,
cancel_all, pause, resume, status, orders, fills; their replies to the byte."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.server.wire import Conn, connect

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def without(msg: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in msg.items() if k not in keys}


# -- place ---------------------------------------------------------------------------------

async def test_place_limit_rests_with_the_whole_order_record(alice: Conn) -> None:
    reply = await alice.request("place", ref="p1", symbol="AAPL", side="buy", qty="100",
                                price="150.25", client_order_id="a1")
    assert reply["type"] == "accepted" and reply["ref"] == "p1"
    assert reply["fills"] == [] and reply["duplicate"] is False
    order = reply["order"]
    assert TS.match(order["accepted_at"])
    assert without(order, "accepted_at") == {
        "order_id": 1, "client_order_id": "a1", "user": "alice", "symbol": "AAPL",
        "side": "buy", "kind": "limit", "tif": "gtc", "price": "150.25", "stop_price": None,
        "qty": "100", "filled_qty": "0", "leaves_qty": "100", "avg_price": None,
        "status": "accepted", "reason": None, "expires_at": None,
    }
    assert list(order) == ["order_id", "client_order_id", "user", "symbol", "side", "kind",
                           "tif", "price", "stop_price", "qty", "filled_qty", "leaves_qty",
                           "avg_price", "status", "reason", "accepted_at", "expires_at"]
    book = await alice.request("book", symbol="AAPL")
    assert book["bids"] == [["150.25", "100"]] and book["asks"] == []


async def test_place_text_forms(alice: Conn, bob: Conn) -> None:
    r1 = await alice.text("buy AAPL 100 @ 150.25")
    assert r1["type"] == "accepted" and "ref" not in r1
    assert (r1["order"]["side"], r1["order"]["qty"], r1["order"]["price"]) == (
        "buy", "100", "150.25")
    r2 = await alice.text("BUY aapl 5 150.2")  # no @; case-insensitive; symbol upper-cased
    assert (r2["order"]["symbol"], r2["order"]["price"]) == ("AAPL", "150.20")
    r3 = await bob.text("sell AAPL 50 150.30 ioc")
    assert r3["order"]["tif"] == "ioc" and r3["order"]["status"] == "expired"
    r4 = await bob.text("sell AAPL 10 market")
    assert r4["order"]["kind"] == "market" and r4["order"]["price"] is None
    assert r4["order"]["status"] == "filled" and r4["order"]["avg_price"] == "150.25000000"
    r5 = await bob.text("sell AAPL 10 stop=148")
    assert (r5["order"]["kind"], r5["order"]["stop_price"], r5["order"]["status"]) == (
        "stop", "148.00", "pending")
    r6 = await bob.text("sell AAPL 10 stop=148 limit=147.5")
    assert (r6["order"]["kind"], r6["order"]["price"], r6["order"]["stop_price"]) == (
        "stop_limit", "147.50", "148.00")
    r7 = await alice.text("buy BTC-USD 0.5 @ 50000 ttl=30s cid=my-1 post_only stp=cancel_newest")
    o7 = r7["order"]
    assert r7["type"] == "accepted", r7
    assert (o7["symbol"], o7["qty"], o7["price"], o7["tif"], o7["client_order_id"]) == (
        "BTC-USD", "0.5000", "50000.00", "gtd", "my-1")
    assert TS.match(o7["expires_at"])
    r8 = await alice.text("buy AAPL 3 149 day")
    assert r8["order"]["tif"] == "day"
    r9 = await alice.text("buy AAPL 3 149 fok")
    assert r9["order"]["tif"] == "fok" and r9["order"]["status"] == "expired"
    r10 = await alice.text("buy AAPL 3 149 gtc")
    assert r10["order"]["tif"] == "gtc" and r10["order"]["status"] == "accepted"
    bad = await alice.text("buy AAPL 3 @ cheap")
    assert bad["type"] == "error" and bad["code"] == "bad_request"
    bad = await alice.text("buy AAPL")
    assert bad["code"] == "bad_request"


async def test_numbers_as_json_numbers_and_decimal_formats(alice: Conn, bob: Conn) -> None:
    r = await alice.request("place", symbol="AAPL", side="buy", qty=7, price=150.1)
    assert (r["order"]["qty"], r["order"]["price"]) == ("7", "150.10")
    r = await alice.request("place", symbol="AAPL", side="buy", qty="7.000", price="150.100")
    assert (r["order"]["qty"], r["order"]["price"]) == ("7", "150.10")
    r = await alice.request("place", symbol="BTC-USD", side="buy", qty=1, price="49999.5")
    assert (r["order"]["qty"], r["order"]["price"]) == ("1.0000", "49999.50")
    r = await alice.request("place", symbol="XYZ", side="buy", qty="30", price="1.1")
    assert (r["order"]["qty"], r["order"]["price"]) == ("30", "1.10")
    # A decimal *string* has no exponent (issue 8): refused, naming the field; the plain
    # spelling of the same order is placed.
    r = await alice.request("place", symbol="BTC-USD", side="buy", qty="1E-4", price="40000")
    assert r["code"] == "bad_request" and "`$.qty`" in r["message"], r
    r = await alice.request("place", symbol="BTC-USD", side="buy", qty="0.0001", price="4E+4")
    assert r["code"] == "bad_request" and "`$.price`" in r["message"], r
    r = await alice.request("place", symbol="BTC-USD", side="buy", qty="0.0001", price="40000")
    assert (r["order"]["qty"], r["order"]["price"]) == ("0.0001", "40000.00")
    # Fills: 10 XYZ at 1.10, then avg of 1.10 and 1.05.
    s = await bob.request("place", symbol="XYZ", side="sell", qty="20", price="1.05")
    assert s["order"]["avg_price"] == "1.10000000"
    assert s["fills"][0]["price"] == "1.10" and s["fills"][0]["qty"] == "20"
    b = await alice.request("place", symbol="XYZ", side="buy", qty="30", price="1.10")
    await bob.request("place", symbol="XYZ", side="sell", qty="20", price="1.05")
    st = await alice.request("status", order_id=b["order"]["order_id"])
    assert st["order"]["filled_qty"] == "10" and st["order"]["avg_price"] == "1.10000000"


async def test_avg_price_rounds_half_even_to_six_more_places(alice: Conn, bob: Conn) -> None:
    # 127 @ 150.00 + 1 @ 150.01 over 128 lots: 150.000078125 -> ...7812 (2 is even).
    await bob.order_id("AAPL", "sell", "127", "150.00")
    await bob.order_id("AAPL", "sell", "1", "150.01")
    r = await alice.place("AAPL", "buy", "128", "150.01")
    assert r["order"]["status"] == "filled"
    assert r["order"]["avg_price"] == "150.00007812"
    assert [(f["price"], f["qty"]) for f in r["fills"]] == [("150.00", "127"), ("150.01", "1")]
    # 125 @ 150.00 + 3 @ 150.01: 150.000234375 -> ...3438 (7 is odd, rounds up).
    await bob.order_id("AAPL", "sell", "125", "150.00")
    await bob.order_id("AAPL", "sell", "3", "150.01")
    r = await alice.place("AAPL", "buy", "128", "150.01")
    assert r["order"]["avg_price"] == "150.00023438"
    # BTC-USD: tick 0.01 -> 8 places; 1/3 of a cent.
    await bob.order_id("BTC-USD", "sell", "0.0002", "50000.00")
    await bob.order_id("BTC-USD", "sell", "0.0001", "50000.01")
    r = await alice.place("BTC-USD", "buy", "0.0003", "50000.01")
    assert r["order"]["avg_price"] == "50000.00333333"
    assert r["order"]["filled_qty"] == "0.0003" and r["order"]["leaves_qty"] == "0"


async def test_partial_fill_and_fill_record(alice: Conn, bob: Conn) -> None:
    sell = await bob.order_id("AAPL", "sell", "40", "150.20")
    r = await alice.place("AAPL", "buy", "100", "150.25")
    assert r["type"] == "accepted"
    order = r["order"]
    assert (order["status"], order["filled_qty"], order["leaves_qty"], order["avg_price"]) == (
        "partially_filled", "40", "60", "150.20000000")
    [fill] = r["fills"]
    assert TS.match(fill["ts"])
    assert without(fill, "ts") == {
        "trade_id": 1, "symbol": "AAPL", "price": "150.20", "qty": "40",
        "buy_order_id": order["order_id"], "sell_order_id": sell, "taker_side": "buy",
        "order_id": order["order_id"], "side": "buy", "liquidity": "taker", "fee": "0"}
    event = await bob.event("fill")
    assert event["order"]["order_id"] == sell and event["order"]["status"] == "filled"
    assert event["order"]["leaves_qty"] == "0"
    assert without(event["fill"], "order_id", "side", "liquidity") == without(
        fill, "order_id", "side", "liquidity")  # the fee too: the demo market charges none
    assert (event["fill"]["order_id"], event["fill"]["side"], event["fill"]["liquidity"]) == (
        sell, "sell", "maker")
    book = await alice.request("book", symbol="AAPL")
    assert book["bids"] == [["150.25", "60"]] and book["asks"] == []


async def test_price_time_priority_and_maker_price(alice: Conn, bob: Conn) -> None:
    carol = await connect(alice_addr(alice), "carol")
    a = await alice.order_id("AAPL", "sell", "5", "150.10")
    b = await bob.order_id("AAPL", "sell", "5", "150.00")
    c = await carol.order_id("AAPL", "sell", "5", "150.00")
    r = await alice.place("AAPL", "buy", "12", "150.50")  # alice takes; trades at maker prices
    assert [(f["sell_order_id"], f["price"], f["qty"]) for f in r["fills"]] == [
        (b, "150.00", "5"), (c, "150.00", "5"), (a, "150.10", "2")]
    assert r["order"]["status"] == "filled"
    # The self-trade with her own sell is allowed by default (stp none).


def alice_addr(conn: Conn) -> tuple[str, int]:
    host, port = conn.writer.get_extra_info("peername")[:2]
    return host, port


async def test_market_orders(alice: Conn, bob: Conn) -> None:
    await bob.order_id("AAPL", "sell", "3", "150.00")
    await bob.order_id("AAPL", "sell", "3", "151.00")
    r = await alice.request("place", symbol="AAPL", side="buy", qty="10", kind="market")
    o = r["order"]
    assert r["type"] == "accepted"
    assert (o["kind"], o["price"], o["status"], o["filled_qty"], o["leaves_qty"]) == (
        "market", None, "expired", "6", "0")
    assert o["avg_price"] == "150.50000000"
    r = await alice.request("place", symbol="AAPL", side="buy", qty="1", kind="market")
    assert r["type"] == "rejected" and r["order"]["reason"] == "no_liquidity"


async def test_market_buy_is_capped_by_available_cash(addr: tuple[str, int], bob: Conn) -> None:
    poor = await connect(addr, "poor")
    await bob.order_id("MSFT", "sell", "10", "40.00")
    r = await poor.request("place", symbol="MSFT", side="buy", qty="5", kind="market")
    o = r["order"]
    assert r["type"] == "accepted"
    assert (o["status"], o["reason"], o["filled_qty"], o["leaves_qty"]) == (
        "canceled", "insufficient_funds", "2", "0")
    assert (await poor.request("balance"))["cash"] == "20"
    r = await poor.request("place", symbol="MSFT", side="buy", qty="1", kind="market")
    assert r["type"] == "rejected" and r["order"]["reason"] == "insufficient_funds"


async def test_ioc_and_fok(alice: Conn, bob: Conn) -> None:
    await bob.order_id("AAPL", "sell", "5", "150.00")
    r = await alice.place("AAPL", "buy", "8", "150.00", tif="ioc")
    assert (r["order"]["status"], r["order"]["filled_qty"], r["order"]["leaves_qty"]) == (
        "expired", "5", "0")
    await bob.order_id("AAPL", "sell", "5", "150.00")
    r = await alice.place("AAPL", "buy", "8", "150.00", tif="fok")
    assert (r["order"]["status"], r["order"]["filled_qty"], r["fills"]) == ("expired", "0", [])
    r = await alice.place("AAPL", "buy", "5", "150.00", tif="fok")
    assert (r["order"]["status"], r["order"]["filled_qty"]) == ("filled", "5")
    assert (await alice.request("book", symbol="AAPL"))["asks"] == []


async def test_post_only(alice: Conn, bob: Conn) -> None:
    await bob.order_id("AAPL", "sell", "5", "150.00")
    r = await alice.place("AAPL", "buy", "5", "150.00", post_only=True)
    assert r["type"] == "rejected"
    assert (r["order"]["status"], r["order"]["reason"], r["order"]["leaves_qty"]) == (
        "rejected", "would_take", "0")
    r = await alice.place("AAPL", "buy", "5", "149.99", post_only=True)
    assert r["type"] == "accepted" and r["order"]["status"] == "accepted"
    # A rejected order keeps its id and can be queried.
    rej = await alice.text("buy AAPL 5 150 post_only")
    assert rej["type"] == "rejected"
    st = await alice.request("status", order_id=rej["order"]["order_id"])
    assert st["order"]["status"] == "rejected" and st["order"]["reason"] == "would_take"


async def test_stop_orders_trigger_on_last_price(alice: Conn, bob: Conn) -> None:
    carol = await connect(alice_addr(alice), "carol")
    await bob.order_id("AAPL", "sell", "10", "150.00")
    await carol.place("AAPL", "buy", "1", "150.00")  # last = 150.00
    # A stop buy reserves nothing; a stop sell reserves its holdings at once.
    before = await alice.request("balance")
    stop = await alice.place("AAPL", "buy", "4", kind="stop", stop_price="151.00")
    assert stop["order"]["status"] == "pending" and stop["fills"] == []
    assert (await alice.request("balance"))["reserved"] == before["reserved"] == "0"
    sell_stop = await alice.place("AAPL", "sell", "100", kind="stop", stop_price="140.00")
    assert sell_stop["order"]["status"] == "pending"
    pf = await alice.request("portfolio")
    [aapl] = [p for p in pf["positions"] if p["symbol"] == "AAPL"]
    assert (aapl["qty"], aapl["available"]) == ("1000", "900")
    stop_limit = await alice.place("AAPL", "buy", "2", "155.00", kind="stop_limit",
                                   stop_price="152.00")
    assert stop_limit["order"]["status"] == "pending"
    assert (await alice.request("balance"))["reserved"] == "310"
    # Pending stops are not in the book.
    book = await alice.request("book", symbol="AAPL")
    assert book["bids"] == [] and book["asks"] == [["150.00", "9"]]
    # A trade at 151 triggers the stop buy, which becomes a market buy.
    await bob.order_id("AAPL", "sell", "10", "151.00")
    await carol.place("AAPL", "buy", "10", "151.00")  # takes 150.00 x9 and 151.00 x1
    trig = await alice.event("triggered")
    assert trig["order"]["order_id"] == stop["order"]["order_id"]
    fill = await alice.event("fill", lambda m: m["order"]["order_id"] == stop["order"]["order_id"])
    assert (fill["fill"]["price"], fill["fill"]["qty"], fill["fill"]["liquidity"]) == (
        "151.00", "4", "taker")
    assert fill["order"]["status"] == "filled"
    st = await alice.request("status", order_id=stop_limit["order"]["order_id"])
    assert st["order"]["status"] == "pending"
    # A stop whose condition already holds triggers at once (last 151 >= 150).
    now = await alice.place("AAPL", "buy", "1", kind="stop", stop_price="150.00")
    assert now["order"]["status"] == "filled" and now["fills"][0]["price"] == "151.00"
    live = await alice.request("orders")
    assert [o["order_id"] for o in live["orders"]] == [
        sell_stop["order"]["order_id"], stop_limit["order"]["order_id"]]


async def test_self_trade_prevention(alice: Conn, bob: Conn) -> None:
    # none (the default): a user's buy trades with the same user's sell.
    await alice.order_id("AAPL", "sell", "1", "150.00")
    r = await alice.place("AAPL", "buy", "1", "150.00")
    assert r["order"]["status"] == "filled"
    own = await alice.event("fill")  # the maker side is pushed, even to this session
    assert own["fill"]["liquidity"] == "maker" and own["order"]["status"] == "filled"
    # cancel_newest: the incoming order is canceled, the resting one stays.
    resting = await alice.order_id("AAPL", "sell", "2", "150.00")
    r = await alice.place("AAPL", "buy", "2", "150.00", stp="cancel_newest")
    assert r["type"] == "accepted"
    assert (r["order"]["status"], r["order"]["reason"]) == ("canceled", "self_trade")
    assert (await alice.request("status", order_id=resting))["order"]["status"] == "accepted"
    # cancel_oldest: the resting one is canceled (and pushed), the new one trades on.
    await bob.order_id("AAPL", "sell", "2", "150.00")
    r = await alice.place("AAPL", "buy", "2", "150.00", stp="cancel_oldest")
    assert r["order"]["status"] == "filled"
    assert r["fills"][0]["sell_order_id"] != resting
    ev = await alice.event("canceled")
    assert ev["order"]["order_id"] == resting and ev["order"]["reason"] == "self_trade"
    assert "ref" not in ev
    # cancel_both.
    resting = await alice.order_id("AAPL", "sell", "2", "150.00")
    r = await alice.text("buy AAPL 2 150 stp=cancel_both")
    assert (r["order"]["status"], r["order"]["reason"]) == ("canceled", "self_trade")
    ev = await alice.event("canceled")
    assert ev["order"]["order_id"] == resting and ev["order"]["status"] == "canceled"
    assert (await alice.request("book", symbol="AAPL"))["asks"] == []


async def test_client_order_id_retry_is_a_duplicate(alice: Conn, bob: Conn) -> None:
    first = await alice.place("AAPL", "buy", "5", "150.00", client_order_id="retry-1")
    await bob.place("AAPL", "sell", "5", "150.00")
    again = await alice.place("AAPL", "buy", "9", "149.00", client_order_id="retry-1")
    assert again["type"] == "accepted" and again["duplicate"] is True
    assert again["fills"] == []
    assert again["order"]["order_id"] == first["order"]["order_id"]
    assert (again["order"]["status"], again["order"]["qty"]) == ("filled", "5")
    assert len((await alice.request("orders", status="all"))["orders"]) == 1
    # Unique per user: bob may use the same id.
    other = await bob.place("AAPL", "sell", "1", "160.00", client_order_id="retry-1")
    assert other["duplicate"] is False
    # The text spelling, and addressing by cid.
    t = await alice.text("buy AAPL 1 149 cid=t-1")
    st = await alice.text("status cid=t-1")
    assert st["type"] == "order" and st["order"]["order_id"] == t["order"]["order_id"]
    st = await alice.request("status", client_order_id="t-1")
    assert st["order"]["order_id"] == t["order"]["order_id"]


async def test_pipelined_place_then_cancel_by_client_order_id(alice: Conn) -> None:
    await alice.send({"op": "place", "ref": 1, "symbol": "AAPL", "side": "buy", "qty": "1",
                      "price": "150.00", "client_order_id": "fast"})
    await alice.send({"op": "cancel", "ref": 2, "client_order_id": "fast"})
    placed = await alice.reply(1)
    canceled = await alice.reply(2)
    assert placed["type"] == "accepted"
    assert canceled["type"] == "canceled" and canceled["order"]["status"] == "canceled"


# -- modify --------------------------------------------------------------------------------

async def test_modify_lower_qty_keeps_priority(addr: tuple[str, int], alice: Conn,
                                               bob: Conn) -> None:
    carol = await connect(addr, "carol")
    a = await alice.order_id("AAPL", "buy", "10", "149.00")
    await bob.order_id("AAPL", "buy", "10", "149.00")
    r = await alice.request("modify", order_id=a, qty="5")
    assert r["type"] == "modified" and r["fills"] == []
    assert (r["order"]["qty"], r["order"]["leaves_qty"], r["order"]["price"]) == (
        "5", "5", "149.00")
    assert (await alice.request("balance"))["reserved"] == "745"
    s = await carol.place("AAPL", "sell", "5", "149.00")
    assert s["fills"][0]["buy_order_id"] == a
    book = await carol.request("book", symbol="AAPL")
    assert book["bids"] == [["149.00", "10"]]


async def test_modify_higher_qty_or_new_price_goes_to_the_back(addr: tuple[str, int],
                                                               alice: Conn, bob: Conn) -> None:
    carol = await connect(addr, "carol")
    a = await alice.order_id("AAPL", "buy", "10", "149.00")
    b = await bob.order_id("AAPL", "buy", "10", "149.00")
    r = await alice.text(f"modify {a} qty=12")
    assert r["type"] == "modified" and r["order"]["qty"] == "12"
    s = await carol.place("AAPL", "sell", "5", "149.00")
    assert s["fills"][0]["buy_order_id"] == b
    r = await bob.request("modify", order_id=b, price="148.00")
    r = await bob.request("modify", order_id=b, price="149.00")
    s = await carol.place("AAPL", "sell", "12", "149.00")
    assert [f["buy_order_id"] for f in s["fills"]] == [a]
    book = await carol.request("book", symbol="AAPL")
    assert book["bids"] == [["149.00", "5"]]


async def test_modify_price_that_crosses_trades_at_once(alice: Conn, bob: Conn) -> None:
    sell = await bob.order_id("AAPL", "sell", "3", "151.00")
    a = await alice.order_id("AAPL", "buy", "5", "149.00")
    r = await alice.request("modify", order_id=a, price="151.50")
    assert r["type"] == "modified"
    assert [(f["sell_order_id"], f["price"], f["qty"], f["liquidity"]) for f in r["fills"]] == [
        (sell, "151.00", "3", "taker")]
    o = r["order"]
    assert (o["status"], o["price"], o["filled_qty"], o["leaves_qty"]) == (
        "partially_filled", "151.50", "3", "2")
    # Reserved: 2 left at 151.50; the price improvement came back.
    bal = await alice.request("balance")
    assert (bal["cash"], bal["reserved"]) == ("999547", "303")
    ev = await bob.event("fill")
    assert ev["order"]["order_id"] == sell


async def test_modify_errors(addr: tuple[str, int], alice: Conn, bob: Conn) -> None:
    a = await alice.order_id("AAPL", "buy", "10", "150.00")
    await bob.place("AAPL", "sell", "4", "150.00")
    for fields, code, word in [
        ({"qty": "4"}, "bad_request", "qty"),  # not above the filled 4
        ({"qty": "3"}, "bad_request", "qty"),
        ({"price": "200.00"}, "bad_request", "price"),  # outside the 10% band
        ({"price": "150.001"}, "bad_request", "price"),
        ({"qty": "0.5"}, "bad_request", "qty"),
    ]:
        r = await alice.request("modify", order_id=a, **fields)
        assert r["type"] == "error" and r["code"] == code, (fields, r)
        assert word in r["message"]
    st = await alice.request("status", order_id=a)
    assert (st["order"]["qty"], st["order"]["price"], st["order"]["filled_qty"]) == (
        "10", "150.00", "4")
    r = await bob.request("modify", order_id=a, qty="20")
    assert r["code"] == "unknown_order"
    r = await alice.request("modify", order_id=10_000, qty="20")
    assert r["code"] == "unknown_order"
    done = await alice.order_id("AAPL", "buy", "1", "140.00")
    await alice.request("cancel", order_id=done)
    r = await alice.request("modify", order_id=done, qty="2")
    assert r["code"] == "not_live"


async def test_modify_needing_more_funds_is_refused(addr: tuple[str, int], alice: Conn) -> None:
    poor = await connect(addr, "poor")
    oid = await poor.order_id("MSFT", "buy", "1", "50.00")
    r = await poor.request("modify", order_id=oid, qty="3")
    assert r["type"] == "error" and r["code"] == "insufficient_funds"
    r = await poor.request("modify", order_id=oid, price="100.01")
    assert r["code"] == "insufficient_funds"
    st = await poor.request("status", order_id=oid)
    assert (st["order"]["qty"], st["order"]["price"]) == ("1", "50.00")
    bal = await poor.request("balance")
    assert (bal["available"], bal["reserved"]) == ("50", "50")
    r = await poor.request("modify", order_id=oid, qty="2")
    assert r["type"] == "modified"
    assert (await poor.request("balance"))["available"] == "0"
    sell = await alice.order_id("MSFT", "sell", "1000", "500.00")
    r = await alice.request("modify", order_id=sell, qty="1001")
    assert r["type"] == "error" and r["code"] == "insufficient_holdings"
    assert (await alice.request("status", order_id=sell))["order"]["qty"] == "1000"


# -- cancel, cancel_all, pause, resume, status ----------------------------------------------

async def test_cancel(alice: Conn, bob: Conn) -> None:
    a = await alice.order_id("AAPL", "buy", "10", "150.00")
    await bob.place("AAPL", "sell", "4", "150.00")
    r = await alice.request("cancel", ref=77, order_id=a)
    assert r["type"] == "canceled" and r["ref"] == 77
    o = r["order"]
    assert (o["status"], o["filled_qty"], o["leaves_qty"], o["reason"]) == (
        "canceled", "4", "0", None)
    assert (await alice.request("balance"))["reserved"] == "0"
    again = await alice.request("cancel", order_id=a)
    assert again["type"] == "error" and again["code"] == "not_live"
    t = await alice.order_id("AAPL", "buy", "1", "150.00")
    r = await alice.text(f"cancel {t}")
    assert r["type"] == "canceled" and r["order"]["order_id"] == t
    r = await bob.request("cancel", order_id=t)
    assert r["code"] == "unknown_order"
    r = await alice.request("cancel", client_order_id="nope")
    assert r["code"] == "unknown_order"
    assert (await alice.text("cancel 99999"))["code"] == "unknown_order"


async def test_cancel_all(alice: Conn, bob: Conn) -> None:
    ids = [await alice.order_id("AAPL", "buy", "1", f"14{i}.00") for i in range(3)]
    ids.append(await alice.order_id("MSFT", "sell", "1", "500.00"))
    ids.append(await alice.order_id("BTC-USD", "buy", "0.0001", "40000.00"))
    keep = await bob.order_id("AAPL", "buy", "1", "140.00")
    r = await alice.request("cancel_all", symbol="AAPL")
    assert r == {"type": "canceled_all", "count": 3, "order_ids": ids[:3], "ref": r["ref"]}
    r = await alice.text("cancel all")
    assert r == {"type": "canceled_all", "count": 2, "order_ids": ids[3:]}
    r = await alice.text("cancel all AAPL")
    assert r == {"type": "canceled_all", "count": 0, "order_ids": []}
    r = await alice.request("cancel_all", symbol="NOPE")
    assert r["code"] == "unknown_symbol"
    assert (await bob.request("status", order_id=keep))["order"]["status"] == "accepted"
    assert (await alice.request("orders"))["orders"] == []
    bal = await alice.request("balance")
    assert bal["reserved"] == "0"


async def test_pause_and_resume(alice: Conn, bob: Conn) -> None:
    a = await alice.order_id("AAPL", "buy", "10", "150.00")
    r = await alice.request("pause", order_id=a)
    assert r["type"] == "paused" and r["order"]["status"] == "paused"
    assert r["order"]["leaves_qty"] == "10"
    assert (await alice.request("book", symbol="AAPL"))["bids"] == []
    assert (await alice.request("balance"))["reserved"] == "1500"  # keeps its funds
    assert (await alice.request("pause", order_id=a))["code"] == "bad_state"
    # A paused order does not trade.
    s = await bob.place("AAPL", "sell", "4", "150.00")
    assert s["order"]["status"] == "accepted"
    # resume puts it back and it may trade at once.
    r = await alice.text(f"resume {a}")
    assert r["type"] == "resumed"
    assert [(f["price"], f["qty"], f["liquidity"]) for f in r["fills"]] == [
        ("150.00", "4", "taker")]
    assert (r["order"]["status"], r["order"]["leaves_qty"]) == ("partially_filled", "6")
    assert (await alice.request("resume", order_id=a))["code"] == "bad_state"
    r = await alice.text(f"pause {a}")
    assert r["type"] == "paused"
    r = await alice.request("cancel", order_id=a)
    assert r["order"]["status"] == "canceled"
    assert (await alice.request("resume", order_id=a))["code"] == "not_live"
    assert (await alice.request("pause", order_id=a))["code"] == "not_live"
    assert (await bob.request("pause", order_id=a))["code"] == "unknown_order"


async def test_pause_resume_keeps_queue_position_rules(addr: tuple[str, int], alice: Conn,
                                                       bob: Conn) -> None:
    carol = await connect(addr, "carol")
    a = await alice.order_id("AAPL", "buy", "5", "149.00")
    b = await bob.order_id("AAPL", "buy", "5", "149.00")
    await alice.request("pause", order_id=a)
    await alice.request("resume", order_id=a)  # back of the level
    s = await carol.place("AAPL", "sell", "5", "149.00")
    assert s["fills"][0]["buy_order_id"] == b


async def test_status_orders_fills(alice: Conn, bob: Conn) -> None:
    a1 = await alice.order_id("AAPL", "buy", "5", "150.00", client_order_id="x1")
    a2 = await alice.order_id("MSFT", "buy", "5", "400.00")
    rej = await alice.place("AAPL", "buy", "5", "150.001")
    assert rej["type"] == "rejected"
    a3 = await alice.order_id("AAPL", "sell", "5", "160.00")
    await alice.request("pause", order_id=a3)
    await bob.place("AAPL", "sell", "2", "150.00")
    await bob.place("AAPL", "sell", "3", "150.00")
    await bob.place("MSFT", "sell", "1", "400.00")
    st = await alice.request("status", order_id=a1)
    assert st["type"] == "order" and st["order"]["status"] == "filled"
    st = await alice.text(f"status {a2}")
    assert st["type"] == "order" and st["order"]["status"] == "partially_filled"
    live = await alice.request("orders")
    assert [o["order_id"] for o in live["orders"]] == [a2, a3]
    every = await alice.text("orders all")
    assert [o["status"] for o in every["orders"]] == [
        "filled", "partially_filled", "rejected", "paused"]
    assert [o["order_id"] for o in every["orders"]] == sorted(
        o["order_id"] for o in every["orders"])
    aapl = await alice.request("orders", symbol="AAPL", status="all")
    assert [o["order_id"] for o in aapl["orders"]] == [a1, rej["order"]["order_id"], a3]
    assert [o["order_id"] for o in (await alice.text("orders aapl"))["orders"]] == [a3]
    assert [o["order_id"] for o in (await alice.text("orders MSFT all"))["orders"]] == [a2]
    assert (await alice.request("orders", symbol="NOPE"))["code"] == "unknown_symbol"
    fills = await alice.request("fills")
    assert [(f["symbol"], f["qty"], f["order_id"], f["side"], f["liquidity"])
            for f in fills["fills"]] == [
        ("AAPL", "2", a1, "buy", "maker"), ("AAPL", "3", a1, "buy", "maker"),
        ("MSFT", "1", a2, "buy", "maker")]
    assert [f["trade_id"] for f in fills["fills"]] == [1, 2, 3]
    assert [f["qty"] for f in (await alice.request("fills", limit=2))["fills"]] == ["3", "1"]
    assert [f["symbol"] for f in (await alice.text("fills AAPL"))["fills"]] == ["AAPL"] * 2
    assert [f["qty"] for f in (await alice.text("fills 1"))["fills"]] == ["1"]
    bob_fills = await bob.request("fills", symbol="MSFT")
    assert [(f["side"], f["liquidity"]) for f in bob_fills["fills"]] == [("sell", "taker")]
    assert (await alice.request("fills", symbol="NOPE"))["code"] == "unknown_symbol"
    assert (await alice.request("status", order_id=a1 + 1000))["code"] == "unknown_order"
    assert (await bob.request("status", order_id=a1))["code"] == "unknown_order"
    assert (await bob.request("status", client_order_id="x1"))["code"] == "unknown_order"


async def test_order_ids_and_trade_ids_increase(alice: Conn, bob: Conn) -> None:
    ids = []
    trades = []
    for _ in range(5):
        ids.append(await alice.order_id("AAPL", "sell", "1", "150.00"))
        r = await bob.place("AAPL", "buy", "1", "150.00")
        ids.append(r["order"]["order_id"])
        trades.append(r["fills"][0]["trade_id"])
    assert ids == list(range(1, 11))
    assert trades == list(range(1, 6))


async def test_stop_buy_becomes_a_market_buy_capped_by_cash(addr: tuple[str, int],
                                                            bob: Conn) -> None:
    poor = await connect(addr, "poor")
    carol = await connect(addr, "carol")
    stop = await poor.place("MSFT", "buy", "5", kind="stop", stop_price="40.00")
    assert stop["order"]["status"] == "pending"
    assert (await poor.request("balance"))["reserved"] == "0"
    await bob.order_id("MSFT", "sell", "10", "40.00")
    await carol.place("MSFT", "buy", "1", "40.00")  # last = 40: the stop triggers
    await poor.event("triggered")
    fill = await poor.event("fill")
    assert (fill["fill"]["qty"], fill["fill"]["price"]) == ("2", "40.00")
    ended = await poor.event("canceled")
    assert ended["order"]["order_id"] == stop["order"]["order_id"]
    assert (ended["order"]["status"], ended["order"]["reason"], ended["order"]["filled_qty"]) == (
        "canceled", "insufficient_funds", "2")
    assert (await poor.request("balance"))["cash"] == "20"


async def test_ioc_stop_remainder_expires_with_an_event(addr: tuple[str, int], alice: Conn,
                                                        bob: Conn) -> None:
    carol = await connect(addr, "carol")
    await bob.order_id("AAPL", "sell", "3", "150.00")
    stop = await alice.order_id("AAPL", "buy", "5", "150.00", kind="stop_limit",
                                stop_price="150.00", tif="ioc")
    await carol.place("AAPL", "buy", "1", "150.00")  # last = 150: triggers, 2 left to buy
    await alice.event("triggered")
    fill = await alice.event("fill")
    assert fill["fill"]["qty"] == "2"
    ev = await alice.event("expired")
    assert ev["order"]["order_id"] == stop
    assert (ev["order"]["status"], ev["order"]["filled_qty"], ev["order"]["leaves_qty"]) == (
        "expired", "2", "0")


async def test_expire_at_with_an_offset_is_written_in_utc(alice: Conn) -> None:
    r = await alice.place("AAPL", "buy", "1", "149.00", expire_at="2099-01-01T02:30:00.5+02:00")
    assert r["order"]["expires_at"] == "2099-01-01T00:30:00.500000Z"
    assert r["order"]["tif"] == "gtd"
    r = await alice.place("AAPL", "buy", "1", "149.00", expire_at="2099-01-01T02:30:00")
    assert r["type"] == "error" and r["code"] == "bad_request"  # no offset: ambiguous
    r = await alice.place("AAPL", "buy", "1", "149.00", ttl_ms=366 * 86_400_000 + 1)
    assert r["code"] == "bad_request" and "ttl_ms" in r["message"]


async def test_wrong_json_types_are_bad_request(alice: Conn) -> None:
    for field, value in [("qty", True), ("symbol", 5), ("price", [1]), ("post_only", "yes"),
                         ("client_order_id", 7), ("ttl_ms", "100")]:
        req = {"symbol": "AAPL", "side": "buy", "qty": "1", "price": "150.00", field: value}
        r = await alice.request("place", **req)
        assert r["type"] == "error" and r["code"] == "bad_request", (field, r)
        assert field in r["message"], (field, r)
    assert (await alice.request("orders", status="all"))["orders"] == []


async def test_text_modify_both_fields_and_by_cid(alice: Conn) -> None:
    oid = await alice.order_id("AAPL", "buy", "10", "149.00", client_order_id="m1")
    r = await alice.text(f"modify {oid} qty=50 price=150.20")
    assert (r["type"], r["order"]["qty"], r["order"]["price"]) == ("modified", "50", "150.20")
    r = await alice.text("modify cid=m1 qty=40")
    assert (r["type"], r["order"]["qty"]) == ("modified", "40")
    assert (await alice.text(f"modify {oid}"))["code"] == "bad_request"
    assert (await alice.text(f"modify {oid} size=3"))["code"] == "bad_request"
    assert (await alice.text("pause cid=m1"))["type"] == "paused"
    assert (await alice.text("resume cid=m1"))["type"] == "resumed"
    assert (await alice.text("cancel cid=m1"))["type"] == "canceled"


async def test_default_limits_of_fills_and_trades(alice: Conn, bob: Conn) -> None:
    await alice.order_id("AAPL", "sell", "105", "150.00")
    lines = "".join(json.dumps({"op": "place", "symbol": "AAPL", "side": "buy", "qty": "1",
                                "price": "150.00", "ref": i}) + "\n" for i in range(105))
    await bob.send_raw(lines.encode())
    for i in range(105):
        await bob.reply(i)
    fills = (await bob.request("fills"))["fills"]
    assert len(fills) == 100 and fills[0]["trade_id"] == 6 and fills[-1]["trade_id"] == 105
    trades = (await bob.request("trades", symbol="AAPL"))["trades"]
    assert [t["trade_id"] for t in trades] == list(range(56, 106))
