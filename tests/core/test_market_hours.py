"""Market close, trading halts and price bands."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from exchange.core.interface import Engine
from exchange.core.results import CommandError
from tests.core.helpers import OTHER, SYM, T0, book, buy, make_exchange, placed, sell


def error_code(fn: Callable[[], object]) -> str:
    with pytest.raises(CommandError) as err:
        fn()
    return err.value.code


def test_closed_market_rejects_place_on_every_symbol(ex: Engine) -> None:
    ex.set_market_open(False)
    for symbol in (SYM, OTHER):
        order = placed(ex.place("alice", symbol, "buy", 1, T0, price=100))
        assert (order.status, order.reason) == ("rejected", "market_closed")
    order = placed(sell(ex, "alice", 1, None))
    assert (order.status, order.reason) == ("rejected", "market_closed")
    ex.set_market_open(True)
    assert placed(buy(ex, "alice", 1, 100)).status == "accepted"


@pytest.mark.parametrize("closed_by", ["market", "halt"])
def test_what_works_while_not_trading(ex: Engine, closed_by: str) -> None:
    a = placed(buy(ex, "alice", 2, 9000))
    b = placed(buy(ex, "alice", 2, 9000))
    c = placed(buy(ex, "alice", 2, 9000))
    p = placed(buy(ex, "alice", 2, 9000))
    ex.pause("alice", p.order_id, T0)
    if closed_by == "market":
        ex.set_market_open(False)
    else:
        ex.set_halted(SYM, True)
    # modify and resume: bad_state, nothing changes
    assert error_code(lambda: ex.modify("alice", a.order_id, T0, qty=1)) == "bad_state"
    assert error_code(lambda: ex.resume("alice", p.order_id, T0)) == "bad_state"
    assert (a.qty, p.status) == (2, "paused")
    # cancel, pause, cancel_all and queries work
    ex.cancel("alice", a.order_id, T0)
    ex.pause("alice", b.order_id, T0)
    assert (a.status, b.status) == ("canceled", "paused")
    assert ex.find("alice", c.order_id) is c
    assert book(ex) == ([(9000, 2)], [])
    assert ex.cancel_all("alice", SYM, T0).orders == [b, c, p]


def test_halt_is_per_symbol(ex: Engine) -> None:
    ex.set_halted(SYM, True)
    assert placed(buy(ex, "alice", 1, 100)).reason == "halted"
    assert placed(ex.place("alice", OTHER, "buy", 1, T0, price=100)).status == "accepted"
    ex.set_halted(SYM, False)
    assert placed(buy(ex, "alice", 1, 100)).status == "accepted"
    with pytest.raises(CommandError) as err:
        ex.set_halted("NOPE", True)
    assert err.value.code == "unknown_symbol"


def test_closed_market_is_reported_before_a_halt(ex: Engine) -> None:
    ex.set_halted(SYM, True)
    ex.set_market_open(False)
    assert placed(buy(ex, "alice", 1, 100)).reason == "market_closed"


def test_reopening_starts_a_new_session_but_keeps_the_last_price(ex: Engine) -> None:
    sell(ex, "alice", 3, 10000)
    buy(ex, "bob", 1, 10000, T0 + 1)
    sell(ex, "alice", 1, 9000, T0 + 2)
    buy(ex, "bob", 1, 9000, T0 + 3)
    md = ex.market_data(SYM)
    assert (md.open, md.high, md.low, md.last, md.volume) == (10000, 10000, 9000, 9000, 2)
    ex.set_market_open(False)
    ex.set_market_open(False)
    ex.set_market_open(True)
    assert (md.open, md.high, md.low, md.last, md.volume) == (None, None, None, 9000, 0)
    buy(ex, "bob", 1, 10000, T0 + 4)
    assert (md.open, md.high, md.low, md.last, md.volume) == (10000, 10000, 10000, 10000, 1)
    # opening an open market is not a new session
    ex.set_market_open(True)
    assert (md.open, md.volume) == (10000, 1)


def test_band_around_the_reference_price_is_inclusive() -> None:
    ex = make_exchange(reference_price="100.00", price_band="0.10")
    assert placed(buy(ex, "alice", 1, 9000)).status == "accepted"
    assert placed(sell(ex, "alice", 1, 11000)).status == "accepted"
    assert placed(buy(ex, "alice", 1, 8999)).reason == "price_band"
    assert placed(sell(ex, "alice", 1, 11001)).reason == "price_band"


def test_band_follows_the_last_trade() -> None:
    ex = make_exchange(reference_price="100.00", price_band="0.10")
    sell(ex, "alice", 1, 10800)
    buy(ex, "bob", 1, 10800, T0 + 1)
    # now 97.20 .. 118.80
    assert placed(buy(ex, "bob", 1, 9719)).reason == "price_band"
    assert placed(buy(ex, "bob", 1, 9720)).status == "accepted"
    assert placed(sell(ex, "alice", 1, 11880)).status == "accepted"
    assert placed(sell(ex, "alice", 1, 11881)).reason == "price_band"


def test_market_orders_are_not_band_checked() -> None:
    ex = make_exchange(reference_price="100.00", price_band="0.10")
    sell(ex, "alice", 1, 11000)
    assert placed(buy(ex, "bob", 1, None, T0 + 1)).status == "filled"


def test_band_applies_to_modify() -> None:
    ex = make_exchange(reference_price="100.00", price_band="0.10")
    b = placed(buy(ex, "alice", 1, 9500))
    with pytest.raises(CommandError) as err:
        ex.modify("alice", b.order_id, T0, price=8999)
    assert err.value.code == "bad_request" and err.value.message.startswith("price")
    assert b.price == 9500
    ex.modify("alice", b.order_id, T0, price=9000)
    assert b.price == 9000
    ex.modify("alice", b.order_id, T0, qty=5)  # no new price: no band check needed
    assert b.qty == 5


def test_no_band_without_a_centre() -> None:
    ex = make_exchange(price_band="0.10")
    assert placed(buy(ex, "alice", 1, 1)).status == "accepted"
    assert placed(sell(ex, "alice", 1, 10**9)).status == "accepted"
