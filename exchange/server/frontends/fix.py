"""The FIX 4.4 front-end: an acceptor for standard trading software.

Three parts, as for JSON lines (docs/FRONTENDS.md): :class:`FixProtocol`, a thin asyncio
adapter that forwards its transport's callbacks to a sans-IO
:class:`~exchange.server.frontends.fix_session.FixSession` (the FIX session level over the
shared session); the codec in :mod:`~exchange.server.frontends.fix_codec` (FIX
application messages <-> the protocol's messages) over :mod:`fix_wire` (framing,
checksums); and :func:`serve`. The rules of engagement are docs/FIX.md.

The listener's ``options`` may give ``comp_id`` (the acceptor's CompID, default
``EXCHANGE``); with ``data_dir`` each session's sequence numbers and sent messages are
kept under ``<data-dir>/fix/`` (see :mod:`fix_store`).
"""

from __future__ import annotations

import asyncio
from typing import cast

from exchange.server.frontends import Listener
from exchange.server.frontends.fix_session import Acceptor, FixSession
from exchange.server.port import GatewayPort
from exchange.server.session import Transport

BACKLOG = 1024
DEFAULT_COMP_ID = "EXCHANGE"


class FixProtocol(asyncio.Protocol):
    """One connection: hands every callback of its transport to the FIX session."""

    def __init__(self, gateway: GatewayPort, acceptor: Acceptor,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.session = FixSession(gateway, gateway.next_session_id(), acceptor, loop)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.session.connection_made(cast(Transport, transport))

    def data_received(self, data: bytes) -> None:
        self.session.data_received(data)

    def eof_received(self) -> bool:
        return self.session.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.session.connection_lost(exc)

    def pause_writing(self) -> None:
        self.session.pause_writing()

    def resume_writing(self) -> None:
        self.session.resume_writing()


async def serve(gateway: GatewayPort, listener: Listener) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    acceptor = Acceptor(str(listener.options.get("comp_id", DEFAULT_COMP_ID)),
                        listener.data_dir)
    return await loop.create_server(lambda: FixProtocol(gateway, acceptor, loop),
                                      listener.host, listener.port, reuse_address=True,
                                      backlog=BACKLOG, ssl=listener.ssl)
