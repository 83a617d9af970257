"""Per-symbol public market data: last price, session OHLV, trade tape and candles.

Everything here is bounded: the tape keeps the most recent trades and each candle
series the most recent intervals, so a server that runs for weeks does not grow.
"""

from __future__ import annotations

from collections import deque
from typing import Final

from mypy_extensions import mypyc_attr

from exchange.core.pickling import Picklable
from exchange.core.results import Trade

US_PER_SECOND: Final = 1_000_000
INTERVALS: Final[dict[str, int]] = {
    "1m": 60 * US_PER_SECOND,
    "5m": 300 * US_PER_SECOND,
    "1h": 3600 * US_PER_SECOND,
    "1d": 86400 * US_PER_SECOND,
}
TAPE_LENGTH: Final = 10_000
"""Trades kept per symbol for the ``trades`` op (its ``limit`` is capped to this)."""
CANDLES_KEPT: Final = 1_000
"""Intervals kept per series: 16 hours of minutes, 41 days of hours."""


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class Candle(Picklable):
    """One interval's open, high, low, close and volume (prices in ticks, volume in lots)."""

    __slots__ = ("c", "h", "l", "o", "t", "v")

    def __init__(self, t: int, price: int, qty: int) -> None:
        self.t = t
        self.o = self.h = self.l = self.c = price
        self.v = qty


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class MarketData(Picklable):
    """The public statistics of one symbol, updated trade by trade."""

    __slots__ = ("candles", "high", "last", "low", "open", "tape", "volume")

    def __init__(self) -> None:
        self.last: int | None = None
        self.open: int | None = None
        self.high: int | None = None
        self.low: int | None = None
        self.volume = 0
        self.tape: deque[Trade] = deque(maxlen=TAPE_LENGTH)
        self.candles: dict[str, deque[Candle]] = {
            name: deque(maxlen=CANDLES_KEPT) for name in INTERVALS
        }

    def record(self, trade: Trade) -> None:
        price = trade.price
        qty = trade.qty
        self.last = price
        if self.open is None:
            self.open = self.high = self.low = price
        else:
            if price > self.high:  # type: ignore[operator]
                self.high = price
            if price < self.low:  # type: ignore[operator]
                self.low = price
        self.volume += qty
        self.tape.append(trade)
        ts = trade.ts
        for name, width in INTERVALS.items():
            series = self.candles[name]
            start = ts - ts % width
            candle = series[-1] if series else None
            # A clock that steps back by a little lands in the current candle.
            if candle is not None and start <= candle.t:
                if price > candle.h:
                    candle.h = price
                if price < candle.l:
                    candle.l = price
                candle.c = price
                candle.v += qty
            else:
                series.append(Candle(start, price, qty))

    def reset_session(self) -> None:
        """Start a new session's open/high/low/volume (``open_market``); last stays."""
        self.open = self.high = self.low = None
        self.volume = 0

    def recent_trades(self, limit: int) -> list[Trade]:
        tape = self.tape
        if limit >= len(tape):
            return list(tape)
        return [tape[i] for i in range(len(tape) - limit, len(tape))]

    def recent_candles(self, interval: str, limit: int) -> list[Candle]:
        series = self.candles[interval]
        if limit >= len(series):
            return list(series)
        return [series[i] for i in range(len(series) - limit, len(series))]
