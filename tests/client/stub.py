"""A scriptable in-process server for the client's own mechanics (pairing, cancel safety,
timeouts, loss and reconnect), where the timing must be exact rather than whatever the
real server happens to do. It speaks through `protocol/` like everything else."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from msgspec import Struct

from protocol import messages as m
from protocol import replies as r
from protocol.codec import decode_request, encode
from protocol.errors import ProtocolError
from protocol.framing import LineBuffer

TS = "2026-11-22T09:30:00.000000Z"


class StubSession:
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.requests: list[m.RequestBase] = []

    def send(self, message: Struct) -> None:
        self.writer.write(encode(message))

    def send_raw(self, line: bytes) -> None:
        self.writer.write(line)

    def close(self) -> None:
        self.writer.close()


Handler = Callable[[m.RequestBase, StubSession], Awaitable[None]]


def default_reply(request: m.RequestBase) -> Struct:
    """The obvious answer to the few ops the stub knows."""
    match request:
        case m.Ping():
            return r.Pong(ts=TS, ref=request.ref)
        case m.Login(user=user):
            return r.Welcome(user=user, name=user.title(), ref=request.ref)
        case m.Subscribe(channel=channel, symbol=symbol):
            return r.Subscribed(channel=channel, symbol=symbol, ref=request.ref)
        case m.Unsubscribe(channel=channel, symbol=symbol):
            return r.Unsubscribed(channel=channel, symbol=symbol, ref=request.ref)
        case m.Quit():
            return r.Bye(ref=request.ref)
        case _:
            return r.Error(code="unknown_op", message="stub", ref=request.ref)


async def answer(request: m.RequestBase, session: StubSession) -> None:
    session.send(default_reply(request))


class StubServer:
    """Listens on 127.0.0.1, port 0 (or a given port, to come back after `stop`)."""

    def __init__(self, handler: Handler = answer) -> None:
        self.handler = handler
        self.sessions: list[StubSession] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> StubServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening and drop every session (a crash, as the client sees it)."""
        assert self._server is not None
        self._server.close()
        for session in self.sessions:
            session.writer.transport.abort()
        await self._server.wait_closed()

    @property
    def requests(self) -> list[m.RequestBase]:
        return [req for session in self.sessions for req in session.requests]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = StubSession(writer)
        self.sessions.append(session)
        lines = LineBuffer()
        try:
            while data := await reader.read(65536):
                lines.feed(data)
                while (line := lines.next_line()) is not None:
                    request = decode_request(line)
                    assert request is not None and not isinstance(request, ProtocolError)
                    session.requests.append(request)
                    await self.handler(request, session)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
