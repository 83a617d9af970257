"""Account administration is durable with ``--data-dir``: users created at run time (and
their tokens' hashes), profile changes, disabled users and symbols listed at run time are
all there after a restart, from the snapshot (SIGTERM) as from the journal alone (kill -9,
replayed over the configuration), although the configuration names none of them; and the
configuration, which still lists the users as they first were, undoes none of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.server.durability_helpers import Client, ServerProcess

Picture = dict[str, Any]
USERS = ("alice", "bob", "dora", "ipo")


async def picture(addr: tuple[str, int], tokens: dict[str, str]) -> Picture:
    """What the administration changed, as the wire shows it."""
    admin = await Client.connect(addr, "admin")
    try:
        out: Picture = {"profiles": {}, "users": {}}
        for user in USERS:
            out["profiles"][user] = (await admin.call("profile", user=user))["profile"]
        out["symbols"] = (await admin.call("symbols"))["symbols"]
        out["book"] = {k: v for k, v in (await admin.call("book", symbol="NEWCO")).items()
                       if k != "ref"}
        out["trades"] = (await admin.call("trades", symbol="NEWCO"))["trades"]
    finally:
        await admin.close()
    for user, token in tokens.items():
        client = await Client.connect(addr)
        try:
            assert (await client.call("login", user=user, token=token))["type"] == "welcome"
            out["users"][user] = {op: {k: v for k, v in (await client.call(op)).items()
                                       if k != "ref"}
                                  for op in ("balance", "portfolio", "orders")}
        finally:
            await client.close()
    return out


async def administer(addr: tuple[str, int]) -> dict[str, str]:
    """Create users, list a symbol, trade it, change profiles, disable bob; the tokens."""
    admin = await Client.connect(addr, "admin")
    tokens = {"alice": "alice-token"}
    created = await admin.call("create_user", user="dora", name="Dora Explorer",
                               email="dora@example.com", cash="1000", holdings={"AAPL": "5"})
    tokens["dora"] = created["token"]
    listed = await admin.call("add_symbol", symbol="NEWCO", tick_size="0.05", lot_size="10",
                              reference_price="20.00", price_band="0.5")
    assert listed["type"] == "symbol_added", listed
    created = await admin.call("create_user", user="ipo", holdings={"NEWCO": "1000"})
    tokens["ipo"] = created["token"]
    alice = await Client.connect(addr, "alice")
    ipo = await Client.connect(addr)
    await ipo.call("login", user="ipo", token=tokens["ipo"])
    assert (await ipo.call("place", symbol="NEWCO", side="sell", qty="100",
                           price="20.10"))["type"] == "accepted"
    filled = await alice.call("place", symbol="NEWCO", side="buy", qty="60", price="20.10")
    assert filled["order"]["status"] == "filled", filled
    resting = await alice.call("place", symbol="NEWCO", side="buy", qty="30", price="19.00")
    assert resting["type"] == "accepted"
    bob = await Client.connect(addr, "bob")
    bobs = await bob.call("place", symbol="AAPL", side="buy", qty="10", price="149.00")
    assert bobs["type"] == "accepted"
    disabled = await admin.call("disable_user", user="bob")
    assert disabled["order_ids"] == [bobs["order"]["order_id"]], disabled
    renamed = await admin.call("update_profile", user="alice", name="Alice Liddell")
    assert renamed["type"] == "profile"
    dora = await Client.connect(addr)
    await dora.call("login", user="dora", token=tokens["dora"])
    assert (await dora.call("update_profile", phone="+1 555 0199"))["type"] == "profile"
    for client in (admin, alice, ipo, bob, dora):
        await client.close()
    return tokens


@pytest.mark.parametrize("stop", ["sigterm", "kill9"])
async def test_administration_survives_a_restart(tmp_path: Path, stop: str) -> None:
    server = ServerProcess(tmp_path / "data", tmp_path / "server.log")
    addr = await server.start()
    tokens = await administer(addr)
    before = await picture(addr, tokens)
    assert before["profiles"]["bob"]["disabled"] is True
    assert before["profiles"]["alice"]["name"] == "Alice Liddell"
    assert [s["symbol"] for s in before["symbols"]][-1] == "NEWCO"
    assert before["book"]["bids"] == [["19.00", "30"]] and before["book"]["asks"] == [
        ["20.10", "40"]]
    if stop == "sigterm":
        await server.terminate()
        assert list((tmp_path / "data").glob("snapshot-*.snap"))
    else:
        await server.kill9()
        assert not list((tmp_path / "data").glob("snapshot-*.snap"))  # the journal alone
    addr = await server.start()
    after = await picture(addr, tokens)
    assert after == before
    # Still disabled, although the configuration lists bob as an ordinary user.
    bob = await Client.connect(addr)
    refused = await bob.call("login", user="bob", token="bob-token")
    assert refused["code"] == "auth_failed" and "disabled" in refused["message"]
    # The new symbol trades on, and bob comes back once enabled.
    admin = await Client.connect(addr, "admin")
    assert (await admin.call("enable_user", user="bob"))["type"] == "user_enabled"
    bob = await Client.connect(addr, "bob")
    traded = await bob.call("place", symbol="NEWCO", side="buy", qty="40", price="20.10")
    assert traded["order"]["status"] == "filled", traded
    await bob.close()
    await admin.close()
    await server.terminate()
    # And once more, over what the second run wrote.
    addr = await server.start()
    admin = await Client.connect(addr, "admin")
    assert (await admin.call("profile", user="bob"))["profile"]["disabled"] is False
    assert (await admin.call("book", symbol="NEWCO"))["asks"] == []
    await admin.close()
    await server.terminate()
