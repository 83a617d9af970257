"""Account administration and profiles end to end, over JSON lines and text commands:
users created with a token shown once, profiles read and changed, users disabled (their
sessions ended, their orders canceled, their logins refused) and enabled again, symbols
listed at run time and traded at once; and everything an administrator alone may do
refused to everyone else."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest

from tests.server.conftest import Server
from tests.server.wire import Conn, connect

PROFILE_KEYS = {"user", "name", "phone", "email", "admin", "disabled"}


async def create(admin: Conn, user: str, **fields: Any) -> str:
    """Create ``user`` (which must succeed); the token the reply shows."""
    reply = await admin.request("create_user", user=user, **fields)
    assert reply["type"] == "user_created", reply
    return str(reply["token"])


async def test_an_admin_created_user_logs_in_with_the_token_shown(admin: Conn,
                                                                  addr: tuple[str, int],
                                                                  server: Server) -> None:
    reply = await admin.request("create_user", ref="c", user="dora", name="Dora Explorer",
                                phone="+1 555 0199", email="dora@example.com", cash="2500.50",
                                holdings={"AAPL": "10"})
    assert reply["type"] == "user_created" and reply["ref"] == "c"
    token = reply["token"]
    assert isinstance(token, str) and len(token) >= 32
    assert reply["profile"] == {"user": "dora", "name": "Dora Explorer",
                                "phone": "+1 555 0199", "email": "dora@example.com",
                                "admin": False, "disabled": False}
    dora = await Conn.open(addr)
    welcome = await dora.request("login", user="dora", token=token)
    assert welcome == {"type": "welcome", "user": "dora", "name": "Dora Explorer",
                       "ref": welcome["ref"]}
    balance = await dora.request("balance")
    assert (balance["cash"], balance["reserved"]) == ("2500.5", "0")
    positions = {p["symbol"]: p for p in (await dora.request("portfolio"))["positions"]}
    assert positions["AAPL"]["qty"] == "10" and positions["AAPL"]["avg_cost"] == "150"
    assert (await dora.request("profile"))["profile"]["email"] == "dora@example.com"
    # She trades like anyone: a sell of her holdings fills against alice's bid.
    alice = await connect(addr, "alice")
    await alice.order_id("AAPL", "buy", "4", "150.00")
    sold = await dora.place("AAPL", "sell", "4", "150.00")
    assert sold["type"] == "accepted" and sold["order"]["status"] == "filled"
    # Only the hash is kept: the token is in no log line, and a wrong one is refused.
    assert token not in server.log_text()
    other = await Conn.open(addr)
    refused = await other.request("login", user="dora", token=token[:-1])
    assert refused["code"] == "auth_failed"
    # Another creation gets another token; a text command spells the same request.
    text = await admin.text('create_user erin name="Erin Example" email=erin@example.com admin')
    assert text["type"] == "user_created" and text["token"] != token
    assert text["profile"]["admin"] is True and text["profile"]["name"] == "Erin Example"
    erin = await Conn.open(addr)
    assert (await erin.request("login", user="erin", token=text["token"]))["type"] == "welcome"
    assert (await erin.request("stats"))["type"] == "stats"  # an administrator
    assert (await erin.request("balance"))["cash"] == "0"


@pytest.mark.parametrize(("fields", "code", "field"), [
    ({"user": "alice"}, "bad_request", "user"),  # already exists
    ({"user": "dora smith"}, "bad_request", "user"),
    ({"user": "-dora"}, "bad_request", "user"),
    ({"user": "d" * 65}, "bad_request", "user"),
    ({"user": "dora", "email": "dora"}, "bad_request", "email"),
    ({"user": "dora", "phone": "call me"}, "bad_request", "phone"),
    ({"user": "dora", "name": "Dora\u0007"}, "bad_request", "name"),
    ({"user": "dora", "cash": "-1"}, "bad_request", "cash"),
    ({"user": "dora", "cash": "0.0000001"}, "bad_request", "cash"),  # below 10^-6
    ({"user": "dora", "holdings": {"NOPE": "1"}}, "unknown_symbol", "symbol"),
    ({"user": "dora", "holdings": {"XYZ": "5"}}, "bad_request", "holdings.XYZ"),
    ({"user": "dora", "token": "mine"}, "bad_request", "token"),  # never chosen by the admin
    ({"user": "dora", "disabled": True}, "bad_request", "disabled"),
])
async def test_a_malformed_or_duplicate_user_is_refused_naming_the_field(
        admin: Conn, addr: tuple[str, int], fields: dict[str, Any], code: str,
        field: str) -> None:
    reply = await admin.request("create_user", **fields)
    assert reply["type"] == "error" and reply["code"] == code, reply
    assert field in reply["message"].split(":")[0] or f"`$.{field}`" in reply["message"], reply
    # Nothing was created: the id is free, and the next creation works.
    ok = await admin.request("create_user", user="dora")
    assert ok["type"] == "user_created", ok


async def test_a_user_reads_and_updates_their_own_profile(alice: Conn, bob: Conn,
                                                          admin: Conn) -> None:
    profile = (await alice.request("profile"))["profile"]
    assert profile == {"user": "alice", "name": "Alice Example", "phone": "", "email": "",
                       "admin": False, "disabled": False}
    reply = await alice.request("update_profile", phone="+44 20 7946 0000",
                                email="alice@example.org")
    assert reply["type"] == "profile"
    assert reply["profile"] == {**profile, "phone": "+44 20 7946 0000",
                                "email": "alice@example.org"}
    text = await alice.text('update_profile name="Alice Liddell" email=""')
    assert text["profile"]["name"] == "Alice Liddell" and text["profile"]["email"] == ""
    assert (await alice.request("update_profile", user="alice", phone=""))["type"] == "profile"
    # Never the id or the admin flag, and never another user's.
    for bad, word in [({"admin": True}, "admin"), ({"user_id": "x"}, "user_id"),
                      ({"disabled": False}, "disabled")]:
        reply = await alice.request("update_profile", name="A", **bad)
        assert reply["code"] == "bad_request" and word in reply["message"], reply
    reply = await alice.request("update_profile", user="bob", name="Bobby")
    assert reply["code"] == "forbidden" and reply["message"].startswith("user: ")
    assert (await alice.request("profile", user="bob"))["code"] == "forbidden"
    reply = await alice.request("update_profile", email="not-an-address")
    assert reply["code"] == "bad_request" and reply["message"].startswith("email: ")
    assert (await alice.request("update_profile"))["code"] == "bad_request"
    assert (await bob.request("profile"))["profile"]["name"] == "Bob Example"
    # The administrator reads and changes anyone's.
    assert (await admin.request("profile", user="alice"))["profile"]["name"] == "Alice Liddell"
    reply = await admin.request("update_profile", user="bob", name="Robert")
    assert reply["profile"]["name"] == "Robert"
    assert (await bob.request("profile"))["profile"]["name"] == "Robert"
    assert (await admin.request("profile", user="nobody"))["message"].startswith("user: ")


async def test_administration_is_refused_to_everyone_else(alice: Conn, anon: Conn) -> None:
    ops: list[tuple[str, dict[str, Any]]] = [
        ("create_user", {"user": "dora"}),
        ("disable_user", {"user": "bob"}),
        ("enable_user", {"user": "bob"}),
        ("add_symbol", {"symbol": "NEWCO", "tick_size": "0.05", "lot_size": "10"}),
    ]
    for op, fields in ops:
        reply = await alice.request(op, **fields)
        assert (reply["type"], reply["code"]) == ("error", "forbidden"), (op, reply)
        reply = await anon.request(op, **fields)
        assert (reply["type"], reply["code"]) == ("error", "auth_required"), (op, reply)
    for op, fields in [("profile", {}), ("update_profile", {"name": "x"})]:
        assert (await anon.request(op, **fields))["code"] == "auth_required"
    # Nothing happened: no user, no symbol, bob is not disabled.
    assert (await alice.request("login", user="dora", token="x"))["code"] == "auth_failed"
    symbols = [s["symbol"] for s in (await alice.request("symbols"))["symbols"]]
    assert "NEWCO" not in symbols
    assert (await alice.text("disable_user bob"))["code"] == "forbidden"


async def test_a_disabled_user_is_logged_out_refused_and_has_no_orders(
        admin: Conn, addr: tuple[str, int]) -> None:
    alice = await connect(addr, "alice")
    other = await connect(addr, "alice")  # a second session of hers
    bob = await connect(addr, "bob")
    a1 = await alice.order_id("AAPL", "buy", "10", "149.00")
    a2 = await alice.order_id("MSFT", "sell", "5", "430.00")
    a3 = await other.order_id("XYZ", "buy", "10", "1.00", tif="day")
    paused = await alice.order_id("AAPL", "buy", "1", "148.00")
    await alice.request("pause", order_id=paused)
    b1 = await bob.order_id("AAPL", "buy", "3", "149.00")
    reply = await admin.request("disable_user", ref="d", user="alice")
    assert reply == {"type": "user_disabled", "user": "alice", "count": 4,
                     "order_ids": sorted([a1, a2, a3, paused]), "ref": "d"}
    # Both of her sessions hear each cancel, then why they are closed, and are closed.
    for conn in (alice, other):
        told = [json.loads(line) for line in (await conn.expect_closed()).splitlines()]
        assert sorted(m["order"]["order_id"] for m in told if m["type"] == "canceled") == (
            sorted([a1, a2, a3, paused]))
        assert told[-1] == {"type": "error", "code": "auth_failed", "message": (
            "user: the account was disabled by an administrator; this session is closed")}
    # Her login is refused, saying why, on a right token only.
    again = await Conn.open(addr)
    refused = await again.request("login", user="alice", token="alice-token")
    assert refused["code"] == "auth_failed" and "disabled" in refused["message"]
    wrong = await again.request("login", user="alice", token="nope")
    assert wrong["code"] == "auth_failed" and "disabled" not in wrong["message"]
    # Her orders are gone from the books; bob's stays.
    book = await bob.request("book", symbol="AAPL")
    assert book["bids"] == [["149.00", "3"]]
    assert (await bob.request("book", symbol="MSFT"))["asks"] == []
    assert [o["order_id"] for o in (await bob.request("orders"))["orders"]] == [b1]
    profile = (await admin.request("profile", user="alice"))["profile"]
    assert profile["disabled"] is True
    assert (await admin.request("disable_user", user="alice"))["count"] == 0  # again: nothing
    assert (await admin.request("disable_user", user="admin"))["message"].startswith("user: ")
    assert (await admin.request("disable_user", user="nobody"))["message"].startswith("user: ")
    # Enabled again: she logs in to the same money, with nothing reserved and no order.
    assert (await admin.text("enable_user alice")) == {"type": "user_enabled", "user": "alice"}
    back = await connect(addr, "alice")
    balance = await back.request("balance")
    assert (balance["cash"], balance["reserved"]) == ("1000000", "0")
    assert (await back.request("orders"))["orders"] == []
    status = await back.request("status", order_id=a1)
    assert status["order"]["status"] == "canceled"
    assert (await back.place("AAPL", "buy", "1", "149.00"))["type"] == "accepted"
    assert (await admin.request("enable_user", user="nobody"))["message"].startswith("user: ")


async def test_a_disabled_users_pipelined_orders_are_refused(admin: Conn,
                                                             addr: tuple[str, int]) -> None:
    """Orders of the user still in a book's queue when the flag is set are refused when
    they run: none of them rests after the disable."""
    alice = await connect(addr, "alice")
    for i in range(50):
        await alice.send({"op": "place", "ref": f"p{i}", "symbol": "AAPL", "side": "buy",
                          "qty": "1", "price": "140.00"})
    reply = await admin.request("disable_user", user="alice")
    assert reply["type"] == "user_disabled"
    # Closed: lines it had not read yet are dropped, so the close may be a reset.
    with contextlib.suppress(ConnectionResetError):
        await alice.expect_closed()
    bob = await connect(addr, "bob")
    assert (await bob.request("book", symbol="AAPL"))["bids"] == []
    enabled = await admin.request("enable_user", user="alice")
    assert enabled["type"] == "user_enabled"
    back = await connect(addr, "alice")
    assert (await back.request("orders"))["orders"] == []
    assert (await back.request("balance"))["reserved"] == "0"


async def test_a_symbol_listed_at_run_time_is_traded_at_once(admin: Conn,
                                                             addr: tuple[str, int]) -> None:
    watcher = await connect(addr, "bob")
    reply = await admin.request("add_symbol", ref="s", symbol="NEWCO", tick_size="0.05",
                                lot_size="10", reference_price="20.00", price_band="0.5")
    assert reply["type"] == "symbol_added" and reply["ref"] == "s"
    info = reply["symbol"]
    assert (info["symbol"], info["tick_size"], info["lot_size"], info["status"],
            info["reference_price"], info["price_band"]) == (
        "NEWCO", "0.05", "10", "open", "20.00", "0.5")
    rows = {s["symbol"]: s for s in (await watcher.request("symbols"))["symbols"]}
    assert list(rows)[-1] == "NEWCO" and rows["NEWCO"] == info
    sub = await watcher.request("subscribe", channel="trades", symbol="NEWCO")
    assert sub["type"] == "subscribed"
    token = await create(admin, "ipo", holdings={"NEWCO": "1000"})
    seller = await Conn.open(addr)
    await seller.login("ipo", token)
    alice = await connect(addr, "alice")
    bid = await alice.order_id("NEWCO", "buy", "50", "20.05")
    sold = await seller.place("NEWCO", "sell", "30", "20.05")
    assert sold["order"]["status"] == "filled"
    trade = await watcher.event("trade")
    assert (trade["trade"]["symbol"], trade["trade"]["price"], trade["trade"]["qty"]) == (
        "NEWCO", "20.05", "30")
    assert (await alice.request("status", order_id=bid))["order"]["filled_qty"] == "30"
    assert (await alice.request("balance"))["cash"] == "999398.5"  # 30 x 20.05 paid
    # The grid and the band hold; halting it works like any symbol's.
    assert (await alice.place("NEWCO", "buy", "5", "20.05"))["order"]["reason"] == "bad_qty"
    assert (await alice.place("NEWCO", "buy", "10", "20.03"))["order"]["reason"] == "bad_price"
    assert (await alice.place("NEWCO", "buy", "10", "31.00"))["order"]["reason"] == "price_band"
    assert (await admin.text("halt newco")) == {"type": "halted", "symbol": "NEWCO"}
    # By text, and the refusals.
    text = await admin.text("add_symbol gold 0.1 0.01 ref=2000 max_qty=1000")
    assert text["type"] == "symbol_added" and text["symbol"]["max_qty"] == "1000.00"
    for fields, field in [
        ({"symbol": "NEWCO", "tick_size": "0.05", "lot_size": "10"}, "symbol"),
        ({"symbol": "newer", "tick_size": "0.05", "lot_size": "10"}, "symbol"),
        ({"symbol": "FINE", "tick_size": "0.0000001", "lot_size": "1"}, "tick_size"),
        ({"symbol": "FINE", "tick_size": "0", "lot_size": "1"}, "tick_size"),
        ({"symbol": "FINE", "tick_size": "0.05", "lot_size": "1",
          "reference_price": "1.01"}, "reference_price"),
        ({"symbol": "FINE", "tick_size": "0.05", "lot_size": "1", "price_band": "-1"},
         "price_band"),
        ({"symbol": "FINE", "tick_size": "0.05"}, "lot_size"),
    ]:
        reply = await admin.request("add_symbol", **fields)
        assert reply["code"] == "bad_request", reply
        assert reply["message"].startswith(f"{field}: ") or f"`{field}`" in reply["message"]
    symbols = [s["symbol"] for s in (await watcher.request("symbols"))["symbols"]]
    assert symbols == ["AAPL", "MSFT", "BTC-USD", "XYZ", "NEWCO", "GOLD"]


async def test_creation_keeps_the_order_of_the_session(admin: Conn,
                                                       addr: tuple[str, int]) -> None:
    """A request pipelined behind a create_user (hashed in a thread) runs after it."""
    await admin.send({"op": "create_user", "ref": "c", "user": "dora", "name": "Dora"})
    await admin.send({"op": "profile", "ref": "p", "user": "dora"})
    await admin.send({"op": "disable_user", "ref": "d", "user": "dora"})
    created, profile, disabled = [await admin.reply(ref) for ref in ("c", "p", "d")]
    assert created["type"] == "user_created"
    assert profile["profile"]["name"] == "Dora" and not profile["profile"]["disabled"]
    assert disabled["type"] == "user_disabled"
    dora = await Conn.open(addr)
    refused = await dora.request("login", user="dora", token=created["token"])
    assert "disabled" in refused["message"]
