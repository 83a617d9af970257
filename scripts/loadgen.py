"""Load generator: drives a seeded order flow through several sessions and reports
throughput and latency.

    python scripts/loadgen.py                         # spawn a server, 100k orders, 4 sessions
    python scripts/loadgen.py --orders 200000 --window 64 --json out.json --plot out.png
    python scripts/loadgen.py --rate 2000 --duration 10 --sessions 1   # open loop
    python scripts/loadgen.py --port 7878             # against a running server

Without `--port` (or with `--spawn`) it starts its own server (`python -m exchange serve
--port 0`, with `--data-dir`/`--config` passed through), waits for its `listening on` line
and stops it with SIGTERM at the end.

Flow, per session (seeded by `--seed` and the session number): resting limit orders a few
ticks off the mid, limit orders crossing the mid by a few ticks, cancels and price modifies of
the session's own live orders. Quantities are a few lots. Each session leans its buys and
sells against its own net position (tracked from its fills), and keeps at most `--max-live`
orders live, so a long run neither empties an account nor piles up reservations. Prices stay
within 1% of the starting mid, well inside the demo market's price bands.

Modes:
- closed loop (default): `--window N` requests in flight per session, each reply making room
  for the next, as fast as the server answers; latency is from write to reply.
- open loop (`--rate R`): R requests per second in all, each sent at its scheduled time;
  latency is measured from the *scheduled* time, so a stalled server shows up in the
  percentiles instead of silently slowing the schedule (no coordinated omission).

Every request counts as an order (place, cancel or modify). The run stops after `--orders`
requests or `--duration` seconds, then waits for the replies still owed.

Requests are msgspec Structs from `protocol.messages`, encoded with `protocol.codec` into
one buffer written once per read from the socket. Replies are decoded with a narrow Struct
that reads only `type`, `ref`, the order's id, status and reason, the fills' quantities and
the error code (msgspec skips the rest without building it).

Exit status: 0 on success, 2 when the server cannot be reached or started, 1 when nothing
was accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import math
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import msgspec
from _common import (
    DEFAULT_HOST,
    DEMO_REFERENCE,
    DEMO_USERS,
    FALLBACK_MID,
    ServerError,
    SpawnedServer,
    Spec,
    parse_list,
    parse_users,
    run,
)

try:
    from _loadgen_report import Stats, plot, print_summary, summary
    from rich.console import Console  # noqa: F401  (checked here, used by the progress view)
except ImportError as exc:  # the tools extra is not installed: say exactly what to do
    sys.exit(f"exchange loadgen needs the tools extra ({exc.name} is missing): "
             "pip install -e '.[tools]'")
from msgspec import Struct

from protocol import replies as R
from protocol.codec import decode_reply, encode, encode_into
from protocol.messages import Cancel, CancelAll, Login, Modify, Place, Quote, RequestBase, Symbols

READ_SIZE = 256 * 1024
LIVE = frozenset({"accepted", "partially_filled", "paused", "pending"})

# Shares of the flow (a cancel or modify needs a live order of the session; without one the
# request becomes a place).
CANCEL_SHARE = 0.25
MODIFY_SHARE = 0.10
CROSS_SHARE = 0.30  # of the places: limit orders that cross the mid
MID_DRIFT_EVERY = 256  # requests between one-tick moves of one symbol's mid
MID_DRIFT_MAX = 0.01  # the mid stays within 1% of where it started

PLACE, CANCEL, MODIFY = 0, 1, 2
OP_NAMES = ("place", "cancel", "modify")


class SetupError(Exception):
    """The run could not start (server unreachable, login refused, unknown symbol)."""


# --- what the hot path decodes ----------------------------------------------------------


class _Order(Struct):
    order_id: int = 0
    status: str = ""
    reason: str | None = None


class _Fill(Struct):
    qty: str = "0"


class _Msg(Struct):
    """A server line as far as the load generator needs it; other fields are skipped."""

    type: str
    ref: int | str | None = None
    order: _Order | None = None
    fills: list[_Fill] = []
    fill: _Fill | None = None
    code: str | None = None


_decoder = msgspec.json.Decoder(_Msg)


# --- shared state -----------------------------------------------------------------------


class Market:
    """The symbols traded and their mids (in ticks), shared by every session.

    Each mid takes a one-tick random step every `MID_DRIFT_EVERY` requests, staying within
    `MID_DRIFT_MAX` of where it started, so the book keeps moving a little.
    """

    def __init__(self, specs: list[Spec], mids: list[int], seed: int) -> None:
        self.specs = specs
        self.mids = mids
        self.lo = [m - max(1, int(m * MID_DRIFT_MAX)) for m in mids]
        self.hi = [m + max(1, int(m * MID_DRIFT_MAX)) for m in mids]
        self.rng = random.Random(seed ^ 0x5EED)
        self.count = 0

    def step(self) -> None:
        self.count += 1
        if self.count % MID_DRIFT_EVERY:
            return
        i = self.rng.randrange(len(self.mids))
        mid = self.mids[i] + self.rng.choice((-1, 1))
        self.mids[i] = min(self.hi[i], max(self.lo[i], mid))


class Plan:
    """When to stop sending: after `orders` requests in all, or at `deadline`."""

    def __init__(self, orders: int | None, duration: float | None, drain_timeout: float):
        self.remaining = orders
        self.duration = duration
        self.drain_timeout = drain_timeout
        self.start = 0.0
        self.deadline = math.inf
        self.stopped = False
        self.stopped_at = 0.0

    def begin(self, now: float) -> None:
        self.start = now
        if self.duration is not None:
            self.deadline = now + self.duration

    def take(self, now: float) -> bool:
        """Whether one more request may be sent at `now`."""
        if self.stopped:
            return False
        if now >= self.deadline or self.remaining == 0:
            self.stop(now)
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True

    def stop(self, now: float) -> None:
        if not self.stopped:
            self.stopped = True
            self.stopped_at = now


class LiveOrders:
    """This session's live orders: O(1) add, remove and random choice.

    `info` holds every order the session believes live (symbol index, side); `free` is the
    subset no cancel or modify is in flight for, the ones a new request may pick.
    """

    def __init__(self) -> None:
        self.info: dict[int, tuple[int, bool]] = {}
        self._ids: list[int] = []
        self._pos: dict[int, int] = {}

    def add(self, order_id: int, sym: int, buy: bool) -> None:
        self.info[order_id] = (sym, buy)
        self.release(order_id)

    def release(self, order_id: int) -> None:
        if order_id not in self._pos and order_id in self.info:
            self._pos[order_id] = len(self._ids)
            self._ids.append(order_id)

    def take(self, rng: random.Random) -> int:
        """A random free order, no longer free."""
        order_id = self._ids[int(rng.random() * len(self._ids))]
        self._unfree(order_id)
        return order_id

    def _unfree(self, order_id: int) -> None:
        i = self._pos.pop(order_id, None)
        if i is None:
            return
        last = self._ids.pop()
        if last != order_id:
            self._ids[i] = last
            self._pos[last] = i

    def drop(self, order_id: int) -> tuple[int, bool] | None:
        self._unfree(order_id)
        return self.info.pop(order_id, None)

    @property
    def free(self) -> int:
        return len(self._ids)


# --- one session ------------------------------------------------------------------------


@dataclass
class Flow:
    """The shape of the order flow (see the module doc)."""

    max_live: int = 100
    max_position: int = 200
    max_lots: int = 10
    spread_ticks: int = 20
    cross_ticks: int = 5


class Conn:
    """A connection with a simple request/reply helper, for everything outside the timed
    flow (login, discovery, the final cancel_all)."""

    def __init__(self) -> None:
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.ref = 0
        self.rbuf = b""

    async def open(self, host: str, port: int, timeout: float) -> None:
        try:
            self.reader, self.writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, limit=READ_SIZE), timeout)
        except (OSError, TimeoutError) as exc:
            raise SetupError(f"cannot connect to {host}:{port}: {exc}") from None

    async def call(self, request: RequestBase, timeout: float = 30.0) -> R.Reply:
        """One request, its reply fully decoded; pushed messages in between are skipped."""
        assert self.reader is not None and self.writer is not None
        self.ref += 1
        ref = request.ref = self.ref
        self.writer.write(encode(request))
        async with asyncio.timeout(timeout):
            while True:
                data = await self.reader.read(READ_SIZE)
                if not data:
                    raise SetupError("the server closed the connection")
                buf = self.rbuf + data if self.rbuf else data
                *lines, self.rbuf = buf.split(b"\n")
                for line in lines:
                    reply = decode_reply(line)
                    if getattr(reply, "ref", None) == ref:
                        return reply

    async def close(self, cancel_all: bool = False, timeout: float = 10.0) -> None:
        if self.writer is None:
            return
        try:
            if cancel_all and not self.writer.is_closing():
                await self.call(CancelAll(), timeout=timeout)
            self.writer.close()
            await self.writer.wait_closed()
        except (OSError, SetupError, TimeoutError, msgspec.DecodeError):
            pass


class LoadSession(Conn):
    """One connection, one user, its own seeded flow and its own live orders."""

    def __init__(self, index: int, user: str, token: str, market: Market, stats: Stats,
                 flow: Flow, seed: int) -> None:
        super().__init__()
        self.index = index
        self.user = user
        self.token = token
        self.market = market
        self.stats = stats
        self.flow = flow
        self.rng = random.Random(seed * 1_000_003 + index)
        # ref -> (send time, op, symbol index, buy?, order id)
        self.pending: dict[int, tuple[float, int, int, bool, int]] = {}
        self.live = LiveOrders()
        self.position = [0] * len(market.specs)  # net lots bought, per symbol
        self.wbuf = bytearray()
        # One request Struct per kind (and symbol), validated once when built and then
        # re-filled for each request: the fields set later are always valid (whole ticks
        # and lots from `Spec`), and building a Struct costs more than encoding it.
        self._places = [Place(symbol=spec.symbol, side="buy", qty=spec.qty(1),
                              price=spec.price(1)) for spec in market.specs]
        self._cancel = Cancel(order_id=1)
        self._modify = Modify(order_id=1, price=Decimal(1))

    async def connect(self, host: str, port: int, timeout: float) -> None:
        await self.open(host, port, timeout)
        reply = await self.call(Login(user=self.user, token=self.token))
        if not isinstance(reply, R.Welcome):
            raise SetupError(f"login as {self.user!r} failed: {_describe(reply)}")

    # -- the flow -------------------------------------------------------------------------

    def _request(self, sent_at: float) -> None:
        """Append the next request to the write buffer and remember it under its ref."""
        rng = self.rng
        market = self.market
        flow = self.flow
        live = self.live
        market.step()
        self.ref += 1
        ref = self.ref
        r = rng.random()
        if live.free and (r < CANCEL_SHARE or len(live.info) >= flow.max_live):
            order_id = live.take(rng)
            sym, buy = live.info[order_id]
            cancel = self._cancel
            cancel.ref = ref
            cancel.order_id = order_id
            encode_into(cancel, self.wbuf)
            self.pending[ref] = (sent_at, CANCEL, sym, buy, order_id)
            self.stats.sent["cancel"] += 1
            return
        if live.free and r < CANCEL_SHARE + MODIFY_SHARE:
            order_id = live.take(rng)
            sym, buy = live.info[order_id]
            spec = market.specs[sym]
            offset = 1 + int(rng.random() * flow.spread_ticks)
            ticks = market.mids[sym] - offset if buy else market.mids[sym] + offset
            modify = self._modify
            modify.ref = ref
            modify.order_id = order_id
            modify.price = spec.price(max(1, ticks))
            encode_into(modify, self.wbuf)
            self.pending[ref] = (sent_at, MODIFY, sym, buy, order_id)
            self.stats.sent["modify"] += 1
            return
        sym = int(rng.random() * len(market.specs))
        spec = market.specs[sym]
        # Lean against the position: at +max_position (long) buys are rare, and vice versa.
        lean = max(-0.9, min(0.9, self.position[sym] / flow.max_position))
        buy = rng.random() < 0.5 - 0.5 * lean
        mid = market.mids[sym]
        if rng.random() < CROSS_SHARE:
            offset = -int(rng.random() * (flow.cross_ticks + 1))
        else:
            offset = 1 + int(rng.random() * flow.spread_ticks)
        ticks = max(1, mid - offset if buy else mid + offset)
        lots = 1 + int(rng.random() * flow.max_lots)
        place = self._places[sym]
        place.ref = ref
        place.side = "buy" if buy else "sell"
        place.qty = spec.qty(lots)
        place.price = spec.price(ticks)
        encode_into(place, self.wbuf)
        self.pending[ref] = (sent_at, PLACE, sym, buy, 0)
        self.stats.sent["place"] += 1

    def _on_data(self, data: bytes, now: float) -> None:
        """Handle every complete line in `data` (one timestamp for the whole read)."""
        buf = self.rbuf + data if self.rbuf else data
        end = buf.rfind(b"\n") + 1
        self.rbuf = buf[end:]
        if not end:
            return
        stats = self.stats
        pending = self.pending
        live = self.live
        lat = stats.pending_lat
        keep = stats.keep_samples
        for msg in _decoder.decode_lines(memoryview(buf)[:end]):
            ref = msg.ref
            if ref is None:
                self._on_event(msg)
                continue
            entry = pending.pop(ref, None)  # type: ignore[arg-type]
            if entry is None:
                continue
            sent_at, op, sym, buy, order_id = entry
            us = int((now - sent_at) * 1e6)
            lat[us] = lat.get(us, 0) + 1
            if keep:
                stats.sample_t.append(sent_at)
                stats.sample_us.append(us)
            stats.replies += 1
            kind = msg.type
            order = msg.order
            if kind == "accepted":
                stats.accepted += 1
                if msg.fills:
                    stats.fills += len(msg.fills)
                    self._filled(sym, buy, msg.fills)
                if order is not None and order.status in LIVE:
                    live.add(order.order_id, sym, buy)
            elif kind == "canceled":
                stats.canceled += 1
                live.drop(order_id)
            elif kind == "modified":
                stats.modified += 1
                if msg.fills:
                    stats.fills += len(msg.fills)
                    self._filled(sym, buy, msg.fills)
                if order is not None and order.status in LIVE:
                    live.release(order_id)
                else:
                    live.drop(order_id)
            elif kind == "rejected":
                reason = (order.reason if order is not None else None) or "?"
                stats.rejected[reason] += 1
                self._steer(sym, reason)
            elif kind == "error":
                code = msg.code or "?"
                stats.errors[code] += 1
                if op == PLACE:
                    self._steer(sym, code)
                elif code in ("not_live", "unknown_order"):
                    live.drop(order_id)
                else:  # refused, unchanged (e.g. funds for a modify): pickable again
                    live.release(order_id)
            else:
                stats.errors["unexpected_" + kind] += 1
        stats.last_reply = now

    def _on_event(self, msg: _Msg) -> None:
        stats = self.stats
        order = msg.order
        if msg.type == "fill" and order is not None:
            stats.fill_events += 1
            info = self.live.info.get(order.order_id)
            if info is None:  # another session's order of the same user
                return
            if msg.fill is not None:
                self._filled(info[0], info[1], [msg.fill])
            if order.status not in LIVE:
                self.live.drop(order.order_id)
        else:
            stats.other_events += 1
            if order is not None and order.status not in LIVE:
                self.live.drop(order.order_id)

    def _filled(self, sym: int, buy: bool, fills: list[_Fill]) -> None:
        lot = self.market.specs[sym].lot
        lots = 0
        for fill in fills:
            lots += round(float(fill.qty) / float(lot))
        if not buy:
            lots = -lots
        self.position[sym] += lots

    def _steer(self, sym: int, reason: str) -> None:
        """A refusal for want of holdings (cash) means: lean to buying (selling) for now."""
        if reason == "insufficient_holdings":
            self.position[sym] = -self.flow.max_position
        elif reason == "insufficient_funds":
            self.position[sym] = self.flow.max_position

    # -- closed loop ----------------------------------------------------------------------

    async def run_closed(self, plan: Plan, window: int) -> None:
        assert self.reader is not None and self.writer is not None
        reader, writer = self.reader, self.writer
        pending = self.pending
        clock = time.perf_counter
        self._fill(plan, window, clock())
        while True:
            if self.wbuf:
                writer.write(bytes(self.wbuf))
                self.wbuf.clear()
            if not pending:
                return
            if plan.stopped:
                left = plan.stopped_at + plan.drain_timeout - clock()
                try:
                    data = await asyncio.wait_for(reader.read(READ_SIZE), max(left, 0.001))
                except TimeoutError:
                    return  # what is still pending is counted as lost
            else:
                data = await reader.read(READ_SIZE)
            if not data:
                raise ConnectionError("the server closed the connection")
            self._on_data(data, clock())
            if not plan.stopped:
                self._fill(plan, window - len(pending), clock())

    def _fill(self, plan: Plan, room: int, now: float) -> None:
        take = plan.take
        for _ in range(room):
            if not take(now):
                break
            self._request(now)
        if now < self.stats.first_send and self.wbuf:
            self.stats.first_send = now

    # -- open loop (see `run_open`) -------------------------------------------------------

    def write_pending(self) -> None:
        if self.wbuf:
            assert self.writer is not None
            self.writer.write(bytes(self.wbuf))
            self.wbuf.clear()

    async def read_loop(self) -> None:
        assert self.reader is not None
        reader = self.reader
        clock = time.perf_counter
        while True:
            data = await reader.read(READ_SIZE)
            if not data:
                raise ConnectionError("the server closed the connection")
            self._on_data(data, clock())


async def run_open(sessions: list[LoadSession], plan: Plan, rate: float) -> None:
    """Send `rate` requests per second in all, request i at `start + i / rate`, through
    session i mod S; each latency counts from the scheduled time.

    The schedule is kept by a thread that sleeps until each due time (`time.sleep` is
    precise to microseconds once the thread's timer slack is lowered, where the event
    loop's timers round to milliseconds and would have to spin) and then wakes the loop,
    which sends everything due. If the loop is busy, the requests that fell due meanwhile
    go out together when it gets to them, and their wait counts in their latency.
    """
    loop = asyncio.get_running_loop()
    clock = time.perf_counter
    period = 1.0 / rate
    count = len(sessions)
    stats = sessions[0].stats
    state = {"next": 0, "woken": False}
    lag = stats.send_lag
    quit_ticker = threading.Event()
    finished = asyncio.Event()

    def send_due() -> None:
        state["woken"] = False
        now = clock()
        i = state["next"]
        while True:
            due = plan.start + i * period
            if due > now or not plan.take(due):
                break
            sessions[i % count]._request(due)
            us = int((now - due) * 1e6)
            lag[us] = lag.get(us, 0) + 1
            i += 1
        if i != state["next"]:
            stats.first_send = min(stats.first_send, plan.start)
            for session in sessions:
                session.write_pending()
        state["next"] = i
        if plan.stopped:
            finished.set()

    def ticker() -> None:
        _lower_timer_slack()
        j = 0
        while not quit_ticker.is_set() and not plan.stopped:
            delay = plan.start + j * period - clock()
            if delay > 0:
                time.sleep(delay)
            if not state["woken"]:
                state["woken"] = True
                try:
                    loop.call_soon_threadsafe(send_due)
                except RuntimeError:  # the loop is closed
                    return
            # The next due time still ahead (skipping those the loop will send anyway).
            j = max(j + 1, int((clock() - plan.start) / period) + 1)

    readers = [asyncio.create_task(s.read_loop()) for s in sessions]
    thread = threading.Thread(target=ticker, name="loadgen-schedule", daemon=True)
    thread.start()
    try:
        waiting = asyncio.create_task(finished.wait())
        await asyncio.wait([waiting, *readers], return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        plan.stop(clock())
        end = plan.stopped_at + plan.drain_timeout
        while (any(s.pending for s in sessions) and not any(r.done() for r in readers)
               and clock() < end):
            await asyncio.sleep(0.002)
        for reader in readers:
            if reader.done() and reader.exception() is not None:
                raise reader.exception()  # type: ignore[misc]
    finally:
        quit_ticker.set()
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await asyncio.to_thread(thread.join)


def _lower_timer_slack() -> None:
    """Ask Linux to wake this thread on time rather than up to 50 us late (best effort)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(29, 1, 0, 0, 0)  # PR_SET_TIMERSLACK, 1 ns
    except (OSError, AttributeError):
        pass


def _describe(reply: R.Reply) -> str:
    if isinstance(reply, R.Error):
        return f"{reply.code}: {reply.message}"
    return type(reply).__name__


# --- setup ------------------------------------------------------------------------------


async def discover(session: Conn, symbols: list[str]) -> tuple[list[Spec], list[int]]:
    """Tick and lot of each symbol, and where to quote it: the middle of the book, else
    the last trade, else the demo market's reference price."""
    reply = await session.call(Symbols())
    if not isinstance(reply, R.SymbolsReply):
        raise SetupError(f"symbols failed: {_describe(reply)}")
    known = {s.symbol: s for s in reply.symbols}
    specs, mids = [], []
    for name in symbols:
        info = known.get(name)
        if info is None:
            raise SetupError(f"unknown symbol {name!r} (the server lists {', '.join(known)})")
        spec = Spec(name, Decimal(info.tick_size), Decimal(info.lot_size))
        quote = await session.call(Quote(symbol=name))
        mid: Decimal | None = None
        if isinstance(quote, R.QuoteReply):
            if quote.bid is not None and quote.ask is not None:
                mid = (Decimal(quote.bid) + Decimal(quote.ask)) / 2
            elif quote.last is not None:
                mid = Decimal(quote.last)
        if mid is None:
            mid = DEMO_REFERENCE.get(name, FALLBACK_MID)
        specs.append(spec)
        mids.append(max(1, spec.to_ticks(mid)))
    return specs, mids


@dataclass
class Options:
    host: str
    port: int
    sessions: int
    users: list[tuple[str, str]]
    symbols: list[str]
    seed: int
    window: int
    rate: float | None
    orders: int | None
    duration: float | None
    flow: Flow
    progress: bool
    keep_samples: bool
    cancel_at_end: bool
    connect_timeout: float = 10.0
    drain_timeout: float = 30.0


async def run_load(opts: Options) -> tuple[Stats, Plan]:
    """Connect, log in, run the flow; returns the statistics (raises SetupError)."""
    stats = Stats(keep_samples=opts.keep_samples)
    probe = Conn()
    try:
        await probe.open(opts.host, opts.port, opts.connect_timeout)
        specs, mids = await discover(probe, opts.symbols)
    finally:
        await probe.close()
    market = Market(specs, mids, opts.seed)
    sessions: list[LoadSession] = []
    gave_up = False
    try:
        for i in range(opts.sessions):
            user, token = opts.users[i % len(opts.users)]
            session = LoadSession(i, user, token, market, stats, opts.flow, opts.seed)
            sessions.append(session)
            await session.connect(opts.host, opts.port, opts.connect_timeout)
        plan = Plan(opts.orders, opts.duration, opts.drain_timeout)
        with _progress(opts, stats, plan) as ticker:
            plan.begin(time.perf_counter())
            if opts.rate is None:
                runs = [s.run_closed(plan, opts.window) for s in sessions]
            else:
                runs = [run_open(sessions, plan, opts.rate)]
            tasks = [asyncio.create_task(r) for r in runs]
            helpers = [asyncio.create_task(ticker()),
                       asyncio.create_task(watchdog(plan, sessions, tasks))]
            try:
                results = await asyncio.gather(*tasks, return_exceptions=True)
            finally:
                for helper in helpers:
                    helper.cancel()
                await asyncio.gather(*helpers, return_exceptions=True)
        plan.stop(time.perf_counter())
        stats.fold()
        gave_up = any(isinstance(r, asyncio.CancelledError) for r in results)
        if gave_up:
            print("loadgen: gave up waiting for replies", file=sys.stderr)
        for result in results:
            if (isinstance(result, BaseException)
                    and not isinstance(result, ConnectionError | asyncio.CancelledError)):
                raise result
        failed = [r for r in results if isinstance(r, ConnectionError)]
        if failed:
            print(f"loadgen: lost the connection: {failed[0]}", file=sys.stderr)
        stats.lost = sum(len(s.pending) for s in sessions)
    finally:
        # No clean-up on a server that stopped answering; otherwise, within the drain time.
        cancel_all = opts.cancel_at_end and not gave_up
        await asyncio.gather(*(s.close(cancel_all, min(10.0, opts.drain_timeout))
                               for s in sessions))
    return stats, plan


async def watchdog(plan: Plan, sessions: list[LoadSession],
                   tasks: list[asyncio.Task[None]]) -> None:
    """Stop at the deadline even if no reply comes to notice it, and give up (cancelling
    the runs) once replies are owed but none has come for `drain_timeout` seconds, or the
    drain after the end has taken that long."""
    clock = time.perf_counter
    stats = sessions[0].stats
    seen, seen_at = -1, clock()
    while True:
        await asyncio.sleep(0.25)
        now = clock()
        if stats.replies != seen or not any(s.pending for s in sessions):
            seen, seen_at = stats.replies, now
        if now >= plan.deadline:
            plan.stop(now)
        stalled = now - seen_at > plan.drain_timeout
        if stalled or (plan.stopped and now > plan.stopped_at + plan.drain_timeout):
            plan.stop(now)
            for task in tasks:
                task.cancel()
            return


@contextlib.contextmanager
def _progress(opts: Options, stats: Stats, plan: Plan) -> Iterator[Callable[[], Any]]:
    """A rich progress bar on stderr, refreshed by a ticker task (which also folds the
    latencies into the histogram, so the dict of pending ones stays small)."""

    async def fold_only() -> None:
        while True:
            await asyncio.sleep(0.25)
            stats.fold()

    if not opts.progress:
        yield fold_only
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    by_count = opts.orders is not None and opts.duration is None
    total = float(opts.orders) if by_count else float(opts.duration or 0)
    columns = [TextColumn("[bold]{task.description}"), BarColumn()]
    columns.append(MofNCompleteColumn() if by_count else TextColumn("{task.completed:.1f} s"))
    columns += [TextColumn("{task.fields[rate]:>9,.0f} orders/s"), TimeElapsedColumn(),
                TimeRemainingColumn()]
    # Refreshed by the ticker below, on the event loop: no refresh thread taking the GIL.
    progress = Progress(*columns, console=Console(stderr=True), transient=True,
                        auto_refresh=False)
    task = progress.add_task("loadgen", total=total, rate=0.0)

    async def tick() -> None:
        last_t, last_n = time.perf_counter(), 0
        while True:
            await asyncio.sleep(0.2)
            stats.fold()
            now = time.perf_counter()
            done = stats.replies if by_count else min(total, now - plan.start)
            progress.update(task, completed=done, refresh=True,
                            rate=(stats.replies - last_n) / max(now - last_t, 1e-9))
            last_t, last_n = now, stats.replies

    with progress:
        yield tick


def describe_run(opts: Options) -> dict[str, Any]:
    """What the report says about the run's shape."""
    return {"rate": opts.rate, "sessions": opts.sessions, "window": opts.window,
            "symbols": opts.symbols, "seed": opts.seed}


# --- command line -----------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="loadgen", description="Load generator for the exchange server.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    target = p.add_argument_group("server")
    target.add_argument("--host", default=DEFAULT_HOST)
    target.add_argument("--port", type=int, help="target a running server (default: spawn one)")
    target.add_argument("--spawn", action="store_true",
                        help="start a server for the run (the default without --port)")
    target.add_argument("--data-dir", help="passed to the spawned server")
    target.add_argument("--config", help="passed to the spawned server")
    flow = p.add_argument_group("flow")
    flow.add_argument("--sessions", type=int, default=4)
    flow.add_argument("--users", default=",".join(DEMO_USERS),
                      help="comma-separated users (user or user:token; token <user>-token); "
                           "sessions take them in turn")
    flow.add_argument("--symbols", default="AAPL,MSFT,TSLA")
    flow.add_argument("--seed", type=int, default=1)
    flow.add_argument("--max-live", type=int, default=100,
                      help="live orders per session before it cancels rather than places")
    flow.add_argument("--max-lots", type=int, default=10, help="largest order, in lots")
    load = p.add_argument_group("load")
    load.add_argument("--window", type=int, default=64,
                      help="closed loop: requests in flight per session")
    load.add_argument("--rate", type=float, help="open loop: requests per second in all")
    load.add_argument("--orders", type=int, help="stop after this many requests "
                      "(default 100000 in closed loop without --duration)")
    load.add_argument("--duration", type=float, help="stop after this many seconds "
                      "(default 10 in open loop without --orders)")
    load.add_argument("--drain-timeout", type=float, default=30.0,
                      help="seconds to wait for replies still owed at the end")
    load.add_argument("--keep-orders", action="store_true",
                      help="leave the sessions' orders in the book (default: cancel_all)")
    out = p.add_argument_group("output")
    out.add_argument("--json", metavar="FILE", help="write the results as JSON")
    out.add_argument("--plot", metavar="FILE.png", help="save latency plots (matplotlib)")
    out.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if args.sessions < 1 or args.window < 1:
        p.error("--sessions and --window must be at least 1")
    if args.rate is not None and args.rate <= 0:
        p.error("--rate must be positive")
    if args.orders is None and args.duration is None:
        if args.rate is None:
            args.orders = 100_000
        else:
            args.duration = 10.0
    if args.port is not None and args.spawn:
        p.error("give --port (a running server) or --spawn, not both")
    if args.port is None:
        args.spawn = True
    elif args.data_dir or args.config:
        p.error("--data-dir and --config only apply to a spawned server")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    users = parse_users(args.users)
    symbols = parse_list(args.symbols)
    if not users or not symbols:
        print("loadgen: --users and --symbols must name at least one each", file=sys.stderr)
        return 2
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        # Before the run, not after minutes of load: the plot extra is separate.
        print("loadgen: --plot needs matplotlib: pip install -e '.[plot]'", file=sys.stderr)
        return 2
    server: SpawnedServer | None = None
    host, port = args.host, args.port
    if args.spawn:
        try:
            server = SpawnedServer(data_dir=args.data_dir, config=args.config,
                                   host=args.host).start()
        except (ServerError, OSError) as exc:
            print(f"loadgen: {exc}", file=sys.stderr)
            return 2
        host, port = server.host, server.port
        print(f"loadgen: spawned server pid {server.pid} on {host}:{port}", file=sys.stderr)
    opts = Options(
        host=host, port=port, sessions=args.sessions, users=users, symbols=symbols,
        seed=args.seed, window=args.window, rate=args.rate, orders=args.orders,
        duration=args.duration,
        flow=Flow(max_live=args.max_live, max_lots=args.max_lots),
        progress=not args.no_progress and sys.stderr.isatty(),
        keep_samples=args.plot is not None, cancel_at_end=not args.keep_orders,
        drain_timeout=args.drain_timeout,
    )
    try:
        stats, _ = run(run_load(opts))
    except SetupError as exc:
        print(f"loadgen: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("loadgen: interrupted", file=sys.stderr)
        return 130
    finally:
        if server is not None:
            status = server.stop()
            if status:
                print(f"loadgen: the server exited with status {status}\n{server.log()}",
                      file=sys.stderr)
    info = {"spawned": server is not None, "host": host, "port": port,
            "data_dir": args.data_dir, "config": args.config}
    result = summary(stats, describe_run(opts), info)
    print_summary(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    if args.plot:
        plot(stats, result, args.plot)
    if not result["accepted"]:
        print("loadgen: no order was accepted", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
