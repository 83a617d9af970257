"""A live terminal view of one symbol: the book ladder, the quote and the last trades.

    python scripts/watch.py AAPL [--host 127.0.0.1] [--port 7878] [--depth 10]

It subscribes to the symbol's `book`, `trades` and `quote` streams. The `book` stream opens
with a full snapshot; each `book_update` then carries the changed levels (a quantity of
"0" removes a level) and a `seq` one higher than the last. An update that skips a `seq`
means something was lost, so the view drops its book and subscribes again, which brings a
fresh snapshot. Ctrl-C quits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from _common import DEFAULT_HOST, DEFAULT_PORT, run

try:
    from rich.console import Group, RenderableType
    from rich.live import Live
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text
except ImportError as exc:  # the tools extra is not installed: say exactly what to do
    sys.exit(f"exchange watch needs the tools extra ({exc.name} is missing): "
             "pip install -e '.[tools]'")

from client import (
    BookReply,
    BookUpdate,
    Client,
    ConnectionClosed,
    ExchangeError,
    QuoteReply,
    Trade,
    TradeEvent,
)


@dataclass
class WatchState:
    """What the view shows, built from the streams; `render` draws it."""

    symbol: str
    depth: int = 10
    max_trades: int = 15
    bids: dict[Decimal, str] = field(default_factory=dict)
    asks: dict[Decimal, str] = field(default_factory=dict)
    seq: int | None = None  # None: no snapshot yet (or waiting for a new one)
    quote: QuoteReply | None = None
    trades: deque[Trade] = field(default_factory=deque)
    resyncs: int = 0
    status: str = "waiting for the book"
    dirty: bool = False

    def on_snapshot(self, book: BookReply) -> None:
        self.bids = {Decimal(p): q for p, q in book.bids}
        self.asks = {Decimal(p): q for p, q in book.asks}
        self.seq = book.seq
        self.status = "live"

    def on_update(self, update: BookUpdate) -> bool:
        """Apply one update. False when a `seq` is missing: the book needs a new snapshot
        (it is cleared until then)."""
        if self.seq is None:
            return True  # waiting for the snapshot; it covers this update
        if update.seq <= self.seq:
            return True  # already in the snapshot
        if update.seq != self.seq + 1:
            self.seq = None
            self.bids.clear()
            self.asks.clear()
            self.resyncs += 1
            self.status = f"gap at seq {update.seq}: resubscribing"
            return False
        for side, levels in ((self.bids, update.bids), (self.asks, update.asks)):
            for price, qty in levels:
                if Decimal(qty) == 0:
                    side.pop(Decimal(price), None)
                else:
                    side[Decimal(price)] = qty
        self.seq = update.seq
        return True

    def on_trade(self, trade: Trade) -> None:
        self.trades.append(trade)
        while len(self.trades) > self.max_trades:
            self.trades.popleft()

    def on_quote(self, quote: QuoteReply) -> None:
        self.quote = quote


def _time(ts: str) -> str:
    """`2026-11-22T09:30:00.000123Z` -> `09:30:00.000`."""
    _, _, clock = ts.partition("T")
    return clock[:12] or ts


def render(state: WatchState) -> RenderableType:
    """The whole view: ladder on the left, quote and trades on the right."""
    ladder = Table(title="book", expand=True, show_edge=False, pad_edge=False)
    ladder.add_column("bid qty", justify="right", style="green")
    ladder.add_column("price", justify="right")
    ladder.add_column("ask qty", justify="right", style="red")
    asks = sorted(state.asks)[: state.depth]
    bids = sorted(state.bids, reverse=True)[: state.depth]
    for price in reversed(asks):
        ladder.add_row("", Text(str(price), style="red"), state.asks[price])
    if asks and bids:
        spread = asks[0] - bids[0]
        ladder.add_row("", Text(f"spread {spread}", style="dim"), "", end_section=True)
    elif not asks and not bids:
        ladder.add_row("", Text("(empty)" if state.seq is not None else "...", style="dim"), "")
    for price in bids:
        ladder.add_row(state.bids[price], Text(str(price), style="green"), "")

    q = state.quote
    quote = Table.grid(padding=(0, 2))
    quote.add_column(style="bold")
    quote.add_column(justify="right")
    quote.add_column(style="bold")
    quote.add_column(justify="right")

    def show(value: str | None) -> str:
        return "-" if value is None else value

    if q is not None:
        quote.add_row("last", show(q.last), "volume", q.volume)
        quote.add_row("open", show(q.open), "high", show(q.high))
        quote.add_row("low", show(q.low), "", "")
        quote.add_row("bid", f"{show(q.bid_qty)} @ {show(q.bid)}",
                      "ask", f"{show(q.ask_qty)} @ {show(q.ask)}")
    else:
        quote.add_row("no quote yet", "", "", "")

    tape = Table(title="trades", expand=True, show_edge=False, pad_edge=False)
    tape.add_column("time")
    tape.add_column("price", justify="right")
    tape.add_column("qty", justify="right")
    tape.add_column("taker")
    for trade in reversed(state.trades):
        colour = "green" if trade.taker_side == "buy" else "red"
        tape.add_row(_time(trade.ts), Text(trade.price, style=colour), trade.qty,
                     Text(trade.taker_side, style=colour))
    if not state.trades:
        tape.add_row("(none yet)", "", "", "")

    body = Table.grid(expand=True, padding=(0, 2))
    body.add_column(ratio=1)
    body.add_column(ratio=1)
    body.add_row(ladder, Group(Panel(quote, title="quote"), tape))
    seq = "-" if state.seq is None else str(state.seq)
    footer = Text(f"{state.status}   seq {seq}   resyncs {state.resyncs}   Ctrl-C quits",
                  style="dim")
    return Panel(Group(body, footer), title=f"[bold]{state.symbol}[/bold]")


async def watch(args: argparse.Namespace) -> int:
    symbol = args.symbol.upper()
    state = WatchState(symbol, depth=args.depth, max_trades=args.trades)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        client = await Client.connect(args.host, args.port)
    except ExchangeError as exc:
        print(f"watch: {exc}", file=sys.stderr)
        return 2
    status = 0
    try:
        try:
            state.on_quote(await client.quote(symbol))
        except ExchangeError as exc:
            print(f"watch: {exc}", file=sys.stderr)
            return 2
        for trade in (await client.trades(symbol, args.trades)).trades:
            state.on_trade(trade)
        for channel in ("book", "trades", "quote"):
            await client.subscribe(channel, symbol)  # type: ignore[arg-type]
        with Live(render(state), auto_refresh=False, screen=args.screen,
                  redirect_stderr=False) as live:
            reading = asyncio.create_task(follow(client, state, live))
            waiter = asyncio.create_task(stop.wait())
            await asyncio.wait([reading, waiter], return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading
    except ConnectionClosed as exc:
        print(f"watch: {exc}", file=sys.stderr)
        status = 1
    finally:
        await client.close()
    return status


async def follow(client: Client, state: WatchState, live: Live) -> None:
    """Apply stream messages as they come, and redraw at most `FPS` times a second."""
    drawing = asyncio.create_task(redraw(state, live))
    try:
        async for event in client.events():
            if isinstance(event, BookReply):
                state.on_snapshot(event)
            elif isinstance(event, BookUpdate):
                if not state.on_update(event):
                    await client.unsubscribe("book", state.symbol)
                    await client.subscribe("book", state.symbol)
            elif isinstance(event, TradeEvent):
                state.on_trade(event.trade)
            elif isinstance(event, QuoteReply):
                state.on_quote(event)
            state.dirty = True
    finally:
        drawing.cancel()


async def redraw(state: WatchState, live: Live) -> None:
    while True:
        await asyncio.sleep(1 / FPS)
        if state.dirty:
            state.dirty = False
            live.update(render(state), refresh=True)


FPS = 20


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="watch", description="Live view of one symbol's market.")
    p.add_argument("symbol")
    p.add_argument("--host", default=DEFAULT_HOST)
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--depth", type=int, default=10, help="levels shown on each side")
    p.add_argument("--trades", type=int, default=15, help="trades shown")
    p.add_argument("--screen", action="store_true", help="use the alternate screen")
    args = p.parse_args(argv)
    try:
        return run(watch(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
