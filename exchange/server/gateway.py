"""The gateway: routes each decoded request to the actor of its symbol or answers it.

Requests that change a book (place, modify, cancel, pause, resume, cancel_all, halts,
market close) go to the actors; everything else (session, account and market-data
queries, deposits) the gateway answers itself, in the session's order (see
:mod:`exchange.server.session`). The gateway also keeps who is logged in where, the
stream subscriptions, and flushes every session's output once per event-loop turn,
after the journal (when there is one) has made the turn's records durable.

In three layers: :mod:`~exchange.server.gateway_base` (sessions, routing, output),
:mod:`~exchange.server.market_ops` (market data, streams, alerts) and this module
(session, order, account and administration requests, and the dispatch table).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import Any

from exchange.core.engine import Exchange
from exchange.core.results import CommandError
from exchange.server.actor import SymbolActor
from exchange.server.config import Limits
from exchange.server.market_ops import MarketDataOps
from exchange.server.session import Session, Slot
from exchange.server.views import now_us
from protocol import messages as M
from protocol import replies as R
from protocol.codec import encode
from protocol.text import HELP_TEXT

log = logging.getLogger("exchange.gateway")

_DUMMY_TOKEN = b"\0" * 32
"""Compared against when the user does not exist, so a failed login takes the same time
whether or not the user name is real."""


class Gateway(MarketDataOps):
    """The whole gateway: its core, market data, and the handlers below."""

    def __init__(self, exchange: Exchange, limits: Limits) -> None:
        super().__init__(exchange, limits)
        self._table: dict[type[Any], Callable[[Session, Any], None]] = {
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
        }

    # -- session ops ---------------------------------------------------------------------
    def on_login(self, session: Session, msg: M.Login) -> None:
        def work() -> R.Message:
            account = self.exchange.accounts.get(msg.user)
            expected = account.info.token.encode() if account is not None else _DUMMY_TOKEN
            matches = hmac.compare_digest(msg.token.encode(), expected)
            if account is None or not matches:
                raise CommandError("auth_failed", "token: unknown user or wrong token")
            self._forget_user(session)
            session.user = msg.user
            session.admin = account.info.admin
            self.user_sessions.setdefault(msg.user, []).append(session)
            log.info("session %d logged in as %s", session.id, msg.user)
            return R.Welcome(user=msg.user, name=account.info.name, ref=msg.ref)
        self._local(session, msg, work)

    def on_ping(self, session: Session, msg: M.Ping) -> None:
        self._local(session, msg, lambda: R.Pong(ts=self.views.clock.fmt(now_us()), ref=msg.ref))

    def on_help(self, session: Session, msg: M.Help) -> None:
        self._local(session, msg, lambda: R.HelpReply(text=HELP_TEXT, ref=msg.ref))

    def on_quit(self, session: Session, msg: M.Quit) -> None:
        def work() -> R.Message:
            session.close_after_flush()
            return R.Bye(ref=msg.ref)
        self._local(session, msg, work)

    # -- orders ---------------------------------------------------------------------------
    def on_place(self, session: Session, msg: M.Place) -> None:
        user = session.user
        actor = self.actors.get(msg.symbol)
        if user is not None and actor is not None and not session.unrun:
            # The common case, without the closures of the general route below.
            self._send_place(actor, session, session.open_slot(), msg, user)
            return
        self._route(session, msg, lambda user: self._actor(msg.symbol),
                    lambda actor, slot, user: self._send_place(actor, session, slot, msg, user))

    def _send_place(self, actor: SymbolActor, session: Session, slot: Slot, msg: M.Place,
                    user: str) -> None:
        if msg.client_order_id is not None:
            # So that a cancel/modify by this client id, pipelined right behind the place,
            # is routed to this symbol before the place has run.
            self.pending_cids[(user, msg.client_order_id)] = msg.symbol
        actor.submit(actor.do_place, session, slot, msg, user)

    def _order_actor(self, user: str, msg: Any) -> SymbolActor:
        store = self.exchange.store
        if msg.order_id is not None:
            order = store.get_order(msg.order_id)
            if order is None or order.user != user:
                raise CommandError("unknown_order", f"order_id: no such order {msg.order_id}")
            return self.actors[order.symbol]
        order = store.by_client_id(user, msg.client_order_id)
        if order is not None:
            return self.actors[order.symbol]
        symbol = self.pending_cids.get((user, msg.client_order_id))
        if symbol is None:
            raise CommandError("unknown_order",
                               f"client_order_id: no such order {msg.client_order_id!r}")
        return self.actors[symbol]

    def on_modify(self, session: Session, msg: M.Modify) -> None:
        def send(actor: SymbolActor, slot: Slot, user: str) -> None:
            actor.submit(actor.do_modify, session, slot, msg, user)
        self._route(session, msg, lambda user: self._order_actor(user, msg), send)

    def on_order_op(self, session: Session, msg: M.Cancel | M.Pause | M.Resume) -> None:
        op = {M.Cancel: "cancel", M.Pause: "pause", M.Resume: "resume"}[type(msg)]

        def send(actor: SymbolActor, slot: Slot, user: str) -> None:
            actor.submit(self.order_ops[actor.symbol][op], session, slot, msg, user)
        self._route(session, msg, lambda user: self._order_actor(user, msg), send)

    def on_cancel_all(self, session: Session, msg: M.CancelAll) -> None:
        def pick(user: str) -> SymbolActor:
            return self._actor(msg.symbol) if msg.symbol is not None else next(
                iter(self.actors.values()))

        def send(first: SymbolActor, slot: Slot, user: str) -> None:
            actors = [first] if msg.symbol is not None else list(self.actors.values())
            busy = next((a for a in actors if a.busy()), None)
            if busy is not None:  # all parts or none: a lost part would never answer
                session.fulfil(slot, busy.busy_error(msg))
                return
            done = self._gather(len(actors), lambda ids: session.fulfil(slot, encode(
                R.CanceledAll(count=len(ids), order_ids=ids, ref=msg.ref))))
            for actor in actors:
                actor.submit(actor.do_cancel_all, session, None, msg, (user, done))
        self._route(session, msg, pick, send)

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

    def on_status(self, session: Session, msg: M.Status) -> None:
        def work() -> R.Message:
            order = self.exchange.find(session.user or "", msg.order_id, msg.client_order_id)
            return R.OrderReply(order=self.views.order(order), ref=msg.ref)
        self._local(session, msg, work, login=True)

    def on_orders(self, session: Session, msg: M.Orders) -> None:
        def work() -> R.Message:
            if msg.symbol is not None:
                self._actor(msg.symbol)
            orders = self.exchange.orders_of(session.user or "", msg.symbol,
                                             live_only=msg.status == "live")
            return R.OrdersReply(orders=[self.views.order(o) for o in orders], ref=msg.ref)
        self._local(session, msg, work, login=True)

    def on_fills(self, session: Session, msg: M.Fills) -> None:
        def work() -> R.Message:
            if msg.symbol is not None:
                self._actor(msg.symbol)
            fills = self.exchange.fills_of(session.user or "", msg.symbol, msg.limit)
            return R.FillsReply(fills=[self.views.fill(t, side) for t, side in fills],
                                ref=msg.ref)
        self._local(session, msg, work, login=True)

    # -- accounts ---------------------------------------------------------------------------
    def on_balance(self, session: Session, msg: M.Balance) -> None:
        def work() -> R.Message:
            reply = self.views.balance(session.user or "")
            reply.ref = msg.ref
            return reply
        self._local(session, msg, work, login=True)

    def on_cash(self, session: Session, msg: M.Deposit | M.Withdraw) -> None:
        deposit = isinstance(msg, M.Deposit)

        def work() -> R.Message:
            user = session.user or ""
            units = self.exchange.money.to_units(msg.amount)
            if units is None:
                raise CommandError("bad_request", "amount: must be positive, in units of "
                                   f"{self.views.money.fmt(1)}")
            # Recorded before it is applied: a record that cannot be encoded is a
            # refusal with nothing applied. A refusal by the engine changes nothing, so
            # its record is taken back (it is the last one, not yet committed).
            journal = self.journal
            self.record(("deposit" if deposit else "withdraw", user, units))
            try:
                if deposit:
                    self.exchange.deposit(user, units)
                else:
                    self.exchange.withdraw(user, units)
            except CommandError:
                if journal is not None:
                    journal.retract(journal.seq)
                raise
            reply = self.views.balance(user)
            reply.ref = msg.ref
            return reply
        self._local(session, msg, work, login=True, mutates=True)

    def on_portfolio(self, session: Session, msg: M.Portfolio) -> None:
        def work() -> R.Message:
            reply = self.views.portfolio(session.user or "")
            reply.ref = msg.ref
            return reply
        self._local(session, msg, work, login=True)

    # -- administration ---------------------------------------------------------------------------
    def on_halt(self, session: Session, msg: M.Halt | M.ResumeTrading) -> None:
        halted = isinstance(msg, M.Halt)

        def send(actor: SymbolActor, slot: Slot, user: str) -> None:
            actor.submit(actor.do_halt, session, slot, msg, halted)
        self._route(session, msg, lambda user: self._actor(msg.symbol), send, admin=True)

    def on_close_market(self, session: Session, msg: M.CloseMarket) -> None:
        def send(first: SymbolActor, slot: Slot, user: str) -> None:
            busy = next((a for a in self.actors.values() if a.busy()), None)
            if busy is not None:
                session.fulfil(slot, busy.busy_error(msg))
                return
            self.record(("market_open", False))  # before it is applied, see on_cash
            self.exchange.set_market_open(False)
            self.close_all_books(msg.expire == "all", lambda ids: session.fulfil(slot, encode(
                R.MarketClosed(count=len(ids), order_ids=ids, ref=msg.ref))))
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

    def on_open_market(self, session: Session, msg: M.OpenMarket) -> None:
        def work() -> R.Message:
            self.record(("market_open", True))  # before it is applied, see on_cash
            self.exchange.set_market_open(True)
            return R.MarketOpened(ref=msg.ref)
        self._local(session, msg, work, login=True, admin=True, mutates=True)

    def on_stats(self, session: Session, msg: M.Stats) -> None:
        def work() -> R.Message:
            ex = self.exchange
            counters = {
                "sessions": len(self.sessions),
                "users_online": len(self.user_sessions),
                "sessions_opened": self.counters["sessions_opened"],
                "requests": self.counters["requests"],
                "orders": ex.next_order_id - 1,
                "trades": ex.next_trade_id - 1,
                "live_orders": sum(a.open_orders for a in ex.accounts),
            }
            for symbol, actor in self.actors.items():
                counters[f"queue_depth.{symbol}"] = actor.queue.qsize()
            return R.StatsReply(counters=counters, ref=msg.ref)
        self._local(session, msg, work, login=True, admin=True)
