"""Fees: maker and taker rates charged at settlement, holds and budgets that include them.

The standard symbol has mult 1: ``q`` lots at ``p`` ticks are worth ``p * q`` cash units,
so a fee of ``bps`` on a fill is ``ceil(p * q * bps / 10000)`` cash units.
"""

from __future__ import annotations

import pytest

from exchange.core.commands import SetFees
from exchange.core.fees import FEE_ACCOUNT, FeeRates, FeeSchedule
from exchange.core.interface import Engine
from exchange.core.results import CommandError
from tests.core.helpers import (
    CASH,
    OTHER,
    SYM,
    T0,
    account,
    buy,
    make_exchange,
    placed,
    position,
    sell,
)


def charging(maker: int = 10, taker: int = 25,
             per_user: dict[str, FeeRates] | None = None) -> Engine:
    ex = make_exchange()
    ex.set_fee_schedule(FeeSchedule({SYM: FeeRates(maker, taker)}, per_user or {}))
    return ex


def test_no_schedule_no_fees_and_no_fee_account() -> None:
    ex = make_exchange()
    sell(ex, "bob", 10, 10000)
    out = buy(ex, "alice", 10, 10000)
    trade = out.trades[0]
    assert (trade.buy_fee, trade.sell_fee) == (0, 0)
    assert account(ex, "alice").cash == CASH - 100_000
    assert ex.find_account(FEE_ACCOUNT) is None
    ex.check_invariants()


def test_maker_and_taker_pay_their_rates_rounded_up_into_the_fee_account() -> None:
    ex = charging(maker=10, taker=25)
    sell(ex, "bob", 3, 10001)  # bob rests: the maker
    out = buy(ex, "alice", 3, 10001)  # alice takes
    trade = out.trades[0]
    value = 30_003
    # 30003 x 25 / 10000 = 75.0075 -> 76; 30003 x 10 / 10000 = 30.003 -> 31
    assert (trade.buy_fee, trade.sell_fee) == (76, 31)
    assert account(ex, "alice").cash == CASH - value - 76
    assert account(ex, "bob").cash == CASH + value - 31
    assert (account(ex, "alice").fees_paid, account(ex, "bob").fees_paid) == (76, 31)
    assert account(ex, FEE_ACCOUNT).cash == 107
    assert ex.totals()[0] == 3 * CASH + 0  # cash conserved, the fee account included
    ex.check_invariants()


def test_a_sell_taker_pays_the_taker_rate_and_the_resting_buy_the_maker_rate() -> None:
    ex = charging(maker=10, taker=25)
    buy(ex, "alice", 2, 5000)
    trade = sell(ex, "bob", 2, 5000).trades[0]
    assert (trade.buy_fee, trade.sell_fee) == (10, 25)  # 10000 x 10 bps, 10000 x 25 bps


def test_an_exact_fee_is_not_rounded_and_a_zero_rate_charges_nothing() -> None:
    ex = charging(maker=0, taker=100)
    sell(ex, "bob", 1, 10000)
    trade = buy(ex, "alice", 1, 10000).trades[0]
    assert (trade.buy_fee, trade.sell_fee) == (100, 0)


def test_a_users_own_rates_replace_the_symbols() -> None:
    ex = charging(maker=10, taker=25, per_user={"carol": FeeRates(0, 1)})
    sell(ex, "bob", 1, 10000)
    trade = buy(ex, "carol", 1, 10000).trades[0]
    assert (trade.buy_fee, trade.sell_fee) == (1, 10)
    # a symbol without rates charges nothing (carol's own rates go with her everywhere)
    ex.place("bob", OTHER, "sell", 1, T0, price=10000)
    other = ex.place("alice", OTHER, "buy", 1, T0, price=10000).trades[0]
    assert (other.buy_fee, other.sell_fee) == (0, 0)
    assert ex.fee_schedule().rates("carol", OTHER) == FeeRates(0, 1)


def test_a_buy_holds_the_fee_of_each_lot_and_gives_back_what_it_did_not_pay() -> None:
    ex = charging(maker=10, taker=25)
    order = placed(buy(ex, "alice", 4, 10000))
    unit = 10000 + 25  # one lot and its taker fee, rounded up
    assert order.reserved == 4 * unit == account(ex, "alice").reserved_cash
    # bob sells into it: alice is the maker, pays 10 bps, and at a better price? no: at hers
    trade = sell(ex, "bob", 1, 9000).trades[0]
    assert trade.price == 10000 and trade.buy_fee == 10
    assert order.reserved == 3 * unit
    assert account(ex, "alice").cash == CASH - 10000 - 10
    ex.check_invariants()
    ex.cancel("alice", order.order_id, T0)
    assert account(ex, "alice").reserved_cash == 0


def test_a_buy_its_cash_cannot_cover_with_the_fee_is_refused() -> None:
    ex = make_exchange(cash=10_025)
    ex.set_fee_schedule(FeeSchedule({SYM: FeeRates(0, 25)}))
    too_much = placed(buy(ex, "alice", 1, 10001))  # 10001 + 26 > 10025
    assert (too_much.status, too_much.reason) == ("rejected", "insufficient_funds")
    assert placed(buy(ex, "alice", 1, 10000)).status == "accepted"  # 10000 + 25
    assert account(ex, "alice").cash - account(ex, "alice").reserved_cash == 0


def test_a_higher_maker_rate_is_what_a_buy_holds() -> None:
    ex = charging(maker=50, taker=20)
    assert placed(buy(ex, "alice", 2, 10000)).reserved == 2 * (10000 + 50)
    trade = sell(ex, "bob", 2, 10000).trades[0]
    assert trade.buy_fee == 100
    ex.check_invariants()


def test_a_market_buys_budget_includes_its_fee() -> None:
    ex = make_exchange(cash=30_100)
    ex.set_fee_schedule(FeeSchedule({SYM: FeeRates(0, 100)}))  # 1%
    sell(ex, "bob", 5, 10000)
    out = buy(ex, "alice", 5, None)  # 3 lots would cost 30000 + 300 > 30100: 2 lots
    assert [t.qty for t in out.trades] == [2]
    assert out.trades[0].buy_fee == 200
    assert account(ex, "alice").cash == 30_100 - 20_200
    ex.check_invariants()
    # the one lot left would cost 10100 > 9900 with its fee: refused before trading
    refused = placed(buy(ex, "alice", 1, None))
    assert (refused.status, refused.reason) == ("rejected", "insufficient_funds")


def test_a_market_buy_spends_its_budget_exactly_to_the_unit() -> None:
    ex = make_exchange(cash=20_200)
    ex.set_fee_schedule(FeeSchedule({SYM: FeeRates(0, 100)}))
    sell(ex, "bob", 5, 10000)
    out = buy(ex, "alice", 5, None)
    assert sum(t.qty for t in out.trades) == 2 and account(ex, "alice").cash == 0


def test_a_market_buy_through_its_own_sell_pays_the_fees_of_that_fill() -> None:
    """A self-trade moves the lots and cash within one account; only its two fees leave
    it, and the budget must count them or a later fill overspends."""
    ex = make_exchange(cash=10_200)
    ex.set_fee_schedule(FeeSchedule({SYM: FeeRates(100, 100)}))
    sell(ex, "alice", 1, 10000)  # her own sell first in the queue
    sell(ex, "bob", 1, 10000)
    out = buy(ex, "alice", 2, None)
    # self-trade: 100 + 100 in fees; left 10000: not enough for bob's lot and its fee
    assert [(t.sell_user, t.qty) for t in out.trades] == [("alice", 1)]
    assert account(ex, "alice").cash == 10_000
    assert placed(out).reason == "insufficient_funds"
    ex.check_invariants()


def test_a_fok_market_buy_counts_the_fee() -> None:
    ex = make_exchange(cash=20_100)
    ex.set_fee_schedule(FeeSchedule({SYM: FeeRates(0, 100)}))
    sell(ex, "bob", 2, 10000)
    fok = placed(buy(ex, "alice", 2, None, tif="fok"))  # 20000 + 200 > 20100
    assert fok.status == "expired" and fok.filled == 0
    assert account(ex, "alice").cash == 20_100


def test_a_modify_reholds_with_the_fee() -> None:
    ex = make_exchange(cash=30_100)
    ex.set_fee_schedule(FeeSchedule({SYM: FeeRates(0, 50)}))
    order = placed(buy(ex, "alice", 2, 10000))
    assert order.reserved == 2 * 10050
    ex.modify("alice", order.order_id, T0, qty=3, price=9950)
    assert order.reserved == 3 * (9950 + 50)  # 9950 x 50 bps = 49.75 -> 50
    with pytest.raises(CommandError) as err:
        ex.modify("alice", order.order_id, T0, qty=3, price=10000)  # 30150 > 30100
    assert err.value.code == "insufficient_funds"
    ex.check_invariants()


def test_a_sale_books_its_fee_in_realized_pnl_and_a_buy_in_cost_basis() -> None:
    ex = charging(maker=0, taker=100)
    start = position(ex, "bob").cost
    sell(ex, "bob", 10, 10000)
    buy(ex, "alice", 10, 10000)  # alice pays 1000 in fees; bob none
    assert position(ex, "alice").cost == start + 100_000 + 1000
    sell(ex, "carol", 1, 5000)
    buy(ex, "alice", 1, 5000)
    alice = position(ex, "alice")
    before = alice.cost
    buy(ex, "bob", 5, 12000)
    trade = sell(ex, "alice", 5, 12000).trades[0]  # alice takes: 600 fee
    assert trade.sell_fee == 600
    removed = before * 5 // (LOTS_AFTER := alice.qty + 5)
    assert LOTS_AFTER == 1011
    assert trade.sell_basis == removed
    assert alice.realized == 60_000 - 600 - removed
    ex.check_invariants()


def test_a_new_schedule_reholds_live_buys_and_cancels_what_cannot_be_covered() -> None:
    ex = make_exchange(cash=20_000)
    a = placed(buy(ex, "alice", 1, 10000))
    b = placed(buy(ex, "alice", 1, 9900))
    stop = placed(ex.place("alice", SYM, "buy", 1, T0, kind="stop_limit", price=100,
                           stop_price=12000))
    assert account(ex, "alice").reserved_cash == 10000 + 9900 + 100
    out = ex.apply(SetFees(T0, "", FeeSchedule({SYM: FeeRates(0, 100)})))
    # all of her cash is held: the first, needing 100 more, is canceled; that frees
    # enough for the next two (99 and 1 more)
    assert (a.status, a.reason, a.reserved) == ("canceled", "fees", 0)
    assert (b.reserved, stop.reserved) == (9900 + 99, 100 + 1)
    assert [o.order_id for o in out.orders] == [a.order_id]
    assert [(e.kind, e.order.order_id) for e in out.events] == [("canceled", a.order_id)]
    ex.check_invariants()
    # lower rates free cash again, and no schedule holds no fee at all
    ex.set_fee_schedule(FeeSchedule())
    assert b.reserved == 9900 and stop.reserved == 100
    ex.check_invariants()


def test_the_fee_account_takes_no_deposit_and_gives_no_withdrawal() -> None:
    ex = charging()
    for op in (ex.deposit, ex.withdraw):
        with pytest.raises(CommandError, match="fee account"):
            op(FEE_ACCOUNT, 1)


def test_conservation_with_fees_over_a_busy_run() -> None:
    ex = charging(maker=7, taker=33, per_user={"bob": FeeRates(3, 3)})
    total, lots = ex.totals()
    for i in range(30):
        p = 9990 + (i * 7) % 20
        sell(ex, ("alice", "bob", "carol")[i % 3], 1 + i % 4, p, now=T0 + i)
        buy(ex, ("carol", "alice", "bob")[i % 3], 1 + i % 5, p + (i % 3) - 1, now=T0 + i)
        if i % 7 == 0:
            buy(ex, "bob", 2, None, now=T0 + i)
        ex.check_invariants()
    assert ex.totals() == (total, lots)
    paid = sum(a.fees_paid for a in ex.users())
    assert paid > 0 and account(ex, FEE_ACCOUNT).cash == paid
