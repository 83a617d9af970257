"""Hostile clients against the real server: non-reading subscribers, floods of junk,
clients that never read their replies, too many connections, idle connections."""

from __future__ import annotations

import asyncio
import json
import socket

from tests.server.conftest import StartServer
from tests.server.test_load import orders_text, read_lines, slow_connection
from tests.server.wire import Conn, connect

SYMBOLS = ("AAPL", "MSFT", "BTC-USD", "XYZ")
CHANNELS = ("trades", "book", "quote")


async def sessions(admin: Conn) -> int:
    return int((await admin.request("stats"))["counters"]["sessions"])


async def test_non_reading_subscribers_are_dropped_at_the_bound_traders_served(
        start_server: StartServer) -> None:
    server = start_server("[limits]\noutbound_buffer = 65536\n")
    addr = server.addr
    subscribers = [await slow_connection(addr) for _ in range(20)]
    for sub in subscribers:
        await sub.send_raw(b"".join(
            json.dumps({"op": "subscribe", "channel": c, "symbol": s}).encode() + b"\n"
            for s in SYMBOLS for c in CHANNELS))
    admin = await connect(addr, "admin")
    alice = await connect(addr, "alice")
    bob = await connect(addr, "bob")
    assert await sessions(admin) == 23
    per_round = 500
    for rnd in range(100):
        sells, buys = (alice, bob) if rnd % 2 else (bob, alice)
        sells.writer.write(orders_text("sell", per_round))
        buys.writer.write(orders_text("buy", per_round))
        got = await asyncio.gather(read_lines(sells, per_round, marker=b'"ref":0'),
                                   read_lines(buys, per_round, marker=b'"ref":0'))
        assert all(g.count(b'"type":"accepted"') == per_round for g in got)
        if await sessions(admin) == 3:
            break
    else:
        raise AssertionError("the non-reading subscribers were never disconnected")
    assert server.log_text().count("client not reading") == 20
    assert "with stream subscriptions" in server.log_text()
    # The traders were never dropped and are still served.
    assert (await alice.request("ping"))["type"] == "pong"
    assert (await bob.request("balance"))["type"] == "balance"


async def test_a_junk_flood_does_not_stop_pings_of_another_client(
        start_server: StartServer) -> None:
    server = start_server()
    flooder = await slow_connection(server.addr)
    pinger = await connect(server.addr)
    junk = (b"junk " + b"x" * 58 + b"\n") * 16_384  # 1 MiB of unknown commands
    flooding = asyncio.create_task(flood(flooder, junk, 8))
    for _ in range(100):
        assert (await pinger.request("ping"))["type"] == "pong"
        await asyncio.sleep(0.002)
    flooding.cancel()
    # The flooder is slowed (reading it paused), not dropped: it asked for its replies.
    assert "client not reading" not in server.log_text()
    assert (await pinger.request("ping"))["type"] == "pong"


async def flood(conn: Conn, junk: bytes, times: int) -> None:
    for _ in range(times):
        conn.writer.write(junk)
        await conn.writer.drain()


async def test_a_client_that_does_not_read_its_replies_is_paused_then_answered(
        start_server: StartServer) -> None:
    server = start_server("[limits]\noutbound_buffer = 65536\n")
    quiet = await slow_connection(server.addr)
    n = 30_000  # about 1 MiB of pongs, sixteen times the bound
    lines = b"".join(json.dumps({"op": "ping", "ref": i}).encode() + b"\n" for i in range(n))
    quiet.writer.write(lines)
    # While it does not read, its pings are answered only as far as the bounds allow.
    other = await connect(server.addr, "admin")
    for _ in range(20):
        assert (await other.request("ping"))["type"] == "pong"
        await asyncio.sleep(0.01)
    assert await sessions(other) == 2
    # Once it reads, every reply comes, in order.
    data = await read_lines(quiet, n, timeout=30)
    refs = [json.loads(line)["ref"] for line in data.splitlines()]
    assert refs == list(range(n))
    assert "client not reading" not in server.log_text()


async def test_max_connections(start_server: StartServer) -> None:
    server = start_server("[limits]\nmax_connections = 3\n")
    conns = [await connect(server.addr) for _ in range(3)]
    for c in conns:
        assert (await c.request("ping"))["type"] == "pong"
    refused = await Conn.open(server.addr)
    busy = json.loads(await refused.recv_line())
    assert busy["type"] == "error" and busy["code"] == "server_busy"
    assert "max_connections" in busy["message"]
    assert await refused.expect_closed() == b""
    assert "refused" in server.log_text()
    # A place freed is a place for the next connection.
    await conns.pop().close()
    for _ in range(100):
        again = await Conn.open(server.addr)
        await again.send("ping")
        reply = json.loads(await again.recv_line())
        if reply["type"] == "pong":
            break
        assert reply["code"] == "server_busy"
        await asyncio.sleep(0.02)  # the server has not yet seen the close
    else:
        raise AssertionError("the freed connection slot was never reused")


async def test_max_connections_per_address(start_server: StartServer) -> None:
    server = start_server("[limits]\nmax_connections_per_address = 2\n")
    conns = [await connect(server.addr) for _ in range(2)]
    refused = await Conn.open(server.addr)
    busy = json.loads(await refused.recv_line())
    assert busy["code"] == "server_busy"
    assert "max_connections_per_address" in busy["message"] and "127.0.0.1" in busy["message"]
    assert await refused.expect_closed() == b""
    # Another address (127.0.0.2 is loopback too) has its own count.
    sock = socket.socket()
    sock.bind(("127.0.0.2", 0))
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, server.addr)
    reader, writer = await asyncio.open_connection(sock=sock)
    other = Conn(reader, writer)
    assert (await other.request("ping"))["type"] == "pong"
    for c in conns:
        assert (await c.request("ping"))["type"] == "pong"


async def test_default_limits_allow_a_hundred_connections(start_server: StartServer) -> None:
    server = start_server()
    conns = [await connect(server.addr) for _ in range(100)]
    for c in conns:
        assert (await c.request("ping"))["type"] == "pong"


async def test_login_timeout_closes_idle_connections_only(start_server: StartServer) -> None:
    server = start_server("[limits]\nlogin_timeout = 0.5\n")
    idle = await Conn.open(server.addr)
    logged_in = await connect(server.addr, "alice")
    guesser = await Conn.open(server.addr)
    watcher = await Conn.open(server.addr)
    subscriber = await Conn.open(server.addr)
    await subscriber.request("subscribe", channel="trades", symbol="AAPL")

    async def use_market_data() -> None:
        for _ in range(12):
            assert (await watcher.request("quote", symbol="AAPL"))["type"] == "quote"
            await asyncio.sleep(0.1)

    async def guess() -> None:
        for i in range(12):
            try:
                await guesser.send({"op": "login", "user": "alice", "token": f"guess{i}",
                                    "ref": i})
            except (ConnectionError, OSError):
                return  # closed by the server
            await asyncio.sleep(0.1)

    closing = asyncio.create_task(idle.recv(timeout=5))
    guessed = asyncio.create_task(read_until_closed(guesser))
    await asyncio.gather(use_market_data(), guess())
    notice = await closing
    assert notice["type"] == "error" and notice["code"] == "auth_required"
    assert notice["message"] == "login: not logged in within 0.5 s; closing"
    assert await idle.expect_closed() == b""
    # Failed logins are not activity: the guesser is closed too.
    assert b"not logged in within 0.5 s" in await guessed
    # A logged-in session, a market-data user and a subscriber stay.
    assert (await logged_in.request("ping"))["type"] == "pong"
    assert (await watcher.request("ping"))["type"] == "pong"
    assert (await subscriber.request("ping"))["type"] == "pong"
    assert "not logged in within 0.5 s" in server.log_text()


async def read_until_closed(conn: Conn) -> bytes:
    """Everything the server sends until it closes (a reset after it counts as closed)."""
    data = b""
    try:
        while chunk := await asyncio.wait_for(conn.reader.read(65536), 5):
            data += chunk
    except ConnectionError:
        pass
    return data


async def test_login_timeout_zero_disables_it(start_server: StartServer) -> None:
    server = start_server("[limits]\nlogin_timeout = 0\n")
    idle = await Conn.open(server.addr)
    await asyncio.sleep(0.3)
    assert (await idle.request("ping"))["type"] == "pong"
