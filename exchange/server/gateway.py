"""The gateway: routes each decoded request to the actor of its symbol or answers it.

Requests that change a book (place, modify, cancel, pause, resume, cancel_all, halts,
market close) go to the actors; everything else (session, account and market-data
queries, deposits) the gateway answers itself, in the session's order (see
:mod:`exchange.server.session`). The gateway also keeps who is logged in where, the
stream subscriptions, and flushes every session's output once per event-loop turn,
after the journal (when there is one) has made the turn's records durable.

In layers: :mod:`~exchange.server.gateway_base` (sessions, routing, output),
:mod:`~exchange.server.market_ops` (market data, streams, alerts),
:mod:`~exchange.server.admin_ops` (account administration and profiles) and this module
(session, order, account and market administration requests, and the dispatch table).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from exchange.core import commands as C
from exchange.core.builds import active_build
from exchange.core.engine import Exchange
from exchange.core.fees import FEE_ACCOUNT
from exchange.core.results import CommandError
from exchange.server.actor import SymbolActor
from exchange.server.admin_ops import AccountAdminOps
from exchange.server.auth import (
    BadTokenHash,
    ConnectionLogins,
    LoginThrottle,
    TokenHash,
    plain_matches,
)
from exchange.server.config import Limits
from exchange.server.gateway_base import refusal
from exchange.server.history_ops import HistoryOps
from exchange.server.market_ops import MarketDataOps
from exchange.server.port import SessionPort, Slot
from exchange.server.two_factor_ops import TwoFactorOps
from exchange.server.views import now_us
from exchange.server.watchlist_ops import WatchlistOps
from protocol import messages as M
from protocol import replies as R
from protocol.text import HELP_COMMANDS, HELP_SUMMARY

log = logging.getLogger("exchange.gateway")

_DUMMY_TOKEN = "\0" * 32
"""Compared against when the user does not exist and no token is hashed, so a failed
login takes the same time whether or not the user name is real."""

HASH_WORKERS = 2
"""Threads that check hashed tokens (scrypt releases the GIL, so they run beside the loop)."""
MAX_PENDING_CHECKS = 32
"""Hashed-token checks running or waiting; past it a login is refused ``server_busy``
(each check costs tens of milliseconds and 16 MiB, and the queue must not grow without
bound under a flood of logins from many connections)."""
LOG_USER_LEN = 64
"""Characters of a user name written to the log (the name is attacker-chosen)."""

Reply = Callable[[R.ReplyBase], None]


class Gateway(AccountAdminOps, TwoFactorOps, WatchlistOps, MarketDataOps):
    """The whole gateway: its core, market data, account administration, two-factor
    login, watchlists and search, and the handlers below."""

    def __init__(self, exchange: Exchange, limits: Limits) -> None:
        super().__init__(exchange, limits)
        self._table: dict[type[Any], Callable[[SessionPort, Any], None]] = {
            M.Login: self.on_login, M.Ping: self.on_ping, M.Help: self.on_help,
            M.Quit: self.on_quit, M.Place: self.on_place, M.Modify: self.on_modify,
            M.Cancel: self.on_order_op, M.Pause: self.on_order_op, M.Resume: self.on_order_op,
            M.CancelAll: self.on_cancel_all, M.Status: self.on_status, M.Orders: self.on_orders,
            M.Fills: self.on_fills, M.Balance: self.on_balance, M.Deposit: self.on_cash,
            M.Withdraw: self.on_cash, M.Portfolio: self.on_portfolio,
            M.Symbols: self.on_symbols, M.Book: self.on_book, M.Quote: self.on_quote,
            M.Trades: self.on_trades, M.Candles: self.on_candles,
            M.Subscribe: self.on_subscribe, M.Unsubscribe: self.on_unsubscribe,
            M.Alert: self.on_alert, M.Halt: self.on_halt, M.ResumeTrading: self.on_halt,
            M.CloseMarket: self.on_close_market, M.OpenMarket: self.on_open_market,
            M.Stats: self.on_stats,
            # two-factor login, watchlists and symbol search
            M.OtpSetup: self.on_otp_setup, M.OtpEnable: self.on_otp_enable,
            M.OtpDisable: self.on_otp_disable, M.Watchlist: self.on_watchlist,
            M.Watch: self.on_watch, M.Unwatch: self.on_watch, M.Search: self.on_search,
        }
        self._table.update(self.admin_handlers())  # account administration and profiles
        self._table.update(HistoryOps(self).handlers())  # history, audit, reports, inbox
        self.metrics.handles(self._table)  # every op counted, at zero until it comes
        self.login_throttle = LoginThrottle()
        self._login_conns: dict[int, ConnectionLogins] = {}
        self._hash_executor = ThreadPoolExecutor(HASH_WORKERS, thread_name_prefix="token-check")
        self._checks_pending = 0
        self._decoy_hash = self._decoy()

    def _decoy(self) -> TokenHash | None:
        """What a login for an unknown user is checked against when tokens are hashed:
        a hash as costly as the first configured one, so that its answer takes as long."""
        for account in self.exchange.users():
            if account.info.token_hash:
                return TokenHash.parse(account.info.token_hash).decoy()
        return None

    # -- session ops ---------------------------------------------------------------------
    def on_login(self, session: SessionPort, msg: M.Login) -> None:
        """A login is looked at once every earlier request of the session is answered
        (its throttle depends on how they went), and may be answered later than that:
        after the connection's delay, or once a hashed token is checked in a thread.
        Every later request of the session waits for it, in execution as in reply order,
        so that an order sent behind a login runs as the user logged in."""
        owed = [True]

        def dispatch(slot: Slot) -> None:
            def answer(reply: R.ReplyBase) -> None:
                owed[0] = False
                session.fulfil(slot, reply)
            self._login_turn(session, msg, answer)
        session.after_earlier(dispatch)
        if owed[0] and not session.closed:
            # Still owed: an empty local step behind it holds back the requests that
            # follow (a request for an actor would otherwise be dispatched at once).
            session.local(lambda: ())

    def _login_turn(self, session: SessionPort, msg: M.Login, answer: Reply) -> None:
        if session.closed:
            return
        assert self.loop is not None
        throttle = self.login_throttle
        conn = self._login_conns.setdefault(session.id, ConnectionLogins())
        if throttle.closing(conn):
            # Already refused and closing: the logins pipelined behind the last failure
            # are refused without a look (and without a log line each).
            answer(refusal("auth_failed", "token: too many failed logins on this "
                           "connection; it is being closed"))
            return
        now = self.loop.time()
        wait = throttle.wait(conn, now)
        if wait > 0:
            self.loop.call_later(wait, self._login_turn, session, msg, answer)
            return
        locked = throttle.locked(msg.user, now)
        if locked > 0:
            self._login_failed(session, conn, msg, answer, counted=False,
                               why=f"too many failed logins for this user; try again in "
                                   f"{math.ceil(locked)} s")
            return
        token, code = self.login_factors(msg)
        # The fee account is an account no one logs in as: an unknown user to a login.
        account = (self.exchange.find_account(msg.user) if msg.user != FEE_ACCOUNT
                   else None)
        info = account.info if account is not None else None
        token_hash = info.token_hash if info is not None else ""
        if token_hash or (info is None and self._decoy_hash is not None):
            try:
                check = TokenHash.parse(token_hash) if token_hash else self._decoy_hash
            except BadTokenHash as exc:  # checked with the config: a data directory's own
                log.error("the token_hash of %r is unusable: %s", msg.user[:LOG_USER_LEN], exc)
                check = None
            if check is None:
                self._login_checked(session, conn, msg, answer, False, code)
                return
            if self._checks_pending >= MAX_PENDING_CHECKS:
                answer(refusal("server_busy", "login: too many logins being checked; "
                               "try again shortly"))
                return
            self._checks_pending += 1
            future = self.loop.run_in_executor(self._hash_executor, check.verify, token)

            def checked(done: asyncio.Future[bool]) -> None:
                self._checks_pending -= 1
                ok = False
                if done.cancelled():
                    pass
                elif done.exception() is not None:
                    log.error("checking the token of %r failed: %r",
                              msg.user[:LOG_USER_LEN], done.exception())
                else:
                    ok = done.result() and info is not None
                self._login_checked(session, conn, msg, answer, ok, code)
            future.add_done_callback(checked)
            return
        expected = info.token if info is not None else _DUMMY_TOKEN
        ok = plain_matches(token, expected) and info is not None
        self._login_checked(session, conn, msg, answer, ok, code)

    def _login_checked(self, session: SessionPort, conn: ConnectionLogins, msg: M.Login,
                       answer: Reply, ok: bool, code: str | None) -> None:
        if session.closed:
            return
        account = (self.exchange.find_account(msg.user)
                   if ok and msg.user != FEE_ACCOUNT else None)
        # One answer whichever factor was wrong: a refusal says nothing of whether the
        # token was right, nor of whether the user has two-factor login on.
        if account is None or not self.second_factor_ok(session, msg.user, code):
            self._login_failed(session, conn, msg, answer, counted=True,
                               why="unknown user or wrong token, or a one-time code (otp) "
                                   "missing or wrong")
            return
        if account.info.disabled:
            # The token was right, so saying why tells its holder only what they may know.
            log.warning("login of disabled user %r from %s refused (session %d)",
                        msg.user[:LOG_USER_LEN], session.peer, session.id)
            answer(refusal("auth_failed", "user: the account is disabled; ask an "
                           "administrator"))
            return
        if session.user is not None:
            self.note_session(session, "logout")
        self._forget_user(session)
        session.user = msg.user
        session.admin = account.info.admin
        self.user_sessions.setdefault(msg.user, []).append(session)
        self.note_session(session, "login")
        log.info("session %d from %s logged in as %r", session.id, session.peer, msg.user)
        answer(R.Welcome(user=msg.user, name=account.info.name))

    def _login_failed(self, session: SessionPort, conn: ConnectionLogins, msg: M.Login,
                      answer: Reply, counted: bool, why: str) -> None:
        assert self.loop is not None
        self.metrics.logins_failed += 1
        closing = self.login_throttle.failed(conn, msg.user if counted else None,
                                             self.loop.time())
        log.warning("failed login for user %r from %s (session %d, failure %d on this "
                    "connection): %s%s", msg.user[:LOG_USER_LEN], session.peer, session.id,
                    conn.failures, why, "; closing the connection" if closing else "")
        if closing:
            why += "; too many failed logins, closing the connection"
            # Read nothing more; requests already handed on are answered, then the close.
            session.end_input()
        answer(refusal("auth_failed", f"token: {why}"))
        if closing:
            session.close_after_flush()

    def session_closed(self, session: SessionPort, exc: Exception | None) -> None:
        self._login_conns.pop(session.id, None)
        super().session_closed(session, exc)

    def stop(self) -> None:
        super().stop()
        self._hash_executor.shutdown(wait=False, cancel_futures=True)

    def on_ping(self, session: SessionPort, msg: M.Ping) -> None:
        self._local(session, msg, lambda: R.Pong(ts=self.views.clock.fmt(now_us())))

    def on_help(self, session: SessionPort, msg: M.Help) -> None:
        self._local(session, msg, lambda: R.HelpReply(text=HELP_SUMMARY,
                                                   commands=list(HELP_COMMANDS)))

    def on_quit(self, session: SessionPort, msg: M.Quit) -> None:
        def work() -> R.ReplyBase:
            session.close_after_flush()
            return R.Bye()
        self._local(session, msg, work)

    # -- orders ---------------------------------------------------------------------------
    def on_place(self, session: SessionPort, msg: M.Place) -> None:
        user = session.user
        actor = self.actors.get(msg.symbol)
        if user is not None and actor is not None and not session.unrun:
            # The common case, without the closures of the general route below.
            self._send_place(actor, session, session.open_slot(), msg, user)
            return
        self._route(session, msg, lambda user: self._actor(msg.symbol),
                    lambda actor, slot, user: self._send_place(actor, session, slot, msg, user))

    def _send_place(self, actor: SymbolActor, session: SessionPort, slot: Slot, msg: M.Place,
                    user: str) -> None:
        if msg.client_order_id is not None:
            # So that a cancel/modify by this client id, pipelined right behind the place,
            # is routed to this symbol before the place has run.
            self.pending_cids[(user, msg.client_order_id)] = msg.symbol
        actor.submit(actor.do_place, session, slot, msg, user)

    def _order_actor(self, user: str, msg: Any) -> SymbolActor:
        ex = self.exchange
        if msg.order_id is not None:
            order = ex.order(msg.order_id)
            if order is None or order.user != user:
                raise CommandError("unknown_order", f"order_id: no such order {msg.order_id}")
            return self.actors[order.symbol]
        order = ex.order_by_client_id(user, msg.client_order_id)
        if order is not None:
            return self.actors[order.symbol]
        symbol = self.pending_cids.get((user, msg.client_order_id))
        if symbol is None:
            raise CommandError("unknown_order",
                               f"client_order_id: no such order {msg.client_order_id!r}")
        return self.actors[symbol]

    def on_modify(self, session: SessionPort, msg: M.Modify) -> None:
        def send(actor: SymbolActor, slot: Slot, user: str) -> None:
            actor.submit(actor.do_modify, session, slot, msg, user)
        self._route(session, msg, lambda user: self._order_actor(user, msg), send)

    def on_order_op(self, session: SessionPort, msg: M.Cancel | M.Pause | M.Resume) -> None:
        op = {M.Cancel: "cancel", M.Pause: "pause", M.Resume: "resume"}[type(msg)]

        def send(actor: SymbolActor, slot: Slot, user: str) -> None:
            actor.submit(self.order_ops[actor.symbol][op], session, slot, msg, user)
        self._route(session, msg, lambda user: self._order_actor(user, msg), send)

    def on_cancel_all(self, session: SessionPort, msg: M.CancelAll) -> None:
        def pick(user: str) -> SymbolActor:
            return self._actor(msg.symbol) if msg.symbol is not None else next(
                iter(self.actors.values()))

        def send(first: SymbolActor, slot: Slot, user: str) -> None:
            actors = [first] if msg.symbol is not None else list(self.actors.values())
            busy = next((a for a in actors if a.busy()), None)
            if busy is not None:  # all parts or none: a lost part would never answer
                session.fulfil(slot, busy.busy_error(msg))
                return
            done = self._gather(len(actors), lambda ids: session.fulfil(
                slot, R.CanceledAll(count=len(ids), order_ids=ids)))
            for actor in actors:
                actor.submit(actor.do_cancel_all, session, None, msg, (user, done))
        self._route(session, msg, pick, send)

    def on_status(self, session: SessionPort, msg: M.Status) -> None:
        def work() -> R.ReplyBase:
            order = self.exchange.find(session.user or "", msg.order_id, msg.client_order_id)
            return R.OrderReply(order=self.views.order(order))
        self._local(session, msg, work, login=True)

    def on_orders(self, session: SessionPort, msg: M.Orders) -> None:
        def work() -> R.ReplyBase:
            if msg.symbol is not None:
                self._actor(msg.symbol)
            orders = self.exchange.orders_of(session.user or "", msg.symbol,
                                             live_only=msg.status == "live")
            return R.OrdersReply(orders=[self.views.order(o) for o in orders])
        self._local(session, msg, work, login=True)

    def on_fills(self, session: SessionPort, msg: M.Fills) -> None:
        def work() -> R.ReplyBase:
            if msg.symbol is not None:
                self._actor(msg.symbol)
            fills = self.exchange.fills_of(session.user or "", msg.symbol, msg.limit)
            return R.FillsReply(fills=[self.views.fill(t, side) for t, side in fills])
        self._local(session, msg, work, login=True)

    # -- accounts ---------------------------------------------------------------------------
    def on_balance(self, session: SessionPort, msg: M.Balance) -> None:
        def work() -> R.ReplyBase:
            return self.views.balance(session.user or "")
        self._local(session, msg, work, login=True)

    def on_cash(self, session: SessionPort, msg: M.Deposit | M.Withdraw) -> None:
        deposit = isinstance(msg, M.Deposit)

        def work() -> R.ReplyBase:
            user = session.user or ""
            units = self.exchange.money.to_units(msg.amount)
            if units is None:
                raise CommandError("bad_request", "amount: must be positive, in units of "
                                   f"{self.views.money.fmt(1)}")
            # Recorded before it is applied: a record that cannot be encoded is a
            # refusal with nothing applied. A refusal by the engine changes nothing, so
            # its record is taken back (it is the last one, not yet committed).
            journal = self.journal
            cmd = (C.Deposit if deposit else C.Withdraw)(now_us(), user, units)
            self.record(cmd)
            try:
                self.exchange.apply(cmd)
            except CommandError:
                if journal is not None:
                    self.retract(journal.seq)
                raise
            return self.views.balance(user)
        self._local(session, msg, work, login=True, mutates=True)

    def on_portfolio(self, session: SessionPort, msg: M.Portfolio) -> None:
        def work() -> R.ReplyBase:
            return self.views.portfolio(session.user or "")
        self._local(session, msg, work, login=True)

    # -- administration ---------------------------------------------------------------------------
    def on_halt(self, session: SessionPort, msg: M.Halt | M.ResumeTrading) -> None:
        halted = isinstance(msg, M.Halt)

        def send(actor: SymbolActor, slot: Slot, user: str) -> None:
            actor.submit(actor.do_halt, session, slot, msg, halted)
        self._route(session, msg, lambda user: self._actor(msg.symbol), send, admin=True)

    def on_close_market(self, session: SessionPort, msg: M.CloseMarket) -> None:
        def send(first: SymbolActor, slot: Slot, user: str) -> None:
            busy = next((a for a in self.actors.values() if a.busy()), None)
            if busy is not None:
                session.fulfil(slot, busy.busy_error(msg))
                return
            cmd = C.MarketOpen(now_us(), user, False)
            self.record(cmd)  # before it is applied, see on_cash
            self.exchange.apply(cmd)
            self.close_all_books(msg.expire == "all", lambda ids: session.fulfil(
                slot, R.MarketClosed(count=len(ids), order_ids=ids)))
        # It closes every book at once, so it waits for this session's earlier requests:
        # a place sent before it must not be rejected market_closed.
        self._route(session, msg, lambda user: next(iter(self.actors.values())), send,
                    admin=True, after_earlier=True)

    def close_all_books(self, everything: bool, finish: Callable[[list[int]], None] | None) -> None:
        """Expire ``day`` orders (or every live order) on every book, via the actors."""
        actors = list(self.actors.values())
        done = self._gather(len(actors), finish) if finish is not None else None
        for actor in actors:
            actor.submit(actor.do_expire_session, None, None, None, (everything, done))

    def on_open_market(self, session: SessionPort, msg: M.OpenMarket) -> None:
        def work() -> R.ReplyBase:
            cmd = C.MarketOpen(now_us(), session.user or "", True)
            self.record(cmd)  # before it is applied, see on_cash
            self.exchange.apply(cmd)
            return R.MarketOpened()
        self._local(session, msg, work, login=True, admin=True, mutates=True)

    def on_stats(self, session: SessionPort, msg: M.Stats) -> None:
        def work() -> R.ReplyBase:
            ex = self.exchange
            orders, trades = ex.counts()
            counters = {
                "sessions": len(self.sessions),
                "users_online": len(self.user_sessions),
                "sessions_opened": self.counters["sessions_opened"],
                "requests": self.requests_dispatched(),
                "orders": orders,
                "trades": trades,
                "live_orders": ex.open_orders(),
            }
            for symbol, actor in self.actors.items():
                counters[f"queue_depth.{symbol}"] = actor.queue.qsize()
            # fees: the fee account's cash, in cash units (it cannot log in to ask)
            fees = ex.find_account(FEE_ACCOUNT)
            counters["fees_collected"] = fees.cash if fees is not None else 0
            if self.history is not None:
                behind, waited = self.history.lag()
                counters["history.lag_records"] = behind
                counters["history.lag_ms"] = int(waited * 1000)
            return R.StatsReply(counters=counters, build=active_build())
        self._local(session, msg, work, login=True, admin=True)
