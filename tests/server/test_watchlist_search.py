"""Watchlists, symbol names and symbol search, end to end.

* ``symbols`` carries each symbol's display name (the config's, else the symbol).
* ``search`` finds symbols by prefix and by words of their names, best match first,
  without a login; a blank or overlong query is ``bad_request`` naming ``query``.
* A watchlist keeps the order symbols were added, replies with each symbol's quote,
  is the user's own, refuses what it cannot do with a clear error that changes nothing,
  holds at most 200 symbols, and survives a restart (snapshot and journal).
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from exchange.server.config import demo_config
from exchange.server.views import Views
from tests.server.conftest import BASE_CONFIG, StartServer, _start
from tests.server.wire import Conn, connect

NAMED = (BASE_CONFIG
         .replace('symbol = "AAPL"\n', 'symbol = "AAPL"\nname = "Apple Inc."\n')
         .replace('symbol = "MSFT"\n', 'symbol = "MSFT"\nname = "Microsoft Corporation"\n')
         .replace('symbol = "BTC-USD"\n', 'symbol = "BTC-USD"\nname = "Bitcoin / US Dollar"\n'))
"""The test market with display names, XYZ left without one."""


def symbols_of(reply: dict[str, Any]) -> list[str]:
    return [row["symbol"] for row in reply["symbols"]]


def test_the_demo_symbols_have_real_names() -> None:
    views = Views(demo_config().build_exchange())
    names = {row.symbol: row.name for row in views.symbols().symbols}
    assert names == {"AAPL": "Apple Inc.", "MSFT": "Microsoft Corporation",
                     "TSLA": "Tesla, Inc.", "BTC-USD": "Bitcoin / US Dollar",
                     "ETH-USD": "Ether / US Dollar"}


async def test_symbols_carry_names(start_server: StartServer) -> None:
    server = start_server(config=NAMED)
    anon = await Conn.open(server.addr)
    reply = await anon.request("symbols")
    names = {row["symbol"]: row["name"] for row in reply["symbols"]}
    assert names == {"AAPL": "Apple Inc.", "MSFT": "Microsoft Corporation",
                     "BTC-USD": "Bitcoin / US Dollar", "XYZ": "XYZ"}


async def test_search_by_prefix_and_by_words_of_the_name(start_server: StartServer) -> None:
    server = start_server(config=NAMED)
    anon = await Conn.open(server.addr)  # no login needed

    async def search(query: str, **fields: Any) -> list[str]:
        reply = await anon.request("search", query=query, **fields)
        assert reply["type"] == "search", reply
        return symbols_of(reply)

    assert await search("bt") == ["BTC-USD"]
    assert await search("BTC-") == ["BTC-USD"]
    assert await search("micro") == ["MSFT"]
    assert await search("Corporation") == ["MSFT"]
    assert await search("bitcoin us") == ["BTC-USD"]
    assert await search("dollar bit") == ["BTC-USD"]  # words in any order
    assert await search("usd") == ["BTC-USD"]  # a word of the symbol
    assert await search("inc") == ["AAPL"]
    assert await search("x") == ["XYZ"]
    assert await search("bitcoin euro") == []  # every word must match
    assert await search("google") == []
    # Best first: the symbol itself, then symbols it begins, then names.
    assert await search("a") == ["AAPL"]
    both = await search("m")  # MSFT by prefix; nothing else starts a word with m
    assert both == ["MSFT"]
    rows = (await anon.request("search", query="apple"))["symbols"]
    assert rows[0]["name"] == "Apple Inc." and rows[0]["tick_size"] == "0.01"
    assert (await anon.text("search bitcoin US"))["symbols"][0]["symbol"] == "BTC-USD"


async def test_search_ranks_and_limits(start_server: StartServer) -> None:
    config = "".join(f'[[symbols]]\nsymbol = "{s}"\ntick_size = "0.01"\nlot_size = "1"\n'
                     f'name = "{n}"\n\n' for s, n in [
                         ("AB", "Zeta Holdings"), ("ABC", "Alpha Bravo"), ("XAB", "Ab Foods"),
                         ("ABD", "Other")])
    server = start_server(config=config)
    anon = await Conn.open(server.addr)
    reply = await anon.request("search", query="ab")
    assert symbols_of(reply) == ["AB", "ABC", "ABD", "XAB"]  # exact, prefixes, by name
    reply = await anon.request("search", query="ab", limit=2)
    assert symbols_of(reply) == ["AB", "ABC"]


async def test_bad_searches_name_the_field(start_server: StartServer) -> None:
    server = start_server(config=NAMED)
    anon = await Conn.open(server.addr)
    for fields in ({"query": "   "}, {"query": ""}, {"query": "x" * 65}, {},
                   {"query": "a", "limit": 0}):
        reply = await anon.request("search", **fields)
        assert reply["code"] == "bad_request", reply
        assert ("query" in reply["message"]) or ("limit" in reply["message"]), reply


async def test_a_watchlist_with_quotes(start_server: StartServer) -> None:
    server = start_server(config=NAMED)
    anon = await Conn.open(server.addr)
    assert (await anon.request("watchlist"))["code"] == "auth_required"
    alice = await connect(server.addr, "alice")
    bob = await connect(server.addr, "bob")
    assert (await alice.request("watchlist"))["symbols"] == []
    await alice.order_id("AAPL", "buy", "5", "149.50")
    await bob.order_id("BTC-USD", "sell", "0.5", "50010.00")
    await alice.order_id("BTC-USD", "buy", "0.2", "50010.00")  # trades 0.2
    assert symbols_of(await alice.request("watch", symbol="BTC-USD")) == ["BTC-USD"]
    reply = await alice.request("watch", symbol="AAPL")
    assert symbols_of(reply) == ["BTC-USD", "AAPL"]  # in the order added
    btc, aapl = reply["symbols"]
    assert (aapl["name"], aapl["status"], aapl["bid"], aapl["bid_qty"], aapl["ask"]) == (
        "Apple Inc.", "open", "149.50", "5", None)
    assert (btc["last"], btc["ask"], btc["ask_qty"], btc["volume"]) == (
        "50010.00", "50010.00", "0.3000", "0.2000")
    quote = await alice.request("quote", symbol="BTC-USD")
    assert {k: btc[k] for k in quote if k not in ("type", "ref")} == {
        k: v for k, v in quote.items() if k not in ("type", "ref")}
    again = await alice.request("watch", symbol="AAPL")  # there already: nothing changes
    assert symbols_of(again) == ["BTC-USD", "AAPL"]
    assert (await bob.request("watchlist"))["symbols"] == []  # each user's own
    # Refusals name the field and change nothing.
    unknown = await alice.request("watch", symbol="GOOG")
    assert unknown["code"] == "unknown_symbol" and "symbol" in unknown["message"]
    absent = await alice.request("unwatch", symbol="MSFT")
    assert absent["code"] == "bad_request" and "symbol: 'MSFT' is not on" in absent["message"]
    missing = await alice.request("watch")
    assert missing["code"] == "bad_request" and "`symbol`" in missing["message"]
    assert symbols_of(await alice.request("watchlist")) == ["BTC-USD", "AAPL"]
    assert symbols_of(await alice.request("unwatch", symbol="BTC-USD")) == ["AAPL"]
    # The text commands.
    assert symbols_of(await alice.text("watch xyz")) == ["AAPL", "XYZ"]
    assert symbols_of(await alice.text("unwatch AAPL")) == ["XYZ"]
    listed = await alice.text("watchlist")
    assert listed["type"] == "watchlist" and listed["symbols"][0]["name"] == "XYZ"


async def test_a_watchlist_holds_at_most_200_symbols(start_server: StartServer) -> None:
    config = "".join(f'[[symbols]]\nsymbol = "S{i:03d}"\ntick_size = "0.01"\n'
                     f'lot_size = "1"\n\n' for i in range(201)) + (
        '[[users]]\nuser = "alice"\ntoken = "alice-token"\n')
    server = start_server(config=config)
    alice = await connect(server.addr, "alice")
    for i in range(200):
        await alice.send({"op": "watch", "symbol": f"S{i:03d}", "ref": i})
    for i in range(200):
        assert (await alice.reply(i))["type"] == "watchlist"
    full = await alice.request("watch", symbol="S200")
    assert full["code"] == "bad_request" and "at most 200 symbols" in full["message"], full
    assert len((await alice.request("watchlist"))["symbols"]) == 200


async def _restart_keeps_watchlists(start_server: StartServer, tmp_path: Path,
                                    sig: int) -> None:
    data = tmp_path / "data"
    first = _start(NAMED, tmp_path, "first", ("--data-dir", str(data)))
    alice = await connect(first.addr, "alice")
    for symbol in ("XYZ", "AAPL", "MSFT"):
        await alice.request("watch", symbol=symbol)
    await alice.request("unwatch", symbol="AAPL")
    await alice.request("unwatch", symbol="AAPL")  # refused: recorded nothing
    bob = await connect(first.addr, "bob")
    await bob.request("watch", symbol="BTC-USD")
    await alice.close()
    await bob.close()
    assert first.stop(sig) == (0 if sig == signal.SIGTERM else -signal.SIGKILL)
    # Restarted with a config that renames one symbol: today's config's name shows.
    second = start_server(config=NAMED.replace("Microsoft Corporation", "Microsoft Corp."),
                          args=("--data-dir", str(data)))
    alice = await connect(second.addr, "alice")
    listed = (await alice.request("watchlist"))["symbols"]
    assert [(r["symbol"], r["name"]) for r in listed] == [("XYZ", "XYZ"),
                                                          ("MSFT", "Microsoft Corp.")]
    bob = await connect(second.addr, "bob")
    assert symbols_of(await bob.request("watchlist")) == ["BTC-USD"]
    names = {r["symbol"]: r["name"] for r in (await bob.request("symbols"))["symbols"]}
    assert names["AAPL"] == "Apple Inc."


async def test_watchlists_survive_an_orderly_restart(start_server: StartServer,
                                                     tmp_path: Path) -> None:
    await _restart_keeps_watchlists(start_server, tmp_path, signal.SIGTERM)


async def test_watchlists_survive_a_crash(start_server: StartServer, tmp_path: Path) -> None:
    await _restart_keeps_watchlists(start_server, tmp_path, signal.SIGKILL)


async def test_names_come_back_from_the_snapshot(start_server: StartServer,
                                                 tmp_path: Path) -> None:
    """A symbol the config no longer names keeps the name the data directory holds."""
    data = tmp_path / "data"
    first = _start(NAMED, tmp_path, "first", ("--data-dir", str(data)))
    assert first.stop() == 0
    second = start_server(config=BASE_CONFIG, args=("--data-dir", str(data)))
    anon = await Conn.open(second.addr)
    names = {r["symbol"]: r["name"] for r in (await anon.request("symbols"))["symbols"]}
    assert names["AAPL"] == "Apple Inc." and names["XYZ"] == "XYZ"
