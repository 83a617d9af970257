"""The symbol engine's matching: the price-time walk, stop triggers, how an order finishes.

This is the hot path, so it is written for CPython speed: attributes read into locals,
one call per fill (the settlement, on the risk part). It knows nothing of accounts:
holds, budgets, settlement and releases go through the
:class:`~exchange.core.ports.RiskPort` it is given. The rules it implements are the
protocol's:

* a buy trades with sells priced at or below its limit, lowest price first, oldest
  first within a price (sells mirror it); the trade price is the resting order's;
* each fill is settled on both accounts as it happens (``risk.settle``), so a stop
  triggered later in the same command sees every earlier fill's effect;
* a market buy spends at most the cash budget risk gives it when it starts trading
  (its available cash), less what it pays, fees included (a lot is affordable when its
  price and its taker fee fit the budget); a self-trade pays its own account and so
  costs the budget only its fees, exactly as the available cash would have it;
* self-trade prevention follows the taker's ``stp`` mode;
* a trade moves the last price, which may trigger stops; triggered stops trade in the
  same command, oldest first, until no more trigger.

Every expired order has been dropped before a walk starts (``_expire_due`` runs at the
top of each command that can match), so the walk itself never meets one.
"""

from __future__ import annotations

from mypy_extensions import mypyc_attr

from exchange.core.book import OrderBook
from exchange.core.errors import IllegalTransition
from exchange.core.fees import BPS
from exchange.core.marketdata import MarketData
from exchange.core.orders import (
    ACCEPTED,
    BUY,
    CANCELED,
    EXPIRED,
    FILLED,
    FOK,
    IOC,
    LIMIT,
    PARTIALLY_FILLED,
    PAUSED,
    PENDING,
    STOP_LIMIT,
    STP_CANCEL_NEWEST,
    STP_CANCEL_OLDEST,
    STP_NONE,
    TRANSITIONS,
    Order,
    set_status,
)
from exchange.core.pickling import Picklable
from exchange.core.ports import RiskPort
from exchange.core.results import (
    CANCELED_EVENT,
    EXPIRED_EVENT,
    FILL,
    TRIGGERED,
    Event,
    Outcome,
    Trade,
)
from exchange.core.store import Store
from exchange.core.symbols import SymbolSpec

TAKER_MOVES = frozenset(s for s, nexts in TRANSITIONS.items()
                        if PARTIALLY_FILLED in nexts and FILLED in nexts)
"""The statuses from which the table lets a taker trade: to partially_filled, then to
partially_filled or filled again. The walk checks the taker against it once, so each
fill's status change needs no check of its own."""

SELF_TRADE = "self_trade"
NO_CASH = "insufficient_funds"


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class MatchingCore(Picklable):
    """State shared by all commands, and the matching machinery they use."""

    def __init__(self, store: Store, risk: RiskPort) -> None:
        self.specs: dict[str, SymbolSpec] = {}
        self.books: dict[str, OrderBook] = {}
        self.market: dict[str, MarketData] = {}
        self.port = risk
        self.store = store
        self.next_order_id = 1
        self.next_trade_id = 1

    # -- ending orders ------------------------------------------------------------------
    def _end(self, order: Order, status: str, reason: str | None) -> None:
        """Move a live order (already out of the book) to a terminal status.

        A taker the walk filled is already ``filled`` (so its fill event said so); that
        is no move, and the rest of the ending still applies."""
        if order.status != status:
            set_status(order, status)
        order.reason = reason
        self.port.release(order)
        self.store.order_ended(order)

    def _take_out(self, book: OrderBook, order: Order) -> None:
        """Remove a live order from wherever it waits: its level, the stops, or paused."""
        status = order.status
        if status == PAUSED:
            del book.paused[order.order_id]
        elif status == PENDING:
            book.remove_stop(order)
        else:
            book.unrest(order)

    def _expire_due(self, book: OrderBook, now: int, out: Outcome) -> None:
        """Expire every order of this book whose time has come (lazy and timer expiry)."""
        expiries = book.expiries
        if not expiries or expiries[0][0] > now:
            return
        for order in book.pop_expired(now, self.store.all_orders()):
            self._take_out(book, order)
            self._end(order, EXPIRED, None)
            out.events.append(Event(EXPIRED_EVENT, order))

    # -- executing an order ---------------------------------------------------------------
    def _execute(self, book: OrderBook, order: Order, now: int, out: Outcome,
                 addressed: bool) -> None:
        """Trade an active order against the book, then rest it or end it by its rules."""
        limit = order.price if (order.kind == LIMIT or order.kind == STOP_LIMIT) else None
        if order.tif == FOK and not self._fok_fillable(book, order, limit):
            self._finish_ended(order, EXPIRED, None, out, addressed)
            return
        stopped = self._match(book, order, limit, now, out, addressed)
        if order.filled == order.qty:
            self._finish_ended(order, FILLED, None, out, addressed)
        elif stopped is not None:
            self._finish_ended(order, CANCELED, stopped, out, addressed)
        elif limit is None or order.tif == IOC or order.tif == FOK:
            self._finish_ended(order, EXPIRED, None, out, addressed)
        else:
            book.rest(order)

    def _finish_ended(self, order: Order, status: str, reason: str | None, out: Outcome,
                      addressed: bool) -> None:
        self._end(order, status, reason)
        if not addressed:
            kind = CANCELED_EVENT if status == CANCELED else EXPIRED_EVENT
            if status != FILLED:  # a fill event already told the owner it is filled
                out.events.append(Event(kind, order))

    def _fok_fillable(self, book: OrderBook, order: Order, limit: int | None) -> bool:
        """Whether the whole order could fill now, walking the book as matching would."""
        buy = order.side == BUY
        side = book.asks if buy else book.bids
        need = order.qty - order.filled
        user = order.user
        stp = order.stp
        cash = self.port.budget(order.user) if (buy and limit is None) else None
        mult = book.spec.mult
        bps = self.port.taker_bps(order.user, book.spec.symbol) if cash is not None else 0
        prices = side.prices if buy else reversed(side.prices)
        for price in prices:
            if limit is not None and (price > limit if buy else price < limit):
                return False
            for maker in side.levels[price].orders.values():
                if stp != STP_NONE and maker.user == user:
                    if stp == STP_CANCEL_OLDEST:
                        continue
                    return False
                q = min(need, maker.qty - maker.filled)
                if cash is not None:
                    q = min(q, cash * BPS // (price * mult * (BPS + bps)))
                    if q == 0:
                        return False
                    value = q * price * mult
                    cash -= value + (value * bps + BPS - 1) // BPS
                need -= q
                if need == 0:
                    return True
        return False

    def _match(self, book: OrderBook, taker: Order, limit: int | None, now: int,
               out: Outcome, addressed: bool) -> str | None:
        """Walk the opposite side; returns why matching stopped early, if it did."""
        buy = taker.side == BUY
        side = book.asks if buy else book.bids
        prices = side.prices
        if not prices:
            return None
        levels = side.levels
        spec = book.spec
        mult = spec.mult
        symbol = spec.symbol
        md = self.market[symbol]
        store = self.store
        end = self._end
        transitions = TRANSITIONS
        events = out.events
        trades = out.trades
        fills = out.fills
        settle = self.port.settle
        tuser = taker.user
        stp = taker.stp
        check_self = stp != STP_NONE
        cash_capped = buy and limit is None
        budget = self.port.budget(tuser) if cash_capped else 0
        # q lots cost value + ceil(value x bps / 10000) <= budget exactly when
        # value x (10000 + bps) <= budget x 10000 (the budget is a whole number).
        bps = self.port.taker_bps(tuser, symbol) if cash_capped else 0
        taker_side = taker.side
        remaining = taker.qty - taker.filled
        if taker.status not in TAKER_MOVES:
            raise IllegalTransition(taker.order_id, taker.status, PARTIALLY_FILLED)
        stopped: str | None = None
        while remaining and prices:
            best = prices[0] if buy else prices[-1]
            if limit is not None and (best > limit if buy else best < limit):
                break
            level = levels[best]
            orders = level.orders
            total_before = level.total
            gone: list[Order] = []
            for maker in orders.values():
                if check_self and maker.user == tuser:
                    if stp != STP_CANCEL_NEWEST:  # cancel_oldest or cancel_both
                        level.total -= maker.qty - maker.filled
                        gone.append(maker)
                        end(maker, CANCELED, SELF_TRADE)
                        events.append(Event(CANCELED_EVENT, maker))
                    if stp != STP_CANCEL_OLDEST:  # cancel_newest or cancel_both
                        stopped = SELF_TRADE
                        break
                    continue
                mleft = maker.qty - maker.filled
                q = remaining if remaining < mleft else mleft
                capped = False
                if cash_capped:
                    afford = (budget // (best * mult) if not bps
                              else budget * BPS // (best * mult * (BPS + bps)))
                    if afford < q:
                        q = afford
                        if not q:
                            stopped = NO_CASH
                            break
                        capped = True
                notional = best * q
                if buy:
                    trade = Trade(self.next_trade_id, symbol, best, q, taker.order_id,
                                  maker.order_id, taker_side, now, tuser, maker.user)
                    settle(trade, taker, maker, mult)
                else:
                    trade = Trade(self.next_trade_id, symbol, best, q, maker.order_id,
                                  taker.order_id, taker_side, now, maker.user, tuser)
                    settle(trade, maker, taker, mult)
                if cash_capped:
                    if maker.user != tuser:
                        budget -= best * q * mult + trade.buy_fee
                    else:  # a self-trade pays the taker's own account: only fees leave it
                        budget -= trade.buy_fee + trade.sell_fee
                self.next_trade_id += 1
                maker.filled += q
                maker.notional += notional
                taker.filled += q
                taker.notional += notional
                remaining -= q
                level.total -= q
                md.record(trade)
                trades.append(trade)
                store.add_trade(trade)
                # set_status, checked once for the whole walk above (TAKER_MOVES)
                taker.status = FILLED if not remaining else PARTIALLY_FILLED
                if maker.filled == maker.qty:
                    gone.append(maker)
                    end(maker, FILLED, None)
                else:
                    if PARTIALLY_FILLED not in transitions[maker.status]:
                        raise IllegalTransition(maker.order_id, maker.status, PARTIALLY_FILLED)
                    maker.status = PARTIALLY_FILLED
                events.append(Event(FILL, maker, trade))
                if addressed:
                    fills.append(trade)
                else:
                    events.append(Event(FILL, taker, trade))
                if not remaining:
                    break
                if capped:
                    # The budget paid for only part of this maker. Against another
                    # user's order it cannot pay for another lot: stop, before any later
                    # maker (whose own-order STP must not apply to lots it could never
                    # pay for). Against the buyer's own order it paid itself: start the
                    # level again, which begins at this same maker (those before it are
                    # used up), so priority holds.
                    if maker.user != tuser:
                        stopped = NO_CASH
                    break
            for maker in gone:
                del orders[maker.order_id]
            if gone or level.total != total_before:
                side.dirty.add(best)
            if not orders:
                del levels[best]
                prices.remove(best)

            if stopped is not None:
                break
        return stopped

    # -- stops ------------------------------------------------------------------------------
    def _trigger(self, book: OrderBook, order: Order, now: int, out: Outcome,
                 addressed: bool) -> None:
        order.triggered = True
        set_status(order, PARTIALLY_FILLED if order.filled else ACCEPTED)
        if not addressed:
            out.events.append(Event(TRIGGERED, order))
        self._execute(book, order, now, out, addressed)

    def _run_stops(self, book: OrderBook, now: int, out: Outcome) -> None:
        """Trigger the stops that this command's trades printed through (cascades included)."""
        trades = out.trades
        checked = 0
        while book.stops and checked < len(trades):
            prices = [t.price for t in trades[checked:]]
            checked = len(trades)
            due = book.due_stops(max(prices), min(prices))
            for order in due:
                self._trigger(book, order, now, out, addressed=False)

    def _stop_condition(self, order: Order) -> bool:
        last = self.market[order.symbol].last
        if last is None or order.stop_price is None:
            return False
        return last >= order.stop_price if order.side == BUY else last <= order.stop_price

    def _activate(self, book: OrderBook, order: Order, now: int, out: Outcome) -> None:
        """Send an order that was just placed or resumed into play (addressed by the command).

        The caller has already given it its status: ``pending`` for a stop not yet
        triggered, else ``accepted`` or ``partially_filled``."""
        if not order.triggered:
            if self._stop_condition(order):
                self._trigger(book, order, now, out, addressed=True)
            else:
                book.add_stop(order)
        else:
            self._execute(book, order, now, out, addressed=True)
        if out.trades and book.stops:
            self._run_stops(book, now, out)


# Re-exported for the engine, which checks statuses it may not move from.
__all__ = ["PAUSED", "MatchingCore"]
