"""The engine's invariants, checked by the tests after every step.

What must hold whatever sequence of commands ran: the book is never crossed; every
level holds live resting orders at its price and its total is their open lots; an
order's reservation is what its owner's account holds for it, and nothing else is
reserved; every live order waits exactly where its status says (its level, the stops,
or the paused orders); nothing is negative; an ended order reserves nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from exchange.core.orders import ACCEPTED, BUY, LIVE_STATUSES, PARTIALLY_FILLED, PAUSED, PENDING

if TYPE_CHECKING:
    from exchange.core.engine import Exchange


def check_invariants(ex: Exchange) -> None:
    """Raise AssertionError naming the first invariant that does not hold."""
    for symbol, book in ex.books.items():
        best_bid, best_ask = book.best_bid(), book.best_ask()
        assert best_bid is None or best_ask is None or best_bid < best_ask, symbol
        for side in (book.bids, book.asks):
            assert len(side.prices) == len(side.levels)
            for price, level in side.levels.items():
                assert level.orders, (symbol, price)
                assert level.total == sum(o.qty - o.filled for o in level.orders.values())
                for order in level.orders.values():
                    assert order.price == price, order
                    assert order.status in (ACCEPTED, PARTIALLY_FILLED), order
                    assert ex.store.get_order(order.order_id) is order
    reserved_cash: dict[str, int] = {}
    reserved_lots: dict[tuple[str, str], int] = {}
    for order in ex.store.all_orders().values():
        if order.status in LIVE_STATUSES:
            assert 0 <= order.filled < order.qty, order
            # ...and it waits in exactly the place its status says.
            book = ex.books[order.symbol]
            if order.status == PAUSED:
                assert book.paused.get(order.order_id) is order, order
            elif order.status == PENDING:
                assert book.stops.get(order.order_id) is order, order
            else:
                side = book.bids if order.side == BUY else book.asks
                resting = side.levels.get(order.price)  # type: ignore[arg-type]
                assert resting is not None and resting.orders.get(order.order_id) is order, order
            if order.side == BUY:
                reserved_cash[order.user] = reserved_cash.get(order.user, 0) + order.reserved
            else:
                key = (order.user, order.symbol)
                reserved_lots[key] = reserved_lots.get(key, 0) + order.reserved
        else:
            assert order.reserved == 0, order
    for account in ex.accounts:
        assert account.cash >= 0, account.user
        assert account.reserved_cash == reserved_cash.get(account.user, 0), account.user
        assert account.reserved_cash <= account.cash, account.user
        for symbol, pos in account.positions.items():
            assert pos.qty >= 0 and pos.reserved >= 0, (account.user, symbol)
            assert pos.reserved <= pos.qty, (account.user, symbol)
            assert pos.reserved == reserved_lots.get((account.user, symbol), 0)
