"""Matching: partial fills, what each command reports, fills, trades and order queries."""

from __future__ import annotations

import pytest

from exchange.core.interface import Engine
from tests.core.helpers import SYM, T0, book, buy, placed, sell, trades_of


def test_non_crossing_limits_rest(ex: Engine) -> None:
    b = buy(ex, "alice", 10, 9900)
    s = sell(ex, "bob", 10, 10000)
    assert b.trades == [] and s.trades == []
    assert placed(b).status == placed(s).status == "accepted"
    assert placed(b).leaves == 10 and placed(b).filled == 0
    assert book(ex) == ([(9900, 10)], [(10000, 10)])


def test_partial_fill_of_the_taker_rests_the_remainder(ex: Engine) -> None:
    maker = placed(sell(ex, "alice", 4, 10000))
    out = buy(ex, "bob", 10, 10000, T0 + 1)
    taker = placed(out)
    assert trades_of(out) == [(10000, 4, taker.order_id, maker.order_id)]
    assert (taker.status, taker.filled, taker.leaves) == ("partially_filled", 4, 6)
    assert (maker.status, maker.filled, maker.leaves) == ("filled", 4, 0)
    assert book(ex) == ([(10000, 6)], [])


def test_partial_fill_of_the_maker_keeps_it_resting(ex: Engine) -> None:
    maker = placed(sell(ex, "alice", 10, 10000))
    out = buy(ex, "bob", 3, 10000, T0 + 1)
    taker = placed(out)
    assert (taker.status, taker.leaves) == ("filled", 0)
    assert (maker.status, maker.filled, maker.leaves) == ("partially_filled", 3, 7)
    assert book(ex) == ([], [(10000, 7)])


def test_buy_stops_at_its_limit(ex: Engine) -> None:
    sell(ex, "alice", 1, 10000)
    sell(ex, "alice", 1, 10001)
    far = placed(sell(ex, "alice", 1, 10003))
    out = buy(ex, "bob", 5, 10002, T0 + 1)
    assert [t.price for t in out.trades] == [10000, 10001]
    assert book(ex) == ([(10002, 3)], [(10003, 1)])
    assert far.status == "accepted"


def test_sell_stops_at_its_limit(ex: Engine) -> None:
    buy(ex, "alice", 1, 10000)
    buy(ex, "alice", 1, 9999)
    buy(ex, "alice", 1, 9997)
    out = sell(ex, "bob", 5, 9998, T0 + 1)
    assert [t.price for t in out.trades] == [10000, 9999]
    assert book(ex) == ([(9997, 1)], [(9998, 3)])


def test_trade_records_and_the_commands_report(ex: Engine) -> None:
    maker = placed(sell(ex, "alice", 5, 10000, T0))
    out = buy(ex, "bob", 2, 10100, T0 + 7)
    taker = placed(out)
    assert out.order is taker and not out.duplicate
    (trade,) = out.trades
    assert out.fills == [trade]  # the addressed order's own trades
    assert (trade.symbol, trade.price, trade.qty, trade.taker_side, trade.ts) == (
        SYM, 10000, 2, "buy", T0 + 7)
    assert (trade.buy_order_id, trade.sell_order_id) == (taker.order_id, maker.order_id)
    assert (trade.buy_user, trade.sell_user) == ("bob", "alice")
    # the maker hears of it through an event with a snapshot of its state
    (event,) = out.events
    assert (event.kind, event.order, event.trade) == ("fill", maker, trade)
    assert (event.status, event.filled, event.notional) == ("partially_filled", 2, 20000)
    # a sell taker's trade has the maker as buyer
    out = sell(ex, "carol", 1, 9000, T0 + 8)
    assert out.trades == []


def test_trade_ids_and_order_ids_increase_across_symbols(ex: Engine) -> None:
    ids = []
    trade_ids = []
    for i, symbol in enumerate(["AAPL", "MSFT", "AAPL", "MSFT"]):
        s = ex.place("alice", symbol, "sell", 1, T0 + i, price=10000)
        b = ex.place("bob", symbol, "buy", 1, T0 + i, price=10000)
        ids += [placed(s).order_id, placed(b).order_id]
        trade_ids += [t.trade_id for t in b.trades]
    assert ids == list(range(1, 9))
    assert trade_ids == [1, 2, 3, 4]


def test_one_command_filling_many_makers_reports_each(ex: Engine) -> None:
    m1 = placed(sell(ex, "alice", 1, 10000))
    m2 = placed(sell(ex, "bob", 2, 10000))
    m3 = placed(sell(ex, "carol", 3, 10100))
    out = buy(ex, "bob", 5, 10100, T0 + 1)
    assert [(e.kind, e.order.order_id, e.status) for e in out.events] == [
        ("fill", m1.order_id, "filled"),
        ("fill", m2.order_id, "filled"),
        ("fill", m3.order_id, "partially_filled"),
    ]
    assert [t.qty for t in out.fills] == [1, 2, 2]
    taker = placed(out)
    assert (taker.filled, taker.notional) == (5, 10000 + 20000 + 20200)


def test_fills_of_gives_each_side_its_view(ex: Engine) -> None:
    sell(ex, "alice", 1, 10000, T0)
    sell(ex, "alice", 1, 10100, T0)
    buy(ex, "bob", 2, 10100, T0 + 1)
    ex.place("alice", "MSFT", "sell", 1, T0 + 2, price=500)
    ex.place("bob", "MSFT", "buy", 1, T0 + 3, price=500)
    alice = ex.fills_of("alice")
    assert [(t.symbol, t.price, side) for t, side in alice] == [
        ("AAPL", 10000, "sell"), ("AAPL", 10100, "sell"), ("MSFT", 500, "sell")]
    bob = ex.fills_of("bob")
    assert [(t.price, side) for t, side in bob] == [(10000, "buy"), (10100, "buy"), (500, "buy")]
    assert [t.symbol for t, _ in ex.fills_of("bob", "MSFT")] == ["MSFT"]
    assert [t.price for t, _ in ex.fills_of("bob", limit=2)] == [10100, 500]  # most recent
    assert ex.fills_of("bob", limit=0) == []
    assert ex.fills_of("carol") == []
    assert ex.fills_of("nobody") == []


def test_orders_of_lists_live_or_all_in_placement_order(ex: Engine) -> None:
    a1 = placed(buy(ex, "alice", 1, 9000, T0))
    a2 = placed(ex.place("alice", "MSFT", "buy", 1, T0, price=9000))
    a3 = placed(sell(ex, "alice", 1, 11000, T0))
    rejected = placed(buy(ex, "alice", 0, 9000, T0))
    ex.cancel("alice", a1.order_id, T0 + 1)
    ex.pause("alice", a3.order_id, T0 + 1)
    placed(buy(ex, "bob", 1, 9000, T0))
    assert ex.orders_of("alice") == [a2, a3]
    assert ex.orders_of("alice", SYM) == [a3]
    assert ex.orders_of("alice", live_only=False) == [a1, a2, a3, rejected]
    assert ex.orders_of("alice", "MSFT", live_only=False) == [a2]
    assert ex.orders_of("nobody") == []


def test_avg_price_notional_over_several_fills(ex: Engine) -> None:
    sell(ex, "alice", 1, 10000)
    sell(ex, "alice", 2, 10001)
    taker = placed(buy(ex, "bob", 3, 10001, T0 + 1))
    assert taker.notional == 10000 + 2 * 10001
    spec = ex.spec(SYM)
    assert spec.fmt_avg_price(taker.notional, taker.filled) == "100.00666667"


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_filled_plus_leaves_is_qty_while_live(ex: Engine, side: str) -> None:
    other = "sell" if side == "buy" else "buy"
    resting = placed(ex.place("alice", SYM, side, 10, T0, price=10000))
    for i in range(3):
        ex.place("bob", SYM, other, 2, T0 + i, price=10000)
        assert resting.filled + resting.leaves == resting.qty == 10
        assert resting.filled == 2 * (i + 1)
    ex.cancel("alice", resting.order_id, T0 + 9)
    assert (resting.filled, resting.leaves, resting.qty) == (6, 0, 10)
