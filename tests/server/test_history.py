"""The history store end to end: order, fill, trade and candle history, the audit trail,
the inbox and the CSV reports, against the real server, across restarts and after the
history file is deleted (rebuilt from the journal)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tests.server.conftest import BASE_CONFIG, StartServer
from tests.server.durability_helpers import ServerProcess
from tests.server.wire import Conn, connect

# The store keeps every ended order; memory keeps only this many (retain_ended is not
# configurable, so the test shows more fills than `fills` returns: its limit is 100 by
# default and the engine keeps 10,000 per user).


async def _trade(alice: Conn, bob: Conn, n: int, symbol: str = "AAPL",
                 price: str = "150.00") -> None:
    """``n`` trades of 1 share: alice sells to bob."""
    for _ in range(n):
        await alice.place(symbol, "sell", "1", price)
        reply = await bob.place(symbol, "buy", "1", price)
        assert reply["type"] == "accepted" and reply["fills"], reply


async def test_fill_and_order_history_pages_through_everything(start_server: StartServer
                                                                ) -> None:
    server = start_server()
    alice = await connect(server.addr, "alice")
    bob = await connect(server.addr, "bob")
    await _trade(alice, bob, 30)
    # Pages of 7: every fill exactly once, in trade order.
    seen: list[int] = []
    after = 0
    while True:
        page = await bob.request("fill_history", symbol="AAPL", after=after, limit=7)
        assert page["type"] == "fill_history", page
        seen += [f["trade_id"] for f in page["fills"]]
        assert all(f["side"] == "buy" and f["qty"] == "1" for f in page["fills"])
        if not page["more"]:
            break
        after = page["fills"][-1]["trade_id"]
    assert len(seen) == 30 and seen == sorted(set(seen))
    orders = await alice.request("order_history", limit=1000)
    assert [o["status"] for o in orders["orders"]] == ["filled"] * 30
    assert orders["more"] is False
    # Pages of orders go on from `next`.
    first = await alice.request("order_history", limit=20)
    assert first["more"] is True and len(first["orders"]) == 20
    rest = await alice.request("order_history", after=first["next"])
    assert [o["order_id"] for o in first["orders"] + rest["orders"]] == \
        [o["order_id"] for o in orders["orders"]]
    # Another user's history is not visible; bob's orders are his own.
    bob_orders = await bob.request("order_history")
    assert {o["user"] for o in bob_orders["orders"]} == {"bob"}
    # The public tape and candles, without logging in.
    anon = await connect(server.addr)
    tape = await anon.request("trade_history", symbol="AAPL", limit=10000)
    assert [t["trade_id"] for t in tape["trades"]] == seen
    candles = await anon.request("candle_history", symbol="AAPL", interval="1d")
    assert sum(Decimal(c["v"]) for c in candles["candles"]) == 30
    assert candles["candles"][-1]["c"] == "150.00"


async def test_bad_history_requests_name_the_field(start_server: StartServer) -> None:
    server = start_server()
    alice = await connect(server.addr, "alice")
    bad = await alice.request("fill_history", limit=0)
    assert bad["code"] == "bad_request" and "limit" in bad["message"]
    bad = await alice.request("order_history", start="2026-01-02T00:00:00Z",
                              end="2026-01-01T00:00:00Z")
    assert bad["code"] == "bad_request" and "end" in bad["message"]
    bad = await alice.request("trade_history", symbol="NOPE")
    assert bad["code"] == "unknown_symbol"
    bad = await alice.request("report", kind="gains")
    assert bad["code"] == "bad_request" and "year" in bad["message"]
    bad = await alice.request("audit", user="bob")
    assert bad["code"] == "forbidden"
    anon = await connect(server.addr)
    bad = await anon.request("fill_history")
    assert bad["code"] == "auth_required"
    # The session goes on.
    assert (await alice.request("ping"))["type"] == "pong"


async def test_time_range_selects(start_server: StartServer) -> None:
    server = start_server()
    alice = await connect(server.addr, "alice")
    bob = await connect(server.addr, "bob")
    await _trade(alice, bob, 3)
    fills = (await bob.request("fill_history"))["fills"]
    middle = fills[1]["ts"]
    later = await bob.request("fill_history", start=middle)
    assert [f["trade_id"] for f in later["fills"]] == [f["trade_id"] for f in fills[1:]]
    earlier = await bob.request("fill_history", end=middle)
    assert [f["trade_id"] for f in earlier["fills"]] == [fills[0]["trade_id"]]


async def test_audit_trail_lists_what_a_session_did(start_server: StartServer) -> None:
    server = start_server()
    carol = await connect(server.addr, "carol")
    order_id = await carol.order_id("MSFT", "buy", "2", "400.00")
    await carol.request("cancel", order_id=order_id)
    await carol.request("deposit", amount="10.00")
    refused = await carol.request("cancel", order_id=order_id)
    assert refused["code"] == "not_live"
    trail = await carol.request("audit")
    actions = [(e["action"], e["outcome"].split(" ")[0]) for e in trail["events"]]
    assert actions == [("login", "ok"), ("place", "accepted"), ("cancel", "canceled"),
                       ("deposit", "ok"), ("cancel", "refused")], trail
    place = trail["events"][1]
    assert place["detail"]["symbol"] == "MSFT" and place["detail"]["side"] == "buy"
    assert "127.0.0.1" in trail["events"][0]["detail"]["peer"]
    # An administrator reads anyone's trail; carol's logout is in it once she is gone.
    await carol.close()
    admin = await connect(server.addr, "admin")
    for _ in range(50):
        seen = await admin.request("audit", user="carol")
        if seen["events"][-1]["action"] == "logout":
            break
    assert seen["events"][-1]["action"] == "logout"
    assert len(seen["events"]) == 6


async def test_inbox_keeps_what_happened_while_away(start_server: StartServer) -> None:
    server = start_server()
    alice = await connect(server.addr, "alice")
    await alice.order_id("AAPL", "sell", "5", "151.00")
    await alice.request("place", symbol="AAPL", side="sell", qty="1", price="152.00",
                        ttl_ms=20)
    await alice.event("expired")  # told now, and kept in the inbox as well
    await alice.close()
    bob = await connect(server.addr, "bob")
    reply = await bob.place("AAPL", "buy", "5", "151.00")
    assert reply["fills"]
    await bob.close()
    # Alice comes back: the fill and the expiry wait for her, unread.
    alice = await connect(server.addr, "alice")
    inbox = await alice.request("inbox")
    kinds = [n["kind"] for n in inbox["notifications"]]
    assert "fill" in kinds and "expired" in kinds, inbox
    assert inbox["unread"] == len(inbox["notifications"])
    fill = next(n for n in inbox["notifications"] if n["kind"] == "fill")
    assert fill["text"].startswith("sold 5 AAPL at 151.00")
    marked = await alice.request("inbox_read", ids=[fill["id"]])
    assert marked == {"type": "inbox_read", "ref": marked["ref"], "marked": 1,
                      "unread": inbox["unread"] - 1}
    again = await alice.request("inbox")
    assert [n["read"] for n in again["notifications"]][-1] is True
    assert again["notifications"][0]["read"] is False
    done = await alice.request("inbox_read")
    assert done["unread"] == 0
    newer = await alice.request("inbox", since=fill["id"])
    assert all(n["id"] > fill["id"] for n in newer["notifications"])


async def test_confirmations_report_is_csv(start_server: StartServer) -> None:
    server = start_server()
    alice = await connect(server.addr, "alice")
    bob = await connect(server.addr, "bob")
    await _trade(alice, bob, 4, price="150.50")
    report = await bob.request("report", kind="confirmations")
    rows = list(csv.DictReader(io.StringIO(report["csv"])))
    assert report["rows"] == len(rows) == 4 and report["more"] is False
    assert {r["side"] for r in rows} == {"buy"}
    assert sum(Decimal(r["notional"]) for r in rows) == Decimal("602.00")
    assert {r["liquidity"] for r in rows} == {"taker"}


@pytest.mark.parametrize("delete", [False, True])
async def test_history_survives_restart_and_is_rebuilt(tmp_path: Path, delete: bool) -> None:
    data = tmp_path / "data"
    proc = ServerProcess(data, tmp_path / "server.log")
    addr = await proc.start()
    try:
        alice = await connect(addr, "alice")
        bob = await connect(addr, "bob")
        await _trade(alice, bob, 12)
        before = await bob.request("fill_history")
        trail = await bob.request("audit")
        await alice.close()
        await bob.close()
        await proc.terminate()
        if delete:
            for name in ("history.sqlite", "history.sqlite-wal", "history.sqlite-shm"):
                (data / name).unlink(missing_ok=True)
        addr = await proc.start()
        bob = await connect(addr, "bob")
        after = await bob.request("fill_history")
        assert after["fills"] == before["fills"]
        again = await bob.request("audit")

        def commands(events: list[dict[str, object]]) -> list[tuple[object, ...]]:
            return [(e["seq"], e["ts"], e["action"], e["detail"], e["outcome"])
                    for e in events if e["action"] not in ("login", "logout")]
        assert commands(again["events"])[: len(commands(trail["events"]))] == \
            commands(trail["events"])
        # Logins are noted as they happen, not journaled: a rebuilt trail lacks them.
        logins = [e for e in again["events"] if e["action"] == "login"]
        assert len(logins) == (1 if delete else 2)
        await bob.close()
    finally:
        await proc.terminate()


BIG_CONFIG = """
[limits]
rate = 0

[[symbols]]
symbol = "PENNY"
tick_size = "0.01"
lot_size = "1"
reference_price = "1.00"

[[users]]
user = "alice"
token = "alice-token"
cash = "0"
holdings = { PENNY = "20000" }

[[users]]
user = "bob"
token = "bob-token"
cash = "1000000"
"""
MORE_THAN_MEMORY = 10_050
"""Trades: more than the tape (10,000 per symbol) and a user's fills (10,000) keep."""


async def test_history_beyond_memory_after_restart_and_rebuild(tmp_path: Path) -> None:
    config = tmp_path / "big.toml"
    config.write_text(BIG_CONFIG)
    data = tmp_path / "data"
    proc = ServerProcess(data, tmp_path / "server.log", config)
    addr = await proc.start()
    try:
        alice = await connect(addr, "alice")
        lines = "".join(f'{{"op":"place","symbol":"PENNY","side":"sell","qty":"1",'
                        f'"price":"1.00","ref":{i}}}\n' for i in range(MORE_THAN_MEMORY))
        await alice.send_raw(lines.encode())
        for i in range(MORE_THAN_MEMORY):
            assert (await alice.reply(i))["type"] == "accepted"
        bob = await connect(addr, "bob")
        bought = await bob.request("place", symbol="PENNY", side="buy", kind="market",
                                   qty=str(MORE_THAN_MEMORY))
        assert len(bought["fills"]) == MORE_THAN_MEMORY
        memory = await bob.request("fills", limit=10_000)
        assert len(memory["fills"]) == 10_000  # all that memory keeps
        tape = await bob.request("trades", symbol="PENNY", limit=10_000)
        assert len(tape["trades"]) == 10_000

        async def everything(conn: Conn, op: str, key: str, **fields: object) -> list[int]:
            ids: list[int] = []
            after = 0
            while True:
                page = await conn.request(op, after=after, limit=10_000, **fields)
                ids += [row["trade_id" if key != "orders" else "order_id"]
                        for row in page[key]]
                if not page["more"]:
                    return ids
                after = page["next"]

        expected = [f["trade_id"] for f in bought["fills"]]
        assert await everything(bob, "fill_history", "fills") == expected
        assert await everything(bob, "trade_history", "trades", symbol="PENNY") == expected
        sold = await everything(alice, "order_history", "orders")
        assert sorted(sold) == list(range(1, MORE_THAN_MEMORY + 1))
        await alice.close()
        await bob.close()
        await proc.terminate()
        for name in ("history.sqlite", "history.sqlite-wal", "history.sqlite-shm"):
            (data / name).unlink(missing_ok=True)
        addr = await proc.start()  # rebuilt from the journal before it listens
        bob = await connect(addr, "bob")
        assert await everything(bob, "fill_history", "fills") == expected
        report = await bob.request("report", kind="confirmations")
        assert report["rows"] == MORE_THAN_MEMORY
        await bob.close()
    finally:
        await proc.terminate()


async def test_gains_report_adds_up_to_the_portfolio_with_fees(start_server: StartServer
                                                               ) -> None:
    config = BASE_CONFIG.replace('price_band = "0.10"\n',
                                 'price_band = "0.10"\nmaker_fee_bps = 10\ntaker_fee_bps = 25\n',
                                 1)
    server = start_server(config=config)
    bob = await connect(server.addr, "bob")
    carol = await connect(server.addr, "carol")
    for qty, price in (("5", "151.00"), ("3", "149.37"), ("7", "150.11")):
        await carol.place("AAPL", "buy", qty, price)  # the maker
        sold = await bob.place("AAPL", "sell", qty, price)
        assert sold["fills"] and sold["fills"][0]["fee"] != "0"
    report = await bob.request("report", kind="gains", year=datetime.now(UTC).year)
    rows = list(csv.DictReader(io.StringIO(report["csv"])))
    assert len(rows) == 3 and {r["symbol"] for r in rows} == {"AAPL"}
    for r in rows:
        assert Decimal(r["gain"]) == (Decimal(r["proceeds"]) - Decimal(r["fee"])
                                      - Decimal(r["cost_basis"]))
    portfolio = await bob.request("portfolio")
    realized = next(p["realized_pnl"] for p in portfolio["positions"] if p["symbol"] == "AAPL")
    assert sum(Decimal(r["gain"]) for r in rows) == Decimal(realized)
    # Carol bought: no sale of hers, no gain; her confirmations show the maker fees.
    mine = await carol.request("report", kind="gains", year=datetime.now(UTC).year)
    assert mine["rows"] == 0
    confirmations = await carol.request("report", kind="confirmations")
    fees = [Decimal(r["fee"]) for r in csv.DictReader(io.StringIO(confirmations["csv"]))]
    assert len(fees) == 3 and all(f > 0 for f in fees)
    balance = await carol.request("balance")
    assert sum(fees) == Decimal(balance["fees_paid"])


async def test_the_audit_trail_hides_secrets(start_server: StartServer) -> None:
    server = start_server()
    alice = await connect(server.addr, "alice")
    setup = await alice.request("otp_setup")
    secret = setup["secret"]
    admin = await connect(server.addr, "admin")
    created = await admin.request("create_user", user="erin", name="Erin")
    assert created["type"] == "user_created", created
    for conn, op, field in ((alice, "otp_setup", "secret"), (admin, "create_user",
                                                             "token_hash")):
        trail = await conn.request("audit")
        event = next(e for e in trail["events"] if e["action"] == op.replace("otp_setup",
                                                                             "two_factor"))
        assert event["detail"][field] == "<hidden>"
        assert secret not in str(trail) and created["token"] not in str(trail)
