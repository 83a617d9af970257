"""Shared set-up for the core tests: a small exchange with known balances.

The standard symbol has a tick of 0.01 and a lot of 1, so the exchange counts cash in
cents and one lot at one tick is worth exactly one cash unit (``mult == 1``): a trade
of ``q`` lots at ``p`` ticks moves ``p * q`` cash units. That keeps expected values in
the tests readable.
"""

from __future__ import annotations

from collections.abc import Iterable

from exchange.core.accounts import Account, Position, UserInfo
from exchange.core.builds import engine_factory
from exchange.core.interface import Engine
from exchange.core.orders import Order
from exchange.core.results import Outcome
from exchange.core.symbols import SymbolSpec

SYM = "AAPL"
OTHER = "MSFT"
T0 = 1_700_000_000_000_000
"""A fixed 'now' in microseconds (2023-11-14T22:13:20Z)."""
CASH = 100_000_000
"""Every user's starting cash in cash units (1,000,000.00)."""
LOTS = 1_000
"""Every user's starting holdings of each symbol."""
USERS = ("alice", "bob", "carol")


def new_exchange(symbols: Iterable[SymbolSpec], *, max_open_orders: int | None = None) -> Engine:
    """An empty exchange of the build under test (``EXCHANGE_ENGINE``, default ``python``).

    Every core test builds its exchange here and then uses only the
    :class:`~exchange.core.interface.Engine` interface, so the same suite runs over
    every build of the core."""
    factory = engine_factory()
    if max_open_orders is None:
        return factory(symbols)
    return factory(symbols, max_open_orders=max_open_orders)


def make_exchange(
    *,
    users: tuple[str, ...] = USERS,
    cash: int = CASH,
    lots: int = LOTS,
    reference_price: str | None = None,
    price_band: str | None = None,
    max_open_orders: int | None = None,
) -> Engine:
    """Two symbols on the same grid; every user funded with ``cash`` and ``lots`` of each."""
    specs = [
        SymbolSpec.create(SYM, "0.01", "1", reference_price, price_band),
        SymbolSpec.create(OTHER, "0.01", "1"),
    ]
    if max_open_orders is None:
        ex = new_exchange(specs)
    else:
        ex = new_exchange(specs, max_open_orders=max_open_orders)
    for user in users:
        ex.add_user(UserInfo(user, name=user.title()), cash, {SYM: lots, OTHER: lots})
    return ex


def account(ex: Engine, user: str) -> Account:
    acct = ex.find_account(user)
    assert acct is not None
    return acct


def position(ex: Engine, user: str, symbol: str = SYM) -> Position:
    return account(ex, user).position(symbol)


def buy(ex: Engine, user: str, qty: int, price: int | None, now: int = T0,
        **kw: object) -> Outcome:
    """A buy on the standard symbol: a limit at ``price``, or a market order if None."""
    if price is None:
        kw.setdefault("kind", "market")
    return ex.place(user, SYM, "buy", qty, now, price=price, **kw)  # type: ignore[arg-type]


def sell(ex: Engine, user: str, qty: int, price: int | None, now: int = T0,
         **kw: object) -> Outcome:
    if price is None:
        kw.setdefault("kind", "market")
    return ex.place(user, SYM, "sell", qty, now, price=price, **kw)  # type: ignore[arg-type]


def placed(out: Outcome) -> Order:
    """The order a place created; fails the test if there is none."""
    assert out.order is not None
    return out.order


def trades_of(out: Outcome) -> list[tuple[int, int, int, int]]:
    """(price, qty, buy order id, sell order id) of every trade of a command."""
    return [(t.price, t.qty, t.buy_order_id, t.sell_order_id) for t in out.trades]


def book(ex: Engine, symbol: str = SYM, depth: int = 100
         ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The visible book as (bids, asks), best first."""
    _, bids, asks = ex.depth(symbol, depth)
    return bids, asks


def seq(ex: Engine, symbol: str = SYM) -> int:
    return ex.depth(symbol, 1)[0]


def totals(ex: Engine) -> tuple[int, dict[str, int]]:
    """Cash and lots per symbol summed over every account."""
    return ex.totals()
