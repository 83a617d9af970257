"""Unmodified Binance clients trading on the HTTP front-end: ccxt's ``binance`` doing
everything the README shows a bot doing, checked through ccxt's own parsing, and
python-binance's ``Client`` as a second, independent one."""

from __future__ import annotations

import ccxt
import pytest
from binance.client import Client
from binance.exceptions import BinanceAPIException

from tests.server.conftest import Server
from tests.server.wire import connect


def binance(server: Server, user: str) -> ccxt.binance:
    host, port = server.others["http"]
    exchange = ccxt.binance({
        "apiKey": f"{user}-key", "secret": f"{user}-secret",
        "options": {"fetchMarkets": ["spot"], "fetchCurrencies": False,
                    "fetchMargins": False},
    })
    exchange.urls["api"]["public"] = f"http://{host}:{port}/api/v3"
    exchange.urls["api"]["private"] = f"http://{host}:{port}/api/v3"
    return exchange


def test_ccxt_trades_as_on_binance(hserver: Server) -> None:
    alice, bob = binance(hserver, "alice"), binance(hserver, "bob")
    markets = alice.load_markets()
    assert {"AAPL/USD", "MSFT/USD", "BTC/USD", "XYZ/USD"} <= set(markets)
    btc = markets["BTC/USD"]
    assert (btc["id"], btc["base"], btc["quote"], btc["spot"], btc["active"]) == (
        "BTCUSD", "BTC", "USD", True, True)
    assert btc["precision"]["amount"] == 0.0001 and btc["precision"]["price"] == 0.01
    assert markets["XYZ/USD"]["limits"]["amount"]["min"] == 10

    # Limit orders both ways; bob's sell rests, alice's buy rests below it.
    sell = bob.create_order("AAPL/USD", "limit", "sell", 5, 151)
    buy = alice.create_order("AAPL/USD", "limit", "buy", 2, 149)
    assert (sell["status"], sell["side"], sell["price"], sell["amount"]) == (
        "open", "sell", 151.0, 5.0)
    assert buy["clientOrderId"]  # ccxt sends its own newClientOrderId
    book = alice.fetch_order_book("AAPL/USD")
    assert book["bids"][0] == [149.0, 2.0] and book["asks"][0] == [151.0, 5.0]
    ticker = alice.fetch_ticker("AAPL/USD")
    assert (ticker["bid"], ticker["ask"]) == (149.0, 151.0)

    # A market buy takes 2 of bob's 5; a market sell hits alice's bid.
    taken = alice.create_order("AAPL/USD", "market", "buy", 2)
    assert (taken["status"], taken["filled"], taken["average"]) == ("closed", 2.0, 151.0)
    hit = bob.create_order("AAPL/USD", "market", "sell", 1)
    assert (hit["status"], hit["filled"], hit["average"]) == ("closed", 1.0, 149.0)

    trades = alice.fetch_trades("AAPL/USD")
    assert [(t["price"], t["amount"], t["side"]) for t in trades] == [
        (151.0, 2.0, "buy"), (149.0, 1.0, "sell")]
    candles = alice.fetch_ohlcv("AAPL/USD", "1m")
    assert candles[-1][1:] == [151.0, 151.0, 149.0, 149.0, 3.0]
    assert alice.fetch_ticker("AAPL/USD")["last"] == 149.0

    fetched = alice.fetch_order(buy["id"], "AAPL/USD")
    assert (fetched["id"], fetched["status"], fetched["filled"], fetched["remaining"]) == (
        buy["id"], "open", 1.0, 1.0)
    mine = alice.fetch_my_trades("AAPL/USD")
    assert sorted((t["order"], t["side"], t["takerOrMaker"], t["amount"]) for t in mine) == \
        sorted([(taken["id"], "buy", "taker", 2.0), (buy["id"], "buy", "maker", 1.0)])

    balance = alice.fetch_balance()
    assert balance["AAPL"]["total"] == 1003.0
    assert balance["USD"]["total"] == 1_000_000 - 302 - 149
    assert balance["USD"]["used"] == 149.0  # the last lot of the resting buy

    more = alice.create_order("AAPL/USD", "limit", "buy", 3, 140)
    assert {o["id"] for o in alice.fetch_open_orders("AAPL/USD")} == {buy["id"], more["id"]}
    canceled = alice.cancel_order(more["id"], "AAPL/USD")
    assert canceled["status"] == "canceled"
    with pytest.raises(ccxt.OrderNotFound):
        alice.cancel_order(more["id"], "AAPL/USD")
    with pytest.raises(ccxt.OrderNotFound):
        bob.fetch_order(buy["id"], "AAPL/USD")  # not his
    everything = alice.cancel_all_orders("AAPL/USD")
    assert [o["id"] for o in everything] == [buy["id"]]
    assert alice.fetch_open_orders("AAPL/USD") == []

    # Refusals become ccxt's own exceptions.
    with pytest.raises(ccxt.InsufficientFunds):
        alice.create_order("AAPL/USD", "limit", "sell", 5000, 150)
    with pytest.raises(ccxt.InvalidOrder):
        alice.create_order("AAPL/USD", "limit", "buy", 1, 400)  # outside the price band
    wrong = binance(hserver, "alice")
    wrong.secret = "not-the-secret"
    wrong.markets, wrong.markets_by_id = alice.markets, alice.markets_by_id
    wrong.symbols, wrong.ids = alice.symbols, alice.ids
    with pytest.raises(ccxt.AuthenticationError):
        wrong.fetch_balance()


async def test_ccxt_orders_trade_with_json_lines(hserver: Server) -> None:
    carol = await connect(hserver.addr, "carol")
    placed = await carol.request("place", symbol="BTC-USD", side="sell", qty="0.5",
                                 price="50000.00")
    dave = binance(hserver, "dave")
    dave.load_markets()
    order = dave.create_order("BTC/USD", "limit", "buy", 0.25, 50000)
    assert (order["status"], order["filled"]) == ("closed", 0.25)
    fill = await carol.event("fill")
    assert fill["order"]["order_id"] == placed["order"]["order_id"]
    assert fill["fill"]["buy_order_id"] == int(order["id"])
    await carol.close()


def test_python_binance_trades_too(hserver: Server) -> None:
    """A second, independent client: python-binance's Client pointed at the server."""
    host, port = hserver.others["http"]
    alice = Client("alice-key", "alice-secret", ping=False)
    bob = Client("bob-key", "bob-secret", ping=False)
    for client in (alice, bob):
        client.API_URL = f"http://{host}:{port}/api"
    assert alice.ping() == {}
    info = alice.get_symbol_info("BTCUSD")
    assert info is not None and (info["baseAsset"], info["quoteAsset"]) == ("BTC", "USD")
    sell = bob.order_limit_sell(symbol="BTCUSD", quantity="0.5", price="50000.00")
    assert sell["status"] == "NEW"
    buy = alice.order_limit_buy(symbol="BTCUSD", quantity="0.2", price="50000.00",
                                newClientOrderId="pb-1")
    assert (buy["status"], buy["executedQty"], buy["clientOrderId"]) == (
        "FILLED", "0.2000", "pb-1")
    book = alice.get_order_book(symbol="BTCUSD")
    assert book["asks"] == [["50000.00", "0.3000"]]
    assert alice.get_order(symbol="BTCUSD", origClientOrderId="pb-1")["orderId"] == \
        buy["orderId"]
    assert [t["orderId"] for t in alice.get_my_trades(symbol="BTCUSD")] == [buy["orderId"]]
    balances = {b["asset"]: b for b in alice.get_account()["balances"]}
    assert balances["BTC"]["free"] == "10.2000"
    assert [o["orderId"] for o in bob.get_open_orders(symbol="BTCUSD")] == [sell["orderId"]]
    assert bob.cancel_order(symbol="BTCUSD", orderId=sell["orderId"])["status"] == "CANCELED"
    klines = alice.get_klines(symbol="BTCUSD", interval="1m")
    assert klines[-1][4] == "50000.00"
    with pytest.raises(BinanceAPIException) as refused:
        alice.order_limit_buy(symbol="BTCUSD", quantity="0.00001", price="50000.00")
    assert refused.value.code == -1013
