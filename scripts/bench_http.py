"""The HTTP front-end beside JSON lines, in one run against one server: orders per second
over REST and over JSON lines, and stream messages per second to many subscribers over
WebSocket and over JSON lines.

    python scripts/bench_http.py                      # defaults below
    python scripts/bench_http.py --clients 8 --orders 4000 --subscribers 100 --trades 2000

It starts its own demo server (``exchange serve --port 0 --http-port 0``) in another
process and drives it from this one (uvloop). Orders: ``--clients`` closed-loop clients
per front-end, each with one request in flight, alternating a buy and a sell of one lot
at one price so that every pair trades (the books stay empty; cash is conserved). REST
requests are signed (HMAC-SHA256) on keep-alive connections; JSON-lines clients send one
line and wait for its reply. A pipelined JSON-lines figure (``--window`` requests in
flight per connection) shows what the line protocol does when the client does not wait.

Streams: ``--subscribers`` connections subscribe to AAPL's trades (``aaplusd@trade`` on
WebSocket; ``subscribe trades AAPL`` on JSON lines), then one pipelined JSON-lines driver
makes ``--trades`` trades; the figure is messages received by all subscribers per second,
from the first order sent to the last message received.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
USERS = ("alice", "bob", "carol", "dave")


class Server:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "exchange", "serve", "--port", "0", "--http-port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert self.proc.stdout is not None
        self.http = self.lines = ("", 0)
        while True:
            line = self.proc.stdout.readline().decode()
            if not line:
                raise SystemExit("the server exited before listening")
            name, _, where = line.strip().rpartition("listening on ")
            host, _, port = where.rpartition(":")
            if name.strip() == "http":
                self.http = (host, int(port))
            elif not name:
                self.lines = (host, int(port))
                break

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


# -- JSON lines ----------------------------------------------------------------------------

async def lines_conn(addr: tuple[str, int], user: str
                     ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(*addr, limit=2**24)
    writer.write(f"login {user} {user}-token\n".encode())
    welcome = json.loads(await reader.readline())
    assert welcome["type"] == "welcome", welcome
    return reader, writer


def order_line(i: int) -> bytes:
    side = "buy" if i % 2 == 0 else "sell"
    return (f'{{"op":"place","symbol":"AAPL","side":"{side}","qty":"1","price":"150.00",'
            f'"ref":{i}}}\n').encode()


async def lines_orders(addr: tuple[str, int], clients: int, orders: int) -> float:
    conns = [await lines_conn(addr, USERS[i % len(USERS)]) for i in range(clients)]

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for i in range(orders):
            writer.write(order_line(i))
            while b'"accepted"' not in await reader.readline():
                pass  # a fill event of an earlier order
    start = time.perf_counter()
    await asyncio.gather(*(run(r, w) for r, w in conns))
    elapsed = time.perf_counter() - start
    for _, w in conns:
        w.close()
    return clients * orders / elapsed


async def lines_pipelined(addr: tuple[str, int], clients: int, orders: int,
                          window: int) -> float:
    conns = [await lines_conn(addr, USERS[i % len(USERS)]) for i in range(clients)]

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sent = got = 0
        while got < orders:
            batch = []
            while sent < orders and sent - got < window:
                batch.append(order_line(sent))
                sent += 1
            if batch:
                writer.write(b"".join(batch))
            line = await reader.readline()
            if b'"accepted"' in line:
                got += 1
    start = time.perf_counter()
    await asyncio.gather(*(run(r, w) for r, w in conns))
    elapsed = time.perf_counter() - start
    for _, w in conns:
        w.close()
    return clients * orders / elapsed


# -- REST ----------------------------------------------------------------------------------

async def http_conn(addr: tuple[str, int]
                    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(*addr)


async def http_exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        request: bytes) -> tuple[int, bytes]:
    """One request on a keep-alive connection: its status and body. A bare HTTP/1.1
    client, so that the figure is the server's, not a client library's."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length)


def signed_order(addr: tuple[str, int], user: str, i: int) -> bytes:
    text = urlencode({"symbol": "AAPLUSD", "side": "BUY" if i % 2 == 0 else "SELL",
                      "type": "LIMIT", "timeInForce": "GTC", "quantity": "1",
                      "price": "150.00", "newOrderRespType": "ACK",
                      "timestamp": int(time.time() * 1000)})
    sig = hmac.new(f"{user}-secret".encode(), text.encode(), hashlib.sha256).hexdigest()
    body = f"{text}&signature={sig}".encode()
    return (f"POST /api/v3/order HTTP/1.1\r\nHost: {addr[0]}:{addr[1]}\r\n"
            f"X-MBX-APIKEY: {user}-key\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def rest_orders(addr: tuple[str, int], clients: int, orders: int) -> float:
    async def run(user: str, count: int) -> None:
        reader, writer = await http_conn(addr)
        for i in range(count):
            status, body = await http_exchange(reader, writer, signed_order(addr, user, i))
            assert status == 200, body
        writer.close()
    for user in USERS:
        await run(user, 2)  # warm up: each user's session logs in once
    start = time.perf_counter()
    await asyncio.gather(*(run(USERS[i % len(USERS)], orders) for i in range(clients)))
    elapsed = time.perf_counter() - start
    return clients * orders / elapsed


# -- streams -------------------------------------------------------------------------------

async def drive_trades(addr: tuple[str, int], trades: int) -> float:
    """Make ``trades`` trades with one pipelined connection; when it started."""
    reader, writer = await lines_conn(addr, "mm")
    start = time.perf_counter()
    got = 0
    for chunk in range(0, 2 * trades, 200):
        writer.write(b"".join(order_line(i) for i in range(chunk, min(chunk + 200,
                                                                      2 * trades))))
        while got < min(chunk + 200, 2 * trades):
            line = await reader.readline()
            if b'"accepted"' in line:
                got += 1
    writer.close()
    return start


async def ws_fanout(addr: tuple[str, int], subscribers: int, trades: int,
                    lines_addr: tuple[str, int]) -> float:
    url = f"ws://{addr[0]}:{addr[1]}/ws/aaplusd@trade"
    async with aiohttp.ClientSession() as session:
        sockets = [await session.ws_connect(url) for _ in range(subscribers)]
        done = [0.0]

        async def count(ws: aiohttp.ClientWebSocketResponse) -> None:
            n = 0
            while n < trades:
                msg = await ws.receive()
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    raise RuntimeError(f"stream ended after {n} messages: {msg}")
                n += 1
            done[0] = max(done[0], time.perf_counter())
        counters = asyncio.gather(*(count(ws) for ws in sockets))
        start = await drive_trades(lines_addr, trades)
        await asyncio.wait_for(counters, 300)
        for ws in sockets:
            await ws.close()
    return subscribers * trades / (done[0] - start)


async def lines_fanout(addr: tuple[str, int], subscribers: int, trades: int) -> float:
    conns = []
    for _ in range(subscribers):
        reader, writer = await asyncio.open_connection(*addr, limit=2**24)
        writer.write(b"subscribe trades AAPL\n")
        assert b"subscribed" in await reader.readline()
        conns.append((reader, writer))
    done = [0.0]

    async def count(reader: asyncio.StreamReader) -> None:
        n = 0
        while n < trades:
            line = await reader.readline()
            if not line:
                raise RuntimeError(f"stream ended after {n} messages")
            if b'"trade"' in line:
                n += 1
        done[0] = max(done[0], time.perf_counter())
    counters = asyncio.gather(*(count(r) for r, _ in conns))
    start = await drive_trades(addr, trades)
    await asyncio.wait_for(counters, 300)
    for _, w in conns:
        w.close()
    return subscribers * trades / (done[0] - start)


async def main(args: argparse.Namespace) -> dict[str, float]:
    server = Server()
    try:
        results = {
            "lines_orders_per_s": await lines_orders(server.lines, args.clients, args.orders),
            "rest_orders_per_s": await rest_orders(server.http, args.clients, args.orders),
            "lines_pipelined_orders_per_s": await lines_pipelined(
                server.lines, args.clients, args.orders, args.window),
            "lines_stream_msgs_per_s": await lines_fanout(server.lines, args.subscribers,
                                                          args.trades),
            "ws_stream_msgs_per_s": await ws_fanout(server.http, args.subscribers,
                                                    args.trades, server.lines),
        }
    finally:
        server.stop()
    return results


def cli() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=8, help="order clients per front-end")
    p.add_argument("--orders", type=int, default=2000, help="orders per client")
    p.add_argument("--window", type=int, default=64, help="pipelined requests in flight")
    p.add_argument("--subscribers", type=int, default=100)
    p.add_argument("--trades", type=int, default=2000)
    p.add_argument("--json", help="write the figures to this file")
    args = p.parse_args()
    try:
        import uvloop
        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    results = runner(main(args))
    for name, value in results.items():
        print(f"{name:32s} {value:12,.0f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    cli()
