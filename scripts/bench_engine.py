"""Benchmark of the matching core, with accounts and all bookkeeping switched on.

Workload (seeded, one symbol): N operations, of which 60% are passive limit orders
within 50 ticks of a mid of 10,000 ticks, 25% cancel a random live order, and 15% are
limit orders crossing the spread by 0-5 ticks; quantities 1-100 lots. Users are funded
so that nothing is refused for money. Then the LOBSTER replay (real Nasdaq flow) and
memory per resting order at 100k resting orders.

    python scripts/bench_engine.py [--ops 200000] [--runs 3] [--profile]

Prints operations per second (median of the runs) with CPython's default garbage
collector settings and with the server's (``tune_gc``: rarer collections), peak Python
heap of one run, and bytes per resting order. This is a measurement, not a test:
nothing here asserts speed.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exchange import core
from exchange.core.accounts import UserInfo
from exchange.core.engine import Exchange
from exchange.core.orders import Order
from exchange.core.symbols import SymbolSpec
from exchange.server.server import tune_gc

DEFAULT_GC = gc.get_threshold()

MID = 10_000
USERS = 50


def make_exchange() -> Exchange:
    ex = Exchange([SymbolSpec.create("BENCH", "0.01", "1")], max_open_orders=10**9)
    for i in range(USERS):
        ex.add_user(UserInfo(f"u{i}"), 10**15, {"BENCH": 10**9})
    return ex


def make_ops(n: int, seed: int) -> list[tuple[int, int, int, int, int]]:
    """Pre-drawn random numbers, so the timed loop spends its time in the engine."""
    rnd = random.Random(seed)
    ops = []
    for _ in range(n):
        r = rnd.random()
        kind = 0 if r < 0.60 else (1 if r < 0.85 else 2)
        ops.append((kind, rnd.randrange(2), rnd.randint(1, 50), rnd.randint(1, 100),
                    rnd.randrange(USERS)))
    return ops


def run_workload(ex: Exchange, ops: list[tuple[int, int, int, int, int]]) -> float:
    """Run the ops; returns elapsed seconds."""
    place = ex.place
    cancel = ex.cancel
    book = ex.books["BENCH"]
    live: list[Order] = []
    rnd = random.Random(7)
    now = 1_700_000_000_000_000
    users = [f"u{i}" for i in range(USERS)]
    start = time.perf_counter()
    for kind, side_bit, dist, qty, uidx in ops:
        now += 1
        user = users[uidx]
        if kind == 0:
            if side_bit:
                out = place(user, "BENCH", "buy", qty, now, price=MID - dist)
            else:
                out = place(user, "BENCH", "sell", qty, now, price=MID + dist)
            order = out.order
            if order is not None and order.status == "accepted":
                live.append(order)
        elif kind == 1:
            while live:
                i = rnd.randrange(len(live))
                order = live[i]
                live[i] = live[-1]
                live.pop()
                if order.live:
                    cancel(order.user, order.order_id, now)
                    break
        else:
            cross = dist % 6
            if side_bit:
                best = book.best_ask()
                price = (best if best is not None else MID) + cross
                out = place(user, "BENCH", "buy", qty, now, price=price)
            else:
                best = book.best_bid()
                price = (best if best is not None else MID) - cross
                out = place(user, "BENCH", "sell", qty, now, price=price)
            order = out.order
            if order is not None and order.live:
                live.append(order)
    return time.perf_counter() - start


def bench_workload(n: int, runs: int, profile: bool) -> None:
    ops = make_ops(n, seed=42)
    for label, server_gc in (("default gc", False), ("server gc", True)):
        rates = []
        for _ in range(runs):
            ex = make_exchange()
            gc.collect()
            if server_gc:
                tune_gc()
            elapsed = run_workload(ex, ops)
            if server_gc:
                gc.unfreeze()
                gc.set_threshold(*DEFAULT_GC)
            ex.check_invariants()
            rates.append(n / elapsed)
        trades = ex.next_trade_id - 1
        print(f"workload ({label}): {n:,} ops, {trades:,} trades; ops/s per run: "
              + ", ".join(f"{r:,.0f}" for r in rates)
              + f"; median {statistics.median(rates):,.0f} ops/s")
    tracemalloc.start()
    ex = make_exchange()
    run_workload(ex, ops)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"workload: peak Python heap {peak / 2**20:.1f} MiB (one run, tracemalloc)")
    if profile:
        ex = make_exchange()
        prof = cProfile.Profile()
        prof.enable()
        run_workload(ex, ops)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)


def _own_ints(order: Order) -> int:
    """Bytes of the int objects only this order holds (small ints are shared by CPython)."""
    values = (order.order_id, order.accepted_at, order.reserved)
    return sum(sys.getsizeof(v) for v in values if not -5 <= v <= 256)


def bench_memory(resting: int) -> None:
    """Bytes of Python heap per resting order: the record, its own values, the structures."""
    ex = make_exchange()
    users = [f"u{i}" for i in range(USERS)]  # one string per user, as a server has
    rnd = random.Random(1)
    now = 1_700_000_000_000_000
    draws = [(rnd.randint(1, 100), rnd.randint(1, 500)) for _ in range(resting)]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    orders = []
    for i, (qty, dist) in enumerate(draws):
        if i % 2:
            out = ex.place(users[i % USERS], "BENCH", "buy", qty, now + i, price=MID - dist)
        else:
            out = ex.place(users[i % USERS], "BENCH", "sell", qty, now + i, price=MID + dist)
        orders.append(out.order)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    # The list above holds one 8-byte pointer per order: not the engine's memory.
    per_order = (after - before) / resting - 8
    record = sys.getsizeof(orders[0])
    values = sum(_own_ints(o) for o in orders) / resting
    overhead = per_order - record - values
    print(f"memory: {resting:,} resting orders: {per_order:.0f} B each in all = order record "
          f"{record} B + its own int values {values:.0f} B + {overhead:.0f} B of book, index "
          "and account structures")


def bench_lobster() -> None:
    try:
        from tests.core.lobster import LOBSTER_DIR, replay_engine
    except ImportError:
        print("lobster: replay helper not available")
        return
    for name in ("AMZN_message_20k.csv.gz", "MSFT_message_20k.csv.gz",
                 "AMZN_fullday_message_1level.csv.gz"):
        path = LOBSTER_DIR / name
        if not path.exists():
            print(f"lobster: {path} not found")
            continue
        ops, elapsed = replay_engine(path)
        print(f"lobster: {name}: {ops:,} ops in {elapsed:.3f}s = {ops / elapsed:,.0f} ops/s")


def main() -> None:
    print(f"core build: {core.BUILD} ({core.BUILD_NOTE}); EXCHANGE_ENGINE picks it")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--resting", type=int, default=100_000)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one run")
    args = parser.parse_args()
    bench_workload(args.ops, args.runs, args.profile)
    bench_memory(args.resting)
    bench_lobster()


if __name__ == "__main__":
    main()
