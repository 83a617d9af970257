"""What a command returns: plain records the server encodes and routes.

The core never sends or prints anything. Each command returns an :class:`Outcome`
that lists what happened, in order, so the caller decides who hears of it.
"""

from __future__ import annotations

from typing import Final

from mypy_extensions import mypyc_attr

from exchange.core.orders import Order
from exchange.core.pickling import Picklable


@mypyc_attr(allow_interpreted_subclasses=True)  # the journal's NotRecordable
class CommandError(Exception):
    """A command refused as a whole; nothing changed. ``code`` is the protocol's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.outcome: Outcome | None = None
        """What the command did before it was refused (orders that expired on the way):
        the refusal changes nothing, but the expiry it found is real and must be told."""


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class Trade(Picklable):
    """One execution between a taker and a maker, at the maker's price.

    Settlement (``Risk.settle``) fills in what each side paid and what the sale removed
    from the seller's cost basis, in cash units: ``buy_fee`` and ``sell_fee`` (zero
    without a fee schedule), and ``sell_basis``, the average cost of the lots sold. The
    seller's gain on this sale is ``price x qty x mult - sell_fee - sell_basis``; these
    gains, summed, are the seller's realized P/L exactly (what per-sale reports need)."""

    __slots__ = (
        "buy_fee",
        "buy_order_id",
        "buy_user",
        "price",
        "qty",
        "sell_basis",
        "sell_fee",
        "sell_order_id",
        "sell_user",
        "symbol",
        "taker_side",
        "trade_id",
        "ts",
    )

    def __init__(
        self,
        trade_id: int,
        symbol: str,
        price: int,
        qty: int,
        buy_order_id: int,
        sell_order_id: int,
        taker_side: str,
        ts: int,
        buy_user: str,
        sell_user: str,
        buy_fee: int = 0,
        sell_fee: int = 0,
        sell_basis: int = 0,
    ) -> None:
        self.trade_id = trade_id
        self.symbol = symbol
        self.price = price
        self.qty = qty
        self.buy_order_id = buy_order_id
        self.sell_order_id = sell_order_id
        self.taker_side = taker_side
        self.ts = ts
        self.buy_user = buy_user
        self.sell_user = sell_user
        self.buy_fee = buy_fee
        self.sell_fee = sell_fee
        self.sell_basis = sell_basis

    def __repr__(self) -> str:
        return (f"Trade({self.trade_id} {self.symbol} {self.qty}@{self.price}"
                f" b={self.buy_order_id} s={self.sell_order_id})")


FILL: Final = "fill"
EXPIRED_EVENT: Final = "expired"
TRIGGERED: Final = "triggered"
CANCELED_EVENT: Final = "canceled"


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class Event(Picklable):
    """Something that happened to an order other than the one the command addressed.

    The order is a live object that later steps of the same command may change
    again, so the event keeps a snapshot of the fields that change while trading.
    """

    __slots__ = ("filled", "kind", "notional", "order", "reason", "status", "trade")

    def __init__(self, kind: str, order: Order, trade: Trade | None = None) -> None:
        self.kind = kind
        self.order = order
        self.trade = trade
        self.status = order.status
        self.reason = order.reason
        self.filled = order.filled
        self.notional = order.notional

    def __repr__(self) -> str:
        return f"Event({self.kind} #{self.order.order_id} {self.status})"


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class Outcome(Picklable):
    """The result of one command.

    ``order`` is the addressed order in its final state, ``fills`` the trades it made
    during this command, ``events`` what happened to other orders (in order), ``trades``
    every trade the command caused (for the public tape), ``orders`` the orders a bulk
    command touched, ``book_changes`` the changed levels of the visible book as
    ``(bids, asks)`` lists of ``(price, new_total)`` when the book tracks them.
    """

    __slots__ = ("book_changes", "duplicate", "events", "fills", "order", "orders", "trades")

    def __init__(self, order: Order | None = None) -> None:
        self.order = order
        self.fills: list[Trade] = []
        self.events: list[Event] = []
        self.trades: list[Trade] = []
        self.orders: list[Order] = []
        self.duplicate = False
        self.book_changes: tuple[list[tuple[int, int]], list[tuple[int, int]]] | None = None
