"""The user data stream: listenKeys, and ``executionReport`` / ``outboundAccountPosition``
for everything that happens to a user's orders, whichever front-end placed them.

Two sources feed it. The user's HTTP session is one of the user's sessions to the
gateway, so the events every session of a user gets (a fill, a trigger, an expiry, a
cancel by the exchange, and what another session of the user did to an order) reach it
as pushed messages (:meth:`UserData.sink`); and the REST endpoints report what their own
replies say (an order accepted with its fills, a cancel), which the gateway sends to the
asking session only. After a report the user's balances follow, once per event-loop
turn, as ``outboundAccountPosition``.

An order placed on another front-end is reported NEW too: the user's HTTP session asks
to hear of placements (``hears_placements``), and the actor tells it with an ``accepted``
event before the order's fills and end, which then report as usual.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec

from exchange.server.frontends.http import binance as B
from exchange.server.frontends.http.outbox import Outbox
from exchange.server.frontends.http.session import HttpSession, Refused
from protocol import messages as M
from protocol import replies as R

LISTEN_KEY_TTL = 3600.0
"""Seconds a listenKey lives without a keep-alive (``PUT``), as on Binance."""

_encode = msgspec.json.Encoder().encode


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class UserData:
    """ListenKeys, the user data streams open on them, and their reports."""

    def __init__(self, names: B.Names) -> None:
        self.names = names
        self.keys: dict[str, tuple[str, float]] = {}
        """listenKey -> (user, expiry on the event loop's clock)."""
        self.streams: dict[str, list[Outbox]] = {}
        """user -> the user data streams open for the user."""
        self.sessions: dict[str, HttpSession] = {}
        """user -> the user's HTTP session (balances are asked on it)."""
        self._owed: set[str] = set()
        self._tasks: set[asyncio.Future[None]] = set()

    # -- listenKeys ----------------------------------------------------------------------------
    def _time(self) -> float:
        return asyncio.get_running_loop().time()

    def new_key(self, user: str) -> str:
        """A listenKey of ``user``'s (Binance hands out the one already open; so do we)."""
        now = self._time()
        for key, (owner, expiry) in self.keys.items():
            if owner == user and expiry > now:
                self.keys[key] = (user, now + LISTEN_KEY_TTL)
                return key
        key = secrets.token_urlsafe(48)
        self.keys[key] = (user, now + LISTEN_KEY_TTL)
        return key

    def keep(self, user: str, key: str) -> bool:
        found = self.keys.get(key)
        if found is None or found[0] != user or found[1] <= self._time():
            return False
        self.keys[key] = (user, self._time() + LISTEN_KEY_TTL)
        return True

    def close(self, user: str, key: str) -> bool:
        found = self.keys.get(key)
        if found is None or found[0] != user:
            return False
        del self.keys[key]
        return True

    def user_of(self, key: str) -> str | None:
        found = self.keys.get(key)
        if found is None or found[1] <= self._time():
            return None
        return found[0]

    def attach(self, user: str, box: Outbox) -> None:
        self.streams.setdefault(user, []).append(box)

    def detach(self, user: str, box: Outbox) -> None:
        left = [b for b in self.streams.get(user, []) if b is not box]
        if left:
            self.streams[user] = left
        else:
            self.streams.pop(user, None)

    # -- reports -------------------------------------------------------------------------------
    def sink(self, user: str) -> Callable[[R.Message], None]:
        """What the user's HTTP session does with a pushed event."""
        def on_event(event: R.Message) -> None:
            if not self.streams.get(user):
                return
            if isinstance(event, R.FillEvent):
                self.report(user, event.order, event.fill, "TRADE")
            elif isinstance(event, R.Canceled):
                self.report(user, event.order, None, "CANCELED")
            elif isinstance(event, R.Expired):
                self.report(user, event.order, None, "EXPIRED")
            elif isinstance(event, R.Triggered):
                self.report(user, event.order, None, "NEW")
            elif isinstance(event, R.Accepted):  # placed on another front-end
                self.report(user, event.order, None, "NEW", status="NEW", filled="0")
        return on_event

    def accepted(self, user: str | None, order: R.Order, fills: list[R.Fill]) -> None:
        """A new order the REST API placed: NEW, then a TRADE report per fill."""
        if user is None or not self.streams.get(user):
            return
        self.report(user, order, None, "NEW", status="NEW", filled="0")
        cum = Decimal(0)
        for fill in fills:
            cum += Decimal(fill.qty)
            self.report(user, order, fill, "TRADE", filled=B.plain(cum))
        if fills and order.status in ("canceled", "expired"):
            self.report(user, order, None, order.status.upper())

    def report(self, user: str | None, order: R.Order, fill: R.Fill | None, kind: str,
               status: str | None = None, filled: str | None = None) -> None:
        """One ``executionReport`` to every user data stream of ``user``."""
        if user is None:
            return
        boxes = self.streams.get(user)
        if not boxes:
            return
        now = _now_ms()
        created = B.ms(order.accepted_at)
        row: dict[str, Any] = {
            "e": "executionReport", "E": now, "s": self.names.to_id[order.symbol],
            "c": order.client_order_id or "", "S": B.side(order.side),
            "o": B.order_type(order), "f": B.tif(order), "q": order.qty,
            "p": order.price or "0", "P": order.stop_price or "0", "F": "0", "g": -1,
            "C": "", "x": kind, "X": status or B.status(order), "r": "NONE",
            "i": order.order_id, "l": fill.qty if fill else "0",
            "z": filled if filled is not None else order.filled_qty,
            "L": fill.price if fill else "0", "n": fill.fee if fill else "0",
            "N": B.QUOTE if fill else None,
            "T": B.ms(fill.ts) if fill else now, "t": fill.trade_id if fill else -1,
            "I": 0, "w": order.status in ("accepted", "partially_filled"),
            "m": fill.liquidity == "maker" if fill else False, "M": False, "O": created,
            "Z": B.quote_qty(order), "Y": B.product(fill.price, fill.qty) if fill else "0",
            "Q": "0", "W": created, "V": "NONE",
        }
        data = _encode(row)
        for box in boxes:
            box.put(data)
        if user not in self._owed:
            self._owed.add(user)
            asyncio.get_running_loop().call_soon(self._positions, user)

    def _positions(self, user: str) -> None:
        self._owed.discard(user)
        session = self.sessions.get(user)
        if session is None or not self.streams.get(user):
            return
        task = asyncio.ensure_future(self._send_positions(user, session))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_positions(self, user: str, session: HttpSession) -> None:
        try:
            balances = await self.balances(session)
        except (Refused, B.BinanceError):
            return
        now = _now_ms()
        data = _encode({"e": "outboundAccountPosition", "E": now, "u": now,
                        "B": [{"a": b["asset"], "f": b["free"], "l": b["locked"]}
                              for b in balances]})
        for box in self.streams.get(user, []):
            box.put(data)

    async def balances(self, session: HttpSession) -> list[dict[str, str]]:
        """The user's balances in Binance's shape: cash as USD, each holding as its base
        asset (``free`` is what is not held by open sell orders)."""
        cash = await session.reply(M.Balance())
        held = await session.reply(M.Portfolio())
        if isinstance(cash, R.Error):
            raise B.from_error(cash)
        if isinstance(held, R.Error):
            raise B.from_error(held)
        assert isinstance(cash, R.BalanceReply) and isinstance(held, R.PortfolioReply)
        rows = {B.QUOTE: {"asset": B.QUOTE, "free": cash.available, "locked": cash.reserved}}
        for symbol in self.names.to_id:
            base = B.base_asset(symbol)
            rows[base] = {"asset": base, "free": "0", "locked": "0"}
        for pos in held.positions:
            base = B.base_asset(pos.symbol)
            locked = B.plain(Decimal(pos.qty) - Decimal(pos.available))
            rows[base] = {"asset": base, "free": pos.available, "locked": locked or "0"}
        return list(rows.values())
