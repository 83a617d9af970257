"""A fault in one symbol's engine leaves every other symbol's engine as it was.

Symbol engines share nothing but the risk part: a command on one symbol that breaks
half-way (an injected fault after its hold) must not have touched another symbol's
book, orders or market data. The server still fail-stops on such a fault, because the
broken command's own hold is half-applied; what this shows is that the damage is
confined to the symbol and the user the command was for, which is what lets symbol
engines live in separate processes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from exchange.core import failpoints
from exchange.core.interface import Engine
from tests.core.helpers import OTHER, T0, buy, make_exchange, position, sell


def symbol_state(ex: Engine, symbol: str) -> object:
    """Everything a client can see of one symbol, and the orders on it."""
    md = ex.market_data(symbol)
    orders = sorted((o.order_id, o.user, o.side, o.status, o.qty, o.filled, o.price,
                     o.reserved) for o in ex.orders() if o.symbol == symbol)
    return (ex.depth(symbol, 100), ex.top(symbol), ex.book_seq(symbol), ex.halted(symbol),
            md.last, md.volume, md.recent_trades(100), orders)


@pytest.fixture
def disarm() -> Iterator[None]:
    """Whatever the test armed is disarmed when it ends, pass or fail."""
    yield
    failpoints.arm("")


def test_a_fault_on_one_symbol_leaves_the_other_untouched(disarm: None) -> None:
    ex = make_exchange()
    # A market on the other symbol: resting orders on both sides and a trade.
    ex.place("alice", OTHER, "buy", 5, T0, price=9900)
    ex.place("bob", OTHER, "sell", 3, T0, price=10100)
    ex.place("carol", OTHER, "sell", 2, T0, price=9900)
    buy(ex, "alice", 4, 9800)
    before = symbol_state(ex, OTHER)
    other_lots = {u: position(ex, u, OTHER).qty for u in ("alice", "bob", "carol")}

    failpoints.arm("place.after_reserve")
    with pytest.raises(failpoints.Failpoint):
        sell(ex, "bob", 4, 9800)  # would trade on SYM; breaks after its hold
    failpoints.arm("")
    assert ex.top(OTHER) != ex.top(ex.symbols()[0])  # the two states are told apart

    assert symbol_state(ex, OTHER) == before
    assert {u: position(ex, u, OTHER).qty for u in ("alice", "bob", "carol")} == other_lots
    # ...and the other symbol goes on matching by its rules.
    out = ex.place("bob", OTHER, "sell", 1, T0 + 1, price=9900)
    assert [(t.price, t.qty) for t in out.trades] == [(9900, 1)]
