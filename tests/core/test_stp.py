"""Self-trade prevention: the taker's ``stp`` mode decides what meets the user's own orders."""

from __future__ import annotations

from exchange.core.interface import Engine
from tests.core.helpers import CASH, LOTS, T0, account, book, buy, placed, position, sell


def test_stp_none_lets_a_user_trade_with_itself(ex: Engine) -> None:
    s = placed(sell(ex, "alice", 2, 10000))
    out = buy(ex, "alice", 2, 10000, T0 + 1)
    b = placed(out)
    assert [(t.buy_order_id, t.sell_order_id, t.buy_user, t.sell_user) for t in out.trades] == [
        (b.order_id, s.order_id, "alice", "alice")]
    assert s.status == b.status == "filled"
    acct = account(ex, "alice")
    assert (acct.cash, acct.reserved_cash) == (CASH, 0)
    assert (position(ex, "alice").qty, position(ex, "alice").reserved) == (LOTS, 0)
    assert sorted(side for _, side in ex.fills_of("alice")) == ["buy", "sell"]


def test_cancel_newest_cancels_the_incoming_order(ex: Engine) -> None:
    other = placed(sell(ex, "bob", 1, 9900))
    own = placed(sell(ex, "alice", 1, 10000))
    later = placed(sell(ex, "carol", 1, 10000))
    out = buy(ex, "alice", 3, 10000, T0 + 1, stp="cancel_newest")
    taker = placed(out)
    # what it traded before meeting its own order stands
    assert [(t.price, t.sell_order_id) for t in out.trades] == [(9900, other.order_id)]
    assert (taker.status, taker.reason, taker.filled, taker.reserved) == (
        "canceled", "self_trade", 1, 0)
    assert (own.status, later.status) == ("accepted", "accepted")
    assert [e.kind for e in out.events] == ["fill"]
    acct = account(ex, "alice")
    assert (acct.cash, acct.reserved_cash) == (CASH - 9900, 0)
    assert book(ex) == ([], [(10000, 2)])


def test_cancel_oldest_cancels_the_resting_order_and_goes_on(ex: Engine) -> None:
    own = placed(sell(ex, "alice", 3, 9900))
    other = placed(sell(ex, "bob", 2, 9900))
    out = buy(ex, "alice", 2, 9900, T0 + 1, stp="cancel_oldest")
    taker = placed(out)
    assert [(t.qty, t.sell_order_id) for t in out.trades] == [(2, other.order_id)]
    assert (own.status, own.reason, own.reserved) == ("canceled", "self_trade", 0)
    assert (taker.status, taker.reason) == ("filled", None)
    assert [(e.kind, e.order.order_id, e.reason) for e in out.events] == [
        ("canceled", own.order_id, "self_trade"), ("fill", other.order_id, None)]
    assert position(ex, "alice").reserved == 0
    assert book(ex) == ([], [])


def test_cancel_oldest_rests_the_remainder_when_only_own_orders_cross(ex: Engine) -> None:
    own1 = placed(buy(ex, "alice", 1, 10000))
    own2 = placed(buy(ex, "alice", 1, 9900))
    out = sell(ex, "alice", 2, 9900, T0 + 1, stp="cancel_oldest")
    taker = placed(out)
    assert out.trades == []
    assert own1.status == own2.status == "canceled"
    assert taker.status == "accepted"
    assert book(ex) == ([], [(9900, 2)])
    assert account(ex, "alice").reserved_cash == 0


def test_cancel_both_cancels_both_orders(ex: Engine) -> None:
    other = placed(buy(ex, "bob", 1, 10100))
    own = placed(buy(ex, "alice", 2, 10000))
    behind = placed(buy(ex, "carol", 2, 10000))
    out = sell(ex, "alice", 5, 10000, T0 + 1, stp="cancel_both")
    taker = placed(out)
    assert [t.buy_order_id for t in out.trades] == [other.order_id]
    assert (own.status, own.reason) == ("canceled", "self_trade")
    assert (taker.status, taker.reason, taker.filled) == ("canceled", "self_trade", 1)
    assert behind.status == "accepted" and behind.filled == 0
    assert account(ex, "alice").reserved_cash == 0 and position(ex, "alice").reserved == 0
    assert book(ex) == ([(10000, 2)], [])


def test_only_the_takers_mode_counts(ex: Engine) -> None:
    s = placed(sell(ex, "alice", 1, 10000, stp="cancel_both"))
    out = buy(ex, "alice", 1, 10000, T0 + 1)  # stp none
    assert [t.sell_order_id for t in out.trades] == [s.order_id]


def test_stp_does_not_touch_other_users(ex: Engine) -> None:
    s = placed(sell(ex, "bob", 1, 10000))
    out = buy(ex, "alice", 1, 10000, T0 + 1, stp="cancel_both")
    assert placed(out).status == "filled" and s.status == "filled"


def test_fok_with_cancel_oldest_fills_from_others(ex: Engine) -> None:
    own = placed(sell(ex, "alice", 2, 9900))
    placed(sell(ex, "bob", 2, 9900))
    out = buy(ex, "alice", 2, 9900, T0 + 1, tif="fok", stp="cancel_oldest")
    assert placed(out).status == "filled"
    assert own.status == "canceled"


def test_fok_blocked_by_own_order_with_cancel_newest_changes_nothing(ex: Engine) -> None:
    own = placed(sell(ex, "alice", 2, 9900))
    placed(sell(ex, "bob", 2, 9900))
    out = buy(ex, "alice", 2, 9900, T0 + 1, tif="fok", stp="cancel_newest")
    assert placed(out).status == "expired" and out.trades == []
    assert own.status == "accepted"
    assert book(ex) == ([], [(9900, 4)])


def test_fok_that_fills_before_reaching_own_order(ex: Engine) -> None:
    placed(sell(ex, "bob", 2, 9900))
    own = placed(sell(ex, "alice", 2, 9900))
    out = buy(ex, "alice", 2, 9900, T0 + 1, tif="fok", stp="cancel_both")
    assert placed(out).status == "filled"
    assert own.status == "accepted"


def test_market_order_with_cancel_newest(ex: Engine) -> None:
    placed(buy(ex, "alice", 1, 10000))
    out = sell(ex, "alice", 1, None, T0 + 1, stp="cancel_newest")
    order = placed(out)
    assert (order.status, order.reason) == ("canceled", "self_trade")
    assert position(ex, "alice").reserved == 0
