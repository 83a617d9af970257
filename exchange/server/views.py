"""The edge: engine records (ticks, lots, cash units, microseconds) as protocol messages.

Everything here turns integers into the protocol's exact decimal strings and RFC 3339
times, and decimals from requests into integers. Formatting runs for every reply, so
the few values that repeat endlessly (the current second, prices, quantities) are
cached in small bounded dicts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from exchange.core.accounts import Account
from exchange.core.engine import Exchange
from exchange.core.marketdata import Candle as CoreCandle
from exchange.core.orders import LIVE_STATUSES, Order
from exchange.core.results import CommandError, Event, Trade
from exchange.core.symbols import SymbolSpec
from protocol import replies as R

_CACHE_LIMIT = 100_000
"""Bound on each formatting cache, so a client spraying distinct values can't grow them."""


def now_us() -> int:
    """Wall-clock time in microseconds: the only clock the server hands the engine."""
    return time.time_ns() // 1000


class Clock:
    """Formats microsecond timestamps as RFC 3339 UTC, caching the current second."""

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def fmt(self, us: int) -> str:
        second, micro = divmod(us, 1_000_000)
        if second != self._second:
            stamp = datetime.fromtimestamp(second, UTC)
            self._prefix = stamp.strftime("%Y-%m-%dT%H:%M:%S.")
            self._second = second
        return f"{self._prefix}{micro:06d}Z"

    def fmt_opt(self, us: int | None) -> str | None:
        return None if us is None else self.fmt(us)


def datetime_to_us(value: datetime) -> int:
    """An aware datetime as microseconds since the epoch, exactly (no float on the way)."""
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class Views:
    """Builds protocol records from engine records for one exchange."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.clock = Clock()
        self.money = exchange.money
        self.specs: dict[str, SymbolSpec] = {s: exchange.spec(s) for s in exchange.symbols()}
        """The symbols' specs, read once: a spec never changes while the server runs (a
        symbol listed at run time is added by :meth:`listed`)."""
        self._qty_text: dict[str, dict[int, str]] = {s: {} for s in self.specs}
        # Decimal -> ticks/lots per symbol: the same few prices arrive over and over, and a
        # dict lookup costs a tenth of the exact division (bounded like the text caches).
        self._ticks: dict[str, dict[Decimal, int]] = {s: {} for s in self.specs}
        self._lots: dict[str, dict[Decimal, int]] = {s: {} for s in self.specs}

    # -- numbers --------------------------------------------------------------------------
    def price(self, spec: SymbolSpec, ticks: int | None) -> str | None:
        return None if ticks is None else spec.fmt_price(ticks)

    def qty(self, spec: SymbolSpec, lots: int) -> str:
        cache = self._qty_text[spec.symbol]
        text = cache.get(lots)
        if text is None:
            text = spec.fmt_qty(lots)
            if len(cache) < _CACHE_LIMIT:
                cache[lots] = text
        return text

    # -- records --------------------------------------------------------------------------
    def order(self, order: Order, snap: Event | None = None) -> R.Order:
        """The ORDER record; ``snap`` gives the state at an event rather than now."""
        spec = self.specs[order.symbol]
        if snap is None:
            status, reason, filled, notional = (order.status, order.reason, order.filled,
                                                order.notional)
        else:
            status, reason, filled, notional = snap.status, snap.reason, snap.filled, snap.notional
        leaves = order.qty - filled if status in LIVE_STATUSES else 0
        # Positional, in R.Order's field order: a sixth of the cost of keywords.
        return R.Order(
            order.order_id,
            order.client_order_id,
            order.user,
            order.symbol,
            order.side,  # type: ignore[arg-type]
            order.kind,  # type: ignore[arg-type]
            order.tif,  # type: ignore[arg-type]
            None if order.price is None else spec.fmt_price(order.price),
            None if order.stop_price is None else spec.fmt_price(order.stop_price),
            self.qty(spec, order.qty),
            self.qty(spec, filled),
            self.qty(spec, leaves),
            spec.fmt_avg_price(notional, filled),
            status,  # type: ignore[arg-type]
            reason,
            self.clock.fmt(order.accepted_at),
            self.clock.fmt_opt(order.expires_at),
        )

    def _trade_fields(self, trade: Trade) -> tuple[int, str, str, str, int, int, Any, str]:
        """The TRADE fields in field order; a FILL is these and three more."""
        spec = self.specs[trade.symbol]
        return (trade.trade_id, trade.symbol, spec.fmt_price(trade.price),
                self.qty(spec, trade.qty), trade.buy_order_id, trade.sell_order_id,
                trade.taker_side, self.clock.fmt(trade.ts))

    def trade(self, trade: Trade) -> R.Trade:
        return R.Trade(*self._trade_fields(trade))

    def fill(self, trade: Trade, side: str) -> R.Fill:
        """One side's view of a trade."""
        return R.Fill(
            *self._trade_fields(trade),
            trade.buy_order_id if side == "buy" else trade.sell_order_id,
            side,  # type: ignore[arg-type]
            "taker" if side == trade.taker_side else "maker",
            self._fee(trade.buy_fee if side == "buy" else trade.sell_fee),
        )

    def _fee(self, fee: int) -> str:
        """A fill's fee as money; ``"0"`` without formatting, as most fills pay none."""
        return self.money.fmt(fee) if fee else "0"

    def levels(self, spec: SymbolSpec, rows: list[tuple[int, int]]) -> list[tuple[str, str]]:
        return [(spec.fmt_price(p), self.qty(spec, q)) for p, q in rows]

    def candle(self, spec: SymbolSpec, c: CoreCandle) -> R.Candle:
        return R.Candle(t=self.clock.fmt(c.t), o=spec.fmt_price(c.o), h=spec.fmt_price(c.h),
                        l=spec.fmt_price(c.l), c=spec.fmt_price(c.c), v=self.qty(spec, c.v))

    # -- replies built from state ---------------------------------------------------------
    def book(self, symbol: str, depth: int) -> R.BookReply:
        seq, bids, asks = self.exchange.depth(symbol, depth)
        spec = self.specs[symbol]
        return R.BookReply(symbol=symbol, seq=seq, bids=self.levels(spec, bids),
                           asks=self.levels(spec, asks))

    def quote(self, symbol: str) -> R.QuoteReply:
        ex = self.exchange
        spec = self.specs[symbol]
        md = ex.market_data(symbol)
        bid, bid_qty, ask, ask_qty = ex.top(symbol)
        return R.QuoteReply(
            symbol=symbol,
            bid=self.price(spec, bid),
            bid_qty=None if bid is None else self.qty(spec, bid_qty),
            ask=self.price(spec, ask),
            ask_qty=None if ask is None else self.qty(spec, ask_qty),
            last=self.price(spec, md.last),
            open=self.price(spec, md.open),
            high=self.price(spec, md.high),
            low=self.price(spec, md.low),
            volume=self.qty(spec, md.volume),
        )

    def balance(self, user: str) -> R.BalanceReply:
        account = self.exchange.account(user)
        fmt = self.money.fmt
        return R.BalanceReply(cash=fmt(account.cash), available=fmt(account.available_cash),
                              reserved=fmt(account.reserved_cash),
                              fees_paid=fmt(account.fees_paid))

    def portfolio(self, user: str) -> R.PortfolioReply:
        ex = self.exchange
        account = ex.account(user)
        fmt = self.money.fmt
        positions = []
        worth = account.cash
        for symbol, pos in sorted(account.positions.items()):
            if not (pos.qty or pos.realized or pos.cost):
                continue  # a symbol only ever ordered, never held: nothing to show
            spec = self.specs[symbol]
            mark = ex.mark_price(symbol)
            value = pos.qty * (mark or 0) * spec.mult
            worth += value
            avg_cost = self._avg_cost(spec, pos.cost, pos.qty)
            positions.append(R.Position(
                symbol=symbol,
                qty=self.qty(spec, pos.qty),
                available=self.qty(spec, pos.available),
                avg_cost=avg_cost,
                last=self.price(spec, ex.last_price(symbol)),
                market_value=fmt(value),
                unrealized_pnl=fmt(value - pos.cost),
                realized_pnl=fmt(pos.realized),
            ))
        return R.PortfolioReply(cash=fmt(account.cash), positions=positions,
                                net_worth=fmt(worth))

    def _avg_cost(self, spec: SymbolSpec, cost: int, lots: int) -> str:
        """Average cost per unit of the symbol, as money (no trailing zeros)."""
        if lots == 0:
            return "0"
        per_unit = (Decimal(cost).scaleb(-self.money.decimals) / (lots * spec.lot_size))
        places = spec.price_decimals + 6
        text = f"{per_unit.quantize(Decimal(1).scaleb(-places)):f}"
        return text.rstrip("0").rstrip(".") if "." in text else text

    def symbols(self) -> R.SymbolsReply:
        return R.SymbolsReply(symbols=[self.symbol_info(symbol) for symbol in self.specs])

    def status(self, symbol: str) -> str:
        """A symbol's trading state: ``open``, ``halted`` or ``closed`` (the market)."""
        ex = self.exchange
        return "halted" if ex.halted(symbol) else ("open" if ex.market_open else "closed")

    def symbol_info(self, symbol: str) -> R.SymbolInfo:
        """One row of the ``symbols`` reply (and of ``search``)."""
        spec = self.specs[symbol]
        band = spec.price_band
        return R.SymbolInfo(
            symbol=symbol, tick_size=f"{spec.tick_size.normalize():f}",
            lot_size=f"{spec.lot_size.normalize():f}",
            last=self.price(spec, self.exchange.last_price(symbol)),
            status=self.status(symbol),
            max_qty=spec.fmt_qty(spec.max_qty), max_price=spec.fmt_price(spec.max_price),
            reference_price=self.price(spec, spec.reference_price),
            price_band=None if band is None else
            f"{(Decimal(band.numerator) / Decimal(band.denominator)).normalize():f}",
            name=spec.display_name)

    def listed(self, symbol: str) -> None:
        """A symbol listed at run time (``add_symbol``): its spec, and empty caches."""
        self.specs[symbol] = self.exchange.spec(symbol)
        self._qty_text[symbol] = {}
        self._ticks[symbol] = {}
        self._lots[symbol] = {}

    @staticmethod
    def profile(account: Account) -> R.UserProfile:
        i = account.info
        return R.UserProfile(user=i.user, name=i.name, phone=i.phone, email=i.email,
                             admin=i.admin, disabled=i.disabled)

    def watch_entry(self, symbol: str) -> R.WatchEntry:
        """One row of a watchlist: the symbol's name, state and quote."""
        q = self.quote(symbol)
        return R.WatchEntry(
            symbol=symbol, name=self.specs[symbol].display_name, status=self.status(symbol),
            bid=q.bid, bid_qty=q.bid_qty, ask=q.ask, ask_qty=q.ask_qty, last=q.last,
            open=q.open, high=q.high, low=q.low, volume=q.volume)

    # -- requests to integers ---------------------------------------------------------------
    # The one place where a request's decimals become engine integers, and so the one place
    # that enforces each symbol's bounds: it runs before a command is journaled or applied.
    def ticks(self, spec: SymbolSpec, value: Decimal | None, name: str = "price") -> int | None:
        """Ticks for a given price; 0 for one that is not a positive multiple of the tick.

        A price above the symbol's `max_price` is `bad_request` naming ``name``."""
        if value is None:
            return None
        units = _units(self._ticks[spec.symbol], value, spec.price_ticks)
        if units > spec.max_price:
            raise CommandError("bad_request", f"{name}: at most {spec.fmt_price(spec.max_price)}"
                               f" for {spec.symbol}")
        return units

    def lots(self, spec: SymbolSpec, value: Decimal, name: str = "qty") -> int:
        """Lots for a given quantity; 0 for one that is not a positive multiple of the lot.

        A quantity above the symbol's `max_qty` is `bad_request` naming ``name``."""
        units = _units(self._lots[spec.symbol], value, spec.qty_lots)
        if units > spec.max_qty:
            raise CommandError("bad_request", f"{name}: at most {spec.fmt_qty(spec.max_qty)}"
                               f" for {spec.symbol}")
        return units


def _units(cache: dict[Decimal, int], value: Decimal,
           convert: Callable[[Decimal], int | None]) -> int:
    """``convert(value)`` through a bounded cache; 0 where it gives None (off the grid)."""
    units = cache.get(value)
    if units is None:
        exact = convert(value)
        units = 0 if exact is None else exact
        if len(cache) < _CACHE_LIMIT:
            cache[value] = units
    return units
