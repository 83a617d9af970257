"""The narrow interfaces between the parts of the core.

:class:`RiskPort` is all the symbol engine (:mod:`exchange.core.matching`,
:mod:`exchange.core.lifecycle`) may ask of the risk part: take a hold, read a market
buy's budget and its taker fee rate, re-hold for a modify, settle a fill, release an
ended order. Written as a ``Protocol`` so that the engine imports no account code at
all, and so that another risk implementation (compiled, or a proxy to a risk shard in
another process) can be put in its place without the engine knowing.
"""

from __future__ import annotations

from typing import Protocol

from exchange.core.orders import Order
from exchange.core.results import Trade


class RiskPort(Protocol):
    """What the symbol engine calls on the risk part, and nothing more."""

    def hold(self, order: Order, mult: int) -> str | None:
        """Hold what a new order may spend; a refusal reason (nothing held), else None."""
        ...

    def budget(self, user: str) -> int:
        """Cash units a market buy of ``user`` may spend now."""
        ...

    def taker_bps(self, user: str, symbol: str) -> int:
        """The fee rate ``user`` pays on ``symbol`` as the taker, in basis points: what a
        market buy's budget must leave room for on each fill."""
        ...

    def rehold(self, order: Order, leaves: int, price: int | None, mult: int) -> int:
        """The hold change a modify needs; raises CommandError when it is not covered."""
        ...

    def adjust(self, order: Order, delta: int) -> None:
        """Apply a hold change :meth:`rehold` allowed."""
        ...

    def settle(self, trade: Trade, buy: Order, sell: Order, mult: int) -> None:
        """Settle one fill between the buy and the sell order's owners."""
        ...

    def release(self, order: Order) -> None:
        """The order ended, or was refused after its hold: give back what it holds."""
        ...
