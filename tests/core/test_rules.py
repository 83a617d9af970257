"""The enforced rules: the status table and the invariant checker's named errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from exchange.core.errors import IllegalTransition, InvariantError
from exchange.core.interface import Engine
from exchange.core.orders import (
    ACCEPTED,
    NEW_ORDER_STATUSES,
    TRANSITIONS,
    Order,
    set_status,
    start_as,
)
from tests.core.helpers import SYM, T0, account, buy, make_exchange, placed, position, sell

STATUSES = tuple(TRANSITIONS)


def order_in(status: str) -> Order:
    order = Order(7, "alice", SYM, "buy", "limit", "gtc", 5, 100, None, T0)
    order.status = status  # a test builds the state it needs; the engine never does this
    return order


@pytest.mark.parametrize(("old", "new"), [(o, n) for o in STATUSES for n in TRANSITIONS[o]])
def test_every_move_in_the_table_is_allowed(old: str, new: str) -> None:
    order = order_in(old)
    set_status(order, new)
    assert order.status == new


@pytest.mark.parametrize(("old", "new"), [(o, n) for o in STATUSES for n in STATUSES
                                          if n not in TRANSITIONS[o]])
def test_every_move_outside_the_table_is_refused(old: str, new: str) -> None:
    order = order_in(old)
    with pytest.raises(IllegalTransition) as err:
        set_status(order, new)
    assert (err.value.order_id, err.value.old, err.value.new) == (7, old, new)
    assert isinstance(err.value, InvariantError)
    assert f"from {old} to {new}" in str(err.value) and "order 7" in str(err.value)
    assert order.status == old  # nothing changed


def test_named_refusals() -> None:
    for old, new in [("filled", "accepted"), ("canceled", "paused"), ("accepted", "rejected"),
                     ("expired", "pending"), ("rejected", "accepted"), ("paused", "paused"),
                     ("accepted", "pending"), ("filled", "filled")]:
        with pytest.raises(IllegalTransition):
            set_status(order_in(old), new)


def test_a_new_order_may_start_pending_or_rejected_and_only_once() -> None:
    for status in NEW_ORDER_STATUSES:
        order = order_in(ACCEPTED)
        start_as(order, status)
        assert order.status == status
        with pytest.raises(IllegalTransition):
            start_as(order, status)
    with pytest.raises(IllegalTransition):
        start_as(order_in(ACCEPTED), "filled")
    traded = order_in(ACCEPTED)
    traded.filled = 1
    with pytest.raises(IllegalTransition):
        start_as(traded, "rejected")


def test_the_engine_moves_only_along_the_table() -> None:
    """A stop placed, paused, resumed and triggered; a rejection; fills: all via the table."""
    ex = make_exchange()
    stop = placed(ex.place("alice", SYM, "buy", 2, T0, kind="stop", stop_price=10100))
    assert stop.status == "pending"
    ex.pause("alice", stop.order_id, T0 + 1)
    assert stop.status == "paused"
    ex.resume("alice", stop.order_id, T0 + 2)
    assert stop.status == "pending"
    placed(sell(ex, "bob", 5, 10100))
    placed(buy(ex, "carol", 1, 10100))  # prints 101.00: the stop triggers and fills
    assert stop.status == "filled"
    refused = ex.place("alice", SYM, "buy", 0, T0 + 3, price=10000).order
    assert refused is not None and refused.status == "rejected"
    ex.check_invariants()


def broken(change: str) -> Engine:
    ex = make_exchange()
    b = placed(buy(ex, "alice", 3, 10000))
    placed(sell(ex, "bob", 2, 10200))
    if change == "reserved_cash":
        account(ex, "alice").reserved_cash += 1
    elif change == "reserved_lots":
        position(ex, "bob").reserved -= 1
    elif change == "level_total":
        ex.books[SYM].bids.levels[10000].total += 1
    elif change == "status":
        b.status = "paused"  # says paused, but it rests on the book
    return ex


@pytest.mark.parametrize(("change", "names"), [
    ("reserved_cash", ["reserved cash", "alice"]),
    ("reserved_lots", ["reserved lots", "bob", SYM]),
    ("level_total", ["level total", "10000"]),
    ("status", ["resting order", "paused"]),
])
def test_a_broken_exchange_raises_invariant_error(change: str, names: list[str]) -> None:
    ex = broken(change)
    with pytest.raises(InvariantError) as err:
        ex.check_invariants()
    for name in names:
        assert name in str(err.value), (name, str(err.value))


def test_the_checker_still_fires_under_python_O() -> None:
    code = ("from tests.core.test_rules import broken\n"
            "from exchange.core.errors import InvariantError\n"
            "assert False, 'asserts must be off'\n")
    run = subprocess.run([sys.executable, "-O", "-c", code + (
        "try:\n    broken('reserved_cash').check_invariants()\n"
        "except InvariantError as e:\n    print('raised', e)\n")],
        capture_output=True, text=True, timeout=60,
        cwd=Path(__file__).resolve().parents[2])
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("raised reserved cash"), run.stdout
