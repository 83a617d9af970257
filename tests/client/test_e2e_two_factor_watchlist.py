"""The client library's two-factor, watchlist and search methods against the real server,
with ``pyotp`` as the authenticator app; and a reconnect that logs in with a fresh code."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest

from client import (
    AuthFailedError,
    BadRequestError,
    Client,
    InvalidRequest,
    OtpDisabled,
    OtpEnabled,
    OtpSetupReply,
    SearchReply,
    SymbolInfo,
    UnknownSymbolError,
    WatchEntry,
    WatchlistReply,
)
from tests.client.conftest import ServerProcess, connect, start_server


async def away_from_a_step_edge(seconds: float = 5.0) -> None:
    left = 30 - time.time() % 30
    if left < seconds:
        await asyncio.sleep(left + 0.1)


def at(secret: str, step: int) -> str:
    return str(pyotp.TOTP(secret).at(step * 30))


async def test_two_factor_methods(server: ServerProcess) -> None:
    async with connect(server, "carol") as carol:
        setup = await carol.otp_setup()
        assert isinstance(setup, OtpSetupReply)
        app = pyotp.parse_uri(setup.uri)
        assert isinstance(app, pyotp.TOTP) and app.secret == setup.secret
        with pytest.raises(InvalidRequest, match="code"):
            await carol.otp_enable("12")
        await away_from_a_step_edge()
        s = int(time.time() // 30)
        # Enabled with the step before this one, so that this step's code is still unused.
        assert isinstance(await carol.otp_enable(at(setup.secret, s - 1)), OtpEnabled)
        with pytest.raises(AuthFailedError, match="one-time code"):
            await Client.connect(server.host, server.port, user="carol", token="carol-token")
        async with Client.connect(server.host, server.port, user="carol", token="carol-token",
                                  otp=app.now) as again:
            assert (await again.balance()).cash
            with pytest.raises(AuthFailedError):  # the code just used, once more
                await again.login("carol", "carol-token", otp=at(setup.secret, s))
        assert isinstance(await carol.otp_disable(at(setup.secret, s + 1)), OtpDisabled)
        welcome = await carol.login("carol", "carol-token")
        assert welcome.user == "carol"


async def test_watchlist_and_search_methods(server: ServerProcess, symbol: str) -> None:
    async with connect(server, "dave") as dave:
        await dave.place(symbol, "buy", 2, "99.00")
        reply = await dave.watch(symbol)
        assert isinstance(reply, WatchlistReply)
        (entry,) = reply.symbols
        assert isinstance(entry, WatchEntry)
        assert (entry.symbol, entry.name, entry.bid, entry.bid_qty) == (symbol, symbol,
                                                                        "99.00", "2")
        assert [e.symbol for e in (await dave.watch("AAPL")).symbols] == [symbol, "AAPL"]
        assert [e.symbol for e in (await dave.watchlist()).symbols] == [symbol, "AAPL"]
        assert [e.symbol for e in (await dave.unwatch(symbol)).symbols] == ["AAPL"]
        with pytest.raises(BadRequestError, match="symbol"):
            await dave.unwatch(symbol)
        with pytest.raises(UnknownSymbolError):
            await dave.watch("NOPE")
        found = await dave.search("btc")
        assert isinstance(found, SearchReply)
        assert [s.symbol for s in found.symbols] == ["BTC-USD"]
        assert isinstance(found.symbols[0], SymbolInfo)
        assert len((await dave.search("t", limit=3)).symbols) == 3
        with pytest.raises(InvalidRequest, match="query"):
            await dave.search("")


@pytest.fixture
def durable(tmp_path: Path) -> Iterator[ServerProcess]:
    (tmp_path / "data").mkdir()
    proc = start_server(tmp_path, data_dir=tmp_path / "data")
    yield proc
    proc.stop()


async def test_a_reconnect_logs_in_with_a_fresh_code(durable: ServerProcess) -> None:
    """The app's clock is the test's: after the crash it still shows the code the first
    login used, so the reconnection waits; once it shows the next one, it logs in."""
    async with connect(durable, "alice") as setup_session:
        secret = (await setup_session.otp_setup()).secret
        await away_from_a_step_edge()
        s = int(time.time() // 30)
        await setup_session.otp_enable(at(secret, s - 1))
    shown = [at(secret, s)]
    asked = asyncio.Event()

    def app() -> str:
        asked.set()
        return shown[0]

    async with Client.connect(durable.host, durable.port, user="alice", token="alice-token",
                              otp=app, reconnect=True, reconnect_delay=0.05,
                              reconnect_max_delay=0.2, timeout=15) as alice:
        port = durable.port
        durable.kill()
        await asyncio.to_thread(durable.start, port)
        asked.clear()
        await asyncio.wait_for(asked.wait(), 10)  # the reconnection asks for a code...
        assert not alice.is_connected  # ...and waits: the one it has is spent
        shown[0] = at(secret, s + 1)  # the app moves on to the next step
        assert (await alice.balance()).cash
        assert alice.reconnects == 1
