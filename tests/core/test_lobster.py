"""LOBSTER replay: real Nasdaq order flow through the engine and through a reference book.

The reference book below shares no code with the engine: a dict of price -> FIFO list per
side and a scan for the best price. Both are fed the same messages with the same rules
(see :mod:`tests.core.lobster`), and every fill must agree: price, qty, maker and taker.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from tests.core.lobster import (
    DAY_START_US,
    LOBSTER_DIR,
    MAKERS,
    SYMBOL,
    TAKER,
    Message,
    make_exchange,
    parse_time_us,
    read_messages,
    replay,
    replay_engine,
)

Fill = tuple[int, int, int, int]
"""(price, qty, maker order id, taker order id)"""


class ReferenceBook:
    """A deliberately plain limit order book: price-time priority, nothing else."""

    def __init__(self) -> None:
        self.sides: dict[str, dict[int, list[list[int]]]] = {"buy": {}, "sell": {}}
        self.where: dict[int, tuple[str, int]] = {}  # order id -> (side, price)
        self.next_id = 1

    def place(self, side: str, qty: int, price: int, ioc: bool, tape: list[Fill]) -> int:
        oid = self.next_id
        self.next_id += 1
        other = self.sides["sell" if side == "buy" else "buy"]
        while qty > 0 and other:
            best = min(other) if side == "buy" else max(other)
            if (best > price) if side == "buy" else (best < price):
                break
            queue = other[best]
            maker = queue[0]
            q = min(qty, maker[1])
            tape.append((best, q, maker[0], oid))
            qty -= q
            maker[1] -= q
            if maker[1] == 0:
                queue.pop(0)
                del self.where[maker[0]]
                if not queue:
                    del other[best]
        if qty > 0 and not ioc:
            self.sides[side].setdefault(price, []).append([oid, qty])
            self.where[oid] = (side, price)
        return oid

    def entry(self, oid: int) -> list[int]:
        side, price = self.where[oid]
        return next(e for e in self.sides[side][price] if e[0] == oid)

    def reduce(self, oid: int, by: int) -> None:
        self.entry(oid)[1] -= by  # keeps its place in the queue

    def cancel(self, oid: int) -> None:
        side, price = self.where.pop(oid)
        queue = self.sides[side][price]
        queue[:] = [e for e in queue if e[0] != oid]
        if not queue:
            del self.sides[side][price]

    def depth(self, side: str) -> list[tuple[int, int]]:
        levels = [(p, sum(e[1] for e in q)) for p, q in self.sides[side].items()]
        return sorted(levels, reverse=(side == "buy"))


def replay_reference(messages: list[Message]) -> tuple[ReferenceBook, list[Fill], int, float]:
    """The replay rules of tests.core.lobster, applied to the reference book.

    Returns the book, its fills, the number of commands, and the share of executions
    (type 4) whose first fill was against the very order LOBSTER says was executed.
    """
    ref = ReferenceBook()
    tape: list[Fill] = []
    ids: dict[int, int] = {}
    ops = executions = on_target = 0
    for msg in messages:
        if msg.type == 1:
            ids[msg.order_id] = ref.place("buy" if msg.direction == 1 else "sell", msg.size,
                                          msg.price, False, tape)
        elif msg.type in (2, 3, 4):
            oid = ids.get(msg.order_id)
            if oid is None:
                continue
            if oid not in ref.where:
                del ids[msg.order_id]
                continue
            side, _ = ref.where[oid]
            if msg.type == 4:
                before = len(tape)
                ref.place("sell" if side == "buy" else "buy", msg.size, msg.price, True, tape)
                executions += 1
                on_target += len(tape) > before and tape[before][2] == oid
            elif msg.type == 2 and ref.entry(oid)[1] > msg.size:
                ref.reduce(oid, msg.size)
            else:
                ref.cancel(oid)
        else:
            continue
        ops += 1
    return ref, tape, ops, on_target / max(executions, 1)


FILES = {
    "AMZN_message_20k.csv.gz": 0.7,
    "MSFT_message_20k.csv.gz": 0.7,
    "AMZN_fullday_message_1level.csv.gz": 0.2,  # a level-1 file misses most deletions
}


@pytest.fixture(scope="module")
def lobster_dir() -> Path:
    if not LOBSTER_DIR.is_dir():
        pytest.skip(f"LOBSTER data not found in {LOBSTER_DIR}")
    return LOBSTER_DIR


@pytest.mark.parametrize("name", list(FILES))
def test_engine_fills_match_the_reference_book(lobster_dir: Path, name: str) -> None:
    path = lobster_dir / name
    if not path.exists():
        pytest.skip(f"{path} not found")
    messages = read_messages(path)
    ex = make_exchange()
    before = ex.totals()
    engine_tape: list[Fill] = []
    engine_ops = replay(ex, messages, engine_tape)
    ref, ref_tape, ref_ops, on_target = replay_reference(messages)

    assert engine_ops == ref_ops
    for i, (got, want) in enumerate(zip(engine_tape, ref_tape, strict=False)):
        assert got == want, f"fill #{i}: engine {got} != reference {want}"
    assert len(engine_tape) == len(ref_tape)
    # the replay is not vacuous: it trades, and executions mostly hit the order named
    assert len(ref_tape) > 500
    assert on_target > FILES[name]

    _, bids, asks = ex.depth(SYMBOL, 10**6)
    assert bids == ref.depth("buy") and asks == ref.depth("sell")
    ex.check_invariants()
    assert ex.totals() == before
    live = sum(len(ex.orders_of(user)) for user in (*MAKERS, TAKER))
    assert live == len(ref.where)


def test_replay_engine_reports_commands_and_time(lobster_dir: Path) -> None:
    path = lobster_dir / "MSFT_message_20k.csv.gz"
    if not path.exists():
        pytest.skip(f"{path} not found")
    ops, elapsed = replay_engine(path)
    messages = read_messages(path)
    assert ops == replay_reference(messages)[2]
    assert ops > 15_000
    assert elapsed > 0


# --- the replay rules on a handmade file --------------------------------------------------


def test_parse_time_us() -> None:
    assert parse_time_us("34200.017459617") == 34_200_017_459
    assert parse_time_us("34200.01746") == 34_200_017_460
    assert parse_time_us("34200") == 34_200_000_000


def test_read_messages_skips_a_header(tmp_path: Path) -> None:
    path = tmp_path / "m.csv.gz"
    with gzip.open(path, "wt") as f:
        f.write("Time,Type,OrderId,Size,Price,Direction\n")
        f.write("34200.5,1,7,100,2238100,1\n34201,3,7,100,2238100,1\n")
    assert read_messages(path) == [
        Message(34_200_500_000, 1, 7, 100, 2238100, 1),
        Message(34_201_000_000, 3, 7, 100, 2238100, 1),
    ]


def test_replay_rules_on_a_handmade_flow() -> None:
    t = 34_200_000_000
    flow = [
        Message(t, 1, 10, 100, 5000, -1),  # sell 100 @ 0.5000      -> order 1
        Message(t, 1, 11, 50, 5000, -1),  # sell 50 @ 0.5000        -> order 2
        Message(t, 1, 12, 30, 4900, 1),  # buy 30 @ 0.4900          -> order 3
        Message(t, 2, 10, 40, 5000, -1),  # order 1: 100 -> 60, keeps its place
        Message(t, 4, 10, 70, 5000, -1),  # execution: buy ioc 70 @ 0.5000 -> order 4
        Message(t, 5, 0, 10, 5000, 1),  # hidden execution: skipped
        Message(t, 7, -1, 1, -1, 1),  # halt: skipped
        Message(t, 3, 99, 10, 5000, 1),  # unknown order: skipped
        Message(t, 3, 10, 60, 5000, -1),  # order 1 is filled: skipped
        Message(t, 2, 11, 40, 5000, -1),  # order 2 has 40 left: removing 40 cancels it
        Message(t, 1, 13, 10, 4800, -1),  # sell 10 @ 0.4800 crosses order 3 -> order 5
        Message(t, 3, 12, 20, 4900, 1),  # delete the rest of order 3
    ]
    ex = make_exchange()
    tape: list[Fill] = []
    assert replay(ex, flow, tape) == 8
    assert tape == [(5000, 60, 1, 4), (5000, 10, 2, 4), (4900, 10, 3, 5)]
    statuses = [ex.find(o.user, o.order_id).status
                for o in ex.orders()]
    assert statuses == ["filled", "canceled", "canceled", "filled", "filled"]
    first = ex.find("m2", 1)
    assert (first.qty, first.filled, first.accepted_at) == (60, 60, DAY_START_US + t)
    assert ex.depth(SYMBOL, 10)[1:] == ([], [])
    _, ref_tape, ref_ops, _ = replay_reference(flow)
    assert (ref_tape, ref_ops) == (tape, 8)
    ex.check_invariants()
