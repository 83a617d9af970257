"""Exposure limits: order notional, position per symbol, cash held by open buys.

The standard symbol has mult 1: ``q`` lots at ``p`` ticks are worth ``p * q`` cash units.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.core.limits import ExposureLimits
from tests.core.helpers import (
    SYM,
    T0,
    account,
    buy,
    make_exchange,
    placed,
    position,
    sell,
)


def test_an_order_worth_more_than_the_notional_limit_is_rejected() -> None:
    ex = make_exchange()
    ex.set_exposure_limits(ExposureLimits(max_order_notional=100_000))
    assert placed(buy(ex, "alice", 10, 10000)).status == "accepted"  # exactly the limit
    big = placed(buy(ex, "alice", 11, 10000))
    assert (big.status, big.reason) == ("rejected", "max_order_notional")
    also = placed(sell(ex, "bob", 11, 10000))  # it trades nothing: refused before the hold
    assert (also.status, also.reason) == ("rejected", "max_order_notional")
    assert account(ex, "alice").reserved_cash == 100_000
    ex.check_invariants()


def test_stop_and_market_orders_are_valued_at_the_stop_and_the_best_price() -> None:
    ex = make_exchange()
    ex.set_exposure_limits(ExposureLimits(max_order_notional=50_000), {"bob": ExposureLimits()})
    stop = placed(ex.place("alice", SYM, "buy", 6, T0, kind="stop", stop_price=9000))
    assert (stop.status, stop.reason) == ("rejected", "max_order_notional")
    sell(ex, "bob", 10, 10000)
    market = placed(buy(ex, "alice", 6, None))
    assert (market.status, market.reason) == ("rejected", "max_order_notional")
    fine = placed(buy(ex, "alice", 5, None))
    assert (fine.status, fine.filled) == ("filled", 5)
    ex.check_invariants()


def test_the_position_limit_counts_what_open_buys_may_still_buy() -> None:
    ex = make_exchange(lots=0)
    ex.set_exposure_limits(ExposureLimits(max_position={SYM: 100}))
    first = placed(buy(ex, "alice", 60, 9000))
    second = placed(buy(ex, "alice", 41, 9000))
    assert (second.status, second.reason) == ("rejected", "max_position")
    assert placed(buy(ex, "alice", 40, 9000)).status == "accepted"
    ex.cancel("alice", first.order_id, T0)
    assert placed(buy(ex, "alice", 60, 9000)).status == "accepted"
    assert position(ex, "alice").buying == 100
    ex.check_invariants()


def test_filled_lots_count_as_held() -> None:
    ex = make_exchange()  # everybody holds 1,000 lots already
    ex.set_exposure_limits(ExposureLimits(max_position={SYM: 1_010}))
    sell(ex, "bob", 5, 10000)
    assert placed(buy(ex, "alice", 8, 10000)).filled == 5  # 1,005 held, 3 still buying
    refused = placed(buy(ex, "alice", 3, 9000))
    assert refused.reason == "max_position"
    assert placed(buy(ex, "alice", 2, 9000)).status == "accepted"
    ex.check_invariants()


def test_the_open_exposure_limit_counts_the_cash_live_buys_hold() -> None:
    ex = make_exchange()
    ex.set_exposure_limits(ExposureLimits(max_open_exposure=200_000))
    placed(buy(ex, "alice", 10, 10000))
    over = placed(buy(ex, "alice", 11, 10000))
    assert (over.status, over.reason) == ("rejected", "max_open_exposure")
    assert placed(buy(ex, "alice", 10, 10000)).status == "accepted"
    # sells do not count: they can only reduce what is held
    assert placed(sell(ex, "alice", 500, 20000)).status == "accepted"
    ex.check_invariants()


def test_a_user_of_their_own_has_their_own_limits() -> None:
    ex = make_exchange()
    ex.set_exposure_limits(ExposureLimits(max_order_notional=1_000),
                           {"bob": ExposureLimits()})
    assert placed(buy(ex, "alice", 1, 1001)).reason == "max_order_notional"
    assert placed(buy(ex, "bob", 100, 10000)).status == "accepted"


def test_an_order_near_a_limit_raises_an_alert_and_a_refused_one_does_not() -> None:
    ex = make_exchange()
    ex.set_exposure_limits(ExposureLimits(max_order_notional=100_000,
                                          max_open_exposure=150_000))
    buy(ex, "alice", 8, 10000)  # 80,000: exactly 4/5, no alert
    assert ex.take_risk_alerts() == []
    buy(ex, "alice", 9, 10000)  # 90,000 notional (> 4/5), 170,000 exposure (refused)
    assert ex.take_risk_alerts() == []
    buy(ex, "alice", 5, 9000)  # 45,000: exposure 125,000 > 4/5 of 150,000
    alerts = ex.take_risk_alerts()
    assert [(a.user, a.limit, a.symbol, a.used, a.maximum) for a in alerts] == [
        ("alice", "max_open_exposure", SYM, 125_000, 150_000)]
    assert ex.take_risk_alerts() == []


def test_a_modify_keeps_within_the_limits() -> None:
    ex = make_exchange(lots=0)
    ex.set_exposure_limits(ExposureLimits(max_position={SYM: 100}))
    order = placed(buy(ex, "alice", 60, 9000))
    try:
        ex.modify("alice", order.order_id, T0, qty=101)
    except Exception as exc:
        assert "max_position" in str(exc)
    else:
        raise AssertionError("a modify past the position limit was not refused")
    assert (order.qty, position(ex, "alice").buying) == (60, 60)
    ex.modify("alice", order.order_id, T0, qty=100)
    assert position(ex, "alice").buying == 100
    ex.modify("alice", order.order_id, T0, qty=30)
    assert position(ex, "alice").buying == 30
    ex.check_invariants()


def test_limits_set_later_count_the_orders_already_live() -> None:
    ex = make_exchange(lots=0)
    placed(buy(ex, "alice", 70, 9000))
    ex.set_exposure_limits(ExposureLimits(max_position={SYM: 100}))
    assert placed(buy(ex, "alice", 31, 9000)).reason == "max_position"
    ex.check_invariants()
    ex.set_exposure_limits(ExposureLimits())  # off again: nothing is tracked
    assert not ex.limited and position(ex, "alice").buying == 0
    ex.check_invariants()


OPS = st.lists(st.tuples(st.sampled_from(["buy", "sell", "market", "cancel"]),
                         st.sampled_from(["alice", "bob"]), st.integers(1, 40),
                         st.integers(9_990, 10_010)), max_size=40)


@settings(max_examples=150, deadline=None)
@given(OPS)
def test_no_sequence_of_orders_passes_a_limit(ops: list[tuple[str, str, int, int]]) -> None:
    ex = make_exchange(lots=50)
    limits = ExposureLimits(max_order_notional=300_000, max_position={SYM: 100},
                            max_open_exposure=500_000)
    ex.set_exposure_limits(limits)
    now = T0
    for op, user, qty, price in ops:
        now += 1
        if op == "buy":
            buy(ex, user, qty, price, now)
        elif op == "sell":
            sell(ex, user, qty, price, now)
        elif op == "market":
            buy(ex, user, qty, None, now)
        else:
            live = ex.orders_of(user)
            if live:
                ex.cancel(user, live[qty % len(live)].order_id, now)
        ex.check_invariants()
        for name in ("alice", "bob"):
            pos = position(ex, name)
            assert pos.qty + pos.buying <= 100
            assert account(ex, name).reserved_cash <= 500_000
