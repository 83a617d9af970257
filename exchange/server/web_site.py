"""An aiohttp application served as one of the server's listeners.

Both aiohttp front-ends (the HTTP API with its page, and the metrics listener) start an
application the same way and are stopped the same way; this is that way, once.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from typing import Any

from aiohttp import web

SHUTDOWN_TIMEOUT = 1.0
"""Seconds aiohttp gives open requests at a stop before it closes them."""


class SiteListener:
    """A started aiohttp site as the server sees a listener (``frontends.Listening``'s
    shape). A subclass that has more to stop does it in :meth:`closing`."""

    def __init__(self, runner: web.AppRunner, server: asyncio.AbstractServer) -> None:
        self.runner = runner
        self.server = server
        self._closed = False

    @property
    def sockets(self) -> Sequence[Any]:
        return getattr(self.server, "sockets", ())

    def close(self) -> None:
        self.server.close()

    async def wait_closed(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.closing()

    async def closing(self) -> None:
        """Stop the application (once, from ``wait_closed``)."""
        await self.runner.cleanup()


async def start_site(app: web.Application, host: str, port: int, *, backlog: int = 128,
                     ssl_context: ssl.SSLContext | None = None
                     ) -> tuple[web.AppRunner, asyncio.AbstractServer]:
    """Serve ``app`` on ``host:port`` (0: a free port): its runner and its server."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT,
                           handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True, backlog=backlog,
                       ssl_context=ssl_context)
    await site.start()
    server = site._server  # aiohttp keeps the asyncio server it made here (uvloop's own
    assert server is not None  # class, not an asyncio.AbstractServer subclass)
    return runner, server
