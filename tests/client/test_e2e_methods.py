"""Every method of the client once, against the real server."""

from __future__ import annotations

from decimal import Decimal

import pytest

import client
from client import (
    Accepted,
    AlertSet,
    AuthFailedError,
    AuthRequiredError,
    BadStateError,
    BalanceReply,
    BookReply,
    Bye,
    Canceled,
    CanceledAll,
    CandlesReply,
    Client,
    ConnectionClosed,
    FillsReply,
    ForbiddenError,
    Halted,
    HelpReply,
    InsufficientFundsError,
    MarketClosed,
    MarketOpened,
    Modified,
    NotLiveError,
    OrderReply,
    OrdersReply,
    Paused,
    Pong,
    PortfolioReply,
    QuoteReply,
    Rejected,
    Resumed,
    StatsReply,
    Subscribed,
    SymbolsReply,
    TradesReply,
    TradingResumed,
    UnknownOrderError,
    UnknownSymbolError,
    Unsubscribed,
    Welcome,
)
from tests.client.conftest import CASH, HOLDING, TEST_SYMBOLS, ServerProcess, connect


def accepted(reply: Accepted | Rejected) -> Accepted:
    assert isinstance(reply, Accepted), reply
    return reply


# --- session ----------------------------------------------------------------------------


async def test_login_ping_help_quit(server: ServerProcess) -> None:
    async with connect(server, None) as c:
        welcome = await c.login("bob", "bob-token")
        assert isinstance(welcome, Welcome)
        assert welcome.user == "bob" and welcome.name == "Bob Example"
        assert isinstance(await c.ping(), Pong)
        text = await c.help()
        assert isinstance(text, HelpReply) and text.text
        assert isinstance(await c.quit(), Bye)
        assert c.is_closed
        with pytest.raises(ConnectionClosed):
            await c.ping()


async def test_bad_login(server: ServerProcess) -> None:
    async with connect(server, None) as c:
        with pytest.raises(AuthFailedError):
            await c.login("alice", "wrong")
        with pytest.raises(AuthFailedError):
            await c.login("nobody", "nobody-token")
    with pytest.raises(AuthFailedError):
        await Client.connect(server.host, server.port, user="alice", token="nope")


async def test_order_ops_need_login(server: ServerProcess, symbol: str) -> None:
    async with connect(server, None) as c:
        with pytest.raises(AuthRequiredError):
            await c.place(symbol, "buy", 1, "10.00")
        assert isinstance(await c.quote(symbol), QuoteReply)  # market data needs none


# --- orders -----------------------------------------------------------------------------


async def test_place_accepted_rejected_and_duplicate(alice: Client, symbol: str) -> None:
    reply = accepted(await alice.place(symbol, "buy", 5, Decimal("10.5"), client_order_id="d1"))
    order = reply.order
    assert (order.symbol, order.side, order.kind, order.tif) == (symbol, "buy", "limit", "gtc")
    assert (order.price, order.qty, order.status) == ("10.50", "5", "accepted")
    assert reply.fills == [] and reply.duplicate is False

    again = accepted(await alice.place(symbol, "buy", 5, "10.50", client_order_id="d1"))
    assert again.duplicate is True and again.order.order_id == order.order_id

    rejected = await alice.place(symbol, "buy", 1, "10.001")
    assert isinstance(rejected, Rejected)
    assert rejected.order.status == "rejected" and rejected.order.reason == "bad_price"
    assert (await alice.status(rejected.order.order_id)).order.status == "rejected"


async def test_place_order_kinds(alice: Client, symbol: str) -> None:
    market = await alice.place(symbol, "buy", 1, kind="market")
    assert isinstance(market, Rejected) and market.order.reason == "no_liquidity"
    stop = accepted(await alice.place(symbol, "sell", 1, kind="stop", stop_price="5.00"))
    assert stop.order.status == "pending" and stop.order.stop_price == "5.00"
    gtd = accepted(await alice.place(symbol, "buy", 1, 9, ttl_ms=60_000))
    assert gtd.order.tif == "gtd" and gtd.order.expires_at is not None
    ioc = accepted(await alice.place(symbol, "buy", 1, "9.00", tif="ioc"))
    assert ioc.order.status == "expired"
    await alice.place(symbol, "sell", 1, "20.00")
    post = await alice.place(symbol, "buy", 1, "20.00", post_only=True)
    assert isinstance(post, Rejected) and post.order.reason == "would_take"
    await alice.cancel_all(symbol)


async def test_modify_pause_resume_cancel_status(alice: Client, symbol: str) -> None:
    order = accepted(await alice.place(symbol, "buy", 10, "10.00", client_order_id="m1")).order
    modified = await alice.modify(order.order_id, qty=8, price="10.10")
    assert isinstance(modified, Modified)
    assert (modified.order.qty, modified.order.price) == ("8", "10.10")
    paused = await alice.pause(client_order_id="m1")
    assert isinstance(paused, Paused) and paused.order.status == "paused"
    with pytest.raises(BadStateError):
        await alice.pause(order.order_id)
    resumed = await alice.resume(order.order_id)
    assert isinstance(resumed, Resumed) and resumed.order.status == "accepted"
    status = await alice.status(client_order_id="m1")
    assert isinstance(status, OrderReply) and status.order.order_id == order.order_id
    canceled = await alice.cancel(order.order_id)
    assert isinstance(canceled, Canceled) and canceled.order.status == "canceled"
    assert canceled.order.leaves_qty == "0"
    with pytest.raises(NotLiveError):
        await alice.cancel(order.order_id)
    with pytest.raises(UnknownOrderError):
        await alice.cancel(10**12)


async def test_another_users_order_is_unknown(alice: Client, bob: Client, symbol: str) -> None:
    order = accepted(await alice.place(symbol, "buy", 1, "10.00")).order
    with pytest.raises(UnknownOrderError):
        await bob.status(order.order_id)
    await alice.cancel(order.order_id)


async def test_orders_cancel_all_and_fills(alice: Client, bob: Client, symbol: str) -> None:
    ids = [
        accepted(await alice.place(symbol, "buy", 1, f"1{i}.00")).order.order_id for i in range(3)
    ]
    live = await alice.orders(symbol)
    assert isinstance(live, OrdersReply)
    assert [o.order_id for o in live.orders] == ids
    taken = accepted(await bob.place(symbol, "sell", 1, "12.00"))
    assert [f.price for f in taken.fills] == ["12.00"]
    fills = await alice.fills(symbol)
    assert isinstance(fills, FillsReply)
    assert [(f.order_id, f.liquidity, f.side) for f in fills.fills] == [(ids[2], "maker", "buy")]
    every = await alice.orders(symbol, status="all")
    assert {o.status for o in every.orders} == {"accepted", "filled"}
    canceled = await alice.cancel_all(symbol)
    assert isinstance(canceled, CanceledAll)
    assert (canceled.count, sorted(canceled.order_ids)) == (2, ids[:2])
    assert (await alice.orders(symbol)).orders == []


# --- accounts ---------------------------------------------------------------------------


async def test_balance_deposit_withdraw(server: ServerProcess) -> None:
    async with connect(server, "carol") as c:
        start = await c.balance()
        assert isinstance(start, BalanceReply)
        assert (start.cash, start.available, start.reserved) == (CASH, CASH, "0")
        after = await c.deposit("100.5")
        assert Decimal(after.cash) == Decimal(CASH) + Decimal("100.5")
        back = await c.withdraw(100)
        assert Decimal(back.cash) == Decimal(CASH) + Decimal("0.5")
        with pytest.raises(InsufficientFundsError) as info:
            await c.withdraw("100000000")
        assert info.value.code == "insufficient_funds"


async def test_portfolio(server: ServerProcess) -> None:
    async with connect(server, "dave") as c:
        portfolio = await c.portfolio()
        assert isinstance(portfolio, PortfolioReply)
        positions = {p.symbol: p for p in portfolio.positions}
        assert Decimal(positions[TEST_SYMBOLS[-1]].qty) == Decimal(HOLDING)
        assert Decimal(positions[TEST_SYMBOLS[-1]].avg_cost) == Decimal("100")
        assert Decimal(portfolio.cash) == Decimal(CASH)


# --- market data ------------------------------------------------------------------------


async def test_symbols(alice: Client) -> None:
    reply = await alice.symbols()
    assert isinstance(reply, SymbolsReply)
    by_name = {s.symbol: s for s in reply.symbols}
    assert (by_name["BTC-USD"].tick_size, by_name["BTC-USD"].lot_size) == ("0.01", "0.0001")
    assert {"AAPL", "MSFT", "TSLA", *TEST_SYMBOLS} <= by_name.keys()


async def test_book_quote_trades_candles(alice: Client, bob: Client, symbol: str) -> None:
    await alice.place(symbol, "buy", 3, "10.00")
    await alice.place(symbol, "buy", 2, "10.00")
    await bob.place(symbol, "sell", 4, "10.20")
    book = await alice.book(symbol, depth=5)
    assert isinstance(book, BookReply)
    assert (book.bids, book.asks) == ([("10.00", "5")], [("10.20", "4")])
    await alice.place(symbol, "buy", 1, "10.20")
    quote = await bob.quote(symbol)
    assert isinstance(quote, QuoteReply)
    assert (quote.bid, quote.bid_qty, quote.ask, quote.ask_qty) == ("10.00", "5", "10.20", "3")
    assert (quote.last, quote.volume) == ("10.20", "1")
    trades = await bob.trades(symbol)
    assert isinstance(trades, TradesReply)
    assert [(t.price, t.qty, t.taker_side) for t in trades.trades] == [("10.20", "1", "buy")]
    candles = await bob.candles(symbol, "1m")
    assert isinstance(candles, CandlesReply)
    assert [(k.o, k.c, k.v) for k in candles.candles] == [("10.20", "10.20", "1")]
    await alice.cancel_all(symbol)
    await bob.cancel_all(symbol)


async def test_unknown_symbol(alice: Client) -> None:
    with pytest.raises(UnknownSymbolError):
        await alice.quote("NOPE")


async def test_subscribe_unsubscribe_alert(alice: Client, symbol: str) -> None:
    sub = await alice.subscribe("quote", symbol)
    assert isinstance(sub, Subscribed) and (sub.channel, sub.symbol) == ("quote", symbol)
    unsub = await alice.unsubscribe("quote", symbol)
    assert isinstance(unsub, Unsubscribed) and unsub.symbol == symbol
    alert = await alice.alert(symbol, above="200")
    assert isinstance(alert, AlertSet) and alert.alert_id > 0


# --- administration ---------------------------------------------------------------------


async def test_admin_ops(admin: Client, alice: Client, symbol: str) -> None:
    halted = await admin.halt(symbol)
    assert isinstance(halted, Halted) and halted.symbol == symbol
    refused = await alice.place(symbol, "buy", 1, "10.00")
    assert isinstance(refused, Rejected) and refused.order.reason == "halted"
    resumed = await admin.resume_trading(symbol)
    assert isinstance(resumed, TradingResumed) and resumed.symbol == symbol
    day = accepted(await alice.place(symbol, "buy", 1, "10.00", tif="day")).order
    closed = await admin.close_market()
    try:
        assert isinstance(closed, MarketClosed)
        assert day.order_id in closed.order_ids and closed.count == len(closed.order_ids)
        refused = await alice.place(symbol, "buy", 1, "10.00")
        assert isinstance(refused, Rejected) and refused.order.reason == "market_closed"
    finally:
        opened = await admin.open_market()
    assert isinstance(opened, MarketOpened)
    stats = await admin.stats()
    assert isinstance(stats, StatsReply) and stats.counters


async def test_admin_ops_are_forbidden_to_others(alice: Client, symbol: str) -> None:
    with pytest.raises(ForbiddenError):
        await alice.halt(symbol)
    with pytest.raises(ForbiddenError):
        await alice.stats()


def test_the_package_docstring_example_runs(
    server: ServerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    """The usage example the README links to, run as written (but on the test server)."""
    doc = client.__doc__
    assert doc is not None
    start = doc.index("```python") + len("```python")
    code = doc[start : doc.index("```", start)].replace("7878", str(server.port))
    exec(compile(code, "client-example", "exec"), {"__name__": "__main__"})
    out = capsys.readouterr().out
    assert "order" in out and "trade 5 @ 150.25" in out and "filled 5 @ 150.25" in out
    assert "insufficient_funds" in out
