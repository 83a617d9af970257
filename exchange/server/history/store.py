"""The history store: SQLite in WAL mode, written and read by one thread of its own.

The seam is :class:`HistoryStore`: ``write`` a batch of rows, ``run`` a query record and
get its rows back later, ``close``. :class:`SqliteHistory` is the embedded default (the
standard library's ``sqlite3``; a file in the data directory, or an in-memory database
without one). Another database plugs in by providing the same three methods and the
queries of :mod:`~exchange.server.history.queries`.

One thread owns the connection and takes jobs from one queue in order: batches of rows,
and queries. A query therefore sees every row handed over before it, so a user who asks
for their fills right after a trade finds it (the gateway hands a turn's rows over before
the turn's queries). The event loop never waits for the database: it puts a job on the
queue and is called back (``call_soon_threadsafe``) with the answer. ``sqlite3`` releases
the GIL while SQLite works, so the writes run beside the loop on a second core.

Bounded: at most :data:`MAX_BACKLOG` rows wait for the writer. Past it a batch is dropped
rather than let memory grow, and the store is marked incomplete, so that the next start
rebuilds it from the journal (it is derived data; see :mod:`~exchange.server.history.rebuild`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, Protocol

import msgspec

from exchange.server.history.feed import Rows
from exchange.server.history.schema import SCHEMA, SCHEMA_VERSION

log = logging.getLogger("exchange.history")

MAX_BACKLOG: Final = 2_000_000
"""Rows handed over and not yet written before batches are dropped (see the module doc)."""
GATHER_SECONDS: Final = 0.05
"""How long the writer gathers batches into one transaction. Each transaction costs the
event loop a few hand-overs of the GIL (one per statement); gathering a twentieth of a
second keeps them to a few dozen a second under any load, and a query does not wait for
it (it ends the gathering)."""
GATHER_BATCHES: Final = 4096
"""Batches in one transaction at most."""
INBOX_KEEP: Final = 1000
"""Notifications kept per user: older ones are deleted, read or not."""

Done = Callable[[Any], None]
"""Called on the event loop with a query's answer, or the exception it raised."""


class HistoryStore(Protocol):
    """What the server needs of a history database (the storage seam for history)."""

    written_seq: int
    """The last journal record whose rows are written."""
    queued_seq: int
    """The last journal record whose rows were handed over."""

    def write(self, rows: Rows) -> None:
        """Queue one batch of rows (never blocks, never raises on the loop)."""
    def lag(self) -> tuple[int, float]:
        """Records handed over and not yet written, and how long the oldest waited (s)."""
    def run(self, query: Any, done: Done) -> None:
        """Run a query record after every batch written before it; ``done`` gets the rows."""
    def close(self) -> None:
        """Write what is queued, then close (waits for the writer)."""


_STOP: Final = object()


_COLUMNS: Final = {
    "orders": ("user", "first_hid", "last_hid", "first_ts", "last_ts", "orders"),
    "trades": ("trade_id", "symbol", "price", "qty", "buy_order_id", "sell_order_id",
               "taker_side", "ts", "buy_user", "sell_user", "buy_fee", "sell_fee",
               "sell_basis"),
    "cash": ("seq", "ts", "user", "kind", "amount"),
    "audit": ("user", "first_id", "last_id", "first_ts", "last_ts", "events"),
    "inbox": ("user", "id", "ts", "kind", "symbol", "order_id", "trade_id", "side", "qty",
              "price", "text"),
}
"""The columns each table's rows give, in their order."""
_TRIM_EVERY: Final = 5000
"""Notifications written between two trims of the inbox (so a user may hold up to this
many more than ``inbox_keep`` for a while)."""
_MAX_VARIABLES: Final = 32_000
"""Parameters in one statement at most (SQLite's limit is 32,766)."""


@functools.lru_cache(maxsize=256)
def _insert_sql(table: str, rows: int) -> str:
    columns = _COLUMNS[table]
    one = "(" + ",".join("?" * len(columns)) + ")"
    return (f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) VALUES "
            + ",".join([one] * rows))


def _insert(conn: sqlite3.Connection, table: str, values: list[Any]) -> None:
    """Insert rows given flat (each row's values one after another) in statements of a
    power-of-two number of rows each (few distinct statements to prepare and keep),
    each within SQLite's limit of parameters."""
    width = len(_COLUMNS[table])
    count = len(values) // width
    most = 1 << ((_MAX_VARIABLES // width).bit_length() - 1)
    at = 0
    while at < count:
        size = min(most, 1 << ((count - at).bit_length() - 1))
        conn.execute(_insert_sql(table, size), values[at * width:(at + size) * width])
        at += size


def _per_user(rows: list[tuple[Any, ...]]) -> list[Any]:
    """Batch rows (``user, first id, last id, first ts, last ts, JSON array``) merged
    into one per user, flat for :func:`_insert`."""
    merged: dict[str, list[Any]] = {}
    for user, lo, hi, first, last, items in rows:
        have = merged.get(user)
        if have is None:
            merged[user] = [lo, hi, first, last, [items]]
        else:
            have[0] = min(have[0], lo)
            have[1] = max(have[1], hi)
            have[2] = min(have[2], first)
            have[3] = max(have[3], last)
            have[4].append(items)
    flat: list[Any] = []
    for user, (lo, hi, first, last, parts) in merged.items():
        joined = parts[0] if len(parts) == 1 else "[" + ",".join(p[1:-1] for p in parts) + "]"
        flat += (user, lo, hi, first, last, joined)
    return flat


class SqliteHistory:
    """The embedded history store (see the module doc).

    ``path`` None is an in-memory database, gone with the process."""

    def __init__(self, path: Path | None, loop: asyncio.AbstractEventLoop | None = None,
                 inbox_keep: int = INBOX_KEEP) -> None:
        self.path = path
        self.loop = loop
        self.inbox_keep = inbox_keep
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.queued_seq = 0
        self.written_seq = 0
        self.queued_rows = 0
        self.written_rows = 0
        self.dropped_rows = 0
        self.oldest_wait = 0.0
        """When the oldest batch not yet written was handed over (``time.monotonic``)."""
        self._since_trim = 0
        self._json = msgspec.json.Encoder().encode
        self._conn = self._connect()
        self.complete = self._meta("complete", 1) == 1 and self._meta(
            "schema", SCHEMA_VERSION) == SCHEMA_VERSION
        self.written_seq = self.queued_seq = self._meta("seq", 0)
        self.audit_id = self._meta("audit_id", 0)
        """The last audit event id written (a feed's ids go on from it)."""
        self.inbox_id = self._meta("inbox_id", 0)
        """The last notification id written."""
        self.order_hid = self._meta("order_hid", 0)
        """The last ended-order number written."""
        self._thread = threading.Thread(target=self._serve, name="history-writer",
                                        daemon=True)
        self._thread.start()

    # -- opening -------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        target = ":memory:" if self.path is None else str(self.path)
        conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
        if self.path is not None:
            conn.execute("PRAGMA journal_mode=WAL")
            # Derived data: a power cut may lose the last batches, never corrupt the file,
            # and the next start writes them again from the journal.
            conn.execute("PRAGMA synchronous=NORMAL")
        version = conn.execute("SELECT name FROM sqlite_master WHERE name='meta'").fetchone()
        conn.executescript(SCHEMA)
        if version is None:
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        return conn

    def _meta(self, key: str, default: int) -> int:
        row = self._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return int(row[0]) if row is not None else default

    @staticmethod
    def discard(path: Path) -> None:
        """Remove a history file and its WAL (to rebuild it from the journal)."""
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(str(path) + suffix).unlink()

    # -- the loop's side ---------------------------------------------------------------------------
    def write(self, rows: Rows) -> None:
        size = rows.items
        if self.queued_rows - self.written_rows + size > MAX_BACKLOG:
            if self.dropped_rows == 0:
                log.error("the history writer is %d rows behind: dropping rows; the "
                          "history is rebuilt from the journal at the next start",
                          self.queued_rows - self.written_rows)
                self._jobs.put(("incomplete",))
            self.dropped_rows += size
            return
        self.queued_rows += size
        self.queued_seq = max(self.queued_seq, rows.seq)
        self._jobs.put((time.monotonic(), rows))

    def run(self, query: Any, done: Done) -> None:
        self._jobs.put((query, done))

    def lag(self) -> tuple[int, float]:
        """Journal records handed over and not yet written, and how long the oldest of
        them has waited (seconds)."""
        behind = self.queued_seq - self.written_seq
        waited = time.monotonic() - self.oldest_wait if behind > 0 and self.oldest_wait else 0.0
        return behind, waited

    def close(self) -> None:
        self._jobs.put(_STOP)
        self._thread.join()
        self._conn.close()

    # -- the writer's thread -----------------------------------------------------------------------
    def _serve(self) -> None:
        """Take jobs in order: batches of rows are gathered for up to
        :data:`GATHER_SECONDS` into one transaction; a query (or the stop) ends the
        gathering at once, its rows written first."""
        jobs = self._jobs
        while True:
            job = jobs.get()
            if job is _STOP:
                return
            if isinstance(job[-1], Rows):
                job = self._gather_and_write(job)
                if job is None:
                    continue
                if job is _STOP:
                    return
            if job[0] == "incomplete":
                self._mark_incomplete()
                continue
            query, done = job
            try:
                answer: Any = query.run(self._conn)
            except Exception as exc:
                answer = exc
            self._answer(done, answer)

    def _gather_and_write(self, first: Any) -> Any:
        """Write ``first`` and the batches that follow it within the gathering time; the
        job that ended the gathering (a query, the stop), or None."""
        batch = [first]
        later = None
        until = time.monotonic() + GATHER_SECONDS
        while len(batch) < GATHER_BATCHES:
            wait = until - time.monotonic()
            try:
                nxt = self._jobs.get(timeout=wait) if wait > 0 else self._jobs.get_nowait()
            except queue.Empty:
                break
            if nxt is not _STOP and isinstance(nxt[-1], Rows):
                batch.append(nxt)
            else:
                later = nxt
                break
        self.oldest_wait = batch[0][0]
        try:
            self._write([rows for _, rows in batch])
        except Exception:
            log.exception("the history writer failed; history is rebuilt from the journal "
                          "at the next start")
            self._mark_incomplete()
        self.oldest_wait = 0.0
        return later

    def _answer(self, done: Done, answer: Any) -> None:
        loop = self.loop
        if loop is None:
            done(answer)
            return
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is waiting
            loop.call_soon_threadsafe(done, answer)

    def _mark_incomplete(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('complete', 0)")

    def _write(self, batches: list[Rows]) -> None:
        """Write batches in one transaction, in a few statements whatever its size.

        Why few: ``sqlite3`` lets go of the GIL around every step of SQLite and takes it
        back before the next; while the event loop is busy, taking it back waits for the
        loop's switch interval. A statement per row would wait that long per row. So the
        rows of a table go as multi-row ``INSERT ... VALUES (...), (...)`` statements
        (:func:`_insert`), bound from the flat lists the feed made, and orders and audit
        events as one row per user holding that user's whole batch (JSON). The feed has
        done the Python work on the event loop; here it is list concatenation, and SQLite
        without the GIL."""
        conn = self._conn
        trades: list[Any] = []
        cash: list[Any] = []
        inbox: list[Any] = []
        for rows in batches:
            trades += rows.trades
            cash += rows.cash
            inbox += rows.inbox
        orders = _per_user([r for rows in batches for r in rows.orders])
        audit = _per_user([r for rows in batches for r in rows.audit])
        last = batches[-1]
        seq = max(self.written_seq, *(rows.seq for rows in batches))
        audit_id = max(self.audit_id, last.audit_id)
        inbox_id = max(self.inbox_id, last.inbox_id)
        order_hid = max(self.order_hid, last.order_hid)
        conn.execute("BEGIN")
        try:
            _insert(conn, "orders", orders)
            _insert(conn, "trades", trades)
            _insert(conn, "cash", cash)
            _insert(conn, "audit", audit)
            _insert(conn, "inbox", inbox)
            self._since_trim += len(inbox) // len(_COLUMNS["inbox"])
            if self._since_trim >= min(_TRIM_EVERY, self.inbox_keep):
                self._trim_inbox()
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('seq', ?), ('audit_id', ?), "
                         "('inbox_id', ?), ('order_hid', ?)",
                         (seq, audit_id, inbox_id, order_hid))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self.written_rows += sum(rows.items for rows in batches)
        self.written_seq = seq
        self.audit_id = audit_id
        self.inbox_id = inbox_id
        self.order_hid = order_hid

    def _trim_inbox(self) -> None:
        """Keep each user's newest ``inbox_keep`` notifications: one statement over the
        whole table, once :data:`_TRIM_EVERY` notifications (or ``inbox_keep``, if fewer)
        have come in since the last."""
        self._since_trim = 0
        self._conn.execute(
            "DELETE FROM inbox WHERE (user, id) IN (SELECT user, id FROM (SELECT user, id, "
            "ROW_NUMBER() OVER (PARTITION BY user ORDER BY id DESC) AS n FROM inbox) "
            "WHERE n > ?)", (self.inbox_keep,))
