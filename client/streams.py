"""`Stream`: one `(channel, symbol)` stream's messages, read on their own.

A stream needs only a few things of its `Client`, named by the `StreamHost` protocol here,
so this module does not import `client.client` (which imports it): no import circle.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Protocol

from client.errors import ExchangeError
from client.events import Event, EventQueue, StreamKey
from protocol.fields import Channel

__all__ = ["Stream", "StreamHost"]

log = logging.getLogger(__name__)


class StreamHost(Protocol):
    """What a `Stream` uses of its client (a `Client` is one)."""

    _max_events: int

    @property
    def is_closed(self) -> bool: ...

    def _add_stream(self, stream: Stream) -> None: ...

    def _remove_stream(self, stream: Stream) -> bool: ...

    async def subscribe(self, channel: Channel, symbol: str) -> object: ...

    async def unsubscribe(self, channel: Channel, symbol: str) -> object: ...


class Stream(EventQueue[Event]):
    """The messages of one `(channel, symbol)` stream; see `Client.stream`.

    `trades` yields `TradeEvent`; `book` yields one `BookReply` snapshot and then
    `BookUpdate`s (compare `seq`: it rises by one per change, so a gap means lost updates,
    and a new snapshot after a reconnect resets the book); `quote` yields `QuoteReply`.
    Bounded like the events queue: when full the oldest message is dropped (`dropped`).
    """

    def __init__(self, client: StreamHost, channel: Channel, symbol: str) -> None:
        super().__init__(client._max_events)
        self._client = client
        self.key: StreamKey = (channel, symbol)

    async def __aenter__(self) -> Stream:
        self._client._add_stream(self)
        try:
            await self._client.subscribe(*self.key)
        except BaseException:
            self._client._remove_stream(self)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
        if self._client._remove_stream(self) and not self._client.is_closed:
            try:
                await self._client.unsubscribe(*self.key)
            except ExchangeError as error:
                log.debug("unsubscribe %s on leaving a stream failed: %s", self.key, error)
