"""The gateway's core: sessions, who is logged in where, subscriptions, output flush.

Every request handler is built on the helpers here: ``_local`` answers a request in the
session's order, ``_route`` hands one to a symbol's actor when it is that request's turn.
The handlers themselves are in :mod:`exchange.server.market_ops` (market data, streams,
alerts) and :mod:`exchange.server.gateway` (sessions, orders, accounts, administration).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from exchange.core.builds import active_build
from exchange.core.commands import Command
from exchange.core.engine import Exchange
from exchange.core.results import CommandError
from exchange.server.actor import SymbolActor
from exchange.server.config import Limits
from exchange.server.metrics import Readings, RequestMetrics, op_name
from exchange.server.port import Answer, SessionPort, Slot
from exchange.server.views import Views, now_us
from protocol import replies as R

if TYPE_CHECKING:
    from exchange.server.history.feed import HistoryFeed
    from exchange.server.history.store import HistoryStore
    from exchange.server.journal import FileJournal

log = logging.getLogger("exchange.gateway")


def refusal(code: str, message: str) -> R.Error:
    """An error reply (the session's codec gives it the request's ref)."""
    return R.Error(code=code, message=message)  # type: ignore[arg-type]


class GatewayCore:
    """Sessions, routing helpers, subscriptions and the output flush of one exchange."""

    def __init__(self, exchange: Exchange, limits: Limits) -> None:
        self.exchange = exchange
        self.limits = limits
        self.views = Views(exchange)
        self.actors = {symbol: SymbolActor(self, symbol) for symbol in exchange.symbols()}
        self.order_ops = {symbol: actor.order_handlers() for symbol, actor in self.actors.items()}
        self.sessions: dict[int, SessionPort] = {}
        self.per_address: dict[str, int] = {}
        """Open sessions per peer address, for ``max_connections_per_address``."""
        self._refused = 0  # connections refused since the last refusal was logged
        self._refusal_logged = -1e9
        self.user_sessions: dict[str, list[SessionPort]] = {}
        self.subs: dict[tuple[str, str], list[SessionPort]] = {}
        self.pending_cids: dict[tuple[str, str], str] = {}
        self.journal: FileJournal | None = None
        self.history: HistoryStore | None = None
        """The history store (orders, trades, audit trail, inbox), when it is on."""
        self.feed: HistoryFeed | None = None
        """What the exchange did since the last turn, for the history store."""
        self._after_commit: list[Callable[[], None]] = []
        self._ids = itertools.count(1)
        self._alert_ids = itertools.count(1)
        self._dirty: list[SessionPort] = []
        self._flush_scheduled = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self.counters = {"sessions_opened": 0}
        self.metrics = RequestMetrics()
        self._request_counts = self.metrics.requests
        self.failed = False
        """Set by :meth:`fail_stop`: a bug met in a command; nothing more runs."""
        self.on_fatal: Callable[[BaseException], None] | None = None
        """Called once by :meth:`fail_stop` (the server stops and exits)."""
        self._table: dict[type[Any], Callable[[SessionPort, Any], None]] = {}
        """Request type -> handler; filled in by the Gateway that has the handlers."""

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        for actor in self.actors.values():
            actor.start()

    def stop(self) -> None:
        for actor in self.actors.values():
            actor.stop()

    def next_session_id(self) -> int:
        return next(self._ids)

    def admit(self, session: SessionPort) -> R.Error | None:
        """None if a new connection may become a session, else the error line it gets.

        Checked in ``connection_made``, before the session costs anything but its socket.
        """
        limits = self.limits
        reason = None
        if limits.max_connections and len(self.sessions) >= limits.max_connections:
            reason = (f"connections: the server has {len(self.sessions)} connections open, "
                      f"its limit (max_connections); try again later")
        elif (limits.max_connections_per_address
              and self.per_address.get(session.host, 0) >= limits.max_connections_per_address):
            reason = (f"connections: {limits.max_connections_per_address} connections are "
                      f"open from {session.host}, the limit per address "
                      f"(max_connections_per_address); close one first")
        if reason is None:
            return None
        # Logged at most once a second, with a count: a flood of connections must not
        # become a flood of log lines.
        self._refused += 1
        self.metrics.connections_refused += 1
        now = self.loop.time() if self.loop is not None else 0.0
        if now - self._refusal_logged >= 1.0:
            log.warning("connection from %s refused (%d since the last such line): %s",
                        session.peer, self._refused, reason)
            self._refused = 0
            self._refusal_logged = now
        return refusal("server_busy", reason)

    def session_opened(self, session: SessionPort) -> None:
        self.sessions[session.id] = session
        self.per_address[session.host] = self.per_address.get(session.host, 0) + 1
        self.counters["sessions_opened"] += 1
        opened = self.metrics.sessions_opened
        opened[session.frontend] = opened.get(session.frontend, 0) + 1
        log.info("session %d opened from %s", session.id, session.peer)

    def session_closed(self, session: SessionPort, exc: Exception | None) -> None:
        if self.sessions.pop(session.id, None) is not None:
            left = self.per_address.get(session.host, 0) - 1
            if left > 0:
                self.per_address[session.host] = left
            else:
                self.per_address.pop(session.host, None)
        if not self.failed:
            self.note_session(session, "logout")
        self._forget_user(session)
        for key in session.subscriptions:
            self._unsubscribe(session, key)
        session.subscriptions.clear()
        log.info("session %d closed (%s)%s", session.id, session.user or "not logged in",
                 f": {exc}" if exc else "")

    def _forget_user(self, session: SessionPort) -> None:
        if session.user is None:
            return
        sessions = self.user_sessions.get(session.user)
        if sessions is not None and session in sessions:
            # A new list, never an edit in place: a session can be dropped (output over
            # its bound) while an actor is looping over this very list to push to it.
            left = [s for s in sessions if s is not session]
            if left:
                self.user_sessions[session.user] = left
            else:
                del self.user_sessions[session.user]

    # -- output ---------------------------------------------------------------------------
    def mark_dirty(self, session: SessionPort) -> None:
        self._dirty.append(session)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            assert self.loop is not None
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write every session's buffered output: once per event-loop turn.

        With a journal, the turn's records are made durable first, so that nothing is
        acknowledged that a crash could take back.
        """
        self._flush_scheduled = False
        if self.journal is not None:
            self.journal.commit()
        feed = self.feed
        if feed is not None and feed.pending():
            rows = feed.take()
            if rows is not None and self.history is not None:
                self.history.write(rows)
        if self._after_commit:
            waiting, self._after_commit = self._after_commit, []
            for job in waiting:
                job()
        dirty = self._dirty
        self._dirty = []
        for session in dirty:
            session.flush()

    def after_commit(self, job: Callable[[], None]) -> None:
        """Run ``job`` at the end of this turn, once its records are durable and its
        rows are handed to the history store (a history query sees them all)."""
        self._after_commit.append(job)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            assert self.loop is not None
            self.loop.call_soon(self.flush)

    def retract(self, seq: int) -> None:
        """Take back record ``seq`` (the last, uncommitted): from the journal, and from
        what the history store would derive from it."""
        assert self.journal is not None
        self.journal.retract(seq)
        if self.feed is not None:
            self.feed.retract(seq)

    def note_session(self, session: SessionPort, event: str) -> None:
        """A login or logout, for the audit trail (written to the history store as it
        happens: it changes no state, so it is not a journal record)."""
        if session.user is not None and self.feed is not None:
            self.feed.audit(session.user, now_us(), event, {"peer": session.peer})

    def flush_early(self, session: SessionPort) -> None:
        """Hand one session's output to its socket before the end of the turn (it
        produced a lot in this turn): records first, as in :meth:`flush`.

        With a journal that first commit is one more fdatasync in the turn, so the output
        waits for the end of the turn unless it has reached the high-water mark: under a
        pipelined load a turn routinely passes the early chunk, and a second sync per
        turn would cost durable throughput for nothing (the turn's output is bounded by
        the per-turn line budget and the actors' batch anyway).
        """
        if self.journal is not None:
            if session.out_size < session.high_water:
                return
            self.journal.commit()
        session.hand_over()

    def record(self, cmd: Command) -> None:
        """A state change, in the order it was applied: journaled when durable."""
        if self.journal is not None:
            self.journal.append(cmd)

    def recorded(self) -> int:
        """The number of the last record appended (0 without a journal): taken before a
        command runs, so that :meth:`bug_in_command` knows whether it recorded one."""
        return self.journal.seq if self.journal is not None else 0

    def bug_in_command(self, exc: BaseException, recorded_before: int,
                       take_back: bool = True) -> None:
        """A command that changes the exchange met a bug: take its record back (when
        ``take_back``: its reply was not given, so it was never acknowledged) and
        fail-stop."""
        journal = self.journal
        if take_back and journal is not None and journal.seq > recorded_before:
            self.retract(journal.seq)
        self.fail_stop(exc)

    def fail_stop(self, exc: BaseException) -> None:
        """A command met a bug: run nothing more, read nothing more, and stop.

        The memory may hold a half-applied change, so it must not be snapshotted or
        served on: every session stops being read (lines already read are dropped, not
        run), the actors run nothing more, and ``on_fatal`` stops the server. Replies
        already given, and the faulty request's error, are still sent after the
        journal commit, as in any turn.
        """
        if self.failed:
            return
        self.failed = True
        for session in list(self.sessions.values()):
            if not session.closed:
                session.end_input()  # no further line is handled, none is read
        if self.on_fatal is not None:
            self.on_fatal(exc)

    # -- dispatch -------------------------------------------------------------------------
    def dispatch(self, session: SessionPort, message: Any) -> None:
        kind = type(message)
        try:
            self._request_counts[kind] += 1
        except KeyError:  # a type not in the table: its handler lookup below raises
            self._request_counts[kind] = 1
        self._table[kind](session, message)

    def requests_dispatched(self) -> int:
        """Requests dispatched since the start, of every op (the ``stats`` counter)."""
        return sum(self._request_counts.values())

    def readings(self) -> Readings:
        """What the metrics expose, read now (docs/METRICS.md)."""
        ex = self.exchange
        orders, trades = ex.counts()
        metrics = self.metrics
        sessions_open: dict[str, int] = dict.fromkeys(metrics.sessions_opened, 0)
        for session in self.sessions.values():
            sessions_open[session.frontend] = sessions_open.get(session.frontend, 0) + 1
        journal = self.journal
        return Readings(
            build=active_build(),
            sessions_open=sessions_open,
            sessions_opened=dict(metrics.sessions_opened),
            users_online=len(self.user_sessions),
            requests={op_name(kind): n for kind, n in self._request_counts.items()},
            errors=dict(metrics.errors),
            logins_failed=metrics.logins_failed,
            connections_refused=metrics.connections_refused,
            orders=orders,
            trades=trades,
            live_orders=ex.open_orders(),
            queue_depth={symbol: actor.queue.qsize() for symbol, actor in self.actors.items()},
            latency=metrics.latency.copy(),
            journal_fsync=journal.sync_times.copy() if journal is not None else None,
            journal_seq=journal.durable_seq if journal is not None else None,
        )

    def subscribers(self, channel: str, symbol: str) -> list[SessionPort]:
        return self.subs.get((channel, symbol), [])

    def _local(self, session: SessionPort, msg: Any, work: Callable[[], Answer],
               login: bool = False, admin: bool = False, mutates: bool = False) -> None:
        """Answer ``msg`` with ``work()`` in the session's order.

        ``mutates``: ``work`` changes the exchange (deposit, open_market); a bug in it
        fail-stops the server as in an actor (its record is taken back: the reply is the
        return value, so none was given). A bug in any other local request changed
        nothing that is journaled: it answers "internal error" and the server goes on.
        """
        def run() -> Answer:
            if self.failed:
                return refusal("bad_request", "internal error; the request was not run")
            if login and session.user is None:
                return refusal("auth_required", "op: log in first (login USER TOKEN)")
            if admin and not session.admin:
                return refusal("forbidden", "op: administrators only")
            before = self.recorded()
            try:
                return work()
            except CommandError as exc:
                return refusal(exc.code, exc.message)
            except Exception as exc:
                log.critical("bug in a request: %r", msg, exc_info=True)
                if mutates:
                    self.bug_in_command(exc, before)
                return refusal("bad_request", "internal error; the request was not run")
        session.local(run)

    def _route(self, session: SessionPort, msg: Any, pick: Callable[[str], SymbolActor],
               send: Callable[[SymbolActor, Slot, str], None], admin: bool = False,
               after_earlier: bool = False) -> None:
        """Send a request to an actor once it is this session's turn to dispatch it
        (with ``after_earlier``, once every earlier request of the session is answered)."""
        def dispatch(slot: Slot) -> None:
            user = session.user
            if user is None:
                session.fulfil(slot, refusal("auth_required", "op: log in first"))
                return
            if admin and not session.admin:
                session.fulfil(slot, refusal("forbidden", "op: administrators only"))
                return
            try:
                actor = pick(user)
            except CommandError as exc:
                session.fulfil(slot, refusal(exc.code, exc.message))
                return
            send(actor, slot, user)
        if after_earlier:
            session.after_earlier(dispatch)
        else:
            session.routed(dispatch)

    @staticmethod
    def _gather(parts: int, finish: Callable[[list[int]], None]) -> Callable[[list[int]], None]:
        """A callback that collects order ids from ``parts`` actors, then finishes once."""
        collected: list[int] = []
        remaining = [parts]

        def done(ids: list[int]) -> None:
            collected.extend(ids)
            remaining[0] -= 1
            if remaining[0] == 0:
                finish(sorted(collected))
        return done

    def _actor(self, symbol: str) -> SymbolActor:
        actor = self.actors.get(symbol)
        if actor is None:
            raise CommandError("unknown_symbol", f"symbol: unknown symbol {symbol!r}")
        return actor

    def _unsubscribe(self, session: SessionPort, key: tuple[str, str]) -> None:
        subs = self.subs.get(key)
        if subs is not None and session in subs:
            # A new list, not an edit in place: this runs when a subscriber is dropped in
            # the middle of an actor's loop over the list, which must still reach the rest.
            left = [s for s in subs if s is not session]
            if left:
                self.subs[key] = left
            else:
                del self.subs[key]
        self._track(key[1])

    def _track(self, symbol: str) -> None:
        """Books compute their level changes only while someone streams book or quote."""
        self.exchange.track_book(symbol, bool(
            self.subs.get(("book", symbol)) or self.subs.get(("quote", symbol))))
        if not self.subs.get(("quote", symbol)):
            # Nobody sees quotes now, so the last one pushed goes stale: forget it, or a
            # later subscriber misses the first change that happens to restore it.
            self.actors[symbol].last_quote = None
