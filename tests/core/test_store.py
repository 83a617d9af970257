"""The memory store's bounds: ended orders and fills are forgotten, live orders never."""

from __future__ import annotations

import pytest

from exchange.core.accounts import UserInfo
from exchange.core.engine import Exchange
from exchange.core.results import CommandError
from exchange.core.store import MemoryStore
from exchange.core.symbols import SymbolSpec
from tests.core.helpers import T0


def small_exchange(**bounds: int) -> Exchange:
    ex = Exchange([SymbolSpec.create("X", "0.01", "1")], store=MemoryStore(**bounds))
    for user in ("alice", "bob"):
        ex.add_user(UserInfo(user), 10**9, {"X": 10**6})
    return ex


def test_ended_orders_are_forgotten_after_retain_ended_more_endings() -> None:
    ex = small_exchange(retain_ended=2)
    live = ex.place("alice", "X", "buy", 1, T0, price=100, client_order_id="live").order
    ended = []
    for i in range(4):
        out = ex.place("alice", "X", "buy", 1, T0, price=100, client_order_id=f"e{i}")
        assert out.order is not None
        ex.cancel("alice", out.order.order_id, T0)
        ended.append(out.order)
    for old in ended[:2]:
        with pytest.raises(CommandError) as err:
            ex.find("alice", old.order_id)
        assert err.value.code == "unknown_order"
    assert [ex.find("alice", o.order_id) for o in ended[2:]] == ended[2:]
    assert live is not None and ex.find("alice", live.order_id) is live
    assert ex.orders_of("alice", live_only=False) == [live, *ended[2:]]
    # a forgotten client id may be used again
    again = ex.place("alice", "X", "buy", 1, T0, price=100, client_order_id="e0")
    assert not again.duplicate and again.order is not None
    assert again.order.order_id == 6
    ex.check_invariants()


def test_fill_history_keeps_the_most_recent_fills() -> None:
    ex = small_exchange(fills_kept=3)
    ex.place("alice", "X", "sell", 5, T0, price=100)
    for i in range(5):
        ex.place("bob", "X", "buy", 1, T0 + i, price=100)
    assert [t.trade_id for t, _ in ex.fills_of("bob")] == [3, 4, 5]
    assert [t.trade_id for t, _ in ex.fills_of("alice", limit=2)] == [4, 5]
    ex.check_invariants()
