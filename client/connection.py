"""One TCP connection to the server: write requests, read lines, pair replies with requests.

This is the I/O boundary. Everything the operating system can throw (`OSError`, EOF,
a reset in the middle of a write) is turned into `ConnectionClosed` here.

Pairing: every request is written with a unique integer `ref`, and a future waiting for
that ref is registered *before* the line is written. One reader task feeds what it reads
into a `LineBuffer`, decodes each line with `decode_reply`, and hands a reply to the future
registered for its ref; a message without a ref is an event and goes to `on_event`.

Cancel safety comes from the refs, not from ordering: a caller that gives up (timeout,
cancellation) drops its future, and the late reply finds no future for its ref and is
discarded. It can never be handed to the next caller, which is waiting on another ref.
Writing is synchronous (`StreamWriter.write` puts the whole line in the transport's buffer),
so a cancelled caller can never leave half a line on the wire either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl as ssl_module
from collections.abc import Callable
from typing import Final

import msgspec
from msgspec import Struct

from client.errors import ConnectFailed, ConnectionClosed, ProtocolViolation
from client.events import EVENT_TYPES, Event
from protocol.codec import decode_reply, encode
from protocol.framing import LineBuffer, LineTooLong
from protocol.messages import RequestBase
from protocol.replies import Reply, ReplyBase

__all__ = ["DEFAULT_MAX_LINE", "Connection"]

log = logging.getLogger(__name__)

READ_SIZE: Final = 256 * 1024
"""Bytes asked of the socket per read: large reads keep the per-line cost low when the
server answers a burst of pipelined requests."""

DEFAULT_MAX_LINE: Final = 64 * 1024 * 1024
"""The longest line accepted from the server. Requests are capped at 64 KiB, but replies
can be far longer (a 10,000-level book, a long order list); the cap only keeps a broken
server from making the client buffer without bound."""


class _RefProbe(Struct):
    """What an undecodable line still tells: its ref, so its caller hears about it."""

    ref: int | str | None = None


_probe_decoder: Final = msgspec.json.Decoder(_RefProbe)


class Connection:
    """An open connection and its reader task. Use `Connection.open`."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        on_event: Callable[[Event], None],
        on_lost: Callable[[Connection, BaseException | None], None],
        max_line: int = DEFAULT_MAX_LINE,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._on_event = on_event
        self._on_lost = on_lost
        self._lines = LineBuffer(max_line)
        self._pending: dict[int, asyncio.Future[Reply]] = {}
        self._open = True
        self._lost = asyncio.Event()
        self._reader_task = asyncio.create_task(self._read_loop(), name="exchange-client-reader")

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        *,
        on_event: Callable[[Event], None],
        on_lost: Callable[[Connection, BaseException | None], None],
        max_line: int = DEFAULT_MAX_LINE,
        ssl: ssl_module.SSLContext | bool | None = None,
        server_hostname: str | None = None,
    ) -> Connection:
        """Open a connection and start reading. Raises `ConnectFailed`.

        `ssl`: None or False for plain TCP; True for TLS verified against the system's
        certificate authorities; or an `ssl.SSLContext` (for example one that trusts a
        private CA). `server_hostname`: the name the certificate must carry, when it is
        not `host`.
        """
        try:
            reader, writer = await asyncio.open_connection(
                host, port, limit=READ_SIZE, ssl=ssl or None,
                server_hostname=server_hostname if ssl else None)
        except OSError as exc:  # ssl.SSLError (a failed handshake) is an OSError
            raise ConnectFailed(f"cannot connect to {host}:{port}: {exc}") from exc
        return cls(reader, writer, on_event=on_event, on_lost=on_lost, max_line=max_line)

    @property
    def is_open(self) -> bool:
        """False once the connection is lost or closed; it never reopens."""
        return self._open

    @property
    def in_flight(self) -> int:
        """Requests written and still waiting for their reply."""
        return len(self._pending)

    async def wait_lost(self) -> None:
        """Return once the connection is lost or closed."""
        await self._lost.wait()

    # --- requests -----------------------------------------------------------------------

    def send(self, request: RequestBase, ref: int) -> asyncio.Future[Reply]:
        """Write `request` with `ref` and return the future its reply will resolve.

        Synchronous on purpose: the future is registered and the whole line handed to the
        transport with no await in between. The caller owns the future and must `forget`
        the ref if it stops waiting. Raises `ConnectionClosed` (nothing was sent) when the
        connection is already closing.
        """
        if not self._open or self._writer.transport.is_closing():
            raise ConnectionClosed("connection is closed")
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[ref] = future
        # A copy with the ref: the caller's Struct is left as it was, free to be sent again.
        self._writer.write(encode(msgspec.structs.replace(request, ref=ref)))
        return future

    def forget(self, ref: int) -> None:
        """Stop waiting for `ref`: its reply, if it ever comes, will be discarded."""
        self._pending.pop(ref, None)

    async def drain(self) -> None:
        """Wait while the transport's write buffer is above its high-water mark."""
        try:
            await self._writer.drain()
        except (OSError, RuntimeError) as exc:
            # RuntimeError: a transport closed under our feet ("handler is closed").
            raise ConnectionClosed(f"connection lost while writing: {exc}") from exc

    # --- reading ------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        error: BaseException | None = None
        try:
            while True:
                data = await self._reader.read(READ_SIZE)
                if not data:
                    break  # EOF: the server closed its side
                lines = self._lines
                lines.feed(data)
                while (line := lines.next_line()) is not None:
                    self._handle_line(line)
        except OSError as exc:
            error = exc
        except asyncio.CancelledError:
            pass  # close(): the reason is set there
        finally:
            self._mark_lost(error)

    def _handle_line(self, line: bytes | LineTooLong) -> None:
        if isinstance(line, LineTooLong):
            log.warning("discarded a line from the server longer than the client's limit")
            return
        if not line.strip():
            return
        try:
            message = decode_reply(line)
        except msgspec.DecodeError as exc:
            self._undecodable(line, exc)
            return
        ref = message.ref if isinstance(message, ReplyBase) else None
        if ref is None:
            if isinstance(message, EVENT_TYPES):
                self._on_event(message)
            else:
                log.warning("unsolicited message from the server: %r", message)
            return
        future = self._pending.pop(ref, None) if isinstance(ref, int) else None
        if future is None:
            log.debug("discarded the late reply to ref %r", ref)
            return
        if not future.done():
            future.set_result(message)

    def _undecodable(self, line: bytes, exc: msgspec.DecodeError) -> None:
        try:
            ref = _probe_decoder.decode(line).ref
        except msgspec.DecodeError:
            ref = None
        future = self._pending.pop(ref, None) if isinstance(ref, int) else None
        shown = line[:200]
        if future is None:
            log.warning("undecodable line from the server (%s): %r", exc, shown)
        elif not future.done():
            future.set_exception(ProtocolViolation(f"invalid reply from the server: {exc}"))

    # --- closing ------------------------------------------------------------------------

    def _mark_lost(self, error: BaseException | None) -> None:
        if not self._open:
            return
        self._open = False
        self._lost.set()
        self._writer.close()
        reason = "connection closed by the server" if error is None else f"connection lost: {error}"
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                closed = ConnectionClosed(reason)
                closed.__cause__ = error
                future.set_exception(closed)
        self._on_lost(self, error)

    async def close(self) -> None:
        """Close the connection; requests still waiting fail with `ConnectionClosed`."""
        if self._open:
            self._open = False
            self._lost.set()
            pending, self._pending = self._pending, {}
            for future in pending.values():
                if not future.done():
                    future.set_exception(ConnectionClosed("connection closed by the client"))
            self._writer.close()
        self._reader_task.cancel()
        await asyncio.wait([self._reader_task])  # (never raises the task's error)
        with contextlib.suppress(OSError, RuntimeError):  # already gone: that is the goal
            await self._writer.wait_closed()
