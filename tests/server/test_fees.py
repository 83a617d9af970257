"""Fees end to end: maker and taker fees in replies, events, balances and the portfolio,
cash conserved with the fee account, and the same balances after replay and a snapshot.

The fee schedule comes from the config but changes what a fill does, so the server
records it when it differs from the one in force: a restart with another schedule keeps
every fill as it was charged.
"""

from __future__ import annotations

import asyncio
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from exchange.server.config import ConfigError, parse_config
from tests.server.durability_helpers import Client, ServerProcess

USERS = ("alice", "bob", "carol")
CASH = Decimal("100000")


def config(tmp: Path, name: str, fees: bool = True) -> Path:
    symbol_fees = "maker_fee_bps = 10\ntaker_fee_bps = 25\n" if fees else ""
    alice_fees = "maker_fee_bps = 0\ntaker_fee_bps = 5\n" if fees else ""
    users = "".join(f"""
[[users]]
user = "{u}"
token = "{u}-token"
cash = "{CASH}"
holdings = {{ AAPL = "100" }}
{alice_fees if u == "alice" else ""}""" for u in USERS)
    path = tmp / name
    path.write_text(f"""
[[symbols]]
symbol = "AAPL"
tick_size = "0.01"
lot_size = "1"
{symbol_fees}
{users}
[[users]]
user = "admin"
token = "admin-token"
admin = true
""")
    return path


async def place(client: Client, side: str, qty: str, price: str | None) -> dict[str, object]:
    fields = {"price": price} if price is not None else {"kind": "market"}
    reply = await client.call("place", symbol="AAPL", side=side, qty=qty, **fields)
    assert reply["type"] == "accepted", reply
    return reply


async def balances(clients: dict[str, Client]) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    out = {}
    for user, client in clients.items():
        b = await client.call("balance")
        out[user] = (Decimal(b["cash"]), Decimal(b["reserved"]), Decimal(b["fees_paid"]))
    return out


async def collected(admin: Client) -> int:
    stats = await admin.call("stats")
    value = stats["counters"]["fees_collected"]
    assert isinstance(value, int)
    return value


def test_fees_are_charged_shown_and_conserved_and_survive_replay_and_snapshot(
        tmp_path: Path) -> None:
    charging = config(tmp_path, "fees.toml")
    free = config(tmp_path, "free.toml", fees=False)
    data = tmp_path / "data"

    async def run() -> None:
        server = ServerProcess(data, tmp_path / "log", charging)
        addr = await server.start()
        c = {u: await Client.connect(addr, u) for u in USERS}
        admin = await Client.connect(addr, "admin")

        await place(c["bob"], "sell", "10", "100.00")  # bob rests: the maker
        took = await place(c["alice"], "buy", "4", "100.00")  # alice's own taker rate: 5 bps
        assert [f["fee"] for f in took["fills"]] == ["0.2"]  # 400.00 x 5 bps = 0.20
        await c["bob"].call("ping")
        bob_fills = [e["fill"] for e in c["bob"].events if e["type"] == "fill"]
        assert [(f["liquidity"], f["fee"]) for f in bob_fills] == [("maker", "0.4")]
        market = await place(c["carol"], "buy", "2", None)  # 200.00 x 25 bps = 0.50
        assert [(f["liquidity"], f["fee"]) for f in market["fills"]] == [("taker", "0.5")]
        # a resting buy holds each lot's fee at carol's taker rate: 99.00 + 0.25 (rounded up)
        resting = await place(c["carol"], "buy", "3", "99.00")
        assert resting["order"]["status"] == "accepted"
        sold = await place(c["alice"], "sell", "2", "99.00")  # 198.00 x 5 bps = 0.099 -> 0.10
        assert [f["fee"] for f in sold["fills"]] == ["0.1"]

        before = await balances(c)
        assert before["alice"] == (CASH - Decimal("400.20") + Decimal("197.90"), 0,
                                   Decimal("0.30"))
        assert before["bob"] == (CASH + Decimal("600") - Decimal("0.60"), 0, Decimal("0.6"))
        # carol paid 0.50 on her market buy and, as maker, 198.00 x 10 bps on the fill
        assert before["carol"] == (CASH - Decimal("200.50") - Decimal("198.20"),
                                   Decimal("99.25"), Decimal("0.70"))
        fees_total = await collected(admin)
        assert fees_total == 20 + 40 + 50 + 20 + 10 + 20
        assert (sum(cash for cash, _, _ in before.values()) + Decimal(fees_total) / 100
                == 3 * CASH)  # conserved exactly, the fee account included
        # realized P/L is net of fees: alice's 104 lots cost 400.20, she sold 2
        portfolio = await c["alice"].call("portfolio")
        aapl = next(p for p in portfolio["positions"] if p["symbol"] == "AAPL")
        removed = 40020 * 2 // 104
        assert Decimal(aapl["realized_pnl"]) == (Decimal(19800 - 10 - removed) / 100)
        # nobody logs in as the fee account
        anon = await Client.connect(addr)
        refused = await anon.call("login", user="@fees", token="")
        assert refused["type"] == "error" and refused["code"] == "auth_failed"
        await anon.close()
        for client in [*c.values(), admin]:
            await client.close()
        assert server.proc is not None
        server.proc.kill()  # no snapshot: the restart replays the journal
        await server.proc.wait()

        replayed = ServerProcess(data, tmp_path / "log", charging)
        addr = await replayed.start()
        c = {u: await Client.connect(addr, u) for u in USERS}
        admin = await Client.connect(addr, "admin")
        assert await balances(c) == before
        assert await collected(admin) == fees_total
        for client in [*c.values(), admin]:
            await client.close()
        await replayed.terminate()  # writes a snapshot

        # a snapshot and a config that charges nothing now: the past stays as charged
        third = ServerProcess(data, tmp_path / "log", free)
        addr = await third.start()
        c = {u: await Client.connect(addr, u) for u in USERS}
        admin = await Client.connect(addr, "admin")
        now = await balances(c)
        # carol's resting buy is re-held without the fee
        assert now["carol"] == (before["carol"][0], Decimal("99.00"), before["carol"][2])
        assert {u: now[u] for u in ("alice", "bob")} == {u: before[u] for u in ("alice", "bob")}
        assert await collected(admin) == fees_total
        fills = await c["alice"].call("fills")
        assert [f["fee"] for f in fills["fills"]] == ["0.2", "0.1"]
        free_fill = await place(c["bob"], "sell", "1", "99.00")
        assert [f["fee"] for f in free_fill["fills"]] == ["0"]
        assert await collected(admin) == fees_total
        for client in [*c.values(), admin]:
            await client.close()
        await third.terminate()

    asyncio.run(run())


@pytest.mark.parametrize(("symbol", "user", "message"), [
    ("maker_fee_bps = 10001", "", r"symbols\[0\].maker_fee_bps: expected whole basis points"),
    ('taker_fee_bps = "5"', "", r"symbols\[0\].taker_fee_bps: expected whole basis points"),
    ("taker_fee_bps = 1.5", "", "expected whole basis points"),
    ("", "taker_fee_bps = 5", "a user's own rates need both"),
    ("fee_bps = 5", "", r"unknown key\(s\) fee_bps"),
])
def test_a_bad_fee_rate_in_the_config_is_refused_naming_it(
        symbol: str, user: str, message: str) -> None:
    text = f"""
[[symbols]]
symbol = "AAPL"
tick_size = "0.01"
lot_size = "1"
{symbol}

[[users]]
user = "alice"
token = "t"
{user}
"""
    with pytest.raises(ConfigError, match=message):
        parse_config(tomllib.loads(text)).build_exchange()


def test_the_fee_account_name_is_not_a_users() -> None:
    text = """
[[symbols]]
symbol = "AAPL"
tick_size = "0.01"
lot_size = "1"

[[users]]
user = "@fees"
token = "t"
"""
    with pytest.raises(ConfigError, match="fee account"):
        parse_config(tomllib.loads(text))
