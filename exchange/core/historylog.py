"""What each command did, noted for the history store as it runs.

``Exchange.apply`` hands every command, with its outcome or its refusal, to the
exchange's :class:`HistoryLog` when it has one (the server's history store, see
``exchange.server.history``). The log keeps what the store's rows need, at once and in
the engine's own units: the audit entry of the command, the orders it ended in their
final state, its trades, and the notifications it raised. So nothing of the outcome is
kept past the command, and the work is done here, in the compiled core, rather than on
the event loop in interpreted code: it runs for every command, and is most of what the
history costs the order path.

The server takes the log's lists once a turn (:meth:`HistoryLog.take`), after the
journal has made the turn's records durable, and gives the store the rows. ``seq`` is
the journal record number of the command being applied: the journal sets it as it
appends (or, without a journal, the log counts commands itself).

Entries are plain lists in the layouts of ``exchange/server/history/schema.py``
(``ORDER_FIELDS``, ``AUDIT_FIELDS``, and the ``trades``, ``inbox`` and ``cash`` tables'
columns, flat).
"""

from __future__ import annotations

from typing import Any, Final

from exchange.core import commands as C
from exchange.core.orders import LIVE_STATUSES, Order
from exchange.core.results import (
    CANCELED_EVENT,
    EXPIRED_EVENT,
    TRIGGERED,
    CommandError,
    Outcome,
)

INBOX_EVENTS: Final[dict[str, str]] = {EXPIRED_EVENT: "expired", CANCELED_EVENT: "canceled",
                                       TRIGGERED: "triggered"}
"""Events about a user's order that the inbox keeps (besides every fill): what happened
to it without the user asking (an expiry, a cancel by the exchange, a stop triggered)."""

TAGS: Final[dict[type, str]] = {t: str(t.__struct_config__.tag) for t in C.COMMANDS}
"""Each record type's op name (``__struct_config__`` builds an object at each access)."""

HIDDEN: Final = frozenset({"secret", "token_hash"})
"""Fields of a record the audit trail never shows: a two-factor secret, a token's hash
(the journal has them; the trail is read by users and administrators)."""
REDACTED: Final = frozenset({C.TwoFactor, C.CreateUser})
"""The record types that have such a field."""


def shown(cmd: C.Command) -> Any:
    """What the audit trail keeps of a record: the record, or its fields by name with
    the hidden ones replaced."""
    if type(cmd) not in REDACTED:
        return cmd
    return {name: "<hidden>" if name in HIDDEN else getattr(cmd, name)
            for name in cmd.__struct_fields__ if name not in ("time", "user")}


def order_row(hid: int, order: Order, ended_at: int) -> list[Any]:
    """An ended order as ``ORDER_FIELDS``."""
    return [hid, order.order_id, order.symbol, order.side, order.kind, order.tif,
            order.price, order.stop_price, order.qty, order.filled, order.notional,
            order.status, order.reason, order.accepted_at, order.expires_at, ended_at,
            order.client_order_id]


class HistoryLog:
    """The history's notes since the server last took them (see the module doc)."""

    def __init__(self, audit_id: int = 0, inbox_id: int = 0, order_hid: int = 0,
                 counting: bool = False) -> None:
        self.seq = 0
        """The journal record of the command being applied."""
        self.counting = counting
        """No journal: each command is the next record."""
        self.skip_through = 0
        """Records up to this one are in the store already (a rebuild passes them)."""
        self.audit_id = audit_id
        self.inbox_id = inbox_id
        self.order_hid = order_hid
        """The last ids given: audit events, notifications, ended orders."""
        self.last_seq = 0
        """The last record noted since the last take."""
        self.items = 0
        """Commands, trades and notifications noted since the last take."""
        self.audit: dict[str, list[list[Any]]] = {}
        self.orders: dict[str, list[list[Any]]] = {}
        self.trades: list[Any] = []
        self.inbox: list[Any] = []
        self.cash: list[Any] = []
        self._last_user = ""

    def empty(self) -> bool:
        return self.items == 0 and self.last_seq == 0

    # -- from the engine ------------------------------------------------------------------
    def note(self, cmd: C.Command, out: Outcome | None, error: CommandError | None) -> None:
        """What one command did (``Exchange.apply`` calls it once the command ran)."""
        if self.counting:
            self.seq += 1
        seq = self.seq
        if seq <= self.skip_through:
            return
        self.last_seq = seq
        self.items += 1
        time = cmd.time
        user: str = getattr(cmd, "user", "")
        self.audit_id += 1
        entries = self.audit.get(user)
        if entries is None:
            entries = []
            self.audit[user] = entries
        self._last_user = user
        tag = TAGS[type(cmd)]
        record = cmd if type(cmd) not in REDACTED else shown(cmd)
        if error is not None:
            entries.append([self.audit_id, seq, time, tag, record, None, None, 0, error.code,
                            error.message])
            out = error.outcome
            if out is None:
                return
        else:
            assert out is not None
            addressed = out.order
            if addressed is not None:
                entries.append([self.audit_id, seq, time, tag, record, addressed.status,
                                addressed.order_id, len(out.fills), None, None])
            else:
                entries.append([self.audit_id, seq, time, tag, record, None, None,
                                len(out.orders), None, None])
            if type(cmd) is C.Deposit or type(cmd) is C.Withdraw:
                self.cash.extend((seq, time, user, tag, cmd.amount))
                return
        order = out.order
        events = out.events
        trades = out.trades
        if not events and not out.orders and not trades:
            # The common case: one order, placed to rest or ended alone.
            if order is not None and order.status not in LIVE_STATUSES:
                self._ended(order, time)
            return
        ended: dict[int, Order] = {}
        if order is not None and order.status not in LIVE_STATUSES:
            ended[order.order_id] = order
        for o in out.orders:
            if o.status not in LIVE_STATUSES:
                ended[o.order_id] = o
        inbox = self.inbox
        for event in events:
            o = event.order
            kind = INBOX_EVENTS.get(event.kind)
            if kind is not None:
                self.inbox_id += 1
                self.items += 1
                inbox.extend((o.user, self.inbox_id, time, kind, o.symbol, o.order_id, None,
                              o.side, None, None, event.reason or ""))
            if o.status not in LIVE_STATUSES:
                ended[o.order_id] = o
        for o in ended.values():
            self._ended(o, time)
        for t in trades:
            self.trades.extend((t.trade_id, t.symbol, t.price, t.qty, t.buy_order_id,
                                t.sell_order_id, t.taker_side, t.ts, t.buy_user, t.sell_user,
                                t.buy_fee, t.sell_fee, t.sell_basis))
            inbox.extend((t.buy_user, self.inbox_id + 1, t.ts, "fill", t.symbol,
                          t.buy_order_id, t.trade_id, "buy", t.qty, t.price, "",
                          t.sell_user, self.inbox_id + 2, t.ts, "fill", t.symbol,
                          t.sell_order_id, t.trade_id, "sell", t.qty, t.price, ""))
            self.inbox_id += 2
            self.items += 1

    def _ended(self, order: Order, time: int) -> None:
        self.order_hid += 1
        mine = self.orders.get(order.user)
        if mine is None:
            mine = []
            self.orders[order.user] = mine
        mine.append(order_row(self.order_hid, order, time))

    # -- from the server ------------------------------------------------------------------
    def audit_note(self, user: str, ts: int, action: str, detail: dict[str, str]) -> None:
        """An audit event no command carries (a login, a logout)."""
        self.audit_id += 1
        self.items += 1
        entries = self.audit.get(user)
        if entries is None:
            entries = []
            self.audit[user] = entries
        entries.append([self.audit_id, self.seq, ts, action, detail, None, None, 0, None,
                        None])

    def notification(self, user: str, ts: int, kind: str, symbol: str | None,
                     text: str) -> None:
        """A notification no command carries (a price alert, a risk alert)."""
        self.inbox_id += 1
        self.items += 1
        self.inbox.extend((user, self.inbox_id, ts, kind, symbol, None, None, None, None,
                           None, text))

    def retract(self, seq: int) -> None:
        """Record ``seq`` was taken back from the journal: its audit entry goes (a command
        that is retracted changed nothing, so it made no rows but that one)."""
        entries = self.audit.get(self._last_user)
        while entries and entries[-1][1] == seq:
            entries.pop()
        if self.counting:
            self.seq -= 1

    def take(self) -> tuple[dict[str, list[list[Any]]], dict[str, list[list[Any]]],
                            list[Any], list[Any], list[Any], int, int]:
        """Everything noted since the last call, and start anew: ``(audit by user, ended
        orders by user, trades, notifications, cash, last record, items)``."""
        taken = (self.audit, self.orders, self.trades, self.inbox, self.cash, self.last_seq,
                 self.items)
        self.audit = {}
        self.orders = {}
        self.trades = []
        self.inbox = []
        self.cash = []
        self.last_seq = 0
        self.items = 0
        return taken
