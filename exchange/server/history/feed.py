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

    __slots__ = ("audit", "audit_id", "cash", "inbox", "inbox_id", "items", "order_hid",
                 "orders", "seq", "trades")

    def __init__(self) -> None:
        self.seq = 0
        self.items = 0
        """What the batch stands for (commands, trades, notifications): its weight in the
        writer's backlog, however its rows are packed."""
        self.orders: list[tuple[Any, ...]] = []
        """One row per user: ``(user, first hid, last hid, first ts, last ts, JSON)``."""
        self.audit: list[tuple[Any, ...]] = []
        """The same shape, of audit entries."""
        self.trades: list[Any] = []
        """Trade rows, flat: the values of each row one after another (so the writer
        binds them as they are, in C; see ``store._insert``)."""
        self.cash: list[Any] = []
        self.inbox: list[Any] = []
        self.audit_id = 0
        self.inbox_id = 0
        self.order_hid = 0
        """The last ids the batch gives (the store keeps them, for the next start)."""

    def __len__(self) -> int:
        return (len(self.orders) + len(self.trades) + len(self.cash) + len(self.audit)
                + len(self.inbox))


def order_row(order: Order, ended_at: int) -> list[Any]:
    """An ended order as :data:`~exchange.server.history.schema.ORDER_FIELDS` (its
    ``hid`` 0 until the batch numbers it)."""
    return [0, order.order_id, order.symbol, order.side, order.kind, order.tif,
            order.price, order.stop_price, order.qty, order.filled, order.notional,
            order.status, order.reason, order.accepted_at, order.expires_at, ended_at,
            order.client_order_id]


AuditEntry = list[Any]
"""One audit event: :data:`~exchange.server.history.schema.AUDIT_FIELDS`."""


_TAG: Final[dict[type[Any], str]] = {t: str(t.__struct_config__.tag) for t in C.COMMANDS}
"""Each record type's op name (``__struct_config__`` builds an object at each access)."""


_HIDDEN: Final = frozenset({"secret", "token_hash"})
"""Fields of a record the audit trail never shows: a two-factor secret, a token's hash
(the journal has them; the trail is read by users and administrators)."""
_REDACTED: Final = frozenset({C.TwoFactor, C.CreateUser})
"""The record types that have such a field."""


def _shown(cmd: C.Command) -> Any:
    """What the audit trail keeps of a record: the record, or its fields by name with
    the hidden ones replaced."""
    if type(cmd) not in _REDACTED:
        return cmd
    return {name: "<hidden>" if name in _HIDDEN else getattr(cmd, name)
            for name in cmd.__struct_fields__ if name not in ("time", "user")}


def _entry(audit_id: int, seq: int, cmd: C.Command, out: Outcome | None,
           error: CommandError | None) -> AuditEntry:
    tag = _TAG[type(cmd)]
    shown = _shown(cmd)
    if error is not None:
        return [audit_id, seq, cmd.time, tag, shown, None, None, 0, error.code,
                error.message]
    assert out is not None
    order = out.order
    if order is not None:
        return [audit_id, seq, cmd.time, tag, shown, order.status, order.order_id,
                len(out.fills), None, None]
    return [audit_id, seq, cmd.time, tag, shown, None, None, len(out.orders), None, None]


class HistoryFeed:
    """Collects what each command did, on the event-loop thread, for the writer.

    ``seq_of`` gives the journal record number of the command being applied (the server
    records a command before it applies it; without a journal, a count of commands)."""

    def __init__(self, seq_of: Callable[[], int] | None = None, audit_id: int = 0,
                 inbox_id: int = 0, order_hid: int = 0) -> None:
        self._count = 0
        self.audit_id = audit_id
        """The last audit event id given (ids go on from the store's)."""
        self.inbox_id = inbox_id
        """The last notification id given."""
        self.order_hid = order_hid
        """The last ended-order number given."""
        self.seq_of = seq_of if seq_of is not None else self._next
        self.pending: list[tuple[int, C.Command, Outcome | None, CommandError | None]] = []
        self.notes: list[tuple[int, str, int, str, str | None, str]] = []
        """Notifications raised outside a command (price and risk alerts):
        ``(seq, user, ts, kind, symbol, text)``."""
        self.audit_notes: list[tuple[int, int, str, str, dict[str, str]]] = []
        """Audit events outside a command (logins, logouts), as audit rows."""
        self._encode = msgspec.json.Encoder().encode
        self.skip_through = 0
        """Records up to this number are already in the store (a rebuild's replay passes
        them on its way)."""

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
        self.audit_notes.append((seq, ts, user, action, detail))

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
        ended_by: dict[str, list[list[Any]]] = {}
        trades = rows.trades
        inbox = rows.inbox
        audit: dict[str, list[AuditEntry]] = {}
        skip = self.skip_through
        audit_id = self.audit_id
        inbox_id = self.inbox_id
        live = LIVE_STATUSES
        for seq, cmd, out, error in self.pending:
            if seq <= skip:
                continue
            rows.seq = seq
            user = getattr(cmd, "user", "")
            entries = audit.get(user)
            if entries is None:
                entries = audit[user] = []
            entries.append(_entry(0, seq, cmd, out, error))
            if error is not None:
                out = error.outcome
                if out is None:
                    continue
            elif type(cmd) is C.Deposit or type(cmd) is C.Withdraw:
                rows.cash.extend((seq, cmd.time, cmd.user, _TAG[type(cmd)], cmd.amount))
                continue
            assert out is not None
            order = out.order
            events = out.events
            if not events and not out.orders and not out.trades:
                # The common case: one order, placed to rest or ended alone.
                if order is not None and order.status not in live:
                    mine = ended_by.get(order.user)
                    if mine is None:
                        mine = ended_by[order.user] = []
                    mine.append(order_row(order, cmd.time))
                continue
            time = cmd.time
            ended: dict[int, Order] = {}
            if order is not None and order.status not in live:
                ended[order.order_id] = order
            for o in out.orders:
                if o.status not in live:
                    ended[o.order_id] = o
            for event in events:
                o = event.order
                kind = INBOX_EVENTS.get(event.kind)
                if kind is not None:
                    inbox_id += 1
                    inbox.extend((o.user, inbox_id, time, kind, o.symbol, o.order_id, None,
                                  o.side, None, None, event.reason or ""))
                if o.status not in live:
                    ended[o.order_id] = o
            for o in ended.values():
                ended_by.setdefault(o.user, []).append(order_row(o, time))
            for t in out.trades:
                trades.extend((t.trade_id, t.symbol, t.price, t.qty, t.buy_order_id,
                               t.sell_order_id, t.taker_side, t.ts, t.buy_user, t.sell_user,
                               t.buy_fee, t.sell_fee, t.sell_basis))
                inbox.extend((t.buy_user, inbox_id + 1, t.ts, "fill", t.symbol,
                              t.buy_order_id, t.trade_id, "buy", t.qty, t.price, ""))
                inbox.extend((t.sell_user, inbox_id + 2, t.ts, "fill", t.symbol,
                              t.sell_order_id, t.trade_id, "sell", t.qty, t.price, ""))
                inbox_id += 2
        for seq, user, ts, kind, symbol, text in self.notes:
            rows.seq = max(rows.seq, seq)
            inbox_id += 1
            inbox.extend((user, inbox_id, ts, kind, symbol, None, None, None, None, None,
                          text))
        noted = set()
        for seq, ts, user, action, detail in self.audit_notes:
            rows.seq = max(rows.seq, seq)
            audit.setdefault(user, []).append([0, seq, ts, action, detail, None, None, 0,
                                               None, None])
            noted.add(user)
        order_hid = self.order_hid
        encode = self._encode
        for user, ended_orders in ended_by.items():
            for row in ended_orders:  # a user's orders of a batch: consecutive hids
                order_hid += 1
                row[0] = order_hid
            accepted = [o[13] for o in ended_orders]
            rows.orders.append((user, ended_orders[0][0], order_hid, min(accepted),
                                max(accepted), encode(ended_orders).decode()))
        self.order_hid = order_hid
        for user, entries in audit.items():
            if user in noted:
                # Noted between commands: in time order among them (a login comes
                # before what the session did next).
                entries.sort(key=lambda e: e[2])
            for e in entries:  # a user's events of a batch: consecutive ids
                audit_id += 1
                e[0] = audit_id
            rows.audit.append((user, entries[0][0], entries[-1][0], entries[0][2],
                               entries[-1][2], encode(entries).decode()))
        self.audit_id = rows.audit_id = audit_id
        self.inbox_id = rows.inbox_id = inbox_id
        rows.order_hid = self.order_hid
        rows.items = len(self.pending) + len(trades) // 13 + len(inbox) // 11 + len(
            self.audit_notes)
        self.pending = []
        self.notes = []
        self.audit_notes = []
        return rows if len(rows) or rows.seq else None
