"""Hostile-client benchmark: memory with non-reading subscribers, latency under a flood.

Starts the real server (``python -m exchange serve --port 0``, the demo market) and
measures, against it:

(a) the server's RSS growth while 20 connections subscribe to every stream (trades,
    book and quote of every symbol) and never read, as two pairs of traders pipeline
    crossing orders for ``--duration`` seconds (target: under 200 MiB);
(b) the worst round trip of a well-behaved client that pings every 10 ms while one
    connection (then four) sends 16 MiB of junk lines and never reads (target: under
    100 ms).

Each measurement gets a fresh server. ``--cwd DIR`` runs the server of another
checkout (its ``exchange`` package is found first, from the working directory), so
figures before and after a change come from one run::

    python scripts/bench_hostile.py                       # this checkout
    python scripts/bench_hostile.py --cwd ../old      # another checkout
    python scripts/bench_hostile.py --compare ../old  # both, side by side

Figures are printed; nothing here asserts a time (benchmarks are not tests).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SYMBOLS = ("AAPL", "MSFT", "TSLA", "BTC-USD", "ETH-USD")
CHANNELS = ("trades", "book", "quote")
MIB = 1024 * 1024


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    addr: tuple[str, int]
    log: Path

    def rss(self) -> tuple[int, int]:
        """(current RSS, peak RSS) in bytes, from /proc."""
        fields = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) * 1024
        return fields["VmRSS"], fields["VmHWM"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def count_in_log(self, text: str) -> int:
        return self.log.read_text(errors="replace").count(text)


def start_server(python: str, cwd: Path, workdir: Path) -> Server:
    log = Path(tempfile.mkstemp(prefix="bench-hostile-", suffix=".log", dir=workdir)[1])
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log, "wb") as err:
        proc = subprocess.Popen([python, "-m", "exchange", "serve", "--host", "127.0.0.1",
                                 "--port", "0"], cwd=cwd, stdout=subprocess.PIPE,
                                stderr=err, env=env)
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf = b""
    deadline = time.monotonic() + 30
    while b"\n" not in buf:
        if time.monotonic() > deadline or (not sel.select(1.0) and proc.poll() is not None):
            raise RuntimeError(f"server did not start: {log.read_text()}")
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            raise RuntimeError(f"server exited: {log.read_text()}")
        buf += chunk
    sel.close()
    line = buf.split(b"\n", 1)[0].decode()
    host, _, port = line.removeprefix("listening on ").rpartition(":")
    return Server(proc, (host, int(port)), log)


# -- (a) non-reading subscribers under load ----------------------------------------------

def non_reader(addr: tuple[str, int]) -> socket.socket:
    """A connection that subscribes to everything and never reads (small receive
    buffer, so what the server sends stays in the server)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(addr)
    lines = [json.dumps({"op": "subscribe", "channel": c, "symbol": s})
             for s in SYMBOLS for c in CHANNELS]
    sock.sendall(("\n".join(lines) + "\n").encode())
    return sock


async def trader_pair(addr: tuple[str, int], users: tuple[str, str], symbol: str,
                      price: str, stop_at: float, window: int, rate: float) -> int:
    """Two sessions that place crossing orders (1 lot at one price, alternating sides
    so holdings stay put), ``window`` lines at a time each, until ``stop_at``, paced
    at ``rate`` orders per second for the pair (so every run does the same work)."""
    conns = []
    for user in users:
        reader, writer = await asyncio.open_connection(*addr, limit=1 << 22)
        writer.write(f"login {user} {user}-token\n".encode())
        await reader.readline()
        conns.append((reader, writer))
    loop = asyncio.get_running_loop()
    rounds = 0
    start = loop.time()
    while loop.time() < stop_at:
        ahead = start + rounds * 2 * window / rate - loop.time() if rate else 0.0
        if ahead > 0:
            await asyncio.sleep(ahead)
        side_a, side_b = ("buy", "sell") if rounds % 2 else ("sell", "buy")
        for (_reader, writer), side in zip(conns, (side_a, side_b), strict=True):
            line = f"{side} {symbol} 1 @ {price}\n".encode()
            writer.write(line * window)
        for reader, _ in conns:
            seen = 0
            while seen < window:
                got = await reader.readline()
                if not got:
                    raise ConnectionError(f"trader lost: {users}")
                # Fills of resting orders are pushed too; count replies only.
                seen += got.startswith((b'{"type":"accepted"', b'{"type":"error"'))
        rounds += 1
    for _, writer in conns:
        writer.close()
    return rounds * window * 2


async def bench_subscribers(server: Server, duration: float, n: int,
                            rate: float) -> dict[str, Any]:
    addr = server.addr
    socks = [non_reader(addr) for _ in range(n)]
    await asyncio.sleep(0.5)  # let the subscriptions be answered before the baseline
    base, _ = server.rss()
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + duration
    peak = base
    traders = asyncio.gather(
        trader_pair(addr, ("alice", "bob"), "AAPL", "150.00", stop_at, 200, rate / 2),
        trader_pair(addr, ("carol", "dave"), "MSFT", "420.00", stop_at, 200, rate / 2))
    while not traders.done():
        await asyncio.sleep(0.05)
        peak = max(peak, server.rss()[0])
    orders = sum(await traders)
    end, hwm = server.rss()
    # Which subscribers did the server drop? A dropped one reads EOF or a reset.
    dropped = 0
    for sock in socks:
        sock.setblocking(False)
        try:
            while sock.recv(1 << 20):
                pass
        except BlockingIOError:
            continue  # still open, data still flowing
        except ConnectionResetError:
            pass
        dropped += 1
    for sock in socks:
        sock.close()
    return {"orders": orders, "base_mib": base / MIB, "growth_peak_mib": (peak - base) / MIB,
            "growth_end_mib": (end - base) / MIB, "hwm_growth_mib": (hwm - base) / MIB,
            "dropped": dropped, "subscribers": n}


# -- (b) a flood of junk while another client pings ---------------------------------------

def flood(addr: tuple[str, int], total: int, until: float, sent: list[int]) -> None:
    """Send ``total`` bytes of junk lines without reading (a thread; blocking sends)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(addr)
    line = b"junk " + b"x" * 58 + b"\n"  # 64 bytes: an unknown command, answered with an error
    chunk = line * 1024
    done = 0
    try:
        while done < total and time.monotonic() < until:
            sock.settimeout(max(0.01, until - time.monotonic()))
            try:
                sock.sendall(chunk)
            except TimeoutError:
                break
            done += len(chunk)
    except OSError:
        pass  # dropped by the server
    sent.append(done)
    # Hold the connection open (still not reading) until the measurement ends.
    while time.monotonic() < until:
        time.sleep(0.05)
    sock.close()


async def bench_flood(server: Server, flooders: int, size: int,
                      duration: float) -> dict[str, Any]:
    addr = server.addr
    reader, writer = await asyncio.open_connection(*addr)
    base, _ = server.rss()
    until = time.monotonic() + duration
    sent: list[int] = []
    threads = [threading.Thread(target=flood, args=(addr, size, until, sent), daemon=True)
               for _ in range(flooders)]
    for t in threads:
        t.start()
    rtts = []
    peak = base
    while time.monotonic() < until:
        t0 = time.perf_counter()
        writer.write(b"ping\n")
        line = await asyncio.wait_for(reader.readline(), 30)
        rtts.append(time.perf_counter() - t0)
        assert b"pong" in line, line
        peak = max(peak, server.rss()[0])
        await asyncio.sleep(0.01)
    for t in threads:
        t.join()
    writer.close()
    rtts.sort()
    return {"flooders": flooders, "pings": len(rtts), "worst_ms": rtts[-1] * 1000,
            "p99_ms": rtts[int(len(rtts) * 0.99) - 1] * 1000,
            "median_ms": rtts[len(rtts) // 2] * 1000,
            "flood_sent_mib": sum(sent) / MIB, "growth_peak_mib": (peak - base) / MIB}


# -- driver ------------------------------------------------------------------------------

def run_all(python: str, cwd: Path, args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"cwd": str(cwd)}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # The same trading without subscribers: what the market itself grows by
        # (trades, fills and candles are kept), to tell apart from the sessions.
        for key, n in (("control", 0), ("subscribers", args.subscribers)):
            server = start_server(python, cwd, work)
            try:
                results[key] = asyncio.run(
                    bench_subscribers(server, args.duration, n, args.rate))
            finally:
                server.stop()
        for n in (1, 4):
            server = start_server(python, cwd, work)
            try:
                results[f"flood{n}"] = asyncio.run(
                    bench_flood(server, n, args.flood_mib * MIB, args.flood_seconds))
            finally:
                server.stop()
    return results


def report(res: dict[str, Any]) -> None:
    s = res["subscribers"]
    c = res["control"]
    print(f"== server of {res['cwd']}")
    print(f"  (a) {s['subscribers']} non-reading subscribers, {s['orders']} orders placed: "
          f"RSS growth peak {s['growth_peak_mib']:.1f} MiB, at end {s['growth_end_mib']:.1f} "
          f"MiB; subscribers dropped: {s['dropped']}")
    print(f"      the same trading without subscribers ({c['orders']} orders): growth "
          f"{c['growth_peak_mib']:.1f} MiB; so the subscribers cost "
          f"{s['growth_peak_mib'] - c['growth_peak_mib']:.1f} MiB")
    for n in (1, 4):
        f = res[f"flood{n}"]
        print(f"  (b) {n} flooder(s), {f['flood_sent_mib']:.1f} MiB of junk accepted: "
              f"{f['pings']} pings, worst {f['worst_ms']:.1f} ms, p99 {f['p99_ms']:.1f} ms, "
              f"median {f['median_ms']:.2f} ms; RSS growth peak {f['growth_peak_mib']:.1f} MiB")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--python", default=sys.executable, help="interpreter for the server")
    p.add_argument("--cwd", type=Path, default=ROOT, help="checkout whose server to run")
    p.add_argument("--compare", type=Path, help="also run this checkout, first")
    p.add_argument("--duration", type=float, default=10.0, help="(a): seconds of trading")
    p.add_argument("--subscribers", type=int, default=20)
    p.add_argument("--rate", type=float, default=10_000,
                   help="(a): orders per second placed in all, crossing (0: as fast as "
                   "the server answers)")
    p.add_argument("--flood-mib", type=int, default=16)
    p.add_argument("--flood-seconds", type=float, default=10.0,
                   help="(b): how long the pinger runs (the flood may end sooner)")
    p.add_argument("--json", type=Path, help="write the figures here")
    args = p.parse_args(argv)
    runs = ([args.compare] if args.compare else []) + [args.cwd]
    results = []
    for cwd in runs:
        res = run_all(args.python, cwd.resolve(), args)
        report(res)
        results.append(res)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
