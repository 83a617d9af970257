"""WebSocket streams in Binance's shape: ``/ws/<stream>``, ``/stream?streams=a/b``, and the
user data stream ``/ws/<listenKey>``.

Market streams, by Binance name (the symbol in lower case, ``aaplusd``):

* ``<symbol>@trade``: each trade (the gateway's ``trades`` channel);
* ``<symbol>@depth`` (also ``@depth@100ms``): ``depthUpdate`` with the changed levels and
  the update ids ``U`` and ``u``, both the book's ``seq`` (``book`` channel). A client
  keeps a local book the way Binance documents: open the stream, get
  ``/api/v3/depth`` (its ``lastUpdateId`` is the snapshot's seq), drop every event whose
  ``u`` is not above it, apply the rest in order; each event's ``U`` is the previous
  one's ``u`` plus one;
* ``<symbol>@kline_<interval>`` (1m, 5m, 1h, 1d): the current candle after each trade,
  seeded from the exchange's own candles when subscribed;
* ``<symbol>@bookTicker``: best bid and ask on every change (``quote`` channel).

Each connection has its own session to the gateway, which subscribes to the channels its
streams need; the gateway pushes a channel's messages to every subscriber in a row, and
the shared :class:`StreamCodec` turns each into Binance's JSON once for all of them.
A client may also send ``{"method": "SUBSCRIBE"|"UNSUBSCRIBE"|"LIST_SUBSCRIPTIONS",
"params": [...], "id": n}`` as on Binance.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec
from aiohttp import WSMsgType, web

from exchange.server.frontends.http import binance as B
from exchange.server.frontends.http.outbox import Outbox
from exchange.server.frontends.http.session import HttpSession, Refused
from exchange.server.frontends.http.userdata import UserData
from exchange.server.port import GatewayPort
from protocol import messages as M
from protocol import replies as R

log = logging.getLogger("exchange.http")

_encode = msgspec.json.Encoder().encode

MAX_STREAMS = 1024
"""Streams one connection may subscribe to (Binance allows 1024)."""
MAX_MESSAGE = 64 * 1024
"""Bytes of one message a client may send (a SUBSCRIBE with many streams)."""


@dataclass(frozen=True, slots=True)
class Stream:
    """One Binance stream: its name, the exchange symbol and the channel it rides on."""

    name: str
    symbol: str
    channel: str
    kind: str
    interval: str = ""


def parse_stream(names: B.Names, name: str) -> Stream | None:
    lower, _, rest = name.partition("@")
    symbol = names.lower.get(lower)
    if symbol is None:
        return None
    if rest == "trade" or rest == "aggTrade":
        return Stream(name, symbol, "trades", rest)
    if rest in ("depth", "depth@100ms", "depth@1000ms"):
        return Stream(name, symbol, "book", "depth")
    if rest == "bookTicker":
        return Stream(name, symbol, "quote", "bookTicker")
    if rest.startswith("kline_") and rest[6:] in B.INTERVAL_MS:
        return Stream(name, symbol, "trades", "kline", rest[6:])
    return None


class Kline:
    """The current candle of one symbol and interval, kept from its trades."""

    __slots__ = ("c", "h", "l", "o", "start", "v")

    def __init__(self, start: int, o: str, h: str, l: str, c: str, v: str) -> None:  # noqa: E741
        self.start, self.o, self.h, self.l, self.c, self.v = start, o, h, l, c, v

    def add(self, price: str, qty: str, at: int, span: int) -> None:
        start = at - at % span
        if start != self.start:
            self.start, self.o, self.h, self.l, self.c, self.v = (start, price, price, price,
                                                                  price, qty)
            return
        p = Decimal(price)
        if p > Decimal(self.h):
            self.h = price
        if p < Decimal(self.l):
            self.l = price
        self.c = price
        self.v = B.plain(Decimal(self.v) + Decimal(qty))


class StreamCodec:
    """Binance's JSON for the gateway's stream messages, encoded once per message and
    stream name (a fan-out to many connections pushes one message in a row)."""

    def __init__(self, names: B.Names) -> None:
        self.names = names
        self._last: R.Message | None = None
        self._cache: dict[tuple[str, bool], bytes] = {}
        self.klines: dict[tuple[str, str], Kline] = {}
        self._ticker_ids = 0

    def encode(self, event: R.Message, stream: Stream, combined: bool) -> bytes:
        if event is not self._last:
            self._last = event
            self._cache = {}
            if isinstance(event, R.TradeEvent):
                self._trade(event.trade)
            elif isinstance(event, R.QuoteReply):
                self._ticker_ids += 1
        key = (stream.name, combined)
        data = self._cache.get(key)
        if data is None:
            payload = self._payload(event, stream)
            data = _encode({"stream": stream.name, "data": payload} if combined else payload)
            self._cache[key] = data
        return data

    def _trade(self, trade: R.Trade) -> None:
        at = B.ms(trade.ts)
        for interval, span in B.INTERVAL_MS.items():
            kline = self.klines.get((trade.symbol, interval))
            if kline is not None:
                kline.add(trade.price, trade.qty, at, span)

    def _payload(self, event: R.Message, stream: Stream) -> dict[str, Any]:
        now = time.time_ns() // 1_000_000
        sid = self.names.to_id[stream.symbol]
        if isinstance(event, R.TradeEvent):
            t = event.trade
            if stream.kind == "kline":
                kline = self.klines[(stream.symbol, stream.interval)]
                span = B.INTERVAL_MS[stream.interval]
                return {"e": "kline", "E": now, "s": sid, "k": {
                    "t": kline.start, "T": kline.start + span - 1, "s": sid,
                    "i": stream.interval, "f": -1, "L": t.trade_id, "o": kline.o,
                    "c": kline.c, "h": kline.h, "l": kline.l, "v": kline.v, "n": 0,
                    "x": False, "q": "0", "V": "0", "Q": "0", "B": "0"}}
            if stream.kind == "aggTrade":
                return {"e": "aggTrade", "E": now, "s": sid, **B.agg_trade(t)}
            return {"e": "trade", "E": now, "s": sid, "t": t.trade_id, "p": t.price,
                    "q": t.qty, "T": B.ms(t.ts), "m": t.taker_side == "sell", "M": True}
        if isinstance(event, R.BookUpdate):
            return {"e": "depthUpdate", "E": now, "s": sid, "U": event.seq, "u": event.seq,
                    "b": event.bids, "a": event.asks}
        if isinstance(event, R.QuoteReply):
            return {"u": self._ticker_ids, "s": sid, "b": event.bid or "0",
                    "B": event.bid_qty or "0", "a": event.ask or "0",
                    "A": event.ask_qty or "0"}
        return {}


class StreamConnection:
    """One WebSocket of market streams: its session and the streams it is subscribed to."""

    def __init__(self, gateway: GatewayPort, codec: StreamCodec, box: Outbox,
                 combined: bool, peer: str) -> None:
        self.codec = codec
        self.box = box
        self.combined = combined
        self.session = HttpSession(gateway, gateway.next_session_id(), peer, self.on_event)
        self.streams: dict[str, Stream] = {}
        self.by_channel: dict[tuple[str, str], list[Stream]] = {}

    def on_event(self, event: R.Message) -> None:
        if isinstance(event, R.TradeEvent):
            key = ("trades", event.trade.symbol)
        elif isinstance(event, R.BookUpdate):
            key = ("book", event.symbol)
        elif isinstance(event, R.QuoteReply):
            key = ("quote", event.symbol)
        else:
            return
        for stream in self.by_channel.get(key, ()):
            self.box.put(self.codec.encode(event, stream, self.combined))

    async def subscribe(self, streams: Iterable[Stream]) -> None:
        for stream in streams:
            if stream.name in self.streams:
                continue
            if len(self.streams) >= MAX_STREAMS:
                raise B.BinanceError(-1003, f"at most {MAX_STREAMS} streams a connection")
            key = (stream.channel, stream.symbol)
            if stream.kind == "kline":
                await self._seed(stream)
            if key not in self.by_channel:
                await self.session.reply(M.Subscribe(channel=stream.channel,  # type: ignore[arg-type]
                                                     symbol=stream.symbol))
                self.by_channel[key] = []
            self.by_channel[key] = [*self.by_channel[key], stream]
            self.streams[stream.name] = stream

    async def _seed(self, stream: Stream) -> None:
        reply = await self.session.reply(M.Candles(symbol=stream.symbol,
                                                   interval=stream.interval,  # type: ignore[arg-type]
                                                   limit=1))
        key = (stream.symbol, stream.interval)
        if isinstance(reply, R.CandlesReply) and reply.candles:
            c = reply.candles[-1]
            self.codec.klines[key] = Kline(B.ms(c.t), c.o, c.h, c.l, c.c, c.v)
        elif key not in self.codec.klines:
            self.codec.klines[key] = Kline(-1, "0", "0", "0", "0", "0")

    async def unsubscribe(self, names: Iterable[str]) -> None:
        for name in names:
            stream = self.streams.pop(name, None)
            if stream is None:
                continue
            key = (stream.channel, stream.symbol)
            left = [s for s in self.by_channel.get(key, []) if s is not stream]
            if left:
                self.by_channel[key] = left
            else:
                self.by_channel.pop(key, None)
                await self.session.reply(M.Unsubscribe(channel=stream.channel,  # type: ignore[arg-type]
                                                       symbol=stream.symbol))


class Streams:
    """The WebSocket endpoints of one exchange."""

    def __init__(self, gateway: GatewayPort, names: B.Names, userdata: UserData) -> None:
        self.gateway = gateway
        self.names = names
        self.userdata = userdata
        self.codec = StreamCodec(names)
        self.open: set[web.WebSocketResponse] = set()
        self.connections: set[StreamConnection] = set()

    def parse(self, names: list[str]) -> list[Stream]:
        streams = []
        for name in names:
            stream = parse_stream(self.names, name)
            if stream is None:
                raise B.BinanceError(-1121, f"Invalid stream name {name!r}.")
            streams.append(stream)
        return streams

    async def raw(self, request: web.Request) -> web.StreamResponse:
        """``/ws/<stream>`` (several joined by ``/``) or ``/ws/<listenKey>``."""
        path = request.match_info["streams"]
        user = self.userdata.user_of(path)
        if user is not None:
            return await self._user_stream(request, user)
        return await self._market(request, [p for p in path.split("/") if p], False)

    async def combined(self, request: web.Request) -> web.StreamResponse:
        """``/stream?streams=a/b/c``: every message wrapped as {"stream", "data"}."""
        names = [p for p in request.query.get("streams", "").split("/") if p]
        return await self._market(request, names, True)

    async def _market(self, request: web.Request, names: list[str],
                      combined: bool) -> web.StreamResponse:
        try:
            streams = self.parse(names)
        except B.BinanceError as exc:
            return web.json_response(exc.body(), status=400)
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=MAX_MESSAGE)
        peer = str(request.remote)
        box = Outbox(ws, self.gateway.limits.outbound_buffer, peer)
        conn = StreamConnection(self.gateway, self.codec, box, combined, peer)
        refusal = self.gateway.admit(conn.session)
        if refusal is not None:
            return web.json_response({"code": -1008, "msg": refusal.message}, status=503)
        self.gateway.session_opened(conn.session)
        self.connections.add(conn)
        writer: asyncio.Future[None] | None = None
        try:
            # Subscribed before the handshake is answered: once a client's connect
            # returns, every message of its streams reaches it.
            try:
                await conn.subscribe(streams)
            except B.BinanceError as exc:
                return web.json_response(exc.body(), status=400)
            await ws.prepare(request)
            self.open.add(ws)
            writer = asyncio.ensure_future(box.run())
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                await self._command(conn, msg.data)
        except Refused:
            pass
        finally:
            self.open.discard(ws)
            self.connections.discard(conn)
            box.close()
            conn.session.close()
            if writer is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await writer
        if not ws.prepared:
            return web.json_response({"code": -1008, "msg": "The server is shutting down."},
                                     status=503)
        return ws

    async def _command(self, conn: StreamConnection, text: str) -> None:
        try:
            request = msgspec.json.decode(text)
            method = request["method"]
            params = request.get("params", [])
            ident = request.get("id")
            if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                raise TypeError("params")
        except (msgspec.DecodeError, KeyError, TypeError, AttributeError):
            conn.box.put(_encode({"error": {"code": 2, "msg": "Invalid request"},
                                  "id": None}))
            return
        try:
            if method == "SUBSCRIBE":
                await conn.subscribe(self.parse(params))
                result: Any = None
            elif method == "UNSUBSCRIBE":
                await conn.unsubscribe(params)
                result = None
            elif method == "LIST_SUBSCRIPTIONS":
                result = list(conn.streams)
            else:
                conn.box.put(_encode({"error": {"code": 1, "msg": "Unknown method"},
                                      "id": ident}))
                return
        except B.BinanceError as exc:
            conn.box.put(_encode({"error": {"code": 2, "msg": exc.msg}, "id": ident}))
            return
        conn.box.put(_encode({"result": result, "id": ident}))

    async def _user_stream(self, request: web.Request, user: str) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=MAX_MESSAGE)
        box = Outbox(ws, self.gateway.limits.outbound_buffer, str(request.remote))
        self.userdata.attach(user, box)  # before the handshake, as for market streams
        try:
            await ws.prepare(request)
        except BaseException:
            self.userdata.detach(user, box)
            raise
        self.open.add(ws)
        writer = asyncio.ensure_future(box.run())
        try:
            async for _msg in ws:
                pass  # the user data stream takes nothing from the client
        finally:
            self.open.discard(ws)
            self.userdata.detach(user, box)
            box.close()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    async def close_all(self) -> None:
        for ws in list(self.open):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.close()

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/ws/{streams:.+}", self.raw)
        app.router.add_get("/stream", self.combined)
