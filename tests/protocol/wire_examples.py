"""One or more example of every request and every server message, shared by the tests."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from protocol import messages as m
from protocol import replies as r

D = Decimal

REQUESTS: list[m.Request] = [
    m.Login(user="alice", token="alice-token", ref="r1"),
    m.Ping(),
    m.Ping(ref=0),
    m.Help(ref=-5),
    m.Quit(),
    m.Place(symbol="AAPL", side="buy", qty=D("100"), price=D("150.25"), ref="a" * 64),
    m.Place(symbol="AAPL", side="sell", qty=D("10"), kind="market", tif="ioc"),
    m.Place(symbol="AAPL", side="sell", qty=D("10"), kind="stop", stop_price=D("148")),
    m.Place(
        symbol="AAPL",
        side="sell",
        qty=D("10"),
        kind="stop_limit",
        stop_price=D("148"),
        price=D("147.5"),
        tif="day",
    ),
    m.Place(
        symbol="BTC-USD",
        side="buy",
        qty=D("0.5"),
        price=D("50000"),
        ttl_ms=30_000,
        client_order_id="my-1",
        post_only=True,
        stp="cancel_newest",
        ref=2**63 - 1,
    ),
    m.Place(
        symbol="BTC-USD",
        side="buy",
        qty=D("0.000000000000000001"),
        price=D("50000.00"),
        expire_at=datetime(2026, 11, 22, 16, 0, 0, 123, tzinfo=UTC),
    ),
    m.Modify(order_id=17, qty=D("50"), price=D("150.20")),
    m.Modify(client_order_id="a1", qty=D("5")),
    m.Cancel(order_id=17),
    m.Cancel(client_order_id="a1", ref=3),
    m.CancelAll(),
    m.CancelAll(symbol="AAPL"),
    m.Pause(order_id=1),
    m.Resume(order_id=2),
    m.Status(client_order_id="x"),
    m.Orders(),
    m.Orders(symbol="AAPL", status="all"),
    m.Fills(symbol="AAPL", limit=20),
    m.Balance(),
    m.Deposit(amount=D("1000")),
    m.Withdraw(amount=D("500.5")),
    m.Portfolio(),
    m.Symbols(),
    m.Book(symbol="AAPL", depth=5),
    m.Quote(symbol="AAPL"),
    m.Trades(symbol="AAPL", limit=20),
    m.Candles(symbol="AAPL", interval="1m"),
    m.Candles(symbol="AAPL", interval="1d", limit=7),
    m.Subscribe(channel="trades", symbol="AAPL"),
    m.Unsubscribe(channel="book", symbol="AAPL"),
    m.Alert(symbol="AAPL", above=D("160")),
    m.Alert(symbol="AAPL", below=D("140.5")),
    m.Halt(symbol="AAPL"),
    m.ResumeTrading(symbol="AAPL"),
    m.CloseMarket(),
    m.CloseMarket(expire="all"),
    m.OpenMarket(),
    m.Stats(),
    # account administration and profiles
    m.CreateUser(user="dora", name="Dora Explorer", email="dora@example.com", cash=D("500"),
                 holdings={"AAPL": D("10")}),
    m.CreateUser(user="ops", admin=True),
    m.Profile(),
    m.Profile(user="bob"),
    m.UpdateProfile(phone="+1 555 0100"),
    m.UpdateProfile(user="bob", name="Robert", email=""),
    m.DisableUser(user="bob"),
    m.EnableUser(user="bob"),
    m.AddSymbol(symbol="NEWCO", tick_size=D("0.05"), lot_size=D("10"),
                reference_price=D("20.00"), price_band=D("0.5")),
    # two-factor login, watchlists and symbol search
    m.Login(user="alice", token="alice-token", otp="012345"),
    m.OtpSetup(),
    m.OtpEnable(code="123456"),
    m.OtpDisable(code="000001", ref=9),
    m.Watchlist(),
    m.Watch(symbol="AAPL"),
    m.Unwatch(symbol="BTC-USD"),
    m.Search(query="apple"),
    m.Search(query="bitcoin us", limit=5),
    # history, audit trail, reports and the inbox
    m.OrderHistory(symbol="AAPL", start=datetime(2026, 12, 1, tzinfo=UTC), after=17, limit=50),
    m.FillHistory(end=datetime(2026, 12, 2, tzinfo=UTC)),
    m.TradeHistory(symbol="AAPL", after=100),
    m.CandleHistory(symbol="AAPL", interval="1m", start=datetime(2026, 12, 1, tzinfo=UTC)),
    m.Audit(user="bob", limit=10),
    m.Report(kind="confirmations", start=datetime(2026, 1, 1, tzinfo=UTC)),
    m.Report(kind="gains", year=2026),
    m.Inbox(since=4),
    m.InboxRead(ids=[1, 2]),
    m.InboxRead(up_to=9),
    m.InboxRead(),
]

ORDER = r.Order(
    order_id=17,
    client_order_id="a1",
    user="alice",
    symbol="AAPL",
    side="buy",
    kind="limit",
    tif="gtc",
    price="150.25",
    stop_price=None,
    qty="100",
    filled_qty="40",
    leaves_qty="60",
    avg_price="150.20",
    status="partially_filled",
    reason=None,
    accepted_at="2026-11-22T09:30:00.000123Z",
    expires_at=None,
)
# PROTOCOL.md's ORDER example, verbatim.
ORDER_JSON = (
    b'{"order_id": 17, "client_order_id": "a1", "user": "alice", "symbol": "AAPL",'
    b' "side": "buy", "kind": "limit", "tif": "gtc", "price": "150.25", "stop_price": null,'
    b' "qty": "100", "filled_qty": "40", "leaves_qty": "60", "avg_price": "150.20",'
    b' "status": "partially_filled", "reason": null,'
    b' "accepted_at": "2026-11-22T09:30:00.000123Z", "expires_at": null}'
)
TRADE = r.Trade(
    trade_id=9,
    symbol="AAPL",
    price="150.20",
    qty="40",
    buy_order_id=17,
    sell_order_id=12,
    taker_side="buy",
    ts="2026-11-22T09:30:00.000123Z",
)
FILL = r.Fill(
    trade_id=9,
    symbol="AAPL",
    price="150.20",
    qty="40",
    buy_order_id=17,
    sell_order_id=12,
    taker_side="buy",
    ts="2026-11-22T09:30:00.000123Z",
    order_id=17,
    side="buy",
    liquidity="taker",
    fee="6.01",
)
REJECTED_ORDER = r.Order(
    order_id=18,
    client_order_id=None,
    user="alice",
    symbol="AAPL",
    side="sell",
    kind="market",
    tif="gtc",
    price=None,
    stop_price=None,
    qty="5",
    filled_qty="0",
    leaves_qty="0",
    avg_price=None,
    status="rejected",
    reason="no_liquidity",
    accepted_at="2026-11-22T09:30:01.000000Z",
    expires_at=None,
)
POSITION = r.Position(
    symbol="AAPL",
    qty="1000",
    available="900",
    avg_cost="150",
    last=None,
    market_value="150000",
    unrealized_pnl="0",
    realized_pnl="0",
)
QUOTE = r.QuoteReply(
    symbol="AAPL",
    bid="150.20",
    bid_qty="10",
    ask=None,
    ask_qty=None,
    last="150.20",
    open="150.00",
    high="150.30",
    low="149.90",
    volume="1200",
    ref=4,
)

PROFILE = r.UserProfile(user="dora", name="Dora Explorer", phone="", email="dora@example.com",
                        admin=False, disabled=False)

REPLIES: list[r.Reply] = [
    r.Welcome(user="alice", name="Alice Example", ref="r1"),
    r.Pong(ts="2026-11-22T09:30:00.000123Z"),
    r.HelpReply(text="help text", commands=["login USER TOKEN", "help"]),
    r.Bye(ref=1),
    r.Error(code="bad_request", message="Object missing required field `qty`", ref="x"),
    r.Error(code="line_too_long", message="too long"),
    r.Accepted(order=ORDER, fills=[FILL], ref=1),
    r.Accepted(order=ORDER, fills=[], duplicate=True),
    r.Rejected(order=REJECTED_ORDER),
    r.Modified(order=ORDER, fills=[]),
    r.Canceled(order=ORDER, ref=2),
    r.Canceled(order=ORDER),
    r.CanceledAll(count=2, order_ids=[3, 4]),
    r.Paused(order=ORDER),
    r.Resumed(order=ORDER, fills=[FILL, FILL]),
    r.OrderReply(order=ORDER),
    r.OrdersReply(orders=[ORDER, REJECTED_ORDER]),
    r.FillsReply(fills=[FILL]),
    r.BalanceReply(cash="1000000", available="990000", reserved="10000", fees_paid="6.01"),
    r.PortfolioReply(cash="1000000", positions=[POSITION], net_worth="1150000"),
    r.SymbolsReply(
        symbols=[
            r.SymbolInfo(symbol="AAPL", tick_size="0.01", lot_size="1", last=None, status="open")
        ]
    ),
    r.BookReply(symbol="AAPL", seq=7, bids=[("150.20", "10"), ("150.10", "5")], asks=[]),
    QUOTE,
    r.TradesReply(trades=[TRADE]),
    r.CandlesReply(
        candles=[r.Candle(t="2026-11-22T09:30:00Z", o="1", h="2", l="0.5", c="1.5", v="10")]
    ),
    r.Subscribed(channel="book", symbol="AAPL"),
    r.Unsubscribed(channel="quote", symbol="AAPL"),
    r.AlertSet(alert_id=1),
    r.Halted(symbol="AAPL"),
    r.TradingResumed(symbol="AAPL"),
    r.MarketClosed(count=1, order_ids=[17]),
    r.MarketOpened(),
    r.StatsReply(counters={"sessions": 2, "orders": 10, "trades": 3}, build="compiled"),
    r.FillEvent(order=ORDER, fill=FILL),
    r.Expired(order=ORDER),
    r.Triggered(order=ORDER),
    r.TradeEvent(trade=TRADE),
    r.BookUpdate(symbol="AAPL", seq=8, bids=[("150.20", "0")], asks=[("150.30", "7")]),
    r.AlertEvent(alert_id=1, symbol="AAPL", last="160.00"),
    r.RiskAlertEvent(limit="max_position", symbol="AAPL", used="900", max="1000"),
    # account administration and profiles
    r.ProfileReply(profile=PROFILE),
    r.UserCreated(profile=PROFILE, token="q3kM1y0Hc2Zx8TfJ1u6bWwVdF9o5pLrA"),
    r.UserDisabled(user="bob", count=2, order_ids=[17, 18]),
    r.UserEnabled(user="bob"),
    r.SymbolAdded(symbol=r.SymbolInfo(symbol="NEWCO", tick_size="0.05", lot_size="10",
                                      last=None, status="open", max_qty="1000000000",
                                      max_price="100000000", reference_price="20.00",
                                      price_band="0.5")),
    # two-factor login, watchlists and symbol search
    r.OtpSetupReply(
        secret="JBSWY3DPEHPK3PXP",
        uri="otpauth://totp/Exchange:alice?secret=JBSWY3DPEHPK3PXP&issuer=Exchange"
        "&algorithm=SHA1&digits=6&period=30",
        digits=6,
        period=30,
    ),
    r.OtpEnabled(ref=1),
    r.OtpDisabled(),
    r.WatchlistReply(
        symbols=[
            r.WatchEntry(
                symbol="AAPL",
                name="Apple Inc.",
                status="open",
                bid="150.20",
                bid_qty="10",
                ask=None,
                ask_qty=None,
                last="150.20",
                open="150.00",
                high="150.30",
                low="149.90",
                volume="1200",
            )
        ]
    ),
    r.WatchlistReply(symbols=[]),
    r.SearchReply(
        symbols=[
            r.SymbolInfo(
                symbol="AAPL",
                tick_size="0.01",
                lot_size="1",
                last=None,
                status="open",
                name="Apple Inc.",
            )
        ]
    ),
    # history, audit trail, reports and the inbox
    r.OrderHistoryReply(orders=[ORDER], more=True, next=41),
    r.FillHistoryReply(fills=[FILL], more=False, next=4),
    r.TradeHistoryReply(trades=[TRADE], more=False, next=4),
    r.CandleHistoryReply(symbol="AAPL", interval="1m", more=False, candles=[
        r.Candle(t="2026-11-22T09:30:00Z", o="1", h="2", l="0.5", c="1.5", v="10")]),
    r.AuditReply(more=False, next=1, events=[r.AuditEvent(
        id=1, seq=7, ts="2026-11-22T09:30:00.000001Z", user="alice", action="cancel",
        detail={"order_id": 17}, outcome="canceled order 17")]),
    r.ReportReply(kind="gains", csv="trade_id,time\n1,2026-11-22T09:30:00Z\n", rows=1,
                  more=False),
    r.InboxReply(unread=1, more=False, notifications=[r.Notification(
        id=3, ts="2026-11-22T09:30:00.000001Z", kind="fill", symbol="AAPL", order_id=17,
        text="sold 5 AAPL at 150.25 (order 17, trade 4)", read=False)]),
    r.InboxMarked(marked=1, unread=0),
]
