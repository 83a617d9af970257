"""Every reject reason of ``place``, and the requests that are errors instead."""

from __future__ import annotations

import pytest

from exchange.core.accounts import UserInfo
from exchange.core.interface import Engine
from exchange.core.orders import Order
from exchange.core.results import CommandError
from tests.core.helpers import (
    CASH,
    LOTS,
    OTHER,
    SYM,
    T0,
    account,
    book,
    buy,
    make_exchange,
    placed,
    position,
    sell,
)


def assert_rejected(ex: Engine, order: Order, reason: str) -> None:
    assert (order.status, order.reason) == ("rejected", reason)
    assert (order.reserved, order.leaves, order.live) == (0, 0, False)
    assert ex.find(order.user, order.order_id) is order


def test_rejected_order_keeps_its_id_and_can_be_queried(ex: Engine) -> None:
    order = placed(buy(ex, "alice", 0, 10000))
    assert order.order_id == 1 and order.status == "rejected"
    assert ex.find("alice", order.order_id) is order
    assert ex.orders_of("alice") == []
    assert ex.orders_of("alice", live_only=False) == [order]
    nxt = placed(buy(ex, "alice", 1, 10000))
    assert nxt.order_id == 2
    with pytest.raises(CommandError) as err:
        ex.cancel("alice", order.order_id, T0)
    assert err.value.code == "not_live"


def test_bad_qty(ex: Engine) -> None:
    assert_rejected(ex, placed(buy(ex, "alice", 0, 10000)), "bad_qty")
    assert_rejected(ex, placed(sell(ex, "alice", -3, 10000)), "bad_qty")
    assert_rejected(ex, placed(buy(ex, "alice", 0, None)), "bad_qty")


def test_bad_price(ex: Engine) -> None:
    """``0`` is how the edge passes a price that is not a positive multiple of the tick."""
    order = placed(buy(ex, "alice", 1, 0))
    assert_rejected(ex, order, "bad_price")
    assert order.price is None
    assert_rejected(ex, placed(sell(ex, "alice", 1, 0)), "bad_price")
    stop = placed(ex.place("alice", SYM, "sell", 1, T0, kind="stop", stop_price=0))
    assert_rejected(ex, stop, "bad_price")
    stop_limit = placed(ex.place("alice", SYM, "buy", 1, T0, kind="stop_limit", stop_price=10,
                                 price=0))
    assert_rejected(ex, stop_limit, "bad_price")


def test_bad_qty_is_reported_before_bad_price(ex: Engine) -> None:
    assert_rejected(ex, placed(buy(ex, "alice", 0, 0)), "bad_qty")


def test_negative_price_is_bad_price(ex: Engine) -> None:
    order = placed(buy(ex, "alice", 1, -5))
    assert (order.status, order.reason) == ("rejected", "bad_price")
    assert account(ex, "alice").reserved_cash == 0


def test_insufficient_funds_for_a_limit_buy() -> None:
    ex = make_exchange(cash=10_000)
    ok = placed(buy(ex, "alice", 1, 6000))
    order = placed(buy(ex, "alice", 1, 4001, T0 + 1))
    assert_rejected(ex, order, "insufficient_funds")
    acct = account(ex, "alice")
    assert (acct.cash, acct.reserved_cash) == (10_000, 6000)
    # exactly the available cash is enough
    exact = placed(buy(ex, "alice", 1, 4000, T0 + 2))
    assert exact.status == "accepted" and acct.available_cash == 0
    assert ok.status == "accepted"


def test_insufficient_funds_for_a_stop_limit_buy() -> None:
    ex = make_exchange(cash=10_000)
    order = placed(ex.place("alice", SYM, "buy", 2, T0, kind="stop_limit", stop_price=5000,
                            price=5001))
    assert_rejected(ex, order, "insufficient_funds")


def test_insufficient_holdings() -> None:
    ex = make_exchange(lots=10)
    placed(sell(ex, "alice", 6, 10000))
    assert_rejected(ex, placed(sell(ex, "alice", 5, 10000)), "insufficient_holdings")
    assert_rejected(ex, placed(sell(ex, "alice", 5, None)), "insufficient_holdings")
    stop = placed(ex.place("alice", SYM, "sell", 5, T0, kind="stop", stop_price=9000))
    assert_rejected(ex, stop, "insufficient_holdings")
    assert placed(sell(ex, "alice", 4, 10000)).status == "accepted"
    pos = position(ex, "alice")
    assert (pos.qty, pos.reserved, pos.available) == (10, 10, 0)
    # holdings of another symbol do not count
    assert_rejected(ex, placed(ex.place("alice", OTHER, "sell", 11, T0, price=1)),
                    "insufficient_holdings")


def test_selling_a_symbol_never_held_is_insufficient_holdings() -> None:
    ex = make_exchange()
    ex.add_user(UserInfo("dave"), CASH)
    assert_rejected(ex, placed(sell(ex, "dave", 1, 10000)), "insufficient_holdings")


def test_insufficient_holdings_is_checked_before_no_liquidity(ex: Engine) -> None:
    assert_rejected(ex, placed(sell(ex, "alice", LOTS + 1, None)), "insufficient_holdings")


def test_price_band() -> None:
    ex = make_exchange(reference_price="100.00", price_band="0.05")
    assert_rejected(ex, placed(buy(ex, "alice", 1, 9499)), "price_band")
    assert_rejected(ex, placed(sell(ex, "alice", 1, 10501)), "price_band")
    stop_limit = placed(ex.place("alice", SYM, "buy", 1, T0, kind="stop_limit",
                                 stop_price=10000, price=10600))
    assert_rejected(ex, stop_limit, "price_band")
    assert placed(buy(ex, "alice", 1, 9500)).status == "accepted"
    assert placed(sell(ex, "bob", 1, 10500)).status == "accepted"


def test_too_many_orders_counts_every_live_order() -> None:
    ex = make_exchange(max_open_orders=3)
    a = placed(buy(ex, "alice", 1, 9000))
    placed(ex.place("alice", OTHER, "buy", 1, T0, price=9000))  # every symbol counts
    p = placed(ex.place("alice", SYM, "sell", 1, T0, kind="stop", stop_price=8000))  # pending
    assert_rejected(ex, placed(buy(ex, "alice", 1, 9000)), "too_many_orders")
    ex.pause("alice", a.order_id, T0)  # paused orders still count
    assert_rejected(ex, placed(buy(ex, "alice", 1, 9000)), "too_many_orders")
    # other users are not affected
    assert placed(buy(ex, "bob", 1, 9000)).status == "accepted"
    # an order that ends frees a slot
    ex.cancel("alice", p.order_id, T0)
    assert placed(buy(ex, "alice", 1, 9000)).status == "accepted"
    assert_rejected(ex, placed(buy(ex, "alice", 1, 9000)), "too_many_orders")


def test_orders_that_end_at_once_do_not_hold_a_slot() -> None:
    ex = make_exchange(max_open_orders=1)
    sell(ex, "bob", 5, 10000)
    assert placed(buy(ex, "alice", 1, 10000, T0 + 1)).status == "filled"
    assert placed(buy(ex, "alice", 1, 9000, T0 + 2, tif="ioc")).status == "expired"
    assert placed(buy(ex, "alice", 1, None, T0 + 3)).status == "filled"
    assert placed(buy(ex, "alice", 1, 10000, T0 + 4, post_only=True)).status == "rejected"
    assert placed(buy(ex, "alice", 1, 9000, T0 + 5)).status == "accepted"


def test_halted_and_market_closed(ex: Engine) -> None:
    ex.set_halted(SYM, True)
    assert_rejected(ex, placed(buy(ex, "alice", 1, 10000)), "halted")
    ex.set_market_open(False)
    assert_rejected(ex, placed(buy(ex, "alice", 1, 10000)), "market_closed")
    assert_rejected(ex, placed(ex.place("alice", OTHER, "buy", 1, T0, price=1)),
                    "market_closed")


@pytest.mark.parametrize(
    "kw",
    [
        {"kind": "limit"},
        {"kind": "stop_limit", "stop_price": 100},
        {"kind": "market", "price": 100},
        {"kind": "stop", "price": 100, "stop_price": 100},
        {"kind": "stop"},
        {"kind": "stop_limit", "price": 100},
        {"kind": "limit", "price": 100, "stop_price": 100},
        {"kind": "market", "stop_price": 100},
        {"kind": "market", "post_only": True},
        {"kind": "stop_limit", "price": 100, "stop_price": 100, "post_only": True},
    ],
)
def test_malformed_orders_are_errors_and_create_nothing(ex: Engine, kw: dict[str, object]
                                                        ) -> None:
    with pytest.raises(CommandError) as err:
        ex.place("alice", SYM, "buy", 1, T0, **kw)  # type: ignore[arg-type]
    assert err.value.code == "bad_request"
    field = err.value.message.split(":")[0]
    assert field in {"price", "stop_price", "post_only"}
    assert ex.orders_of("alice", live_only=False) == []
    # no order id was used up
    assert placed(buy(ex, "alice", 1, 100)).order_id == 1


def test_unknown_user_and_unknown_symbol(ex: Engine) -> None:
    with pytest.raises(CommandError) as err:
        ex.place("mallory", SYM, "buy", 1, T0, price=1)
    assert err.value.code == "auth_required"
    with pytest.raises(CommandError) as err:
        ex.place("alice", "NOPE", "buy", 1, T0, price=1)
    assert err.value.code == "unknown_symbol"
    assert ex.orders_of("alice", live_only=False) == []


def test_rejections_change_no_balances_or_book(ex: Engine) -> None:
    sell(ex, "bob", 1, 10000)
    before = (account(ex, "alice").cash, position(ex, "alice").qty, book(ex))
    ex.set_halted(SYM, True)
    buy(ex, "alice", 1, 10000)
    ex.set_halted(SYM, False)
    buy(ex, "alice", 0, 10000)
    buy(ex, "alice", 1, 10000, post_only=True)
    sell(ex, "alice", LOTS + 1, 10000)
    after = (account(ex, "alice").cash, position(ex, "alice").qty, book(ex))
    assert before == after
    assert account(ex, "alice").reserved_cash == 0 and position(ex, "alice").reserved == 0
