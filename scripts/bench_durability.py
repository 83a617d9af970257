"""What --data-dir costs: the same load against an in-memory and a durable server.

    python scripts/bench_durability.py [--orders 200000] [--sessions 4] [--window 1000]
                                       [--runs 5] [--seed 1] [--baseline DIR]

Starts ``python -m exchange serve --port 0`` twice, in memory and then with a fresh
temporary ``--data-dir`` (journal with group commit: one write and one fdatasync per
event-loop turn, before any reply of that turn goes out), and drives each with the same
seeded, pipelined load: ``--sessions`` sessions, each keeping up to ``--window`` requests
in flight, ``--orders`` requests in all. Per session: 60% limit orders resting a few ticks
off the mid, 15% limit orders crossing it, 25% cancels of one of the session's earlier
orders (by client_order_id, so nothing waits for a reply); on the demo symbols (their
ticks, lots and reference prices), with users funded so that nothing is refused for money.

With ``--baseline DIR`` (another checkout of the project, with its own ``.venv``), the
servers of that checkout run in the same loop, alternating with this one's, and the ratios
of this checkout to the baseline are printed too: a before/after comparison from one run.

Prints requests per second (every place and cancel counts as an order request) for both
servers, the median of ``--runs``, and the durable/in-memory ratio. This is a measurement,
not a test: nothing here asserts speed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exchange.server.config import DEMO_SYMBOLS
from exchange.server.journal import scan_segment, segments
from protocol import messages as M
from protocol.codec import encode
from protocol.fields import Side

USERS = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")
START_TIMEOUT = 20.0
REPLY_TIMEOUT = 60.0


def write_config(path: Path, sessions: int) -> None:
    """The demo symbols, and one rich user per session."""
    lines = ["[limits]", "max_open_orders = 10000000", ""]
    for symbol, tick, lot, ref, band in DEMO_SYMBOLS:
        lines += ["[[symbols]]", f'symbol = "{symbol}"', f'tick_size = "{tick}"',
                  f'lot_size = "{lot}"', f'reference_price = "{ref}"']
        if band is not None:
            lines.append(f'price_band = "{band}"')
        lines.append("")
    # Rich, but within the exchange's bounds: the total cash and every holding's cost
    # basis must fit 64-bit cash units (PROTOCOL.md, Money and units).
    holdings = ", ".join(f'"{s}" = "1000000"' for s, *_ in DEMO_SYMBOLS)
    for user in USERS[:sessions]:
        lines += ["[[users]]", f'user = "{user}"', f'token = "{user}-token"',
                  'cash = "1000000000000"', f"holdings = {{ {holdings} }}", ""]
    path.write_text("\n".join(lines))


def build_load(seed: int, session: int, count: int) -> list[bytes]:
    """One session's requests, each encoded as one line (ref = its index)."""
    rng = random.Random(seed * 1000 + session)
    out: list[bytes] = []
    cids: list[str] = []
    for ref in range(count):
        symbol, tick_text, lot_text, ref_text, _ = rng.choice(DEMO_SYMBOLS)
        tick, lot, mid = Decimal(tick_text), Decimal(lot_text), Decimal(ref_text)
        roll = rng.random()
        if roll < 0.25 and cids:
            out.append(encode(M.Cancel(client_order_id=rng.choice(cids[-200:]), ref=ref)))
            continue
        side: Side = "buy" if rng.random() < 0.5 else "sell"
        if roll < 0.85:  # resting, 1..20 ticks away from the mid
            away = -rng.randint(1, 20) if side == "buy" else rng.randint(1, 20)
        else:  # crossing the mid by 0..5 ticks
            away = rng.randint(0, 5) if side == "buy" else -rng.randint(0, 5)
        cid = f"s{session}-{ref}"
        cids.append(cid)
        out.append(encode(M.Place(symbol=symbol, side=side, qty=lot * rng.randint(1, 10),
                                  price=mid + tick * away, client_order_id=cid, ref=ref)))
    return out


def server_python(checkout: Path | None) -> tuple[str, Path | None]:
    """The interpreter (and working directory) that runs a checkout's server."""
    if checkout is None:
        return sys.executable, None
    python = checkout / ".venv" / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"{python} not found: create the baseline's venv first "
                         "(python3 -m venv .venv && .venv/bin/pip install -e .)")
    return str(python), checkout


async def start_server(config: Path, data_dir: Path | None, checkout: Path | None = None
                       ) -> tuple[asyncio.subprocess.Process, str, int]:
    python, cwd = server_python(checkout)
    argv = [python, "-m", "exchange", "serve", "--port", "0", "--config",
            str(config), "--log-level", "WARNING"]
    if data_dir is not None:
        argv += ["--data-dir", str(data_dir)]
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                stdin=asyncio.subprocess.DEVNULL, cwd=cwd)
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT)).decode()
    if not line.startswith("listening on "):
        raise SystemExit(f"server did not start: {line!r}")
    host, _, port = line.strip().removeprefix("listening on ").rpartition(":")
    return proc, host, int(port)


async def stop_server(proc: asyncio.subprocess.Process) -> None:
    proc.terminate()
    code = await asyncio.wait_for(proc.wait(), START_TIMEOUT)
    if code != 0:
        raise SystemExit(f"server exited with status {code}")


class Session:
    """One pipelined connection: writes while fewer than ``window`` replies are owed."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 requests: list[bytes], window: int) -> None:
        self.reader = reader
        self.writer = writer
        self.requests = requests
        self.window = window
        self.replies = 0
        self.errors = 0
        self.room = asyncio.Event()

    async def run(self) -> None:
        reading = asyncio.get_running_loop().create_task(self._read())
        sent = 0
        total = len(self.requests)
        while sent < total:
            owed = sent - self.replies
            if owed >= self.window:
                self.room.clear()
                await self.room.wait()
                continue
            upto = min(total, sent + self.window - owed, sent + 256)
            self.writer.write(b"".join(self.requests[sent:upto]))
            sent = upto
            await self.writer.drain()
        await asyncio.wait_for(reading, REPLY_TIMEOUT)

    async def _read(self) -> None:
        """Count replies (lines with a ``ref``; pushed events have none) in bulk."""
        total = len(self.requests)
        reader = self.reader
        partial = b""
        while self.replies < total:
            chunk = await asyncio.wait_for(reader.read(1 << 20), REPLY_TIMEOUT)
            if not chunk:
                raise SystemExit("server closed the connection")
            data = partial + chunk
            cut = data.rfind(b"\n") + 1
            whole, partial = data[:cut], data[cut:]
            self.replies += whole.count(b'"ref":')
            self.errors += whole.count(b'{"type":"error"')
            self.room.set()


async def connect(host: str, port: int, user: str) -> tuple[asyncio.StreamReader,
                                                            asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(host, port, limit=2**24)
    writer.write(encode(M.Login(user=user, token=f"{user}-token", ref="login")))
    await writer.drain()
    line = await asyncio.wait_for(reader.readline(), REPLY_TIMEOUT)
    if b'"welcome"' not in line:
        raise SystemExit(f"login failed: {line!r}")
    return reader, writer


async def one_run(args: argparse.Namespace, config: Path, data_dir: Path | None,
                  loads: list[list[bytes]], checkout: Path | None = None) -> tuple[float, int]:
    proc, host, port = await start_server(config, data_dir, checkout)
    try:
        sessions = []
        for i, load in enumerate(loads):
            reader, writer = await connect(host, port, USERS[i])
            sessions.append(Session(reader, writer, load, args.window))
        started = time.perf_counter()
        await asyncio.gather(*(s.run() for s in sessions))
        elapsed = time.perf_counter() - started
        for s in sessions:
            s.writer.close()
        errors = sum(s.errors for s in sessions)
    finally:
        await stop_server(proc)
    return sum(len(load) for load in loads) / elapsed, errors


def journal_summary(data_dir: Path) -> str:
    records = size = 0
    for _, path in segments(data_dir):
        scan = scan_segment(path)
        records += scan.records
        size += scan.good_bytes
    return f"{records} journal records, {size / 1e6:.1f} MB"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=200_000, help="requests in all")
    parser.add_argument("--sessions", type=int, default=4, choices=range(1, len(USERS) + 1))
    parser.add_argument("--window", type=int, default=1000,
                        help="requests in flight per session")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--baseline", type=Path, metavar="DIR",
                        help="another checkout whose servers run alternately with these")
    args = parser.parse_args()
    per_session = args.orders // args.sessions
    loads = [build_load(args.seed, i, per_session) for i in range(args.sessions)]
    with tempfile.TemporaryDirectory(prefix="bench-durability-") as tmp:
        config = Path(tmp) / "bench.toml"
        write_config(config, args.sessions)
        modes: dict[str, tuple[bool, Path | None]] = {"in memory": (False, None),
                                                       "durable": (True, None)}
        if args.baseline is not None:
            modes["in memory (baseline)"] = (False, args.baseline)
            modes["durable (baseline)"] = (True, args.baseline)
        results: dict[str, list[float]] = {mode: [] for mode in modes}
        for run in range(args.runs):
            order = list(modes) if run % 2 == 0 else list(reversed(modes))
            for mode in order:  # alternating, so that drift favours none
                durable, checkout = modes[mode]
                data_dir = Path(tmp) / f"data-{run}-{len(results[mode])}-{mode[-2:]}" \
                    if durable else None
                rate, errors = await one_run(args, config, data_dir, loads, checkout)
                results[mode].append(rate)
                extra = f", {journal_summary(data_dir)}" if data_dir is not None else ""
                print(f"run {run + 1} {mode:20}: {rate:9,.0f} orders/s "
                      f"({errors} error replies{extra})", flush=True)
        median = {mode: statistics.median(rates) for mode, rates in results.items()}
        print(f"\n{per_session * args.sessions:,} requests from {args.sessions} sessions, "
              f"window {args.window}, median of {args.runs} runs, {os.cpu_count()} CPUs")
        for mode, rate in median.items():
            print(f"{mode:20}: {rate:9,.0f} orders/s")
        print(f"durable / in memory : {median['durable'] / median['in memory']:.1%}")
        if args.baseline is not None:
            for mode in ("in memory", "durable"):
                print(f"{mode} / baseline : {median[mode] / median[mode + ' (baseline)']:.1%}")

if __name__ == "__main__":
    asyncio.run(main())
