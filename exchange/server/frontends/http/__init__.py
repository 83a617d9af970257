"""The HTTP front-end: REST and WebSocket in the shape of Binance's spot API, and a live
web page, on aiohttp, on the server's event loop.

* ``/api/v3/...``: the REST API (:mod:`.rest`), public and signed endpoints;
* ``/ws/<stream>``, ``/stream?streams=``: market streams and the user data stream
  (:mod:`.streams`, :mod:`.userdata`);
* ``/``: the web page (``static/``), which uses nothing but the two above;
* ``/metrics``: the server's Prometheus metrics (docs/METRICS.md).

Requests become :mod:`protocol.messages` requests, dispatched through the gateway port on
:class:`~.session.HttpSession` objects; replies come back as :mod:`protocol.replies`
messages and are written in Binance's shape (:mod:`.binance`). See docs/HTTP.md.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from exchange.server import exposition
from exchange.server.frontends import Listener
from exchange.server.frontends.http import binance as B
from exchange.server.frontends.http.rest import API, Api, routes
from exchange.server.frontends.http.session import HttpSession
from exchange.server.frontends.http.streams import Streams
from exchange.server.frontends.http.userdata import UserData
from exchange.server.port import GatewayPort
from exchange.server.web_site import SiteListener, start_site
from protocol import messages as M
from protocol import replies as R

STATIC = Path(__file__).with_name("static")
"""The web page and what it loads (the chart library with its licence)."""

BACKLOG = 1024


class HttpListener(SiteListener):
    """The bound HTTP listener as the server sees it (see ``frontends.Listening``)."""

    def __init__(self, runner: web.AppRunner, server: asyncio.AbstractServer,
                 streams: Streams, api: Api) -> None:
        super().__init__(runner, server)
        self.streams = streams
        self.api = api

    async def closing(self) -> None:
        await self.streams.close_all()
        await self.runner.cleanup()
        for session in self.api.sessions():
            session.close()


async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html")


async def no_icon(request: web.Request) -> web.StreamResponse:
    return web.Response(status=204)


def application(gateway: GatewayPort, listener: Listener, names: B.Names,
                public: HttpSession) -> tuple[web.Application, Api, Streams]:
    """The aiohttp application of one exchange."""
    app = web.Application(client_max_size=64 * 1024)
    userdata = UserData(names)
    api = Api(gateway, listener.api_keys, names, public, userdata)
    streams = Streams(gateway, names, userdata)
    app[API] = api
    routes(app)
    streams.routes(app)
    app.router.add_get("/", index)
    app.router.add_get("/favicon.ico", no_icon)
    app.router.add_get("/metrics", exposition.handler(gateway.readings))
    app.router.add_static("/static/", STATIC)
    return app, api, streams


async def serve(gateway: GatewayPort, listener: Listener) -> HttpListener:
    public = HttpSession(gateway, gateway.next_session_id(), "http")
    gateway.session_opened(public)
    symbols = await public.reply(M.Symbols())
    assert isinstance(symbols, R.SymbolsReply)
    names = B.Names([s.symbol for s in symbols.symbols])
    gateway.symbol_listeners.append(names.add)  # symbols listed later (add_symbol)
    app, api, streams = application(gateway, listener, names, public)
    runner, server = await start_site(app, listener.host, listener.port, backlog=BACKLOG,
                                      ssl_context=listener.ssl)
    return HttpListener(runner, server, streams, api)
