"""The history store's queries: one record per question, run on the writer's thread.

Each answers raw rows (engine integers, as stored); the gateway turns them into protocol
records on the event loop. Every query is bounded by its ``limit`` and pages by an id
(``after``: rows with a larger order id, trade id or audit id), so that a back-test can
pull a whole day in pages of at most ``MAX_ROWS`` without the server holding it at once.
A query asks for one row more than its limit: that row is not returned, but tells the
caller there is more (``more`` in the reply).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

import msgspec

Row = tuple[Any, ...]

_END = 2**63 - 1


def _range(start: int | None, end: int | None) -> tuple[int, int]:
    return (start if start is not None else -_END, end if end is not None else _END)


def _batches(conn: sqlite3.Connection, sql: str, args: tuple[Any, ...],
             keep: Any, limit: int) -> list[list[Any]]:
    """The entries of JSON batch rows (``orders``, ``audit``), in order, that ``keep``
    accepts, up to ``limit`` + 1 (reading no more batches than that takes)."""
    found: list[list[Any]] = []
    for (batch,) in conn.execute(sql, args):
        found.extend(e for e in msgspec.json.decode(batch) if keep(e))
        if len(found) > limit:
            break
    return found[: limit + 1]


@dataclass(frozen=True, slots=True)
class OrderHistory:
    """A user's ended orders, accepted in ``[start, end)``, in the order they ended
    (ORDER_FIELDS lists, by ``hid``)."""

    user: str
    symbol: str | None
    start: int | None
    end: int | None
    after: int
    limit: int

    def run(self, conn: sqlite3.Connection) -> list[list[Any]]:
        lo, hi = _range(self.start, self.end)
        after, symbol = self.after, self.symbol

        def keep(o: list[Any]) -> bool:
            return bool(o[0] > after and lo <= o[13] < hi and (symbol is None
                                                               or o[2] == symbol))
        return _batches(conn, "SELECT orders FROM orders WHERE user=? AND last_hid>? AND "
                        "last_ts>=? AND first_ts<? ORDER BY first_hid",
                        (self.user, after, lo, hi), keep, self.limit)


_TRADE_COLUMNS = ("trade_id, symbol, price, qty, buy_order_id, sell_order_id, taker_side, ts, "
                  "buy_user, sell_user, buy_fee, sell_fee, sell_basis")


@dataclass(frozen=True, slots=True)
class FillHistory:
    """A user's fills (each trade they were a side of; both sides of a self-trade),
    ``(side, *trade)`` by trade id."""

    user: str
    symbol: str | None
    start: int | None
    end: int | None
    after: int
    limit: int

    def run(self, conn: sqlite3.Connection) -> list[Row]:
        lo, hi = _range(self.start, self.end)
        rows: list[Row] = []
        for side, column in (("buy", "buy_user"), ("sell", "sell_user")):
            sql = (f"SELECT ?, {_TRADE_COLUMNS} FROM trades WHERE {column}=? AND ts>=? AND "
                   "ts<? AND trade_id>?")
            args: list[Any] = [side, self.user, lo, hi, self.after]
            if self.symbol is not None:
                sql += " AND symbol=?"
                args.append(self.symbol)
            sql += " ORDER BY trade_id LIMIT ?"
            args.append(self.limit + 1)
            rows.extend(conn.execute(sql, args).fetchall())
        rows.sort(key=lambda r: (r[1], r[0] != "buy"))
        return rows[: self.limit + 1]


@dataclass(frozen=True, slots=True)
class TradeHistory:
    """The public tape of one symbol in ``[start, end)``, by trade id."""

    symbol: str
    start: int | None
    end: int | None
    after: int
    limit: int

    def run(self, conn: sqlite3.Connection) -> list[Row]:
        lo, hi = _range(self.start, self.end)
        return conn.execute(
            f"SELECT {_TRADE_COLUMNS} FROM trades WHERE symbol=? AND ts>=? AND ts<? AND "
            "trade_id>? ORDER BY trade_id LIMIT ?",
            (self.symbol, lo, hi, self.after, self.limit + 1)).fetchall()


@dataclass(frozen=True, slots=True)
class CandleHistory:
    """OHLCV candles of ``interval`` microseconds from the tape, ``(start, o, h, l, c, v)``
    for each interval with a trade, oldest first."""

    symbol: str
    interval: int
    start: int | None
    end: int | None
    limit: int

    def run(self, conn: sqlite3.Connection) -> list[Row]:
        lo, hi = _range(self.start, self.end)
        step = self.interval
        return conn.execute(
            "WITH b AS (SELECT (ts / ?) * ? AS t, MIN(trade_id) AS first, "
            "MAX(trade_id) AS last, MAX(price) AS h, MIN(price) AS l, SUM(qty) AS v "
            "FROM trades WHERE symbol=? AND ts>=? AND ts<? GROUP BY ts / ? "
            "ORDER BY t LIMIT ?) "
            "SELECT b.t, o.price, b.h, b.l, c.price, b.v FROM b "
            "JOIN trades o ON o.trade_id = b.first JOIN trades c ON c.trade_id = b.last "
            "ORDER BY b.t",
            (step, step, self.symbol, lo, hi, step, self.limit + 1)).fetchall()


@dataclass(frozen=True, slots=True)
class AuditTrail:
    """A user's audit events in ``[start, end)``, by id (AUDIT_FIELDS lists)."""

    user: str
    start: int | None
    end: int | None
    after: int
    limit: int

    def run(self, conn: sqlite3.Connection) -> list[list[Any]]:
        lo, hi = _range(self.start, self.end)
        after = self.after

        def keep(e: list[Any]) -> bool:
            return bool(e[0] > after and lo <= e[2] < hi)
        return _batches(conn, "SELECT events FROM audit WHERE user=? AND last_id>? AND "
                        "last_ts>=? AND first_ts<? ORDER BY first_id",
                        (self.user, after, lo, hi), keep, self.limit)


_INBOX_COLUMNS = "id, ts, kind, symbol, order_id, trade_id, side, qty, price, text, read"
"""The columns a notification is shown from, in this order."""


@dataclass(frozen=True, slots=True)
class InboxList:
    """A user's notifications: with ``since``, those after that id, oldest first;
    without, the unread ones (oldest first), then the newest read ones, up to ``limit``.
    Answers ``(rows, unread count)``."""

    user: str
    since: int | None
    limit: int

    def run(self, conn: sqlite3.Connection) -> tuple[list[Row], int]:
        if self.since is not None:
            rows = conn.execute(
                f"SELECT {_INBOX_COLUMNS} FROM inbox WHERE user=? AND id>? ORDER BY id "
                "LIMIT ?", (self.user, self.since, self.limit + 1)).fetchall()
        else:
            rows = conn.execute(
                f"SELECT {_INBOX_COLUMNS} FROM inbox WHERE user=? AND read=0 ORDER BY id "
                "LIMIT ?", (self.user, self.limit + 1)).fetchall()
            if len(rows) < self.limit + 1:
                rows += conn.execute(
                    f"SELECT {_INBOX_COLUMNS} FROM inbox WHERE user=? AND read=1 "
                    "ORDER BY id DESC LIMIT ?",
                    (self.user, self.limit + 1 - len(rows))).fetchall()
        unread = conn.execute("SELECT COUNT(*) FROM inbox WHERE user=? AND read=0",
                              (self.user,)).fetchone()[0]
        return rows, int(unread)


@dataclass(frozen=True, slots=True)
class InboxMark:
    """Mark notifications read: those in ``ids``, or every one up to ``up_to``
    (``ids`` empty and ``up_to`` None: all). Answers ``(marked, unread left)``."""

    user: str
    ids: tuple[int, ...]
    up_to: int | None

    def run(self, conn: sqlite3.Connection) -> tuple[int, int]:
        conn.execute("BEGIN")
        try:
            if self.ids:
                marks = ",".join("?" * len(self.ids))
                cur = conn.execute(f"UPDATE inbox SET read=1 WHERE user=? AND read=0 AND "
                                   f"id IN ({marks})", (self.user, *self.ids))
            else:
                cur = conn.execute("UPDATE inbox SET read=1 WHERE user=? AND read=0 AND id<=?",
                                   (self.user, self.up_to if self.up_to is not None else _END))
            marked = cur.rowcount
            unread = conn.execute("SELECT COUNT(*) FROM inbox WHERE user=? AND read=0",
                                  (self.user,)).fetchone()[0]
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return marked, int(unread)


@dataclass(frozen=True, slots=True)
class UserTrades:
    """A user's fills in ``[start, end)`` for a report, ``(side, *trade)`` by trade id,
    at most ``limit`` + 1 of them."""

    user: str
    start: int | None
    end: int | None
    limit: int
    side: str | None = None
    """Only the fills of this side (``sell`` for the gains report)."""

    def run(self, conn: sqlite3.Connection) -> list[Row]:
        found = FillHistory(self.user, None, self.start, self.end, 0, self.limit).run(conn)
        return [r for r in found if self.side is None or r[0] == self.side]
