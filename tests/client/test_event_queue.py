"""The bounded events queue: drop-oldest on overflow, counted; close and cancel semantics."""

from __future__ import annotations

import asyncio

import pytest

from client import ConnectionClosed, EventQueue


async def test_fifo() -> None:
    queue: EventQueue[int] = EventQueue(10)
    for i in range(3):
        queue.put(i)
    assert [await queue.get() for _ in range(3)] == [0, 1, 2]


async def test_overflow_drops_the_oldest_and_counts() -> None:
    queue: EventQueue[int] = EventQueue(3)
    for i in range(5):
        queue.put(i)
    assert queue.dropped == 2
    assert len(queue) == 3
    assert [await queue.get() for _ in range(3)] == [2, 3, 4]


async def test_get_waits_for_put() -> None:
    queue: EventQueue[str] = EventQueue(3)
    getter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    assert not getter.done()
    queue.put("x")
    assert await getter == "x"


async def test_clean_close_ends_iteration_after_draining() -> None:
    queue: EventQueue[int] = EventQueue(3)
    queue.put(1)
    queue.close()
    queue.put(2)  # ignored once closed
    assert [item async for item in queue] == [1]


async def test_close_with_error_raises_after_draining() -> None:
    queue: EventQueue[int] = EventQueue(3)
    queue.put(1)
    queue.close(ConnectionClosed("lost"))
    assert await queue.get() == 1
    with pytest.raises(ConnectionClosed):
        await queue.get()


async def test_close_wakes_a_waiting_reader() -> None:
    queue: EventQueue[int] = EventQueue(3)
    getter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.close()
    with pytest.raises(StopAsyncIteration):
        await getter


async def test_cancelled_get_loses_nothing() -> None:
    queue: EventQueue[int] = EventQueue(3)
    getter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    getter.cancel()
    queue.put(1)  # in the same tick as the cancellation
    with pytest.raises(asyncio.CancelledError):
        await getter
    assert await queue.get() == 1


def test_maxsize_must_be_positive() -> None:
    with pytest.raises(ValueError):
        EventQueue(0)
