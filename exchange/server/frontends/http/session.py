"""A session without a byte stream: request messages in, reply messages back as awaited
results, events to a callback.

An HTTP request is not a connection that stays open: it asks one thing and wants one
answer. :class:`HttpSession` is the :class:`~exchange.server.port.SessionPort` such a
front-end gives the gateway. :meth:`HttpSession.ask` dispatches one request message and
returns the reply (or, for ``subscribe book``, the reply and the messages that follow it
in its place), awaiting it when an actor answers later. Replies are released in request
order, as on every session, so a request the gateway answers itself sees the effects of
every earlier one of the same session (a ``status`` behind a ``place`` sees the order).

The request's correlation id, which the gateway carries in each :class:`Slot` without
reading it, is here the future its answer goes to.

Events (``push``) and stream messages (``push_stream``) go to ``on_event`` once every
reply owed before them is released, so that an event about an order never overtakes the
reply that accepted it. Nothing is buffered beyond that: where the event goes (a
WebSocket's queue, bounded there) is the callback's business.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from exchange.server.metrics import RequestMetrics
from exchange.server.port import Answer, GatewayPort, Slot
from protocol import replies as R

EventSink = Callable[[R.Message], None]


class Refused(Exception):
    """The session takes no more requests (the server is shutting down, or it closed)."""


class _Slot(Slot):
    """A slot that keeps its answer as a message (a byte stream's slot keeps bytes), or
    an event to hand on once the slot reaches the head."""

    __slots__ = ("answer", "event")

    def __init__(self, ref: Any = None, run: Any = None, op: type[Any] | None = None,
                 at: float = 0.0) -> None:
        super().__init__(ref, None, run, op, at)
        self.answer: Answer | None = None
        self.event: R.Message | None = None


class HttpSession:
    """A :class:`~exchange.server.port.SessionPort` whose answers are awaited results."""

    frontend = "http"
    hears_placements = True
    """Told of orders the user placed elsewhere: the user data stream reports them NEW."""
    second_factor = True
    """Its user is the owner of an API key whose secret signed the request (docs/HTTP.md):
    that key is the user's credential here, and a login needs no one-time code."""

    def __init__(self, gateway: GatewayPort, session_id: int, peer: str,
                 on_event: EventSink | None = None) -> None:
        self.gateway = gateway
        self.id = session_id
        self.user: str | None = None
        self.admin = False
        self.peer = self.host = peer
        self.subscriptions: set[tuple[str, str]] = set()
        self.closed = False
        self.stopped = False
        self.unrun = 0
        self.out_size = 0
        self.high_water = 0
        self.on_event = on_event
        self._slots: deque[_Slot] = deque()
        self._ref: asyncio.Future[Answer] | None = None
        self._op: type[Any] | None = None  # the request being dispatched, for the metrics
        self._at = 0.0
        self.metrics: RequestMetrics = gateway.metrics
        self._advancing = False
        self._close_when_answered = False

    # -- what the front-end calls -----------------------------------------------------------
    def send(self, message: Any) -> asyncio.Future[Answer]:
        """Dispatch one request message; the future of its answer."""
        if self.closed or self.stopped:
            raise Refused("the server is shutting down")
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._ref = future
        self._op = type(message)
        self._at = self.metrics.clock()
        try:
            self.gateway.dispatch(self, message)
        finally:
            self._ref = None
        return future

    async def ask(self, message: Any) -> Answer:
        """Dispatch one request message and await its answer."""
        return await self.send(message)

    async def reply(self, message: Any) -> R.ReplyBase:
        """The one reply to ``message`` (the first, for a request answered with more)."""
        answer = await self.send(message)
        return answer[0] if isinstance(answer, tuple) else answer

    # -- SessionPort: answers in request order ----------------------------------------------
    def open_slot(self) -> Slot:
        slot = _Slot(self._ref, None, self._op, self._at)
        self._slots.append(slot)
        return slot

    def local(self, work: Callable[[], Answer]) -> None:
        if self._slots:
            self._slots.append(_Slot(self._ref, work, self._op, self._at))
            self.unrun += 1
        else:
            self._resolve(self._ref, work(), self._op, self._at)

    def routed(self, dispatch: Callable[[Slot], None]) -> None:
        if self.unrun:
            self._defer(dispatch)
        else:
            slot = _Slot(self._ref, None, self._op, self._at)
            self._slots.append(slot)
            dispatch(slot)

    def after_earlier(self, dispatch: Callable[[Slot], None]) -> None:
        slot = self._defer(dispatch)
        if self._slots[0] is slot and not self._advancing:
            self._advance()

    def _defer(self, dispatch: Callable[[Slot], None]) -> _Slot:
        slot = _Slot(self._ref, None, self._op, self._at)

        def run() -> None:
            dispatch(slot)

        slot.run = run
        self._slots.append(slot)
        self.unrun += 1
        return slot

    def fulfil(self, slot: Slot, reply: R.ReplyBase) -> None:
        if self.closed:
            return
        assert isinstance(slot, _Slot)
        slot.answer = reply
        if not self._advancing and self._slots and self._slots[0] is slot:
            self._advance()

    def _advance(self) -> None:
        slots = self._slots
        self._advancing = True
        try:
            while slots and not self.closed:
                head = slots[0]
                if head.event is not None:
                    slots.popleft()
                    self._deliver(head.event)
                    continue
                if head.answer is None:
                    run = head.run
                    if run is None:
                        break  # waiting for an actor
                    head.run = None
                    self.unrun -= 1
                    result = run()
                    if result is None:
                        if head.answer is None:
                            break  # dispatched; its actor fills it later
                    else:
                        head.answer = result
                slots.popleft()
                assert head.answer is not None
                self._resolve(head.ref, head.answer, head.op, head.at)
        finally:
            self._advancing = False
        if self._close_when_answered and not slots:
            self.close()

    # -- events -------------------------------------------------------------------------------
    def push(self, event: R.Message) -> None:
        if self.closed:
            return
        if self._slots:
            slot = _Slot()
            slot.event = event
            self._slots.append(slot)
        else:
            self._deliver(event)

    push_stream = push

    def _deliver(self, event: R.Message) -> None:
        if self.on_event is not None:
            self.on_event(event)

    # -- the connection -------------------------------------------------------------------------
    def end_input(self) -> None:
        self.stopped = True

    def close_after_flush(self) -> None:
        # Nothing is written: an HTTP reply is sent when its answer comes. Close once
        # every answer owed is given (the gateway ended the session: a disabled user).
        self.stopped = True
        self._close_when_answered = True
        if not self._slots:
            self.close()

    def stop_reading(self) -> None:
        self.stopped = True

    def has_work(self) -> bool:
        return not self.closed and bool(self._slots)

    def unsent(self) -> int:
        return 0

    def close(self) -> None:
        """The session is done: what is still owed is answered with an error."""
        if self.closed:
            return
        self.closed = True
        for slot in self._slots:
            if slot.ref is not None and not slot.ref.done():
                slot.ref.set_exception(Refused("the server is shutting down"))
        self._slots.clear()
        self.gateway.session_closed(self, None)

    def flush(self) -> None:
        pass

    def hand_over(self) -> None:
        pass

    def _resolve(self, ref: Any, answer: Answer, op: type[Any] | None, at: float) -> None:
        """Give ``answer`` to the future waiting for it (a place that answers nothing,
        such as the step a login holds behind it, gives nothing), counted in the
        metrics as the request's reply."""
        if ref is None or answer == ():
            return
        if type(answer) is R.Error:
            self.metrics.error(op, answer.code)
        self.metrics.latency.observe(self.metrics.clock() - at)
        if not ref.done():
            ref.set_result(answer)
