"""The metrics' parts on their own: the histogram, the exposition of a reading, and the
counting a real gateway and session do (in one process, with a fake transport)."""

from __future__ import annotations

import asyncio
import math

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exchange.server.config import demo_config
from exchange.server.exposition import render
from exchange.server.frontends.lines import LinesProtocol
from exchange.server.gateway import Gateway
from exchange.server.metrics import INVALID_OP, Histogram, Readings, RequestMetrics, op_name
from protocol import messages as M

# -- the histogram ---------------------------------------------------------------------------


def test_an_observation_falls_in_the_first_bucket_whose_bound_it_does_not_pass() -> None:
    h = Histogram([0.1, 0.2, 0.5])
    for v in (0.0, 0.1, 0.15, 0.2, 0.3, 0.5, 0.51, 7.0):
        h.observe(v)
    assert h.counts == [2, 2, 2, 2]  # (..0.1] (0.1..0.2] (0.2..0.5] (0.5..+Inf)
    assert h.count == 8
    assert h.sum == pytest.approx(0.0 + 0.1 + 0.15 + 0.2 + 0.3 + 0.5 + 0.51 + 7.0)
    assert h.cumulative() == [(0.1, 2), (0.2, 4), (0.5, 6), (math.inf, 8)]


def test_a_copy_does_not_move_with_the_original() -> None:
    h = Histogram([1.0])
    h.observe(0.5)
    copy = h.copy()
    h.observe(2.0)
    assert (copy.counts, copy.sum) == ([1, 0], 0.5)
    assert (h.counts, h.sum) == ([1, 1], 2.5)


@pytest.mark.parametrize("bounds", [[], [0.2, 0.1], [0.1, 0.1], [0.1, math.inf],
                                    [math.nan]])
def test_bounds_must_be_finite_and_increasing(bounds: list[float]) -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        Histogram(bounds)


def test_op_names_are_the_request_tags() -> None:
    assert op_name(M.Place) == "place"
    assert op_name(M.CancelAll) == "cancel_all"
    assert op_name(None) == INVALID_OP


# -- the exposition --------------------------------------------------------------------------


def test_a_reading_is_exposed_as_prometheus_families() -> None:
    latency = Histogram([0.001, 0.01])
    latency.observe(0.0005)
    latency.observe(0.005)
    latency.observe(3.0)
    fsync = Histogram([0.001])
    fsync.observe(0.002)
    reading = Readings(
        build="python", sessions_open={"lines": 2, "http": 1},
        sessions_opened={"lines": 5, "http": 1}, users_online=2,
        requests={"place": 7, "cancel": 0}, errors={("cancel", "unknown_order"): 3},
        logins_failed=1, connections_refused=4, orders=7, trades=2, live_orders=3,
        queue_depth={"AAPL": 5}, latency=latency, journal_fsync=fsync, journal_seq=9)
    families = {f.name: f for f in text_string_to_metric_families(
        render(lambda: reading).decode())}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in families.values() for s in f.samples}
    assert families["exchange_requests"].type == "counter"
    assert families["exchange_live_orders"].type == "gauge"
    assert families["exchange_reply_latency_seconds"].type == "histogram"
    assert samples[("exchange_requests_total", (("op", "place"),))] == 7
    assert samples[("exchange_requests_total", (("op", "cancel"),))] == 0
    assert samples[("exchange_errors_total", (("code", "unknown_order"), ("op", "cancel")))] == 3
    assert samples[("exchange_sessions_open", (("frontend", "http"),))] == 1
    assert samples[("exchange_sessions_opened_total", (("frontend", "lines"),))] == 5
    assert samples[("exchange_actor_queue_depth", (("symbol", "AAPL"),))] == 5
    assert samples[("exchange_orders_total", ())] == 7
    assert samples[("exchange_trades_total", ())] == 2
    assert samples[("exchange_logins_failed_total", ())] == 1
    assert samples[("exchange_connections_refused_total", ())] == 4
    assert samples[("exchange_users_online", ())] == 2
    assert samples[("exchange_build_info", (("build", "python"),))] == 1
    buckets = {dict(labels)["le"]: v for (name, labels), v in samples.items()
               if name == "exchange_reply_latency_seconds_bucket"}
    assert buckets == {"0.001": 1, "0.01": 2, "+Inf": 3}
    assert samples[("exchange_reply_latency_seconds_count", ())] == 3
    assert samples[("exchange_reply_latency_seconds_sum", ())] == pytest.approx(3.0055)
    assert samples[("exchange_journal_fsync_seconds_count", ())] == 1
    assert samples[("exchange_journal_durable_seq", ())] == 9


def test_without_a_journal_no_journal_family_is_exposed() -> None:
    reading = Readings(
        build="python", sessions_open={}, sessions_opened={}, users_online=0, requests={},
        errors={}, logins_failed=0, connections_refused=0, orders=0, trades=0,
        live_orders=0, queue_depth={}, latency=Histogram([1.0]))
    names = {f.name for f in text_string_to_metric_families(render(lambda: reading).decode())}
    assert "exchange_reply_latency_seconds" in names
    assert not {n for n in names if n.startswith("exchange_journal")}


# -- what a gateway and its sessions count ---------------------------------------------------


class _Transport:
    def __init__(self) -> None:
        self.data = b""

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 1) if name == "peername" else default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def write(self, data: bytes) -> None:
        self.data += data

    def writelines(self, chunks: list[bytes]) -> None:
        self.data += b"".join(chunks)

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


async def test_replies_are_timed_and_errors_counted_by_op_and_code() -> None:
    config = demo_config()
    config.limits.login_timeout = 0
    gateway = Gateway(config.build_exchange(), config.limits)
    gateway.start()
    try:
        loop = asyncio.get_running_loop()
        protocol, transport = LinesProtocol(gateway, loop), _Transport()
        protocol.connection_made(transport)  # type: ignore[arg-type]
        # A login, two places (the second one's symbol unknown), a cancel of nothing, a
        # line that is no request, and a ping behind them, in one read.
        protocol.data_received(
            b'{"op":"login","user":"alice","token":"alice-token","ref":1}\n'
            b'{"op":"place","symbol":"AAPL","side":"buy","qty":"1","price":"150","ref":2}\n'
            b'{"op":"place","symbol":"NOPE","side":"buy","qty":"1","price":"1","ref":3}\n'
            b'{"op":"cancel","order_id":424242,"ref":4}\n'
            b'{"op":"frobnicate","ref":5}\n'
            b'{"op":"ping","ref":6}\n')
        while transport.data.count(b"\n") < 6:
            await asyncio.sleep(0)
        metrics = gateway.metrics
        readings = gateway.readings()
        assert readings.requests["login"] == 1
        assert readings.requests["place"] == 2
        assert readings.requests["cancel"] == 1
        assert readings.requests["ping"] == 1
        assert metrics.errors == {("place", "unknown_symbol"): 1,
                                  ("cancel", "unknown_order"): 1,
                                  (INVALID_OP, "unknown_op"): 1}
        # Six replies, six timings; the order's acceptance is a reply, its events are not.
        assert metrics.latency.count == 6
        assert 0 < metrics.latency.sum < 10
        assert readings.sessions_open == {"lines": 1}
        assert readings.users_online == 1
        assert readings.orders == 1 and readings.live_orders == 1
        assert readings.journal_fsync is None
    finally:
        gateway.stop()


def test_replies_handed_over_together_are_timed_by_their_arrival() -> None:
    metrics = RequestMetrics()
    metrics.latency = Histogram([1.0, 2.0, 5.0])
    metrics.clock = lambda: 10.0
    # Three replies to a read at 9.5, one to a read at 8.5, two to a read at 4.0.
    metrics.replied([4.0, 4.0, 8.5, 9.5, 9.5, 9.5])
    assert metrics.latency.counts == [3, 1, 0, 2]
    assert metrics.latency.sum == pytest.approx(3 * 0.5 + 1.5 + 2 * 6.0)
    metrics.replied([9.0])
    assert metrics.latency.counts == [4, 1, 0, 2]
