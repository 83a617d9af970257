"""Order kinds and time in force: market, ioc, fok, day, gtd and post_only."""

from __future__ import annotations

import pytest

from exchange.core.interface import Engine
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
    trades_of,
)

# --- market -----------------------------------------------------------------------------


def test_market_buy_sweeps_levels_and_fills(ex: Engine) -> None:
    sell(ex, "alice", 2, 10000)
    sell(ex, "bob", 2, 10100)
    sell(ex, "carol", 2, 10200)
    out = buy(ex, "carol", 3, None, T0 + 1)
    order = placed(out)
    assert [(t.price, t.qty) for t in out.trades] == [(10000, 2), (10100, 1)]
    assert (order.kind, order.price, order.status, order.filled) == ("market", None, "filled", 3)
    assert order.reserved == 0
    assert book(ex) == ([], [(10100, 1), (10200, 2)])


def test_market_remainder_expires_and_never_rests(ex: Engine) -> None:
    buy(ex, "alice", 2, 9900)
    out = sell(ex, "bob", 5, None, T0 + 1)
    order = placed(out)
    assert [(t.price, t.qty) for t in out.trades] == [(9900, 2)]
    assert (order.status, order.filled, order.leaves, order.reason) == ("expired", 2, 0, None)
    assert book(ex) == ([], [])
    pos = position(ex, "bob")
    assert (pos.qty, pos.reserved) == (998, 0)


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_market_order_facing_an_empty_book_is_rejected(ex: Engine, side: str) -> None:
    # liquidity on the same side does not count
    ex.place("alice", SYM, side, 1, T0, price=10000)
    order = placed(ex.place("bob", SYM, side, 1, T0 + 1, kind="market"))
    assert (order.status, order.reason) == ("rejected", "no_liquidity")
    assert order.reserved == 0
    assert account(ex, "bob").reserved_cash == 0 and position(ex, "bob").reserved == 0


def test_market_buy_that_cannot_pay_one_lot_is_rejected() -> None:
    ex = make_exchange(cash=9999)
    sell(ex, "alice", 5, 10000)
    order = placed(buy(ex, "bob", 1, None, T0 + 1))
    assert (order.status, order.reason) == ("rejected", "insufficient_funds")
    assert account(ex, "bob").cash == 9999


def test_market_buy_never_spends_more_than_the_available_cash() -> None:
    ex = make_exchange(cash=50_000)
    sell(ex, "alice", 2, 10000)
    sell(ex, "alice", 5, 12000)
    # bob keeps 5,000 reserved for a resting bid; 45,000 is available
    buy(ex, "bob", 1, 5000)
    out = buy(ex, "bob", 10, None, T0 + 1)
    order = placed(out)
    # 2 @ 100.00 = 20,000; then 25,000 buys 2 @ 120.00 = 24,000; 1,000 left is not a lot
    assert [(t.price, t.qty) for t in out.trades] == [(10000, 2), (12000, 2)]
    assert (order.status, order.reason, order.filled) == ("canceled", "insufficient_funds", 4)
    acct = account(ex, "bob")
    assert (acct.cash, acct.reserved_cash, acct.available_cash) == (6_000, 5_000, 1_000)
    assert book(ex) == ([(5000, 1)], [(12000, 3)])


@pytest.mark.parametrize("stp", ["cancel_newest", "cancel_oldest", "cancel_both"])
def test_market_buy_that_runs_out_of_cash_stops_before_its_own_orders(stp: str) -> None:
    """Cash runs out part-way through a maker: the order stops there, for want of cash.

    The buyer's own sell rests behind that maker; the buy could never have paid for it,
    so self-trade prevention does not apply to it (it is not canceled, and the buy's
    reason is insufficient_funds, not self_trade)."""
    ex = make_exchange(cash=25_000)
    sell(ex, "alice", 3, 10000)
    own = placed(sell(ex, "bob", 1, 10000))
    out = buy(ex, "bob", 3, None, T0 + 1, stp=stp)
    order = placed(out)
    assert [(t.price, t.qty) for t in out.trades] == [(10000, 2)]
    assert (order.status, order.reason, order.filled) == ("canceled", "insufficient_funds", 2)
    assert (own.status, own.reason) == ("accepted", None)
    assert book(ex) == ([], [(10000, 2)])


def test_market_buy_short_of_cash_keeps_time_priority_through_its_own_order() -> None:
    """With stp none a buy may trade with the buyer's own sell, which pays the buyer
    back: the budget still covers a lot, and the walk stays at that oldest order
    (one lot per trade, as the budget allows) before it reaches the next one."""
    ex = make_exchange(cash=10_000)
    own = placed(sell(ex, "bob", 2, 10000))
    other = placed(sell(ex, "alice", 3, 10000, T0 + 1))
    out = buy(ex, "bob", 5, None, T0 + 2)
    order = placed(out)
    assert [(t.sell_order_id, t.qty) for t in out.trades] == [
        (own.order_id, 1), (own.order_id, 1), (other.order_id, 1)]
    assert (order.status, order.reason, order.filled) == ("canceled", "insufficient_funds", 3)
    assert (own.status, other.filled, account(ex, "bob").cash) == ("filled", 1, 0)


def test_market_buy_that_exactly_exhausts_the_cash_is_filled() -> None:
    ex = make_exchange(cash=30_000)
    sell(ex, "alice", 3, 10000)
    order = placed(buy(ex, "bob", 3, None, T0 + 1))
    assert (order.status, order.reason) == ("filled", None)
    assert account(ex, "bob").cash == 0


# --- ioc --------------------------------------------------------------------------------


def test_ioc_trades_what_it_can_and_expires_the_rest(ex: Engine) -> None:
    sell(ex, "alice", 2, 10000)
    sell(ex, "alice", 2, 10200)
    out = buy(ex, "bob", 5, 10100, T0 + 1, tif="ioc")
    order = placed(out)
    assert [(t.price, t.qty) for t in out.trades] == [(10000, 2)]
    assert (order.status, order.filled, order.leaves) == ("expired", 2, 0)
    assert book(ex) == ([], [(10200, 2)])
    # the unused reservation is released: bob paid 20,000 and reserves nothing
    acct = account(ex, "bob")
    assert (acct.cash, acct.reserved_cash) == (CASH - 20_000, 0)


def test_ioc_that_does_not_cross_expires_untraded(ex: Engine) -> None:
    sell(ex, "alice", 2, 10000)
    order = placed(buy(ex, "bob", 1, 9999, T0 + 1, tif="ioc"))
    assert (order.status, order.filled, order.reserved) == ("expired", 0, 0)
    assert book(ex) == ([], [(10000, 2)])
    assert account(ex, "bob").reserved_cash == 0


def test_ioc_that_fills_completely_is_filled(ex: Engine) -> None:
    sell(ex, "alice", 2, 10000)
    order = placed(buy(ex, "bob", 2, 10000, T0 + 1, tif="ioc"))
    assert order.status == "filled"


# --- fok --------------------------------------------------------------------------------


def test_fok_fills_completely_across_levels(ex: Engine) -> None:
    sell(ex, "alice", 2, 10000)
    sell(ex, "bob", 3, 10100)
    out = buy(ex, "carol", 5, 10100, T0 + 1, tif="fok")
    assert placed(out).status == "filled"
    assert [(t.price, t.qty) for t in out.trades] == [(10000, 2), (10100, 3)]


def test_fok_that_cannot_fill_at_once_trades_nothing(ex: Engine) -> None:
    a = placed(sell(ex, "alice", 2, 10000))
    b = placed(sell(ex, "bob", 3, 10100))
    sell(ex, "bob", 10, 10200)
    out = buy(ex, "carol", 6, 10100, T0 + 1, tif="fok")
    order = placed(out)
    assert out.trades == [] and out.events == []
    assert (order.status, order.filled, order.reserved) == ("expired", 0, 0)
    assert a.filled == b.filled == 0
    assert book(ex) == ([], [(10000, 2), (10100, 3), (10200, 10)])
    assert account(ex, "carol").reserved_cash == 0 and account(ex, "carol").cash == CASH


def test_fok_sell_against_bids(ex: Engine) -> None:
    buy(ex, "alice", 2, 10000)
    buy(ex, "bob", 2, 9900)
    assert placed(sell(ex, "carol", 5, 9900, T0 + 1, tif="fok")).status == "expired"
    assert book(ex) == ([(10000, 2), (9900, 2)], [])
    assert placed(sell(ex, "carol", 4, 9900, T0 + 2, tif="fok")).status == "filled"
    assert book(ex) == ([], [])


def test_fok_ignores_paused_liquidity(ex: Engine) -> None:
    s = placed(sell(ex, "alice", 5, 10000))
    ex.pause("alice", s.order_id, T0)
    assert placed(buy(ex, "bob", 1, 10000, T0 + 1, tif="fok")).status == "expired"


def test_market_fok(ex: Engine) -> None:
    sell(ex, "alice", 2, 10000)
    assert placed(buy(ex, "bob", 3, None, T0 + 1, tif="fok")).status == "expired"
    assert book(ex) == ([], [(10000, 2)])
    assert placed(buy(ex, "bob", 2, None, T0 + 2, tif="fok")).status == "filled"


def test_market_fok_counts_the_cash_it_could_spend() -> None:
    ex = make_exchange(cash=25_000)
    sell(ex, "alice", 3, 10000)
    assert placed(buy(ex, "bob", 3, None, T0 + 1, tif="fok")).status == "expired"
    assert book(ex) == ([], [(10000, 3)])
    assert placed(buy(ex, "bob", 2, None, T0 + 2, tif="fok")).status == "filled"


# --- day and gtd ------------------------------------------------------------------------


def test_day_and_gtd_orders_rest_like_gtc(ex: Engine) -> None:
    d = placed(buy(ex, "alice", 1, 9900, tif="day"))
    g = placed(buy(ex, "bob", 2, 9900, tif="gtd", expires_at=T0 + 10))
    assert (d.tif, d.status, d.expires_at) == ("day", "accepted", None)
    assert (g.tif, g.status, g.expires_at) == ("gtd", "accepted", T0 + 10)
    assert book(ex) == ([(9900, 3)], [])
    out = sell(ex, "carol", 3, 9900, T0 + 1)
    assert trades_of(out) == [(9900, 1, d.order_id, placed(out).order_id),
                              (9900, 2, g.order_id, placed(out).order_id)]


def test_partly_filled_day_order_rests(ex: Engine) -> None:
    sell(ex, "alice", 1, 10000)
    order = placed(buy(ex, "bob", 3, 10000, T0 + 1, tif="day"))
    assert order.status == "partially_filled"
    assert book(ex) == ([(10000, 2)], [])


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"tif": "gtd"}, "expire_at"),
        ({"tif": "gtc", "expires_at": T0 + 1}, "ttl_ms"),
        ({"tif": "day", "expires_at": T0 + 1}, "ttl_ms"),
        ({"tif": "ioc", "expires_at": T0 + 1}, "ttl_ms"),
        ({"tif": "gtd", "expires_at": T0}, "expire_at"),
        ({"tif": "gtd", "expires_at": T0 - 1}, "expire_at"),
    ],
)
def test_expiry_fields_that_do_not_fit_the_tif_are_bad_requests(
    ex: Engine, kw: dict[str, object], field: str
) -> None:
    with pytest.raises(CommandError) as err:
        ex.place("alice", SYM, "buy", 1, T0, price=10000, **kw)  # type: ignore[arg-type]
    assert err.value.code == "bad_request"
    assert err.value.message.startswith(field)
    assert ex.orders_of("alice", live_only=False) == []


# --- post_only --------------------------------------------------------------------------


def test_post_only_that_would_take_is_rejected(ex: Engine) -> None:
    sell(ex, "alice", 1, 10000)
    order = placed(buy(ex, "bob", 1, 10000, T0 + 1, post_only=True))
    assert (order.status, order.reason, order.reserved) == ("rejected", "would_take", 0)
    assert account(ex, "bob").reserved_cash == 0
    buy(ex, "alice", 1, 9000)
    order = placed(sell(ex, "bob", 1, 8000, T0 + 2, post_only=True))
    assert (order.status, order.reason) == ("rejected", "would_take")
    assert position(ex, "bob").reserved == 0
    assert book(ex) == ([(9000, 1)], [(10000, 1)])


def test_post_only_that_does_not_cross_rests(ex: Engine) -> None:
    sell(ex, "alice", 1, 10000)
    order = placed(buy(ex, "bob", 1, 9999, T0 + 1, post_only=True))
    assert (order.status, order.post_only) == ("accepted", True)
    assert account(ex, "bob").reserved_cash == 9999


def test_post_only_against_only_paused_liquidity_rests(ex: Engine) -> None:
    s = placed(sell(ex, "alice", 1, 10000))
    ex.pause("alice", s.order_id, T0)
    order = placed(buy(ex, "bob", 1, 10000, T0 + 1, post_only=True))
    assert order.status == "accepted"
