"""Pushed events and streams against the real server."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from client import (
    Accepted,
    AlertEvent,
    BookReply,
    BookUpdate,
    Canceled,
    Client,
    Event,
    FillEvent,
    QuoteReply,
    Stream,
    TradeEvent,
)
from tests.client.conftest import ServerProcess, connect

WAIT = 10.0


async def next_of(source: Client | Stream, kind: type[Event]) -> Event:
    """The next event of `kind` (others are skipped), within WAIT seconds."""
    events = source.events() if isinstance(source, Client) else source
    async with asyncio.timeout(WAIT):
        async for event in events:
            if isinstance(event, kind):
                return event
    raise AssertionError("the events ended")


async def test_fill_caused_by_another_client(alice: Client, bob: Client, symbol: str) -> None:
    reply = await alice.place(symbol, "sell", 3, "50.00")
    assert isinstance(reply, Accepted)
    order_id = reply.order.order_id
    await bob.place(symbol, "buy", 2, "50.00")
    event = await next_of(alice, FillEvent)
    assert isinstance(event, FillEvent)
    assert event.order.order_id == order_id and event.order.status == "partially_filled"
    assert (event.fill.price, event.fill.qty, event.fill.liquidity) == ("50.00", "2", "maker")
    assert alice.dropped_events == 0
    await alice.cancel_all(symbol)


async def test_cancel_from_another_session_is_pushed(
    server: ServerProcess, alice: Client, symbol: str
) -> None:
    reply = await alice.place(symbol, "buy", 1, "10.00")
    assert isinstance(reply, Accepted)
    async with connect(server, "alice") as other:
        await other.cancel(reply.order.order_id)
    event = await next_of(alice, Canceled)
    assert isinstance(event, Canceled) and event.ref is None
    assert event.order.order_id == reply.order.order_id


async def test_trades_stream(alice: Client, bob: Client, symbol: str) -> None:
    async with alice.stream("trades", symbol) as trades:
        await bob.place(symbol, "sell", 1, "30.00")
        await bob.place(symbol, "buy", 1, "30.00")
        event = await next_of(trades, TradeEvent)
        assert isinstance(event, TradeEvent)
        assert (event.trade.symbol, event.trade.price, event.trade.taker_side) == (
            symbol,
            "30.00",
            "buy",
        )


async def test_book_stream_snapshot_then_updates_with_seq(
    alice: Client, bob: Client, symbol: str
) -> None:
    await bob.place(symbol, "buy", 5, "20.00")
    async with alice.stream("book", symbol) as book:
        snapshot = await next_of(book, BookReply)
        assert isinstance(snapshot, BookReply) and snapshot.ref is None
        assert snapshot.bids == [("20.00", "5")]
        seq = snapshot.seq
        await bob.place(symbol, "buy", 2, "20.00")
        await bob.place(symbol, "sell", 1, "21.00")
        await bob.cancel_all(symbol)
        levels: dict[str, dict[str, str]] = {"bids": {"20.00": "5"}, "asks": {}}
        seen = [levels["bids"].copy()]
        while levels["bids"] or levels["asks"] or len(seen) < 3:
            update = await next_of(book, BookUpdate)
            assert isinstance(update, BookUpdate) and update.symbol == symbol
            assert update.seq == seq + 1, "seq rises by one per change of the book"
            seq = update.seq
            for side, changes in (("bids", update.bids), ("asks", update.asks)):
                for price, qty in changes:
                    if Decimal(qty) == 0:
                        levels[side].pop(price)
                    else:
                        levels[side][price] = qty
            seen.append({**levels["bids"], **levels["asks"]})
        # 20.00 grows to 7, an ask at 21.00 appears, then cancel_all empties the book.
        assert seen[:3] == [{"20.00": "5"}, {"20.00": "7"}, {"20.00": "7", "21.00": "1"}]
        assert levels == {"bids": {}, "asks": {}}
    assert book.closed


async def test_quote_stream(alice: Client, bob: Client, symbol: str) -> None:
    async with alice.stream("quote", symbol) as quotes:
        await bob.place(symbol, "buy", 4, "40.00")
        async with asyncio.timeout(WAIT):
            async for event in quotes:
                assert isinstance(event, QuoteReply) and event.symbol == symbol
                if event.bid == "40.00":
                    assert event.bid_qty == "4"
                    break
    await bob.cancel_all(symbol)


async def test_stream_messages_also_reach_events(alice: Client, bob: Client, symbol: str) -> None:
    async with alice.stream("trades", symbol):
        await bob.place(symbol, "sell", 1, "30.00")
        await bob.place(symbol, "buy", 1, "30.00")
        event = await next_of(alice, TradeEvent)
        assert isinstance(event, TradeEvent) and event.trade.symbol == symbol


async def test_alert_event(alice: Client, bob: Client, symbol: str) -> None:
    alert = await alice.alert(symbol, above="60.00")
    await bob.place(symbol, "sell", 1, "61.00")
    await bob.place(symbol, "buy", 1, "61.00")
    event = await next_of(alice, AlertEvent)
    assert isinstance(event, AlertEvent)
    assert (event.alert_id, event.symbol, event.last) == (alert.alert_id, symbol, "61.00")
