"""balance, deposit, withdraw, portfolio: money to the cash unit, without trailing zeros."""

from __future__ import annotations

from typing import Any

from tests.server.wire import Conn, connect


def position(portfolio: dict[str, Any], symbol: str) -> dict[str, Any]:
    [pos] = [p for p in portfolio["positions"] if p["symbol"] == symbol]
    return dict(pos)


async def test_balance_deposit_withdraw(alice: Conn) -> None:
    r = await alice.request("balance", ref="b")
    assert r == {"type": "balance", "cash": "1000000", "available": "1000000", "reserved": "0",
                 "fees_paid": "0", "ref": "b"}
    r = await alice.request("deposit", amount="10.50")
    assert (r["type"], r["cash"], r["available"]) == ("balance", "1000010.5", "1000010.5")
    r = await alice.text("deposit 0.25")
    assert r["cash"] == "1000010.75" and "ref" not in r
    # Cash counts in 10^-6 here (BTC-USD: tick 0.01 x lot 0.0001).
    r = await alice.request("deposit", amount=0.000001)
    assert r["cash"] == "1000010.750001"
    r = await alice.request("deposit", amount="0.0000001")
    assert r["type"] == "error" and r["code"] == "bad_request" and "amount" in r["message"]
    for bad in ("0", "-5"):
        r = await alice.request("deposit", amount=bad)
        assert r["code"] == "bad_request" and "amount" in r["message"], r
    r = await alice.request("withdraw", amount="0.750001")
    assert r["cash"] == "1000010"
    r = await alice.text("withdraw 10")
    assert r == {"type": "balance", "cash": "1000000", "available": "1000000", "reserved": "0",
                 "fees_paid": "0"}
    assert await alice.text("BALANCE") == r
    assert (await alice.text("withdraw 1000000.01"))["code"] == "insufficient_funds"
    assert (await alice.text("deposit ten"))["code"] == "bad_request"


async def test_reserved_cash_cannot_be_withdrawn(alice: Conn) -> None:
    await alice.order_id("MSFT", "buy", "2000", "450.25")  # reserves 900,500
    r = await alice.request("balance")
    assert (r["cash"], r["available"], r["reserved"]) == ("1000000", "99500", "900500")
    r = await alice.request("withdraw", amount="99500.01")
    assert r["type"] == "error" and r["code"] == "insufficient_funds"
    r = await alice.request("withdraw", amount="99500")
    assert (r["cash"], r["available"], r["reserved"]) == ("900500", "0", "900500")


async def test_fill_at_a_better_price_releases_the_difference(alice: Conn, bob: Conn) -> None:
    await bob.order_id("AAPL", "sell", "10", "149.50")
    r = await alice.place("AAPL", "buy", "10", "150.00")
    assert r["order"]["status"] == "filled"
    bal = await alice.request("balance")
    assert (bal["cash"], bal["available"], bal["reserved"]) == ("998505", "998505", "0")


async def test_portfolio(addr: tuple[str, int], alice: Conn, bob: Conn) -> None:
    pf = await alice.request("portfolio")
    assert pf["type"] == "portfolio" and pf["cash"] == "1000000"
    assert [p["symbol"] for p in pf["positions"]] == ["AAPL", "BTC-USD", "MSFT", "XYZ"]
    assert position(pf, "AAPL") == {
        "symbol": "AAPL", "qty": "1000", "available": "1000", "avg_cost": "150",
        "last": None, "market_value": "150000", "unrealized_pnl": "0", "realized_pnl": "0"}
    assert position(pf, "BTC-USD")["qty"] == "10.0000"
    assert position(pf, "XYZ") == {
        "symbol": "XYZ", "qty": "1000", "available": "1000", "avg_cost": "0", "last": None,
        "market_value": "0", "unrealized_pnl": "0", "realized_pnl": "0"}
    assert pf["net_worth"] == "2070000"  # 1M + 150k + 500k + 420k + 0
    # alice sells 100 AAPL at 151.25 (cost 150): realizes 125.
    await alice.order_id("AAPL", "sell", "100", "151.25")
    r = await bob.place("AAPL", "buy", "100", "151.25")
    assert r["order"]["status"] == "filled"
    pf = await alice.text("portfolio")
    assert pf["cash"] == "1015125"
    assert position(pf, "AAPL") == {
        "symbol": "AAPL", "qty": "900", "available": "900", "avg_cost": "150",
        "last": "151.25", "market_value": "136125", "unrealized_pnl": "1125",
        "realized_pnl": "125"}
    assert pf["net_worth"] == "2071250"  # 1015125 + 136125 + 500000 + 420000
    # bob: 1100 shares, cost 150000 + 15125 = 165125 -> 150.11363636...
    pfb = await bob.request("portfolio")
    assert position(pfb, "AAPL")["qty"] == "1100"
    assert position(pfb, "AAPL")["avg_cost"] == "150.11363636"
    assert position(pfb, "AAPL")["unrealized_pnl"] == "1250"
    # A holding not in the config appears once bought.
    poor = await connect(addr, "poor")
    pf = await poor.request("portfolio")
    assert pf == {"type": "portfolio", "cash": "100", "positions": [], "net_worth": "100",
                  "ref": pf["ref"]}
    await alice.order_id("XYZ", "sell", "10", "2.35")
    r = await poor.place("XYZ", "buy", "10", "2.35")
    assert r["order"]["status"] == "filled"
    pf = await poor.request("portfolio")
    assert position(pf, "XYZ") == {
        "symbol": "XYZ", "qty": "10", "available": "10", "avg_cost": "2.35", "last": "2.35",
        "market_value": "23.5", "unrealized_pnl": "0", "realized_pnl": "0"}
    assert (pf["cash"], pf["net_worth"]) == ("76.5", "100")


async def test_sell_needs_holdings(addr: tuple[str, int], alice: Conn) -> None:
    await alice.order_id("AAPL", "sell", "600", "160.00")
    r = await alice.place("AAPL", "sell", "401", "160.00")
    assert r["type"] == "rejected" and r["order"]["reason"] == "insufficient_holdings"
    pf = await alice.request("portfolio")
    assert (position(pf, "AAPL")["qty"], position(pf, "AAPL")["available"]) == ("1000", "400")
