"""Replay of LOBSTER message files (real Nasdaq order flow) through the matching core.

LOBSTER message files (see ``LOBSTER_DIR / "README.md"``) are gzip CSV with the columns
time (seconds after midnight), type, order id, size, price (dollars x 10,000) and
direction (1 buy, -1 sell). They map onto engine commands as follows:

* type 1, a new limit order: ``place`` a gtc limit at that price (a LOBSTER id is mapped
  to the engine's order id and the owning user);
* type 2, a partial cancel of ``size``: ``modify`` the order to ``qty - size`` (a lower
  qty keeps its place), or ``cancel`` it when nothing would be left in our book;
* type 3, a delete: ``cancel``;
* type 4, an execution of a visible resting order: an opposite-side ``ioc`` limit at
  that price for that size, sent by a separate user;
* types 5 (hidden executions) and 7 (halts) are skipped, and so is any event for an
  order the replay never saw added or that is no longer live in the engine's book.

The files start with a book the messages never built, so the engine's book is only part
of the real one; its fills need not be the real ones, only the engine's own, which the
tests compare with an independent reference book (``test_lobster.py``).

Also used by ``scripts/bench_engine.py``, which needs ``LOBSTER_DIR`` and
``replay_engine``.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from exchange.core.accounts import UserInfo
from exchange.core.interface import Engine
from exchange.core.symbols import SymbolSpec
from tests.core.helpers import new_exchange

LOBSTER_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "lobster"
"""Where the sample files live: ../shared/data/lobster next to the repository."""

SYMBOL = "LOB"
TICK = "0.0001"
"""One LOBSTER price unit (1/10,000 of a dollar) is one tick; one share is one lot."""
DAY_START_US = 1_340_236_800_000_000
"""2012-06-21T00:00:00Z, the day of the sample files, in microseconds."""
MAKERS = ("m0", "m1", "m2", "m3")
"""Owners of the replayed limit orders (by LOBSTER id), so that users trade with each other."""
TAKER = "street"
"""Sends the ioc orders standing for executions of resting orders."""
CASH = 10**18
HOLDINGS = 10**12
"""Enough that no account ever refuses an order (prices are ~3e6 ticks, sizes < 1e5)."""

NEW, PARTIAL_CANCEL, DELETE, EXECUTE = 1, 2, 3, 4


class Message(NamedTuple):
    time_us: int
    """Microseconds after midnight."""
    type: int
    order_id: int
    size: int
    price: int
    direction: int


def parse_time_us(text: str) -> int:
    """``"34200.017459617"`` -> 34200017459 (truncated to whole microseconds)."""
    seconds, _, fraction = text.partition(".")
    return int(seconds) * 1_000_000 + int((fraction + "000000")[:6])


def read_messages(path: Path) -> list[Message]:
    """Every message of a LOBSTER message file (a header line, if any, is skipped)."""
    out: list[Message] = []
    with gzip.open(path, "rt", encoding="ascii") as f:
        for line in f:
            fields = line.strip().split(",")
            if not fields[0] or not fields[0][0].isdigit():
                continue  # the header of the full-day file, or a blank line
            out.append(Message(parse_time_us(fields[0]), int(fields[1]), int(fields[2]),
                               int(fields[3]), int(fields[4]), int(fields[5])))
    return out


def make_exchange() -> Engine:
    """A fresh exchange with the replay's one symbol and its well-funded users."""
    ex = new_exchange([SymbolSpec.create(SYMBOL, TICK, "1")], max_open_orders=10**9)
    for user in (*MAKERS, TAKER):
        ex.add_user(UserInfo(user), CASH, {SYMBOL: HOLDINGS})
    return ex


def maker_of(lobster_id: int) -> str:
    return MAKERS[lobster_id % len(MAKERS)]


def replay(ex: Engine, messages: Iterable[Message],
           tape: list[tuple[int, int, int, int]] | None = None) -> int:
    """Feed the messages through ``ex``; returns the number of engine commands sent.

    With ``tape``, appends every trade as (price, qty, maker order id, taker order id).
    """
    place, modify, cancel, find = ex.place, ex.modify, ex.cancel, ex.find
    ids: dict[int, int] = {}
    ops = 0
    for msg in messages:
        kind = msg.type
        now = DAY_START_US + msg.time_us
        if kind == NEW:
            side = "buy" if msg.direction == 1 else "sell"
            out = place(maker_of(msg.order_id), SYMBOL, side, msg.size, now, price=msg.price)
        elif kind in (PARTIAL_CANCEL, DELETE, EXECUTE):
            oid = ids.get(msg.order_id)
            if oid is None:
                continue
            user = maker_of(msg.order_id)
            order = find(user, oid)
            if not order.live:
                del ids[msg.order_id]
                continue
            if kind == EXECUTE:
                side = "sell" if order.side == "buy" else "buy"
                out = place(TAKER, SYMBOL, side, msg.size, now, price=msg.price, tif="ioc")
            elif kind == PARTIAL_CANCEL and order.qty - msg.size > order.filled:
                out = modify(user, oid, now, qty=order.qty - msg.size)
            else:
                out = cancel(user, oid, now)
        else:
            continue  # hidden executions and halts
        ops += 1
        if kind == NEW:
            assert out.order is not None
            ids[msg.order_id] = out.order.order_id
        if tape is not None:
            for t in out.trades:
                if t.taker_side == "buy":
                    tape.append((t.price, t.qty, t.sell_order_id, t.buy_order_id))
                else:
                    tape.append((t.price, t.qty, t.buy_order_id, t.sell_order_id))
    return ops


def replay_engine(path: Path) -> tuple[int, float]:
    """Replay one file through a fresh exchange: (engine commands, seconds of the replay loop).

    Reading and parsing the file is not timed.
    """
    messages = read_messages(path)
    ex = make_exchange()
    start = time.perf_counter()
    ops = replay(ex, messages)
    elapsed = time.perf_counter() - start
    return ops, elapsed
