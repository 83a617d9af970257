"""Market data, streams and price alerts: the requests any session may make.

Answered by the gateway itself, in the session's order; a ``book`` subscription's
snapshot is taken at that moment, so its ``seq`` fences the updates that follow.
"""

from __future__ import annotations

from exchange.core.results import CommandError
from exchange.server.actor import Alert
from exchange.server.gateway_base import GatewayCore, refusal
from exchange.server.port import Answer, SessionPort
from protocol import messages as M
from protocol import replies as R

MAX_ALERTS_PER_USER = 1000
"""Alerts wait in memory until they fire: a client must not be able to grow that forever."""


class MarketDataOps(GatewayCore):
    """Handlers of symbols, book, quote, trades, candles, subscribe/unsubscribe and alert."""

    def on_symbols(self, session: SessionPort, msg: M.Symbols) -> None:
        def work() -> R.ReplyBase:
            return self.views.symbols()
        self._local(session, msg, work)

    def on_book(self, session: SessionPort, msg: M.Book) -> None:
        def work() -> R.ReplyBase:
            self._actor(msg.symbol)
            return self.views.book(msg.symbol, msg.depth)
        self._local(session, msg, work)

    def on_quote(self, session: SessionPort, msg: M.Quote) -> None:
        def work() -> R.ReplyBase:
            self._actor(msg.symbol)
            return self.views.quote(msg.symbol)
        self._local(session, msg, work)

    def on_trades(self, session: SessionPort, msg: M.Trades) -> None:
        def work() -> R.ReplyBase:
            md = self.exchange.market_data(msg.symbol)
            return R.TradesReply(trades=[self.views.trade(t) for t in md.recent_trades(msg.limit)])
        self._local(session, msg, work)

    def on_candles(self, session: SessionPort, msg: M.Candles) -> None:
        def work() -> R.ReplyBase:
            spec = self._actor(msg.symbol).spec
            candles = self.exchange.candles(msg.symbol, msg.interval, msg.limit)
            return R.CandlesReply(candles=[self.views.candle(spec, c) for c in candles])
        self._local(session, msg, work)

    def on_subscribe(self, session: SessionPort, msg: M.Subscribe) -> None:
        def run() -> Answer:
            try:
                self._actor(msg.symbol)
            except CommandError as exc:
                return refusal(exc.code, exc.message)
            key = (msg.channel, msg.symbol)
            reply = R.Subscribed(channel=msg.channel, symbol=msg.symbol)
            if key not in session.subscriptions:
                session.subscriptions.add(key)
                self.subs.setdefault(key, []).append(session)
                self._track(msg.symbol)
            if msg.channel == "book":
                # The snapshot fences the updates: its seq is the last one it includes.
                return reply, self.views.book(msg.symbol, 1_000_000)
            return reply
        session.local(run)

    def on_unsubscribe(self, session: SessionPort, msg: M.Unsubscribe) -> None:
        def work() -> R.ReplyBase:
            self._actor(msg.symbol)
            key = (msg.channel, msg.symbol)
            if key in session.subscriptions:
                session.subscriptions.discard(key)
                self._unsubscribe(session, key)
            return R.Unsubscribed(channel=msg.channel, symbol=msg.symbol)
        self._local(session, msg, work)

    def on_alert(self, session: SessionPort, msg: M.Alert) -> None:
        def work() -> R.ReplyBase:
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
            reply = R.AlertSet(alert_id=alert_id)
            alert = Alert(alert_id, session.user or "", ticks if field == "above" else None,
                          ticks if field == "below" else None)
            # After the reply, so that an alert already due arrives after alert_set.
            assert self.loop is not None
            self.loop.call_soon(actor.add_alert, alert)
            return reply
        self._local(session, msg, work, login=True)
