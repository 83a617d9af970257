"""Pipelining on one connection against the real server: many requests in flight at once,
every reply paired with its own caller."""

from __future__ import annotations

import asyncio
import time

from client import Accepted, Client, Pong, QuoteReply
from tests.client.conftest import ServerProcess, connect

N = 10_000


async def test_10k_pipelined_requests_each_get_their_own_reply(
    server: ServerProcess, symbol: str
) -> None:
    """Interleave pings, quotes on two symbols and balances, all in flight together;
    each caller must get a reply of its own kind about its own symbol."""
    async with connect(server, "alice", timeout=60) as c:
        symbols = [symbol, "AAPL"]

        async def one(i: int) -> tuple[int, object]:
            match i % 3:
                case 0:
                    return i, await c.ping()
                case 1:
                    return i, await c.quote(symbols[i % 2])
                case _:
                    return i, await c.balance()

        started = time.perf_counter()
        results = await asyncio.gather(*(one(i) for i in range(N)))
        elapsed = time.perf_counter() - started
        for i, reply in results:
            if i % 3 == 0:
                assert isinstance(reply, Pong)
            elif i % 3 == 1:
                assert isinstance(reply, QuoteReply) and reply.symbol == symbols[i % 2]
            else:
                assert type(reply).__name__ == "BalanceReply"
        print(f"{N} pipelined requests in {elapsed:.2f}s")


async def test_pipelined_orders_keep_request_order_per_symbol(alice: Client, symbol: str) -> None:
    """Replies about one symbol come in request order: ids rise with the send order."""
    replies = await asyncio.gather(
        *(alice.place(symbol, "buy", 1, "1.00", client_order_id=f"p{i}") for i in range(500))
    )
    assert all(isinstance(reply, Accepted) for reply in replies)
    ids = [reply.order.order_id for reply in replies]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert [reply.order.client_order_id for reply in replies] == [f"p{i}" for i in range(500)]
    assert (await alice.cancel_all(symbol)).count == 500
