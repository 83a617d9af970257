"""The REST endpoints under ``/api/v3``, in the shape of Binance's spot API.

Every endpoint turns its parameters into request messages (:mod:`.binance`), asks them
of the gateway on a session (:class:`~.session.HttpSession`) and writes the replies as
Binance does. Public endpoints share one session that never logs in; a signed endpoint
runs on its user's own session, logged in once, on the first request with that user's
API key, and kept for the server's life (``login`` through the gateway, as on every
front-end: the user sees only their own orders, under the same rules).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec
from aiohttp import web

from exchange.server.config import ApiKey
from exchange.server.frontends.http import binance as B
from exchange.server.frontends.http import signing
from exchange.server.frontends.http.binance import BinanceError
from exchange.server.frontends.http.session import HttpSession, Refused
from exchange.server.frontends.http.throttle import Throttle
from exchange.server.frontends.http.userdata import UserData
from exchange.server.port import GatewayPort
from protocol import messages as M
from protocol import replies as R

log = logging.getLogger("exchange.http")

_encode = msgspec.json.Encoder().encode

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SignedHandler = Callable[["Api", web.Request, HttpSession, dict[str, str]],
                         Awaitable[Any]]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def ok(body: Any) -> web.Response:
    return web.Response(body=_encode(body), content_type="application/json")


def failed(error: BinanceError) -> web.Response:
    return web.Response(body=_encode(error.body()), status=error.status,
                        content_type="application/json")


def _check(answer: R.ReplyBase, **how: bool) -> R.ReplyBase:
    if isinstance(answer, R.Error):
        raise B.from_error(answer, **how)
    return answer


class Api:
    """The REST API of one exchange: its sessions, names and users' credentials."""

    def __init__(self, gateway: GatewayPort, keys: tuple[ApiKey, ...], names: B.Names,
                 public: HttpSession, userdata: UserData) -> None:
        self.gateway = gateway
        self.keys = {k.key: k for k in keys}
        self.names = names
        self.public = public
        self.userdata = userdata
        self.throttle = Throttle(float(gateway.limits.rate))
        self._users: dict[str, HttpSession] = {}
        self._logins: dict[str, asyncio.Future[HttpSession]] = {}

    def sessions(self) -> list[HttpSession]:
        return [self.public, *self._users.values()]

    # -- users -----------------------------------------------------------------------------------
    async def user_session(self, key: ApiKey) -> HttpSession:
        """The user's session, logged in (once) with the user's token."""
        session = self._users.get(key.user)
        if session is not None and not session.closed:
            return session
        if session is not None:
            # Ended by the gateway (the user was disabled): log in again, which tells.
            del self._users[key.user]
            self.userdata.sessions.pop(key.user, None)
        pending = self._logins.get(key.user)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[HttpSession] = asyncio.get_running_loop().create_future()
        self._logins[key.user] = future
        try:
            session = HttpSession(self.gateway, self.gateway.next_session_id(),
                                  f"http:{key.user}", self.userdata.sink(key.user))
            self.gateway.session_opened(session)
            reply = await session.reply(M.Login(user=key.user, token=key.token))
            if not isinstance(reply, R.Welcome):
                session.close()
                log.warning("HTTP login of %r refused: %s", key.user,
                            getattr(reply, "message", reply))
                raise BinanceError(*B.BAD_KEY, status=401)
            self._users[key.user] = session
            self.userdata.sessions[key.user] = session
            future.set_result(session)
            return session
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a later caller retries, nobody else waits
            raise
        finally:
            del self._logins[key.user]

    # -- helpers ---------------------------------------------------------------------------------
    async def ask(self, session: HttpSession, message: Any, **how: bool) -> R.ReplyBase:
        return _check(await session.reply(message), **how)

    def symbol(self, params: Mapping[str, str]) -> str:
        symbol = self.names.symbol(params)
        assert symbol is not None
        return symbol


def _throttled(api: Api, who: str) -> None:
    """Refuse the request (-1003, 429) when ``who`` is past the ``[limits] rate``."""
    if not api.throttle.allow(who):
        raise BinanceError(-1003, f"Too many requests; rate: more than "
                                  f"{api.throttle.rate:g} requests per second.", status=429)


def public(handler: Callable[[Api, web.Request, dict[str, str]], Awaitable[Any]]) -> Handler:
    """An endpoint anyone may call: its parameters from the query string."""
    async def run(request: web.Request) -> web.StreamResponse:
        api: Api = request.app[API]
        try:
            _throttled(api, f"ip:{request.remote}")
            return ok(await handler(api, request, dict(request.query)))
        except BinanceError as exc:
            return failed(exc)
        except Refused:
            return failed(BinanceError(-1008, "The server is shutting down.", status=503))
    return run


def keyed(handler: Callable[[Api, web.Request, ApiKey, dict[str, str]], Awaitable[Any]]
          ) -> Handler:
    """An endpoint that needs the API key only (the user data stream's listenKey)."""
    async def run(request: web.Request) -> web.StreamResponse:
        api: Api = request.app[API]
        try:
            key = signing.api_key(api.keys, request.headers.get("X-MBX-APIKEY"))
            _throttled(api, f"key:{key.key}")
            body = await request.text() if request.can_read_body else ""
            params = signing.parse_params(request.query_string, body)
            return ok(await handler(api, request, key, params))
        except BinanceError as exc:
            return failed(exc)
    return run


def signed(handler: SignedHandler) -> Handler:
    """An endpoint that needs a signed request: checked, then run on the user's session."""
    async def run(request: web.Request) -> web.StreamResponse:
        api: Api = request.app[API]
        try:
            key = signing.api_key(api.keys, request.headers.get("X-MBX-APIKEY"))
            _throttled(api, f"key:{key.key}")
            body = await request.text() if request.can_read_body else ""
            query = request.query_string
            params = signing.parse_params(query, body)
            signing.check(key, query, body, params, now_ms())
            session = await api.user_session(key)
            return ok(await handler(api, request, session, params))
        except BinanceError as exc:
            return failed(exc)
        except Refused:
            return failed(BinanceError(-1008, "The server is shutting down.", status=503))
    return run


API: web.AppKey[Api] = web.AppKey("api", Api)


# -- public endpoints ----------------------------------------------------------------------

async def ping(api: Api, request: web.Request, params: dict[str, str]) -> Any:
    return {}


async def server_time(api: Api, request: web.Request, params: dict[str, str]) -> Any:
    return {"serverTime": now_ms()}


async def exchange_info(api: Api, request: web.Request, params: dict[str, str]) -> Any:
    reply = await api.ask(api.public, M.Symbols())
    assert isinstance(reply, R.SymbolsReply)
    wanted: set[str] | None = None
    if params.get("symbol"):
        wanted = {api.symbol(params)}
    elif params.get("symbols"):
        try:
            ids = msgspec.json.decode(params["symbols"], type=list[str])
        except msgspec.DecodeError:
            raise BinanceError(-1100, "Illegal characters found in parameter "
                                      "'symbols'.") from None
        wanted = {api.symbol({"symbol": i}) for i in ids}
    rows = [B.symbol_info(api.names, info) for info in reply.symbols
            if wanted is None or info.symbol in wanted]
    return {"timezone": "UTC", "serverTime": now_ms(), "rateLimits": [],
            "exchangeFilters": [], "symbols": rows}


async def depth(api: Api, request: web.Request, params: dict[str, str]) -> Any:
    symbol = api.symbol(params)
    limit = B.limit_param(params, 100, 5000)
    reply = await api.ask(api.public, M.Book(symbol=symbol, depth=limit))
    assert isinstance(reply, R.BookReply)
    return {"lastUpdateId": reply.seq, "bids": reply.bids, "asks": reply.asks}


async def _trades(api: Api, params: dict[str, str]) -> list[R.Trade]:
    symbol = api.symbol(params)
    limit = B.limit_param(params, 500)
    from_id = B.int_param(params, "fromId")
    start = B.int_param(params, "startTime")
    end = B.int_param(params, "endTime")
    filtered = from_id is not None or start is not None or end is not None
    reply = await api.ask(api.public, M.Trades(symbol=symbol, limit=10_000 if filtered
                                               else limit))
    assert isinstance(reply, R.TradesReply)
    trades = reply.trades
    if filtered:
        trades = [t for t in trades if (from_id is None or t.trade_id >= from_id)
                  and (start is None or B.ms(t.ts) >= start)
                  and (end is None or B.ms(t.ts) <= end)]
        trades = trades[:limit] if from_id is not None or start is not None else trades[-limit:]
    return trades


async def trades(api: Api, request: web.Request, params: dict[str, str]) -> Any:
    return [B.trade(t) for t in await _trades(api, params)]


async def agg_trades(api: Api, request: web.Request, params: dict[str, str]) -> Any:
    return [B.agg_trade(t) for t in await _trades(api, params)]


async def klines(api: Api, request: web.Request, params: dict[str, str]) -> Any:
    symbol = api.symbol(params)
    interval = params.get("interval")
    if not interval:
        raise B.mandatory("interval")
    span = B.INTERVAL_MS.get(interval)
    if span is None:
        raise BinanceError(-1120, "Invalid interval.")
    limit = B.limit_param(params, 500)
    start = B.int_param(params, "startTime")
    end = B.int_param(params, "endTime")
    reply = await api.ask(api.public, M.Candles(symbol=symbol, interval=interval,  # type: ignore[arg-type]
                                                limit=10_000 if start or end else limit))
    assert isinstance(reply, R.CandlesReply)
    rows = [B.kline(c, span) for c in reply.candles]
    if start is not None or end is not None:
        rows = [r for r in rows if (start is None or r[0] + span > start)
                and (end is None or r[0] <= end)]
        rows = rows[:limit] if start is not None else rows[-limit:]
    return rows


async def _quotes(api: Api, params: dict[str, str]) -> tuple[bool, list[R.QuoteReply]]:
    """The quote of the ``symbol`` asked for (True), or of every symbol (False)."""
    symbol = api.names.symbol(params, required=False)
    symbols = [symbol] if symbol is not None else list(api.names.to_id)
    quotes = await asyncio.gather(*(api.public.reply(M.Quote(symbol=s)) for s in symbols))
    out = []
    for quote in quotes:
        checked = _check(quote)
        assert isinstance(checked, R.QuoteReply)
        out.append(checked)
    return symbol is not None, out


async def ticker_24hr(api: Api, request: web.Request, params: dict[str, str]) -> Any:
    one, quotes = await _quotes(api, params)
    now = now_ms()
    rows = [B.ticker_24hr(api.names, q, now) for q in quotes]
    return rows[0] if one else rows


async def ticker_price(api: Api, request: web.Request, params: dict[str, str]) -> Any:
    one, quotes = await _quotes(api, params)
    rows = [{"symbol": api.names.to_id[q.symbol], "price": q.last or "0"} for q in quotes]
    return rows[0] if one else rows


async def book_ticker(api: Api, request: web.Request, params: dict[str, str]) -> Any:
    one, quotes = await _quotes(api, params)
    rows = [B.book_ticker(api.names, q) for q in quotes]
    return rows[0] if one else rows


# -- signed endpoints ----------------------------------------------------------------------

async def new_order(api: Api, request: web.Request, session: HttpSession,
                    params: dict[str, str]) -> Any:
    message, resp = B.place(params, api.symbol(params))
    reply = await api.ask(session, message)
    if isinstance(reply, R.Rejected):
        api.userdata.report(session.user, reply.order, None, "REJECTED")
        raise B.rejected(reply.order)
    assert isinstance(reply, R.Accepted)
    if reply.duplicate:
        raise BinanceError(-2010, "Duplicate order sent.")
    api.userdata.accepted(session.user, reply.order, reply.fills)
    return B.new_order(api.names, reply.order, reply.fills, resp, now_ms())


async def _addressed(api: Api, session: HttpSession, params: dict[str, str],
                     cancel: bool = False) -> R.Order:
    """The user's order that ``orderId``/``origClientOrderId`` names, on ``symbol``."""
    symbol = api.symbol(params)
    address = B.order_address(params)
    reply = await api.ask(session, M.Status(**address), lookup=True, cancel=cancel)
    assert isinstance(reply, R.OrderReply)
    if reply.order.symbol != symbol:
        raise BinanceError(*(B.UNKNOWN_ORDER_SENT if cancel else B.NO_SUCH_ORDER))
    return reply.order


async def get_order(api: Api, request: web.Request, session: HttpSession,
                    params: dict[str, str]) -> Any:
    return B.order(api.names, await _addressed(api, session, params))


async def cancel_order(api: Api, request: web.Request, session: HttpSession,
                       params: dict[str, str]) -> Any:
    order = await _addressed(api, session, params, cancel=True)
    reply = await api.ask(session, M.Cancel(order_id=order.order_id), cancel=True)
    assert isinstance(reply, R.Canceled)
    api.userdata.report(session.user, reply.order, None, "CANCELED")
    return B.canceled(api.names, reply.order, now_ms())


async def open_orders(api: Api, request: web.Request, session: HttpSession,
                      params: dict[str, str]) -> Any:
    symbol = api.names.symbol(params, required=False)
    reply = await api.ask(session, M.Orders(symbol=symbol, status="live"))
    assert isinstance(reply, R.OrdersReply)
    return [B.order(api.names, o) for o in reply.orders]


async def cancel_open_orders(api: Api, request: web.Request, session: HttpSession,
                             params: dict[str, str]) -> Any:
    symbol = api.symbol(params)
    reply = await api.ask(session, M.CancelAll(symbol=symbol), cancel=True)
    assert isinstance(reply, R.CanceledAll)
    statuses = await asyncio.gather(*(session.reply(M.Status(order_id=i))
                                      for i in reply.order_ids))
    now = now_ms()
    out = []
    for status in statuses:
        if isinstance(status, R.OrderReply):
            api.userdata.report(session.user, status.order, None, "CANCELED")
            out.append(B.canceled(api.names, status.order, now))
    return out


async def all_orders(api: Api, request: web.Request, session: HttpSession,
                     params: dict[str, str]) -> Any:
    symbol = api.symbol(params)
    limit = B.limit_param(params, 500)
    from_id = B.int_param(params, "orderId")
    start = B.int_param(params, "startTime")
    end = B.int_param(params, "endTime")
    reply = await api.ask(session, M.Orders(symbol=symbol, status="all"))
    assert isinstance(reply, R.OrdersReply)
    rows = [B.order(api.names, o) for o in sorted(reply.orders, key=lambda o: o.order_id)]
    rows = [r for r in rows if (from_id is None or r["orderId"] >= from_id)
            and (start is None or r["time"] >= start) and (end is None or r["time"] <= end)]
    return rows[:limit] if from_id is not None or start is not None else rows[-limit:]


async def account(api: Api, request: web.Request, session: HttpSession,
                  params: dict[str, str]) -> Any:
    balances = await api.userdata.balances(session)
    return {
        "makerCommission": 0, "takerCommission": 0, "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {"maker": "0", "taker": "0", "buyer": "0", "seller": "0"},
        "canTrade": True, "canWithdraw": False, "canDeposit": False, "brokered": False,
        "requireSelfTradePrevention": False, "preventSor": False, "updateTime": now_ms(),
        "accountType": "SPOT", "balances": balances, "permissions": ["SPOT"],
        "uid": session.id,
    }


async def my_trades(api: Api, request: web.Request, session: HttpSession,
                    params: dict[str, str]) -> Any:
    symbol = api.symbol(params)
    limit = B.limit_param(params, 500)
    order_id = B.int_param(params, "orderId")
    from_id = B.int_param(params, "fromId")
    start = B.int_param(params, "startTime")
    end = B.int_param(params, "endTime")
    reply = await api.ask(session, M.Fills(symbol=symbol, limit=10_000))
    assert isinstance(reply, R.FillsReply)
    rows = [B.my_trade(api.names, f) for f in sorted(reply.fills, key=lambda f: f.trade_id)]
    rows = [r for r in rows if (order_id is None or r["orderId"] == order_id)
            and (from_id is None or r["id"] >= from_id)
            and (start is None or r["time"] >= start) and (end is None or r["time"] <= end)]
    return rows[:limit] if from_id is not None or start is not None else rows[-limit:]


# -- the user data stream's listenKey ------------------------------------------------------

async def new_listen_key(api: Api, request: web.Request, key: ApiKey,
                         params: dict[str, str]) -> Any:
    await api.user_session(key)  # its events feed the stream
    return {"listenKey": api.userdata.new_key(key.user)}


def _on_listen_key(act: Callable[[UserData, str, str], bool]
                   ) -> Callable[[Api, web.Request, ApiKey, dict[str, str]], Awaitable[Any]]:
    """``PUT`` and ``DELETE`` of a listenKey: the same checks, then keep it or close it."""
    async def run(api: Api, request: web.Request, key: ApiKey,
                  params: dict[str, str]) -> Any:
        listen_key = params.get("listenKey")
        if not listen_key:
            raise B.mandatory("listenKey")
        if not act(api.userdata, key.user, listen_key):
            raise BinanceError(-1125, "This listenKey does not exist.")
        return {}
    return run


keep_listen_key = _on_listen_key(UserData.keep)
close_listen_key = _on_listen_key(UserData.close)


def routes(app: web.Application) -> None:
    """Every endpoint of ``/api/v3``."""
    add = app.router.add_route
    for path, handler in (("ping", ping), ("time", server_time),
                          ("exchangeInfo", exchange_info), ("depth", depth),
                          ("trades", trades), ("historicalTrades", trades),
                          ("aggTrades", agg_trades), ("klines", klines),
                          ("uiKlines", klines), ("ticker/24hr", ticker_24hr),
                          ("ticker/price", ticker_price), ("ticker/bookTicker", book_ticker)):
        add("GET", f"/api/v3/{path}", public(handler))
    for method, path, s_handler in (
            ("POST", "order", new_order), ("GET", "order", get_order),
            ("DELETE", "order", cancel_order), ("GET", "openOrders", open_orders),
            ("DELETE", "openOrders", cancel_open_orders), ("GET", "allOrders", all_orders),
            ("GET", "account", account), ("GET", "myTrades", my_trades)):
        add(method, f"/api/v3/{path}", signed(s_handler))
    for method, k_handler in (("POST", new_listen_key), ("PUT", keep_listen_key),
                              ("DELETE", close_listen_key)):
        add(method, "/api/v3/userDataStream", keyed(k_handler))
