"""A disabled user on FIX: the session logged on is ended, its orders are canceled, and
a logon is refused with the reason until an administrator enables the user again."""

from __future__ import annotations

from tests.fix.client import FixClient, order_fields
from tests.fix.conftest import FixServer
from tests.server.wire import connect


async def test_a_disabled_user_is_logged_off_and_refused_on_fix(fix_server: FixServer) -> None:
    alice = await FixClient.open(fix_server.fix, "alice")
    assert (await alice.logon()).type == "A"
    await alice.send("D", order_fields("a1", "AAPL", "1", 10, "149.00", tif="1"))
    new = await alice.expect("8")
    order_id = int(new[37])
    admin = await connect(fix_server.addr, "admin")
    reply = await admin.request("disable_user", user="alice")
    assert reply["type"] == "user_disabled" and reply["order_ids"] == [order_id]
    told = await alice.closed()  # the cancel's report, a Logout saying why, the close
    assert [(m.type, m.get(150), m.get(37)) for m in told] == [
        ("8", "4", str(order_id)), ("5", None, None)]
    assert told[1][58] == ("auth_failed: user: the account was disabled by an "
                           "administrator; this session is closed")
    bob = await connect(fix_server.addr, "bob")
    assert (await bob.request("book", symbol="AAPL"))["bids"] == []
    again = await FixClient.open(fix_server.fix, "alice")
    logout = await again.logon(reset=True)
    assert logout.type == "5" and logout[58] == (
        "auth_failed: user: the account is disabled; ask an administrator"), logout
    assert await again.closed() == []
    assert (await admin.request("enable_user", user="alice"))["type"] == "user_enabled"
    back = await FixClient.open(fix_server.fix, "alice")
    assert (await back.logon(reset=True)).type == "A"
    await back.send("D", order_fields("a2", "AAPL", "1", 1, "149.00", tif="1"))
    assert (await back.expect("8"))[39] == "0"
