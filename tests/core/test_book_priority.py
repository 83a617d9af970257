"""Price-time priority: which resting orders trade first, and the visible book."""

from __future__ import annotations

from exchange.core.interface import Engine
from tests.core.helpers import T0, book, buy, placed, sell, trades_of


def test_buy_takes_the_lowest_asks_first(ex: Engine) -> None:
    s101 = placed(sell(ex, "alice", 1, 10100))
    s100 = placed(sell(ex, "bob", 1, 10000))
    s102 = placed(sell(ex, "carol", 1, 10200))
    out = buy(ex, "alice", 3, 10200, T0 + 1)
    b = placed(out)
    assert trades_of(out) == [
        (10000, 1, b.order_id, s100.order_id),
        (10100, 1, b.order_id, s101.order_id),
        (10200, 1, b.order_id, s102.order_id),
    ]
    assert b.status == "filled"


def test_sell_takes_the_highest_bids_first(ex: Engine) -> None:
    b99 = placed(buy(ex, "alice", 1, 9900))
    b101 = placed(buy(ex, "bob", 1, 10100))
    b100 = placed(buy(ex, "carol", 1, 10000))
    out = sell(ex, "alice", 3, 9900, T0 + 1)
    s = placed(out)
    assert [(p, q, bid) for p, q, bid, _ in trades_of(out)] == [
        (10100, 1, b101.order_id),
        (10000, 1, b100.order_id),
        (9900, 1, b99.order_id),
    ]
    assert all(t.sell_order_id == s.order_id for t in out.trades)


def test_oldest_first_within_a_price(ex: Engine) -> None:
    first = placed(sell(ex, "carol", 2, 10000, T0))
    second = placed(sell(ex, "alice", 2, 10000, T0 + 1))
    third = placed(sell(ex, "bob", 2, 10000, T0 + 2))
    out = buy(ex, "bob", 3, 10000, T0 + 3)
    assert [(t.sell_order_id, t.qty) for t in out.trades] == [
        (first.order_id, 2), (second.order_id, 1)]
    assert (first.status, second.status, third.status) == ("filled", "partially_filled",
                                                           "accepted")
    # the partly filled order keeps the front of the queue
    out = buy(ex, "carol", 2, 10000, T0 + 4)
    assert [(t.sell_order_id, t.qty) for t in out.trades] == [
        (second.order_id, 1), (third.order_id, 1)]


def test_price_beats_time(ex: Engine) -> None:
    old = placed(buy(ex, "alice", 1, 10000, T0))
    better = placed(buy(ex, "bob", 1, 10001, T0 + 1))
    out = sell(ex, "carol", 1, 9000, T0 + 2)
    assert [t.buy_order_id for t in out.trades] == [better.order_id]
    assert old.status == "accepted"


def test_trade_price_is_the_makers(ex: Engine) -> None:
    sell(ex, "alice", 1, 10000)
    out = buy(ex, "bob", 1, 10500, T0 + 1)
    assert [t.price for t in out.trades] == [10000]
    buy(ex, "alice", 1, 9000, T0 + 2)
    out = sell(ex, "bob", 1, 8000, T0 + 3)
    assert [t.price for t in out.trades] == [9000]


def test_depth_is_aggregated_best_first_and_limited(ex: Engine) -> None:
    buy(ex, "alice", 3, 9900)
    buy(ex, "bob", 2, 9900)
    buy(ex, "carol", 1, 9800)
    buy(ex, "carol", 4, 9950)
    sell(ex, "alice", 5, 10100)
    sell(ex, "bob", 1, 10050)
    sell(ex, "bob", 2, 10100)
    assert book(ex) == ([(9950, 4), (9900, 5), (9800, 1)], [(10050, 1), (10100, 7)])
    _, bids, asks = ex.depth("AAPL", 2)
    assert bids == [(9950, 4), (9900, 5)]
    assert asks == [(10050, 1), (10100, 7)]
    _, bids, asks = ex.depth("AAPL", 0)
    assert (bids, asks) == ([], [])
    assert book(ex, "MSFT") == ([], [])


def test_depth_shows_leaves_not_original_qty(ex: Engine) -> None:
    sell(ex, "alice", 10, 10000)
    buy(ex, "bob", 4, 10000, T0 + 1)
    assert book(ex) == ([], [(10000, 6)])


def test_paused_orders_are_left_out_of_the_book_and_of_matching(ex: Engine) -> None:
    paused = placed(sell(ex, "alice", 5, 10000))
    other = placed(sell(ex, "bob", 2, 10000, T0 + 1))
    ex.pause("alice", paused.order_id, T0 + 2)
    assert book(ex) == ([], [(10000, 2)])
    out = buy(ex, "carol", 5, 10000, T0 + 3)
    assert [(t.sell_order_id, t.qty) for t in out.trades] == [(other.order_id, 2)]
    assert book(ex) == ([(10000, 3)], [])
    assert paused.status == "paused" and paused.filled == 0


def test_lowering_qty_keeps_the_place_in_the_queue(ex: Engine) -> None:
    first = placed(sell(ex, "alice", 5, 10000, T0))
    second = placed(sell(ex, "bob", 5, 10000, T0 + 1))
    ex.modify("alice", first.order_id, T0 + 2, qty=3)
    assert book(ex) == ([], [(10000, 8)])
    out = buy(ex, "carol", 4, 10000, T0 + 3)
    assert [(t.sell_order_id, t.qty) for t in out.trades] == [
        (first.order_id, 3), (second.order_id, 1)]


def test_raising_qty_sends_the_order_to_the_back(ex: Engine) -> None:
    first = placed(sell(ex, "alice", 5, 10000, T0))
    second = placed(sell(ex, "bob", 5, 10000, T0 + 1))
    ex.modify("alice", first.order_id, T0 + 2, qty=6)
    assert book(ex) == ([], [(10000, 11)])
    out = buy(ex, "carol", 6, 10000, T0 + 3)
    assert [(t.sell_order_id, t.qty) for t in out.trades] == [
        (second.order_id, 5), (first.order_id, 1)]


def test_a_new_price_goes_to_the_back_of_the_new_level(ex: Engine) -> None:
    mover = placed(sell(ex, "alice", 1, 10100, T0))
    waiting = placed(sell(ex, "bob", 1, 10000, T0 + 1))
    ex.modify("alice", mover.order_id, T0 + 2, price=10000)
    assert book(ex) == ([], [(10000, 2)])
    out = buy(ex, "carol", 2, 10000, T0 + 3)
    assert [t.sell_order_id for t in out.trades] == [waiting.order_id, mover.order_id]


def test_same_price_modify_keeps_the_place(ex: Engine) -> None:
    first = placed(sell(ex, "alice", 2, 10000, T0))
    second = placed(sell(ex, "bob", 2, 10000, T0 + 1))
    ex.modify("alice", first.order_id, T0 + 2, price=10000, qty=2)
    out = buy(ex, "carol", 1, 10000, T0 + 3)
    assert [t.sell_order_id for t in out.trades] == [first.order_id]
    assert second.filled == 0


def test_resume_puts_the_order_at_the_back(ex: Engine) -> None:
    first = placed(buy(ex, "alice", 1, 10000, T0))
    second = placed(buy(ex, "bob", 1, 10000, T0 + 1))
    ex.pause("alice", first.order_id, T0 + 2)
    ex.resume("alice", first.order_id, T0 + 3)
    out = sell(ex, "carol", 1, 10000, T0 + 4)
    assert [t.buy_order_id for t in out.trades] == [second.order_id]
    assert first.status == "accepted"
