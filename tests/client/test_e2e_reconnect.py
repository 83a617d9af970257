"""Reconnect end to end: the server is killed and started again on the same port with the
same `--data-dir`; the client reconnects, logs in, re-subscribes, and a `place` re-sent with
the same `client_order_id` is answered with the existing order (`duplicate: true`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from client import Accepted, ConnectionClosed, TradeEvent
from tests.client.conftest import ServerProcess, connect, start_server


@pytest.fixture
def durable(tmp_path: Path) -> Iterator[ServerProcess]:
    (tmp_path / "data").mkdir()
    proc = start_server(tmp_path, data_dir=tmp_path / "data")
    yield proc
    proc.stop()


async def test_reconnect_and_idempotent_resend(durable: ServerProcess) -> None:
    symbol = "T01"
    async with connect(
        durable, "alice", reconnect=True, reconnect_delay=0.05, reconnect_max_delay=0.5, timeout=15
    ) as alice:
        await alice.subscribe("trades", symbol)
        first = await alice.place(symbol, "buy", 3, "10.00", client_order_id="r-1")
        assert isinstance(first, Accepted) and not first.duplicate
        port = durable.port

        durable.kill()  # a crash
        # Until the client notices, a request may go out on the dead socket (and fail with
        # ConnectionClosed) or wait for the new connection; either way the retry is safe.
        pending = asyncio.create_task(alice.place(symbol, "buy", 1, "10.00", client_order_id="r-2"))
        await asyncio.to_thread(durable.start, port)
        with contextlib.suppress(ConnectionClosed):
            await pending

        again = await alice.place(symbol, "buy", 3, "10.00", client_order_id="r-1")
        assert isinstance(again, Accepted)
        assert again.duplicate is True
        assert again.order.order_id == first.order.order_id
        assert again.fills == []
        retried = await alice.place(symbol, "buy", 1, "10.00", client_order_id="r-2")
        assert isinstance(retried, Accepted)
        live = await alice.orders(symbol)
        assert sorted(o.client_order_id or "" for o in live.orders) == ["r-1", "r-2"]
        assert alice.reconnects == 1

        # The subscription was renewed on the new connection.
        async with connect(durable, "bob") as bob:
            await bob.place(symbol, "sell", 1, "10.00")
        async with asyncio.timeout(10):
            async for event in alice.events():
                if isinstance(event, TradeEvent):
                    assert event.trade.symbol == symbol and event.trade.price == "10.00"
                    break


async def test_without_reconnect_a_loss_closes_the_client(durable: ServerProcess) -> None:
    async with connect(durable, "alice") as alice:
        durable.kill()
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(10):
                async for _ in alice.events():
                    pass
        assert alice.is_closed
        with pytest.raises(ConnectionClosed):
            await alice.ping()
