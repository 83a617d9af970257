"""FIX order entry against the real server: every message and event, and trading between
FIX and JSON-lines sessions on one market. Every message read is checked against
FIX44.xml (tests.fix.client)."""

from __future__ import annotations

from typing import Any

from tests.fix.client import FixClient, Msg, order_fields, timestamp
from tests.fix.conftest import FixServer
from tests.server.wire import Conn, connect


async def fix(server: FixServer, user: str = "alice") -> FixClient:
    client = await FixClient.open(server.fix, user)
    assert (await client.logon()).type == "A"
    return client


async def reports(client: FixClient, n: int) -> list[Msg]:
    return [await client.expect("8") for _ in range(n)]


def states(msgs: list[Msg]) -> list[tuple[str, ...]]:
    """(ExecType, OrdStatus, CumQty, LeavesQty) of each report."""
    return [(m[150], m[39], m[14], m[151]) for m in msgs]


def cancel_fields(orig: str, new: str, side: str = "1", symbol: str = "AAPL"
                  ) -> list[tuple[int, Any]]:
    return [(41, orig), (11, new), (55, symbol), (54, side), (60, timestamp())]


def replace_fields(orig: str, new: str, qty: Any, price: Any, side: str = "1",
                   symbol: str = "AAPL") -> list[tuple[int, Any]]:
    return [*cancel_fields(orig, new, side, symbol), (40, "2"), (38, qty), (44, price)]


async def test_a_limit_order_rests_then_trades_with_a_json_lines_order(
        fix_server: FixServer) -> None:
    alice = await fix(fix_server)
    await alice.send("D", order_fields("a1", "AAPL", "1", 10, "150.00", tif="1"))
    (new,) = await reports(alice, 1)
    assert states([new]) == [("0", "0", "0", "10")]
    assert (new[11], new[55], new[54], new[40], new[44], new[59]) == (
        "a1", "AAPL", "1", "2", "150.00", "1")
    bob = await connect(fix_server.addr, "bob")
    placed = await bob.request("place", symbol="AAPL", side="sell", qty="4",
                                price="149.00")
    assert placed["type"] == "accepted" and placed["order"]["filled_qty"] == "4"
    (trade,) = await reports(alice, 1)
    assert states([trade]) == [("F", "1", "4", "6")]
    assert (trade[32], trade[31], trade[851], trade[6], trade[37]) == (
        "4", "150.00", "1", "150.00000000", new[37])
    assert trade[17] != new[17]


async def test_fills_reach_every_session_of_the_user_on_both_protocols(
        fix_server: FixServer) -> None:
    alice = await fix(fix_server)
    alice_lines = await connect(fix_server.addr, "alice")
    bob = await fix(fix_server, "bob")
    await bob.send("D", order_fields("b1", "AAPL", "2", 5, "151.00"))
    await reports(bob, 1)
    await alice.send("D", order_fields("a1", "AAPL", "1", 5, "151.00"))
    new, trade = await reports(alice, 2)
    assert states([new, trade]) == [("0", "0", "0", "5"), ("F", "2", "5", "0")]
    (maker,) = await reports(bob, 1)
    assert states([maker]) == [("F", "2", "5", "0")] and maker[851] == "1"
    event = await alice_lines.event("fill")
    assert event["order"]["client_order_id"] == "a1" and event["fill"]["qty"] == "5"


async def test_a_json_lines_order_fills_reach_the_fix_session(fix_server: FixServer) -> None:
    alice = await fix(fix_server)
    lines = await connect(fix_server.addr, "alice")
    placed = await lines.request("place", symbol="AAPL", side="buy", qty="3",
                                  price="150.00")
    bob = await connect(fix_server.addr, "bob")
    await bob.request("place", symbol="AAPL", side="sell", qty="3",
                       price="150.00")
    (trade,) = await reports(alice, 1)
    assert states([trade]) == [("F", "2", "3", "0")]
    assert trade[37] == str(placed["order"]["order_id"]) and 11 not in trade.fields


async def test_market_ioc_fok_and_their_remainders(fix_server: FixServer) -> None:
    bob = await connect(fix_server.addr, "bob")
    await bob.request("place", symbol="MSFT", side="sell", qty="5",
                       price="420.00")
    alice = await fix(fix_server)
    await alice.send("D", order_fields("m1", "MSFT", "1", 2, ord_type="1"))
    assert states(await reports(alice, 2)) == [("0", "0", "0", "2"), ("F", "2", "2", "0")]
    await alice.send("D", order_fields("i1", "MSFT", "1", 5, "420.00", tif="3"))
    assert states(await reports(alice, 3)) == [
        ("0", "0", "0", "5"), ("F", "1", "3", "2"), ("C", "C", "3", "0")]
    await alice.send("D", order_fields("f1", "MSFT", "1", 5, "420.00", tif="4"))
    assert states(await reports(alice, 2)) == [("0", "0", "0", "5"), ("C", "C", "0", "0")]


async def test_stop_and_stop_limit_orders_trigger(fix_server: FixServer) -> None:
    alice = await fix(fix_server)
    await alice.send("D", order_fields("s1", "AAPL", "2", 2, ord_type="3",
                                       extra=[(99, "149.00")]))
    (pending,) = await reports(alice, 1)
    assert states([pending]) == [("0", "0", "0", "2")] and pending[99] == "149.00"
    await alice.send("D", order_fields("s2", "AAPL", "2", 1, "148.00", ord_type="4",
                                       extra=[(99, "149.00")]))
    await reports(alice, 1)
    bob = await connect(fix_server.addr, "bob")
    carol = await connect(fix_server.addr, "carol")
    await bob.request("place", symbol="AAPL", side="buy", qty="10",
                       price="148.00")
    await carol.request("place", symbol="AAPL", side="sell", qty="1",
                         price="148.50")
    await bob.request("place", symbol="AAPL", side="buy", qty="1",
                       price="148.50")
    got = await reports(alice, 4)
    by_id: dict[str, list[tuple[str, ...]]] = {}
    for m in got:
        by_id.setdefault(m[11], []).append((m[150], m[39]))
    assert by_id["s1"] == [("D", "0"), ("F", "2")]
    assert by_id["s2"] == [("D", "0"), ("F", "2")]
    assert all(m[378] == "99" for m in got if m[150] == "D")


async def test_gtd_orders_expire_at_their_expire_time(fix_server: FixServer) -> None:
    alice = await fix(fix_server)
    await alice.send("D", order_fields("g1", "AAPL", "1", 1, "140.00", tif="6",
                                       extra=[(126, timestamp(1.0))]))
    (new,) = await reports(alice, 1)
    assert new[59] == "6" and 126 in new.fields
    (expired,) = await reports(alice, 1)
    assert states([expired]) == [("C", "C", "0", "0")]
    await alice.send("D", order_fields("g2", "AAPL", "1", 1, "140.00", tif="6"))
    reject = await alice.expect("3")
    assert (reject[371], reject[373]) == ("126", "1")


async def test_day_orders_and_post_only(fix_server: FixServer) -> None:
    bob = await connect(fix_server.addr, "bob")
    await bob.request("place", symbol="AAPL", side="sell", qty="1",
                       price="151.00")
    alice = await fix(fix_server)
    await alice.send("D", order_fields("p1", "AAPL", "1", 1, "151.00", extra=[(18, "6")]))
    (rejected,) = await reports(alice, 1)
    assert (rejected[150], rejected[39], rejected[103], rejected[58]) == (
        "8", "8", "99", "would_take")
    await alice.send("D", order_fields("p2", "AAPL", "1", 1, "150.00", extra=[(18, "6")]))
    (new,) = await reports(alice, 1)
    assert (new[150], new[39], new[59]) == ("0", "0", "0")  # no TimeInForce(59): Day


async def test_rejects_carry_the_reason(fix_server: FixServer) -> None:
    poor = await fix(fix_server, "poor")
    await poor.send("D", order_fields("x1", "AAPL", "1", 100, "150.00"))
    (funds,) = await reports(poor, 1)
    assert (funds[150], funds[103], funds[58]) == ("8", "3", "insufficient_funds")
    alice = await fix(fix_server)
    await alice.send("D", order_fields("x2", "AAPL", "1", 1, "150.001"))
    (price,) = await reports(alice, 1)
    assert (price[103], price[58]) == ("99", "bad_price")
    await alice.send("D", order_fields("x3", "NOPE", "1", 1, "1.00"))
    (symbol,) = await reports(alice, 1)
    assert (symbol[37], symbol[103]) == ("NONE", "1") and "unknown_symbol" in symbol[58]
    await alice.send("D", order_fields("x4", "AAPL", "1", 1, "150.00", ord_type="P"))
    (pegged,) = await reports(alice, 1)
    assert (pegged[37], pegged[103]) == ("NONE", "11") and "OrdType(40)" in pegged[58]
    await alice.send("D", order_fields("x5", "AAPL", "1", 1, "150.00", tif="2"))
    (opening,) = await reports(alice, 1)
    assert opening[103] == "11" and "TimeInForce(59)" in opening[58]


async def test_a_repeated_cl_ord_id_places_nothing(fix_server: FixServer) -> None:
    alice = await fix(fix_server)
    await alice.send("D", order_fields("d1", "AAPL", "1", 1, "140.00"))
    (new,) = await reports(alice, 1)
    await alice.send("D", order_fields("d1", "AAPL", "1", 1, "140.00"))
    (again,) = await reports(alice, 1)
    assert (again[150], again[37], again[39]) == ("I", new[37], "0")
    lines = await connect(fix_server.addr, "alice")
    orders = await lines.request("orders")
    assert [o["client_order_id"] for o in orders["orders"]] == ["d1"]


async def test_replace_keeps_priority_on_a_lower_qty_and_loses_it_on_a_new_price(
        fix_server: FixServer) -> None:
    alice = await fix(fix_server)
    bob = await fix(fix_server, "bob")
    await alice.send("D", order_fields("a1", "AAPL", "1", 10, "149.00"))
    await reports(alice, 1)
    await bob.send("D", order_fields("b1", "AAPL", "1", 10, "149.00"))
    await reports(bob, 1)
    await alice.send("G", replace_fields("a1", "a2", 6, "149.00"))
    (replaced,) = await reports(alice, 1)
    assert states([replaced]) == [("5", "0", "0", "6")]
    assert (replaced[11], replaced[41], replaced[38]) == ("a2", "a1", "6")
    carol = await connect(fix_server.addr, "carol")
    await carol.request("place", symbol="AAPL", side="sell", qty="6",
                         price="149.00")
    (trade,) = await reports(alice, 1)
    assert states([trade]) == [("F", "2", "6", "0")] and trade[11] == "a2"
    # Bob moves his price and back: he goes behind a new order of Alice's at 149.
    await bob.send("G", replace_fields("b1", "b2", 10, "148.99"))
    await reports(bob, 1)
    await alice.send("D", order_fields("a3", "AAPL", "1", 2, "149.00"))
    await reports(alice, 1)
    await bob.send("G", replace_fields("b2", "b3", 10, "149.00"))
    (back,) = await reports(bob, 1)
    assert (back[44], back[11], back[41]) == ("149.00", "b3", "b2")
    await carol.request("place", symbol="AAPL", side="sell", qty="2",
                         price="149.00")
    (first,) = await reports(alice, 1)
    assert first[11] == "a3" and first[39] == "2"


async def test_a_replace_that_crosses_trades_at_once(fix_server: FixServer) -> None:
    bob = await connect(fix_server.addr, "bob")
    await bob.request("place", symbol="AAPL", side="sell", qty="3",
                       price="150.00")
    alice = await fix(fix_server)
    await alice.send("D", order_fields("a1", "AAPL", "1", 5, "149.00"))
    await reports(alice, 1)
    await alice.send("G", replace_fields("a1", "a2", 5, "150.00"))
    assert states(await reports(alice, 2)) == [("5", "0", "0", "5"), ("F", "1", "3", "2")]


async def test_cancel_and_cancel_rejects(fix_server: FixServer) -> None:
    alice = await fix(fix_server)
    await alice.send("D", order_fields("c1", "AAPL", "1", 5, "149.00"))
    (new,) = await reports(alice, 1)
    await alice.send("F", cancel_fields("c1", "c2"))
    (canceled,) = await reports(alice, 1)
    assert states([canceled]) == [("4", "4", "0", "0")]
    assert (canceled[11], canceled[41], canceled[37]) == ("c2", "c1", new[37])
    await alice.send("F", cancel_fields("c2", "c3"))
    late = await alice.expect("9")
    assert (late[37], late[39], late[434], late[102]) == (new[37], "4", "1", "0")
    await alice.send("F", cancel_fields("nope", "c4"))
    unknown = await alice.expect("9")
    assert (unknown[37], unknown[39], unknown[102], unknown[41]) == ("NONE", "8", "1", "nope")
    await alice.send("G", replace_fields("nope", "c5", 1, "149.00"))
    unknown = await alice.expect("9")
    assert (unknown[434], unknown[102]) == ("2", "1")


async def test_a_filled_order_is_too_late_to_cancel(fix_server: FixServer) -> None:
    bob = await connect(fix_server.addr, "bob")
    await bob.request("place", symbol="AAPL", side="sell", qty="1",
                       price="150.00")
    alice = await fix(fix_server)
    await alice.send("D", order_fields("f1", "AAPL", "1", 1, "150.00"))
    new, _fill = await reports(alice, 2)
    await alice.send("F", cancel_fields("f1", "f2"))
    late = await alice.expect("9")
    assert (late[37], late[39], late[102], late[434]) == (new[37], "2", "0", "1")


async def test_another_users_order_looks_unknown(fix_server: FixServer) -> None:
    alice = await fix(fix_server)
    await alice.send("D", order_fields("o1", "AAPL", "1", 1, "149.00"))
    (new,) = await reports(alice, 1)
    bob = await fix(fix_server, "bob")
    await bob.send("F", [*cancel_fields("o1", "b1"), (37, new[37])])
    unknown = await bob.expect("9")
    assert (unknown[37], unknown[102]) == ("NONE", "1")
    await bob.send("H", [(11, "o1"), (55, "AAPL"), (54, "1")])
    status = await bob.expect("8")
    assert (status[150], status[39], status[37]) == ("I", "8", "NONE")


async def test_order_status_request(fix_server: FixServer) -> None:
    alice = await fix(fix_server)
    await alice.send("D", order_fields("q1", "AAPL", "1", 7, "149.00"))
    (new,) = await reports(alice, 1)
    await alice.send("H", [(11, "q1"), (55, "AAPL"), (54, "1"), (790, "req-1")])
    status = await alice.expect("8")
    assert (status[150], status[39], status[37], status[151], status[790]) == (
        "I", "0", new[37], "7", "req-1")
    await alice.send("H", [(11, "whatever"), (37, new[37]), (55, "AAPL"), (54, "1")])
    assert (await alice.expect("8"))[37] == new[37]


async def test_mass_cancel_per_symbol_and_all(fix_server: FixServer) -> None:
    alice = await fix(fix_server)
    for i, symbol in enumerate(("AAPL", "AAPL", "MSFT")):
        await alice.send("D", order_fields(f"m{i}", symbol, "1", 1, "140.00"))
    ids = [m[37] for m in await reports(alice, 3)]
    await alice.send("q", [(11, "mc1"), (530, "1"), (55, "AAPL"), (60, timestamp())])
    report = await alice.expect("r")
    assert (report[530], report[531], report[533]) == ("1", "1", "2")
    canceled = await reports(alice, 2)
    assert {(m[150], m[39], m[11], m[37]) for m in canceled} == {
        ("4", "4", "m0", ids[0]), ("4", "4", "m1", ids[1])}
    await alice.send("q", [(11, "mc2"), (530, "7"), (60, timestamp())])
    report = await alice.expect("r")
    assert (report[531], report[533]) == ("7", "1")
    assert (await alice.expect("8"))[11] == "m2"
    await alice.send("q", [(11, "mc3"), (530, "1"), (55, "NOPE"), (60, timestamp())])
    report = await alice.expect("r")
    assert (report[531], report[532]) == ("0", "1")
    await alice.send("q", [(11, "mc4"), (530, "3"), (60, timestamp())])
    report = await alice.expect("r")
    assert (report[531], report[532]) == ("0", "0")


async def test_a_cancel_from_json_lines_reaches_the_fix_session(fix_server: FixServer) -> None:
    alice = await fix(fix_server)
    await alice.send("D", order_fields("j1", "AAPL", "1", 1, "149.00"))
    await reports(alice, 1)
    lines = await connect(fix_server.addr, "alice")
    assert (await lines.request("cancel", client_order_id="j1"))["type"] == "canceled"
    (canceled,) = await reports(alice, 1)
    assert (canceled[150], canceled[39], canceled[11]) == ("4", "4", "j1")


async def test_pipelined_orders_are_answered_in_sequence(fix_server: FixServer) -> None:
    alice = await fix(fix_server)
    data = b"".join(alice.build("D", order_fields(f"p{i}", "AAPL" if i % 2 else "MSFT", "1",
                                                  1, "140.00"))
                    for i in range(200))
    await alice.send_raw(data)
    got = await reports(alice, 200)
    assert [m[11] for m in got] == [f"p{i}" for i in range(200)]
    assert [m.seq for m in got] == list(range(2, 202))
    assert len({m[17] for m in got}) == 200


async def test_json_lines_and_fix_share_the_book(fix_server: FixServer) -> None:
    alice = await fix(fix_server)
    await alice.send("D", order_fields("b1", "XYZ", "2", 20, "10.05"))
    await reports(alice, 1)
    anon = await Conn.open(fix_server.addr)
    book = await anon.request("book", symbol="XYZ")
    assert book["asks"] == [["10.05", "20"]]
