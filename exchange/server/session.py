"""One client connection's logic, sans-IO: bytes in, request messages to the gateway,
reply and event messages out as bytes, through a transport-like object.

Nothing here does I/O or imports asyncio: a front-end (``exchange.server.frontends``)
gives the session its transport (what asyncio's transports offer: write, pause_reading,
get_write_buffer_size...), a clock (time, call_soon, call_later: the event loop) and its
codec (a framer, bytes -> request messages, messages -> bytes), and forwards the
transport's callbacks. Tests drive it with fakes of all three.

Bytes go into the codec's framer; each complete frame (for JSON lines, a line) is
decoded and handed to the gateway. What goes out is ordered by a small reorder buffer of
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

* **state**: a :class:`State`, moved only by :meth:`Session.set_state`, which refuses a
  move :data:`TRANSITIONS` does not hold (as ``exchange.core.orders`` does for orders).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from enum import Enum
from typing import Any, Final, Protocol

from exchange.core.errors import InvariantError
from exchange.server.port import Answer, GatewayPort, Run, Slot
from protocol import replies as R
from protocol.codec import error_reply
from protocol.errors import ProtocolError
from protocol.messages import Login, Quit

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


class State(Enum):
    """Where a connection is in its life. Flow control (why reading is paused) is not a
    state but a set of reasons beside it: any state that reads can be paused."""

    NEW = "new"
    """Built, the connection not made yet."""
    REFUSED = "refused"
    """Over a connection limit: its one error line written, closed, never a session."""
    OPEN = "open"
    """Reading and answering."""
    STOPPED = "stopped"
    """Shutdown: nothing more is read; what was read is still handled and answered."""
    DRAINING = "draining"
    """The peer's EOF: every complete line read is still handled, then the close."""
    ENDED = "ended"
    """Input ended (quit, a login timeout, too many failed logins, a fail-stop): lines
    read but not handled are dropped; what is owed is still answered."""
    CLOSING = "closing"
    """Closed once everything owed has been written. Nothing more is handled."""
    CLOSED = "closed"
    """The connection is gone (closed, lost or dropped); nothing more is written."""


TRANSITIONS: Final[dict[State, frozenset[State]]] = {
    State.NEW: frozenset({State.OPEN, State.REFUSED}),
    State.OPEN: frozenset({State.STOPPED, State.DRAINING, State.ENDED, State.CLOSED}),
    State.STOPPED: frozenset({State.DRAINING, State.ENDED, State.CLOSED}),
    State.DRAINING: frozenset({State.ENDED, State.CLOSING, State.CLOSED}),
    State.ENDED: frozenset({State.CLOSING, State.CLOSED}),
    State.CLOSING: frozenset({State.CLOSED}),
    State.REFUSED: frozenset(),
    State.CLOSED: frozenset(),
}
"""The moves a session may make. A close is only ever asked for once input has ended
(EOF, quit, a timeout): so CLOSING is reached from DRAINING or ENDED only."""

_EOF_STATES: Final = frozenset({State.DRAINING, State.ENDED, State.CLOSING})
"""No more input will be read."""
_QUIT_STATES: Final = frozenset({State.ENDED, State.CLOSING})
"""No more input will be handled (what is buffered is dropped)."""


class IllegalSessionMove(InvariantError):
    """A session was asked to move between two states the table does not link."""

    def __init__(self, session_id: int, old: State, new: State) -> None:
        super().__init__(f"session {session_id}: state may not move from {old.value} "
                         f"to {new.value}")
        self.session_id = session_id
        self.old = old
        self.new = new


class Transport(Protocol):
    """What a session calls on its connection: the part of ``asyncio.Transport`` used."""

    def get_extra_info(self, name: str, default: Any = None) -> Any: ...
    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None
                                ) -> None: ...
    def write(self, data: bytes) -> None: ...
    def writelines(self, list_of_data: list[bytes]) -> None: ...
    def get_write_buffer_size(self) -> int: ...
    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """Time and deferred calls: the event loop, or a test's fake of it."""

    def time(self) -> float: ...
    def call_soon(self, callback: Callable[[], object]) -> Any: ...
    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer: ...


class Framer(Protocol):
    """Splits the bytes read into frames (a line, a FIX message, a WebSocket message);
    bounded whatever arrives (see :class:`protocol.framing.LineBuffer`)."""

    def feed(self, data: bytes) -> None: ...
    def next_line(self) -> Any:
        """The next complete frame, or None when more data is needed."""


class Codec(Protocol):
    """A front-end's wire format: frames to request messages, messages to bytes."""

    def framer(self) -> Framer: ...
    def decode(self, frame: Any) -> Any:
        """A request message, a :class:`ProtocolError` (answered with an error, nothing
        else happens), or None (a frame that asks for nothing, such as a blank line)."""
    def encode_reply(self, reply: Any, ref: Any) -> bytes:
        """A reply to the request whose correlation id is ``ref`` (the slot's)."""
    def encode_event(self, event: Any) -> bytes:
        """A pushed message; the same message pushed to many sessions in a row is
        encoded once (the codec keeps the last one)."""


class Session:
    """A client connection's logic. All methods run on the event loop thread."""

    frontend = "lines"
    """The front-end's name, for the metrics (a subclass of another front-end says its own)."""
    hears_placements = False
    """Not told of orders placed on the user's other sessions (see SessionPort)."""
    second_factor = False
    """Logins of users with two-factor login on need their one-time code."""

    def __init__(self, gateway: GatewayPort, session_id: int, codec: Codec,
                 clock: Clock) -> None:
        self.gateway = gateway
        self.id = session_id
        self.codec = codec
        self.clock = clock
        self._decode = codec.decode
        self._encode_reply = codec.encode_reply
        self._encode_event = codec.encode_event
        self.state = State.NEW
        # Flags derived from the state (set_state keeps them), read on the hot paths.
        self.closed = False  # REFUSED or CLOSED
        self.eof = False  # no more input will be read
        self.quit = False  # no more input will be handled
        self.closing = False  # CLOSING: close once what is owed is written
        self.user: str | None = None
        self.admin = False
        self.transport: Transport | None = None
        self.peer = "?"
        self.host = "?"
        self.lines = codec.framer()
        self.parked: Any = None  # a frame read, to handle next turn
        self.ref: Any = None  # the ref of the request being dispatched (for its slots)
        # The metrics (see exchange.server.metrics): the request being dispatched's type
        # and when the read that brought it arrived, kept in its slots. An error reply
        # is counted by op and code as it is given; a reply's arrival time joins `timed`
        # as it joins `out`, and the latencies are taken when `out` is handed over.
        self.op: type[Any] | None = None
        self.arrived = 0.0
        self.timed: list[float] = []
        self.metrics = metrics = gateway.metrics
        self._now = metrics.clock
        self.slots: deque[Slot] = deque()
        self.unrun = 0  # slots whose deferred work has not run yet
        self.held = 0  # bytes of replies/events ready in slots, not yet in `out`
        self.out: list[bytes] = []  # this turn's output, by reference (see hand_over)
        self.out_size = 0
        self.subscriptions: set[tuple[str, str]] = set()
        self.advancing = False  # guards _advance against re-entry from a synchronous fulfil
        self.pause_reasons = 0  # IN_FLIGHT | OUTPUT | TURN
        self.reading = True  # the transport is reading
        self.writing_paused = False  # the transport's buffer is over its high-water mark
        self.activity = 0  # requests other than login handled (login timeout)
        self.login_timer: Timer | None = None
        limits = gateway.limits
        self.rate = float(limits.rate)
        self.tokens = self.rate
        self.refilled = 0.0
        self.outbound_limit = limits.outbound_buffer
        self.high_water = min(MAX_HIGH_WATER, limits.outbound_buffer // HIGH_WATER_FRACTION)
        self.login_timeout = float(limits.login_timeout)
        self.chunk = min(MAX_CHUNK, max(4096, limits.outbound_buffer // 4))

    # -- state ----------------------------------------------------------------------------
    def set_state(self, new: State) -> None:
        """Move to ``new``, or raise IllegalSessionMove if the table has no such move."""
        old = self.state
        if new not in TRANSITIONS[old]:
            raise IllegalSessionMove(self.id, old, new)
        self.state = new
        self.closed = new is State.CLOSED or new is State.REFUSED
        self.eof = new in _EOF_STATES
        self.quit = new in _QUIT_STATES
        self.closing = new is State.CLOSING

    # -- the transport's callbacks ---------------------------------------------------------
    def connection_made(self, transport: Transport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.host = str(peer[0])
            self.peer = f"{peer[0]}:{peer[1]}"
        else:
            self.host = self.peer = str(peer)
        self.refilled = self.clock.time()
        refusal = self.gateway.admit(self)
        if refusal is not None:
            # Over a connection limit: one error line, then close; never a session.
            self.set_state(State.REFUSED)
            transport.write(self._encode_reply(refusal, None))
            transport.close()
            return
        self.set_state(State.OPEN)
        # The transport pauses writing (pause_writing below) past the high-water mark.
        transport.set_write_buffer_limits(high=self.high_water, low=self.high_water // 2)
        if self.login_timeout > 0:
            self.login_timer = self.clock.call_later(self.login_timeout, self._login_deadline)
        self.gateway.session_opened(self)

    def data_received(self, data: bytes) -> None:
        self.arrived = self._now()
        self.lines.feed(data)
        self._handle_lines()

    def eof_received(self) -> bool:
        # Answer every complete line already read, then close (PROTOCOL.md, Framing).
        if self.state is State.OPEN or self.state is State.STOPPED:
            self.set_state(State.DRAINING)
        self.reading = False
        if not self.slots and self.parked is None and not self.closed:
            self.close_after_flush()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed:
            return
        if self.state is State.NEW:
            return  # never made: nothing to tell anyone
        self.set_state(State.CLOSED)
        if self.login_timer is not None:
            self.login_timer.cancel()
            self.login_timer = None
        self.slots.clear()
        self.held = 0
        self.timed = []
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
                    self.clock.call_soon(self._next_turn)
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
            self.clock.call_soon(self._next_turn)
        else:
            self._resume_transport()

    def _resume_transport(self) -> None:
        if not self.reading and self.state is State.OPEN and self.transport is not None:
            self.reading = True
            self.transport.resume_reading()

    def stop_reading(self) -> None:
        """Shutdown: read nothing more; lines already read are still answered."""
        if self.state is State.OPEN:
            self.set_state(State.STOPPED)
        if self.reading and self.transport is not None and not self.closed:
            self.reading = False
            self.transport.pause_reading()

    def handle_line(self, line: Any) -> None:
        message = self._decode(line)  # never raises for what a peer sends
        if message is None:
            return
        # Every slot opened while this request is dispatched answers it: it carries the
        # request's ref, which the codec stamps on the reply.
        self.ref = ref = message.ref
        self.op = kind = type(message)
        if self.rate and not self._take_token():
            self.reply_now(R.Error(code="rate_limited",
                                   message=f"rate: more than {self.rate:g} requests per second"),
                           ref)
            return
        if kind is ProtocolError:
            self.reply_now(error_reply(message), ref)
            return
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
        if not self.quit and not self.closed:
            self.set_state(State.ENDED)
        self.parked = None
        if self.reading and self.transport is not None:
            self.reading = False
            self.transport.pause_reading()

    def _take_token(self) -> bool:
        now = self.clock.time()
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
            self.login_timer = self.clock.call_later(self.login_timeout, self._login_deadline)
            return
        log.warning("session %d (%s) closed: not logged in within %g s",
                    self.id, self.peer, self.login_timeout)
        self.end_input()
        self.reply_now(R.Error(code="auth_required", message=(
            f"login: not logged in within {self.login_timeout:g} s; closing")), None,
            answers=False)
        self.close_after_flush()

    # -- ordering of output --------------------------------------------------------------------
    def reply_now(self, reply: Any, ref: Any = None, answers: bool = True) -> None:
        """A reply to the request being handled, ready at once: written now, or queued
        behind what is still owed. ``answers`` False: a notice of the session's own
        (a login timeout), which the metrics do not count as a reply."""
        op = self.op
        if type(reply) is R.Error and answers:
            self.metrics.error(op, reply.code)
        data = self._encode_reply(reply, ref)
        at = self.arrived if answers else 0.0
        if self.slots:
            self.slots.append(Slot(ref, data, None, op, at))
            self.held += len(data)
        else:
            if at:
                self.timed.append(at)
            self._write(data)

    def local(self, work: Callable[[], Answer]) -> None:
        """A request the server answers itself, once every earlier one is answered."""
        if self.slots:
            self.slots.append(Slot(self.ref, None, work, self.op, self.arrived))
            self.unrun += 1
        else:
            self._write(self._answer_data(work(), self.ref, self.op, self.arrived))

    def _answer_data(self, answer: Answer, ref: Any, op: type[Any] | None, at: float
                     ) -> bytes:
        """The bytes of an answer about to be written, counted in the metrics (its
        arrival time joins ``timed``: see :meth:`hand_over`)."""
        if type(answer) is tuple:
            if not answer:
                return b""  # a place that answers nothing (see SessionPort.local)
            # A reply and what follows it in its place (the first carries the ref).
            data = b"".join([self._encode_reply(reply, ref if i == 0 else None)
                             for i, reply in enumerate(answer)])
        else:
            if type(answer) is R.Error:
                self.metrics.error(op, answer.code)
            data = self._encode_reply(answer, ref)
        self.timed.append(at)
        return data

    def routed(self, dispatch: Callable[[Slot], None]) -> None:
        """A request for an actor: sent now, unless a local request is still ahead of it."""
        if self.unrun:
            self._defer(dispatch)
        else:
            slot = Slot(self.ref, None, None, self.op, self.arrived)
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
        slot = Slot(self.ref, None, None, self.op, self.arrived)

        def run() -> None:
            dispatch(slot)

        slot.run = run
        self.slots.append(slot)
        self.unrun += 1
        return slot

    def open_slot(self) -> Slot:
        slot = Slot(self.ref, None, None, self.op, self.arrived)
        self.slots.append(slot)
        return slot

    def fulfil(self, slot: Slot, reply: Any) -> None:
        """An actor's reply for ``slot``; releases everything now at the head."""
        if self.closed:
            return
        if type(reply) is R.Error:
            self.metrics.error(slot.op, reply.code)
        slot.data = data = self._encode_reply(reply, slot.ref)
        self.held += len(data)
        if not self.advancing and self.slots and self.slots[0] is slot:
            self._advance()

    def push(self, event: Any) -> None:
        """An event about the user's own orders or alerts: after the replies still
        owed, never before. Like a reply, it is bounded by backpressure (it follows from
        the user's own orders, at most ``max_open_orders`` of them), not dropped."""
        if self.closed:
            return
        data = self._encode_event(event)
        if self.slots:
            self.slots.append(Slot(None, data))
            self.held += len(data)
        else:
            self._write(data)

    def push_stream(self, event: Any) -> None:
        """A message of a public stream (trades, book, quote), produced by others:
        it cannot be slowed, so a session that would hold more than ``outbound_buffer``
        with it is dropped at once, before anything is copied. A single message bigger
        than the whole bound still goes when nothing else is held."""
        if self.closed:
            return
        data = self._encode_event(event)
        size = self.pending()
        if size and size + len(data) > self.outbound_limit:
            self._too_slow()
            return
        if self.slots:
            self.slots.append(Slot(None, data))
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
                    run: Run | None = head.run
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
                        self._write(self._answer_data(result, head.ref, head.op, head.at))
                        continue
                    data = head.data
                    if data is None:
                        break  # dispatched; its actor fills it later
                slots.popleft()
                self.held -= len(data)  # counted when it was set, now moves to `out`
                if head.at:  # a reply, not an event
                    self.timed.append(head.at)
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

    def has_work(self) -> bool:
        return not self.closed and (bool(self.slots) or self.parked is not None)

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
        if self.closing and not self.slots and not self.closed:
            transport.close()

    def hand_over(self) -> None:
        """Give ``out`` to the transport (once the gateway has made its records
        durable), and count the latency of the replies in it (the metrics).

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
            if self.timed:
                # One clock read for the replies handed over (not one per reply: the
                # request path is hot); those of one read are counted at once.
                self.metrics.replied(self.timed)
                self.timed = []

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
        """Close once what is owed is written (input has ended: EOF, quit, a timeout)."""
        if self.closed:
            return
        if not self.closing:
            self.set_state(State.CLOSING)
        self.gateway.mark_dirty(self)

    def close(self) -> None:
        """Close the connection; what was handed to the transport is still sent."""
        if self.transport is not None and not self.closed:
            self.transport.close()

    def _too_slow(self) -> None:
        log.warning("session %d (%s) closed: client not reading, output over "
                    "outbound_buffer (%d bytes)%s", self.id, self.peer, self.outbound_limit,
                    " with stream subscriptions" if self.subscriptions else "")
        if self.transport is not None:
            self.transport.abort()
        self.connection_lost(None)
