"""The port between the gateway and its front-ends: request messages in, reply and event
messages out, never bytes.

A front-end (``exchange.server.frontends``) turns its wire into request messages of
:mod:`protocol.messages` and hands them to the gateway through :class:`GatewayPort`; the
gateway and the actors answer through :class:`SessionPort` with the Structs of
:mod:`protocol.replies`. How a message becomes bytes is the front-end's codec's business,
and so is a correlation id such as the JSON-lines ``ref``: the session keeps the ref of
the request a :class:`Slot` answers in the slot, and its codec stamps it on the reply as
it encodes it. The gateway never reads or writes a ``ref``.

Imports run one way: front-ends -> gateway -> actors -> core, and everything -> protocol.
This module names what the two sides call on each other (``typing.Protocol``), so that
neither imports the other: the gateway knows no session class, a session no gateway class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from protocol import replies as R

if TYPE_CHECKING:
    from exchange.server.config import Limits
    from exchange.server.metrics import Readings, RequestMetrics

Answer = R.ReplyBase | tuple[R.ReplyBase, ...]
"""What a request the gateway answers itself produces: one reply, or (``subscribe book``)
a reply and the messages that must follow it in the same place of the order (the first
one carries the request's ref); ``()`` is a place that produces nothing (see ``on_login``)."""

Run = Callable[[], Answer | None]
"""Deferred work of a slot: returns the answer, or None once it has been sent to an actor
that fills the slot later."""


class Slot:
    """One request's place in a session's output order.

    ``ref`` is the request's correlation id as its codec decoded it (for JSON lines, the
    request's ``ref``); the gateway and the actors pass the slot on and never look at it.
    ``data`` is the answer once encoded, ``run`` the work still to run at the head.
    ``op`` (the request's message type) and ``at`` (when it arrived, on the clock of
    :class:`~exchange.server.metrics.RequestMetrics`) are for the metrics: a slot with
    ``at`` 0 holds an event, not a reply."""

    __slots__ = ("at", "data", "op", "ref", "run")

    def __init__(self, ref: Any = None, data: bytes | None = None, run: Run | None = None,
                 op: type[Any] | None = None, at: float = 0.0) -> None:
        self.ref = ref
        self.data = data
        self.run = run
        self.op = op
        self.at = at


class SessionPort(Protocol):
    """What the gateway and the actors call on a session (one client connection).

    Everything runs on the event-loop thread. The messages handed over are the session's
    from then on: a codec may stamp a reply's ``ref`` on it, and an event pushed to many
    sessions in a row is encoded once per codec (so it must not change between pushes).
    """

    id: int
    frontend: str
    """The front-end's name (``lines``, ``fix``, ``http``), for the metrics."""
    user: str | None
    admin: bool
    peer: str
    host: str
    subscriptions: set[tuple[str, str]]
    closed: bool
    unrun: int
    """Slots whose deferred work has not run (a request for an actor may skip the queue
    only while this is 0)."""
    out_size: int
    high_water: int
    hears_placements: bool
    """Whether the session is told of orders its user placed on another session (an
    ``accepted`` event): a user data stream reports them; a JSON-lines session is not
    told (its protocol says a placement is the placing session's reply)."""
    second_factor: bool
    """Whether the front-end checks a second credential of the user itself, on every
    request (the HTTP front-end: a signature under the API key's secret), so that a login
    needs no one-time code when the user has two-factor login on."""

    # -- answers, in request order ---------------------------------------------------------
    def open_slot(self) -> Slot:
        """A place for the reply to the request being dispatched, filled by ``fulfil``."""
    def local(self, work: Callable[[], Answer]) -> None:
        """Answer the request being dispatched with ``work()`` once every earlier one is."""
    def routed(self, dispatch: Callable[[Slot], None]) -> None:
        """Hand the request to an actor now, unless a local request is still ahead."""
    def after_earlier(self, dispatch: Callable[[Slot], None]) -> None:
        """Hand the request on once every earlier request of this session is answered."""
    def fulfil(self, slot: Slot, reply: R.ReplyBase) -> None:
        """The reply for ``slot``; releases whatever is now at the head of the order."""

    # -- events -----------------------------------------------------------------------------
    def push(self, event: R.Message) -> None:
        """An event about the user's own orders or alerts: after the replies still owed,
        bounded by backpressure, never dropped."""
    def push_stream(self, event: R.Message) -> None:
        """A message of a public stream: a session that cannot take it is dropped."""

    # -- the connection -----------------------------------------------------------------------
    def end_input(self) -> None:
        """Handle nothing more the client sends; what is owed is still answered."""
    def close_after_flush(self) -> None:
        """Close once everything owed has been written."""
    def stop_reading(self) -> None:
        """Shutdown: read nothing more; what was read is still answered."""
    def has_work(self) -> bool:
        """Whether requests read are still unanswered (shutdown waits for them)."""
    def unsent(self) -> int:
        """Bytes written for the client and not yet taken by its socket."""
    def close(self) -> None:
        """Close the connection (shutdown), after what was handed over is sent."""
    def flush(self) -> None:
        """Hand this turn's output to the connection (the gateway calls it once a turn)."""
    def hand_over(self) -> None:
        """Hand the output buffered so far to the connection now."""


class GatewayPort(Protocol):
    """What a front-end's session calls on the gateway."""

    limits: Limits
    symbol_listeners: list[Callable[[str], None]]
    """Called with each symbol listed at run time (``add_symbol``) once it can be traded:
    a front-end that keeps a table of the symbols (the HTTP one) adds it there."""
    metrics: RequestMetrics
    """Where sessions count requests' errors and reply latency (docs/METRICS.md)."""

    def next_session_id(self) -> int:
        """A new connection's number, unique for the server's life."""
    def admit(self, session: SessionPort) -> R.Error | None:
        """None if a new connection may become a session, else the error it gets."""
    def session_opened(self, session: SessionPort) -> None: ...
    def session_closed(self, session: SessionPort, exc: Exception | None) -> None: ...
    def dispatch(self, session: SessionPort, message: Any) -> None:
        """Handle one request message (a :data:`protocol.messages.Request`)."""
    def mark_dirty(self, session: SessionPort) -> None:
        """The session has output for this turn: flush it at the end of the turn."""
    def flush_early(self, session: SessionPort) -> None:
        """The session produced a lot this turn: hand it over before the turn ends."""
    def readings(self) -> Readings:
        """What the metrics expose, read now (a front-end that serves ``/metrics``)."""
