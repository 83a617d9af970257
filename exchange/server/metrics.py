"""What the server counts about itself, kept as plain integers on the request path.

The order path is hot, so nothing here takes a lock or builds an object per request: a
request is counted with one ``dict`` increment keyed by its message type; a reply adds
its request's arrival time to its session's list, and when the session hands its output
to the connection (once a turn) the clock is read once and the latencies land in a
:class:`Histogram`, a list of integers indexed by ``bisect`` (the replies to one read
share an arrival time and are counted at once). A failure (an error reply, a failed
login) is counted on its own, slower path. Everything
else worth seeing (sessions, orders, trades, queue depths) is already kept by the
gateway and the core and is only read when someone asks: :class:`Readings` is that
reading, taken on the event-loop thread, and :mod:`exchange.server.exposition` turns it
into the Prometheus text format (docs/METRICS.md).

No ``prometheus_client`` here: the session, the gateway and the journal import this
module, and none of them should pay for the exposition library, or know it.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

LATENCY_BOUNDS: tuple[float, ...] = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5)
"""Upper bounds (seconds) of the reply-latency buckets: a reply handed over within the
read that brought its request takes tens of microseconds, one behind a busy actor or a
login's hashed-token check milliseconds to a second."""

FSYNC_BOUNDS: tuple[float, ...] = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5)
"""Upper bounds (seconds) of the journal write-and-fdatasync buckets: tens of
microseconds on a cache that lies, milliseconds on a real disk, far more on a sick one."""


class Histogram:
    """Observations counted into fixed buckets: a list of ints and a sum.

    ``counts[i]`` holds the observations ``v`` with ``bounds[i-1] < v <= bounds[i]``
    (Prometheus's ``le``, less than or equal), the last one those above every bound.
    Observing is one ``bisect`` and two additions, cheap enough for every reply.
    """

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Iterable[float]) -> None:
        self.bounds = tuple(float(b) for b in bounds)
        if not self.bounds or any(not math.isfinite(b) for b in self.bounds) or any(
                a >= b for a, b in zip(self.bounds, self.bounds[1:], strict=False)):
            raise ValueError("histogram bounds: expected finite numbers, strictly increasing")
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float, times: int = 1) -> None:
        """Count ``value`` (``times`` observations of it)."""
        self.counts[bisect_left(self.bounds, value)] += times
        self.sum += value * times

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, observations at or below it), ending with (+inf, all of them)."""
        out = []
        total = 0
        for bound, n in zip((*self.bounds, math.inf), self.counts, strict=True):
            total += n
            out.append((bound, total))
        return out

    def copy(self) -> Histogram:
        other = Histogram(self.bounds)
        other.counts = list(self.counts)
        other.sum = self.sum
        return other


INVALID_OP = "invalid"
"""The op label of an error answering a request that could not be decoded."""


def op_name(kind: type[Any] | None) -> str:
    """The op of a request message type (its tag), or :data:`INVALID_OP`."""
    config = getattr(kind, "__struct_config__", None)
    tag = getattr(config, "tag", None)
    return tag if isinstance(tag, str) else INVALID_OP


class RequestMetrics:
    """The counts kept on the request path: requests and errors by op, reply latency,
    failed logins and refused connections. One per gateway; sessions write to it."""

    __slots__ = ("clock", "connections_refused", "errors", "latency", "logins_failed",
                 "requests", "sessions_opened")

    def __init__(self) -> None:
        self.clock: Callable[[], float] = time.perf_counter
        """The clock reply latency is measured with (a monotonic one of high resolution:
        the event loop's own time is in milliseconds under uvloop)."""
        self.requests: dict[type[Any], int] = {}
        """Requests dispatched, by message type: filled with every type the gateway
        handles before the first one arrives (see :meth:`handles`)."""
        self.errors: dict[tuple[str, str], int] = {}
        """Error replies by (op, code)."""
        self.latency = Histogram(LATENCY_BOUNDS)
        self.logins_failed = 0
        self.connections_refused = 0
        self.sessions_opened: dict[str, int] = {}
        """Sessions opened since the start, by front-end."""

    def handles(self, kinds: Iterable[type[Any]]) -> None:
        """Count requests of these message types (at zero until one comes)."""
        for kind in kinds:
            self.requests.setdefault(kind, 0)

    def replied(self, arrivals: list[float]) -> None:
        """Replies handed to their connection now, to requests that arrived at these
        times (on :attr:`clock`), in reply order, which is request order, so the times
        never decrease: one clock read for them all, and one observation per run of
        equal times (the replies to one read share its time)."""
        now = self.clock()
        observe = self.latency.observe
        i = 0
        end = len(arrivals)
        while i < end:
            at = arrivals[i]
            j = bisect_right(arrivals, at, i)  # past the run of `at` (always > i)
            observe(now - at, j - i)
            i = j

    def error(self, kind: type[Any] | None, code: str) -> None:
        """One error reply with ``code`` to a request of type ``kind`` (None: one that
        could not be decoded)."""
        key = (op_name(kind), code)
        self.errors[key] = self.errors.get(key, 0) + 1


@dataclass(slots=True)
class Readings:
    """Everything exposed, read at once on the event-loop thread (see exposition)."""

    build: str
    sessions_open: dict[str, int]
    """Open sessions by front-end."""
    sessions_opened: dict[str, int]
    users_online: int
    requests: dict[str, int]
    """Requests by op."""
    errors: dict[tuple[str, str], int]
    """Error replies by (op, code)."""
    logins_failed: int
    connections_refused: int
    orders: int
    trades: int
    live_orders: int
    queue_depth: dict[str, int]
    """Commands waiting in each symbol's actor queue."""
    latency: Histogram
    journal_fsync: Histogram | None = None
    """None when the server runs without a data directory."""
    journal_seq: int | None = None
