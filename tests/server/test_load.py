"""The server under pressure: slow readers, floods, rate limits, concurrency, shutdown."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import socket
from collections import Counter
from decimal import Decimal
from typing import Any

from tests.server.conftest import USERS, Server, StartServer
from tests.server.wire import Conn, connect

SMALL_BUFFER = 65_536
NL = b"\n"

RICH = """\
[limits]
outbound_buffer = 65536

[[symbols]]
symbol = "AAPL"
tick_size = "0.01"
lot_size = "1"
""" + "".join(f"""
[[users]]
user = "{u}"
token = "{u}-token"
cash = "100000000"
holdings = {{ AAPL = "1000000" }}
""" for u in ("alice", "bob", "admin")) + 'admin = true\n'


async def slow_connection(addr: tuple[str, int]) -> Conn:
    """A connection with a tiny receive buffer that the test never reads from."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, addr)
    reader, writer = await asyncio.open_connection(sock=sock)
    return Conn(reader, writer)


def orders_text(side: str, n: int) -> bytes:
    line = json.dumps({"op": "place", "symbol": "AAPL", "side": side, "qty": "1",
                       "price": "150.00", "ref": 0})
    return (line + "\n").encode() * n


async def read_lines(conn: Conn, n: int, timeout: float = 10.0, marker: bytes = b"") -> bytes:
    """Read (raw, for speed) until ``n`` whole lines containing ``marker`` have come."""
    buf = bytearray()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while buf.count(marker or NL) < n or (buf and not buf.endswith(NL)):
        chunk = await asyncio.wait_for(conn.reader.read(1 << 20), deadline - loop.time())
        if not chunk:
            raise ConnectionError(f"closed after {buf.count(NL)} of {n} lines")
        buf += chunk
    return bytes(buf)


async def test_slow_reader_is_dropped_while_others_keep_working(
        start_server: StartServer) -> None:
    server = start_server(config=RICH)
    addr = server.addr
    slow = await slow_connection(addr)
    for channel in ("trades", "book", "quote"):
        await slow.send({"op": "subscribe", "channel": channel, "symbol": "AAPL"})
    # A subscriber that does read keeps up and stays connected.
    reader = await connect(addr)
    for channel in ("trades", "book", "quote"):
        await reader.request("subscribe", channel=channel, symbol="AAPL")
    reader.events.clear()
    trades_seen = 0

    async def read_stream() -> None:
        nonlocal trades_seen
        while True:
            line = await reader.reader.readline()
            if not line:
                return
            trades_seen += line.startswith(b'{"type":"trade"')

    reading = asyncio.create_task(read_stream())
    admin = await connect(addr, "admin")
    alice = await connect(addr, "alice")
    bob = await connect(addr, "bob")
    assert (await admin.request("stats"))["counters"]["sessions"] == 5
    per_round = 1000
    total = 0
    for rnd in range(40):
        sells, buys = (alice, bob) if rnd % 2 else (bob, alice)
        sells.writer.write(orders_text("sell", per_round))
        buys.writer.write(orders_text("buy", per_round))
        got = await asyncio.gather(read_lines(sells, per_round, marker=b'"ref":0'),
                                   read_lines(buys, per_round, marker=b'"ref":0'))
        assert all(b'"type":"error"' not in g for g in got)
        total += per_round
        if (await admin.request("stats"))["counters"]["sessions"] == 4:
            break
    else:
        raise AssertionError("the slow reader was never disconnected")
    # The slow reader's connection is gone: reading it ends in EOF or a reset.
    try:
        while await asyncio.wait_for(slow.reader.read(1 << 20), 5.0):
            pass
    except ConnectionResetError:
        pass
    assert "client not reading" in server.log_text()
    # Everyone else still works, and the reading subscriber saw every trade.
    assert (await alice.request("ping"))["type"] == "pong"
    assert (await bob.request("balance"))["type"] == "balance"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5.0
    while trades_seen < total and loop.time() < deadline:
        await asyncio.sleep(0.01)
    assert trades_seen == total
    assert not reading.done()
    reading.cancel()


async def test_pipelined_burst_bigger_than_the_buffer_is_answered(
        start_server: StartServer) -> None:
    """A client that reads is never dropped for the size of its own replies."""
    server = start_server(config=RICH)
    alice = await connect(server.addr, "alice")
    bob = await connect(server.addr, "bob")
    n = 2000  # about 1.3 MB of replies, 20 times the buffer
    bob.writer.write(orders_text("sell", n))
    alice.writer.write(orders_text("buy", n))
    got = await asyncio.gather(read_lines(alice, n, marker=b'"ref":0'),
                               read_lines(bob, n, marker=b'"ref":0'))
    assert sum(g.count(b'"type":"accepted"') for g in got) == 2 * n
    assert sum(len(g) for g in got) > 20 * SMALL_BUFFER
    assert "client not reading" not in server.log_text()


async def test_rate_limited(start_server: StartServer) -> None:
    server = start_server("[limits]\nrate = 5\n")
    conn = await connect(server.addr)
    lines = b"".join(json.dumps({"op": "ping", "ref": i}).encode() + b"\n" for i in range(12))
    await conn.send_raw(lines + b"ping\n")
    replies = [await conn.recv() for _ in range(13)]
    ok = [r for r in replies if r["type"] == "pong"]
    limited = [r for r in replies if r["type"] == "error"]
    assert len(ok) + len(limited) == 13
    assert 5 <= len(ok) <= 6  # one second of burst, maybe one more token by now
    assert {r["code"] for r in limited} == {"rate_limited"}
    assert sorted(r["ref"] for r in limited if "ref" in r) == [
        r["ref"] for r in replies[len(ok):] if "ref" in r]
    assert [r.get("ref") for r in ok] == list(range(len(ok)))
    assert "ref" not in replies[-1]  # the text ping: no ref
    # The bucket refills: at 5 per second a token is back after 0.2 s.
    await asyncio.sleep(0.25)
    assert (await conn.request("ping"))["type"] == "pong"
    # Another session has its own bucket.
    other = await connect(server.addr)
    assert [(await other.request("ping"))["type"] for _ in range(5)] == ["pong"] * 5


async def test_server_busy_when_a_symbol_queue_is_full(server: Server) -> None:
    """Thirty-two sessions pipeline 192,000 requests for one symbol at once: past the
    queue's bound (100,000) requests are refused server_busy, and every line is
    answered -- cancel_all among them, whose parts used to be dropped unanswered.
    (Each session has at most 4,096 requests in flight, so it takes more than 24
    sessions to fill the queue.)"""
    conns = [await connect(server.addr, "alice") for _ in range(32)]
    oid = await conns[0].order_id("AAPL", "buy", "1", "140.00")
    await conns[0].request("cancel", order_id=oid)
    for c in conns[1:]:  # the other sessions of alice hear of that cancel
        await c.no_more(ignore=("canceled",))
    n, every = 6_000, 40
    for k, c in enumerate(conns):
        lines = [json.dumps({"op": "cancel_all", "symbol": "AAPL", "ref": f"ca{k}-{i}"}).encode()
                 if i % every == every - 1 else f"cancel {oid}".encode() for i in range(n)]
        c.writer.write(NL.join(lines) + NL)
    got = await asyncio.gather(*(read_lines(c, n, timeout=30) for c in conns))
    assert [g.count(NL) for g in got] == [n] * len(conns)  # every line answered
    busy = sum(g.count(b'"code":"server_busy"') for g in got)
    not_live = sum(g.count(b'"code":"not_live"') for g in got)
    cancel_all = [json.loads(line) for g in got for line in g.splitlines() if b'"ref"' in line]
    assert len(cancel_all) == n // every * len(conns)
    assert busy + not_live + len(cancel_all) - sum(
        r["type"] == "error" for r in cancel_all) == n * len(conns)
    assert busy > 0, "the queue never filled"
    kinds = Counter(r.get("code", r["type"]) for r in cancel_all)
    assert set(kinds) <= {"canceled_all", "server_busy"}, kinds
    error = next(r for r in cancel_all if r["type"] == "error") if kinds["server_busy"] else None
    if error is not None:
        assert "AAPL" in error["message"] and error["ref"].startswith("ca")
    assert (await conns[0].request("ping"))["type"] == "pong"
    assert (await conns[0].request("cancel_all"))["type"] == "canceled_all"


async def test_sigterm_with_clients_connected_exits_0(start_server: StartServer) -> None:
    server = start_server()
    addr = server.addr
    alice = await connect(addr, "alice")
    sub = await connect(addr)
    await sub.request("subscribe", channel="book", symbol="AAPL")
    idle = await connect(addr, "bob")
    slow = await slow_connection(addr)
    await slow.send_raw(b"help\n" * 3000)  # megabytes of replies it never reads
    await alice.order_id("AAPL", "buy", "1", "149.00")
    # Requests in flight when the signal comes.
    await alice.send_raw(b"".join(
        json.dumps({"op": "place", "ref": i, "symbol": "AAPL", "side": "buy", "qty": "1",
                    "price": "149.00"}).encode() + b"\n" for i in range(500)))
    code = server.stop(signal.SIGTERM)
    assert code == 0, server.log_text()[-2000:]
    # Whatever was answered is whole lines; then every connection is closed.
    data = await alice.expect_closed()
    for line in data.splitlines():
        assert json.loads(line)["type"] in ("accepted", "book_update")
    assert await idle.expect_closed() == b""
    await sub.expect_closed()


async def test_sigint_exits_0(start_server: StartServer) -> None:
    server = start_server()
    conn = await connect(server.addr, "alice")
    assert (await conn.request("ping"))["type"] == "pong"
    assert server.stop(signal.SIGINT) == 0
    assert await conn.expect_closed() == b""


# -- concurrency and conservation ------------------------------------------------------------

MIDS = {"AAPL": Decimal("150.00"), "MSFT": Decimal("420.00"), "BTC-USD": Decimal("50000.00"),
        "XYZ": Decimal("2.00")}
TICK = {"AAPL": Decimal("0.01"), "MSFT": Decimal("0.01"), "BTC-USD": Decimal("0.01"),
        "XYZ": Decimal("0.05")}
LOTS = {"AAPL": ["1", "5", "10"], "MSFT": ["1", "2", "3"], "BTC-USD": ["0.0001", "0.0150", "0.1"],
        "XYZ": ["10", "20", "50"]}


def random_request(rng: random.Random, ref: str, mine: dict[str, str]) -> dict[str, Any]:
    symbol = rng.choice(list(MIDS))
    roll = rng.random()
    if roll < 0.12 and mine:
        return {"op": "cancel", "client_order_id": rng.choice(list(mine)), "ref": ref}
    if roll < 0.17 and mine:
        cid = rng.choice(list(mine))
        return {"op": "modify", "client_order_id": cid, "ref": ref,
                "qty": rng.choice(LOTS[mine[cid]][1:])}
    if roll < 0.20:
        return {"op": "cancel_all", "symbol": symbol, "ref": ref}
    side = rng.choice(["buy", "sell"])
    qty = rng.choice(LOTS[symbol])
    req: dict[str, Any] = {"op": "place", "symbol": symbol, "side": side, "qty": qty,
                           "ref": ref, "client_order_id": ref}
    if roll < 0.28:
        req["kind"] = "market"
    else:
        steps = rng.randint(-8, 8)
        req["price"] = str((MIDS[symbol] + steps * TICK[symbol] * 2).quantize(TICK[symbol]))
        req["tif"] = rng.choice(["gtc", "gtc", "gtc", "ioc", "fok", "day"])
        if rng.random() < 0.1:
            req["post_only"] = True
            req["tif"] = "gtc"
    mine[ref] = symbol
    return req


async def trader(conn: Conn, name: str, seed: int, count: int) -> Counter[str]:
    rng = random.Random(seed)
    mine: dict[str, str] = {}
    seen: Counter[str] = Counter()
    for start in range(0, count, 50):
        refs = []
        batch = []
        for i in range(start, min(count, start + 50)):
            ref = f"{name}-{i}"
            req = random_request(rng, ref, mine)
            refs.append(ref)
            batch.append(json.dumps(req))
        await conn.send_raw(("\n".join(batch) + "\n").encode())
        for ref in refs:
            reply = await conn.reply(ref, timeout=10)
            if reply["type"] == "error" and reply["code"] == "bad_request":
                # The only malformed request this trader sends: a modify to a qty
                # that is not above what already filled.
                assert "filled" in reply["message"], reply
            seen[reply["type"] if reply["type"] != "error" else reply["code"]] += 1
    return seen


async def test_concurrent_trading_conserves_cash_and_holdings(server: Server) -> None:
    addr = server.addr
    everyone = [*USERS, "poor", "admin"]
    probes = {u: await connect(addr, u) for u in everyone}
    before = {u: await probes[u].request("portfolio") for u in everyone}
    sessions = [(await connect(addr, u), f"{u}{k}") for u in USERS for k in range(2)]
    results = await asyncio.gather(*(
        trader(conn, name, seed, 400) for seed, (conn, name) in enumerate(sessions)))
    total: Counter[str] = Counter()
    for r in results:
        total.update(r)
    assert total["accepted"] > 500 and total["canceled"] > 20, total
    unexpected = set(total) - {"accepted", "rejected", "canceled", "modified", "canceled_all",
                               "not_live", "insufficient_funds", "insufficient_holdings",
                               "unknown_order", "bad_request"}
    assert not unexpected, total
    for u in USERS:
        await probes[u].request("cancel_all")
    after = {u: await probes[u].request("portfolio") for u in everyone}

    def cash(p: dict[str, Any]) -> Decimal:
        return Decimal(p["cash"])

    def holdings(p: dict[str, Any]) -> dict[str, Decimal]:
        return {x["symbol"]: Decimal(x["qty"]) for x in p["positions"]}

    assert sum(cash(after[u]) for u in everyone) == sum(cash(before[u]) for u in everyone)
    for symbol in MIDS:
        assert sum(holdings(after[u]).get(symbol, Decimal(0)) for u in everyone) == sum(
            holdings(before[u]).get(symbol, Decimal(0)) for u in everyone), symbol
    # Every user's change is exactly what their fills say; nothing stays reserved.
    trade_ids: set[int] = set()
    fills_seen = 0
    for u in USERS:
        fills = (await probes[u].request("fills", limit=10_000))["fills"]
        fills_seen += len(fills)
        trade_ids.update(f["trade_id"] for f in fills)
        delta_cash = Decimal(0)
        delta_qty = dict.fromkeys(MIDS, Decimal(0))
        for f in fills:
            value = Decimal(f["price"]) * Decimal(f["qty"])
            sign = 1 if f["side"] == "buy" else -1
            delta_cash -= sign * value
            delta_qty[f["symbol"]] += sign * Decimal(f["qty"])
        assert cash(after[u]) - cash(before[u]) == delta_cash, u
        for symbol in MIDS:
            assert holdings(after[u])[symbol] - holdings(before[u])[symbol] == delta_qty[symbol]
        bal = await probes[u].request("balance")
        assert (bal["reserved"], bal["available"]) == ("0", bal["cash"])
        for p in after[u]["positions"]:
            assert p["available"] == p["qty"]
        assert (await probes[u].request("orders"))["orders"] == []
    tape: set[int] = set()
    for symbol in MIDS:
        trades = (await probes["alice"].request("trades", symbol=symbol, limit=10_000))["trades"]
        tape.update(t["trade_id"] for t in trades)
        book = await probes["alice"].request("book", symbol=symbol)
        assert book["bids"] == [] and book["asks"] == []
    assert tape == trade_ids and len(tape) > 50
    assert fills_seen == 2 * len(tape)  # two sides of every trade (self-trades included)
