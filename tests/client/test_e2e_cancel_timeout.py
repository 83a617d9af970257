"""Cancel safety and timeouts end to end: a request abandoned mid-flight is still answered
by the server, and that late reply must never reach the next caller."""

from __future__ import annotations

import asyncio

import pytest

from client import Accepted, Client, RequestTimeout
from protocol import messages as m


async def test_cancelled_place_reply_is_not_given_to_the_next_request(
    alice: Client, symbol: str
) -> None:
    task = asyncio.create_task(alice.place(symbol, "buy", 1, "10.00", client_order_id="gone"))
    await asyncio.sleep(0)  # the task has written its line and waits for the reply
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    nxt = await alice.place(symbol, "buy", 2, "11.00", client_order_id="next")
    assert isinstance(nxt, Accepted)
    assert (nxt.order.client_order_id, nxt.order.qty, nxt.order.price) == ("next", "2", "11.00")
    # The server did act on the cancelled request: cancellation is not a cancel order.
    gone = await alice.status(client_order_id="gone")
    assert gone.order.qty == "1" and gone.order.status == "accepted"
    await alice.cancel_all(symbol)


async def test_many_cancelled_among_many_pipelined(alice: Client, symbol: str) -> None:
    tasks = [asyncio.create_task(alice.book(symbol, depth=i + 1)) for i in range(200)]
    await asyncio.sleep(0)
    for task in tasks[::3]:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for i, result in enumerate(results):
        if i % 3 == 0:
            assert isinstance(result, asyncio.CancelledError)
        else:
            assert not isinstance(result, BaseException) and result.symbol == symbol
    for depth in (1, 2, 3):
        assert (await alice.quote(symbol)).symbol == symbol
        assert (await alice.book(symbol, depth)).symbol == symbol


async def test_timeout_then_the_next_request_gets_its_own_reply(alice: Client, symbol: str) -> None:
    alice.timeout = 0  # expires at the first wait: after the line is written
    try:
        with pytest.raises(RequestTimeout) as info:
            await alice.place(symbol, "buy", 1, "10.00", client_order_id="late")
    finally:
        alice.timeout = 10
    assert isinstance(info.value, TimeoutError)
    reply = await alice.place(symbol, "buy", 3, "12.00", client_order_id="own")
    assert isinstance(reply, Accepted) and reply.order.client_order_id == "own"
    assert (await alice.status(client_order_id="late")).order.qty == "1"
    await alice.cancel_all(symbol)


async def test_per_request_timeout(alice: Client) -> None:
    with pytest.raises(RequestTimeout):
        await alice.request(m.Ping(), timeout=0)
    assert (await alice.request(m.Ping(), timeout=5)).ts  # type: ignore[union-attr]


async def test_outer_cancellation_scope_is_respected(alice: Client, symbol: str) -> None:
    """A caller's own `asyncio.timeout` cancels cleanly too; the client stays usable."""
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0):
            await alice.book(symbol)
    assert (await alice.book(symbol)).symbol == symbol
