"""Request rate limits for the HTTP front-end: the ``[limits] rate`` of every session.

A JSON-lines session may send ``rate`` requests a second (a token bucket with one second
of burst); over HTTP there is no connection to hold the bucket, so it is kept per API key
for signed and keyed requests (one user's bots share it, as they would share a Binance
account's weight) and per client address for public ones. Past it a request is answered
429 with Binance's -1003, and nothing runs. The buckets are bounded: past
``MAX_BUCKETS`` clients the full buckets (idle ones) are dropped first.
"""

from __future__ import annotations

import time
from collections.abc import Callable

MAX_BUCKETS = 10_000
"""Buckets kept at once (one per API key or client address)."""


class Throttle:
    """Token buckets by client: ``allow(who)`` takes a token, or says there is none."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        """who -> (tokens, when last refilled)."""

    def allow(self, who: str) -> bool:
        if not self.rate:
            return True
        now = self.clock()
        tokens, then = self._buckets.get(who, (self.rate, now))
        tokens = min(self.rate, tokens + (now - then) * self.rate)
        if tokens < 1.0:
            self._buckets[who] = (tokens, now)
            return False
        if who not in self._buckets and len(self._buckets) >= MAX_BUCKETS:
            self._forget_idle(now)
        self._buckets[who] = (tokens - 1.0, now)
        return True

    def _forget_idle(self, now: float) -> None:
        """Drop every bucket that has refilled (its client has been quiet for a second),
        else the oldest half: a flood of addresses cannot grow the table without bound."""
        full = [who for who, (tokens, then) in self._buckets.items()
                if tokens + (now - then) * self.rate >= self.rate]
        if not full:
            full = list(self._buckets)[:len(self._buckets) // 2]
        for who in full:
            del self._buckets[who]
