"""The client's own mechanics against a scripted stub server: ref pairing, cancel safety,
timeouts, connection loss, reconnect. (The same behaviours are also tested end to end
against the real server in the test_e2e_* modules.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from client import (
    AuthFailedError,
    Client,
    ConnectFailed,
    ConnectionClosed,
    InvalidRequest,
    ProtocolViolation,
    RequestTimeout,
    TradeEvent,
    UnknownOpError,
)
from protocol import messages as m
from protocol import replies as r
from tests.client.stub import TS, StubServer, StubSession, default_reply


def quote(symbol: str, ref: str | int | None) -> r.QuoteReply:
    return r.QuoteReply(
        symbol=symbol, bid=None, bid_qty=None, ask=None, ask_qty=None, last=None,
        open=None, high=None, low=None, volume="0", ref=ref,
    )  # fmt: skip


def trade(symbol: str) -> r.TradeEvent:
    return r.TradeEvent(
        trade=r.Trade(
            trade_id=1, symbol=symbol, price="1.00", qty="1", buy_order_id=1,
            sell_order_id=2, taker_side="buy", ts=TS,
        )
    )  # fmt: skip


class Script:
    """A handler whose `quote` replies are held until the test releases them."""

    def __init__(self) -> None:
        self.held: list[tuple[m.Quote, StubSession]] = []
        self.got_quote = asyncio.Event()

    async def __call__(self, request: m.RequestBase, session: StubSession) -> None:
        if isinstance(request, m.Quote):
            self.held.append((request, session))
            self.got_quote.set()
        elif isinstance(request, m.Subscribe):
            session.send(default_reply(request))
            if request.channel == "trades":
                session.send(trade(request.symbol))
        else:
            session.send(default_reply(request))

    def release(self, *, reverse: bool = False) -> None:
        held = self.held[::-1] if reverse else self.held
        for request, session in held:
            session.send(quote(request.symbol, request.ref))
        self.held.clear()

    async def wait_for_quotes(self, count: int) -> None:
        while len(self.held) < count:
            self.got_quote.clear()
            await self.got_quote.wait()


@pytest.fixture
async def script() -> Script:
    return Script()


@pytest.fixture
async def stub(script: Script) -> AsyncIterator[StubServer]:
    server = await StubServer(script).start()
    yield server
    await server.stop()


@pytest.fixture
async def client(stub: StubServer) -> AsyncIterator[Client]:
    async with Client.connect("127.0.0.1", stub.port, timeout=5) as c:
        yield c


async def test_replies_in_any_order_reach_their_own_callers(client: Client, script: Script) -> None:
    symbols = [f"S{i}" for i in range(50)]
    tasks = [asyncio.create_task(client.quote(s)) for s in symbols]
    await script.wait_for_quotes(len(symbols))
    script.release(reverse=True)
    replies = await asyncio.gather(*tasks)
    assert [reply.symbol for reply in replies] == symbols


async def test_cancelled_request_never_hands_its_reply_to_the_next(
    client: Client, script: Script
) -> None:
    """The redis-py regression: cancel a request after it was written, then ask again on
    the same connection; the late reply to the first must not answer the second."""
    slow = asyncio.create_task(client.quote("SLOW"))
    await script.wait_for_quotes(1)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    fast = asyncio.create_task(client.quote("FAST"))
    await script.wait_for_quotes(2)
    script.release()  # the late SLOW reply is written first
    reply = await fast
    assert reply.symbol == "FAST"
    assert (await client.ping()).ts == TS


async def test_timed_out_request_never_hands_its_reply_to_the_next(
    client: Client, script: Script
) -> None:
    with pytest.raises(RequestTimeout) as info:
        await client.request(m.Quote(symbol="SLOW"), timeout=0.05)
    assert isinstance(info.value, TimeoutError)
    fast = asyncio.create_task(client.quote("FAST"))
    await script.wait_for_quotes(2)
    script.release()
    assert (await fast).symbol == "FAST"


async def test_default_timeout_applies_to_every_method(stub: StubServer) -> None:
    async with Client.connect("127.0.0.1", stub.port, timeout=0.05) as c:
        with pytest.raises(RequestTimeout):
            await c.quote("SLOW")
        assert (await c.ping()).ts == TS


async def test_in_flight_requests_fail_when_the_connection_is_lost(
    client: Client, script: Script, stub: StubServer
) -> None:
    tasks = [asyncio.create_task(client.quote(f"S{i}")) for i in range(3)]
    await script.wait_for_quotes(3)
    await stub.stop()
    for task in tasks:
        with pytest.raises(ConnectionClosed):
            await task
    with pytest.raises(ConnectionClosed):
        await client.ping()
    assert client.is_closed
    with pytest.raises(ConnectionClosed):
        await client.events().get()


async def test_undecodable_reply_fails_only_its_own_request(stub: StubServer) -> None:
    async def handler(request: m.RequestBase, session: StubSession) -> None:
        if isinstance(request, m.Quote):
            assert isinstance(request.ref, int)
            session.send_raw(b'{"type": "quote", "ref": %d, "symbol": 5}\n' % request.ref)
        else:
            session.send(default_reply(request))

    stub.handler = handler
    async with Client.connect("127.0.0.1", stub.port) as c:
        with pytest.raises(ProtocolViolation):
            await c.quote("X")
        assert (await c.ping()).ts == TS


async def test_error_reply_raises_the_code_class(client: Client) -> None:
    with pytest.raises(UnknownOpError) as info:
        await client.balance()  # the stub answers unknown_op to what it does not know
    assert info.value.code == "unknown_op"


async def test_invalid_arguments_are_refused_before_sending(
    client: Client, stub: StubServer
) -> None:
    with pytest.raises(InvalidRequest, match="price"):
        await client.place("AAPL", "buy", 1)  # a limit order without a price
    with pytest.raises(InvalidRequest, match="qty"):
        await client.place("AAPL", "buy", 1.5, "10")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match="price"):
        await client.place("AAPL", "buy", 1, "ten")
    with pytest.raises(InvalidRequest):
        await client.cancel()  # no order id
    with pytest.raises(InvalidRequest):
        await client.place("AAPL", "buy", 1, "10", ttl_ms=1000, tif="ioc")
    assert not any(isinstance(req, m.Place | m.Cancel) for req in stub.requests)


async def test_events_and_a_stream_both_get_stream_messages(client: Client) -> None:
    async with client.stream("trades", "X") as trades:
        event = await asyncio.wait_for(trades.get(), 5)
        assert isinstance(event, TradeEvent) and event.trade.symbol == "X"
    assert isinstance(await asyncio.wait_for(client.events().get(), 5), TradeEvent)


async def test_quit_closes_the_client(client: Client) -> None:
    bye = await client.quit()
    assert isinstance(bye, r.Bye)
    assert client.is_closed
    with pytest.raises(ConnectionClosed):
        await client.ping()


async def test_failed_login_at_connect_raises(stub: StubServer) -> None:
    async def refuse(request: m.RequestBase, session: StubSession) -> None:
        session.send(r.Error(code="auth_failed", message="no", ref=request.ref))

    stub.handler = refuse
    with pytest.raises(AuthFailedError):
        await Client.connect("127.0.0.1", stub.port, user="alice", token="wrong")
    c = Client("127.0.0.1", stub.port, user="alice", token="wrong")
    with pytest.raises(AuthFailedError):
        await c.open()
    assert c.is_closed
    with pytest.raises(ConnectionClosed):
        await c.ping()


async def test_request_leaves_the_callers_struct_alone(client: Client, stub: StubServer) -> None:
    ping = m.Ping()
    await client.request(ping)
    await client.request(ping)
    assert ping.ref is None
    sent = [q.ref for q in stub.requests]
    assert len(set(sent)) == len(sent) == 2 and all(isinstance(ref, int) for ref in sent)


async def test_connect_refused() -> None:
    server = await StubServer().start()
    await server.stop()  # a port nobody listens on any more
    with pytest.raises(ConnectFailed):
        await Client.connect("127.0.0.1", server.port, timeout=5)


def test_backoff_is_exponential_capped_and_jittered() -> None:
    c = Client("127.0.0.1", 1, reconnect_delay=0.1, reconnect_max_delay=2.0)
    for attempt, full in [(0, 0.1), (1, 0.2), (3, 0.8), (5, 2.0), (50, 2.0)]:
        delays = {c.backoff(attempt) for _ in range(20)}
        assert all(full / 2 <= d <= full for d in delays)
        assert len(delays) > 1


async def test_reconnect_logs_in_again_and_resubscribes(script: Script) -> None:
    stub = await StubServer(script).start()
    c = await Client.connect(
        "127.0.0.1", stub.port, user="alice", token="alice-token", reconnect=True,
        reconnect_delay=0.01, reconnect_max_delay=0.05, timeout=5,
    )  # fmt: skip
    try:
        await c.subscribe("trades", "X")
        in_flight = asyncio.create_task(c.quote("LOST"))
        await script.wait_for_quotes(1)
        await stub.stop()
        with pytest.raises(ConnectionClosed):
            await in_flight
        script.held.clear()
        await stub.start()  # same port
        assert (await c.ping()).ts == TS  # waits for the reconnection
        assert c.reconnects == 1
        first, second = stub.sessions[0].requests, stub.sessions[-1].requests
        assert [type(q) for q in first] == [m.Login, m.Subscribe, m.Quote]
        assert [type(q) for q in second] == [m.Login, m.Subscribe, m.Ping]
        assert second[1] == m.Subscribe(channel="trades", symbol="X", ref=second[1].ref)
    finally:
        await c.close()
        await stub.stop()


async def test_requests_wait_for_the_reconnection_within_their_timeout(script: Script) -> None:
    stub = await StubServer(script).start()
    c = await Client.connect(
        "127.0.0.1", stub.port, reconnect=True, reconnect_delay=0.01, timeout=0.2
    )
    try:
        await stub.stop()
        async with asyncio.timeout(5):
            while c.is_connected:  # until the reader has seen the loss
                await asyncio.sleep(0.01)
        with pytest.raises(RequestTimeout):
            await c.ping()
        await stub.start()
        assert isinstance(await c.request(m.Ping(), timeout=5), r.Pong)
    finally:
        await c.close()
        await stub.stop()


async def test_close_ends_events_iteration(client: Client) -> None:
    reader = asyncio.create_task(anext(client.events(), None))
    await asyncio.sleep(0)
    await client.close()
    assert await reader is None


async def test_a_full_events_queue_drops_the_oldest(stub: StubServer) -> None:
    async def burst(request: m.RequestBase, session: StubSession) -> None:
        for i in range(5):
            session.send(trade(f"S{i}"))
        session.send(default_reply(request))

    stub.handler = burst
    async with Client.connect("127.0.0.1", stub.port, max_events=2) as c:
        await c.ping()  # its reply comes after the five events
        assert c.dropped_events == 3
        kept = [c.events().get_nowait(), c.events().get_nowait()]
        assert [e.trade.symbol for e in kept if isinstance(e, TradeEvent)] == ["S3", "S4"]
