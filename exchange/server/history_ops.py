"""The gateway's history, audit-trail, report and inbox requests.

Each is answered from the history store (:mod:`exchange.server.history`), off the event
loop: the request takes its place in the session's order, its query goes to the store's
thread once the turn's rows have been handed over (so it sees everything the exchange
did before it), and the reply fills the place when the rows come back.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

import msgspec

from exchange.core import commands as C
from exchange.core.marketdata import INTERVALS
from exchange.core.orders import Order
from exchange.core.results import CommandError, Trade
from exchange.server.gateway_base import GatewayCore, refusal
from exchange.server.history import queries as Q
from exchange.server.port import SessionPort, Slot
from exchange.server.views import datetime_to_us
from protocol import messages as M
from protocol import replies as R

log = logging.getLogger("exchange.history")

REPORT_ROWS = 100_000
"""Rows in one report at most; a longer period is asked for in parts (``more``)."""

_NOTE = {"buy": "bought", "sell": "sold"}


class _Stored:
    """An ended order as the history stores it, with the attributes ``Views.order``
    reads of an order."""

    __slots__ = ("accepted_at", "client_order_id", "expires_at", "filled", "kind",
                 "notional", "order_id", "price", "qty", "reason", "side", "status",
                 "stop_price", "symbol", "tif", "user")

    def __init__(self, user: str, row: list[Any]) -> None:
        self.user = user
        (_, self.order_id, self.symbol, self.side, self.kind, self.tif, self.price,
         self.stop_price, self.qty, self.filled, self.notional, self.status, self.reason,
         self.accepted_at, self.expires_at, _, self.client_order_id) = row


def _trade(row: Q.Row) -> Trade:
    """A stored trade row (``_TRADE_COLUMNS``) as the engine's record."""
    (trade_id, symbol, price, qty, buy_order_id, sell_order_id, taker_side, ts, buy_user,
     sell_user, buy_fee, sell_fee, sell_basis) = row[:13]
    return Trade(trade_id, symbol, price, qty, buy_order_id, sell_order_id, taker_side, ts,
                 buy_user, sell_user, buy_fee, sell_fee, sell_basis or 0)


def _detail(record: Any) -> dict[str, Any]:
    """A recorded command's fields by name (without its time and user, which the audit
    event has already); a login's or logout's details as they were noted."""
    if isinstance(record, dict):
        return record
    try:
        cmd = msgspec.convert(record, C.Command)
    except msgspec.ValidationError:
        return {}
    return {name: msgspec.to_builtins(getattr(cmd, name))
            for name in cmd.__struct_fields__ if name not in ("time", "user")}


def _outcome(entry: list[Any]) -> str:
    """What a command did, in words (see ``feed.AuditEntry``)."""
    status, order_id, count, code, message = entry[5:10]
    if code is not None:
        return f"refused {code}: {message}"
    if status is not None:
        text = f"{status} order {order_id}"
        return text + (f", {count} fill{'s' if count > 1 else ''}" if count else "")
    if count:
        return f"{count} order{'s' if count > 1 else ''} ended"
    return "ok"


def _us(value: datetime | None) -> int | None:
    return None if value is None else datetime_to_us(value)


class HistoryOps:
    """The handlers; ``handlers()`` is merged into the gateway's dispatch table."""

    def __init__(self, gateway: GatewayCore) -> None:
        self.gateway = gateway
        self.views = gateway.views

    def handlers(self) -> dict[type[Any], Callable[[SessionPort, Any], None]]:
        return {
            M.OrderHistory: self.on_order_history, M.FillHistory: self.on_fill_history,
            M.TradeHistory: self.on_trade_history, M.CandleHistory: self.on_candle_history,
            M.Audit: self.on_audit, M.Report: self.on_report, M.Inbox: self.on_inbox,
            M.InboxRead: self.on_inbox_read,
        }

    # -- the common shape -----------------------------------------------------------------------
    def _ask(self, session: SessionPort, make: Callable[[str], Any],
             answer: Callable[[Any], R.ReplyBase], login: bool = True) -> None:
        """Take the request's place, run ``make(user)``'s query on the store once the
        turn's rows are handed over, and fill the place with ``answer(rows)``."""
        gateway = self.gateway

        def dispatch(slot: Slot) -> None:
            user = session.user
            if login and user is None:
                session.fulfil(slot, refusal("auth_required", "op: log in first"))
                return
            store = gateway.history
            if store is None:
                session.fulfil(slot, refusal("bad_state", "op: the history store is off "
                                             "([history] enabled = false)"))
                return
            try:
                query = make(user or "")
            except CommandError as exc:
                session.fulfil(slot, refusal(exc.code, exc.message))
                return

            def done(rows: Any) -> None:
                if isinstance(rows, Exception):
                    log.error("a history query failed: %r", rows)
                    session.fulfil(slot, refusal("bad_request", "internal error; the "
                                                 "history could not be read"))
                    return
                try:
                    reply = answer(rows)
                except CommandError as exc:
                    reply = refusal(exc.code, exc.message)
                session.fulfil(slot, reply)
            gateway.after_commit(lambda: store.run(query, done))
        session.routed(dispatch)

    def _symbol(self, symbol: str | None) -> None:
        if symbol is not None:
            self.gateway._actor(symbol)  # unknown_symbol

    # -- orders, fills, trades, candles --------------------------------------------------------
    def on_order_history(self, session: SessionPort, msg: M.OrderHistory) -> None:
        def make(user: str) -> Q.OrderHistory:
            self._symbol(msg.symbol)
            return Q.OrderHistory(user, msg.symbol, _us(msg.start), _us(msg.end), msg.after,
                                  msg.limit)

        def answer(rows: list[list[Any]]) -> R.ReplyBase:
            order = self.views.order
            user = session.user or ""
            page = rows[:msg.limit]
            return R.OrderHistoryReply(
                orders=[order(cast(Order, _Stored(user, r))) for r in page],
                more=len(rows) > msg.limit, next=page[-1][0] if page else msg.after)
        self._ask(session, make, answer)

    def on_fill_history(self, session: SessionPort, msg: M.FillHistory) -> None:
        def make(user: str) -> Q.FillHistory:
            self._symbol(msg.symbol)
            return Q.FillHistory(user, msg.symbol, _us(msg.start), _us(msg.end), msg.after,
                                 msg.limit)

        def answer(rows: list[Q.Row]) -> R.ReplyBase:
            fill = self.views.fill
            page = rows[:msg.limit]
            return R.FillHistoryReply(fills=[fill(_trade(r[1:]), r[0]) for r in page],
                                      more=len(rows) > msg.limit,
                                      next=page[-1][1] if page else msg.after)
        self._ask(session, make, answer)

    def on_trade_history(self, session: SessionPort, msg: M.TradeHistory) -> None:
        def make(user: str) -> Q.TradeHistory:
            self._symbol(msg.symbol)
            return Q.TradeHistory(msg.symbol, _us(msg.start), _us(msg.end), msg.after,
                                  msg.limit)

        def answer(rows: list[Q.Row]) -> R.ReplyBase:
            trade = self.views.trade
            page = rows[:msg.limit]
            return R.TradeHistoryReply(trades=[trade(_trade(r)) for r in page],
                                       more=len(rows) > msg.limit,
                                       next=page[-1][0] if page else msg.after)
        self._ask(session, make, answer, login=False)

    def on_candle_history(self, session: SessionPort, msg: M.CandleHistory) -> None:
        def make(user: str) -> Q.CandleHistory:
            self._symbol(msg.symbol)
            return Q.CandleHistory(msg.symbol, INTERVALS[msg.interval], _us(msg.start),
                                   _us(msg.end), msg.limit)

        def answer(rows: list[Q.Row]) -> R.ReplyBase:
            spec = self.views.specs[msg.symbol]
            price, fmt = spec.fmt_price, self.views.clock.fmt
            qty = self.views.qty
            candles = [R.Candle(t=fmt(t), o=price(o), h=price(h), l=price(lo), c=price(c),
                                v=qty(spec, v)) for t, o, h, lo, c, v in rows[:msg.limit]]
            return R.CandleHistoryReply(symbol=msg.symbol, interval=msg.interval,
                                        candles=candles, more=len(rows) > msg.limit)
        self._ask(session, make, answer, login=False)

    # -- the audit trail ------------------------------------------------------------------------
    def on_audit(self, session: SessionPort, msg: M.Audit) -> None:
        def make(user: str) -> Q.AuditTrail:
            whose = user
            if msg.user is not None and msg.user != user:
                if not session.admin:
                    raise CommandError("forbidden", "user: only administrators read another "
                                       "user's audit trail")
                whose = msg.user
            return Q.AuditTrail(whose, _us(msg.start), _us(msg.end), msg.after, msg.limit)

        def answer(rows: list[list[Any]]) -> R.ReplyBase:
            whose = msg.user if msg.user is not None else session.user or ""
            fmt = self.views.clock.fmt
            events = [R.AuditEvent(id=e[0], seq=e[1], ts=fmt(e[2]), user=whose, action=e[3],
                                   detail=_detail(e[4]), outcome=_outcome(e))
                      for e in rows[:msg.limit]]
            return R.AuditReply(events=events, more=len(rows) > msg.limit,
                                next=events[-1].id if events else msg.after)
        self._ask(session, make, answer)

    # -- reports ---------------------------------------------------------------------------------
    def on_report(self, session: SessionPort, msg: M.Report) -> None:
        gains = msg.kind == "gains"

        def make(user: str) -> Q.UserTrades:
            if gains:
                assert msg.year is not None
                start = datetime_to_us(datetime(msg.year, 1, 1, tzinfo=UTC))
                end = datetime_to_us(datetime(msg.year + 1, 1, 1, tzinfo=UTC))
                return Q.UserTrades(user, start, end, REPORT_ROWS, side="sell")
            return Q.UserTrades(user, _us(msg.start), _us(msg.end), REPORT_ROWS)

        def answer(rows: list[Q.Row]) -> R.ReplyBase:
            more = len(rows) > REPORT_ROWS
            rows = rows[:REPORT_ROWS]
            text = self._gains(rows) if gains else self._confirmations(rows)
            return R.ReportReply(kind=msg.kind, csv=text, rows=len(rows), more=more)
        self._ask(session, make, answer)

    def _confirmations(self, rows: list[Q.Row]) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["trade_id", "time", "symbol", "side", "qty", "price", "notional",
                         "fee", "liquidity", "order_id"])
        views = self.views
        money = views.money.fmt
        for row in rows:
            side, trade = row[0], _trade(row[1:])
            spec = views.specs[trade.symbol]
            fee = row[11] if side == "buy" else row[12]
            writer.writerow([
                trade.trade_id, views.clock.fmt(trade.ts), trade.symbol, side,
                views.qty(spec, trade.qty), spec.fmt_price(trade.price),
                money(trade.price * trade.qty * spec.mult), money(fee),
                "taker" if side == trade.taker_side else "maker",
                trade.buy_order_id if side == "buy" else trade.sell_order_id])
        return out.getvalue()

    def _gains(self, rows: list[Q.Row]) -> str:
        """Realized gains per sale (average cost: the basis of a sale is the average
        cost of the holding it came from, as the portfolio computes it)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["trade_id", "time", "symbol", "lot", "qty", "proceeds", "fee",
                         "cost_basis", "gain"])
        views = self.views
        money = views.money.fmt
        for row in rows:
            trade = _trade(row[1:])
            spec = views.specs[trade.symbol]
            fee, basis = row[12], row[13]
            proceeds = trade.price * trade.qty * spec.mult
            basis = basis if basis is not None else 0
            writer.writerow([
                trade.trade_id, views.clock.fmt(trade.ts), trade.symbol, "average cost",
                views.qty(spec, trade.qty), money(proceeds), money(fee), money(basis),
                money(proceeds - fee - basis)])
        return out.getvalue()

    # -- the inbox --------------------------------------------------------------------------------
    def on_inbox(self, session: SessionPort, msg: M.Inbox) -> None:
        def make(user: str) -> Q.InboxList:
            return Q.InboxList(user, msg.since, msg.limit)

        def answer(found: tuple[list[Q.Row], int]) -> R.ReplyBase:
            rows, unread = found
            notes = [self._notification(r) for r in rows[:msg.limit]]
            return R.InboxReply(notifications=notes, unread=unread, more=len(rows) > msg.limit)
        self._ask(session, make, answer)

    def _notification(self, row: Q.Row) -> R.Notification:
        note_id, ts, kind, symbol, order_id, trade_id, side, qty, price, text, read = row
        views = self.views
        spec = views.specs.get(symbol) if symbol is not None else None
        if kind == "fill" and spec is not None:
            text = (f"{_NOTE.get(side, side)} {views.qty(spec, qty)} {symbol} at "
                    f"{spec.fmt_price(price)} (order {order_id}, trade {trade_id})")
        elif kind in ("expired", "canceled", "triggered"):
            text = (f"order {order_id} ({side} {symbol}) {kind}"
                    + (f": {text}" if text else ""))
        return R.Notification(id=note_id, ts=views.clock.fmt(ts), kind=kind, symbol=symbol,
                              order_id=order_id, text=text, read=bool(read))

    def on_inbox_read(self, session: SessionPort, msg: M.InboxRead) -> None:
        def make(user: str) -> Q.InboxMark:
            return Q.InboxMark(user, tuple(msg.ids or ()), msg.up_to)

        def answer(found: tuple[int, int]) -> R.ReplyBase:
            return R.InboxMarked(marked=found[0], unread=found[1])
        self._ask(session, make, answer)
