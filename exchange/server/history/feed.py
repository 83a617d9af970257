"""The rows of what the exchange did, for the history store, once a turn.

The engine notes every command as it runs (:class:`~exchange.core.historylog.HistoryLog`,
``Exchange.history``), live and in a rebuild alike, so the history is a function of the
journal. :meth:`HistoryFeed.take` runs on the event-loop thread between two commands,
once the journal has made the turn's records durable (no row is ever written for a record
a crash could take back), and packs what the log noted into one :class:`Rows` batch: a
row per user of their audit events and of their ended orders (JSON), and the trades,
notifications and cash movements flat (each row's values one after another), as the
writer binds them.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

import msgspec

from exchange.core.historylog import HistoryLog


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


_ACCEPTED = itemgetter(13)
"""An ended order's ``accepted_at`` (ORDER_FIELDS)."""
_TS = itemgetter(2)


class HistoryFeed:
    """Packs the exchange's history log into batches of rows for the store."""

    def __init__(self, log: HistoryLog) -> None:
        self.log = log
        self._encode = msgspec.json.Encoder().encode

    def pending(self) -> bool:
        """Whether anything was noted since the last :meth:`take`."""
        return not self.log.empty()

    def retract(self, seq: int) -> None:
        """Record ``seq`` was taken back from the journal: it never happened."""
        self.log.retract(seq)

    def note(self, user: str, ts: int, kind: str, symbol: str | None, text: str) -> None:
        """A notification that no command carries (a price alert, a risk alert)."""
        self.log.notification(user, ts, kind, symbol, text)

    def audit(self, user: str, ts: int, action: str, detail: dict[str, str]) -> None:
        """An audit event that no command carries (a login, a logout)."""
        self.log.audit_note(user, ts, action, detail)

    def take(self) -> Rows | None:
        """The rows of everything noted since the last call (None if nothing was)."""
        log = self.log
        if log.empty():
            return None
        audit, orders, trades, inbox, cash, last_seq, items = log.take()
        rows = Rows()
        rows.seq = last_seq
        rows.items = items
        rows.trades = trades
        rows.inbox = inbox
        rows.cash = cash
        encode = self._encode
        for user, ended in orders.items():
            accepted = list(map(_ACCEPTED, ended))
            rows.orders.append((user, ended[0][0], ended[-1][0], min(accepted),
                                max(accepted), encode(ended).decode()))
        for user, entries in audit.items():
            if entries:
                times = list(map(_TS, entries))
                rows.audit.append((user, entries[0][0], entries[-1][0], min(times),
                                   max(times), encode(entries).decode()))
        rows.audit_id = log.audit_id
        rows.inbox_id = log.inbox_id
        rows.order_hid = log.order_hid
        return rows
