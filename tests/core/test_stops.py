"""Stop and stop-limit orders: reservation, pending state, triggering and cascades."""

from __future__ import annotations

import pytest

from exchange.core.interface import Engine
from exchange.core.orders import Order
from exchange.core.results import CommandError
from tests.core.helpers import (
    CASH,
    SYM,
    T0,
    account,
    book,
    buy,
    make_exchange,
    placed,
    position,
    sell,
    seq,
)


def set_last(ex: Engine, price: int, now: int = T0) -> None:
    """Make one trade at ``price`` between alice and bob (so the last price is ``price``)."""
    sell(ex, "alice", 1, price, now)
    out = buy(ex, "bob", 1, price, now)
    assert [t.price for t in out.trades] == [price]
    assert ex.market_data(SYM).last == price


def stop(ex: Engine, user: str, side: str, qty: int, stop_price: int, price: int | None = None,
         now: int = T0, **kw: object) -> Order:
    kind = "stop" if price is None else "stop_limit"
    out = ex.place(user, SYM, side, qty, now, kind=kind, stop_price=stop_price, price=price,
                   **kw)  # type: ignore[arg-type]
    return placed(out)


def test_pending_stop_sell_reserves_holdings_and_is_not_in_the_book(ex: Engine) -> None:
    set_last(ex, 10000)
    before = seq(ex)
    s = stop(ex, "carol", "sell", 3, 9900)
    assert (s.status, s.kind, s.stop_price, s.price, s.leaves) == ("pending", "stop", 9900,
                                                                    None, 3)
    assert s.reserved == 3 and position(ex, "carol").reserved == 3
    assert book(ex) == ([], [])
    assert seq(ex) == before  # the visible book did not change
    assert ex.orders_of("carol") == [s]


def test_pending_stop_buy_reserves_nothing(ex: Engine) -> None:
    set_last(ex, 10000)
    s = stop(ex, "carol", "buy", 3, 10100)
    assert (s.status, s.reserved) == ("pending", 0)
    assert account(ex, "carol").reserved_cash == 0


def test_pending_stop_limit_buy_reserves_qty_times_price(ex: Engine) -> None:
    set_last(ex, 10000)
    s = stop(ex, "carol", "buy", 3, 10100, price=10150)
    assert (s.status, s.reserved) == ("pending", 30450)
    assert account(ex, "carol").reserved_cash == 30450


def test_no_last_price_means_no_trigger(ex: Engine) -> None:
    buy_stop = stop(ex, "carol", "buy", 1, 1)
    sell_stop = stop(ex, "carol", "sell", 1, 10**9)
    assert buy_stop.status == sell_stop.status == "pending"


def test_stop_sell_triggers_when_last_reaches_the_stop(ex: Engine) -> None:
    set_last(ex, 10000)
    s = stop(ex, "carol", "sell", 2, 9900)
    bid = placed(buy(ex, "alice", 5, 9900))
    # a trade above the stop does not trigger it
    sell(ex, "bob", 1, 9950, T0 + 1)
    buy(ex, "alice", 1, 9950, T0 + 1)
    assert s.status == "pending"
    out = sell(ex, "bob", 1, 9900, T0 + 2)
    taker = placed(out)
    assert [(t.price, t.qty, t.buy_order_id, t.sell_order_id) for t in out.trades] == [
        (9900, 1, bid.order_id, taker.order_id),
        (9900, 2, bid.order_id, s.order_id),
    ]
    assert out.fills == out.trades[:1]
    assert [(e.kind, e.order.order_id, e.status, e.filled) for e in out.events] == [
        ("fill", bid.order_id, "partially_filled", 1),
        ("triggered", s.order_id, "accepted", 0),
        ("fill", bid.order_id, "partially_filled", 3),  # each event is a snapshot
        ("fill", s.order_id, "filled", 2),
    ]
    assert (s.status, s.filled, s.reserved) == ("filled", 2, 0)
    assert position(ex, "carol").qty == 998 and position(ex, "carol").reserved == 0


def test_stop_buy_triggers_when_last_reaches_the_stop(ex: Engine) -> None:
    set_last(ex, 10000)
    s = stop(ex, "carol", "buy", 2, 10100)
    sell(ex, "alice", 5, 10100)
    out = buy(ex, "bob", 1, 10100, T0 + 1)
    assert [(t.price, t.qty) for t in out.trades] == [(10100, 1), (10100, 2)]
    assert s.status == "filled"
    assert account(ex, "carol").cash == CASH - 20200


def test_triggered_stop_buy_is_a_market_buy_capped_by_available_cash() -> None:
    ex = make_exchange(cash=25_000)
    set_last(ex, 10000)
    # last == stop: "reaches" includes equality, so this one triggers on arrival; with no
    # asks to buy from, the market buy it became expires
    s = stop(ex, "carol", "buy", 5, 10000, now=T0 + 1)
    assert s.status == "expired" and s.filled == 0
    s = stop(ex, "carol", "buy", 5, 10050, now=T0 + 2)
    assert s.status == "pending"
    buy(ex, "carol", 1, 1000, T0 + 3)  # 1,000 of carol's cash is now reserved
    sell(ex, "alice", 10, 10050, T0 + 4)
    out = buy(ex, "bob", 1, 10050, T0 + 5)
    # carol had 25,000 - 1,000 reserved = 24,000 available: two lots at 100.50
    assert [(t.qty, t.buy_user) for t in out.trades] == [(1, "bob"), (2, "carol")]
    assert (s.status, s.reason, s.filled) == ("canceled", "insufficient_funds", 2)
    assert [e.kind for e in out.events if e.order is s] == ["triggered", "fill", "canceled"]
    acct = account(ex, "carol")
    assert (acct.cash, acct.reserved_cash) == (25_000 - 20_100, 1000)


def test_triggered_stop_limit_rests_as_a_limit(ex: Engine) -> None:
    set_last(ex, 10000)
    s = stop(ex, "carol", "buy", 3, 10100, price=10150)
    sell(ex, "alice", 1, 10100)
    sell(ex, "alice", 5, 10200)
    out = buy(ex, "bob", 1, 10100, T0 + 1)
    assert len(out.trades) == 1
    assert (s.status, s.filled, s.reserved) == ("accepted", 0, 30450)
    assert book(ex) == ([(10150, 3)], [(10200, 5)])
    # from now on it is an ordinary resting limit
    out = sell(ex, "bob", 2, 10150, T0 + 2)
    assert [(t.price, t.buy_order_id) for t in out.trades] == [(10150, s.order_id)]
    assert (s.status, s.reserved) == ("partially_filled", 10150)


def test_triggered_stop_limit_trades_at_better_prices_and_releases_the_difference(
    ex: Engine,
) -> None:
    set_last(ex, 10000)
    sell(ex, "alice", 2, 10100)
    s = stop(ex, "carol", "buy", 3, 10000, price=10500, now=T0 + 1)  # triggers on arrival
    assert (s.status, s.filled) == ("partially_filled", 2)
    acct = account(ex, "carol")
    # paid 2 x 101.00; still reserves 1 x 105.00 for the lot that rests
    assert (acct.cash, acct.reserved_cash, s.reserved) == (CASH - 20200, 10500, 10500)
    assert book(ex) == ([(10500, 1)], [])


def test_stop_whose_condition_holds_on_arrival_triggers_at_once(ex: Engine) -> None:
    set_last(ex, 10000)
    ask = placed(sell(ex, "alice", 5, 10010))
    out = ex.place("carol", SYM, "buy", 2, T0 + 1, kind="stop", stop_price=9900)
    s = placed(out)
    assert (s.status, s.filled) == ("filled", 2)
    assert out.fills == out.trades and [t.sell_order_id for t in out.trades] == [ask.order_id]
    assert [e.kind for e in out.events] == ["fill"]  # the maker's; no triggered event
    out = ex.place("carol", SYM, "sell", 1, T0 + 2, kind="stop", stop_price=10010)
    assert placed(out).status == "expired"  # triggered with no bids to sell to


def test_triggered_stop_with_nothing_to_trade_expires(ex: Engine) -> None:
    set_last(ex, 10000)
    s = stop(ex, "carol", "sell", 2, 9900)
    buy(ex, "alice", 1, 9900)
    out = sell(ex, "bob", 1, 9900, T0 + 1)
    assert [(e.kind, e.order.order_id) for e in out.events][1:] == [
        ("triggered", s.order_id), ("expired", s.order_id)]
    assert (s.status, s.reserved) == ("expired", 0)
    assert position(ex, "carol").reserved == 0


def test_stop_limit_ioc_remainder_expires(ex: Engine) -> None:
    set_last(ex, 10000)
    s = stop(ex, "carol", "sell", 3, 9900, price=9800, tif="ioc")
    buy(ex, "alice", 2, 9900)
    out = sell(ex, "bob", 1, 9900, T0 + 1)
    assert [t.qty for t in out.trades] == [1, 1]
    assert (s.status, s.filled) == ("expired", 1)
    assert out.events[-1].kind == "expired" and out.events[-1].order is s


def test_stops_cascade_within_one_command(ex: Engine) -> None:
    set_last(ex, 10000)
    s1 = stop(ex, "carol", "sell", 1, 9950)
    s2 = stop(ex, "alice", "sell", 1, 9850)
    buy(ex, "alice", 1, 9900)
    buy(ex, "alice", 5, 9800)
    out = sell(ex, "bob", 1, 9900, T0 + 1)
    assert [(t.price, t.sell_order_id) for t in out.trades] == [
        (9900, placed(out).order_id), (9800, s1.order_id), (9800, s2.order_id)]
    assert s1.status == s2.status == "filled"
    assert ex.market_data(SYM).last == 9800


def test_due_stops_trigger_oldest_first(ex: Engine) -> None:
    set_last(ex, 10000)
    older = stop(ex, "carol", "sell", 1, 9800)
    newer = stop(ex, "alice", "sell", 1, 9900)
    buy(ex, "alice", 1, 9700)
    buy(ex, "alice", 1, 9600)
    buy(ex, "alice", 1, 9500)
    out = sell(ex, "bob", 1, 9700, T0 + 1)
    assert [t.sell_order_id for t in out.trades][1:] == [older.order_id, newer.order_id]
    assert [t.price for t in out.trades] == [9700, 9600, 9500]


def test_cancel_pending_stop_releases_its_holdings(ex: Engine) -> None:
    set_last(ex, 10000)
    s = stop(ex, "carol", "sell", 4, 9000)
    out = ex.cancel("carol", s.order_id, T0 + 1)
    assert out.order is s and (s.status, s.reserved) == ("canceled", 0)
    assert position(ex, "carol").reserved == 0
    # a canceled stop never triggers
    buy(ex, "alice", 1, 8000)
    sell(ex, "bob", 1, 8000, T0 + 2)
    assert s.status == "canceled" and s.filled == 0


def test_paused_stop_does_not_trigger_and_resume_triggers_if_due(ex: Engine) -> None:
    set_last(ex, 10000)
    s = stop(ex, "carol", "sell", 1, 9900)
    ex.pause("carol", s.order_id, T0 + 1)
    assert s.status == "paused" and s.reserved == 1
    buy(ex, "alice", 5, 9900)
    sell(ex, "bob", 1, 9900, T0 + 2)  # last 99.00: would have triggered it
    assert s.status == "paused" and s.filled == 0
    out = ex.resume("carol", s.order_id, T0 + 3)
    assert out.order is s and s.status == "filled"
    assert [t.sell_order_id for t in out.fills] == [s.order_id]


def test_resumed_stop_that_is_not_due_is_pending_again(ex: Engine) -> None:
    set_last(ex, 10000)
    s = stop(ex, "carol", "buy", 1, 10100)
    ex.pause("carol", s.order_id, T0 + 1)
    ex.resume("carol", s.order_id, T0 + 2)
    assert s.status == "pending"
    with pytest.raises(CommandError) as err:
        ex.resume("carol", s.order_id, T0 + 3)
    assert err.value.code == "bad_state"


def test_modify_pending_stops(ex: Engine) -> None:
    set_last(ex, 10000)
    s = stop(ex, "carol", "sell", 2, 9000)
    ex.modify("carol", s.order_id, T0 + 1, qty=5)
    assert (s.qty, s.reserved, position(ex, "carol").reserved) == (5, 5, 5)
    with pytest.raises(CommandError) as err:
        ex.modify("carol", s.order_id, T0 + 1, price=9000)
    assert err.value.code == "bad_request" and err.value.message.startswith("price")
    sl = stop(ex, "carol", "buy", 2, 11000, price=11000)
    ex.modify("carol", sl.order_id, T0 + 2, price=10500, qty=3)
    assert (sl.status, sl.price, sl.reserved) == ("pending", 10500, 31500)
    assert account(ex, "carol").reserved_cash == 31500


def test_stop_triggers_on_a_trade_inside_a_sweep(ex: Engine) -> None:
    set_last(ex, 11000)
    s = stop(ex, "carol", "sell", 1, 10100)
    buy(ex, "alice", 1, 5000)
    sell(ex, "alice", 1, 10000, T0 + 1)
    sell(ex, "alice", 1, 10500, T0 + 1)
    out = buy(ex, "bob", 2, 10500, T0 + 2)
    assert [t.price for t in out.trades[:2]] == [10000, 10500]  # last went 100.00, 105.00
    assert s.status != "pending"


def test_buy_stop_triggers_on_a_trade_inside_a_downward_sweep(ex: Engine) -> None:
    set_last(ex, 9000)
    s = stop(ex, "carol", "buy", 1, 9900)
    sell(ex, "alice", 1, 20000)  # for the triggered stop to buy from
    buy(ex, "alice", 1, 10000)
    buy(ex, "alice", 1, 9500)
    out = sell(ex, "bob", 2, 9500, T0 + 1)  # prints 100.00 (>= 99.00), then 95.00
    assert [t.price for t in out.trades] == [10000, 9500, 20000]
    assert (s.status, s.filled) == ("filled", 1)


def test_a_sweep_that_stays_short_of_the_stop_does_not_trigger_it(ex: Engine) -> None:
    set_last(ex, 11000)
    s = stop(ex, "carol", "sell", 1, 9900)
    buy(ex, "alice", 1, 5000)
    sell(ex, "alice", 1, 10000, T0 + 1)
    sell(ex, "alice", 1, 10500, T0 + 1)
    buy(ex, "bob", 2, 10500, T0 + 2)  # prints 100.00 and 105.00: both above 99.00
    assert s.status == "pending"
