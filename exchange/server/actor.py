"""One actor per symbol: the only code that changes that symbol's book.

Each actor is an asyncio task draining a bounded ``asyncio.Queue`` of commands in
batches. It runs each command on the engine, answers the session that sent it, and
publishes what followed: events to the owners of the orders involved, trades, book
updates and quotes to the streams, price alerts.

Why this is safe with many sessions and symbols: all actors and sessions run on one
event-loop thread, and a command runs on the engine from start to end without an
``await`` in between. Reservation, matching and settlement of a command are therefore
atomic with respect to every other command, whatever symbol it is for; two orders on
two symbols can never both spend the same cash, because the second one sees the first
one's reservation. The queue per symbol gives each book a FIFO order of commands, a
bound (a full queue answers ``server_busy`` instead of growing), and batching.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from exchange.core import commands as C
from exchange.core.limits import MAX_POSITION
from exchange.core.orders import CANCELED, EXPIRED, REJECTED, STOP, STOP_LIMIT, Order
from exchange.core.results import (
    CANCELED_EVENT,
    EXPIRED_EVENT,
    FILL,
    TRIGGERED,
    CommandError,
    Outcome,
)
from exchange.server.views import datetime_to_us, now_us
from protocol import messages as M
from protocol import replies as R

if TYPE_CHECKING:
    from exchange.server.gateway_base import GatewayCore
    from exchange.server.port import SessionPort as Session
    from exchange.server.port import Slot

log = logging.getLogger("exchange.actor")

QUEUE_DEPTH = 100_000
"""Requests waiting per symbol before new ones are refused with ``server_busy``. The
exchange's own commands (expiry timers, the close, the parts of a ``cancel_all`` the
gateway has already admitted) are always queued: dropping one would lose an expiry or
leave a request unanswered for good."""
BATCH = 512
"""Commands run per wake-up: enough to amortise the task switch, small enough that other
symbols and the network get their turn within a millisecond or so."""

Handler = Callable[["Session | None", "Slot | None", Any, Any], None]


class Alert:
    __slots__ = ("above", "alert_id", "below", "user")

    def __init__(self, alert_id: int, user: str, above: int | None, below: int | None) -> None:
        self.alert_id = alert_id
        self.user = user
        self.above = above
        self.below = below


class SymbolActor:
    """Owns one symbol's book and runs its commands in order."""

    def __init__(self, gateway: GatewayCore, symbol: str) -> None:
        self.gateway = gateway
        self.symbol = symbol
        self.exchange = gateway.exchange
        self.views = gateway.views
        self.spec = self.exchange.spec(symbol)
        self.queue: asyncio.Queue[tuple[Handler, Session | None, Slot | None, Any, Any]] = (
            asyncio.Queue())  # bounded by submit(), see QUEUE_DEPTH
        self.task: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at: int | None = None
        self.alerts: list[Alert] = []
        self.last_quote: R.QuoteReply | None = None
        self.answered = False
        """Whether the running command has given its reply (see ``_run_one``)."""

    # -- queue --------------------------------------------------------------------------------
    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.run(), name=f"actor-{self.symbol}")
        # The book may already hold orders that expire (recovered from --data-dir): arm
        # the timer now, not only once some command reaches this book.
        self._reschedule_timer()

    def submit(self, handler: Handler, session: Session | None, slot: Slot | None,
               msg: Any, arg: Any = None) -> None:
        if session is not None and slot is not None and self.busy():
            session.fulfil(slot, self.busy_error(msg))
            return
        self.queue.put_nowait((handler, session, slot, msg, arg))

    def busy(self) -> bool:
        return self.queue.qsize() >= QUEUE_DEPTH

    def busy_error(self, msg: Any) -> R.Error:
        return R.Error(code="server_busy",
                       message=f"symbol: {self.symbol} has {QUEUE_DEPTH} commands waiting")

    async def run(self) -> None:
        queue = self.queue
        while True:
            item = await queue.get()
            self._run_one(item)
            for _ in range(BATCH - 1):
                if queue.empty():
                    break
                self._run_one(queue.get_nowait())
            self._reschedule_timer()
            if not queue.empty():
                # queue.get() returns at once while the queue is not empty, without
                # letting anything else run: yield, or one long queue holds up every
                # other symbol and every session until it is drained.
                await asyncio.sleep(0)

    def _run_one(self, item: tuple[Handler, Session | None, Slot | None, Any, Any]) -> None:
        """Run one command; an unexpected exception in it fail-stops the server.

        A :class:`CommandError` is a refusal and is answered. Anything else is a bug that
        may have left the engine half-way through a change, so nothing more runs (see
        :meth:`GatewayCore.fail_stop`): the command's record is taken back unless its
        reply had already been given (replies follow the engine's work, so the engine
        had finished and the record replays it), the request is answered "internal
        error; the request was not run", and the server exits without a snapshot. The
        restart rebuilds from the journal: everything acknowledged, nothing of the fault.
        """
        gateway = self.gateway
        if gateway.failed:
            return  # fail-stopped: nothing more runs, and nothing more is answered
        handler, session, slot, msg, arg = item
        before = gateway.recorded()
        self.answered = False
        try:
            handler(session, slot, msg, arg)
        except CommandError as exc:
            self.answer(session, slot, R.Error(code=exc.code,  # type: ignore[arg-type]
                                               message=_named_as_sent(exc.message, msg)))
            if exc.outcome is not None:  # orders it found expired are still news
                self.publish(exc.outcome, None, None)
        except Exception as exc:
            log.critical("bug in a command on %s: %r", self.symbol, msg, exc_info=True)
            answered = self.answered
            # Stopped before the error is answered: answering releases the session's
            # requests queued behind this one, and none of them may run.
            gateway.bug_in_command(exc, before, take_back=not answered)
            if not answered:
                self.answer(session, slot, R.Error(
                    code="bad_request", message="internal error; the request was not run"))

    def answer(self, session: Session | None, slot: Slot | None, reply: R.ReplyBase) -> None:
        self.answered = True
        if session is not None and slot is not None:
            session.fulfil(slot, reply)

    # -- commands -------------------------------------------------------------------------------
    def do_place(self, session: Session | None, slot: Slot | None, msg: M.Place, user: str) -> None:
        ex = self.exchange
        spec = self.spec
        views = self.views
        if msg.client_order_id is not None:
            # First: a place refused with an error (a bound below, a record that cannot
            # be encoded, or the engine's) must not leave its entry behind (a client
            # could grow the map without bound that way).
            self.gateway.pending_cids.pop((user, msg.client_order_id), None)
        now = now_us()
        expires_at = None
        if msg.ttl_ms is not None:
            expires_at = now + msg.ttl_ms * 1000
        elif msg.expire_at is not None:
            expires_at = datetime_to_us(msg.expire_at)
        qty = views.lots(spec, msg.qty)
        price = views.ticks(spec, msg.price)
        stop_price = views.ticks(spec, msg.stop_price, "stop_price")
        tif = msg.tif or "gtc"
        # Recorded before it runs: a command that fails may still have expired orders on
        # its way, and the replay must fail (and expire) the same way. A record that
        # cannot be encoded raises NotRecordable (a CommandError) before anything ran.
        cmd = C.Place(now, user, self.symbol, msg.side, qty, msg.kind, tif, price, stop_price,
                      expires_at, msg.post_only, msg.stp, msg.client_order_id)
        if self.gateway.journal is not None:
            self.gateway.record(cmd)
        out = ex.apply(cmd)
        order = out.order
        assert order is not None
        reply: R.ReplyBase
        if order.status == REJECTED and not out.duplicate:
            reply = R.Rejected(order=views.order(order))
        else:
            reply = R.Accepted(order=views.order(order),
                               fills=[views.fill(t, order.side) for t in out.fills],
                               duplicate=out.duplicate)
        self.answer(session, slot, reply)
        self.publish(out, session, order, placed=True,
                     triggered=order.kind in (STOP, STOP_LIMIT) and order.triggered)

    def do_modify(self, session: Session | None, slot: Slot | None, msg: M.Modify,
                  user: str) -> None:
        order_id = self.exchange.find(user, msg.order_id, msg.client_order_id).order_id
        spec = self.spec
        qty = None if msg.qty is None else self.views.lots(spec, msg.qty)
        price = self.views.ticks(spec, msg.price)
        now = now_us()
        cmd = C.Modify(now, user, order_id, qty, price)
        self.gateway.record(cmd)
        out = self.exchange.apply(cmd)
        order = out.order
        assert order is not None
        self.answer(session, slot, R.Modified(
            order=self.views.order(order),
            fills=[self.views.fill(t, order.side) for t in out.fills]))
        self.publish(out, session, order)

    def _order_op(self, op: str, reply_type: type[Any], with_fills: bool) -> Handler:
        """cancel, pause and resume share one shape: run, answer, publish."""
        record = _ORDER_OPS[op]
        def handler(session: Session | None, slot: Slot | None, msg: Any, user: str) -> None:
            # Resolved here, not at the gateway: an order placed by a request still in
            # this queue (addressed by its client_order_id) exists by now.
            found = self.exchange.find(user, msg.order_id, msg.client_order_id)
            order_id = found.order_id
            was_pending = not found.triggered  # a stop that resume may trigger
            now = now_us()
            cmd = record(now, user, order_id)
            self.gateway.record(cmd)
            out = self.exchange.apply(cmd)
            order = out.order
            assert order is not None
            if with_fills:
                reply = reply_type(order=self.views.order(order),
                                   fills=[self.views.fill(t, order.side) for t in out.fills])
            else:
                reply = reply_type(order=self.views.order(order))
            self.answer(session, slot, reply)
            self.publish(out, session, order, triggered=was_pending and order.triggered)
        return handler

    def do_cancel_all(self, session: Session | None, slot: Slot | None, msg: Any,
                      arg: tuple[str, Callable[[list[int]], None]]) -> None:
        user, done = arg
        now = now_us()
        cmd = C.CancelAll(now, user, self.symbol)
        self.gateway.record(cmd)
        out = self.exchange.apply(cmd)
        done([o.order_id for o in out.orders])
        self.answered = True
        self.publish(out, session, None, bulk=out.orders)

    def do_expire_session(self, session: Session | None, slot: Slot | None, msg: Any,
                          arg: tuple[bool, Callable[[list[int]], None] | None]) -> None:
        everything, done = arg
        now = now_us()
        cmd = C.ExpireSession(now, self.symbol, everything)
        self.gateway.record(cmd)
        out = self.exchange.apply(cmd)
        if done is not None:
            done([o.order_id for o in out.orders])
        self.answered = True
        self.publish(out, None, None)

    def do_halt(self, session: Session | None, slot: Slot | None, msg: Any, halted: bool) -> None:
        admin = session.user if session is not None and session.user is not None else ""
        cmd = C.Halt(now_us(), admin, self.symbol, halted)
        self.gateway.record(cmd)
        self.exchange.apply(cmd)
        reply: R.ReplyBase = (R.Halted(symbol=self.symbol) if halted
                              else R.TradingResumed(symbol=self.symbol))
        self.answer(session, slot, reply)

    def do_expire(self, session: Session | None, slot: Slot | None, msg: Any, arg: Any) -> None:
        now = now_us()
        if self.exchange.next_expiry(self.symbol) is None:
            return
        cmd = C.Expire(now, self.symbol)
        self.gateway.record(cmd)
        out = self.exchange.apply(cmd)
        self.publish(out, None, None)

    # -- publishing -----------------------------------------------------------------------------
    def publish(self, out: Outcome, session: Session | None, addressed: Order | None,
                bulk: list[Order] | None = None, triggered: bool = False,
                placed: bool = False) -> None:
        """Tell everyone who should hear of what a command did (see PROTOCOL.md, Events).

        ``triggered``: the command made the addressed stop order active; ``placed``: the
        command placed it."""
        gateway = self.gateway
        views = self.views
        user_sessions = gateway.user_sessions
        # Events about other orders go to every session of their owner.
        for event in out.events:
            order = event.order
            sessions = user_sessions.get(order.user)
            if not sessions:
                continue
            view = views.order(order, event)
            if event.kind == FILL:
                assert event.trade is not None
                message: R.Message = R.FillEvent(order=view,
                                                 fill=views.fill(event.trade, order.side))
            else:
                message = _EVENT_TYPES[event.kind](order=view)
            for other in sessions:
                other.push(message)
        # What the request did to the order(s) it addressed goes to the owner's other sessions.
        targets = [addressed] if addressed is not None else (bulk or [])
        if session is not None and targets and not out.duplicate:
            sessions = user_sessions.get(targets[0].user)
            if sessions and (len(sessions) > 1 or sessions[0] is not session):
                self._tell_other_sessions(out, session, sessions, targets, addressed,
                                          triggered, placed)
        if self.exchange.limited:
            self._tell_risk_alerts()
        # Public streams and alerts.
        if out.trades:
            subscribers = gateway.subscribers("trades", self.symbol)
            if subscribers:
                for trade in out.trades:
                    message = R.TradeEvent(trade=views.trade(trade))
                    for sub in subscribers:
                        sub.push_stream(message)
            if self.alerts:
                self._check_alerts()
        changes = out.book_changes
        if changes is not None:
            subscribers = gateway.subscribers("book", self.symbol)
            if subscribers:
                bids, asks = changes
                update = R.BookUpdate(symbol=self.symbol,
                                      seq=self.exchange.book_seq(self.symbol),
                                      bids=views.levels(self.spec, bids),
                                      asks=views.levels(self.spec, asks))
                for sub in subscribers:
                    sub.push_stream(update)
        if out.trades or changes is not None:  # the only things a quote is made of
            subscribers = gateway.subscribers("quote", self.symbol)
            if subscribers:
                quote = views.quote(self.symbol)
                if quote != self.last_quote:
                    self.last_quote = quote
                    for sub in subscribers:
                        sub.push_stream(quote)

    def _tell_other_sessions(self, out: Outcome, session: Session, sessions: list[Session],
                             targets: list[Order], addressed: Order | None,
                             triggered: bool, placed: bool = False) -> None:
        views = self.views
        events: list[R.Message] = []
        for order in targets:
            if order.status == REJECTED:
                continue
            view = views.order(order)
            if placed and order is addressed:
                # Only to the sessions that ask for it (a user data stream), before the
                # order's fills and end: its acceptance, as the placing session heard it.
                accepted = R.Accepted(order=view, fills=[])
                for other in sessions:
                    if other is not session and other.hears_placements:
                        other.push(accepted)
            if order is addressed:
                if triggered:
                    events.append(R.Triggered(order=view))
                for trade in out.fills:
                    events.append(R.FillEvent(order=view, fill=views.fill(trade, order.side)))
            ended = _ENDED_EVENT.get(order.status)
            if ended is not None:
                events.append(ended(order=view))
        # Event by event, each to every other session in a row: a codec encodes it once.
        for event in events:
            for other in sessions:
                if other is not session:
                    other.push(event)

    def _tell_risk_alerts(self) -> None:
        """Push each exposure-limit alert the command raised to its user's sessions."""
        for alert in self.exchange.take_risk_alerts():
            spec = self.exchange.spec(alert.symbol)
            fmt = spec.fmt_qty if alert.limit == MAX_POSITION else self.views.money.fmt
            event = R.RiskAlertEvent(limit=alert.limit, symbol=alert.symbol,
                                     used=fmt(alert.used), max=fmt(alert.maximum))
            feed = self.gateway.feed
            if feed is not None:
                feed.note(alert.user, now_us(), "risk_alert", alert.symbol,
                          f"{alert.limit} {event.used} of {event.max} used by an order on "
                          f"{alert.symbol}")
            for sess in self.gateway.user_sessions.get(alert.user, ()):
                sess.push(event)

    def add_alert(self, alert: Alert) -> None:
        self.alerts.append(alert)
        if self.exchange.last_price(self.symbol) is not None:
            self._check_alerts()

    def _check_alerts(self) -> None:
        last = self.exchange.last_price(self.symbol)
        if last is None:
            return
        keep = []
        for alert in self.alerts:
            hit = ((alert.above is not None and last >= alert.above)
                   or (alert.below is not None and last <= alert.below))
            if not hit:
                keep.append(alert)
                continue
            event = R.AlertEvent(alert_id=alert.alert_id, symbol=self.symbol,
                                 last=self.spec.fmt_price(last))
            feed = self.gateway.feed
            if feed is not None:
                feed.note(alert.user, now_us(), "alert", self.symbol,
                          f"alert {alert.alert_id}: {self.symbol} traded at {event.last}")
            for sess in self.gateway.user_sessions.get(alert.user, ()):
                sess.push(event)
        self.alerts = keep

    # -- expiry timer ----------------------------------------------------------------------------
    def _reschedule_timer(self) -> None:
        """Keep one timer per book, set for the earliest expiry among its orders."""
        at = self.exchange.next_expiry(self.symbol)
        if at == self.timer_at:
            return
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.timer_at = at
        if at is not None:
            delay = max(0.0, (at - now_us()) / 1e6)
            self.timer = asyncio.get_running_loop().call_later(delay, self._timer_fired)

    def _timer_fired(self) -> None:
        self.timer = None
        self.timer_at = None
        self.submit(self.do_expire, None, None, None)  # never refused (see QUEUE_DEPTH)

    def order_handlers(self) -> dict[str, Handler]:
        return {
            "cancel": self._order_op("cancel", R.Canceled, with_fills=False),
            "pause": self._order_op("pause", R.Paused, with_fills=False),
            "resume": self._order_op("resume", R.Resumed, with_fills=True),
        }

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.task is not None:
            self.task.cancel()


def _named_as_sent(message: str, msg: Any) -> str:
    """An error about an order, named after the field the request addressed it by.

    The engine works with order ids, so its refusals (``order_id: order 5 is filled``)
    name `order_id`; a request that gave a `client_order_id` must read its own field."""
    if (isinstance(msg, M.OrderRequest) and msg.client_order_id is not None
            and message.startswith("order_id: ")):
        return f"client_order_id: {message[len('order_id: '):]}"
    return message


_ORDER_OPS: dict[str, type[C.Cancel | C.Pause | C.Resume]] = {
    "cancel": C.Cancel, "pause": C.Pause, "resume": C.Resume}
"""The command record of each op on one order."""

_EVENT_TYPES: dict[str, type[Any]] = {
    EXPIRED_EVENT: R.Expired,
    TRIGGERED: R.Triggered,
    CANCELED_EVENT: R.Canceled,
}
_ENDED_EVENT: dict[str, type[Any]] = {CANCELED: R.Canceled, EXPIRED: R.Expired}
