"""kill -9 in the middle of a pipelined mixed load, restart on the same --data-dir, compare.

Four sessions (alice, bob, carol, dave) send a seeded mix of every kind of order, crossing
orders, modifies, cancels, pauses and resumes, cancel_all, deposits and withdrawals,
several requests in flight at a time. At a seeded point the server is killed with
SIGKILL, either once every request is answered (then the whole visible state must come
back exactly) or while requests are still in flight (then everything acknowledged must
come back exactly, and what was not acknowledged may or may not have happened).

"Acknowledged" is everything the server wrote to a client: replies and pushed events.
The checks, per order seen: it exists; its identity (ids, user, symbol, side, kind, tif,
stop price, ``accepted_at``, ``expires_at``) is unchanged; an order seen in a final
state is exactly that; an order seen live has filled at least as much. Every fill seen
is in its user's ``fills`` and its trade in the symbol's ``trades``, field for field.
Balances and holdings must follow from the recovered fills and the cash operations
(all acknowledged ones, plus a prefix of each session's unanswered ones), reservations
from the live orders, and the book from the resting orders. New order and trade ids
continue right after the recovered ones.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

from tests.server.durability_helpers import (
    DEMO_CASH,
    DEMO_HOLDINGS,
    DEMO_SYMBOLS,
    LIVE,
    Client,
    Msg,
    ServerProcess,
    close_all,
    connect_all,
    dump_state,
    final_burst,
    run_load,
    settle,
    state_diff,
)

IDENTITY = ("order_id", "client_order_id", "user", "symbol", "side", "kind", "tif",
            "stop_price", "accepted_at", "expires_at")
ORDER_REPLIES = frozenset({"accepted", "rejected", "modified", "canceled", "paused",
                           "resumed", "order", "fill", "expired", "triggered"})


# -- what was acknowledged ------------------------------------------------------------------

@dataclass
class Acknowledged:
    orders: dict[int, list[Msg]] = field(default_factory=lambda: defaultdict(list))
    fills: dict[tuple[int, int, str], tuple[str, Msg]] = field(default_factory=dict)
    canceled: set[int] = field(default_factory=set)
    cash: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    unanswered_cash: dict[str, list[Decimal]] = field(default_factory=lambda: defaultdict(list))
    unanswered_places: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    unanswered: int = 0

    def learn(self, client: Client, requests: dict[int, Msg]) -> None:
        user = client.user
        assert user is not None
        for msg in client.received:
            if msg["type"] in ORDER_REPLIES and isinstance(msg.get("order"), dict):
                self.orders[msg["order"]["order_id"]].append(msg["order"])
            fills = msg.get("fills") if msg["type"] != "fills" else None
            if msg["type"] == "fill":
                fills = [msg["fill"]]
            for fill in fills or ():
                self.fills[(fill["trade_id"], fill["order_id"], fill["side"])] = (user, fill)
            if msg["type"] == "canceled_all":
                self.canceled.update(msg["order_ids"])
            request = requests.get(msg.get("ref", -1))
            if (request is not None and request["op"] in ("deposit", "withdraw")
                    and msg["type"] == "balance"):
                sign = 1 if request["op"] == "deposit" else -1
                self.cash[user] += sign * Decimal(request["amount"])
        answered = {msg["ref"] for msg in client.received if "ref" in msg}
        for ref, request in sorted(requests.items()):
            if ref in answered:
                continue
            self.unanswered += 1
            if request["op"] in ("deposit", "withdraw"):
                sign = 1 if request["op"] == "deposit" else -1
                self.unanswered_cash[user].append(sign * Decimal(request["amount"]))
            elif request["op"] == "place":
                self.unanswered_places[user] += 1


def _last(observations: list[Msg]) -> Msg:
    """The latest of an order's observed states: a final one, else the most filled."""
    final = [o for o in observations if o["status"] not in LIVE]
    if final:
        return final[-1]
    return max(observations, key=lambda o: Decimal(o["filled_qty"]))


async def check_recovered(addr: tuple[str, int], ack: Acknowledged) -> None:
    clients = await connect_all(addr)
    try:
        await _check_orders(clients, ack)
        fills = await _check_fills(clients, ack)
        await _check_accounts(clients, ack, fills)
        await _check_books(clients)
        await _check_ids_continue(clients, ack)
    finally:
        await close_all(clients)


async def _check_orders(clients: dict[str, Client], ack: Acknowledged) -> None:
    by_user: dict[str, list[int]] = defaultdict(list)
    for oid, observed in ack.orders.items():
        by_user[observed[0]["user"]].append(oid)
    for user, oids in by_user.items():
        client = clients[user]
        replies = await client.gather([client.send("status", order_id=oid) for oid in oids])
        for oid, reply in zip(oids, replies, strict=True):
            assert reply["type"] == "order", (oid, reply)
            now = reply["order"]
            for seen in ack.orders[oid]:
                for key in IDENTITY:
                    assert now[key] == seen[key], (key, seen, now)
                assert Decimal(now["filled_qty"]) >= Decimal(seen["filled_qty"]), (seen, now)
            last = _last(ack.orders[oid])
            if last["status"] not in LIVE:
                assert now == last, f"acknowledged {last}\nrecovered {now}"
    for user, client in clients.items():
        everything = (await client.call("orders", status="all"))["orders"]
        by_id = {o["order_id"]: o for o in everything}
        for oid in ack.canceled:
            if oid in by_id:
                assert by_id[oid]["status"] == "canceled", by_id[oid]
        unseen = [o for o in everything if o["order_id"] not in ack.orders]
        assert len(unseen) <= ack.unanswered_places[user], (user, unseen)


async def _check_fills(clients: dict[str, Client],
                       ack: Acknowledged) -> dict[str, list[Msg]]:
    recovered: dict[str, list[Msg]] = {}
    for user, client in clients.items():
        recovered[user] = (await client.call("fills", limit=10_000))["fills"]
    keyed = {(f["trade_id"], f["order_id"], f["side"]): (user, f)
             for user, fills in recovered.items() for f in fills}
    for key, (user, fill) in ack.fills.items():
        assert key in keyed, f"acknowledged fill lost: {fill}"
        assert keyed[key] == (user, fill), (keyed[key], fill)
    client = next(iter(clients.values()))
    tape: dict[int, Msg] = {}
    for symbol in DEMO_SYMBOLS:
        for trade in (await client.call("trades", symbol=symbol, limit=10_000))["trades"]:
            tape[trade["trade_id"]] = trade
    for _, fill in ack.fills.values():
        trade = {k: v for k, v in fill.items() if k not in ("order_id", "side", "liquidity", "fee")}
        assert tape.get(fill["trade_id"]) == trade, (tape.get(fill["trade_id"]), trade)
    # Every recovered trade is in both parties' fills, and the other way round.
    assert {k[0] for k in keyed} == set(tape)
    return recovered


async def _check_accounts(clients: dict[str, Client], ack: Acknowledged,
                          fills: dict[str, list[Msg]]) -> None:
    for user, client in clients.items():
        balance, portfolio, live = await client.gather([
            client.send("balance"), client.send("portfolio"), client.send("orders")])
        traded = Decimal(0)
        lots = dict(DEMO_HOLDINGS)
        for fill in fills[user]:
            value = Decimal(fill["price"]) * Decimal(fill["qty"])
            sign = 1 if fill["side"] == "buy" else -1
            traded -= sign * value
            lots[fill["symbol"]] += sign * Decimal(fill["qty"])
        cash = Decimal(balance["cash"])
        # Acknowledged cash operations all happened; of the unanswered ones, each session
        # ran a prefix (the server runs a session's account requests in order).
        extra = cash - DEMO_CASH - traded - ack.cash[user]
        prefixes = [Decimal(0)]
        for amount in ack.unanswered_cash[user]:
            prefixes.append(prefixes[-1] + amount)
        assert extra in prefixes, (user, cash, extra, prefixes)
        reserved = sum((Decimal(o["leaves_qty"]) * Decimal(o["price"])
                        for o in live["orders"]
                        if o["side"] == "buy" and o["price"] is not None), Decimal(0))
        assert Decimal(balance["reserved"]) == reserved, (user, balance, reserved)
        assert Decimal(balance["available"]) == cash - reserved
        assert Decimal(portfolio["cash"]) == cash
        held = {p["symbol"]: p for p in portfolio["positions"]}
        for symbol, qty in lots.items():
            assert Decimal(held[symbol]["qty"]) == qty, (user, symbol, held[symbol], qty)
            selling = sum((Decimal(o["leaves_qty"]) for o in live["orders"]
                           if o["side"] == "sell" and o["symbol"] == symbol), Decimal(0))
            assert Decimal(held[symbol]["available"]) == qty - selling, (user, symbol)


async def _check_books(clients: dict[str, Client]) -> None:
    resting: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for client in clients.values():
        for o in (await client.call("orders"))["orders"]:
            if o["status"] in ("accepted", "partially_filled") and o["price"] is not None:
                resting[(o["symbol"], o["side"], o["price"])] += Decimal(o["leaves_qty"])
    client = next(iter(clients.values()))
    for symbol in DEMO_SYMBOLS:
        book = await client.call("book", symbol=symbol, depth=10_000)
        shown = {(symbol, side, price): Decimal(qty)
                 for side, rows in (("buy", book["bids"]), ("sell", book["asks"]))
                 for price, qty in rows}
        expected = {k: v for k, v in resting.items() if k[0] == symbol}
        assert shown == expected, (symbol, book)


async def _check_ids_continue(clients: dict[str, Client], ack: Acknowledged) -> None:
    admin = await Client.connect(next(iter(clients.values())).writer.get_extra_info(
        "peername")[:2], "admin")
    # The kill may have come between a close and an open, or a halt and a resume.
    assert (await admin.call("open_market"))["type"] == "market_opened"
    assert (await admin.call("resume_trading", symbol="TSLA"))["type"] == "trading_resumed"
    await admin.close()
    top_order = max([0, *ack.orders])
    top_trade = max([0, *(k[0] for k in ack.fills)])
    for client in clients.values():
        for o in (await client.call("orders", status="all"))["orders"]:
            top_order = max(top_order, o["order_id"])
        for f in (await client.call("fills", limit=10_000))["fills"]:
            top_trade = max(top_trade, f["trade_id"])
    alice, bob = clients["alice"], clients["bob"]
    sell = await alice.call("place", symbol="TSLA", side="sell", qty="1", price="251.00")
    buy = await bob.call("place", symbol="TSLA", side="buy", qty="1", price="300.00",
                         tif="ioc")
    assert sell["type"] == buy["type"] == "accepted", (sell, buy)
    assert sell["order"]["order_id"] == top_order + 1
    assert buy["order"]["order_id"] == top_order + 2
    # The sell traded with a bid at once, or the buy traded with it (or a better ask).
    fills = sell["fills"] + buy["fills"]
    assert fills, (sell, buy)
    assert min(f["trade_id"] for f in fills) == top_trade + 1, (top_trade, fills)


# -- the test ----------------------------------------------------------------------------------

CASES = [
    # (seed, requests sent before the kill, wait for every reply first?, and an orderly
    # restart halfway, so that recovery is a snapshot plus the journal after it?)
    (1, 150, True, False),
    (2, 400, True, False),
    (3, 60, False, False),
    (4, 220, False, False),
    (5, 330, False, False),
    (6, 400, False, False),
    (7, 300, False, True),
    (8, 240, True, True),
]


@pytest.mark.parametrize(("seed", "kill_at", "quiet", "midway"), CASES,
                         ids=[f"seed{s}-{n}-{'quiet' if q else 'inflight'}"
                              f"{'-snapshot' if m else ''}" for s, n, q, m in CASES])
async def test_kill9_under_load_keeps_what_was_acknowledged(
        tmp_path: Path, seed: int, kill_at: int, quiet: bool, midway: bool) -> None:
    data = tmp_path / "data"
    server = ServerProcess(data, tmp_path / "server.log")
    ack = Acknowledged()
    try:
        addr = await server.start()
        if midway:
            clients = await connect_all(addr)
            admin = await Client.connect(addr, "admin")
            traders = await run_load(clients, seed + 1000, kill_at // 2, admin, tag="m")
            await settle(traders)
            for t in traders:
                await t.client.close()
                ack.learn(t.client, t.client.sent)
            await server.terminate()
            addr = await server.start()
        clients = await connect_all(addr)
        admin = await Client.connect(addr, "admin")
        traders = await run_load(clients, seed, kill_at, admin)
        before = None
        if quiet:
            await settle(traders)
            before = await dump_state(addr)
        else:
            rng = random.Random(-seed)
            await final_burst(traders, rng)
            await asyncio.sleep(rng.choice((0.0, 0.0005, 0.001, 0.002)))
        await server.kill9()
        await asyncio.sleep(0)  # let the readers see the connections drop
        for t in traders:
            await t.client.close()
            ack.learn(t.client, t.client.sent)
        if quiet:
            assert ack.unanswered == 0
        assert ack.orders, "the load placed nothing"

        addr = await server.start()
        if before is None:
            # Orders with a short ttl may still have been live at the kill: the recovered
            # server expires them by timer. Let that happen before the checks, which read
            # each user's orders and then the books, one after the other.
            loop = asyncio.get_running_loop()
            until = max(t.short_ttl_until for t in traders)
            if until > loop.time():
                await asyncio.sleep(until - loop.time() + 0.1)
        if before is not None:
            after = await dump_state(addr)
            assert after == before, "\n".join(state_diff(before, after))
        await check_recovered(addr, ack)
        await server.terminate()
    finally:
        await server.stop_if_running()
