"""Market data: last/open/high/low/volume, the tape, candles, book seq and book changes."""

from __future__ import annotations

import pytest

from exchange.core.interface import Engine
from exchange.core.marketdata import CANDLES_KEPT, TAPE_LENGTH
from exchange.core.results import CommandError
from tests.core.helpers import OTHER, SYM, T0, buy, make_exchange, placed, sell, seq

SECOND = 1_000_000
MINUTE = 60 * SECOND
M = 1_699_999_980 * SECOND
"""A minute boundary (2023-11-14T22:13:00Z); its hour starts at 1_699_999_200 s, its day at
1_699_920_000 s."""


def trade(ex: Engine, price: int, qty: int, now: int) -> None:
    sell(ex, "alice", qty, price, now)
    out = buy(ex, "bob", qty, price, now)
    assert [(t.price, t.qty, t.ts) for t in out.trades] == [(price, qty, now)]


def test_session_statistics(ex: Engine) -> None:
    md = ex.market_data(SYM)
    assert (md.last, md.open, md.high, md.low, md.volume) == (None, None, None, None, 0)
    trade(ex, 10000, 2, T0)
    trade(ex, 10500, 1, T0 + 1)
    trade(ex, 9500, 4, T0 + 2)
    trade(ex, 9900, 1, T0 + 3)
    assert (md.last, md.open, md.high, md.low, md.volume) == (9900, 10000, 10500, 9500, 8)
    assert ex.market_data(OTHER).last is None
    with pytest.raises(CommandError) as err:
        ex.market_data("NOPE")
    assert err.value.code == "unknown_symbol"


def test_tape_is_oldest_first_and_limited(ex: Engine) -> None:
    for i in range(5):
        trade(ex, 10000 + i, 1, T0 + i)
    md = ex.market_data(SYM)
    assert [t.price for t in md.recent_trades(50)] == [10000, 10001, 10002, 10003, 10004]
    assert [t.price for t in md.recent_trades(2)] == [10003, 10004]
    assert md.recent_trades(0) == []
    assert [t.trade_id for t in md.recent_trades(5)] == [1, 2, 3, 4, 5]


def test_tape_keeps_only_the_most_recent_trades() -> None:
    ex = make_exchange(lots=TAPE_LENGTH + 10, cash=10**12)
    sell(ex, "alice", TAPE_LENGTH + 5, 100)
    for i in range(TAPE_LENGTH + 5):
        buy(ex, "bob", 1, 100, T0 + i)
    tape = ex.market_data(SYM).recent_trades(TAPE_LENGTH + 100)
    assert len(tape) == TAPE_LENGTH
    assert (tape[0].trade_id, tape[-1].trade_id) == (6, TAPE_LENGTH + 5)


def test_one_minute_candles(ex: Engine) -> None:
    trade(ex, 10000, 1, M + SECOND)
    trade(ex, 10500, 2, M + 30 * SECOND)
    trade(ex, 9500, 1, M + MINUTE - 1)
    trade(ex, 10100, 3, M + MINUTE)
    trade(ex, 10200, 1, M + 5 * MINUTE + 7)  # minutes 2 to 4 had no trades
    candles = ex.candles(SYM, "1m", 100)
    assert [(c.t, c.o, c.h, c.l, c.c, c.v) for c in candles] == [
        (M, 10000, 10500, 9500, 9500, 4),
        (M + MINUTE, 10100, 10100, 10100, 10100, 3),
        (M + 5 * MINUTE, 10200, 10200, 10200, 10200, 1),
    ]
    assert [c.t for c in ex.candles(SYM, "1m", 2)] == [M + MINUTE, M + 5 * MINUTE]
    assert ex.candles(SYM, "1m", 0) == []
    assert ex.candles(OTHER, "1m", 10) == []


def test_longer_intervals_start_at_their_utc_boundary(ex: Engine) -> None:
    trade(ex, 10000, 1, M + SECOND)
    trade(ex, 10100, 1, M + MINUTE)  # 22:14, still the 22:10 five-minute candle
    trade(ex, 9900, 1, M + 47 * MINUTE)  # 23:00: a new hour, same day
    five = ex.candles(SYM, "5m", 10)
    assert [(c.t, c.o, c.c, c.v) for c in five] == [
        (1_699_999_800 * SECOND, 10000, 10100, 2), (1_700_002_800 * SECOND, 9900, 9900, 1)]
    hours = ex.candles(SYM, "1h", 10)
    assert [(c.t, c.h, c.l, c.v) for c in hours] == [
        (1_699_999_200 * SECOND, 10100, 10000, 2), (1_700_002_800 * SECOND, 9900, 9900, 1)]
    days = ex.candles(SYM, "1d", 10)
    assert [(c.t, c.o, c.h, c.l, c.c, c.v) for c in days] == [
        (1_699_920_000 * SECOND, 10000, 10100, 9900, 9900, 3)]


def test_a_clock_that_steps_back_lands_in_the_current_candle(ex: Engine) -> None:
    trade(ex, 10000, 1, M + MINUTE + SECOND)
    trade(ex, 9000, 1, M + 59 * SECOND)
    candles = ex.candles(SYM, "1m", 10)
    assert [(c.t, c.o, c.l, c.c, c.v) for c in candles] == [(M + MINUTE, 10000, 9000, 9000, 2)]


def test_candle_series_are_bounded() -> None:
    ex = make_exchange(lots=10 * CANDLES_KEPT)
    for i in range(CANDLES_KEPT + 3):
        trade(ex, 100, 1, M + i * MINUTE)
    candles = ex.candles(SYM, "1m", 10**6)
    assert len(candles) == CANDLES_KEPT
    assert candles[0].t == M + 3 * MINUTE


def test_candles_bad_interval_or_symbol(ex: Engine) -> None:
    with pytest.raises(CommandError) as err:
        ex.candles(SYM, "2m", 10)
    assert err.value.code == "bad_request" and err.value.message.startswith("interval")
    with pytest.raises(CommandError) as err:
        ex.candles("NOPE", "1m", 10)
    assert err.value.code == "unknown_symbol"


# --- seq and book changes ---------------------------------------------------------------


def test_seq_rises_by_one_per_command_that_changes_the_visible_book(ex: Engine) -> None:
    assert seq(ex) == 0
    s = placed(sell(ex, "alice", 5, 10000))
    assert seq(ex) == 1
    buy(ex, "bob", 2, 10100, T0 + 1)  # trades, and changes one level
    assert seq(ex) == 2
    buy(ex, "bob", 9, 10100, T0 + 2)  # empties one level, opens another
    assert seq(ex) == 3
    with pytest.raises(CommandError):  # s is filled: an error changes nothing
        ex.modify("alice", s.order_id, T0 + 3, qty=4)
    assert seq(ex) == 3
    b = placed(buy(ex, "carol", 1, 9000, T0 + 4))
    ex.pause("carol", b.order_id, T0 + 5)
    assert seq(ex) == 5
    ex.modify("carol", b.order_id, T0 + 6, qty=3)  # paused: not visible
    ex.resume("carol", b.order_id, T0 + 7)
    assert seq(ex) == 6
    ex.cancel("carol", b.order_id, T0 + 8)
    assert seq(ex) == 7
    assert ex.depth(OTHER, 10)[0] == 0  # each book counts its own changes


def test_seq_does_not_move_for_what_is_not_visible(ex: Engine) -> None:
    sell(ex, "alice", 1, 10000)
    buy(ex, "bob", 1, 10000)
    sell(ex, "alice", 1, 11000)
    before = seq(ex)
    buy(ex, "bob", 0, 100)  # rejected
    sell(ex, "bob", 1, 11000, post_only=True, stp="none", tif="gtc")  # rests: visible
    assert seq(ex) == before + 1
    before = seq(ex)
    ex.place("carol", SYM, "sell", 1, T0, kind="stop", stop_price=9000)  # pending
    buy(ex, "carol", 1, 10000, tif="ioc")  # does not cross: expires
    buy(ex, "carol", 5, 11000, tif="fok")  # cannot fill: expires untouched
    ex.expire(SYM, T0 + 10**9)  # nothing due
    assert seq(ex) == before


def test_book_changes_when_tracked(ex: Engine) -> None:
    assert buy(ex, "alice", 1, 9000).book_changes is None  # nobody streams this book
    ex.track_book(SYM, True)
    out = sell(ex, "alice", 5, 10000)
    assert out.book_changes == ([], [(10000, 5)])
    out = sell(ex, "bob", 2, 10000)
    assert out.book_changes == ([], [(10000, 7)])
    out = buy(ex, "carol", 6, 10100, T0 + 1)
    assert out.book_changes == ([], [(10000, 1)])
    out = buy(ex, "carol", 3, 10100, T0 + 2)
    assert out.book_changes == ([(10100, 2)], [(10000, 0)])
    b = placed(buy(ex, "carol", 4, 9000))
    assert ex.pause("carol", b.order_id, T0).book_changes == ([(9000, 1)], [])
    assert ex.cancel("carol", b.order_id, T0).book_changes is None
    out = ex.cancel_all("alice", SYM, T0)
    assert out.book_changes == ([(9000, 0)], [])


def test_self_trade_cancel_changes_no_seq(ex: Engine) -> None:
    sell(ex, "alice", 1, 10000)
    before = seq(ex)
    out = buy(ex, "alice", 1, 10000, T0 + 1, stp="cancel_newest")
    assert placed(out).reason == "self_trade"
    assert seq(ex) == before


def test_modify_to_the_same_values_changes_no_seq(ex: Engine) -> None:
    s = placed(sell(ex, "alice", 2, 10000))
    before = seq(ex)
    ex.modify("alice", s.order_id, T0 + 1, qty=2, price=10000)
    assert seq(ex) == before
