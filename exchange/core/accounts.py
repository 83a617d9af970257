"""Users, their cash and their holdings, with funds reserved by live orders.

All amounts are integers: cash in cash units, holdings in the symbol's lots.
The invariants the rest of the engine relies on (and the property tests check):

* ``0 <= reserved_cash <= cash`` and ``0 <= position.reserved <= position.qty``;
* ``reserved_cash`` is the sum of the ``reserved`` of the user's live buy orders,
  ``position.reserved`` the same for live sell orders of that symbol;
* a trade moves cash and lots between two accounts and creates or destroys neither
  (its fees move cash to the exchange's fee account, :data:`~exchange.core.fees.FEE_ACCOUNT`,
  another account, so the total is still conserved).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any

from mypy_extensions import mypyc_attr

from exchange.core.pickling import Picklable


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
@dataclass(slots=True)
class UserInfo:
    """The registered user's details (the requirements' user record).

    A user logs in with ``token``, or, when ``token_hash`` is set, with the token whose
    hash it is (``exchange.server.auth``); the config gives exactly one of the two.
    ``disabled`` (set by an administrator) refuses the user's logins and orders while
    keeping the account, so that re-enabling it gives back the same cash and holdings.
    """

    user: str
    name: str = ""
    phone: str = ""
    email: str = ""
    token: str = ""
    admin: bool = False
    token_hash: str = ""
    disabled: bool = False

    def __getstate__(self) -> dict[str, Any]:
        # Explicit, so that both builds pickle the same way (the compiled build writes
        # no pickling of its own for a class with a __setstate__).
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __setstate__(self, state: Any) -> None:
        # Snapshots written before a field existed lack it: give it its default rather
        # than leave the slot unset (an AttributeError at the first login).
        _, slots = state if isinstance(state, tuple) else (None, state)
        for f in fields(self):
            object.__setattr__(self, f.name, slots.get(f.name, f.default))


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class Position(Picklable):
    """Holdings of one symbol: quantity, what live sells reserve, and cost basis.

    ``cost`` is the total cost basis in cash units of the ``qty`` held (average cost
    method): a buy adds what it paid, its fee included; a sell removes the average cost
    of what it sold and realizes the difference from what it brought in, net of its fee,
    into ``realized`` (so realized P/L is net of every fee paid).
    """

    __slots__ = ("buying", "cost", "qty", "realized", "reserved", "symbol")

    def __init__(self, symbol: str, qty: int = 0, cost: int = 0) -> None:
        self.symbol = symbol
        self.qty = qty
        self.reserved = 0
        self.cost = cost
        self.realized = 0
        self.buying = 0
        """Lots the user's live buys of this symbol may still buy. Kept only while
        exposure limits are on (``Risk.limited``), for the position limit."""

    @property
    def available(self) -> int:
        return self.qty - self.reserved

    def bought(self, lots: int, value: int) -> None:
        self.qty += lots
        self.cost += value

    def sold(self, lots: int, value: int) -> int:
        """Book a sale of ``lots`` that brought in ``value`` (net of its fee); returns the
        cost basis it removed, so that the sale's gain is ``value`` less that."""
        # Remove the average cost of the lots sold; integer division leaves any
        # rounding residue in the basis of what is still held, never invents cash.
        removed = self.cost * lots // self.qty if self.qty else 0
        self.qty -= lots
        self.cost -= removed
        self.realized += value - removed
        return removed


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class Account(Picklable):
    """One user's cash and positions. Mutated only by the engine, on one thread."""

    __slots__ = ("cash", "fees_paid", "info", "open_orders", "positions", "reserved_cash")

    def __init__(self, info: UserInfo, cash: int = 0) -> None:
        self.info = info
        self.cash = cash
        self.reserved_cash = 0
        self.positions: dict[str, Position] = {}
        self.open_orders = 0
        """Live orders of this user (for the ``max_open_orders`` bound)."""
        self.fees_paid = 0
        """Cash units this user has paid in trading fees, all told (see
        :mod:`exchange.core.fees`)."""

    @property
    def user(self) -> str:
        return self.info.user

    @property
    def available_cash(self) -> int:
        return self.cash - self.reserved_cash

    def position(self, symbol: str) -> Position:
        pos = self.positions.get(symbol)
        if pos is None:
            pos = self.positions[symbol] = Position(symbol)
        return pos


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
@dataclass(slots=True)
class Accounts(Picklable):
    """All accounts, by user id."""

    by_user: dict[str, Account] = field(default_factory=dict)

    def add(self, info: UserInfo, cash: int, holdings: dict[str, tuple[int, int]]) -> Account:
        """Register a user with cash and ``{symbol: (lots, cost)}`` holdings."""
        if info.user in self.by_user:
            raise ValueError(f"duplicate user {info.user!r}")
        account = Account(info, cash)
        for symbol, (lots, cost) in holdings.items():
            account.positions[symbol] = Position(symbol, lots, cost)
        self.by_user[info.user] = account
        return account

    def get(self, user: str) -> Account | None:
        return self.by_user.get(user)

    def __iter__(self) -> Iterator[Account]:
        return iter(self.by_user.values())

    def totals(self) -> tuple[int, dict[str, int]]:
        """Total cash and lots per symbol across all users (conserved by trading)."""
        cash = 0
        lots: dict[str, int] = {}
        for account in self.by_user.values():
            cash += account.cash
            for symbol, pos in account.positions.items():
                lots[symbol] = lots.get(symbol, 0) + pos.qty
        return cash, lots
