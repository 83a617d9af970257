"""The HTTP front-end's REST API end to end: every /api/v3 endpoint, the signature and
timestamp checks, Binance's error codes, and trading mixed with JSON lines."""

from __future__ import annotations

import time
from typing import Any

import aiohttp

from tests.server.conftest import Server
from tests.server.http_wire import Http
from tests.server.wire import connect


def http(server: Server, client: aiohttp.ClientSession, user: str | None = None) -> Http:
    return Http(client, server.others["http"], user)


def no_code(body: Any) -> None:
    """A success body never carries Binance's error key."""
    rows = body if isinstance(body, list) else [body]
    assert all("code" not in row for row in rows if isinstance(row, dict)), body


# -- public ---------------------------------------------------------------------------------------

async def test_the_listener_line_and_ping_and_time(hserver: Server,
                                                    client: aiohttp.ClientSession) -> None:
    api = http(hserver, client)
    assert await api.get("/api/v3/ping") == (200, {})
    before = int(time.time() * 1000)
    status, body = await api.get("/api/v3/time")
    assert status == 200 and before - 1000 <= body["serverTime"] <= before + 5000


async def test_exchange_info_names_and_filters(hserver: Server,
                                               client: aiohttp.ClientSession) -> None:
    api = http(hserver, client)
    status, body = await api.get("/api/v3/exchangeInfo")
    assert status == 200
    by_id = {s["symbol"]: s for s in body["symbols"]}
    assert set(by_id) == {"AAPLUSD", "MSFTUSD", "BTCUSD", "XYZUSD"}
    btc = by_id["BTCUSD"]
    assert (btc["baseAsset"], btc["quoteAsset"], btc["status"]) == ("BTC", "USD", "TRADING")
    assert "STOP_LOSS_LIMIT" in btc["orderTypes"] and "MARKET" in btc["orderTypes"]
    filters = {f["filterType"]: f for f in by_id["XYZUSD"]["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.05"
    assert filters["LOT_SIZE"]["stepSize"] == "10" and filters["LOT_SIZE"]["minQty"] == "10"
    assert "PERCENT_PRICE_BY_SIDE" not in filters
    aapl = {f["filterType"]: f for f in by_id["AAPLUSD"]["filters"]}
    band = aapl["PERCENT_PRICE_BY_SIDE"]
    assert (band["bidMultiplierUp"], band["bidMultiplierDown"], band["askMultiplierUp"],
            band["askMultiplierDown"]) == ("1.1", "0.9", "1.1", "0.9")
    status, one = await api.get("/api/v3/exchangeInfo", symbol="AAPLUSD")
    assert [s["symbol"] for s in one["symbols"]] == ["AAPLUSD"]
    status, some = await api.get("/api/v3/exchangeInfo", symbols='["AAPLUSD","XYZUSD"]')
    assert sorted(s["symbol"] for s in some["symbols"]) == ["AAPLUSD", "XYZUSD"]
    assert await api.get("/api/v3/exchangeInfo", symbol="AAPL") == (
        400, {"code": -1121, "msg": "Invalid symbol."})


async def test_market_data_after_a_trade(hserver: Server, client: aiohttp.ClientSession) -> None:
    alice, bob = http(hserver, client, "alice"), http(hserver, client, "bob")
    api = http(hserver, client)
    await bob.order_id("AAPLUSD", "SELL", "5", "151.00")
    await bob.order_id("AAPLUSD", "SELL", "3", "152.00")
    await alice.order_id("AAPLUSD", "BUY", "2", "149.00")
    await alice.order_id("AAPLUSD", "BUY", "2", "151.00")  # takes 2 of bob's 5 at 151
    status, depth = await api.get("/api/v3/depth", symbol="AAPLUSD", limit=1)
    assert status == 200 and depth["bids"] == [["149.00", "2"]]
    assert depth["asks"] == [["151.00", "3"]] and depth["lastUpdateId"] > 0
    _, full = await api.get("/api/v3/depth", symbol="AAPLUSD")
    assert full["asks"] == [["151.00", "3"], ["152.00", "3"]]
    _, trades = await api.get("/api/v3/trades", symbol="AAPLUSD")
    assert [(t["price"], t["qty"], t["quoteQty"], t["isBuyerMaker"]) for t in trades] == [
        ("151.00", "2", "302", False)]
    _, agg = await api.get("/api/v3/aggTrades", symbol="AAPLUSD")
    assert [(a["a"], a["p"], a["q"], a["m"]) for a in agg] == [
        (trades[0]["id"], "151.00", "2", False)]
    assert agg[0]["T"] == trades[0]["time"]
    _, klines = await api.get("/api/v3/klines", symbol="AAPLUSD", interval="1m")
    assert len(klines) == 1 and klines[0][1:6] == ["151.00", "151.00", "151.00", "151.00", "2"]
    assert klines[0][6] == klines[0][0] + 59_999
    assert (await api.get("/api/v3/klines", symbol="AAPLUSD", interval="3m"))[1]["code"] == -1120
    _, tick = await api.get("/api/v3/ticker/24hr", symbol="AAPLUSD")
    assert (tick["lastPrice"], tick["bidPrice"], tick["askPrice"], tick["volume"]) == (
        "151.00", "149.00", "151.00", "2")
    _, price = await api.get("/api/v3/ticker/price", symbol="AAPLUSD")
    assert price == {"symbol": "AAPLUSD", "price": "151.00"}
    _, prices = await api.get("/api/v3/ticker/price")
    assert len(prices) == 4
    _, book = await api.get("/api/v3/ticker/bookTicker", symbol="AAPLUSD")
    assert book == {"symbol": "AAPLUSD", "bidPrice": "149.00", "bidQty": "2",
                    "askPrice": "151.00", "askQty": "3"}
    for path in ("/api/v3/depth", "/api/v3/trades", "/api/v3/klines"):
        status, body = await api.get(path)
        assert status == 400 and body["code"] == -1102


# -- signing --------------------------------------------------------------------------------------

async def test_a_missing_wrong_or_stale_signature_is_refused(
        hserver: Server, client: aiohttp.ClientSession) -> None:
    alice = http(hserver, client, "alice")
    now = int(time.time() * 1000)
    query = f"timestamp={now}"
    good = alice.sign(query)
    ok = await alice.raw("GET", "/api/v3/account", f"{query}&signature={good}", "",
                         {"X-MBX-APIKEY": "alice-key"})
    assert ok[0] == 200 and ok[1]["accountType"] == "SPOT"
    assert await alice.raw("GET", "/api/v3/account", f"{query}&signature={good}") == (
        401, {"code": -2014, "msg": "API-key format invalid."})
    assert await alice.raw("GET", "/api/v3/account", f"{query}&signature={good}", "",
                           {"X-MBX-APIKEY": "nobody-key"}) == (
        401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."})
    # Bob's key with Alice's signature; Alice's key with a signature of other text.
    status, body = await alice.raw("GET", "/api/v3/account", f"{query}&signature={good}",
                                   "", {"X-MBX-APIKEY": "bob-key"})
    assert (status, body["code"]) == (400, -1022)
    wrong = alice.sign(f"timestamp={now + 1}")
    status, body = await alice.raw("GET", "/api/v3/account", f"{query}&signature={wrong}",
                                   "", {"X-MBX-APIKEY": "alice-key"})
    assert (status, body) == (400, {"code": -1022,
                                    "msg": "Signature for this request is not valid."})
    status, body = await alice.raw("GET", "/api/v3/account", query, "",
                                   {"X-MBX-APIKEY": "alice-key"})
    assert (status, body["code"]) == (400, -1102) and "'signature'" in body["msg"]
    status, body = await alice.signed("GET", "/api/v3/account", timestamp=now - 10_000)
    assert (status, body) == (400, {"code": -1021, "msg": "Timestamp for this request is "
                                    "outside of the recvWindow."})
    status, body = await alice.signed("GET", "/api/v3/account", timestamp=now - 10_000,
                                      recvWindow=20_000)
    assert status == 200
    status, body = await alice.signed("GET", "/api/v3/account", timestamp=now + 60_000)
    assert (status, body["code"]) == (400, -1021)
    status, body = await alice.signed("GET", "/api/v3/account", recvWindow=70_000)
    assert (status, body["code"]) == (400, -1131)
    # A signature over a tampered body: the quantity changed after signing.
    text = (f"symbol=AAPLUSD&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=140"
            f"&timestamp={now}")
    sig = alice.sign(text)
    status, body = await alice.raw("POST", "/api/v3/order", "",
                                   text.replace("quantity=1", "quantity=9") +
                                   f"&signature={sig}", {"X-MBX-APIKEY": "alice-key"})
    assert (status, body["code"]) == (400, -1022)
    _, orders = await alice.signed("GET", "/api/v3/openOrders")
    assert orders == []


async def test_parameters_may_come_in_the_query_and_the_body(
        hserver: Server, client: aiohttp.ClientSession) -> None:
    alice = http(hserver, client, "alice")
    query = "symbol=AAPLUSD&side=BUY&type=LIMIT"
    body = f"timeInForce=GTC&quantity=3&price=140.00&timestamp={int(time.time() * 1000)}"
    sig = alice.sign(query + body)
    status, reply = await alice.raw("POST", "/api/v3/order", query, f"{body}&signature={sig}",
                                    {"X-MBX-APIKEY": "alice-key"})
    assert status == 200, reply
    assert (reply["symbol"], reply["origQty"], reply["price"]) == ("AAPLUSD", "3", "140.00")
    # Signed with the signature in the query and the rest in the body, too.
    signed_text = (f"symbol=AAPLUSD&orderId={reply['orderId']}"
                   f"&timestamp={int(time.time() * 1000)}")
    status, reply = await alice.raw("DELETE", "/api/v3/order",
                                    f"signature={alice.sign(signed_text)}", signed_text,
                                    {"X-MBX-APIKEY": "alice-key"})
    assert status == 200 and reply["status"] == "CANCELED", reply


# -- orders ---------------------------------------------------------------------------------------

async def test_place_in_each_response_type(hserver: Server, client: aiohttp.ClientSession) -> None:
    alice, bob = http(hserver, client, "alice"), http(hserver, client, "bob")
    status, ack = await alice.order("AAPLUSD", "BUY", "1", "140.00", newOrderRespType="ACK",
                                    newClientOrderId="mine-1")
    assert status == 200 and set(ack) == {"symbol", "orderId", "orderListId",
                                          "clientOrderId", "transactTime"}
    assert ack["clientOrderId"] == "mine-1"
    status, result = await alice.order("AAPLUSD", "BUY", "1", "141.00",
                                       newOrderRespType="RESULT")
    assert status == 200 and "fills" not in result
    assert (result["status"], result["type"], result["timeInForce"], result["side"]) == (
        "NEW", "LIMIT", "GTC", "BUY")
    await bob.order_id("AAPLUSD", "SELL", "2", "150.00")
    status, full = await alice.order("AAPLUSD", "BUY", "3", "150.00")  # FULL by default
    no_code(full)
    assert (full["status"], full["executedQty"], full["cummulativeQuoteQty"]) == (
        "PARTIALLY_FILLED", "2", "300")
    assert [(f["price"], f["qty"]) for f in full["fills"]] == [("150.00", "2")]
    status, market = await bob.order("AAPLUSD", "SELL", "1", type="MARKET")
    assert (market["status"], market["type"], market["executedQty"]) == ("FILLED", "MARKET", "1")
    # By client order id, and by order id; status follows the fills.
    _, mine = await alice.signed("GET", "/api/v3/order", symbol="AAPLUSD",
                                 origClientOrderId="mine-1")
    assert (mine["orderId"], mine["clientOrderId"], mine["status"]) == (
        ack["orderId"], "mine-1", "NEW")
    _, third = await alice.signed("GET", "/api/v3/order", symbol="AAPLUSD",
                                  orderId=full["orderId"])
    assert (third["status"], third["executedQty"], third["origQty"]) == ("FILLED", "3", "3")
    # Duplicate client order id.
    status, dup = await alice.order("AAPLUSD", "BUY", "1", "140.00", newClientOrderId="mine-1")
    assert (status, dup) == (400, {"code": -2010, "msg": "Duplicate order sent."})


async def test_time_in_force_and_stops(hserver: Server, client: aiohttp.ClientSession) -> None:
    alice, bob = http(hserver, client, "alice"), http(hserver, client, "bob")
    await bob.order_id("AAPLUSD", "SELL", "2", "150.00")
    _, fok = await alice.order("AAPLUSD", "BUY", "5", "150.00", timeInForce="FOK")
    assert (fok["executedQty"], fok["status"]) == ("0", "EXPIRED")
    _, ioc = await alice.order("AAPLUSD", "BUY", "5", "150.00", timeInForce="IOC")
    assert ioc["executedQty"] == "2" and ioc["timeInForce"] == "IOC"
    assert ioc["status"] == "EXPIRED"
    _, stop = await alice.order("AAPLUSD", "SELL", "1", "140.00", type="STOP_LOSS_LIMIT",
                                stopPrice="145.00", newOrderRespType="RESULT")
    assert (stop["type"], stop["stopPrice"], stop["status"]) == ("STOP_LOSS_LIMIT", "145.00",
                                                                 "NEW")
    _, maker = await alice.order("AAPLUSD", "BUY", "1", "139.00", type="LIMIT_MAKER")
    assert maker["orderId"] > 0
    status, bad = await alice.order("AAPLUSD", "BUY", "1", "139.00", type="TAKE_PROFIT")
    assert (status, bad["code"]) == (400, -1116)
    status, bad = await alice.order("AAPLUSD", "BUY", "1", "139.00", timeInForce="GTX")
    assert (status, bad["code"]) == (400, -1115)
    status, bad = await alice.order("AAPLUSD", "BUY", "1")
    assert (status, bad["code"]) == (400, -1102) and "'price'" in bad["msg"]


async def test_refusals_in_binance_codes(hserver: Server, client: aiohttp.ClientSession) -> None:
    alice, bob = http(hserver, client, "alice"), http(hserver, client, "bob")
    poor = http(hserver, client, "poor")
    assert await alice.order("XYZUSD", "BUY", "10", "1.01") == (
        400, {"code": -1013, "msg": "Filter failure: PRICE_FILTER"})
    assert await alice.order("XYZUSD", "BUY", "15", "1.00") == (
        400, {"code": -1013, "msg": "Filter failure: LOT_SIZE"})
    assert await alice.order("AAPLUSD", "BUY", "1", "200.00") == (
        400, {"code": -1013, "msg": "Filter failure: PERCENT_PRICE_BY_SIDE"})
    assert await poor.order("AAPLUSD", "BUY", "1", "150.00") == (
        400, {"code": -2010, "msg": "Account has insufficient balance for requested action."})
    assert await poor.order("AAPLUSD", "SELL", "1", "150.00") == (
        400, {"code": -2010, "msg": "Account has insufficient balance for requested action."})
    assert await alice.order("NOPE", "BUY", "1", "1") == (
        400, {"code": -1121, "msg": "Invalid symbol."})
    status, body = await alice.order("AAPLUSD", "BUY", "1e3", "150")
    assert (status, body["code"]) == (400, -1100)
    mine = await alice.order_id("AAPLUSD", "BUY", "1", "140.00")
    # Another user's order does not exist for bob, to look at or to cancel.
    assert await bob.signed("GET", "/api/v3/order", symbol="AAPLUSD", orderId=mine) == (
        400, {"code": -2013, "msg": "Order does not exist."})
    assert await bob.signed("DELETE", "/api/v3/order", symbol="AAPLUSD", orderId=mine) == (
        400, {"code": -2011, "msg": "Unknown order sent."})
    assert await alice.signed("GET", "/api/v3/order", symbol="MSFTUSD", orderId=mine) == (
        400, {"code": -2013, "msg": "Order does not exist."})
    assert await alice.signed("GET", "/api/v3/order", symbol="AAPLUSD",
                              origClientOrderId="never") == (
        400, {"code": -2013, "msg": "Order does not exist."})
    status, body = await alice.signed("GET", "/api/v3/order", symbol="AAPLUSD")
    assert (status, body["code"]) == (400, -1102)
    _, canceled = await alice.signed("DELETE", "/api/v3/order", symbol="AAPLUSD", orderId=mine)
    assert canceled["status"] == "CANCELED"
    assert await alice.signed("DELETE", "/api/v3/order", symbol="AAPLUSD", orderId=mine) == (
        400, {"code": -2011, "msg": "Unknown order sent."})


async def test_open_all_orders_account_and_my_trades(hserver: Server,
                                                     client: aiohttp.ClientSession) -> None:
    alice, bob = http(hserver, client, "alice"), http(hserver, client, "bob")
    a1 = await alice.order_id("AAPLUSD", "BUY", "1", "140.00")
    a2 = await alice.order_id("AAPLUSD", "BUY", "2", "141.00")
    a3 = await alice.order_id("MSFTUSD", "BUY", "1", "400.00")
    await bob.order_id("BTCUSD", "SELL", "0.5", "50000.00")
    b = await alice.order_id("BTCUSD", "BUY", "0.2", "50000.00")
    _, open_all = await alice.signed("GET", "/api/v3/openOrders")
    assert sorted(o["orderId"] for o in open_all) == [a1, a2, a3]
    _, open_aapl = await alice.signed("GET", "/api/v3/openOrders", symbol="AAPLUSD")
    assert sorted(o["orderId"] for o in open_aapl) == [a1, a2]
    _, everything = await alice.signed("GET", "/api/v3/allOrders", symbol="BTCUSD")
    assert [(o["orderId"], o["status"]) for o in everything] == [(b, "FILLED")]
    _, account = await alice.signed("GET", "/api/v3/account")
    no_code(account)
    balances = {row["asset"]: row for row in account["balances"]}
    assert balances["BTC"] == {"asset": "BTC", "free": "10.2000", "locked": "0"}
    assert balances["USD"]["locked"] == "822"  # 140 + 282 + 400 held for the buys
    assert balances["USD"]["free"] == "989178"  # 1,000,000 - 10,000 - 822
    _, trades = await alice.signed("GET", "/api/v3/myTrades", symbol="BTCUSD")
    assert [(t["orderId"], t["price"], t["qty"], t["quoteQty"], t["isBuyer"], t["isMaker"])
            for t in trades] == [(b, "50000.00", "0.2000", "10000", True, False)]
    _, gone = await alice.signed("DELETE", "/api/v3/openOrders", symbol="AAPLUSD")
    assert sorted((o["orderId"], o["status"]) for o in gone) == [(a1, "CANCELED"),
                                                                 (a2, "CANCELED")]
    _, left = await alice.signed("GET", "/api/v3/openOrders")
    assert [o["orderId"] for o in left] == [a3]
    status, body = await alice.signed("DELETE", "/api/v3/openOrders")
    assert (status, body["code"]) == (400, -1102)


async def test_rest_and_json_lines_trade_with_each_other(
        hserver: Server, client: aiohttp.ClientSession) -> None:
    alice = http(hserver, client, "alice")
    bob = await connect(hserver.addr, "bob")
    placed = await bob.request("place", symbol="AAPL", side="sell", qty="4", price="150.00")
    sell_id = placed["order"]["order_id"]
    _, full = await alice.order("AAPLUSD", "BUY", "3", "150.00")
    assert full["status"] == "FILLED" and full["fills"][0]["qty"] == "3"
    fill = await bob.event("fill")
    assert fill["fill"]["buy_order_id"] == full["orderId"]
    assert fill["fill"]["trade_id"] == full["fills"][0]["tradeId"]
    assert fill["order"]["order_id"] == sell_id and fill["order"]["filled_qty"] == "3"
    # The JSON-lines side sees the REST order by the same id; the REST side bob's trade.
    _, trades = await http(hserver, client).get("/api/v3/trades", symbol="AAPLUSD")
    assert trades[-1]["id"] == full["fills"][0]["tradeId"]
    bob_rest = http(hserver, client, "bob")
    _, bobs = await bob_rest.signed("GET", "/api/v3/order", symbol="AAPLUSD", orderId=sell_id)
    assert (bobs["status"], bobs["executedQty"]) == ("PARTIALLY_FILLED", "3")
    # Bob cancels over REST what he placed over JSON lines, and his JSON-lines session
    # hears of it.
    _, canceled = await bob_rest.signed("DELETE", "/api/v3/order", symbol="AAPLUSD",
                                        orderId=sell_id)
    assert canceled["status"] == "CANCELED"
    event = await bob.event("canceled")
    assert event["order"]["order_id"] == sell_id
    await bob.close()
