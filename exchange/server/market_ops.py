"""Market data, streams and price alerts: the requests any session may make.

Answered by the gateway itself, in the session's order; a ``book`` subscription's
snapshot is taken at that moment, so its ``seq`` fences the updates that follow.
"""

from __future__ import annotations

from exchange.core.results import CommandError
from exchange.server.actor import Alert
from exchange.server.gateway_base import GatewayCore, error_line
from exchange.server.session import Session
from protocol import messages as M
from protocol import replies as R
from protocol.codec import encode

MAX_ALERTS_PER_USER = 1000
"""Alerts wait in memory until they fire: a client must not be able to grow that forever."""


class MarketDataOps(GatewayCore):
    """Handlers of symbols, book, quote, trades, candles, subscribe/unsubscribe and alert."""

    def on_symbols(self, session: Session, msg: M.Symbols) -> None:
        def work() -> R.Message:
            reply = self.views.symbols()
            reply.ref = msg.ref
            return reply
        self._local(session, msg, work)

    def on_book(self, session: Session, msg: M.Book) -> None:
        def work() -> R.Message:
            self._actor(msg.symbol)
            reply = self.views.book(msg.symbol, msg.depth)
            reply.ref = msg.ref
            return reply
        self._local(session, msg, work)

    def on_quote(self, session: Session, msg: M.Quote) -> None:
        def work() -> R.Message:
            self._actor(msg.symbol)
            reply = self.views.quote(msg.symbol)
            reply.ref = msg.ref
            return reply
        self._local(session, msg, work)

    def on_trades(self, session: Session, msg: M.Trades) -> None:
        def work() -> R.Message:
            md = self.exchange.market_data(msg.symbol)
            return R.TradesReply(trades=[self.views.trade(t) for t in md.recent_trades(msg.limit)],
                                 ref=msg.ref)
        self._local(session, msg, work)

    def on_candles(self, session: Session, msg: M.Candles) -> None:
        def work() -> R.Message:
            spec = self._actor(msg.symbol).spec
            candles = self.exchange.candles(msg.symbol, msg.interval, msg.limit)
            return R.CandlesReply(candles=[self.views.candle(spec, c) for c in candles],
                                  ref=msg.ref)
        self._local(session, msg, work)

    def on_subscribe(self, session: Session, msg: M.Subscribe) -> None:
        def run() -> bytes:
            try:
                self._actor(msg.symbol)
            except CommandError as exc:
                return error_line(exc.code, exc.message, msg.ref)
            key = (msg.channel, msg.symbol)
            reply = encode(R.Subscribed(channel=msg.channel, symbol=msg.symbol, ref=msg.ref))
            if key not in session.subscriptions:
                session.subscriptions.add(key)
                self.subs.setdefault(key, []).append(session)
                self._track(msg.symbol)
            if msg.channel == "book":
                # The snapshot fences the updates: its seq is the last one it includes.
                snapshot = self.views.book(msg.symbol, 1_000_000)
                reply += encode(snapshot)
            return reply
        session.local(run)

    def on_unsubscribe(self, session: Session, msg: M.Unsubscribe) -> None:
        def work() -> R.Message:
            self._actor(msg.symbol)
            key = (msg.channel, msg.symbol)
            if key in session.subscriptions:
                session.subscriptions.discard(key)
                self._unsubscribe(session, key)
            return R.Unsubscribed(channel=msg.channel, symbol=msg.symbol, ref=msg.ref)
        self._local(session, msg, work)

    def on_alert(self, session: Session, msg: M.Alert) -> None:
        def work() -> R.Message:
            actor = self._actor(msg.symbol)
            value = msg.above if msg.above is not None else msg.below
            assert value is not None
            field = "above" if msg.above is not None else "below"
            ticks = self.views.ticks(actor.spec, value, field)
            if not ticks:
                raise CommandError("bad_request",
                                   f"{field}: not a positive multiple of the tick size")
            user = session.user or ""
            pending = sum(1 for a in self.actors.values() for x in a.alerts if x.user == user)
            if pending >= MAX_ALERTS_PER_USER:
                raise CommandError("bad_request", f"{field}: at most {MAX_ALERTS_PER_USER} "
                                   "alerts may wait per user")
            alert_id = next(self._alert_ids)
            reply = R.AlertSet(alert_id=alert_id, ref=msg.ref)
            alert = Alert(alert_id, session.user or "", ticks if field == "above" else None,
                          ticks if field == "below" else None)
            # After the reply, so that an alert already due arrives after alert_set.
            assert self.loop is not None
            self.loop.call_soon(actor.add_alert, alert)
            return reply
        self._local(session, msg, work, login=True)
