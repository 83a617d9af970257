"""What the history store costs: the same load with it on and off, and how far it lags.

    python scripts/bench_history.py [--orders 200000] [--sessions 4] [--window 1000]
                                    [--runs 3] [--seed 1] [--memory]

Starts ``python -m exchange serve`` with a fresh ``--data-dir`` (or, with ``--memory``,
without one) twice per run: ``[history] enabled = false`` and ``true``, alternating which
goes first. Each gets the same seeded, pipelined load as ``bench_durability.py``
(``--sessions`` sessions, ``--window`` requests in flight each, 60% resting limit orders,
15% crossing, 25% cancels). While the load runs, an administrator's session asks for
``stats`` every 50 ms and keeps the largest ``history.lag_records`` (journal records
handed to the writer and not yet written) and ``history.lag_ms`` (how long the oldest of
them has waited); after the load, how long until the writer has caught up.

Prints requests per second for both, the median of ``--runs``, the on/off ratio, and the
lag. A measurement, not a test: nothing here asserts speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_durability import (  # the sibling script: its load and its sessions
    USERS,
    Session,
    build_load,
    connect,
    start_server,
    stop_server,
    write_config,
)

from protocol import messages as M
from protocol.codec import encode


def configs(tmp: Path, sessions: int) -> dict[str, Path]:
    write_config(tmp / "base.toml", sessions)
    base = (tmp / "base.toml").read_text()
    admin = '\n[[users]]\nuser = "admin"\ntoken = "admin-token"\nadmin = true\ncash = "0"\n'
    out = {}
    for mode, enabled in (("history off", "false"), ("history on", "true")):
        path = tmp / f"{mode.replace(' ', '-')}.toml"
        path.write_text(f"[history]\nenabled = {enabled}\n\n" + base + admin)
        out[mode] = path
    return out


class LagWatch:
    """Samples the server's history lag through an administrator's session."""

    def __init__(self) -> None:
        self.max_records = 0
        self.max_ms = 0
        self.samples = 0

    async def sample(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                     ) -> dict[str, int]:
        writer.write(encode(M.Stats(ref="s")))
        await writer.drain()
        reply = json.loads(await asyncio.wait_for(reader.readline(), 60))
        counters: dict[str, int] = reply["counters"]
        self.samples += 1
        self.max_records = max(self.max_records, counters.get("history.lag_records", 0))
        self.max_ms = max(self.max_ms, counters.get("history.lag_ms", 0))
        return counters

    async def watch(self, host: str, port: int, stop: asyncio.Event) -> None:
        reader, writer = await connect(host, port, "admin")
        try:
            while not stop.is_set():
                await self.sample(reader, writer)
                await asyncio.sleep(0.05)
            began = time.perf_counter()
            while (await self.sample(reader, writer)).get("history.lag_records", 0) > 0:
                await asyncio.sleep(0.005)
            self.drain_s = time.perf_counter() - began
        finally:
            writer.close()


async def one_run(args: argparse.Namespace, config: Path, data_dir: Path | None,
                  loads: list[list[bytes]]) -> tuple[float, LagWatch]:
    proc, host, port = await start_server(config, data_dir)
    watch = LagWatch()
    watch.drain_s = 0.0
    try:
        sessions = []
        for i, load in enumerate(loads):
            reader, writer = await connect(host, port, USERS[i])
            sessions.append(Session(reader, writer, load, args.window))
        stop = asyncio.Event()
        watching = asyncio.get_running_loop().create_task(watch.watch(host, port, stop))
        started = time.perf_counter()
        await asyncio.gather(*(s.run() for s in sessions))
        elapsed = time.perf_counter() - started
        stop.set()
        await watching
        for s in sessions:
            s.writer.close()
    finally:
        await stop_server(proc)
    return sum(len(load) for load in loads) / elapsed, watch


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--sessions", type=int, default=4, choices=range(1, len(USERS) + 1))
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--memory", action="store_true", help="no --data-dir")
    args = parser.parse_args()
    per_session = args.orders // args.sessions
    loads = [build_load(args.seed, i, per_session) for i in range(args.sessions)]
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        paths = configs(Path(tmp), args.sessions)
        rates: dict[str, list[float]] = {mode: [] for mode in paths}
        lags: list[LagWatch] = []
        for run in range(args.runs):
            order = list(paths) if run % 2 == 0 else list(reversed(paths))
            for mode in order:
                data_dir = None if args.memory else Path(tmp) / f"data-{run}-{mode[-2:]}"
                rate, watch = await one_run(args, paths[mode], data_dir, loads)
                rates[mode].append(rate)
                note = ""
                if mode == "history on":
                    lags.append(watch)
                    note = (f"; lag at most {watch.max_records} records / {watch.max_ms} ms "
                            f"({watch.samples} samples), caught up {watch.drain_s * 1000:.0f}"
                            " ms after the load")
                print(f"run {run + 1} {mode:12}: {rate:9,.0f} orders/s{note}", flush=True)
        median = {mode: statistics.median(r) for mode, r in rates.items()}
        where = "in memory" if args.memory else "with --data-dir"
        print(f"\n{per_session * args.sessions:,} requests from {args.sessions} sessions, "
              f"window {args.window}, {where}, median of {args.runs} runs, "
              f"{os.cpu_count()} CPUs")
        for mode, rate in median.items():
            print(f"{mode:12}: {rate:9,.0f} orders/s")
        print(f"on / off    : {median['history on'] / median['history off']:.1%}")
        print(f"lag         : at most {max(w.max_records for w in lags)} records, "
              f"{max(w.max_ms for w in lags)} ms; caught up at most "
              f"{max(w.drain_s for w in lags) * 1000:.0f} ms after the load")


if __name__ == "__main__":
    asyncio.run(main())
