"""Front-ends: one module per wire format, each an asyncio adapter plus a codec.

A front-end turns its wire into the request messages of :mod:`protocol.messages`, hands
them to the gateway through :class:`~exchange.server.port.GatewayPort`, and writes the
reply and event messages it gets back in its own format. The server starts the listeners
it is given by front-end name (:class:`Listener`); :data:`FRONTENDS` maps each name to its
module, after the way uvicorn names its HTTP protocol implementations. Adding a front-end
is writing a module here that defines ``serve`` (see :class:`Serve`) and naming it below.

See docs/FRONTENDS.md.
"""

from __future__ import annotations

import importlib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

from exchange.server.config import ApiKey
from exchange.server.port import GatewayPort

FRONTENDS: dict[str, str] = {
    "lines": "exchange.server.frontends.lines",
    "fix": "exchange.server.frontends.fix",
    "http": "exchange.server.frontends.http",
}
"""Front-end name -> module. ``lines``: JSON lines and text commands over TCP (TLS too);
``fix``: a FIX 4.4 acceptor (docs/FIX.md); ``http``: REST and WebSocket in the shape of
Binance's spot API, and a live web page (docs/HTTP.md)."""


@dataclass(frozen=True, slots=True)
class Listener:
    """One listening socket: which front-end speaks on it, and where."""

    frontend: str = "lines"
    host: str = "127.0.0.1"
    port: int = 7878
    ssl: ssl.SSLContext | None = None
    data_dir: Path | None = None
    """The server's data directory, for a front-end that keeps state of its own there
    (FIX: sequence numbers and sent messages); None when the server has none."""
    options: dict[str, str] = field(default_factory=dict, hash=False)
    """The front-end's settings from the config (FIX: ``comp_id``)."""
    api_keys: tuple[ApiKey, ...] = ()
    """The users' API keys, for a front-end that signs requests (``http``); the server
    fills them in from its config."""


class Listening(Protocol):
    """What ``serve`` returns: what the server needs of a listener once it is bound.
    ``asyncio.Server`` is one; a front-end on a web framework wraps its runner."""

    @property
    def sockets(self) -> Sequence[Any]:
        """The bound sockets (``getsockname()`` gives the address a port 0 became)."""
    def close(self) -> None:
        """Stop accepting connections."""
    async def wait_closed(self) -> None:
        """Return once the listener is closed."""


class Serve(Protocol):
    """What a front-end module's ``serve`` is: start listening, return the listener."""

    async def __call__(self, gateway: GatewayPort, listener: Listener) -> Listening: ...


def frontend(name: str) -> Serve:
    """The ``serve`` function of the front-end called ``name``; KeyError if none is."""
    module = importlib.import_module(FRONTENDS[name])
    return cast(Serve, module.serve)
