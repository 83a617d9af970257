"""The engine's invariants, checked by the tests after every step.

What must hold whatever sequence of commands ran: the book is never crossed; every
level holds live resting orders at its price and its total is their open lots; an
order's reservation is what its owner's account holds for it, and nothing else is
reserved; every live order waits exactly where its status says (its level, the stops,
or the paused orders); nothing is negative; an ended order reserves nothing; a live buy
holds exactly its lots left at its limit, each with the fee of one lot; the fee account
holds exactly the fees every account has paid.

A broken rule raises :class:`~exchange.core.errors.InvariantError` naming the rule and
the symbol, order or account it found broken: a real exception, not ``assert``, so the
check still works under ``python -O``.

The checker reads the exchange through the small :class:`Audited` protocol rather than
importing :class:`~exchange.core.engine.Exchange`, which imports this module: no import
circle, not even one for type checking only.
"""

from __future__ import annotations

from typing import Protocol

from exchange.core.accounts import Accounts
from exchange.core.book import OrderBook
from exchange.core.errors import InvariantError
from exchange.core.fees import BPS, FEE_ACCOUNT, FeeSchedule
from exchange.core.orders import (
    ACCEPTED,
    BUY,
    LIVE_STATUSES,
    PARTIALLY_FILLED,
    PAUSED,
    PENDING,
    STOP,
)
from exchange.core.store import Store


class Audited(Protocol):
    """What the checker reads of an exchange."""

    books: dict[str, OrderBook]
    store: Store

    @property
    def accounts(self) -> Accounts: ...

    @property
    def limited(self) -> bool: ...

    def fee_schedule(self) -> FeeSchedule: ...


def _fail(rule: str, whose: object) -> InvariantError:
    return InvariantError(f"{rule}: {whose!r}")


def check_invariants(ex: Audited) -> None:
    """Raise InvariantError naming the first invariant that does not hold, and where."""
    for symbol, book in ex.books.items():
        best_bid, best_ask = book.best_bid(), book.best_ask()
        if not (best_bid is None or best_ask is None or best_bid < best_ask):
            raise _fail(f"crossed book (bid {best_bid} >= ask {best_ask})", symbol)
        for side in (book.bids, book.asks):
            if len(side.prices) != len(side.levels):
                raise _fail("price list and levels disagree", symbol)
            for price, level in side.levels.items():
                if not level.orders:
                    raise _fail("empty level kept", (symbol, price))
                if level.total != sum(o.qty - o.filled for o in level.orders.values()):
                    raise _fail("level total is not its orders' open lots", (symbol, price))
                for order in level.orders.values():
                    if order.price != price:
                        raise _fail(f"order rests at level {price}, not at its price", order)
                    if order.status not in (ACCEPTED, PARTIALLY_FILLED):
                        raise _fail("resting order is not accepted/partially_filled", order)
                    if ex.store.get_order(order.order_id) is not order:
                        raise _fail("resting order is not the stored one", order)
    fees = ex.fee_schedule()
    reserved_cash: dict[str, int] = {}
    reserved_lots: dict[tuple[str, str], int] = {}
    buying: dict[tuple[str, str], int] = {}
    for order in ex.store.all_orders().values():
        if order.status in LIVE_STATUSES:
            if not 0 <= order.filled < order.qty:
                raise _fail("live order's filled is not within [0, qty)", order)
            # ...and it waits in exactly the place its status says.
            book = ex.books[order.symbol]
            if order.status == PAUSED:
                if book.paused.get(order.order_id) is not order:
                    raise _fail("paused order is not among the paused", order)
            elif order.status == PENDING:
                if book.stops.get(order.order_id) is not order:
                    raise _fail("pending order is not among the stops", order)
            else:
                side = book.bids if order.side == BUY else book.asks
                resting = side.levels.get(order.price)  # type: ignore[arg-type]
                if resting is None or resting.orders.get(order.order_id) is not order:
                    raise _fail("live order does not rest at its level", order)
            if order.side == BUY:
                if order.price is not None and order.kind != STOP:
                    value = order.price * book.spec.mult
                    rates = fees.rates(order.user, order.symbol)
                    bps = max(rates.maker_bps, rates.taker_bps)
                    unit = value + (value * bps + BPS - 1) // BPS
                    if order.reserved != (order.qty - order.filled) * unit:
                        raise _fail(f"live buy holds {order.reserved}, not its lots left at "
                                    f"{unit} each", order)
                reserved_cash[order.user] = reserved_cash.get(order.user, 0) + order.reserved
                key = (order.user, order.symbol)
                buying[key] = buying.get(key, 0) + order.qty - order.filled
            else:
                key = (order.user, order.symbol)
                reserved_lots[key] = reserved_lots.get(key, 0) + order.reserved
        elif order.reserved != 0:
            raise _fail("ended order still reserves", order)
    paid = 0
    collected = 0
    for account in ex.accounts:
        user = account.user
        paid += account.fees_paid
        if user == FEE_ACCOUNT:
            collected = account.cash
        if account.fees_paid < 0:
            raise _fail("negative fees paid", user)
        if account.cash < 0:
            raise _fail("negative cash", user)
        if account.reserved_cash != reserved_cash.get(user, 0):
            raise _fail(f"reserved cash {account.reserved_cash} is not its live buys' "
                        f"{reserved_cash.get(user, 0)}", user)
        if account.reserved_cash > account.cash:
            raise _fail("more cash reserved than held", user)
        for symbol, pos in account.positions.items():
            if pos.qty < 0 or pos.reserved < 0:
                raise _fail("negative holding or reservation", (user, symbol))
            if pos.reserved > pos.qty:
                raise _fail("more lots reserved than held", (user, symbol))
            if ex.limited and pos.buying != buying.get((user, symbol), 0):
                raise _fail(f"lots being bought {pos.buying} are not its live buys' "
                            f"{buying.get((user, symbol), 0)}", (user, symbol))
            if pos.reserved != reserved_lots.get((user, symbol), 0):
                raise _fail(f"reserved lots {pos.reserved} are not its live sells' "
                            f"{reserved_lots.get((user, symbol), 0)}", (user, symbol))
    if paid != collected:
        raise _fail(f"the fee account holds {collected}, not the {paid} paid in fees",
                    FEE_ACCOUNT)
