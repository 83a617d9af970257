"""Every reject reason of PROTOCOL.md: a `rejected` reply whose order keeps its id."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.server.conftest import StartServer
from tests.server.wire import Conn, connect


async def rejected(reply: dict[str, Any], reason: str, conn: Conn) -> None:
    assert reply["type"] == "rejected", reply
    order = reply["order"]
    assert (order["status"], order["reason"]) == ("rejected", reason)
    # Zero, written with the lot's decimals ("0", "0.0000").
    assert Decimal(order["filled_qty"]) == Decimal(order["leaves_qty"]) == 0
    assert order["leaves_qty"] == order["filled_qty"]
    assert set(reply) <= {"type", "order", "ref"}
    status = await conn.request("status", order_id=order["order_id"])
    assert status["order"]["status"] == "rejected" and status["order"]["reason"] == reason


async def test_insufficient_funds_and_holdings(addr: tuple[str, int], alice: Conn) -> None:
    poor = await connect(addr, "poor")
    await rejected(await poor.place("MSFT", "buy", "1", "100.01"), "insufficient_funds", poor)
    await rejected(await poor.text("buy MSFT 3 @ 40"), "insufficient_funds", poor)
    await rejected(await poor.place("MSFT", "sell", "1", "100.00"), "insufficient_holdings",
                   poor)
    await rejected(await alice.place("AAPL", "sell", "1001", "150.00"), "insufficient_holdings",
                   alice)
    await rejected(await alice.place("MSFT", "buy", "10000", "150.00", kind="stop_limit",
                                     stop_price="200"), "insufficient_funds", alice)
    await rejected(await alice.place("MSFT", "sell", "1001", kind="stop", stop_price="10"),
                   "insufficient_holdings", alice)
    assert (await poor.request("balance"))["reserved"] == "0"


async def test_bad_price_and_bad_qty(alice: Conn) -> None:
    await rejected(await alice.place("AAPL", "buy", "1", "150.001"), "bad_price", alice)
    await rejected(await alice.place("AAPL", "buy", "1", "0"), "bad_price", alice)
    await rejected(await alice.place("AAPL", "buy", "1", "-150"), "bad_price", alice)
    await rejected(await alice.place("XYZ", "buy", "10", "1.07"), "bad_price", alice)
    await rejected(await alice.place("AAPL", "sell", "1", kind="stop", stop_price="149.999"),
                   "bad_price", alice)
    await rejected(await alice.place("AAPL", "buy", "1.5", "150.00"), "bad_qty", alice)
    await rejected(await alice.place("AAPL", "buy", "0", "150.00"), "bad_qty", alice)
    await rejected(await alice.place("AAPL", "buy", "-3", "150.00"), "bad_qty", alice)
    await rejected(await alice.place("XYZ", "buy", "25", "1.05"), "bad_qty", alice)
    await rejected(await alice.place("BTC-USD", "buy", "0.00001", "50000"), "bad_qty", alice)
    await rejected(await alice.text("buy XYZ 15 @ 1.05"), "bad_qty", alice)
    await rejected(await alice.text("buy XYZ 10 @ 1.01"), "bad_price", alice)
    await rejected(await alice.request("place", symbol="AAPL", side="buy", qty="0.5",
                                       kind="market"), "bad_qty", alice)
    assert (await alice.request("book", symbol="AAPL"))["bids"] == []
    orders = (await alice.request("orders", status="all"))["orders"]
    assert len(orders) == 13 and {o["status"] for o in orders} == {"rejected"}


async def test_price_band(alice: Conn, bob: Conn) -> None:
    # 10% around the reference 150.00: [135.00, 165.00], inclusive.
    await rejected(await alice.place("AAPL", "buy", "1", "134.99"), "price_band", alice)
    await rejected(await alice.place("AAPL", "sell", "1", "165.01"), "price_band", alice)
    assert (await alice.place("AAPL", "buy", "1", "135.00"))["type"] == "accepted"
    assert (await alice.place("AAPL", "sell", "1", "165.00"))["type"] == "accepted"
    # After a trade the band is measured from the last price: 160 -> [144, 176].
    await alice.order_id("AAPL", "sell", "1", "160.00")
    await bob.place("AAPL", "buy", "1", "160.00")
    await rejected(await alice.place("AAPL", "buy", "1", "143.99"), "price_band", alice)
    assert (await alice.place("AAPL", "sell", "1", "176.00"))["type"] == "accepted"
    await rejected(await alice.text("sell AAPL 1 176.01"), "price_band", alice)
    # No band on MSFT.
    assert (await alice.place("MSFT", "sell", "1", "9999.99"))["type"] == "accepted"


async def test_would_take_and_no_liquidity(alice: Conn, bob: Conn) -> None:
    await bob.order_id("AAPL", "sell", "1", "150.00")
    await rejected(await alice.place("AAPL", "buy", "1", "150.00", post_only=True),
                   "would_take", alice)
    await rejected(await alice.text("buy AAPL 1 151 post_only"), "would_take", alice)
    await rejected(await alice.request("place", symbol="MSFT", side="buy", qty="1",
                                       kind="market"), "no_liquidity", alice)
    await rejected(await alice.text("sell MSFT 1 market"), "no_liquidity", alice)
    assert (await alice.request("balance"))["reserved"] == "0"


async def test_halted_and_market_closed(alice: Conn, admin: Conn) -> None:
    assert (await admin.request("halt", symbol="AAPL"))["type"] == "halted"
    await rejected(await alice.place("AAPL", "buy", "1", "150.00"), "halted", alice)
    assert (await alice.place("MSFT", "buy", "1", "150.00"))["type"] == "accepted"
    await admin.request("resume_trading", symbol="AAPL")
    assert (await admin.request("close_market"))["type"] == "market_closed"
    await rejected(await alice.place("AAPL", "buy", "1", "150.00"), "market_closed", alice)
    await rejected(await alice.text("sell MSFT 1 market"), "market_closed", alice)
    await admin.request("open_market")
    assert (await alice.place("AAPL", "buy", "1", "150.00"))["type"] == "accepted"


async def test_too_many_orders(start_server: StartServer) -> None:
    server = start_server("[limits]\nmax_open_orders = 3\n")
    alice = await connect(server.addr, "alice")
    bob = await connect(server.addr, "bob")
    ids = [await alice.order_id("AAPL", "buy", "1", "149.00") for _ in range(2)]
    ids.append(await alice.order_id("MSFT", "sell", "1", "500.00"))  # across symbols
    await rejected(await alice.place("AAPL", "buy", "1", "149.00"), "too_many_orders", alice)
    await rejected(await alice.text("buy BTC-USD 1 40000"), "too_many_orders", alice)
    # Another user has their own count.
    assert (await bob.place("AAPL", "buy", "1", "149.00"))["type"] == "accepted"
    # An order that ends frees its place.
    await alice.request("cancel", order_id=ids[0])
    assert (await alice.place("AAPL", "buy", "1", "149.00"))["type"] == "accepted"
    # An order that fills at once never counts.
    await bob.order_id("MSFT", "sell", "1", "400.00")
    r = await alice.place("MSFT", "buy", "1", "400.00")
    assert r["type"] == "rejected" and r["order"]["reason"] == "too_many_orders"
    await alice.request("cancel", order_id=ids[1])
    r = await alice.place("MSFT", "buy", "1", "400.00")
    assert r["type"] == "accepted" and r["order"]["status"] == "filled"
    assert (await alice.place("AAPL", "buy", "1", "149.00"))["type"] == "accepted"
