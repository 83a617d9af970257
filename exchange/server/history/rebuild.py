"""Bring the history store up to the journal at start-up.

The history is derived data: every row is what some journal record did. The store keeps
the number of the last record it has (``meta.seq``). If it is behind the journal (the
server stopped before the writer caught up, or the file was deleted, or it is of another
schema, or it dropped rows when the writer fell too far behind), the records it lacks
are run again on an exchange of their own, rebuilt from the newest state source at or
before the store's record (a snapshot, or the configuration when the journal still
starts at record 1), with the store's feed attached; then the server starts as usual.

The journal keeps one generation back (see :mod:`exchange.server.journal`), so a store
lost long after its data directory began can be rebuilt only from the oldest snapshot
kept: what happened before it is no longer on disk, and the rebuild says so in the log.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from exchange.core.engine import Exchange
from exchange.core.historylog import HistoryLog
from exchange.server import journal as J
from exchange.server.history.feed import HistoryFeed
from exchange.server.history.store import SqliteHistory

log = logging.getLogger("exchange.history")

_BATCH = 5000
"""Records replayed between two batches handed to the writer."""
_AHEAD = 200_000
"""Rows the replay lets the writer fall behind before it waits."""


def open_history(data_dir: Path | None, fresh: Exchange, journal_seq: int,
                 inbox_keep: int) -> SqliteHistory:
    """The data directory's history store, caught up with record ``journal_seq``
    (``fresh``: the exchange the configuration builds). In memory without a directory."""
    if data_dir is None:
        return SqliteHistory(None, inbox_keep=inbox_keep)
    path = data_dir / "history.sqlite"
    store = SqliteHistory(path, inbox_keep=inbox_keep)
    if not store.complete or store.written_seq > journal_seq:
        why = ("it is incomplete or of another version" if not store.complete
               else f"it is ahead of the journal ({store.written_seq} > {journal_seq})")
        log.warning("history: %s; rebuilding it from the journal", why)
        store.close()
        SqliteHistory.discard(path)
        store = SqliteHistory(path, inbox_keep=inbox_keep)
    if store.written_seq < journal_seq:
        catch_up(data_dir, fresh, store, journal_seq)
    return store


def catch_up(data_dir: Path, fresh: Exchange, store: SqliteHistory, last: int) -> None:
    """Write the rows of records ``store.written_seq + 1 .. last`` into ``store``."""
    have = store.written_seq
    began = time.monotonic()
    exchange, start = _state_at(data_dir, fresh, have)
    if start > have:
        log.warning("history: records %d to %d are no longer in the data directory (the "
                    "journal keeps one generation back); the history starts after them",
                    have + 1, start)
    notes = HistoryLog(store.audit_id, store.inbox_id, store.order_hid)
    notes.skip_through = have
    feed = HistoryFeed(notes)
    exchange.history = notes
    replayed = 0
    for _, path in J.segments(data_dir):
        for seq, entry, _ in J.read_segment(path):
            if seq <= start or seq > last:
                continue
            notes.seq = seq
            J.apply(exchange, entry)
            replayed += 1
            if replayed % _BATCH == 0:
                _hand_over(feed, store)
    _hand_over(feed, store)
    exchange.history = None
    while store.written_rows < store.queued_rows:  # the live feed's ids go on from these
        time.sleep(0.005)
    log.info("history: caught up from record %d to %d (%d records replayed) in %.1f s",
             max(have, start), last, replayed, time.monotonic() - began)


def _hand_over(feed: HistoryFeed, store: SqliteHistory) -> None:
    rows = feed.take()
    if rows is None:
        return
    while store.queued_rows - store.written_rows > _AHEAD:
        time.sleep(0.005)  # the writer's backlog bound must not drop a rebuild's rows
    store.write(rows)


def _state_at(data_dir: Path, fresh: Exchange, seq: int) -> tuple[Exchange, int]:
    """The exchange as of the newest readable state source at or before record ``seq``,
    and that source's record; failing that, the oldest one kept."""
    found = J.snapshots(data_dir)
    for snap_seq, path in reversed(found):
        if snap_seq <= seq:
            try:
                at, _, exchange = J.load_snapshot(path, fresh.max_open_orders)
                return exchange, at
            except J.UnreadableSnapshot:
                continue
    segments = J.segments(data_dir)
    if not segments or segments[0][0] == 0:
        return fresh, 0
    for _, path in found:
        try:
            at, _, exchange = J.load_snapshot(path, fresh.max_open_orders)
            return exchange, at
        except J.UnreadableSnapshot:
            continue
    return fresh, 0
