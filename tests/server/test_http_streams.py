"""The HTTP front-end's WebSocket streams end to end: trade, depth (kept as a local book
from a REST snapshot and the update ids), kline, bookTicker, combined streams, live
SUBSCRIBE, and the user data stream for orders placed over REST and JSON lines."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from tests.server.conftest import Server
from tests.server.http_wire import Http
from tests.server.wire import connect

TIMEOUT = 10.0


def base(server: Server) -> str:
    host, port = server.others["http"]
    return f"{host}:{port}"


async def recv(ws: aiohttp.ClientWebSocketResponse) -> Any:
    msg = await ws.receive(timeout=TIMEOUT)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    return json.loads(msg.data)


async def ready(ws: aiohttp.ClientWebSocketResponse, ident: int = 99) -> list[str]:
    """The connection's streams, once it is subscribed to them (its commands are handled
    after its opening subscriptions)."""
    await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": ident}))
    while True:
        reply = await recv(ws)
        if reply.get("id") == ident:
            return list(reply["result"])


async def until(ws: aiohttp.ClientWebSocketResponse, pred: Any) -> Any:
    while True:
        msg = await recv(ws)
        if pred(msg):
            return msg


async def test_trade_and_kline_streams(hserver: Server, client: aiohttp.ClientSession) -> None:
    alice, bob = Http(client, hserver.others["http"], "alice"), Http(
        client, hserver.others["http"], "bob")
    async with client.ws_connect(f"ws://{base(hserver)}/ws/aaplusd@trade") as trades, \
            client.ws_connect(f"ws://{base(hserver)}/ws/aaplusd@kline_1m") as klines:
        assert await ready(trades) == ["aaplusd@trade"]
        assert await ready(klines) == ["aaplusd@kline_1m"]
        sell = await bob.order_id("AAPLUSD", "SELL", "5", "150.00")
        buy = await alice.order_id("AAPLUSD", "BUY", "2", "150.00")
        trade = await recv(trades)
        assert {k: trade[k] for k in ("e", "s", "p", "q", "m", "M")} == {
            "e": "trade", "s": "AAPLUSD", "p": "150.00", "q": "2", "m": False, "M": True}
        _, rest = await alice.get("/api/v3/trades", symbol="AAPLUSD")
        assert trade["t"] == rest[-1]["id"] and trade["T"] == rest[-1]["time"]
        await alice.order_id("AAPLUSD", "BUY", "1", "150.00")
        await bob.order_id("AAPLUSD", "BUY", "3", "149.00")
        await alice.order_id("AAPLUSD", "SELL", "3", "149.00")
        k1, k2, k3 = (await recv(klines))["k"], (await recv(klines))["k"], (
            await recv(klines))["k"]
        assert (k1["o"], k1["c"], k1["v"]) == ("150.00", "150.00", "2")
        assert (k2["o"], k2["h"], k2["l"], k2["c"], k2["v"]) == (
            "150.00", "150.00", "150.00", "150.00", "3")
        assert (k3["o"], k3["h"], k3["l"], k3["c"], k3["v"], k3["i"], k3["s"]) == (
            "150.00", "150.00", "149.00", "149.00", "6", "1m", "AAPLUSD")
        assert k3["T"] == k3["t"] + 59_999
        _, rows = await alice.get("/api/v3/klines", symbol="AAPLUSD", interval="1m")
        assert rows[-1][:6] == [k3["t"], "150.00", "150.00", "149.00", "149.00", "6"]
        assert sell and buy


async def test_depth_keeps_a_local_book(hserver: Server, client: aiohttp.ClientSession) -> None:
    api = Http(client, hserver.others["http"])
    alice, bob = Http(client, hserver.others["http"], "alice"), Http(
        client, hserver.others["http"], "bob")
    await bob.order_id("MSFTUSD", "SELL", "5", "421.00")  # before the stream: in the snapshot
    url = f"ws://{base(hserver)}/stream?streams=msftusd@depth/msftusd@bookTicker"
    async with client.ws_connect(url) as ws:
        assert sorted(await ready(ws)) == ["msftusd@bookTicker", "msftusd@depth"]
        await alice.order_id("MSFTUSD", "BUY", "2", "419.00")
        _, snap = await api.get("/api/v3/depth", symbol="MSFTUSD")
        await bob.order_id("MSFTUSD", "SELL", "1", "422.00")
        await alice.order_id("MSFTUSD", "BUY", "2", "421.00")  # takes 2 of the 5
        bids = {p: q for p, q in snap["bids"]}
        asks = {p: q for p, q in snap["asks"]}
        last = snap["lastUpdateId"]
        _, final = await api.get("/api/v3/depth", symbol="MSFTUSD")
        tickers = []
        while last < final["lastUpdateId"]:
            msg = await recv(ws)
            if msg["stream"] == "msftusd@bookTicker":
                tickers.append(msg["data"])
                continue
            assert msg["stream"] == "msftusd@depth"
            event = msg["data"]
            assert event["e"] == "depthUpdate" and event["s"] == "MSFTUSD"
            if event["u"] <= last:
                continue  # already in the snapshot
            assert event["U"] == last + 1
            last = event["u"]
            for side, book in (("b", bids), ("a", asks)):
                for price, qty in event[side]:
                    if qty == "0" or float(qty) == 0:
                        book.pop(price, None)
                    else:
                        book[price] = qty
        assert sorted(bids.items()) == sorted((p, q) for p, q in final["bids"])
        assert sorted(asks.items()) == sorted((p, q) for p, q in final["asks"])
        while len(tickers) < 1 or tickers[-1]["a"] != "421.00" or tickers[-1]["A"] != "3":
            msg = await recv(ws)
            if msg["stream"] == "msftusd@bookTicker":
                tickers.append(msg["data"])
        assert tickers[-1] | {"u": 0} == {"u": 0, "s": "MSFTUSD", "b": "419.00", "B": "2",
                                          "a": "421.00", "A": "3"}
        assert [t["u"] for t in tickers] == sorted(t["u"] for t in tickers)


async def test_live_subscribe_and_bad_streams(hserver: Server,
                                              client: aiohttp.ClientSession) -> None:
    alice, bob = Http(client, hserver.others["http"], "alice"), Http(
        client, hserver.others["http"], "bob")
    async with client.get(f"http://{base(hserver)}/ws/nope@trade") as resp:
        assert resp.status == 400 and (await resp.json())["code"] == -1121
    async with client.ws_connect(f"ws://{base(hserver)}/ws/aaplusd@bookTicker") as ws:
        await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["btcusd@trade"],
                                      "id": 1}))
        assert await until(ws, lambda m: m.get("id") == 1) == {"result": None, "id": 1}
        assert sorted(await ready(ws, 2)) == ["aaplusd@bookTicker", "btcusd@trade"]
        await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["x@trade"], "id": 3}))
        error = await until(ws, lambda m: m.get("id") == 3)
        assert error["error"]["code"] == 2
        await ws.send_str("not json")
        assert (await until(ws, lambda m: "error" in m))["id"] is None
        await ws.send_str(json.dumps({"method": "UNSUBSCRIBE", "params": ["aaplusd@bookTicker"],
                                      "id": 4}))
        assert await until(ws, lambda m: m.get("id") == 4) == {"result": None, "id": 4}
        assert await ready(ws, 5) == ["btcusd@trade"]
        await bob.order_id("AAPLUSD", "SELL", "1", "150.00")  # a quote change nobody hears
        await bob.order_id("BTCUSD", "SELL", "0.1", "50000.00")
        await alice.order_id("BTCUSD", "BUY", "0.1", "50000.00")
        trade = await recv(ws)
        assert (trade["e"], trade["s"], trade["q"]) == ("trade", "BTCUSD", "0.1000")


async def test_the_user_data_stream(hserver: Server, client: aiohttp.ClientSession) -> None:
    alice = Http(client, hserver.others["http"], "alice")
    bob = Http(client, hserver.others["http"], "bob")
    status, body = await alice.raw("POST", "/api/v3/userDataStream", "", "",
                                   {"X-MBX-APIKEY": "alice-key"})
    assert status == 200
    key = body["listenKey"]
    again = await alice.raw("POST", "/api/v3/userDataStream", "", "",
                            {"X-MBX-APIKEY": "alice-key"})
    assert again == (200, {"listenKey": key})
    assert (await alice.raw("POST", "/api/v3/userDataStream"))[1]["code"] == -2014
    lines = await connect(hserver.addr, "alice")  # alice on JSON lines too
    async with client.ws_connect(f"ws://{base(hserver)}/ws/{key}") as ws:
        # An order placed over REST: NEW, then its balances.
        mine = await alice.order_id("AAPLUSD", "BUY", "2", "140.00", newClientOrderId="r-1")
        report = await until(ws, lambda m: m["e"] == "executionReport")
        assert {k: report[k] for k in ("s", "c", "S", "o", "f", "q", "p", "x", "X", "i")} == {
            "s": "AAPLUSD", "c": "r-1", "S": "BUY", "o": "LIMIT", "f": "GTC", "q": "2",
            "p": "140.00", "x": "NEW", "X": "NEW", "i": mine}
        position = await until(ws, lambda m: m["e"] == "outboundAccountPosition")
        usd = next(b for b in position["B"] if b["a"] == "USD")
        assert usd["l"] == "280"
        # An order placed over JSON lines: NEW as well, whichever front-end placed it...
        placed = await lines.request("place", symbol="AAPL", side="sell", qty="3",
                                     price="150.00", client_order_id="l-1")
        new = await until(ws, lambda m: m["e"] == "executionReport")
        assert {k: new[k] for k in ("c", "S", "x", "X", "i", "q", "z")} == {
            "c": "l-1", "S": "SELL", "x": "NEW", "X": "NEW",
            "i": placed["order"]["order_id"], "q": "3", "z": "0"}
        # ...then filled by bob over REST: a TRADE report.
        await bob.order_id("AAPLUSD", "BUY", "1", "150.00")
        trade = await until(ws, lambda m: m["e"] == "executionReport")
        assert {k: trade[k] for k in ("c", "S", "x", "X", "i", "l", "z", "L", "m")} == {
            "c": "l-1", "S": "SELL", "x": "TRADE", "X": "PARTIALLY_FILLED",
            "i": placed["order"]["order_id"], "l": "1", "z": "1", "L": "150.00", "m": True}
        # Canceled over JSON lines: the REST-placed order's CANCELED report.
        await lines.request("cancel", order_id=mine)
        gone = await until(ws, lambda m: m["e"] == "executionReport")
        assert (gone["i"], gone["x"], gone["X"]) == (mine, "CANCELED", "CANCELED")
        # Canceled over REST.
        await alice.signed("DELETE", "/api/v3/order", symbol="AAPLUSD",
                           orderId=placed["order"]["order_id"])
        gone = await until(ws, lambda m: m["e"] == "executionReport")
        assert (gone["i"], gone["x"], gone["X"], gone["z"]) == (
            placed["order"]["order_id"], "CANCELED", "CANCELED", "1")
    assert await alice.raw("PUT", "/api/v3/userDataStream", f"listenKey={key}", "",
                           {"X-MBX-APIKEY": "alice-key"}) == (200, {})
    assert (await alice.raw("PUT", "/api/v3/userDataStream", f"listenKey={key}", "",
                            {"X-MBX-APIKEY": "bob-key"}))[1]["code"] == -1125
    assert await alice.raw("DELETE", "/api/v3/userDataStream", f"listenKey={key}", "",
                           {"X-MBX-APIKEY": "alice-key"}) == (200, {})
    assert (await alice.raw("PUT", "/api/v3/userDataStream", f"listenKey={key}", "",
                            {"X-MBX-APIKEY": "alice-key"}))[1]["code"] == -1125
    # A closed listenKey is no stream: the name is not a market stream either.
    async with client.get(f"http://{base(hserver)}/ws/{key}") as resp:
        assert resp.status == 400
    await lines.close()


async def test_shutdown_with_streams_open(hserver: Server,
                                          client: aiohttp.ClientSession) -> None:
    """SIGTERM with market and user data streams open: the server closes them and
    exits 0 (the fixture checks the status) well within its grace period."""
    alice = Http(client, hserver.others["http"], "alice")
    _, body = await alice.raw("POST", "/api/v3/userDataStream", "", "",
                              {"X-MBX-APIKEY": "alice-key"})
    market = await client.ws_connect(f"ws://{base(hserver)}/ws/aaplusd@depth")
    user = await client.ws_connect(f"ws://{base(hserver)}/ws/{body['listenKey']}")
    assert await ready(market) == ["aaplusd@depth"]
    assert hserver.stop() == 0
    for ws in (market, user):
        msg = await ws.receive(timeout=TIMEOUT)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
