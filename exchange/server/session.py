"""One TCP connection: a thin asyncio Protocol over the sans-IO protocol package.

Bytes go into a :class:`~protocol.framing.LineBuffer`; each complete line is decoded
and handed to the gateway. What goes out is ordered by a small reorder buffer of
*slots*, one per request, so that:

* a session gets its replies in the order it sent its requests (stronger than the
  protocol's per-symbol order, and what a person typing at ``nc`` expects);
* a request answered by the server itself (``balance``, ``book``, ``orders``...) runs
  only once every earlier request of this session is answered, so it sees their
  effects; a request for a symbol's actor waits only while such a local request is
  ahead of it (the actors' FIFO queues keep per-symbol order from there);
* an event or stream message joins the queue behind the replies still owed, so an
  event about an order can never overtake the reply that accepted it.

Bounds: the line length (LineBuffer), the number of requests in flight (reading is
paused past it, and resumed when the backlog halves), the rate (token bucket) and the
bytes queued to a client that does not read (past ``outbound_buffer`` the connection
is dropped rather than letting one slow reader grow the server's memory).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from protocol.codec import decode_request, encode, error_reply
from protocol.errors import ProtocolError
from protocol.framing import LineBuffer, LineTooLong
from protocol.messages import Quit

if TYPE_CHECKING:
    from exchange.server.gateway_base import GatewayCore

log = logging.getLogger("exchange.session")

MAX_IN_FLIGHT = 4096
"""Requests a session may have unanswered before the server stops reading from it.
Pipelining clients stay fast below it; a client that floods is slowed by TCP itself."""
RESUME_AT = MAX_IN_FLIGHT // 2

Run = Callable[[], bytes | None]
"""Deferred work of a slot: returns the reply bytes, or None once it has been sent to
an actor that will fill the slot later."""


class Slot:
    """One request's place in the session's output order."""

    __slots__ = ("data", "run")

    def __init__(self, data: bytes | None = None, run: Run | None = None) -> None:
        self.data = data
        self.run = run


class Session(asyncio.Protocol):
    """A client connection. All methods run on the event loop thread."""

    def __init__(self, gateway: GatewayCore, session_id: int) -> None:
        self.gateway = gateway
        self.id = session_id
        self.user: str | None = None
        self.admin = False
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.lines = LineBuffer()
        self.slots: deque[Slot] = deque()
        self.unrun = 0  # slots whose deferred work has not run yet
        self.out = bytearray()
        self.subscriptions: set[tuple[str, str]] = set()
        self.closed = False
        self.advancing = False  # guards _advance against re-entry from a synchronous fulfil
        self.eof = False
        self.quitting = False
        self.paused = False
        limits = gateway.limits
        self.rate = float(limits.rate)
        self.tokens = self.rate
        self.refilled = 0.0
        self.outbound_limit = limits.outbound_buffer

    # -- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.refilled = asyncio.get_running_loop().time()
        self.gateway.session_opened(self)

    def data_received(self, data: bytes) -> None:
        lines = self.lines
        lines.feed(data)
        handle = self.handle_line
        while not self.closed and not self.eof:
            line = lines.next_line()
            if line is None:
                break
            handle(line)
        if len(self.slots) > MAX_IN_FLIGHT and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        # Answer every complete line already read, then close (PROTOCOL.md, Framing).
        self.eof = True
        if not self.slots:
            self.close_after_flush()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed:
            return
        self.closed = True
        self.slots.clear()
        self.out.clear()
        self.gateway.session_closed(self, exc)

    # -- input --------------------------------------------------------------------------------
    def handle_line(self, line: bytes | LineTooLong) -> None:
        message = decode_request(line)  # never raises for what a peer sends
        if message is None:
            return
        if self.rate and not self._take_token():
            ref = getattr(message, "ref", None)
            self.reply_now(encode(error_reply(ProtocolError(
                "rate_limited", f"rate: more than {self.rate:g} requests per second", ref))))
            return
        if isinstance(message, ProtocolError):
            self.reply_now(encode(error_reply(message)))
            return
        if type(message) is Quit:
            # Read nothing after quit, as after EOF: bye is the last reply, and a line
            # sent behind quit must not place an order nobody hears of.
            self.eof = True
            if self.transport is not None:
                self.transport.pause_reading()
        self.gateway.dispatch(self, message)

    def _take_token(self) -> bool:
        now = asyncio.get_running_loop().time()
        self.tokens = min(self.rate, self.tokens + (now - self.refilled) * self.rate)
        self.refilled = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    # -- ordering of output --------------------------------------------------------------------
    def reply_now(self, data: bytes) -> None:
        """A reply ready at once: written now, or queued behind what is still owed."""
        if self.slots:
            self.slots.append(Slot(data))
        else:
            self._write(data)

    def local(self, work: Callable[[], bytes]) -> None:
        """A request the server answers itself, once every earlier one is answered."""
        if self.slots:
            self.slots.append(Slot(run=work))
            self.unrun += 1
        else:
            self._write(work())

    def routed(self, dispatch: Callable[[Slot], None]) -> None:
        """A request for an actor: sent now, unless a local request is still ahead of it."""
        if self.unrun:
            self._defer(dispatch)
        else:
            slot = Slot()
            self.slots.append(slot)
            dispatch(slot)

    def after_earlier(self, dispatch: Callable[[Slot], None]) -> None:
        """A request for actors that must see every earlier request of this session done
        (``close_market``): sent once they are all answered, later ones wait behind it."""
        slot = self._defer(dispatch)
        if self.slots[0] is slot and not self.advancing:
            self._advance()

    def _defer(self, dispatch: Callable[[Slot], None]) -> Slot:
        """Queue a dispatch to run when its slot reaches the head of the output order."""
        slot = Slot()

        def run() -> None:
            dispatch(slot)

        slot.run = run
        self.slots.append(slot)
        self.unrun += 1
        return slot

    def open_slot(self) -> Slot:
        slot = Slot()
        self.slots.append(slot)
        return slot

    def fulfil(self, slot: Slot, data: bytes) -> None:
        """An actor's reply for ``slot``; releases everything now at the head."""
        slot.data = data
        if not self.advancing and self.slots and self.slots[0] is slot:
            self._advance()

    def push(self, data: bytes) -> None:
        """An event or stream message: after the replies still owed, never before."""
        if self.closed:
            return
        if self.slots:
            self.slots.append(Slot(data))
            if len(self.slots) > 4 * MAX_IN_FLIGHT:
                self._too_slow()
        else:
            self._write(data)

    def _advance(self) -> None:
        slots = self.slots
        self.advancing = True
        try:
            while slots:
                head = slots[0]
                if head.data is None:
                    run = head.run
                    if run is None:
                        break  # waiting for an actor
                    head.run = None
                    self.unrun -= 1
                    result = run()
                    if result is not None:
                        head.data = result
                    elif head.data is None:
                        break  # dispatched; its actor fills it later
                slots.popleft()
                self._write(head.data)
        finally:
            self.advancing = False
        if self.paused and len(slots) < RESUME_AT and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        if not slots and self.eof:
            self.close_after_flush()

    # -- output ---------------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        if self.closed:
            return
        out = self.out
        if not out:
            self.gateway.mark_dirty(self)
        out += data
        # Not checked against outbound_limit here: what one turn produces says nothing
        # about whether the client reads. flush() checks what the socket would not take.

    def flush(self) -> None:
        """Hand what is buffered to the transport (called once per event-loop turn)."""
        transport = self.transport
        if self.closed or transport is None:
            return
        if self.out:
            transport.write(bytes(self.out))
            self.out.clear()
            if transport.get_write_buffer_size() > self.outbound_limit:
                self._too_slow()
                return
        if self.quitting and not self.slots:
            transport.close()

    def close_after_flush(self) -> None:
        self.quitting = True
        self.gateway.mark_dirty(self)

    def _too_slow(self) -> None:
        log.warning("session %d (%s) closed: client not reading, outbound buffer over %d bytes",
                    self.id, self.peer, self.outbound_limit)
        if self.transport is not None:
            self.transport.abort()
        self.connection_lost(None)
