"""FIX beside JSON lines, in one run against one spawned server: orders per second with
pipelined orders, and the round-trip latency of one order at a time.

    python scripts/bench_fix.py [--orders 20000] [--window 2000] [--samples 2000]

The server is ``exchange serve --port 0 --fix-port 0`` on the demo market (in its own
process: this one is the client). Both protocols place the same orders as the demo market
maker ``mm``: sells of one TSLA lot at prices that never cross, so every order rests and
is answered by one message (an ExecutionReport New, or an ``accepted`` line).

- **throughput**: ``--orders`` orders written back to back in windows of ``--window``
  (the next window is written once the previous one is answered), timed from the first
  write to the last answer;
- **latency**: ``--samples`` orders one at a time, each sent once the previous answer is
  read: the time from writing an order to reading its answer (p50, p99, max).

Each protocol uses a connection of its own and runs alone (JSON lines first, then FIX).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import selectors
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fix_message(msg_type: str, seq: int, fields: str) -> bytes:
    """A FIX 4.4 message from ``tag=value|...`` (no header), numbered ``seq``."""
    stamp = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime()) + ".000"
    body = (f"35={msg_type}|49=mm|56=EXCHANGE|34={seq}|52={stamp}|{fields}"
            .replace("|", "\x01").encode())
    head = b"8=FIX.4.4\x019=%d\x01" % len(body)
    return b"%s%s10=%03d\x01" % (head, body, sum(head + body) % 256)


def order_fields(i: int) -> str:
    price = f"{300 + (i % 5000) / 100:.2f}"
    return f"11=b{i}|55=TSLA|54=2|60=20260101-00:00:00|38=1|40=2|44={price}|59=1|"


def json_order(i: int, prefix: str) -> bytes:
    price = f"{300 + (i % 5000) / 100:.2f}"
    return (b'{"op":"place","symbol":"TSLA","side":"sell","qty":"1","price":"%s",'
            b'"client_order_id":"%s%d","ref":%d}\n' % (price.encode(), prefix.encode(), i, i))


class Reader:
    """Counts answers (a marker per answer) as they arrive."""

    def __init__(self, reader: asyncio.StreamReader, marker: bytes) -> None:
        self.reader = reader
        self.marker = marker
        self.tail = b""

    async def wait(self, count: int) -> None:
        seen = 0
        while seen < count:
            data = await asyncio.wait_for(self.reader.read(1 << 20), 30)
            if not data:
                raise ConnectionError("server closed the connection")
            data = self.tail + data
            seen += data.count(self.marker)
            self.tail = data[-len(self.marker) + 1:]


async def run(kind: str, writer: asyncio.StreamWriter, reader: Reader, first: int,
              orders: int, window: int, samples: int, encode: object) -> dict[str, float]:
    make = encode  # type: ignore[assignment]
    end = first + orders
    # Built before the clock starts: what is measured is the server, not this client.
    windows = [b"".join(make(n) for n in range(i, min(i + window, end)))  # type: ignore[operator]
               for i in range(first, end, window)]
    singles = [make(n) for n in range(end, end + samples)]  # type: ignore[operator]
    start = time.perf_counter()
    for i, data in enumerate(windows):
        writer.write(data)
        await reader.wait(min(window, orders - i * window))
    elapsed = time.perf_counter() - start
    lat: list[float] = []
    for data in singles:
        t0 = time.perf_counter()
        writer.write(data)
        await reader.wait(1)
        lat.append(time.perf_counter() - t0)
    lat.sort()
    return {"orders_per_s": orders / elapsed, "p50_us": lat[len(lat) // 2] * 1e6,
            "p99_us": lat[int(len(lat) * 0.99)] * 1e6, "max_us": lat[-1] * 1e6}


async def bench(lines_addr: tuple[str, int], fix_addr: tuple[str, int], orders: int,
                window: int, samples: int) -> dict[str, dict[str, float]]:
    results = {}
    r, w = await asyncio.open_connection(*lines_addr)
    w.write(b"login mm mm-token\n")
    await r.readline()
    results["json-lines"] = await run("json", w, Reader(r, b'"type":"accepted"'), 0, orders,
                                      window, samples, lambda n: json_order(n, "j"))
    w.close()
    r, w = await asyncio.open_connection(*fix_addr)
    w.write(fix_message("A", 1, "98=0|108=30|554=mm-token|"))
    reader = Reader(r, b"\x0135=A\x01")
    await reader.wait(1)
    seq = [2]

    def fix_order(n: int) -> bytes:
        data = fix_message("D", seq[0], order_fields(n))
        seq[0] += 1
        return data

    reader.marker = b"\x0135=8\x01"
    results["fix"] = await run("fix", w, reader, 10_000_000, orders, window, samples,
                               fix_order)
    w.close()
    return results


def spawn() -> tuple[subprocess.Popen[bytes], tuple[str, int], tuple[str, int]]:
    proc = subprocess.Popen([sys.executable, "-m", "exchange", "serve", "--port", "0",
                             "--fix-port", "0", "--log-level", "WARNING"], cwd=ROOT,
                            stdout=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf = b""
    while b"\nlistening on " not in buf:
        if not sel.select(30):
            proc.kill()
            raise SystemExit("the server did not start")
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            raise SystemExit("the server exited")
        buf += chunk
    addrs = {}
    for line in buf.decode().splitlines():
        name, _, addr = line.rpartition(" ")
        host, _, port = addr.rpartition(":")
        addrs[name] = (host, int(port))
    return proc, addrs["listening on"], addrs["fix listening on"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--window", type=int, default=2_000)
    parser.add_argument("--samples", type=int, default=2_000)
    args = parser.parse_args(argv)
    proc, lines_addr, fix_addr = spawn()
    try:
        results = asyncio.run(bench(lines_addr, fix_addr, args.orders, args.window,
                                    args.samples))
    finally:
        proc.terminate()
        proc.wait(30)
    print(f"{'protocol':<12}{'orders/s':>12}{'p50 us':>10}{'p99 us':>10}{'max us':>10}")
    for name, r in results.items():
        print(f"{name:<12}{r['orders_per_s']:>12,.0f}{r['p50_us']:>10,.0f}"
              f"{r['p99_us']:>10,.0f}{r['max_us']:>10,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
