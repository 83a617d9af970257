"""The JSON-lines front-end: JSON lines and text commands over TCP, optionally TLS.

Two parts, after uvicorn's protocols: :class:`LinesProtocol`, a thin asyncio adapter that
forwards the transport's callbacks to a sans-IO :class:`~exchange.server.session.Session`,
and :class:`LinesCodec`, the wire format itself, on top of the :mod:`protocol` package
(``LineBuffer`` framing, ``decode_request`` for JSON and text commands, compact JSON out).

The ``ref`` of a request is this codec's: the session keeps it in the request's slot and
:func:`protocol.codec.encode_reply` stamps it on the reply as it encodes it, once.
"""

from __future__ import annotations

import asyncio

from exchange.server.frontends import Listener
from exchange.server.frontends.adapter import SessionProtocol
from exchange.server.port import GatewayPort
from exchange.server.session import Session
from protocol import replies as R
from protocol.codec import decode_request, encode, encode_reply
from protocol.framing import LineBuffer

BACKLOG = 1024
"""Connections the kernel queues before they are accepted (a burst of clients at once)."""


class LinesCodec:
    """JSON lines out, JSON lines and text commands in. One instance serves every
    connection of the front-end, so that a message pushed to many of them is encoded once:
    it remembers the last event it encoded, and pushes of one event come in a row."""

    __slots__ = ("_last_data", "_last_event")

    framer = LineBuffer
    decode = staticmethod(decode_request)
    encode_reply = staticmethod(encode_reply)

    def __init__(self) -> None:
        self._last_event: R.Message | None = None
        self._last_data = b""

    def encode_event(self, event: R.Message) -> bytes:
        if event is self._last_event:
            return self._last_data
        self._last_data = data = encode(event)
        self._last_event = event
        return data


CODEC = LinesCodec()


class LinesProtocol(SessionProtocol):
    """One connection, served by a JSON-lines :class:`Session`."""

    def __init__(self, gateway: GatewayPort, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(Session(gateway, gateway.next_session_id(), CODEC, loop))


async def serve(gateway: GatewayPort, listener: Listener) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: LinesProtocol(gateway, loop), listener.host,
                                    listener.port, reuse_address=True, backlog=BACKLOG,
                                    ssl=listener.ssl)
