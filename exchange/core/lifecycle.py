"""The order lifecycle after placement: find, modify, cancel, pause and resume.

The middle layer of the engine: :class:`~exchange.core.matching.MatchingCore` matches
and settles, this class changes orders that exist, and
:class:`~exchange.core.engine.Exchange` places new ones and answers queries. Every op
checks the order's status against the table in :mod:`exchange.core.orders` first.
"""

from __future__ import annotations

from mypy_extensions import mypyc_attr

from exchange.core.book import OrderBook
from exchange.core.matching import MatchingCore
from exchange.core.orders import (
    ACCEPTED,
    BUY,
    CANCELED,
    OP_RULES,
    PARTIALLY_FILLED,
    PAUSED,
    PENDING,
    Order,
    set_status,
)
from exchange.core.results import CommandError, Outcome
from exchange.core.symbols import SymbolSpec


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class OrderLifecycle(MatchingCore):
    """Lookups and the ops on existing orders."""

    market_open: bool
    """False between an administrator's close_market and open_market."""

    # -- lookups ----------------------------------------------------------------------
    def _spec(self, symbol: str) -> SymbolSpec:
        spec = self.specs.get(symbol)
        if spec is None:
            raise CommandError("unknown_symbol", f"symbol: unknown symbol {symbol!r}")
        return spec

    def _book(self, symbol: str) -> OrderBook:
        book = self.books.get(symbol)
        if book is None:
            raise CommandError("unknown_symbol", f"symbol: unknown symbol {symbol!r}")
        return book

    def find(self, user: str, order_id: int | None = None,
             client_order_id: str | None = None) -> Order:
        """The user's order by id or client id; anybody else's is ``unknown_order``."""
        if order_id is not None:
            order = self.store.get_order(order_id)
        elif client_order_id is not None:
            order = self.store.by_client_id(user, client_order_id)
        else:
            raise CommandError("bad_request", "order_id: order_id or client_order_id is required")
        if order is None or order.user != user:
            # Named after the field the request addressed the order by.
            if order_id is not None:
                raise CommandError("unknown_order", f"order_id: no such order {order_id}")
            raise CommandError("unknown_order",
                               f"client_order_id: no such order {client_order_id!r}")
        return order

    def _owned_for(self, op: str, user: str, order_id: int, now: int,
                   out: Outcome) -> tuple[OrderBook, Order]:
        order = self.find(user, order_id)
        book = self.books[order.symbol]
        self._expire_due(book, now, out)
        error = OP_RULES[op][order.status]
        if error is not None:
            raise self._refused(CommandError(error, f"order_id: order {order_id} is "
                                             f"{order.status}"), book, out)
        return book, order

    @staticmethod
    def _refused(exc: CommandError, book: OrderBook, out: Outcome) -> CommandError:
        """Attach what the command did before it was refused (expiries) to the refusal."""
        if out.events:
            out.book_changes = book.end_step()
            exc.outcome = out
        return exc

    def _crosses(self, book: OrderBook, side: str, price: int) -> bool:
        if side == BUY:
            best = book.best_ask()
            return best is not None and best <= price
        best = book.best_bid()
        return best is not None and best >= price

    # -- modify / cancel / pause / resume ----------------------------------------------
    def modify(self, user: str, order_id: int, now: int, *, qty: int | None = None,
               price: int | None = None) -> Outcome:
        out = Outcome()
        book, order = self._owned_for("modify", user, order_id, now, out)
        out.order = order
        try:
            self._check_trading(book, "modify")
            new_qty, new_price, delta = self._check_modify(book, order, qty, price)
        except CommandError as exc:
            raise self._refused(exc, book, out) from None
        keeps_place = new_price == order.price and new_qty <= order.qty
        resting = order.status == ACCEPTED or order.status == PARTIALLY_FILLED
        if resting and keeps_place:
            if new_qty != order.qty:  # the same qty and price change nothing visible
                book.reduce(order, order.qty - new_qty)
        elif resting:
            book.unrest(order)
        order.qty = new_qty
        order.price = new_price
        self.port.adjust(order, delta)
        if resting and not keeps_place:
            self._execute(book, order, now, out, addressed=True)
            if out.trades:
                self._run_stops(book, now, out)
        out.book_changes = book.end_step()
        return out

    def _check_trading(self, book: OrderBook, op: str) -> None:
        if not self.market_open:
            raise CommandError("bad_state", f"op: cannot {op} while the market is closed")
        if book.halted:
            raise CommandError("bad_state", f"op: cannot {op} while {book.spec.symbol} is halted")

    def _check_modify(self, book: OrderBook, order: Order, qty: int | None,
                      price: int | None) -> tuple[int, int | None, int]:
        """Validate a modify; returns the new qty, the new price and the reservation delta."""
        if qty is None and price is None:
            raise CommandError("bad_request", "qty: give a new qty and/or price")
        if qty is not None and qty <= 0:
            raise CommandError("bad_request", "qty: not a positive multiple of the lot size")
        if qty is not None and qty <= order.filled:
            raise CommandError("bad_request", "qty: must exceed the filled quantity")
        if price is not None:
            if order.price is None:
                raise CommandError("bad_request", f"price: a {order.kind} order has no price")
            if price <= 0:
                raise CommandError("bad_request", "price: not a positive multiple of the tick")
            if not book.spec.band_allows(price, self.market[order.symbol].last):
                raise CommandError("bad_request", "price: outside the price band")
            if order.post_only and self._crosses(book, order.side, price):
                raise CommandError("bad_request", "price: a post_only order would take")
        new_qty = qty if qty is not None else order.qty
        new_price = price if price is not None else order.price
        delta = self.port.rehold(order, new_qty - order.filled, new_price, book.spec.mult)
        return new_qty, new_price, delta

    def cancel(self, user: str, order_id: int, now: int) -> Outcome:
        out = Outcome()
        book, order = self._owned_for("cancel", user, order_id, now, out)
        out.order = order
        self._take_out(book, order)
        self._end(order, CANCELED, None)
        out.book_changes = book.end_step()
        return out

    def cancel_all(self, user: str, symbol: str, now: int) -> Outcome:
        """Cancel every live order of the user on one symbol (the server fans out)."""
        book = self._book(symbol)
        out = Outcome()
        self._expire_due(book, now, out)
        live = self.store.live_orders(user)
        for order in [o for o in live.values() if o.symbol == symbol]:
            self._take_out(book, order)
            self._end(order, CANCELED, None)
            out.orders.append(order)
        out.book_changes = book.end_step()
        return out

    def pause(self, user: str, order_id: int, now: int) -> Outcome:
        out = Outcome()
        book, order = self._owned_for("pause", user, order_id, now, out)
        out.order = order
        self._take_out(book, order)
        set_status(order, PAUSED)
        book.paused[order.order_id] = order
        out.book_changes = book.end_step()
        return out

    def resume(self, user: str, order_id: int, now: int) -> Outcome:
        out = Outcome()
        book, order = self._owned_for("resume", user, order_id, now, out)
        out.order = order
        try:
            self._check_trading(book, "resume")
            if (order.post_only and order.triggered
                    and self._crosses(book, order.side, order.price)):  # type: ignore[arg-type]
                raise CommandError("bad_request", "order_id: this post_only order would take "
                                   "liquidity at its price; modify its price first")
        except CommandError as exc:
            raise self._refused(exc, book, out) from None
        del book.paused[order.order_id]
        if not order.triggered:
            set_status(order, PENDING)
        else:
            set_status(order, PARTIALLY_FILLED if order.filled else ACCEPTED)
        self._activate(book, order, now, out)
        out.book_changes = book.end_step()
        return out
