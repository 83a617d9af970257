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

from exchange.server.frontends import Listener
from exchange.server.frontends.adapter import SessionProtocol
from exchange.server.frontends.fix_session import Acceptor, FixSession
from exchange.server.port import GatewayPort

BACKLOG = 1024
DEFAULT_COMP_ID = "EXCHANGE"


class FixProtocol(SessionProtocol):
    """One connection, served by a :class:`FixSession`."""

    def __init__(self, gateway: GatewayPort, acceptor: Acceptor,
                 loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(FixSession(gateway, gateway.next_session_id(), acceptor, loop))


async def serve(gateway: GatewayPort, listener: Listener) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    acceptor = Acceptor(str(listener.options.get("comp_id", DEFAULT_COMP_ID)),
                        listener.data_dir)
    return await loop.create_server(lambda: FixProtocol(gateway, acceptor, loop),
                                      listener.host, listener.port, reuse_address=True,
                                      backlog=BACKLOG, ssl=listener.ssl)
