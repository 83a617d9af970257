"""The client's history, audit, report and inbox methods against the real server."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from client import (
    Accepted,
    AuditReply,
    CandleHistoryReply,
    Client,
    FillHistoryReply,
    ForbiddenError,
    InboxMarked,
    InboxReply,
    InvalidRequest,
    OrderHistoryReply,
    ReportReply,
    TradeHistoryReply,
)


async def test_history_methods(alice: Client, bob: Client, symbol: str) -> None:
    sold = await alice.place(symbol, "sell", 3, "10.00")
    assert isinstance(sold, Accepted)
    bought = await bob.place(symbol, "buy", 3, "10.00")
    assert isinstance(bought, Accepted) and bought.fills
    trade_id = bought.fills[0].trade_id

    fills = await bob.fill_history(symbol)
    assert isinstance(fills, FillHistoryReply)
    assert [f.trade_id for f in fills.fills] == [trade_id] and not fills.more
    orders = await bob.order_history(symbol, start=datetime(2000, 1, 1, tzinfo=UTC))
    assert isinstance(orders, OrderHistoryReply)
    assert [o.status for o in orders.orders] == ["filled"]
    tape = await bob.trade_history(symbol, after=trade_id - 1, limit=5)
    assert isinstance(tape, TradeHistoryReply) and tape.trades[0].trade_id == trade_id
    candles = await bob.candle_history(symbol, "1h")
    assert isinstance(candles, CandleHistoryReply) and candles.candles[0].v == "3"

    trail = await bob.audit()
    assert isinstance(trail, AuditReply)
    assert [e.action for e in trail.events][-1] == "place"
    with pytest.raises(ForbiddenError):
        await bob.audit("alice")

    report = await bob.report_confirmations(end=datetime(2999, 1, 1, tzinfo=UTC))
    assert isinstance(report, ReportReply)
    rows = list(csv.DictReader(io.StringIO(report.csv)))
    assert [int(r["trade_id"]) for r in rows][-1] == trade_id
    gains = await alice.report_gains(datetime.now(UTC).year)
    assert isinstance(gains, ReportReply) and gains.kind == "gains"

    inbox = await alice.inbox()
    assert isinstance(inbox, InboxReply)
    mine = [n for n in inbox.notifications if n.kind == "fill" and n.symbol == symbol]
    assert mine and not mine[0].read
    marked = await alice.inbox_read([mine[0].id])
    assert isinstance(marked, InboxMarked) and marked.marked == 1

    with pytest.raises(InvalidRequest):  # a naive time names no instant: never sent
        await bob.fill_history(start=datetime(2026, 1, 1))
