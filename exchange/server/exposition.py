"""The metrics in the Prometheus text format, served at ``/metrics`` (docs/METRICS.md).

A custom ``prometheus_client`` collector turns one :class:`~exchange.server.metrics.Readings`
into metric families at scrape time. The counting itself stays in plain integers
(:mod:`exchange.server.metrics`): ``prometheus_client``'s own metric objects take a lock
on every update, a cost the request path should not pay for a scrape every few seconds.

Two places serve it, with one handler: the metrics listener of its own
(``--metrics-port``, ``[metrics] port``; :func:`serve_metrics`) and the HTTP front-end's
``/metrics`` when that front-end runs. Both run on the event loop, so a scrape reads the
gateway between two requests, never in the middle of one.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterator

from aiohttp import web
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from exchange.server.metrics import Histogram, Readings
from exchange.server.web_site import SiteListener, start_site

Read = Callable[[], Readings]
"""Where the readings come from: the gateway's ``readings``."""

def _bound(value: float) -> str:
    return "+Inf" if math.isinf(value) else repr(value)


def _histogram(name: str, doc: str, histogram: Histogram) -> HistogramMetricFamily:
    return HistogramMetricFamily(
        name, doc, buckets=[(_bound(le), n) for le, n in histogram.cumulative()],
        sum_value=histogram.sum)


class ExchangeCollector(Collector):
    """The exchange's metric families, read from the gateway at each scrape."""

    def __init__(self, read: Read) -> None:
        self.read = read

    def collect(self) -> Iterator[Metric]:
        r = self.read()
        info = GaugeMetricFamily("exchange_build_info", "The matching core's build (1).",
                                 labels=["build"])
        info.add_metric([r.build], 1)
        yield info
        sessions = GaugeMetricFamily("exchange_sessions_open", "Sessions open now.",
                                     labels=["frontend"])
        for frontend, n in sorted(r.sessions_open.items()):
            sessions.add_metric([frontend], n)
        yield sessions
        opened = CounterMetricFamily("exchange_sessions_opened",
                                     "Sessions opened since the start.", labels=["frontend"])
        for frontend, n in sorted(r.sessions_opened.items()):
            opened.add_metric([frontend], n)
        yield opened
        yield GaugeMetricFamily("exchange_users_online",
                                "Users logged in on at least one session.",
                                value=r.users_online)
        requests = CounterMetricFamily("exchange_requests",
                                       "Requests dispatched since the start, by op.",
                                       labels=["op"])
        for op, n in sorted(r.requests.items()):
            requests.add_metric([op], n)
        yield requests
        errors = CounterMetricFamily("exchange_errors",
                                     "Error replies since the start, by op and code.",
                                     labels=["op", "code"])
        for (op, code), n in sorted(r.errors.items()):
            errors.add_metric([op, code], n)
        yield errors
        yield CounterMetricFamily("exchange_logins_failed",
                                  "Logins refused (unknown user, wrong token, locked out).",
                                  value=r.logins_failed)
        yield CounterMetricFamily("exchange_connections_refused",
                                  "Connections refused over a connection limit.",
                                  value=r.connections_refused)
        yield CounterMetricFamily("exchange_orders",
                                  "Orders placed since the exchange began (accepted or "
                                  "rejected; kept across restarts).", value=r.orders)
        yield CounterMetricFamily("exchange_trades",
                                  "Trades since the exchange began (kept across restarts).",
                                  value=r.trades)
        yield GaugeMetricFamily("exchange_live_orders",
                                "Orders live now (resting, or stops waiting).",
                                value=r.live_orders)
        depth = GaugeMetricFamily("exchange_actor_queue_depth",
                                  "Commands waiting in a symbol's actor queue.",
                                  labels=["symbol"])
        for symbol, n in sorted(r.queue_depth.items()):
            depth.add_metric([symbol], n)
        yield depth
        yield _histogram("exchange_reply_latency_seconds",
                         "From the read that brought a request to its reply being handed "
                         "to the session's output.", r.latency)
        if r.journal_fsync is not None:
            yield _histogram("exchange_journal_fsync_seconds",
                             "Each journal commit's write and fdatasync.", r.journal_fsync)
        if r.journal_seq is not None:
            yield GaugeMetricFamily("exchange_journal_durable_seq",
                                    "The last journal record made durable.",
                                    value=r.journal_seq)


def render(read: Read) -> bytes:
    """The text exposition of one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ExchangeCollector(read))
    return generate_latest(registry)


def handler(read: Read) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """An aiohttp handler of ``GET /metrics``."""
    async def metrics(request: web.Request) -> web.StreamResponse:
        return web.Response(body=render(read), headers={"Content-Type": CONTENT_TYPE_LATEST})
    return metrics


class MetricsListener(SiteListener):
    """The metrics listener as the server sees it (``frontends.Listening``'s shape)."""


async def serve_metrics(read: Read, host: str, port: int) -> MetricsListener:
    """Listen on ``host:port`` (0: a free port) and answer ``GET /metrics``."""
    app = web.Application()
    app.router.add_get("/metrics", handler(read))
    return MetricsListener(*await start_site(app, host, port))
