"""Account administration seen from the HTTP front-end: a symbol listed at run time is in
``exchangeInfo`` and trades there at once; a disabled user's API key is refused (their
session ended, their orders canceled) until the user is enabled again."""

from __future__ import annotations

import aiohttp

from tests.server.conftest import Server
from tests.server.http_wire import Http
from tests.server.wire import connect


async def test_a_symbol_listed_at_run_time_is_in_exchange_info_and_trades(
        hserver: Server, client: aiohttp.ClientSession) -> None:
    api = Http(client, hserver.others["http"])
    alice = Http(client, hserver.others["http"], "alice")
    assert await api.get("/api/v3/depth", symbol="NEWCOUSD") == (
        400, {"code": -1121, "msg": "Invalid symbol."})
    admin = await connect(hserver.addr, "admin")
    listed = await admin.request("add_symbol", symbol="NEWCO", tick_size="0.05",
                                 lot_size="10", reference_price="20.00")
    assert listed["type"] == "symbol_added"
    created = await admin.request("create_user", user="ipo", holdings={"NEWCO": "100"})
    status, body = await api.get("/api/v3/exchangeInfo", symbol="NEWCOUSD")
    assert status == 200
    (row,) = body["symbols"]
    filters = {f["filterType"]: f for f in row["filters"]}
    assert (row["symbol"], row["baseAsset"], row["status"]) == ("NEWCOUSD", "NEWCO", "TRADING")
    assert filters["PRICE_FILTER"]["tickSize"] == "0.05"
    assert filters["LOT_SIZE"]["stepSize"] == "10"
    everything = await api.get("/api/v3/exchangeInfo")
    assert "NEWCOUSD" in {s["symbol"] for s in everything[1]["symbols"]}
    order_id = await alice.order_id("NEWCOUSD", "BUY", "20", "20.05")
    seller = await connect(hserver.addr)
    await seller.login("ipo", created["token"])
    sold = await seller.place("NEWCO", "sell", "20", "20.05")
    assert sold["order"]["status"] == "filled"
    status, order = await alice.signed("GET", "/api/v3/order", symbol="NEWCOUSD",
                                       orderId=order_id)
    assert status == 200 and order["status"] == "FILLED" and order["executedQty"] == "20"
    status, depth = await api.get("/api/v3/depth", symbol="NEWCOUSD")
    assert status == 200 and depth["bids"] == [] and depth["asks"] == []


async def test_a_disabled_users_api_key_is_refused(hserver: Server,
                                                   client: aiohttp.ClientSession) -> None:
    alice = Http(client, hserver.others["http"], "alice")
    order_id = await alice.order_id("AAPLUSD", "BUY", "10", "149.00")
    admin = await connect(hserver.addr, "admin")
    reply = await admin.request("disable_user", user="alice")
    assert reply["type"] == "user_disabled" and reply["order_ids"] == [order_id]
    refused = {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}
    assert await alice.signed("GET", "/api/v3/openOrders") == (401, refused)
    assert await alice.order("AAPLUSD", "BUY", "1", "149.00") == (401, refused)
    bob = await connect(hserver.addr, "bob")
    assert (await bob.request("book", symbol="AAPL"))["bids"] == []
    assert "HTTP login of 'alice' refused" in hserver.log_text()
    assert (await admin.request("enable_user", user="alice"))["type"] == "user_enabled"
    status, orders = await alice.signed("GET", "/api/v3/openOrders")
    assert (status, orders) == (200, [])
    status, body = await alice.signed("GET", "/api/v3/order", symbol="AAPLUSD",
                                      orderId=order_id)
    assert status == 200 and body["status"] == "CANCELED"
