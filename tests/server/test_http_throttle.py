"""The ``[limits] rate`` over HTTP: per API key for signed requests, per address for
public ones; past it, 429 with Binance's -1003 and nothing run."""

from __future__ import annotations

import aiohttp

from exchange.server.frontends.http.throttle import MAX_BUCKETS, Throttle
from tests.server.conftest import Server, StartServer
from tests.server.http_wire import HTTP_CONFIG, Http
from tests.server.wire import connect


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_the_rate_with_one_second_of_burst() -> None:
    clock = Clock()
    throttle = Throttle(3, clock)
    assert [throttle.allow("a") for _ in range(4)] == [True, True, True, False]
    assert throttle.allow("b")  # another client has its own bucket
    clock.now += 0.34  # a third of a second gives back one token
    assert throttle.allow("a") and not throttle.allow("a")
    assert all(Throttle(0, clock).allow("a") for _ in range(100))  # 0: unlimited


def test_the_buckets_are_bounded() -> None:
    clock = Clock()
    throttle = Throttle(1, clock)
    for i in range(MAX_BUCKETS):
        assert throttle.allow(f"ip{i}")
    assert not throttle.allow("ip0")  # its bucket is still empty...
    assert throttle.allow("new")  # ...and a new client still gets in: the table was cut
    assert len(throttle._buckets) <= MAX_BUCKETS


async def test_requests_past_the_rate_are_refused(start_server: StartServer,
                                                  client: aiohttp.ClientSession) -> None:
    server: Server = start_server(config="[limits]\nrate = 5\n" + HTTP_CONFIG,
                                  args=("--http-port", "0"))
    addr = server.others["http"]
    public = Http(client, addr)
    answers = [await public.get("/api/v3/ping") for _ in range(12)]
    refused = [body for status, body in answers if status == 429]
    assert 1 <= len(refused) <= 7 and all(body["code"] == -1003 for body in refused)
    alice, bob = Http(client, addr, "alice"), Http(client, addr, "bob")
    orders = [await alice.signed("POST", "/api/v3/order", symbol="AAPLUSD", side="BUY",
                                 type="LIMIT", timeInForce="GTC", quantity="1",
                                 price="100.00") for _ in range(12)]
    placed = [body for status, body in orders if status == 200]
    assert orders[-1][0] == 429 and orders[-1][1]["code"] == -1003
    # what was refused was not run: alice has exactly the orders that were answered (asked
    # over JSON lines, whose session has a bucket of its own)
    lines = await connect(server.addr, "alice")
    live = await lines.request("orders")
    assert len(live["orders"]) == len(placed) < 12
    await lines.close()
    assert (await bob.signed("GET", "/api/v3/account"))[0] == 200  # bob's own bucket
