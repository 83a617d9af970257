"""Pushed messages: the `Event` type, and the bounded queue that holds them until read.

The server pushes events and stream messages without a `ref`. The client's reader task must
never wait for a slow consumer (a blocked reader would also block every reply), so events go
into a bounded queue that never blocks the producer: when it is full, the *oldest* event is
dropped and `dropped` counts it. Market data is worth most when fresh, and a consumer that
falls behind can see that it did (`dropped` grows) and resynchronise from a snapshot
(`book`, `orders`, `fills`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import TypeAlias, TypeVar

from protocol.fields import Channel
from protocol.replies import (
    AlertEvent,
    BookReply,
    BookUpdate,
    Canceled,
    Expired,
    FillEvent,
    QuoteReply,
    RiskAlertEvent,
    TradeEvent,
    Triggered,
)

__all__ = ["EVENT_TYPES", "Event", "EventQueue", "stream_key"]

Event: TypeAlias = (
    FillEvent
    | Expired
    | Triggered
    | Canceled
    | TradeEvent
    | BookReply
    | BookUpdate
    | QuoteReply
    | AlertEvent
    | RiskAlertEvent
)
"""Every message the server pushes without a `ref`.

`Canceled`, `BookReply` and `QuoteReply` are also direct replies; as events their `ref` is
None. A `BookReply` event is the snapshot that opens a `book` stream (and re-opens it after
a reconnect): treat it as a reset of the local book.
"""

EVENT_TYPES: tuple[type[Event], ...] = (
    FillEvent,
    Expired,
    Triggered,
    Canceled,
    TradeEvent,
    BookReply,
    BookUpdate,
    QuoteReply,
    AlertEvent,
    RiskAlertEvent,
)

StreamKey: TypeAlias = tuple[Channel, str]


def stream_key(event: Event) -> StreamKey | None:
    """The `(channel, symbol)` stream an event belongs to, or None for account events."""
    if isinstance(event, TradeEvent):
        return ("trades", event.trade.symbol)
    if isinstance(event, BookReply | BookUpdate):
        return ("book", event.symbol)
    if isinstance(event, QuoteReply):
        return ("quote", event.symbol)
    return None


T = TypeVar("T")


class EventQueue(AsyncIterator[T]):
    """A bounded FIFO that drops its oldest item when full, and can be closed.

    `put` never blocks and never fails. `get` waits for an item; once the queue is closed
    and empty it raises the error it was closed with (a lost connection), or
    `StopAsyncIteration` after a clean close, so `async for` ends or raises accordingly.
    Cancelling a `get` loses nothing: items are only taken once the waiter has woken.
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._items: deque[T] = deque()
        self._maxsize = maxsize
        self._wakeup = asyncio.Event()
        self._closed = False
        self._error: BaseException | None = None
        self.dropped = 0
        """Items dropped because the queue was full."""

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, item: T) -> None:
        """Append an item, dropping the oldest when full. Ignored once closed."""
        if self._closed:
            return
        if len(self._items) >= self._maxsize:
            self._items.popleft()
            self.dropped += 1
        self._items.append(item)
        self._wakeup.set()

    def close(self, error: BaseException | None = None) -> None:
        """No more items. Readers drain what is queued, then stop (or raise `error`)."""
        if self._closed:
            return
        self._closed = True
        self._error = error
        self._wakeup.set()

    def get_nowait(self) -> T | None:
        """The next item, or None when there is none right now."""
        return self._items.popleft() if self._items else None

    async def get(self) -> T:
        """Wait for the next item."""
        while not self._items:
            if self._closed:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._items.popleft()

    def __aiter__(self) -> EventQueue[T]:
        return self

    async def __anext__(self) -> T:
        return await self.get()
