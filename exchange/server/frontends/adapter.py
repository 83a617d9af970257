"""The asyncio side of a front-end whose connection logic is a sans-IO session.

Every socket front-end (JSON lines, FIX) is the same thin adapter: each callback of the
transport goes to the session unchanged. It is written once here; a front-end's protocol
class only says which session it makes.
"""

from __future__ import annotations

import asyncio
from typing import cast

from exchange.server.session import Session, Transport


class SessionProtocol(asyncio.Protocol):
    """One connection: hands every callback of its transport to its session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
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
