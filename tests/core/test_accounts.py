"""Accounts: reservations, settlement to the cash unit, deposits and the cost basis."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchange.core.accounts import UserInfo
from exchange.core.interface import Engine
from exchange.core.results import CommandError
from exchange.core.symbols import SymbolSpec
from tests.core.helpers import (
    CASH,
    LOTS,
    SYM,
    T0,
    account,
    buy,
    make_exchange,
    new_exchange,
    placed,
    position,
    sell,
    totals,
)


def test_buy_reserves_qty_times_price_and_sell_reserves_lots(ex: Engine) -> None:
    b = placed(buy(ex, "alice", 7, 12345))
    s = placed(sell(ex, "alice", 9, 13000))
    acct = account(ex, "alice")
    assert (b.reserved, acct.reserved_cash, acct.available_cash) == (
        86415, 86415, CASH - 86415)
    pos = position(ex, "alice")
    assert (s.reserved, pos.reserved, pos.available, pos.qty) == (9, 9, LOTS - 9, LOTS)
    assert acct.cash == CASH  # reserving moves nothing


def test_fill_settles_both_accounts_at_the_makers_price(ex: Engine) -> None:
    placed(sell(ex, "alice", 5, 10000))
    b = placed(buy(ex, "bob", 3, 10200, T0 + 1))
    alice, bob = account(ex, "alice"), account(ex, "bob")
    assert (bob.cash, bob.reserved_cash, b.reserved) == (CASH - 30000, 0, 0)
    assert (alice.cash, alice.reserved_cash) == (CASH + 30000, 0)
    assert (position(ex, "alice").qty, position(ex, "alice").reserved) == (LOTS - 3, 2)
    assert (position(ex, "bob").qty, position(ex, "bob").reserved) == (LOTS + 3, 0)


def test_price_improvement_is_released_at_once(ex: Engine) -> None:
    placed(sell(ex, "alice", 1, 9800))
    b = placed(buy(ex, "bob", 3, 10000, T0 + 1))
    bob = account(ex, "bob")
    # paid 98.00 for one lot; still reserves 2 x 100.00 for the rest, not a cent more
    assert (bob.cash, bob.reserved_cash, b.reserved) == (CASH - 9800, 20000, 20000)
    sell(ex, "carol", 2, 9000, T0 + 2)  # trades at bob's 100.00 (maker price)
    assert (bob.cash, bob.reserved_cash) == (CASH - 9800 - 20000, 0)
    assert account(ex, "carol").cash == CASH + 20000


def test_sell_taker_receives_the_bid_price(ex: Engine) -> None:
    buy(ex, "alice", 2, 10100)
    sell(ex, "bob", 2, 9000, T0 + 1)
    assert account(ex, "bob").cash == CASH + 20200
    assert account(ex, "alice").cash == CASH - 20200
    assert account(ex, "alice").reserved_cash == 0


def test_trading_conserves_cash_and_lots(ex: Engine) -> None:
    before = totals(ex)
    sell(ex, "alice", 5, 10000)
    buy(ex, "bob", 2, 10100, T0 + 1)
    buy(ex, "carol", 5, 10050, T0 + 2)
    sell(ex, "bob", 4, None, T0 + 3)
    buy(ex, "alice", 1, None, T0 + 4)
    assert totals(ex) == before


def test_settlement_with_a_lot_that_is_not_one() -> None:
    """0.001 BTC lots, 0.5 ticks: cash in units of 0.0001, one lot at one tick is 5 units."""
    ex = new_exchange([SymbolSpec.create("BTC", "0.5", "0.001")])
    cash = ex.money.to_units(Decimal("100"))
    assert cash == 1_000_000
    ex.add_user(UserInfo("alice"), 0, {"BTC": 10_000})
    ex.add_user(UserInfo("bob"), cash)
    # 0.250 BTC at 200.5 = 50.125: 250 lots x 401 ticks x 5 = 501,250 units
    ex.place("alice", "BTC", "sell", 250, T0, price=401)
    out = ex.place("bob", "BTC", "buy", 250, T0 + 1, price=401)
    assert [(t.price, t.qty) for t in out.trades] == [(401, 250)]
    assert account(ex, "bob").cash == 1_000_000 - 501_250
    assert ex.money.fmt(account(ex, "alice").cash) == "50.125"
    assert ex.money.fmt(account(ex, "bob").cash) == "49.875"
    ex.check_invariants()


def test_deposit_and_withdraw(ex: Engine) -> None:
    acct = ex.deposit("alice", 150)
    assert acct is account(ex, "alice") and acct.cash == CASH + 150
    buy(ex, "alice", 1, CASH)  # reserves CASH
    assert acct.available_cash == 150
    with pytest.raises(CommandError) as err:
        ex.withdraw("alice", 151)
    assert err.value.code == "insufficient_funds"
    assert acct.cash == CASH + 150
    assert ex.withdraw("alice", 150).cash == CASH
    assert acct.available_cash == 0


@pytest.mark.parametrize("amount", [0, -1])
def test_deposit_and_withdraw_need_a_positive_amount(ex: Engine, amount: int) -> None:
    for fn in (ex.deposit, ex.withdraw):
        with pytest.raises(CommandError) as err:
            fn("alice", amount)
        assert err.value.code == "bad_request"
    assert account(ex, "alice").cash == CASH


def test_unknown_user_cash_ops(ex: Engine) -> None:
    for fn in (ex.deposit, ex.withdraw):
        with pytest.raises(CommandError) as err:
            fn("mallory", 1)
        assert err.value.code == "auth_required"
    with pytest.raises(CommandError):
        ex.account("mallory")


# --- portfolio cost basis ---------------------------------------------------------------


def test_config_holdings_cost_the_reference_price() -> None:
    ex = make_exchange(reference_price="150.00")
    pos = position(ex, "alice")
    assert (pos.qty, pos.cost, pos.realized) == (LOTS, LOTS * 15000, 0)
    assert position(ex, "alice", "MSFT").cost == 0  # no reference price: cost nothing
    assert ex.mark_price(SYM) == 15000
    assert ex.mark_price("MSFT") is None


def test_buys_add_to_the_basis_and_sells_realize_against_the_average() -> None:
    ex = make_exchange(reference_price="100.00", lots=10)
    alice = position(ex, "alice")
    assert alice.cost == 100000  # 10 lots at 100.00
    sell(ex, "bob", 10, 11500)
    buy(ex, "alice", 10, 11500, T0 + 1)
    # 20 lots for 100,000 + 115,000: average 107.50
    assert (alice.qty, alice.cost, alice.realized) == (20, 215000, 0)
    buy(ex, "carol", 4, 12000, T0 + 2)
    sell(ex, "alice", 4, 12000, T0 + 3)
    # sold 4 at 120.00 against 107.50: realized 4 x 12.50 = 50.00
    assert (alice.qty, alice.cost, alice.realized) == (16, 172000, 5000)
    buy(ex, "carol", 16, 10000, T0 + 4)
    sell(ex, "alice", 16, 10000, T0 + 5)
    assert (alice.qty, alice.cost, alice.realized) == (0, 0, 5000 - 16 * 750)
    # the seller's side: bob sold 10 at 115.00 that cost 100.00 each
    bob = position(ex, "bob")
    assert (bob.qty, bob.cost, bob.realized) == (0, 0, 15000)
    # carol bought 4 at 120.00 and 16 at 100.00 on top of 10 at 100.00
    carol = position(ex, "carol")
    assert (carol.qty, carol.cost) == (30, 100000 + 48000 + 160000)
    assert ex.mark_price(SYM) == 10000


def test_the_basis_of_an_uneven_average_keeps_the_rounding_residue() -> None:
    ex = make_exchange(lots=0)
    ex.add_user(UserInfo("dave"), 0, {SYM: 3})
    buy(ex, "alice", 1, 100)
    sell(ex, "dave", 1, 100, T0 + 1)
    buy(ex, "alice", 2, 101, T0 + 2)
    sell(ex, "dave", 2, 101, T0 + 3)
    pos = position(ex, "alice")
    assert (pos.qty, pos.cost) == (3, 302)  # average 100.666... ticks
    buy(ex, "bob", 1, 200, T0 + 4)
    sell(ex, "alice", 1, 200, T0 + 5)
    # removes floor(302 / 3) = 100 from the basis: realized 100, 202 stays with 2 lots
    assert (pos.qty, pos.cost, pos.realized) == (2, 202, 100)
    buy(ex, "bob", 2, 200, T0 + 6)
    sell(ex, "alice", 2, 200, T0 + 7)
    # the residue is realized with the last lots: total realized is exact
    assert (pos.qty, pos.cost, pos.realized) == (0, 0, 600 - 302)


def test_deposit_does_not_change_the_basis(ex: Engine) -> None:
    pos = position(ex, "alice")
    before = (pos.qty, pos.cost, pos.realized)
    ex.deposit("alice", 10**6)
    assert (pos.qty, pos.cost, pos.realized) == before
