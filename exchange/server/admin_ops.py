"""Account administration and profiles: the requests that create, change and disable
users and list symbols at run time, and a user's own profile.

Each change is a command record (:mod:`exchange.core.commands`), recorded before it is
applied, as every state change is; a record the engine refuses is taken back (it changed
nothing). What else happens around a record:

* ``create_user`` makes the token here (``secrets``), hashes it in the gateway's hashing
  threads (scrypt, tens of milliseconds: never on the event loop) and records only the
  hash. The clear token is in the reply and nowhere else. The request's place in the
  session's order is kept, and the session's later requests wait for it, as for a login.
* ``disable_user`` records the flag, then cancels the user's live orders with one
  ``cancel_all`` per book, sent to each book's actor as a ``cancel_all`` request is: each
  book's owner cancels its own, and the user's sessions hear each cancel. Once every book
  has answered, the user's sessions are ended (each answers what it owes, is told why,
  and closes) and the administrator gets the reply. The flag is applied first, so an
  order of the user still in an actor's queue, or sent meanwhile, is refused when it
  runs, and no new login succeeds.
* ``add_symbol`` starts the new book's actor at once and tells the front-ends that keep a
  table of symbols (``symbol_listeners``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from exchange.core import commands as C
from exchange.core.administration import check_profile, check_user_id
from exchange.core.engine import Exchange
from exchange.core.results import CommandError
from exchange.server.actor import SymbolActor
from exchange.server.auth import hash_token
from exchange.server.config import Limits
from exchange.server.gateway_base import GatewayCore, refusal
from exchange.server.port import SessionPort, Slot
from exchange.server.views import now_us
from protocol import messages as M
from protocol import replies as R

log = logging.getLogger("exchange.gateway")

TOKEN_BYTES = 24
"""Random bytes of a generated token (32 characters of URL-safe base64): far beyond
guessing, short enough to paste."""

Reply = Callable[[R.ReplyBase], None]


def _decimal_text(value: Any) -> str | None:
    """A request's decimal as the record keeps it: plain text, as the config writes it."""
    return None if value is None else format(value, "f")


class AccountAdminOps(GatewayCore):
    """Handlers of create_user, profile, update_profile, disable_user, enable_user and
    add_symbol (the gateway composes them; see ``admin_handlers``)."""

    _hash_executor: ThreadPoolExecutor
    """The gateway's threads for token hashes (its logins check hashes there too)."""

    def __init__(self, exchange: Exchange, limits: Limits) -> None:
        super().__init__(exchange, limits)
        self.symbol_listeners: list[Callable[[str], None]] = []
        """Told of each symbol listed at run time (see ``GatewayPort``)."""

    def admin_handlers(self) -> dict[type[Any], Callable[[SessionPort, Any], None]]:
        """This module's part of the gateway's dispatch table."""
        return {
            M.CreateUser: self.on_create_user, M.Profile: self.on_profile,
            M.UpdateProfile: self.on_update_profile, M.DisableUser: self.on_disable_user,
            M.EnableUser: self.on_enable_user, M.AddSymbol: self.on_add_symbol,
        }

    def _recorded_apply(self, cmd: C.Command) -> None:
        """Record ``cmd``, then apply it; a refusal by the engine takes the record back."""
        self.record(cmd)
        try:
            self.exchange.apply(cmd)
        except CommandError:
            journal = self.journal
            if journal is not None:
                journal.retract(journal.seq)
            raise

    # -- create_user -----------------------------------------------------------------------
    def on_create_user(self, session: SessionPort, msg: M.CreateUser) -> None:
        owed = [True]

        def dispatch(slot: Slot) -> None:
            def answer(reply: R.ReplyBase) -> None:
                owed[0] = False
                session.fulfil(slot, reply)
            self._create_user(session, msg, answer)
        session.after_earlier(dispatch)
        if owed[0] and not session.closed:
            # Still hashing: an empty local step behind it holds back what follows, so
            # that a request sent right after the creation sees the new user.
            session.local(lambda: ())

    def _create_user(self, session: SessionPort, msg: M.CreateUser, answer: Reply) -> None:
        if session.closed:
            return
        if session.user is None:
            answer(refusal("auth_required", "op: log in first (login USER TOKEN)"))
            return
        if not session.admin:
            answer(refusal("forbidden", "op: administrators only"))
            return
        try:
            check_user_id(msg.user)
            check_profile(msg.name, msg.phone, msg.email)
            if self.exchange.find_account(msg.user) is not None:
                raise CommandError("bad_request", f"user: {msg.user!r} already exists")
            cash = 0
            if msg.cash is not None:
                units = self.exchange.money.parse_any(msg.cash)
                if units is None:
                    raise CommandError("bad_request", "cash: must be zero or positive, in "
                                       f"units of {self.views.money.fmt(1)}")
                cash = units
            holdings = self._holdings(msg)
        except CommandError as exc:
            answer(refusal(exc.code, exc.message))
            return
        token = secrets.token_urlsafe(TOKEN_BYTES)
        admin = session.user
        assert self.loop is not None
        future = self.loop.run_in_executor(self._hash_executor, hash_token, token)

        def hashed(done: asyncio.Future[str]) -> None:
            if session.closed:
                return
            if self.failed or done.cancelled() or done.exception() is not None:
                if not done.cancelled() and done.exception() is not None:
                    log.error("hashing a new token failed: %r", done.exception())
                answer(refusal("bad_request", "internal error; the request was not run"))
                return
            cmd = C.CreateUser(now_us(), admin, msg.user, msg.name, msg.phone, msg.email,
                               done.result(), msg.admin, cash, holdings)
            before = self.recorded()
            try:
                self._recorded_apply(cmd)  # checked again: another may have taken the id
            except CommandError as exc:
                answer(refusal(exc.code, exc.message))
                return
            except Exception as exc:
                log.critical("bug in a request: %r", msg, exc_info=True)
                self.bug_in_command(exc, before)
                answer(refusal("bad_request", "internal error; the request was not run"))
                return
            log.info("user %r created by %r", msg.user, admin)
            account = self.exchange.account(msg.user)
            answer(R.UserCreated(profile=self.views.profile(account), token=token))
        future.add_done_callback(hashed)

    def _holdings(self, msg: M.CreateUser) -> dict[str, int]:
        """The request's starting holdings in lots of each symbol."""
        lots: dict[str, int] = {}
        for symbol, qty in msg.holdings.items():
            spec = self._actor(symbol).spec
            held = 0 if qty == 0 else spec.qty_lots(qty)
            if held is None:
                raise CommandError("bad_request", f"holdings.{symbol}: {qty} is not a "
                                   f"non-negative multiple of the lot size {spec.lot_size}")
            lots[symbol] = held
        return lots

    # -- profiles --------------------------------------------------------------------------
    def _target(self, session: SessionPort, user: str | None) -> str:
        """The user a profile request is about: the session's own, or (administrators
        only) the one it names."""
        own = session.user or ""
        if user is None or user == own:
            return own
        if not session.admin:
            raise CommandError("forbidden", "user: only an administrator may name another "
                               "user; leave it out for your own profile")
        if self.exchange.find_account(user) is None:
            raise CommandError("bad_request", f"user: no such user {user!r}")
        return user

    def on_profile(self, session: SessionPort, msg: M.Profile) -> None:
        def work() -> R.ReplyBase:
            target = self._target(session, msg.user)
            return R.ProfileReply(profile=self.views.profile(self.exchange.account(target)))
        self._local(session, msg, work, login=True)

    def on_update_profile(self, session: SessionPort, msg: M.UpdateProfile) -> None:
        def work() -> R.ReplyBase:
            target = self._target(session, msg.user)
            self._recorded_apply(C.UpdateProfile(now_us(), session.user or "", target,
                                                 msg.name, msg.phone, msg.email))
            return R.ProfileReply(profile=self.views.profile(self.exchange.account(target)))
        self._local(session, msg, work, login=True, mutates=True)

    # -- disable and enable ----------------------------------------------------------------
    def on_disable_user(self, session: SessionPort, msg: M.DisableUser) -> None:
        def send(first: SymbolActor, slot: Slot, admin: str) -> None:
            target = msg.user
            if self.exchange.find_account(target) is None:
                session.fulfil(slot, refusal("bad_request", f"user: no such user {target!r}"))
                return
            if target == admin:
                session.fulfil(slot, refusal("bad_request", "user: an administrator cannot "
                                             "disable their own account"))
                return
            actors = list(self.actors.values())
            busy = next((a for a in actors if a.busy()), None)
            if busy is not None:  # all books or none: a lost part would never answer
                session.fulfil(slot, busy.busy_error(msg))
                return
            before = self.recorded()
            try:
                self._recorded_apply(C.SetDisabled(now_us(), admin, target, True))
            except CommandError as exc:
                session.fulfil(slot, refusal(exc.code, exc.message))
                return
            except Exception as exc:
                log.critical("bug in a request: %r", msg, exc_info=True)
                self.bug_in_command(exc, before)
                session.fulfil(slot, refusal("bad_request",
                                             "internal error; the request was not run"))
                return

            def finish(ids: list[int]) -> None:
                ended = self.end_sessions_of(target)
                log.info("user %r disabled by %r: %d orders canceled, %d sessions ended",
                         target, admin, len(ids), ended)
                session.fulfil(slot, R.UserDisabled(user=target, count=len(ids),
                                                    order_ids=ids))

            def finished(ids: list[int]) -> None:
                # The last book calls this before it tells of its own cancels: end the
                # sessions after that, so that they hear every cancel first.
                assert self.loop is not None
                self.loop.call_soon(finish, ids)
            done = self._gather(len(actors), finished)
            for actor in actors:
                # Sent as this session's request: the user's sessions hear each cancel.
                actor.submit(actor.do_cancel_all, session, None, msg, (target, done))
        # Like close_market, it waits for this session's earlier requests, and it needs a
        # book's actor only to exist (each one gets its part).
        self._route(session, msg, lambda user: next(iter(self.actors.values())), send,
                    admin=True, after_earlier=True)

    def end_sessions_of(self, user: str) -> int:
        """End every session logged in as ``user``: nothing more is read from it, what it
        owes is answered, then a line says why and it closes. The number ended."""
        sessions = list(self.user_sessions.get(user, ()))
        notice = refusal("auth_failed", "user: the account was disabled by an "
                         "administrator; this session is closed")
        for other in sessions:
            other.end_input()
            other.push(notice)
            other.close_after_flush()
        return len(sessions)

    def on_enable_user(self, session: SessionPort, msg: M.EnableUser) -> None:
        def work() -> R.ReplyBase:
            self._recorded_apply(C.SetDisabled(now_us(), session.user or "", msg.user, False))
            log.info("user %r enabled by %r", msg.user, session.user)
            return R.UserEnabled(user=msg.user)
        self._local(session, msg, work, login=True, admin=True, mutates=True)

    # -- add_symbol ------------------------------------------------------------------------
    def on_add_symbol(self, session: SessionPort, msg: M.AddSymbol) -> None:
        def work() -> R.ReplyBase:
            cmd = C.AddSymbol(now_us(), session.user or "", msg.symbol,
                              format(msg.tick_size, "f"), format(msg.lot_size, "f"),
                              _decimal_text(msg.reference_price),
                              _decimal_text(msg.price_band), _decimal_text(msg.max_price),
                              _decimal_text(msg.max_qty))
            self._recorded_apply(cmd)
            self.listed(msg.symbol)
            log.info("symbol %r listed by %r", msg.symbol, session.user)
            return R.SymbolAdded(symbol=self.views.symbol_info(msg.symbol))
        self._local(session, msg, work, login=True, admin=True, mutates=True)

    def listed(self, symbol: str) -> None:
        """A symbol the exchange has just listed: its actor, started, and the front-ends
        told. A front-end that cannot take it is logged, and the symbol trades on the
        others."""
        self.views.listed(symbol)
        actor = self.actors[symbol] = SymbolActor(self, symbol)
        self.order_ops[symbol] = actor.order_handlers()
        if self.loop is not None:
            actor.start()
        for listener in self.symbol_listeners:
            try:
                listener(symbol)
            except ValueError as exc:
                log.warning("symbol %r is not served by a front-end: %s", symbol, exc)
