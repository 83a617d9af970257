"""A demo market maker: keeps a live two-sided book on every symbol, so that someone who
connects with `nc` has something to trade against.

    python scripts/market_maker.py                  # every listed symbol, as user mm
    python scripts/market_maker.py --symbols AAPL,BTC-USD --interval 0.5 --duration 60

For each symbol it quotes `--levels` bids and asks around a mid that takes a random walk
(`--vol-bps` per interval, pulled back toward the last trade), `--spread-bps` wide at the
top and `--step-bps` apart, each level worth about `--notional` in cash. Quotes follow the
mid by `modify` (a new price; a larger total when a quote is mostly filled). When one of
its orders trades (its own `fill` events) it re-quotes that symbol at once, leaning the mid
away from the side that was hit. Prices stay inside the symbol's price band around the last
trade (the demo market's bands are known; elsewhere a `price_band` refusal re-centres the
mid on the last trade).

It starts with `cancel_all` (clearing what an earlier run left), prints one line when its
first quotes are up, runs until `--duration` is over or Ctrl-C / SIGTERM, cancels its
orders (unless `--leave-quotes`), and prints a one-line summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import random
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from _common import DEFAULT_HOST, DEFAULT_PORT, DEMO_BAND, DEMO_REFERENCE, Spec, parse_list, run

from client import (
    Accepted,
    BadRequestError,
    Canceled,
    Client,
    ConnectionClosed,
    ExchangeError,
    Expired,
    Fill,
    FillEvent,
    Modified,
    NotLiveError,
    Order,
    QuoteReply,
    Rejected,
    ServerError,
    UnknownOrderError,
)

LIVE = frozenset({"accepted", "partially_filled", "paused", "pending"})
BAND_MARGIN = Decimal("0.9")  # quote within 90% of the band, leaving room for its centre to move
FILL_NUDGE_BPS = 2.0  # the mid moves this far away from the side that was hit


@dataclass
class Quote:
    """One resting order of the ladder: prices in ticks, quantities in lots."""

    order_id: int
    price: int
    qty: int
    filled: int

    @property
    def leaves(self) -> int:
        return self.qty - self.filled


@dataclass
class Params:
    levels: int = 3
    spread_bps: float = 10.0
    step_bps: float = 5.0
    vol_bps: float = 5.0
    notional: Decimal = Decimal(5000)
    interval: float = 1.0
    reversion: float = 0.05


@dataclass
class Totals:
    placed: int = 0
    modified: int = 0
    fills: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)


class SymbolMaker:
    """The ladder of one symbol and the task that keeps it up to date."""

    def __init__(self, client: Client, spec: Spec, mid: int, band: Decimal | None,
                 params: Params, rng: random.Random, totals: Totals) -> None:
        self.client = client
        self.spec = spec
        self.mid = mid
        self.anchor = mid  # the last trade (else the starting mid): the band's centre
        self.band = band
        self.params = params
        self.rng = rng
        self.totals = totals
        self.quotes: dict[tuple[str, int], Quote] = {}
        self.keys: dict[int, tuple[str, int]] = {}  # order_id -> ladder slot
        self.position = 0  # lots bought minus lots sold
        self.wake = asyncio.Event()

    # -- prices ---------------------------------------------------------------------------

    def _bps(self, bps: float) -> int:
        return max(1, round(self.mid * bps / 10_000))

    def limits(self) -> tuple[int, int]:
        """The lowest and highest price (ticks) worth quoting: inside the band, if any."""
        if self.band is None:
            return 1, 2**62
        width = self.anchor * self.band * BAND_MARGIN
        return max(1, math.ceil(self.anchor - width)), math.floor(self.anchor + width)

    def step(self) -> None:
        """One interval of the random walk, pulled toward the last trade."""
        p = self.params
        drift = self.rng.gauss(0.0, self.mid * p.vol_bps / 10_000)
        drift += p.reversion * (self.anchor - self.mid)
        lo, hi = self.limits()
        half = self._bps(p.spread_bps / 2)
        self.mid = min(hi - half, max(lo + half, self.mid + round(drift)))

    def ladder(self) -> list[tuple[str, int, int]]:
        """(side, level, price) of every quote wanted, best levels first."""
        p = self.params
        half, gap = self._bps(p.spread_bps / 2), self._bps(p.step_bps)
        lo, hi = self.limits()
        out = []
        for level in range(p.levels):
            bid, ask = self.mid - half - level * gap, self.mid + half + level * gap
            if lo <= bid:
                out.append(("buy", level, bid))
            if ask <= hi:
                out.append(("sell", level, ask))
        return out

    def lots(self, price: int) -> int:
        """About `notional` worth, give or take half."""
        value = self.params.notional * Decimal(self.rng.uniform(0.5, 1.5))
        return max(1, int(value / (self.spec.tick * price * self.spec.lot)))

    # -- requests -------------------------------------------------------------------------

    async def requote(self, moved_up: bool) -> None:
        """Bring the ladder to the current mid. The side the mid moves toward goes first,
        so a bid never overtakes one of our own asks on the way."""
        wanted = self.ladder()
        first = "sell" if moved_up else "buy"
        wanted.sort(key=lambda w: (w[0] != first, w[1]))
        keep = {(side, level) for side, level, _ in wanted}
        jobs = [self._cancel(key) for key in list(self.quotes) if key not in keep]
        for side, level, price in wanted:
            quote = self.quotes.get((side, level))
            if quote is None:
                jobs.append(self._place(side, level, price))
                continue
            target = self.lots(price)
            if quote.price != price or quote.leaves * 2 < target:
                qty = quote.filled + target if quote.leaves * 2 < target else None
                jobs.append(self._modify((side, level), quote, price, qty))
        if jobs:
            await asyncio.gather(*jobs)

    async def _place(self, side: str, level: int, price: int) -> None:
        spec = self.spec
        try:
            reply = await self.client.place(spec.symbol, side,  # type: ignore[arg-type]
                                            spec.qty(self.lots(price)), spec.price(price),
                                            stp="cancel_newest")
        except ServerError as exc:
            self.totals.errors[exc.code] += 1
            return
        if isinstance(reply, Rejected):
            reason = reply.order.reason or "?"
            self.totals.rejected[reason] += 1
            if reason == "price_band":
                await self.recentre()
            return
        self.totals.placed += 1
        assert isinstance(reply, Accepted)
        self._fills(side, reply.fills)
        self._track((side, level), reply.order)

    async def _modify(self, key: tuple[str, int], quote: Quote, price: int,
                      qty: int | None) -> None:
        spec = self.spec
        try:
            reply = await self.client.modify(
                quote.order_id, price=spec.price(price),
                qty=None if qty is None else spec.qty(qty))
        except (NotLiveError, UnknownOrderError):
            self._forget(quote.order_id)  # filled meanwhile: placed afresh next time
            return
        except BadRequestError as exc:
            self.totals.errors[exc.code] += 1
            await self.recentre()  # a new price outside the band is a bad request
            return
        except ServerError as exc:
            self.totals.errors[exc.code] += 1
            return
        assert isinstance(reply, Modified)
        self.totals.modified += 1
        self._fills(key[0], reply.fills)
        self._track(key, reply.order)

    async def _cancel(self, key: tuple[str, int]) -> None:
        quote = self.quotes.get(key)
        if quote is None:
            return
        with contextlib.suppress(ServerError):
            await self.client.cancel(quote.order_id)
        self._forget(quote.order_id)

    async def recentre(self) -> None:
        """Move the mid (and the band's centre) to the last trade, as the server sees it."""
        try:
            quote = await self.client.quote(self.spec.symbol)
        except ExchangeError:
            return
        self.on_quote(quote)
        self.mid = self.anchor

    # -- what the server tells ------------------------------------------------------------

    def _track(self, key: tuple[str, int], order: Order) -> None:
        old = self.quotes.get(key)
        if old is not None and old.order_id != order.order_id:
            self.keys.pop(old.order_id, None)
        if order.status in LIVE:
            self.quotes[key] = Quote(order.order_id, self.spec.to_ticks(order.price or "0"),
                                     self.spec.to_lots(order.qty),
                                     self.spec.to_lots(order.filled_qty))
            self.keys[order.order_id] = key
        else:
            self._forget(order.order_id)
            self.quotes.pop(key, None)

    def _forget(self, order_id: int) -> None:
        key = self.keys.pop(order_id, None)
        if key is not None and (q := self.quotes.get(key)) and q.order_id == order_id:
            del self.quotes[key]

    def _fills(self, side: str, fills: list[Fill]) -> None:
        for fill in fills:
            lots = self.spec.to_lots(fill.qty)
            self.position += lots if side == "buy" else -lots
            self.totals.fills += 1

    def on_fill(self, event: FillEvent) -> None:
        order = event.order
        key = self.keys.get(order.order_id)
        self._fills(order.side, [event.fill])
        if key is not None:
            self._track(key, order)
        # Hit on the bid: someone sells, so lean lower; lifted on the ask: lean higher.
        nudge = self._bps(FILL_NUDGE_BPS)
        self.mid += -nudge if order.side == "buy" else nudge
        lo, hi = self.limits()
        self.mid = min(hi, max(lo, self.mid))
        self.wake.set()

    def on_gone(self, order: Order) -> None:
        self._forget(order.order_id)
        self.wake.set()

    def on_quote(self, quote: QuoteReply) -> None:
        if quote.last is not None:
            self.anchor = self.spec.to_ticks(quote.last)

    # -- the task -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        interval = self.params.interval
        loop = asyncio.get_running_loop()
        next_step = loop.time() + interval * self.rng.uniform(0.5, 1.0)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(next_step):
                    await self.wake.wait()
            if stop.is_set():
                return
            self.wake.clear()
            before = self.mid
            if loop.time() >= next_step:
                self.step()
                next_step = loop.time() + interval * self.rng.uniform(0.8, 1.2)
            await self.requote(self.mid >= before)


async def consume_events(client: Client, makers: dict[str, SymbolMaker]) -> None:
    async for event in client.events():
        if isinstance(event, FillEvent):
            maker = makers.get(event.order.symbol)
            if maker is not None:
                maker.on_fill(event)
        elif isinstance(event, Canceled | Expired):
            maker = makers.get(event.order.symbol)
            if maker is not None:
                maker.on_gone(event.order)
        elif isinstance(event, QuoteReply):
            maker = makers.get(event.symbol)
            if maker is not None:
                maker.on_quote(event)


async def starting_mid(client: Client, spec: Spec) -> int:
    """The middle of the book, else the last trade, else the demo reference (else 100)."""
    quote = await client.quote(spec.symbol)
    if quote.bid is not None and quote.ask is not None:
        return spec.to_ticks((Decimal(quote.bid) + Decimal(quote.ask)) / 2)
    if quote.last is not None:
        return spec.to_ticks(quote.last)
    return spec.to_ticks(DEMO_REFERENCE.get(spec.symbol, Decimal(100)))


async def make_markets(args: argparse.Namespace) -> int:
    started = time.monotonic()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    params = Params(levels=args.levels, spread_bps=args.spread_bps, step_bps=args.step_bps,
                    vol_bps=args.vol_bps, notional=Decimal(args.notional),
                    interval=args.interval)
    totals = Totals()
    rng = random.Random(args.seed)
    try:
        client = await Client.connect(args.host, args.port, user=args.user, token=args.token)
    except ExchangeError as exc:
        print(f"market_maker: {exc}", file=sys.stderr)
        return 2
    makers: dict[str, SymbolMaker] = {}
    status = 0
    try:
        listed = {s.symbol: s for s in (await client.symbols()).symbols}
        names = parse_list(args.symbols) if args.symbols else list(listed)
        unknown = [n for n in names if n not in listed]
        if unknown:
            print(f"market_maker: unknown symbol(s) {', '.join(unknown)}", file=sys.stderr)
            return 2
        await client.cancel_all()
        for name in names:
            info = listed[name]
            spec = Spec(name, Decimal(info.tick_size), Decimal(info.lot_size))
            band = DEMO_BAND.get(name) if args.band is None else Decimal(args.band) or None
            maker = SymbolMaker(client, spec, await starting_mid(client, spec), band, params,
                                random.Random(rng.random()), totals)
            makers[name] = maker
            await client.subscribe("quote", name)
        events = asyncio.create_task(consume_events(client, makers))
        await asyncio.gather(*(m.requote(True) for m in makers.values()))
        print(f"market_maker: quoting {', '.join(makers)} as {args.user} on "
              f"{args.host}:{args.port}", flush=True)
        if args.duration is not None:
            loop.call_later(args.duration, stop.set)
        tasks = [asyncio.create_task(m.run(stop)) for m in makers.values()]
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait([*tasks, events, waiter], return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        for task in [*tasks, waiter]:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        failures = [r for r in results
                    if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)]
        if events.done():
            if events.exception() is not None:
                failures.append(events.exception())  # type: ignore[arg-type]
        else:
            events.cancel()
        if failures:
            raise failures[0]
        if not args.leave_quotes:
            await client.cancel_all()
    except ConnectionClosed as exc:
        print(f"market_maker: {exc}", file=sys.stderr)
        status = 1
    finally:
        await client.close()
        print(summary(makers, totals, time.monotonic() - started), flush=True)
    return status


def summary(makers: dict[str, SymbolMaker], totals: Totals, elapsed: float) -> str:
    positions = ", ".join(f"{name} {m.spec.lot * m.position:+f}"
                          for name, m in makers.items() if m.position)
    parts = [f"market_maker: {elapsed:.1f} s on {len(makers)} symbol(s)",
             f"{totals.placed} placed", f"{totals.modified} modified", f"{totals.fills} fills"]
    if positions:
        parts.append(f"net {positions}")
    if totals.rejected:
        parts.append("rejected " + ", ".join(f"{k} {v}" for k, v in totals.rejected.items()))
    if totals.errors:
        parts.append("errors " + ", ".join(f"{k} {v}" for k, v in totals.errors.items()))
    return "; ".join(parts)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="market_maker", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--host", default=DEFAULT_HOST)
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--user", default="mm")
    p.add_argument("--token", help="default: <user>-token")
    p.add_argument("--symbols", help="comma-separated (default: every symbol listed)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--interval", type=float, default=1.0,
                   help="seconds between steps of the mid (and re-quotes)")
    p.add_argument("--duration", type=float, help="seconds to run (default: until Ctrl-C)")
    p.add_argument("--levels", type=int, default=3, help="quotes per side")
    p.add_argument("--spread-bps", type=float, default=10.0, help="top-of-book spread")
    p.add_argument("--step-bps", type=float, default=5.0, help="gap between levels")
    p.add_argument("--vol-bps", type=float, default=5.0, help="mid volatility per interval")
    p.add_argument("--notional", default="5000", help="cash value of one quote, roughly")
    p.add_argument("--band", help="price band for every symbol, as a fraction (0: none; "
                                  "default: the demo market's bands)")
    p.add_argument("--leave-quotes", action="store_true", help="do not cancel at exit")
    args = p.parse_args(argv)
    if args.token is None:
        args.token = f"{args.user}-token"
    if args.interval <= 0 or args.levels < 1:
        p.error("--interval must be positive and --levels at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(make_markets(args))
    except KeyboardInterrupt:  # a second Ctrl-C during the clean-up
        return 130


if __name__ == "__main__":
    sys.exit(main())
