"""What one WebSocket connection still has to send: a bounded queue and its writer task.

Stream messages are produced by others and cannot be slowed, so, as on the JSON-lines
front-end, a connection whose unsent messages would pass ``outbound_buffer`` bytes is
closed rather than let its queue grow: a client that does not read is dropped, never
waited for. A message is one ``bytes`` object shared by every connection it goes to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

from aiohttp import WSMsgType, web

log = logging.getLogger("exchange.http")


class Outbox:
    """The queue of one WebSocket; ``put`` never blocks, ``run`` writes it out."""

    def __init__(self, ws: web.WebSocketResponse, limit: int, peer: str) -> None:
        self.ws = ws
        self.limit = limit
        self.peer = peer
        self.queue: deque[bytes] = deque()
        self.size = 0
        self.closed = False
        self.sent = 0
        self._wake = asyncio.Event()

    def put(self, data: bytes) -> None:
        if self.closed:
            return
        if self.size and self.size + len(data) > self.limit:
            log.warning("WebSocket %s closed: not reading, over outbound_buffer (%d bytes)",
                        self.peer, self.limit)
            self.close()
            return
        self.queue.append(data)
        self.size += len(data)
        self._wake.set()

    def close(self) -> None:
        self.closed = True
        self.queue.clear()
        self.size = 0
        self._wake.set()

    async def run(self) -> None:
        """Write what is queued until closed; then close the WebSocket."""
        ws = self.ws
        queue = self.queue
        try:
            while not self.closed:
                await self._wake.wait()
                self._wake.clear()
                while queue and not self.closed:
                    data = queue.popleft()
                    self.size -= len(data)
                    await ws.send_frame(data, WSMsgType.TEXT)
                    self.sent += 1
        except (ConnectionError, RuntimeError):
            self.closed = True
        finally:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.close()
