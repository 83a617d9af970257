"""Exposure limits end to end: refusals, risk alerts, and replay under the limits in force.

Limits come from the config, but they change what an order does, so the server records
them as a command when they differ from those the data directory holds: a restart with
other limits replays the journal under the limits each order first met.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from exchange.server.config import ConfigError, parse_config
from tests.server.durability_helpers import Client, ServerProcess

BASE = """
[[symbols]]
symbol = "AAPL"
tick_size = "0.01"
lot_size = "1"

[[users]]
user = "alice"
token = "alice-token"
cash = "100000"
holdings = { AAPL = "100" }
{alice}

[[users]]
user = "bob"
token = "bob-token"
cash = "100000"
holdings = { AAPL = "100" }
"""


def config(tmp: Path, name: str, limits: str = "", alice: str = "") -> Path:
    path = tmp / name
    path.write_text((f"[limits]\n{limits}\n" if limits else "")
                    + BASE.replace("{alice}", alice))
    return path


async def place(client: Client, qty: str, price: str, side: str = "buy") -> dict[str, object]:
    reply = await client.call("place", symbol="AAPL", side=side, qty=qty, price=price)
    order = reply["order"]
    assert isinstance(order, dict)
    return order


def test_an_order_past_a_limit_is_rejected_and_one_near_it_raises_an_alert(
        tmp_path: Path) -> None:
    cfg = config(tmp_path, "a.toml", 'max_order_notional = "1000.00"',
                 'max_position = { AAPL = "150" }')

    async def run() -> None:
        server = ServerProcess(tmp_path / "data", tmp_path / "log", cfg)
        addr = await server.start()
        alice = await Client.connect(addr, "alice")
        bob = await Client.connect(addr, "bob")
        over = await place(alice, "11", "100.00")
        assert (over["status"], over["reason"]) == ("rejected", "max_order_notional")
        assert not [e for e in alice.events if e["type"] == "risk_alert"]
        near = await place(alice, "9", "100.00")  # 900.00 of 1000.00
        assert near["status"] == "accepted"
        await alice.call("ping")  # the alert was pushed before the ping's reply
        alerts = [e for e in alice.events if e["type"] == "risk_alert"]
        assert alerts == [{"type": "risk_alert", "limit": "max_order_notional",
                           "symbol": "AAPL", "used": "900", "max": "1000"}]
        # alice's own position limit: 100 held + 9 being bought + 45 > 150
        assert (await place(alice, "45", "10.00"))["reason"] == "max_position"
        # bob has only the default limits
        assert (await place(bob, "45", "10.00"))["status"] == "accepted"
        await alice.close()
        await bob.close()
        await server.terminate()

    asyncio.run(run())


def test_a_restart_with_other_limits_replays_under_the_old_ones(tmp_path: Path) -> None:
    strict = config(tmp_path, "strict.toml", 'max_order_notional = "1000.00"')
    loose = config(tmp_path, "loose.toml")
    data = tmp_path / "data"

    async def run() -> None:
        server = ServerProcess(data, tmp_path / "log", strict)
        addr = await server.start()
        alice = await Client.connect(addr, "alice")
        refused = await place(alice, "15", "100.00")
        assert refused["reason"] == "max_order_notional"
        await alice.close()
        assert server.proc is not None
        server.proc.kill()  # no snapshot: the restart replays the journal
        await server.proc.wait()

        again = ServerProcess(data, tmp_path / "log", loose)
        addr = await again.start()
        alice = await Client.connect(addr, "alice")
        status = await alice.call("status", order_id=refused["order_id"])
        assert (status["order"]["status"], status["order"]["reason"]) == (  # type: ignore[index]
            "rejected", "max_order_notional")
        assert (await place(alice, "15", "100.00"))["status"] == "accepted"
        await alice.close()
        await again.terminate()

        # and the limits now in force survive a snapshot and a restart of their own
        third = ServerProcess(data, tmp_path / "log", loose)
        addr = await third.start()
        alice = await Client.connect(addr, "alice")
        assert (await place(alice, "15", "100.00"))["status"] == "accepted"
        await alice.close()
        await third.terminate()

    asyncio.run(run())


@pytest.mark.parametrize(("limits", "alice", "message"), [
    ('max_order_notional = "x"', "", "limits.max_order_notional: 'x' is not a decimal"),
    ('max_position = { NOPE = "1" }', "", "limits.max_position: unknown symbol 'NOPE'"),
    ('max_position = { AAPL = "0.5" }', "", "not a multiple of the lot size"),
    ("", 'max_open_exposure = "0.001"', "users.alice.max_open_exposure: 0.001 is not a whole"),
    ('max_exposure = "1"', "", "limits: unknown key(s) max_exposure"),
])
def test_a_bad_limit_in_the_config_is_refused_naming_it(
        tmp_path: Path, limits: str, alice: str, message: str) -> None:
    import tomllib

    text = config(tmp_path, "bad.toml", limits, alice).read_text()
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_config(tomllib.loads(text)).build_exchange()
