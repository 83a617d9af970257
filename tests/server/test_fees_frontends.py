"""Fees on the HTTP front-end: a fill's ``commission`` (order reply and ``myTrades``) is
the fee that side paid, in the quote asset."""

from __future__ import annotations

import aiohttp
import pytest

from tests.server.conftest import Server, StartServer
from tests.server.http_wire import HTTP_CONFIG, Http

FEE_CONFIG = HTTP_CONFIG.replace('price_band = "0.10"\n',
                                 'price_band = "0.10"\nmaker_fee_bps = 10\ntaker_fee_bps = 20\n', 1)
"""The HTTP test market with fees on AAPL: 10 bps for the maker, 20 for the taker."""


@pytest.fixture
def hserver(start_server: StartServer) -> Server:
    return start_server(config=FEE_CONFIG, args=("--http-port", "0"))


async def test_commission_is_the_fee_of_each_fill(hserver: Server,
                                                 client: aiohttp.ClientSession) -> None:
    assert "maker_fee_bps" in FEE_CONFIG
    alice = Http(client, hserver.others["http"], "alice")
    bob = Http(client, hserver.others["http"], "bob")
    await bob.order_id("AAPLUSD", "SELL", "4", "150.00")  # bob rests: the maker
    status, full = await alice.order("AAPLUSD", "BUY", "4", "150.00")
    assert status == 200, full
    # 600.00 x 20 bps = 1.20 for the taker; 600.00 x 10 bps = 0.60 for the maker
    assert [(f["commission"], f["commissionAsset"]) for f in full["fills"]] == [("1.2", "USD")]
    _, mine = await alice.signed("GET", "/api/v3/myTrades", symbol="AAPLUSD")
    assert [(t["commission"], t["isMaker"]) for t in mine] == [("1.2", False)]
    _, theirs = await bob.signed("GET", "/api/v3/myTrades", symbol="AAPLUSD")
    assert [(t["commission"], t["isMaker"]) for t in theirs] == [("0.6", True)]
