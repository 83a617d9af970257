"""scripts/watch.py: the book it keeps (snapshot, deltas, gaps), what it draws, and the
real thing under a pseudo-terminal."""

from __future__ import annotations

import io
import os
import pty
import select
import signal
import subprocess
import sys
import time
from typing import Any

from rich.console import Console

from protocol.replies import BookReply, BookUpdate, QuoteReply, Trade
from tests.scripts.conftest import ROOT, SCRIPTS, script

watch = script("watch")


def make_trade(trade_id: int, price: str, qty: str, taker: str) -> Trade:
    return Trade(trade_id=trade_id, symbol="AAPL", price=price, qty=qty, buy_order_id=1,
                 sell_order_id=2, taker_side=taker, ts="2026-11-22T09:30:01.123456Z")


def draw(state: Any) -> str:
    console = Console(record=True, width=120, color_system=None, file=io.StringIO())
    console.print(watch.render(state))
    return console.export_text()


def test_book_follows_snapshot_and_deltas() -> None:
    state = watch.WatchState("AAPL", depth=5)
    state.on_snapshot(BookReply(symbol="AAPL", seq=10, bids=[("149.90", "100"), ("149.80", "5")],
                                asks=[("150.10", "7")]))
    assert state.on_update(BookUpdate(symbol="AAPL", seq=9, bids=[("149.90", "0")], asks=[]))
    assert state.bids  # an update older than the snapshot is ignored
    assert state.on_update(BookUpdate(symbol="AAPL", seq=11, bids=[("149.90", "0")],
                                      asks=[("150.20", "3"), ("150.10", "8")]))
    assert state.seq == 11
    assert [(str(p), q) for p, q in sorted(state.bids.items())] == [("149.80", "5")]
    assert [(str(p), q) for p, q in sorted(state.asks.items())] == [
        ("150.10", "8"), ("150.20", "3")]
    # seq 13 after 11: one update was lost, so the book is dropped until a new snapshot.
    assert not state.on_update(BookUpdate(symbol="AAPL", seq=13, bids=[], asks=[]))
    assert state.seq is None and not state.bids and not state.asks and state.resyncs == 1
    assert state.on_update(BookUpdate(symbol="AAPL", seq=14, bids=[("1.00", "1")], asks=[]))
    assert not state.bids  # still waiting for the snapshot
    state.on_snapshot(BookReply(symbol="AAPL", seq=14, bids=[("149.70", "2")], asks=[]))
    assert state.seq == 14 and list(state.bids) == [watch.Decimal("149.70")]


def test_render_shows_ladder_quote_and_trades() -> None:
    state = watch.WatchState("AAPL", depth=2, max_trades=2)
    state.on_snapshot(BookReply(symbol="AAPL", seq=3,
                                bids=[("149.90", "100"), ("149.80", "5"), ("149.70", "9")],
                                asks=[("150.10", "7"), ("150.30", "44")]))
    state.on_quote(QuoteReply(symbol="AAPL", bid="149.90", bid_qty="100", ask="150.10",
                              ask_qty="7", last="150.05", open="149.00", high="151.25",
                              low="148.50", volume="1234"))
    for i, (price, taker) in enumerate([("150.00", "buy"), ("150.05", "sell"),
                                        ("150.07", "buy")]):
        state.on_trade(make_trade(i + 1, price, "10", taker))
    text = draw(state)
    for expected in ("AAPL", "149.90", "149.80", "150.10", "150.30", "44", "spread 0.20",
                     "150.05", "151.25", "148.50", "1234", "09:30:01.123", "150.07"):
        assert expected in text, expected
    assert "149.70" not in text  # deeper than --depth
    assert "150.00" not in text  # older than the last 2 trades
    # Asks above bids, best prices next to the spread.
    assert text.index("150.30") < text.index("150.10") < text.index("149.90") < \
        text.index("149.80")


def test_render_before_any_data() -> None:
    text = draw(watch.WatchState("MSFT"))
    assert "MSFT" in text and "no quote yet" in text and "(none yet)" in text


def test_runs_in_a_terminal_and_quits_on_ctrl_c(server: Any, lines: Any) -> None:
    conn = lines()
    assert conn.ask("login bob bob-token")["type"] == "welcome"
    assert conn.ask("sell AAPL 12 @ 151.23")["type"] == "accepted"
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPTS / "watch.py"), "AAPL", "--port", str(server.port)],
        cwd=ROOT, stdin=slave, stdout=slave, stderr=slave, close_fds=True,
        env={**os.environ, "COLUMNS": "120", "LINES": "40", "TERM": "xterm-256color"})
    os.close(slave)
    seen = b""

    def read_until(needle: bytes, timeout: float = 20.0) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while needle not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
        assert needle in seen, seen[-2000:]

    try:
        read_until(b"151.23")  # the resting ask, from the book snapshot
        assert conn.ask("login alice alice-token")["type"] == "welcome"
        assert conn.ask("buy AAPL 5 @ 151.23")["fills"]
        read_until(b"buy")  # the trade on the tape (taker side), from the trades stream
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        finally:
            os.close(master)
    assert proc.returncode == 0
