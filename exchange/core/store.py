"""The storage seam: where orders and fills are recorded and looked up.

The engine talks to a :class:`Store`; :class:`MemoryStore` keeps everything in dicts
and is the default. Another store (a database, a remote service) only has to provide
the same methods. Durability of the exchange as a whole is the server's journal and
snapshots, which rebuild the store by replaying commands, so a store need not be
durable itself.

Memory is bounded: orders that ended are kept for ``retain_ended`` more order
endings (then they are forgotten and answer ``unknown_order``), and each user's fill
history keeps the most recent ``fills_kept`` fills.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Protocol

from mypy_extensions import mypyc_attr

from exchange.core.orders import Order
from exchange.core.pickling import Picklable
from exchange.core.results import Trade

DEFAULT_RETAIN_ENDED = 1_000_000
DEFAULT_FILLS_KEPT = 10_000


class Store(Protocol):
    """What the engine needs from a place that remembers orders and fills."""

    def add_order(self, order: Order) -> None: ...
    def get_order(self, order_id: int) -> Order | None: ...
    def by_client_id(self, user: str, client_order_id: str) -> Order | None: ...
    def user_orders(self, user: str) -> Iterator[Order]: ...
    def live_orders(self, user: str) -> dict[int, Order]: ...
    def order_ended(self, order: Order) -> None: ...
    def add_trade(self, trade: Trade) -> None: ...
    def user_fills(self, user: str) -> list[tuple[Trade, str]]: ...
    def all_orders(self) -> dict[int, Order]: ...


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class _UserBook(Picklable):
    """Per-user indexes: every order in placement order, the live ones, and fills."""

    __slots__ = ("by_cid", "fills", "live", "placed")

    def __init__(self, fills_kept: int) -> None:
        self.placed: list[Order] = []
        self.live: dict[int, Order] = {}
        self.by_cid: dict[str, Order] = {}
        self.fills: deque[tuple[Trade, str]] = deque(maxlen=fills_kept)


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class MemoryStore(Picklable):
    """The default store: plain dicts, bounded as described in the module docstring."""

    def __init__(
        self, retain_ended: int = DEFAULT_RETAIN_ENDED, fills_kept: int = DEFAULT_FILLS_KEPT
    ) -> None:
        self.orders: dict[int, Order] = {}
        self._users: dict[str, _UserBook] = {}
        self._ended: deque[Order] = deque()
        self._retain_ended = retain_ended
        self._fills_kept = fills_kept

    def _user(self, user: str) -> _UserBook:
        book = self._users.get(user)
        if book is None:
            book = self._users[user] = _UserBook(self._fills_kept)
        return book

    def add_order(self, order: Order) -> None:
        self.orders[order.order_id] = order
        try:
            book = self._users[order.user]
        except KeyError:
            book = self._user(order.user)
        book.placed.append(order)
        if order.client_order_id is not None:
            book.by_cid[order.client_order_id] = order
        if order.live:
            book.live[order.order_id] = order
        else:
            self._ended.append(order)
            self._forget_old()

    def get_order(self, order_id: int) -> Order | None:
        return self.orders.get(order_id)

    def by_client_id(self, user: str, client_order_id: str) -> Order | None:
        book = self._users.get(user)
        return book.by_cid.get(client_order_id) if book is not None else None

    def user_orders(self, user: str) -> Iterator[Order]:
        book = self._users.get(user)
        if book is None:
            return iter(())
        orders = self.orders
        return (o for o in book.placed if orders.get(o.order_id) is o)

    def live_orders(self, user: str) -> dict[int, Order]:
        return self._user(user).live

    def order_ended(self, order: Order) -> None:
        self._users[order.user].live.pop(order.order_id, None)
        ended = self._ended
        ended.append(order)
        if len(ended) > self._retain_ended:
            self._forget_old()

    def _forget_old(self) -> None:
        ended = self._ended
        while len(ended) > self._retain_ended:
            old = ended.popleft()
            if self.orders.get(old.order_id) is old:
                del self.orders[old.order_id]
                book = self._users[old.user]
                if old.client_order_id is not None and book.by_cid.get(old.client_order_id) is old:
                    del book.by_cid[old.client_order_id]
                # Compact the placement list once forgotten orders dominate it.
                if len(book.placed) > 2 * (len(book.live) + 1024):
                    orders = self.orders
                    book.placed = [o for o in book.placed if orders.get(o.order_id) is o]

    def add_trade(self, trade: Trade) -> None:
        """Record a trade in the fill history of both its buyer and its seller."""
        users = self._users
        users[trade.buy_user].fills.append((trade, "buy"))
        users[trade.sell_user].fills.append((trade, "sell"))

    def user_fills(self, user: str) -> list[tuple[Trade, str]]:
        book = self._users.get(user)
        return list(book.fills) if book is not None else []

    def all_orders(self) -> dict[int, Order]:
        return self.orders
