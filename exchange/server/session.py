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

Bounds (PROTOCOL.md, "Sessions and limits"), each one enforced where the memory is
taken, never once per turn after the fact:

* **output**: the bytes a session holds -- its ``out`` buffer, the transport's write
  buffer, and the ready replies and events waiting in slots behind an owed reply -- are
  counted on every write; one that would pass ``outbound_buffer`` drops the connection
  before anything is copied. A reply is produced only for a request the session sent,
  so a client that reads is slowed well before that (backpressure, next point); only a
  client that does not read at all, or a stream subscriber that falls behind what
  others produce, reaches the bound.
* **backpressure**: past a high-water mark of held output the session stops being read
  (``pause_reading``) until the transport drains (``resume_writing``); TCP then slows
  the client, nothing is dropped.
* **input per turn**: at most :data:`MAX_LINES_PER_TURN` lines are handled per event
  loop callback; the rest wait (reading paused) for a later turn, so one flooding
  connection cannot stall the others. Lines read but not handled are at most one read
  of the transport plus one partial line (the LineBuffer's own bound).
* **requests in flight**: reading is paused past :data:`MAX_IN_FLIGHT` unanswered
  requests, and resumed when the backlog halves; the rate (token bucket) too.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, cast

from protocol.codec import decode_request, encode, error_reply
from protocol.errors import ProtocolError
from protocol.framing import LineBuffer, LineTooLong
from protocol.messages import Login, Quit

if TYPE_CHECKING:
    from exchange.server.gateway_base import GatewayCore

log = logging.getLogger("exchange.session")

MAX_IN_FLIGHT = 4096
"""Requests a session may have unanswered before the server stops reading from it.
Pipelining clients stay fast below it; a client that floods is slowed by TCP itself."""
RESUME_AT = MAX_IN_FLIGHT // 2

MAX_LINES_PER_TURN = 512
"""Lines one connection may have handled in one event-loop callback. A read of 256 KiB
of junk is ~4,000 lines; handled at once they would hold the loop for tens of
milliseconds while every other client waits. 512 lines are a few milliseconds at most
and still far more than a pipelining trader sends per read, so throughput is unchanged."""

HIGH_WATER_FRACTION = 4
"""Reading stops once a session holds ``outbound_buffer / 4`` bytes of output, and
resumes when the transport has drained to half of that: a quarter of the bound leaves
room for the replies to the requests already in flight, so a client that reads slowly
is slowed, never dropped."""
MAX_HIGH_WATER = 4 * 1024 * 1024
"""Cap of the high-water mark whatever ``outbound_buffer`` is: beyond a few MiB a
bigger socket backlog buys no throughput, only memory."""

MAX_CHUNK = 256 * 1024
"""Output of one turn past which it goes to the socket at once (see ``_write``); a
quarter of ``outbound_buffer`` when that is smaller."""

# Why reading is paused (a bit set); reading resumes when none is left.
IN_FLIGHT: Final = 1  # too many requests unanswered
OUTPUT: Final = 2  # too much output held (backpressure)
TURN: Final = 4  # this turn's line budget is spent; the rest run on a later turn

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
        self.host = "?"
        self.admitted = False  # counted in the gateway's connection limits
        self.lines = LineBuffer()
        self.parked: bytes | LineTooLong | None = None  # a line read, to handle next turn
        self.slots: deque[Slot] = deque()
        self.unrun = 0  # slots whose deferred work has not run yet
        self.held = 0  # bytes of replies/events ready in slots, not yet in `out`
        self.out: list[bytes] = []  # this turn's output, by reference (see hand_over)
        self.out_size = 0
        self.subscriptions: set[tuple[str, str]] = set()
        self.closed = False
        self.advancing = False  # guards _advance against re-entry from a synchronous fulfil
        self.eof = False  # no more input: the peer's EOF, quit, or the login timeout
        self.quit = False  # lines still buffered are ignored (after quit or a timeout)
        self.quitting = False
        self.pause_reasons = 0  # IN_FLIGHT | OUTPUT | TURN
        self.reading = True  # the transport is reading
        self.stopped = False  # shutdown: never read again, but answer what was read
        self.writing_paused = False  # the transport's buffer is over its high-water mark
        self.activity = 0  # requests other than login handled (login timeout)
        self.login_timer: asyncio.TimerHandle | None = None
        limits = gateway.limits
        self.rate = float(limits.rate)
        self.tokens = self.rate
        self.refilled = 0.0
        self.outbound_limit = limits.outbound_buffer
        self.high_water = min(MAX_HIGH_WATER, limits.outbound_buffer // HIGH_WATER_FRACTION)
        self.login_timeout = float(limits.login_timeout)
        self.chunk = min(MAX_CHUNK, max(4096, limits.outbound_buffer // 4))

    # -- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.host = str(peer[0])
            self.peer = f"{peer[0]}:{peer[1]}"
        else:
            self.host = self.peer = str(peer)
        loop = asyncio.get_running_loop()
        self.refilled = loop.time()
        refusal = self.gateway.admit(self)
        if refusal is not None:
            # Over a connection limit: one error line, then close; never a session.
            self.closed = True
            self.transport.write(refusal)
            self.transport.close()
            return
        self.admitted = True
        # The transport pauses writing (pause_writing below) past the high-water mark.
        self.transport.set_write_buffer_limits(high=self.high_water, low=self.high_water // 2)
        if self.login_timeout > 0:
            self.login_timer = loop.call_later(self.login_timeout, self._login_deadline)
        self.gateway.session_opened(self)

    def data_received(self, data: bytes) -> None:
        self.lines.feed(data)
        self._handle_lines()

    def eof_received(self) -> bool:
        # Answer every complete line already read, then close (PROTOCOL.md, Framing).
        self.eof = True
        self.reading = False
        if not self.slots and self.parked is None:
            self.close_after_flush()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed:
            return
        self.closed = True
        if self.login_timer is not None:
            self.login_timer.cancel()
            self.login_timer = None
        self.slots.clear()
        self.held = 0
        self.out = []
        self.out_size = 0
        self.parked = None
        self.gateway.session_closed(self, exc)

    def pause_writing(self) -> None:
        """The transport's write buffer passed the high-water mark: stop reading."""
        self.writing_paused = True
        self._pause(OUTPUT)

    def resume_writing(self) -> None:
        """The transport drained below the low-water mark: read again if nothing else
        is held."""
        self.writing_paused = False
        self._drained()

    # -- input --------------------------------------------------------------------------------
    def _handle_lines(self) -> None:
        """Handle complete lines until there are none, reading is paused, or this turn's
        budget is spent (then the next line is parked and handled on a later turn)."""
        budget = MAX_LINES_PER_TURN
        lines = self.lines
        handle = self.handle_line
        while not self.closed and not self.quit:
            line = self.parked
            if line is not None:
                self.parked = None
            else:
                line = lines.next_line()
                if line is None:
                    break
            if budget == 0 or self.pause_reasons:
                self.parked = line
                if not self.pause_reasons:
                    self._pause(TURN)
                    asyncio.get_running_loop().call_soon(self._next_turn)
                break
            handle(line)
            budget -= 1
        if self.closed:
            return
        # Checked once per batch, not per line (the hot path): a batch is at most
        # MAX_LINES_PER_TURN lines, so a bound is passed by at most one batch's worth.
        if len(self.slots) > MAX_IN_FLIGHT:
            self._pause(IN_FLIGHT)
        if self.pending() > self.high_water:
            self._pause(OUTPUT)
        if self.eof and not self.slots and self.parked is None:
            self.close_after_flush()

    def _next_turn(self) -> None:
        if self.closed or not self.pause_reasons & TURN:
            return
        self.pause_reasons &= ~TURN
        if self.pause_reasons:
            return  # another reason came up meanwhile; clearing it resumes the lines
        self._handle_lines()
        if not self.pause_reasons:
            self._resume_transport()

    def _pause(self, reason: int) -> None:
        self.pause_reasons |= reason
        if self.reading and self.transport is not None:
            self.reading = False
            self.transport.pause_reading()

    def _unpause(self, reason: int) -> None:
        if not self.pause_reasons & reason:
            return
        self.pause_reasons &= ~reason
        if self.pause_reasons or self.closed:
            return
        if self.parked is not None:
            # Lines already read come first, one budget per turn, before reading more.
            self.pause_reasons = TURN
            asyncio.get_running_loop().call_soon(self._next_turn)
        else:
            self._resume_transport()

    def _resume_transport(self) -> None:
        if (not self.reading and not self.eof and not self.stopped and not self.closed
                and self.transport is not None):
            self.reading = True
            self.transport.resume_reading()

    def stop_reading(self) -> None:
        """Shutdown: read nothing more; lines already read are still answered."""
        self.stopped = True
        if self.reading and self.transport is not None and not self.closed:
            self.reading = False
            self.transport.pause_reading()

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
        kind = type(message)
        if kind is Quit:
            # Read nothing after quit, as after EOF: bye is the last reply, and a line
            # sent behind quit must not place an order nobody hears of.
            self.end_input()
        elif kind is not Login:
            self.activity += 1
        self.gateway.dispatch(self, message)

    def end_input(self) -> None:
        """Read and handle nothing more (after quit, a login timeout, too many failed
        logins, a fail-stop): lines read but not handled yet are dropped."""
        self.eof = self.quit = True
        self.parked = None
        if self.reading and self.transport is not None:
            self.reading = False
            self.transport.pause_reading()

    def _take_token(self) -> bool:
        now = asyncio.get_running_loop().time()
        self.tokens = min(self.rate, self.tokens + (now - self.refilled) * self.rate)
        self.refilled = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def _login_deadline(self) -> None:
        """``login_timeout`` after the connection (or the last check) came.

        Closed only if it is still not logged in and did nothing in that time: no
        request but failed logins, and no stream subscription. A market-data client that
        never logs in stays as long as it uses the connection (PROTOCOL.md).
        """
        self.login_timer = None
        if self.closed or self.user is not None or self.quit:
            return
        if self.activity or self.subscriptions:
            self.activity = 0
            self.login_timer = asyncio.get_running_loop().call_later(
                self.login_timeout, self._login_deadline)
            return
        log.warning("session %d (%s) closed: not logged in within %g s",
                    self.id, self.peer, self.login_timeout)
        self.end_input()
        self.reply_now(encode(error_reply(ProtocolError(
            "auth_required", f"login: not logged in within {self.login_timeout:g} s; closing",
            None))))
        self.close_after_flush()

    # -- ordering of output --------------------------------------------------------------------
    def reply_now(self, data: bytes) -> None:
        """A reply ready at once: written now, or queued behind what is still owed."""
        if self.slots:
            self.slots.append(Slot(data))
            self.held += len(data)
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
        if self.closed:
            return
        slot.data = data
        self.held += len(data)
        if not self.advancing and self.slots and self.slots[0] is slot:
            self._advance()

    def push(self, data: bytes) -> None:
        """An event about the user's own orders or alerts: after the replies still
        owed, never before. Like a reply, it is bounded by backpressure (it follows from
        the user's own orders, at most ``max_open_orders`` of them), not dropped."""
        if self.closed:
            return
        if self.slots:
            self.slots.append(Slot(data))
            self.held += len(data)
        else:
            self._write(data)

    def push_stream(self, data: bytes) -> None:
        """A message of a public stream (trades, book, quote), produced by others:
        it cannot be slowed, so a session that would hold more than ``outbound_buffer``
        with it is dropped at once, before anything is copied. A single message bigger
        than the whole bound still goes when nothing else is held."""
        if self.closed:
            return
        size = self.pending()
        if size and size + len(data) > self.outbound_limit:
            self._too_slow()
            return
        if self.slots:
            self.slots.append(Slot(data))
            self.held += len(data)
        else:
            self._write(data)

    def _advance(self) -> None:
        slots = self.slots
        self.advancing = True
        try:
            while slots and not self.closed:
                head = slots[0]
                data = head.data
                if data is None:
                    run = head.run
                    if run is None:
                        break  # waiting for an actor
                    if self.unsent() > self.high_water:
                        break  # runs once the client has read (_drained)
                    head.run = None
                    self.unrun -= 1
                    result = run()
                    if self.closed:
                        break
                    if result is not None:
                        slots.popleft()
                        self._write(result)
                        continue
                    data = head.data
                    if data is None:
                        break  # dispatched; its actor fills it later
                slots.popleft()
                self.held -= len(data)  # counted when it was set, now moves to `out`
                self._write(data)
        finally:
            self.advancing = False
        if self.closed:
            return
        if len(slots) < RESUME_AT:
            self._unpause(IN_FLIGHT)
        if not slots and self.eof and (self.quit or self.parked is None):
            self.close_after_flush()

    # -- output ---------------------------------------------------------------------------------
    def pending(self) -> int:
        """Bytes of output this session holds: what is buffered here, what waits in
        slots behind an owed reply, and what the transport has not sent yet."""
        transport = self.transport
        size = self.out_size + self.held
        if transport is not None:
            size += transport.get_write_buffer_size()
        return size

    def unsent(self) -> int:
        """Bytes written for the client and not yet taken by its socket (what is held
        in slots behind the head is not counted: the head must run to release it)."""
        transport = self.transport
        size = self.out_size
        if transport is not None:
            size += transport.get_write_buffer_size()
        return size

    def _write(self, data: bytes) -> None:
        """Buffer a reply (or a push already checked against the bound) for this turn.

        Replies are not checked against ``outbound_buffer``: the client asked for them,
        and backpressure bounds them instead -- reading stops at the high-water mark,
        so at most the requests already in flight are answered past it, and requests
        the server answers itself wait in their slots until the output has drained.
        """
        if self.closed:
            return
        if not self.out:
            self.gateway.mark_dirty(self)
        self.out.append(data)
        self.out_size += len(data)
        if self.out_size >= self.chunk:
            # A turn that produces this much hands it to the socket now rather than at
            # the end of the turn, so that what the session holds measures what its
            # client has not read, not how much work this turn happened to do.
            self.gateway.flush_early(self)

    def flush(self) -> None:
        """Hand what is buffered to the transport (called once per event-loop turn)."""
        transport = self.transport
        if self.closed or transport is None:
            return
        self.hand_over()
        if not self.writing_paused:
            self._drained()
        if self.quitting and not self.slots and not self.closed:
            transport.close()

    def hand_over(self) -> None:
        """Give ``out`` to the transport (once the gateway has made its records
        durable).

        A client that keeps up (nothing left unsent) gets the turn's output joined, one
        buffer for one send. A client that is behind gets the messages themselves: the
        transport keeps references, not copies, and a stream message is one bytes
        object shared by every subscriber, so twenty subscribers that do not read hold
        one copy of the stream between them, not twenty.
        """
        transport = self.transport
        out = self.out
        if out and transport is not None and not self.closed:
            if len(out) == 1:
                transport.write(out[0])
            elif transport.get_write_buffer_size():
                transport.writelines(out)
            else:
                transport.write(b"".join(out))
            self.out = []
            self.out_size = 0

    def _drained(self) -> None:
        """The output may be under the high-water mark again: run what waited for it
        and read again."""
        if self.closed or self.unsent() > self.high_water:
            return
        slots = self.slots
        if slots and not self.advancing and slots[0].data is None and slots[0].run is not None:
            self._advance()
        if self.pending() <= self.high_water:
            self._unpause(OUTPUT)

    def close_after_flush(self) -> None:
        self.quitting = True
        self.gateway.mark_dirty(self)

    def _too_slow(self) -> None:
        log.warning("session %d (%s) closed: client not reading, output over "
                    "outbound_buffer (%d bytes)%s", self.id, self.peer, self.outbound_limit,
                    " with stream subscriptions" if self.subscriptions else "")
        if self.transport is not None:
            self.transport.abort()
        self.connection_lost(None)
