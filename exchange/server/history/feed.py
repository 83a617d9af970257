"""What each command did, as rows for the history store.

The engine tells :meth:`HistoryFeed.applied` of every command it ran
(``Exchange.on_applied``), live and in a rebuild alike, so the history is a function of
the journal. Nothing is derived there: the command, its outcome and its journal record
number are kept as they are (one tuple; the order path pays for no more). The rows are
made in :meth:`HistoryFeed.take`, on the event-loop thread between two commands, once the
journal has made the turn's records durable: every order is then quiescent (one that
ended stays as it ended; one still live is not history yet), and no row is ever written
for a record a crash could take back.

Rows are plain tuples in the column order of :mod:`~exchange.server.history.schema`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import msgspec

from exchange.core import commands as C
from exchange.core.orders import LIVE_STATUSES, Order
from exchange.core.results import (
    CANCELED_EVENT,
    EXPIRED_EVENT,
    TRIGGERED,
    CommandError,
    Outcome,
)

INBOX_EVENTS: Final = {EXPIRED_EVENT: "expired", CANCELED_EVENT: "canceled",
                       TRIGGERED: "triggered"}
"""Events about a user's order that the inbox keeps (besides every fill): what happened
to it without the user asking (an expiry, a cancel by the exchange, a stop triggered)."""


class Rows:
    """One batch of rows for the writer, and the last journal record it covers."""

    __slots__ = ("audit", "cash", "inbox", "orders", "seq", "trades")

    def __init__(self) -> None:
        self.seq = 0
        self.orders: list[tuple[Any, ...]] = []
        self.trades: list[tuple[Any, ...]] = []
        self.cash: list[tuple[Any, ...]] = []
        self.audit: list[tuple[Any, ...]] = []
        self.inbox: list[tuple[Any, ...]] = []

    def __len__(self) -> int:
        return (len(self.orders) + len(self.trades) + len(self.cash) + len(self.audit)
                + len(self.inbox))


def order_row(order: Order, ended_at: int) -> tuple[Any, ...]:
    return (order.order_id, order.user, order.symbol, order.side, order.kind, order.tif,
            order.price, order.stop_price, order.qty, order.filled, order.notional,
            order.status, order.reason, order.accepted_at, order.expires_at, ended_at,
            order.client_order_id)


def _outcome_text(cmd: C.Command, out: Outcome | None, error: CommandError | None) -> str:
    """The audit trail's word on what a command did."""
    if error is not None:
        return f"refused {error.code}: {error.message}"
    assert out is not None
    order = out.order
    if order is not None:
        text = f"{order.status} order {order.order_id}"
        if order.reason:
            text += f" ({order.reason})"
        if out.fills:
            text += f", {len(out.fills)} fill{'s' if len(out.fills) > 1 else ''}"
        return text
    if out.orders:
        return f"{len(out.orders)} order{'s' if len(out.orders) > 1 else ''} ended"
    return "ok"


class HistoryFeed:
    """Collects what each command did, on the event-loop thread, for the writer.

    ``seq_of`` gives the journal record number of the command being applied (the server
    records a command before it applies it; without a journal, a count of commands)."""

    def __init__(self, seq_of: Callable[[], int] | None = None) -> None:
        self._count = 0
        self.seq_of = seq_of if seq_of is not None else self._next
        self.pending: list[tuple[int, C.Command, Outcome | None, CommandError | None]] = []
        self.notes: list[tuple[int, str, int, str, str | None, str]] = []
        """Notifications raised outside a command (price and risk alerts):
        ``(seq, user, ts, kind, symbol, text)``."""
        self.audit_notes: list[tuple[int, int, str, str, bytes, str]] = []
        """Audit events outside a command (logins, logouts), as audit rows."""
        self.skip_through = 0
        """Records up to this number are already in the store (a rebuild's replay passes
        them on its way)."""
        self._encode = msgspec.msgpack.Encoder().encode

    def _next(self) -> int:
        self._count += 1
        return self._count

    # -- on the order path ------------------------------------------------------------------
    def applied(self, cmd: C.Command, out: Outcome | None, error: CommandError | None) -> None:
        """``Exchange.on_applied``: remember the command for :meth:`take`."""
        self.pending.append((self.seq_of(), cmd, out, error))

    def retract(self, seq: int) -> None:
        """Record ``seq`` was taken back from the journal: it never happened."""
        self.pending = [p for p in self.pending if p[0] != seq]

    def audit(self, user: str, ts: int, action: str, detail: dict[str, str]) -> None:
        """An audit event that no command carries (a login, a logout)."""
        seq = self.pending[-1][0] if self.pending else 0
        self.audit_notes.append((seq, ts, user, action, self._encode(detail), "ok"))

    def note(self, user: str, ts: int, kind: str, symbol: str | None, text: str) -> None:
        """A notification that no command carries (a price alert, a risk alert)."""
        seq = self.pending[-1][0] if self.pending else 0
        self.notes.append((seq, user, ts, kind, symbol, text))

    # -- between commands ---------------------------------------------------------------------
    def take(self) -> Rows | None:
        """The rows of everything applied since the last call (None if nothing was)."""
        if not self.pending and not self.notes and not self.audit_notes:
            return None
        rows = Rows()
        orders = rows.orders
        trades = rows.trades
        audit = rows.audit
        inbox = rows.inbox
        encode = self._encode
        skip = self.skip_through
        for seq, cmd, out, error in self.pending:
            if seq <= skip:
                continue
            rows.seq = seq
            time = cmd.time
            user = getattr(cmd, "user", "")
            audit.append((seq, time, user, cmd.__struct_config__.tag, encode(cmd),
                          _outcome_text(cmd, out, error)))
            if error is not None:
                out = error.outcome
                if out is None:
                    continue
            elif isinstance(cmd, C.Deposit | C.Withdraw):
                rows.cash.append((seq, time, cmd.user, cmd.__struct_config__.tag, cmd.amount))
                continue
            assert out is not None
            ended: dict[int, Order] = {}
            order = out.order
            if order is not None and order.status not in LIVE_STATUSES:
                ended[order.order_id] = order
            for o in out.orders:
                if o.status not in LIVE_STATUSES:
                    ended[o.order_id] = o
            for event in out.events:
                o = event.order
                kind = INBOX_EVENTS.get(event.kind)
                if kind is not None:
                    inbox.append((o.user, time, kind, o.symbol, o.order_id, None, o.side,
                                  None, None, event.reason or ""))
                if o.status not in LIVE_STATUSES:
                    ended[o.order_id] = o
            for o in ended.values():
                orders.append(order_row(o, time))
            for t in out.trades:
                trades.append((t.trade_id, t.symbol, t.price, t.qty, t.buy_order_id,
                               t.sell_order_id, t.taker_side, t.ts, t.buy_user, t.sell_user,
                               0, 0, None))
                inbox.append((t.buy_user, t.ts, "fill", t.symbol, t.buy_order_id,
                              t.trade_id, "buy", t.qty, t.price, ""))
                inbox.append((t.sell_user, t.ts, "fill", t.symbol, t.sell_order_id,
                              t.trade_id, "sell", t.qty, t.price, ""))
        for seq, user, ts, kind, symbol, text in self.notes:
            rows.seq = max(rows.seq, seq)
            inbox.append((user, ts, kind, symbol, None, None, None, None, None, text))
        if self.audit_notes:
            # In time order among the commands' events (a login comes before what the
            # session then did): the audit table is read by id.
            audit.extend(self.audit_notes)
            audit.sort(key=lambda row: row[1])
        self.pending = []
        self.notes = []
        self.audit_notes = []
        return rows if len(rows) or rows.seq else None
