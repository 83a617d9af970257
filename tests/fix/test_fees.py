"""Fees over FIX: each trade's ExecutionReport carries the fee as Commission(12) with
CommType(13) 3, an absolute amount (checked against FIX44.xml by tests.fix.client)."""

from __future__ import annotations

from pathlib import Path

from tests.fix.client import FixClient, order_fields
from tests.fix.conftest import FixServer
from tests.server.conftest import BASE_CONFIG, _start
from tests.server.wire import connect

FEES = "maker_fee_bps = 10\ntaker_fee_bps = 20\n"


async def test_a_trade_report_carries_the_fee_as_commission(
        tmp_path: Path, fix_servers: list[FixServer]) -> None:
    # The fixture's market with fees on AAPL (the one symbol table with a band).
    assert BASE_CONFIG.count('price_band = "0.10"\n') == 1
    config = BASE_CONFIG.replace('price_band = "0.10"\n', 'price_band = "0.10"\n' + FEES)
    started = _start(config, tmp_path, "fees", ("--fix-port", "0"))
    server = FixServer(started.proc, started.addr, started.log, started.others,
                       fix=started.others["fix"])
    fix_servers.append(server)
    alice = await FixClient.open(server.fix, "alice")
    assert (await alice.logon()).type == "A"
    await alice.send("D", order_fields("a1", "AAPL", "1", 10, "150.00", tif="1"))
    new = await alice.expect("8")
    assert new[150] == "0" and 12 not in new.fields  # no trade, no commission
    bob = await connect(server.addr, "bob")
    placed = await bob.request("place", symbol="AAPL", side="sell", qty="4", price="149.00")
    assert [f["fee"] for f in placed["fills"]] == ["1.2"]  # 600.00 x 20 bps, the taker
    trade = await alice.expect("8")
    assert (trade[150], trade[12], trade[13]) == ("F", "0.6", "3")  # 10 bps, the maker
