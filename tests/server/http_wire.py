"""A small Binance-style HTTP client for the tests: public and signed requests by hand,
so that each test says exactly what goes on the wire (ccxt is tested on its own)."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp

from tests.server.conftest import BASE_CONFIG

Body = Any

HTTP_CONFIG = re.sub(r'token = "(\w+)-token"\n',
                     r'token = "\1-token"\napi_key = "\1-key"\napi_secret = "\1-secret"\n',
                     BASE_CONFIG)
"""The test market (BASE_CONFIG) with an API key for every user: ``<user>-key`` and
``<user>-secret``."""


class Http:
    """Requests to one HTTP front-end as one user (``alice`` -> ``alice-key``)."""

    def __init__(self, session: aiohttp.ClientSession, addr: tuple[str, int],
                 user: str | None = None) -> None:
        self.session = session
        self.base = f"http://{addr[0]}:{addr[1]}"
        self.user = user

    @property
    def key(self) -> str:
        return f"{self.user}-key"

    @property
    def secret(self) -> str:
        return f"{self.user}-secret"

    async def get(self, path: str, **params: Any) -> tuple[int, Body]:
        async with self.session.get(f"{self.base}{path}", params=params) as resp:
            return resp.status, await resp.json()

    async def raw(self, method: str, path: str, query: str = "", body: str = "",
                  headers: dict[str, str] | None = None) -> tuple[int, Body]:
        url = f"{self.base}{path}" + (f"?{query}" if query else "")
        hdrs = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        async with self.session.request(method, url, data=body.encode(), headers=hdrs) as resp:
            return resp.status, await resp.json()

    def sign(self, payload: str, secret: str | None = None) -> str:
        return hmac.new((secret or self.secret).encode(), payload.encode(),
                        hashlib.sha256).hexdigest()

    async def signed(self, method: str, path: str, in_body: bool | None = None,
                     timestamp: int | None = None, **params: Any) -> tuple[int, Body]:
        """A signed request: parameters in the body for POST (else the query), with the
        timestamp and signature; ``in_body`` overrides where they go."""
        params = {k: v for k, v in params.items() if v is not None}
        params["timestamp"] = timestamp if timestamp is not None else int(time.time() * 1000)
        text = urlencode(params)
        text += "&signature=" + self.sign(text)
        body_side = method == "POST" if in_body is None else in_body
        return await self.raw(method, path, "" if body_side else text,
                              text if body_side else "", {"X-MBX-APIKEY": self.key})

    async def order(self, symbol: str, side: str, quantity: str, price: str | None = None,
                    type: str = "LIMIT", **more: Any) -> tuple[int, Body]:
        if type in ("LIMIT", "STOP_LOSS_LIMIT") and "timeInForce" not in more:
            more["timeInForce"] = "GTC"
        return await self.signed("POST", "/api/v3/order", symbol=symbol, side=side,
                                 type=type, quantity=quantity, price=price, **more)

    async def order_id(self, symbol: str, side: str, quantity: str, price: str | None = None,
                       type: str = "LIMIT", **more: Any) -> int:
        status, body = await self.order(symbol, side, quantity, price, type, **more)
        assert status == 200, body
        return int(body["orderId"])
