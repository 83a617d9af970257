"""The client library's administration and profile methods against the real server:
typed replies, typed errors, and requests refused before they are sent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from client import (
    AuthFailedError,
    BadRequestError,
    Client,
    ForbiddenError,
    InvalidRequest,
    ProfileReply,
    SymbolAdded,
    UserCreated,
    UserDisabled,
    UserEnabled,
    UserProfile,
)
from tests.client.conftest import ServerProcess


async def test_create_log_in_disable_and_enable(admin: Client, server: ServerProcess) -> None:
    created = await admin.create_user("zoe", name="Zoe Example", email="zoe@example.com",
                                      cash=Decimal("250.25"), holdings={"AAPL": "3"})
    assert isinstance(created, UserCreated)
    assert created.profile == UserProfile(user="zoe", name="Zoe Example", phone="",
                                          email="zoe@example.com", admin=False,
                                          disabled=False)
    async with Client.connect(server.host, server.port, user="zoe",
                              token=created.token) as zoe:
        assert (await zoe.balance()).cash == "250.25"
        mine = await zoe.update_profile(phone="+1 555 0100")
        assert isinstance(mine, ProfileReply) and mine.profile.phone == "+1 555 0100"
        assert (await zoe.profile()).profile == mine.profile
        with pytest.raises(ForbiddenError):
            await zoe.profile("alice")
        with pytest.raises(BadRequestError, match="email"):
            await zoe.update_profile(email="zoe")
        placed = await zoe.place("AAPL", "sell", "1", "150.00")
        disabled = await admin.disable_user("zoe")
        assert isinstance(disabled, UserDisabled)
        assert disabled.order_ids == [placed.order.order_id]
    with pytest.raises(AuthFailedError, match="disabled"):
        async with Client.connect(server.host, server.port, user="zoe", token=created.token,
                                  reconnect=False):
            pass
    assert isinstance(await admin.enable_user("zoe"), UserEnabled)
    async with Client.connect(server.host, server.port, user="zoe",
                              token=created.token) as zoe:
        assert (await zoe.orders()).orders == []
    with pytest.raises(BadRequestError, match="user: 'zoe' already exists"):
        await admin.create_user("zoe")
    assert (await admin.profile("zoe")).profile.phone == "+1 555 0100"
    assert (await admin.update_profile(user="zoe", name="Zoe")).profile.name == "Zoe"


async def test_add_symbol(admin: Client, alice: Client) -> None:
    added = await admin.add_symbol("CLIB", "0.05", 10, reference_price="20.00",
                                   price_band=Decimal("0.5"))
    assert isinstance(added, SymbolAdded)
    assert (added.symbol.symbol, added.symbol.tick_size, added.symbol.price_band) == (
        "CLIB", "0.05", "0.5")
    assert "CLIB" in [s.symbol for s in (await alice.symbols()).symbols]
    assert (await alice.place("CLIB", "buy", "10", "20.00")).order.status == "accepted"
    with pytest.raises(BadRequestError, match="symbol: 'CLIB' is already listed"):
        await admin.add_symbol("CLIB", "0.05", "10")


async def test_refused_to_others_and_before_sending(alice: Client) -> None:
    with pytest.raises(ForbiddenError):
        await alice.create_user("yan")
    with pytest.raises(ForbiddenError):
        await alice.disable_user("bob")
    with pytest.raises(ForbiddenError):
        await alice.enable_user("bob")
    with pytest.raises(ForbiddenError):
        await alice.add_symbol("NOPE", "0.01", "1")
    with pytest.raises(InvalidRequest, match="name"):
        await alice.update_profile()
    with pytest.raises(InvalidRequest):
        await alice.add_symbol("NOPE", 0.01, "1")  # type: ignore[arg-type]
