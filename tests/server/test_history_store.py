"""The history feed and the SQLite store, without a server: what a run of every kind of
command leaves in the store is exactly what the exchange did."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from exchange.core import commands as C
from exchange.core.engine import Exchange
from exchange.core.historylog import HistoryLog
from exchange.core.orders import LIVE_STATUSES
from exchange.core.results import CommandError
from exchange.server.history import queries as Q
from exchange.server.history.feed import HistoryFeed
from exchange.server.history.store import SqliteHistory
from tests.core.commands_script import run_script
from tests.core.helpers import SYM, USERS, make_exchange


def ask(store: SqliteHistory, query: Any) -> Any:
    """Run a query on the store's thread and wait for its answer (no loop: called back
    on the writer's thread)."""
    done = threading.Event()
    answer: list[Any] = []

    def got(rows: Any) -> None:
        answer.append(rows)
        done.set()
    store.run(query, got)
    assert done.wait(10)
    if isinstance(answer[0], Exception):
        raise answer[0]
    return answer[0]


def fed_run(store: SqliteHistory) -> Exchange:
    ex = make_exchange()
    assert isinstance(ex, Exchange)
    feed = HistoryFeed(HistoryLog(counting=True))
    ex.history = feed.log
    run_script(ex)
    rows = feed.take()
    assert rows is not None
    store.write(rows)
    return ex


def test_the_store_holds_what_the_exchange_did(tmp_path: Path) -> None:
    store = SqliteHistory(tmp_path / "h.sqlite")
    ex = fed_run(store)
    for user in USERS:
        ended = {o.order_id: o for o in ex.orders_of(user, live_only=False)
                 if o.status not in LIVE_STATUSES}
        stored = ask(store, Q.OrderHistory(user, None, None, None, 0, 10_000))
        assert {r[1] for r in stored} == set(ended)
        for r in stored:
            order = ended[r[1]]
            assert (r[9], r[10], r[11], r[12]) == (order.filled, order.notional,
                                                  order.status, order.reason)
        fills = ask(store, Q.FillHistory(user, None, None, None, 0, 10_000))
        memory = ex.fills_of(user, None, 10_000)
        assert sorted((r[1], r[0]) for r in fills) == sorted((t.trade_id, side)
                                                              for t, side in memory)
    tape = ask(store, Q.TradeHistory(SYM, None, None, 0, 10_000))
    assert [r[0] for r in tape] == [t.trade_id for t in ex.market_data(SYM).recent_trades(
        10_000)]
    # Every command is in the audit trail, refused ones too.
    trail = ask(store, Q.AuditTrail("bob", None, None, 0, 10_000))
    assert any(e[3] == "withdraw" and e[8] == "insufficient_funds" for e in trail)
    assert [e[0] for e in trail] == sorted({e[0] for e in trail})
    store.close()


def test_pages_are_bounded_and_say_there_is_more(tmp_path: Path) -> None:
    store = SqliteHistory(None)
    ex = fed_run(store)
    everyone = [t.trade_id for t in ex.market_data(SYM).recent_trades(10_000)]
    assert len(everyone) >= 2
    first = ask(store, Q.TradeHistory(SYM, None, None, 0, 1))
    assert len(first) == 2  # the row past the limit tells the caller there is more
    rest = ask(store, Q.TradeHistory(SYM, None, None, first[0][0], 10_000))
    assert [first[0][0]] + [r[0] for r in rest] == everyone
    store.close()


def test_a_retracted_record_leaves_no_row() -> None:
    feed = HistoryFeed(HistoryLog(counting=True))
    ex = make_exchange()
    assert isinstance(ex, Exchange)
    ex.history = feed.log
    ex.apply(C.Deposit(1, "alice", 100))
    with pytest.raises(CommandError):
        ex.apply(C.Withdraw(2, "alice", 10**15))  # refused, then taken back
    feed.retract(feed.log.seq)
    rows = feed.take()
    assert rows is not None
    assert [r[0] for r in rows.audit] == ["alice"]
    assert '"withdraw"' not in rows.audit[0][5] and '"deposit"' in rows.audit[0][5]


def test_inbox_is_trimmed_to_its_bound(tmp_path: Path) -> None:
    store = SqliteHistory(tmp_path / "h.sqlite", inbox_keep=10)
    feed = HistoryFeed(HistoryLog())
    for i in range(100):
        feed.note("alice", i, "alert", SYM, f"alert {i}")
        rows = feed.take()
        assert rows is not None
        store.write(rows)
    rows_, unread = ask(store, Q.InboxList("alice", None, 1000))
    assert 10 <= unread < 20  # trimmed once a tenth of the bound more has come in
    assert rows_[-1][9] == "alert 99"
    marked, left = ask(store, Q.InboxMark("alice", (), None))
    assert (marked, left) == (unread, 0)
    store.close()


def test_a_store_reopened_knows_its_last_record(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    store = SqliteHistory(path)
    fed_run(store)
    store.close()
    again = SqliteHistory(path)
    assert again.written_seq > 0 and again.complete
    again.close()
