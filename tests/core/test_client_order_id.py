"""client_order_id: unique per user, and placing again is a safe, side-effect-free retry."""

from __future__ import annotations

import pytest

from exchange.core.interface import Engine
from exchange.core.results import CommandError
from tests.core.helpers import CASH, SYM, T0, account, book, buy, placed, sell, totals


def test_placing_again_returns_the_existing_order_and_places_nothing(ex: Engine) -> None:
    sell(ex, "bob", 1, 10000)
    first = buy(ex, "alice", 3, 10000, T0 + 1, client_order_id="c1")
    order = placed(first)
    assert not first.duplicate and len(first.fills) == 1
    state = (totals(ex), book(ex), account(ex, "alice").reserved_cash, ex.next_order_id)
    again = buy(ex, "alice", 3, 10000, T0 + 2, client_order_id="c1")
    assert again.order is order and again.duplicate
    assert again.fills == [] and again.trades == [] and again.events == []
    assert (totals(ex), book(ex), account(ex, "alice").reserved_cash, ex.next_order_id) == state
    assert ex.orders_of("alice", live_only=False) == [order]


def test_the_retry_may_differ_and_still_changes_nothing(ex: Engine) -> None:
    order = placed(buy(ex, "alice", 1, 9000, client_order_id="c1"))
    again = ex.place("alice", "MSFT", "sell", 50, T0 + 1, kind="market", client_order_id="c1")
    assert again.order is order and again.duplicate
    assert (order.symbol, order.side, order.qty, order.price) == (SYM, "buy", 1, 9000)


def test_the_retry_of_an_order_that_ended_returns_it_as_it_is(ex: Engine) -> None:
    order = placed(buy(ex, "alice", 1, 9000, client_order_id="c1"))
    ex.cancel("alice", order.order_id, T0 + 1)
    again = buy(ex, "alice", 1, 9000, T0 + 2, client_order_id="c1")
    assert again.order is order and order.status == "canceled"
    rejected = placed(buy(ex, "alice", 0, 9000, client_order_id="c2"))
    assert buy(ex, "alice", 1, 9000, T0 + 3, client_order_id="c2").order is rejected
    assert account(ex, "alice").reserved_cash == 0


def test_a_retry_is_recognised_even_when_place_would_be_refused(ex: Engine) -> None:
    order = placed(buy(ex, "alice", 1, 9000, client_order_id="c1"))
    ex.set_market_open(False)
    again = buy(ex, "alice", 1, 9000, T0 + 1, client_order_id="c1")
    assert again.order is order and again.duplicate and order.status == "accepted"


def test_client_ids_are_per_user(ex: Engine) -> None:
    a = placed(buy(ex, "alice", 1, 9000, client_order_id="same"))
    b = placed(buy(ex, "bob", 1, 9000, client_order_id="same"))
    assert a is not b and a.order_id != b.order_id
    assert ex.find("alice", client_order_id="same") is a
    assert ex.find("bob", client_order_id="same") is b
    assert account(ex, "bob").reserved_cash == 9000


def test_an_error_does_not_use_up_the_client_id(ex: Engine) -> None:
    with pytest.raises(CommandError):
        ex.place("alice", SYM, "buy", 1, T0, client_order_id="c1")  # no price
    out = buy(ex, "alice", 1, 9000, T0 + 1, client_order_id="c1")
    assert not out.duplicate and placed(out).status == "accepted"


def test_orders_without_client_ids_never_collide(ex: Engine) -> None:
    a = placed(buy(ex, "alice", 1, 9000))
    b = placed(buy(ex, "alice", 1, 9000))
    assert a is not b and a.client_order_id is None
    assert account(ex, "alice").cash == CASH and account(ex, "alice").reserved_cash == 18000
