"""Text commands: every command of PROTOCOL.md's list, case rules, errors, JSON equivalence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from protocol import messages as m
from protocol.codec import decode_request, encode
from protocol.errors import ProtocolError
from protocol.text import COMMAND_WORDS, HELP_TEXT, parse_command

D = Decimal

# (text command, the request it stands for) -- every line of PROTOCOL.md's list, and more.
COMMANDS: list[tuple[str, m.Request]] = [
    ("login alice alice-token", m.Login(user="alice", token="alice-token")),
    (
        "buy AAPL 100 @ 150.25",
        m.Place(symbol="AAPL", side="buy", qty=D("100"), price=D("150.25")),
    ),
    ("buy AAPL 100 150.25", m.Place(symbol="AAPL", side="buy", qty=D("100"), price=D("150.25"))),
    (
        "sell AAPL 50 150.30 ioc",
        m.Place(symbol="AAPL", side="sell", qty=D("50"), price=D("150.30"), tif="ioc"),
    ),
    ("sell AAPL 1 2 gtc", m.Place(symbol="AAPL", side="sell", qty=D(1), price=D(2), tif="gtc")),
    ("sell AAPL 1 2 fok", m.Place(symbol="AAPL", side="sell", qty=D(1), price=D(2), tif="fok")),
    ("sell AAPL 1 2 day", m.Place(symbol="AAPL", side="sell", qty=D(1), price=D(2), tif="day")),
    ("buy AAPL 10 market", m.Place(symbol="AAPL", side="buy", qty=D("10"), kind="market")),
    (
        "sell AAPL 10 stop=148",
        m.Place(symbol="AAPL", side="sell", qty=D("10"), kind="stop", stop_price=D("148")),
    ),
    (
        "sell AAPL 10 stop=148 limit=147.5",
        m.Place(
            symbol="AAPL",
            side="sell",
            qty=D("10"),
            kind="stop_limit",
            stop_price=D("148"),
            price=D("147.5"),
        ),
    ),
    (
        "sell AAPL 10 147.5 stop=148",
        m.Place(
            symbol="AAPL",
            side="sell",
            qty=D("10"),
            kind="stop_limit",
            stop_price=D("148"),
            price=D("147.5"),
        ),
    ),
    (
        "buy BTC-USD 0.5 @ 50000 ttl=30s cid=my-1 post_only stp=cancel_newest",
        m.Place(
            symbol="BTC-USD",
            side="buy",
            qty=D("0.5"),
            price=D("50000"),
            tif="gtd",
            ttl_ms=30_000,
            client_order_id="my-1",
            post_only=True,
            stp="cancel_newest",
        ),
    ),
    (
        "buy X 1 1 ttl=250ms",
        m.Place(symbol="X", side="buy", qty=D(1), price=D(1), ttl_ms=250),
    ),
    (
        "buy X 1 1 ttl=2m",
        m.Place(symbol="X", side="buy", qty=D(1), price=D(1), ttl_ms=120_000),
    ),
    (
        "buy X 1 1 ttl=1.5h",
        m.Place(symbol="X", side="buy", qty=D(1), price=D(1), ttl_ms=5_400_000),
    ),
    ("modify 17 qty=50 price=150.20", m.Modify(order_id=17, qty=D("50"), price=D("150.20"))),
    ("modify 17 price=150.20", m.Modify(order_id=17, price=D("150.20"))),
    ("modify cid=a1 qty=5", m.Modify(client_order_id="a1", qty=D("5"))),
    ("cancel 17", m.Cancel(order_id=17)),
    ("cancel cid=My-Order", m.Cancel(client_order_id="My-Order")),
    ("cancel all", m.CancelAll()),
    ("cancel all AAPL", m.CancelAll(symbol="AAPL")),
    ("cancel_all aapl", m.CancelAll(symbol="AAPL")),
    ("pause 17", m.Pause(order_id=17)),
    ("resume 17", m.Resume(order_id=17)),
    ("status 17", m.Status(order_id=17)),
    ("orders", m.Orders()),
    ("orders AAPL", m.Orders(symbol="AAPL")),
    ("orders all", m.Orders(status="all")),
    ("orders AAPL all", m.Orders(symbol="AAPL", status="all")),
    ("orders all AAPL", m.Orders(symbol="AAPL", status="all")),
    ("fills", m.Fills()),
    ("fills AAPL", m.Fills(symbol="AAPL")),
    ("fills AAPL 20", m.Fills(symbol="AAPL", limit=20)),
    ("book AAPL", m.Book(symbol="AAPL")),
    ("book AAPL 5", m.Book(symbol="AAPL", depth=5)),
    ("quote AAPL", m.Quote(symbol="AAPL")),
    ("trades AAPL", m.Trades(symbol="AAPL")),
    ("trades AAPL 20", m.Trades(symbol="AAPL", limit=20)),
    ("candles AAPL 1m", m.Candles(symbol="AAPL", interval="1m")),
    ("candles AAPL 1h 24", m.Candles(symbol="AAPL", interval="1h", limit=24)),
    ("balance", m.Balance()),
    ("portfolio", m.Portfolio()),
    ("deposit 1000", m.Deposit(amount=D("1000"))),
    ("withdraw 500", m.Withdraw(amount=D("500"))),
    ("subscribe trades AAPL", m.Subscribe(channel="trades", symbol="AAPL")),
    ("subscribe book AAPL", m.Subscribe(channel="book", symbol="AAPL")),
    ("subscribe quote AAPL", m.Subscribe(channel="quote", symbol="AAPL")),
    ("unsubscribe book AAPL", m.Unsubscribe(channel="book", symbol="AAPL")),
    ("alert AAPL above 160", m.Alert(symbol="AAPL", above=D("160"))),
    ("alert AAPL below 140.5", m.Alert(symbol="AAPL", below=D("140.5"))),
    ("symbols", m.Symbols()),
    ("ping", m.Ping()),
    ("help", m.Help()),
    ("quit", m.Quit()),
    ("halt AAPL", m.Halt(symbol="AAPL")),
    ("resume_trading AAPL", m.ResumeTrading(symbol="AAPL")),
    ("close_market", m.CloseMarket()),
    ("close_market all", m.CloseMarket(expire="all")),
    ("open_market", m.OpenMarket()),
    ("stats", m.Stats()),
    # account administration and profiles
    ('create_user dora name="Dora Explorer" email=dora@example.com cash=500 '
     "holdings=aapl:10,BTC-USD:0.5 admin",
     m.CreateUser(user="dora", name="Dora Explorer", email="dora@example.com", admin=True,
                  cash=Decimal("500"), holdings={"AAPL": Decimal("10"),
                                                 "BTC-USD": Decimal("0.5")})),
    ("create_user Ops", m.CreateUser(user="Ops")),
    ("profile", m.Profile()),
    ("profile bob", m.Profile(user="bob")),
    ("update_profile phone='+1 555 0100'", m.UpdateProfile(phone="+1 555 0100")),
    ('update_profile bob name="" email=b@example.com',
     m.UpdateProfile(user="bob", name="", email="b@example.com")),
    ("disable_user bob", m.DisableUser(user="bob")),
    ("enable_user bob", m.EnableUser(user="bob")),
    ("add_symbol newco 0.05 10 ref=20.00 band=0.5 max_qty=100000",
     m.AddSymbol(symbol="NEWCO", tick_size=Decimal("0.05"), lot_size=Decimal("10"),
                 reference_price=Decimal("20.00"), price_band=Decimal("0.5"),
                 max_qty=Decimal("100000"))),
    # two-factor login, watchlists and symbol search
    ("login alice alice-token 012345", m.Login(user="alice", token="alice-token", otp="012345")),
    ("otp_setup", m.OtpSetup()),
    ("otp_enable 123456", m.OtpEnable(code="123456")),
    ("otp_disable 000000", m.OtpDisable(code="000000")),
    ("watchlist", m.Watchlist()),
    ("watch aapl", m.Watch(symbol="AAPL")),
    ("unwatch BTC-USD", m.Unwatch(symbol="BTC-USD")),
    ("search apple", m.Search(query="apple")),
    ("search Bitcoin  US limit=3", m.Search(query="Bitcoin US", limit=3)),
    # history, audit trail, reports and the inbox
    ("order_history", m.OrderHistory()),
    ("order_history aapl limit=5 after=3",
     m.OrderHistory(symbol="AAPL", limit=5, after=3)),
    ("fill_history start=2026-12-01T00:00:00Z",
     m.FillHistory(start=datetime(2026, 12, 1, tzinfo=UTC))),
    ("trade_history AAPL end=2026-12-02T00:00:00+01:00",
     m.TradeHistory(symbol="AAPL",
                    end=datetime(2026, 12, 2, tzinfo=timezone(timedelta(hours=1))))),
    ("candle_history AAPL 5M limit=7", m.CandleHistory(symbol="AAPL", interval="5m", limit=7)),
    ("audit", m.Audit()),
    ("audit bob limit=3", m.Audit(user="bob", limit=3)),
    ("report gains 2026", m.Report(kind="gains", year=2026)),
    ("report confirmations end=2027-01-01T00:00:00Z",
     m.Report(kind="confirmations", end=datetime(2027, 1, 1, tzinfo=UTC))),
    ("inbox since=4 limit=20", m.Inbox(since=4, limit=20)),
    ("inbox_read", m.InboxRead()),
    ("inbox_read all", m.InboxRead()),
    ("inbox_read 3 4", m.InboxRead(ids=[3, 4])),
    ("inbox_read up_to=9", m.InboxRead(up_to=9)),
]


@pytest.mark.parametrize(("text", "expected"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_text_command(text: str, expected: m.Request) -> None:
    assert parse_command(text) == expected
    assert decode_request(text.encode()) == expected


@pytest.mark.parametrize(("text", "expected"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_text_and_json_give_the_same_struct(text: str, expected: m.Request) -> None:
    assert decode_request(encode(expected)) == parse_command(text)


def test_every_command_word_is_tested_and_documented() -> None:
    tested = {text.split()[0] for text, _ in COMMANDS}
    assert tested == COMMAND_WORDS
    for word in COMMAND_WORDS - {"cancel_all"}:
        assert word in HELP_TEXT
    assert {type(req).__struct_config__.tag for _, req in COMMANDS} == m.OPS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "BUY aapl 100 @ 150.25 GTD CID=Keep-Case STP=Cancel_Oldest POST_ONLY TTL=5S",
            m.Place(
                symbol="AAPL",
                side="buy",
                qty=D("100"),
                price=D("150.25"),
                tif="gtd",
                ttl_ms=5000,
                client_order_id="Keep-Case",
                post_only=True,
                stp="cancel_oldest",
            ),
        ),
        ("Sell btc-usd 1 MARKET", m.Place(symbol="BTC-USD", side="sell", qty=D(1), kind="market")),
        ("CANCEL ALL aapl", m.CancelAll(symbol="AAPL")),
        ("Orders ALL", m.Orders(status="all")),
        ("Subscribe TRADES aapl", m.Subscribe(channel="trades", symbol="AAPL")),
        ("candles aapl 1M", m.Candles(symbol="AAPL", interval="1m")),
        ("ALERT aapl ABOVE 1", m.Alert(symbol="AAPL", above=D(1))),
        ("Login Alice Secret", m.Login(user="Alice", token="Secret")),
        ("CLOSE_MARKET All", m.CloseMarket(expire="all")),
        ("  ping  ", m.Ping()),
        ("book\tAAPL\t5", m.Book(symbol="AAPL", depth=5)),
    ],
)
def test_case_and_blanks(text: str, expected: m.Request) -> None:
    assert parse_command(text) == expected


def test_blank_text_is_none() -> None:
    assert parse_command("") is None
    assert parse_command(" \t ") is None


@pytest.mark.parametrize("text", ["hello", "teleport AAPL", "place AAPL", "BUYY AAPL 1 1"])
def test_unknown_command_word(text: str) -> None:
    result = parse_command(text)
    assert isinstance(result, ProtocolError)
    assert result.code == "unknown_op"
    assert repr(text.split()[0]) in result.message
    assert result.ref is None


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("login alice", "user and a token"),
        ("login a b c", "`$.otp`"),
        ("login a b 123456 x", "user and a token"),
        ("login a b 12345", "`$.otp`"),
        ("otp_enable", "6-digit code"),
        ("otp_enable 12345", "`$.code`"),
        ("otp_disable 12345a", "`$.code`"),
        ("otp_disable 123456 7", "6-digit code"),
        ("otp_setup now", "'now'"),
        ("watch", "symbol"),
        ("unwatch AAPL MSFT", "'MSFT'"),
        ("watchlist all", "'all'"),
        ("search", "words to look for"),
        ("search limit=5", "words to look for"),
        ("search apple limit=0", "`$.limit`"),
        ("search apple limit=x", "limit must be a whole number"),
        ("search " + "x" * 65, "`$.query`"),
        ("buy", "symbol and a quantity"),
        ("buy AAPL", "symbol and a quantity"),
        ("buy AAPL 10", "`price`"),
        ("buy AAPL ten 1", "`$.qty`"),
        ("buy AAPL 10 abc", "'abc'"),
        ("buy AAPL 10 @", "`@`"),
        ("buy AAPL 10 @ ioc", "`@`"),
        ("buy AAPL 10 1 2", "second price"),
        ("buy AAPL 10 1 limit=2", "given twice"),
        ("buy AAPL 10 1 ioc fok", "two time-in-force"),
        ("buy AAPL 10 market 5", "`price`"),
        ("buy AAPL 10 1 foo=bar", "'foo='"),
        ("buy AAPL 10 1 ttl=30", "ttl"),
        ("buy AAPL 10 1 ttl=30d", "ttl"),
        ("buy AAPL 10 1 ttl=0.5ms", "whole number of milliseconds"),
        ("buy AAPL 10 1 ttl=0s", "`$.ttl_ms`"),
        ("buy AAPL 10 1 ttl=400d", "ttl"),
        ("buy AAPL 10 1 ttl=9999h", "`$.ttl_ms`"),
        ("buy AAPL 10 1 ttl=1s day", "`$.tif`"),
        ("buy AAPL 10 1 stp=never", "`$.stp`"),
        ("buy AAPL 10 1 cid=", "`$.client_order_id`"),
        ("buy AAPL 10 NaN", "'NaN'"),
        ("buy AAPL 10 -inf", "`$.price`"),
        ("buy AAPL NaN 1", "`$.qty`"),
        ("buy AAPL 10 1e999", "`$.price`"),
        ("modify", "order id"),
        ("modify 17", "`qty`"),
        ("modify 17 50", "qty=... or price=..."),
        ("modify 17 qty=1 qty=2", "given twice"),
        ("modify 17 size=1", "qty=... or price=..."),
        ("cancel", "order id"),
        ("cancel abc", "'abc'"),
        ("cancel -1", "'-1'"),
        ("cancel 0", "`$.order_id`"),
        ("cancel 17 18", "'18'"),
        ("cancel 99999999999999999999999", "whole number"),
        ("cancel all AAPL MSFT", "'MSFT'"),
        ("pause", "order id"),
        ("status x", "'x'"),
        ("orders AAPL MSFT", "'MSFT'"),
        ("orders all live", "'live'"),
        ("fills AAPL 10 20", "'20'"),
        ("fills 0", "`$.limit`"),
        ("book", "symbol"),
        ("book AAPL five", "depth must be a whole number"),
        ("book AAPL 0", "`$.depth`"),
        ("book AAPL 10001", "`$.depth`"),
        ("book AAPL 5 6", "'6'"),
        ("quote", "symbol"),
        ("quote AAPL MSFT", "'MSFT'"),
        ("trades AAPL -3", "limit must be a whole number"),
        ("candles AAPL", "interval"),
        ("candles AAPL 2m", "`$.interval`"),
        ("candles AAPL 1m x", "limit must be a whole number"),
        ("deposit", "one amount"),
        ("deposit 1 2", "one amount"),
        ("deposit lots", "`$.amount`"),
        ("withdraw Infinity", "`$.amount`"),
        ("subscribe trades", "channel and a symbol"),
        ("subscribe candles AAPL", "`$.channel`"),
        ("alert AAPL 160", "`above` or `below`"),
        ("alert AAPL over 160", "`above` or `below`"),
        ("alert AAPL above", "`above` or `below`"),
        ("halt", "symbol"),
        ("resume_trading", "symbol"),
        ("close_market week", "`$.expire`"),
        ("close_market all now", "'now'"),
        ("ping now", "'now'"),
        ("stats x", "'x'"),
        ("book " + "X" * 33, "`$.symbol`"),
        # account administration and profiles
        ("create_user", "a user id first"),
        ("create_user name=Dora", "a user id first"),
        ("create_user dora admin=yes", "expected one of name="),
        ("create_user dora cash=lots", "`$.cash`"),
        ("create_user dora holdings=AAPL", "SYMBOL:QTY"),
        ("create_user dora holdings=AAPL:1,aapl:2", "twice"),
        ('create_user dora name="Dora', "No closing quotation"),
        ("create_user dora name=a name=b", "name= given twice"),
        ("update_profile", "`name` (or `phone`, `email`)"),
        ("update_profile bob admin=true", "expected one of name="),
        ("profile bob carol", "'carol'"),
        ("disable_user", "a user id"),
        ("enable_user bob carol", "a user id"),
        ("add_symbol NEWCO 0.05", "a tick size and a lot size"),
        ("add_symbol NEWCO 0.05 10 tick=1", "expected ref="),
        ("add_symbol NEWCO x 10", "`$.tick_size`"),
        ("candle_history AAPL 1m after=3", "'after=3'"),
        ("candle_history AAPL", "interval"),
        ("trade_history", "symbol"),
        ("fill_history AAPL limit=0", "`$.limit`"),
        ("fill_history start=yesterday", "`$.start`"),
        ("fill_history start=2026-12-01T00:00:00", "`$.start`"),
        ("order_history AAPL bogus", "'bogus'"),
        ("report gains", "year"),
        ("report gains twenty", "year"),
        ("report taxes", "`$.kind`"),
        ("report confirmations year=2026", "'year=2026'"),
        ("inbox_read x", "notification id"),
        ("inbox since=-1", "since"),
    ],
)
def test_malformed_arguments(text: str, needle: str) -> None:
    result = parse_command(text)
    assert isinstance(result, ProtocolError), result
    assert result.code == "bad_request"
    assert needle in result.message
    assert "usage: " in result.message
    assert result.ref is None


def test_long_words_are_cut_short_in_messages() -> None:
    result = parse_command("cancel " + "z" * 10_000)
    assert isinstance(result, ProtocolError)
    assert len(result.message) < 200


def test_help_text_is_text() -> None:
    assert HELP_TEXT.endswith("\n")
    assert all(len(line) <= 100 for line in HELP_TEXT.splitlines())
