"""One typed method per op of the protocol, in the order of PROTOCOL.md.

`Commands` only builds requests and checks reply types; sending is `Client.request`'s job
(redis-py splits its commands from its connection the same way). Requests are built with
`msgspec.convert`, so they pass the very validation the server applies to what it decodes:
a limit order without a price, an empty symbol or a `gtd` order without `ttl_ms` raises
`InvalidRequest` here and is never sent.

Decimals (prices, quantities, amounts) are accepted as `Decimal`, `str` or `int`. A `float`
is refused: `0.1` is not one tenth in binary, and an exchange client must not guess.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeAlias, TypeVar

import msgspec

from client.errors import InvalidRequest, ProtocolViolation
from protocol import messages as m
from protocol import replies as r
from protocol.fields import (
    Channel,
    ExpireScope,
    Interval,
    OrderKind,
    OrdersFilter,
    Side,
    Stp,
    Tif,
    decimal_hook,
)

__all__ = ["Commands", "DecimalLike"]

DecimalLike: TypeAlias = Decimal | str | int
"""A price, quantity or amount: a `Decimal`, a decimal string such as `"150.25"`, or an int."""

R = TypeVar("R", bound=r.ReplyBase)
Q = TypeVar("Q", bound=m.RequestBase)


def to_decimal(value: DecimalLike | None, name: str) -> Decimal | None:
    """Check and convert one decimal argument (None stays None)."""
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidRequest(
            f"`{name}` must be a Decimal, a decimal string or an int, not {type(value).__name__}"
        )
    try:
        return Decimal(value)
    except InvalidOperation:
        raise InvalidRequest(f"`{name}` is not a decimal: {value!r}") from None


def build(request_type: type[Q], **fields: Any) -> Q:
    """A request Struct, validated as the server would validate it."""
    try:
        return msgspec.convert(fields, request_type, dec_hook=decimal_hook)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(str(exc)) from None


def _order(order_id: int | None, client_order_id: str | None) -> dict[str, Any]:
    return {"order_id": order_id, "client_order_id": client_order_id}


class Commands(ABC):
    """The protocol's ops as typed async methods. Each returns the reply Struct.

    An `error` reply raises the `ServerError` subclass for its code; a reply of a type the op
    cannot produce raises `ProtocolViolation`.
    """

    @abstractmethod
    async def request(self, request: m.RequestBase, *, timeout: float | None = ...) -> r.Reply:
        """Send one request and return its reply (an `error` reply is raised)."""

    async def _call(self, request: m.RequestBase, expected: type[R]) -> R:
        reply = await self.request(request)
        if not isinstance(reply, expected):
            raise ProtocolViolation(
                f"expected a {expected.__name__} reply to {type(request).__name__}, got {reply!r}"
            )
        return reply

    # --- session ------------------------------------------------------------------------

    async def login(self, user: str, token: str, otp: str | None = None) -> r.Welcome:
        """Log this session in as `user` (raises `AuthFailedError`); `otp` is the current
        one-time code, for a user who turned two-factor login on."""
        return await self._call(build(m.Login, user=user, token=token, otp=otp), r.Welcome)

    async def ping(self) -> r.Pong:
        return await self._call(m.Ping(), r.Pong)

    async def help(self) -> r.HelpReply:
        return await self._call(m.Help(), r.HelpReply)

    # --- orders -------------------------------------------------------------------------

    async def place(
        self,
        symbol: str,
        side: Side,
        qty: DecimalLike,
        price: DecimalLike | None = None,
        *,
        kind: OrderKind = "limit",
        tif: Tif | None = None,
        stop_price: DecimalLike | None = None,
        ttl_ms: int | None = None,
        expire_at: datetime | str | None = None,
        post_only: bool = False,
        stp: Stp = "none",
        client_order_id: str | None = None,
    ) -> r.Accepted | r.Rejected:
        """Place an order. A rejected order is returned (`Rejected`), not raised.

        Give a `client_order_id` to make the call safe to repeat: placing again with an id
        already used returns the existing order with `duplicate=True` and places nothing.
        `expire_at` is an aware `datetime` or an RFC 3339 string.
        """
        request = build(
            m.Place,
            symbol=symbol,
            side=side,
            qty=to_decimal(qty, "qty"),
            price=to_decimal(price, "price"),
            kind=kind,
            tif=tif,
            stop_price=to_decimal(stop_price, "stop_price"),
            ttl_ms=ttl_ms,
            expire_at=expire_at,
            post_only=post_only,
            stp=stp,
            client_order_id=client_order_id,
        )
        reply = await self.request(request)
        if not isinstance(reply, r.Accepted | r.Rejected):
            raise ProtocolViolation(f"expected accepted or rejected, got {reply!r}")
        return reply

    async def modify(
        self,
        order_id: int | None = None,
        *,
        client_order_id: str | None = None,
        qty: DecimalLike | None = None,
        price: DecimalLike | None = None,
    ) -> r.Modified:
        """Change an order's total `qty` and/or its `price`."""
        request = build(
            m.Modify,
            **_order(order_id, client_order_id),
            qty=to_decimal(qty, "qty"),
            price=to_decimal(price, "price"),
        )
        return await self._call(request, r.Modified)

    async def cancel(
        self, order_id: int | None = None, *, client_order_id: str | None = None
    ) -> r.Canceled:
        return await self._call(build(m.Cancel, **_order(order_id, client_order_id)), r.Canceled)

    async def cancel_all(self, symbol: str | None = None) -> r.CanceledAll:
        return await self._call(build(m.CancelAll, symbol=symbol), r.CanceledAll)

    async def pause(
        self, order_id: int | None = None, *, client_order_id: str | None = None
    ) -> r.Paused:
        return await self._call(build(m.Pause, **_order(order_id, client_order_id)), r.Paused)

    async def resume(
        self, order_id: int | None = None, *, client_order_id: str | None = None
    ) -> r.Resumed:
        return await self._call(build(m.Resume, **_order(order_id, client_order_id)), r.Resumed)

    async def status(
        self, order_id: int | None = None, *, client_order_id: str | None = None
    ) -> r.OrderReply:
        request = build(m.Status, **_order(order_id, client_order_id))
        return await self._call(request, r.OrderReply)

    async def orders(
        self, symbol: str | None = None, *, status: OrdersFilter = "live"
    ) -> r.OrdersReply:
        return await self._call(build(m.Orders, symbol=symbol, status=status), r.OrdersReply)

    async def fills(self, symbol: str | None = None, *, limit: int = 100) -> r.FillsReply:
        return await self._call(build(m.Fills, symbol=symbol, limit=limit), r.FillsReply)

    # --- accounts -----------------------------------------------------------------------

    async def balance(self) -> r.BalanceReply:
        return await self._call(m.Balance(), r.BalanceReply)

    async def deposit(self, amount: DecimalLike) -> r.BalanceReply:
        request = build(m.Deposit, amount=to_decimal(amount, "amount"))
        return await self._call(request, r.BalanceReply)

    async def withdraw(self, amount: DecimalLike) -> r.BalanceReply:
        """Withdraw cash; reserved cash cannot be withdrawn (`InsufficientFundsError`)."""
        request = build(m.Withdraw, amount=to_decimal(amount, "amount"))
        return await self._call(request, r.BalanceReply)

    async def portfolio(self) -> r.PortfolioReply:
        return await self._call(m.Portfolio(), r.PortfolioReply)

    # --- market data --------------------------------------------------------------------

    async def symbols(self) -> r.SymbolsReply:
        return await self._call(m.Symbols(), r.SymbolsReply)

    async def book(self, symbol: str, depth: int = 10) -> r.BookReply:
        return await self._call(build(m.Book, symbol=symbol, depth=depth), r.BookReply)

    async def quote(self, symbol: str) -> r.QuoteReply:
        return await self._call(build(m.Quote, symbol=symbol), r.QuoteReply)

    async def trades(self, symbol: str, limit: int = 50) -> r.TradesReply:
        return await self._call(build(m.Trades, symbol=symbol, limit=limit), r.TradesReply)

    async def candles(self, symbol: str, interval: Interval, limit: int = 100) -> r.CandlesReply:
        request = build(m.Candles, symbol=symbol, interval=interval, limit=limit)
        return await self._call(request, r.CandlesReply)

    async def subscribe(self, channel: Channel, symbol: str) -> r.Subscribed:
        """Subscribe this session to a stream; its messages arrive as events.

        The subscription is remembered and renewed after a reconnect. To read one stream
        on its own, `Client.stream` is usually simpler.
        """
        return await self._call(build(m.Subscribe, channel=channel, symbol=symbol), r.Subscribed)

    async def unsubscribe(self, channel: Channel, symbol: str) -> r.Unsubscribed:
        request = build(m.Unsubscribe, channel=channel, symbol=symbol)
        return await self._call(request, r.Unsubscribed)

    async def alert(
        self,
        symbol: str,
        *,
        above: DecimalLike | None = None,
        below: DecimalLike | None = None,
    ) -> r.AlertSet:
        """A one-shot alert: an `AlertEvent` comes once the last price reaches the level."""
        request = build(
            m.Alert,
            symbol=symbol,
            above=to_decimal(above, "above"),
            below=to_decimal(below, "below"),
        )
        return await self._call(request, r.AlertSet)

    # --- administration -----------------------------------------------------------------

    async def halt(self, symbol: str) -> r.Halted:
        return await self._call(build(m.Halt, symbol=symbol), r.Halted)

    async def resume_trading(self, symbol: str) -> r.TradingResumed:
        return await self._call(build(m.ResumeTrading, symbol=symbol), r.TradingResumed)

    async def close_market(self, expire: ExpireScope = "day") -> r.MarketClosed:
        """Close the market: `day` orders expire (every live order with `expire="all"`)."""
        return await self._call(build(m.CloseMarket, expire=expire), r.MarketClosed)

    async def open_market(self) -> r.MarketOpened:
        return await self._call(m.OpenMarket(), r.MarketOpened)

    async def stats(self) -> r.StatsReply:
        return await self._call(m.Stats(), r.StatsReply)

    # --- account administration and profiles --------------------------------------------

    async def profile(self, user: str | None = None) -> r.ProfileReply:
        """This session's own profile, or (administrators) another `user`'s."""
        return await self._call(build(m.Profile, user=user), r.ProfileReply)

    async def update_profile(
        self,
        *,
        name: str | None = None,
        phone: str | None = None,
        email: str | None = None,
        user: str | None = None,
    ) -> r.ProfileReply:
        """Change the fields given (`""` clears one) of this session's own profile, or
        (administrators) of another `user`'s. The user id and admin flag cannot change."""
        request = build(m.UpdateProfile, user=user, name=name, phone=phone, email=email)
        return await self._call(request, r.ProfileReply)

    async def create_user(
        self,
        user: str,
        *,
        name: str = "",
        phone: str = "",
        email: str = "",
        admin: bool = False,
        cash: DecimalLike | None = None,
        holdings: dict[str, DecimalLike] | None = None,
    ) -> r.UserCreated:
        """Administrators: register a user with starting cash and `{symbol: qty}` of
        holdings. The reply's `token` is shown this once (the exchange keeps only its
        hash): hand it to the user."""
        held = {s: to_decimal(q, f"holdings.{s}") for s, q in (holdings or {}).items()}
        request = build(m.CreateUser, user=user, name=name, phone=phone, email=email,
                        admin=admin, cash=to_decimal(cash, "cash"), holdings=held)
        return await self._call(request, r.UserCreated)

    async def disable_user(self, user: str) -> r.UserDisabled:
        """Administrators: end the user's sessions, cancel their live orders and refuse
        their logins until `enable_user`."""
        return await self._call(build(m.DisableUser, user=user), r.UserDisabled)

    async def enable_user(self, user: str) -> r.UserEnabled:
        return await self._call(build(m.EnableUser, user=user), r.UserEnabled)

    async def add_symbol(
        self,
        symbol: str,
        tick_size: DecimalLike,
        lot_size: DecimalLike,
        *,
        reference_price: DecimalLike | None = None,
        price_band: DecimalLike | None = None,
        max_price: DecimalLike | None = None,
        max_qty: DecimalLike | None = None,
    ) -> r.SymbolAdded:
        """Administrators: list a symbol now (the fields of the config's `[[symbols]]`)."""
        request = build(
            m.AddSymbol,
            symbol=symbol,
            tick_size=to_decimal(tick_size, "tick_size"),
            lot_size=to_decimal(lot_size, "lot_size"),
            reference_price=to_decimal(reference_price, "reference_price"),
            price_band=to_decimal(price_band, "price_band"),
            max_price=to_decimal(max_price, "max_price"),
            max_qty=to_decimal(max_qty, "max_qty"),
        )
        return await self._call(request, r.SymbolAdded)
    # --- two-factor login, watchlists and symbol search -----------------------------------

    async def otp_setup(self) -> r.OtpSetupReply:
        """A new two-factor secret and its `otpauth://` URI (for an authenticator app).
        Two-factor login stays off until `otp_enable` with a code of this secret."""
        return await self._call(m.OtpSetup(), r.OtpSetupReply)

    async def otp_enable(self, code: str) -> r.OtpEnabled:
        """Turn two-factor login on; `code` is a current code of the secret set up (a
        wrong one raises `AuthFailedError`). From then on `login` needs `otp`."""
        return await self._call(build(m.OtpEnable, code=code), r.OtpEnabled)

    async def otp_disable(self, code: str) -> r.OtpDisabled:
        """Turn two-factor login off, with a current code."""
        return await self._call(build(m.OtpDisable, code=code), r.OtpDisabled)

    async def watchlist(self) -> r.WatchlistReply:
        """The user's watchlist, each symbol with its quote, in the order added."""
        return await self._call(m.Watchlist(), r.WatchlistReply)

    async def watch(self, symbol: str) -> r.WatchlistReply:
        """Add `symbol` to the watchlist (already there: nothing changes); the new list."""
        return await self._call(build(m.Watch, symbol=symbol), r.WatchlistReply)

    async def unwatch(self, symbol: str) -> r.WatchlistReply:
        """Take `symbol` off the watchlist; the new list."""
        return await self._call(build(m.Unwatch, symbol=symbol), r.WatchlistReply)

    async def search(self, query: str, limit: int = 20) -> r.SearchReply:
        """Symbols by prefix of the symbol or by words of their name, best match first."""
        return await self._call(build(m.Search, query=query, limit=limit), r.SearchReply)

    # --- history, audit trail, reports and the inbox ----------------------------------
    # Times are aware datetimes (a naive one is refused: it names no instant); a page
    # goes on with `after=` the last id of the one before while `more` is true.

    async def order_history(
        self, symbol: str | None = None, *, start: datetime | None = None,
        end: datetime | None = None, after: int = 0, limit: int = 1000,
    ) -> r.OrderHistoryReply:
        return await self._call(build(m.OrderHistory, symbol=symbol, start=start, end=end,
                                      after=after, limit=limit), r.OrderHistoryReply)

    async def fill_history(
        self, symbol: str | None = None, *, start: datetime | None = None,
        end: datetime | None = None, after: int = 0, limit: int = 1000,
    ) -> r.FillHistoryReply:
        return await self._call(build(m.FillHistory, symbol=symbol, start=start, end=end,
                                      after=after, limit=limit), r.FillHistoryReply)

    async def trade_history(
        self, symbol: str, *, start: datetime | None = None, end: datetime | None = None,
        after: int = 0, limit: int = 1000,
    ) -> r.TradeHistoryReply:
        return await self._call(build(m.TradeHistory, symbol=symbol, start=start, end=end,
                                      after=after, limit=limit), r.TradeHistoryReply)

    async def candle_history(
        self, symbol: str, interval: Interval, *, start: datetime | None = None,
        end: datetime | None = None, limit: int = 1000,
    ) -> r.CandleHistoryReply:
        return await self._call(build(m.CandleHistory, symbol=symbol, interval=interval,
                                      start=start, end=end, limit=limit),
                                r.CandleHistoryReply)

    async def audit(
        self, user: str | None = None, *, start: datetime | None = None,
        end: datetime | None = None, after: int = 0, limit: int = 1000,
    ) -> r.AuditReply:
        """The audit trail: one's own, or (administrators) ``user``'s."""
        return await self._call(build(m.Audit, user=user, start=start, end=end, after=after,
                                      limit=limit), r.AuditReply)

    async def report_confirmations(
        self, *, start: datetime | None = None, end: datetime | None = None,
    ) -> r.ReportReply:
        """Trade confirmations in ``[start, end)`` as CSV (``reply.csv``)."""
        return await self._call(build(m.Report, kind="confirmations", start=start, end=end),
                                r.ReportReply)

    async def report_gains(self, year: int) -> r.ReportReply:
        """Realized gains per sale in a calendar year (UTC) as CSV (``reply.csv``)."""
        return await self._call(build(m.Report, kind="gains", year=year), r.ReportReply)

    async def inbox(self, *, since: int | None = None, limit: int = 100) -> r.InboxReply:
        """Notifications: those after ``since``, or the unread ones first."""
        return await self._call(build(m.Inbox, since=since, limit=limit), r.InboxReply)

    async def inbox_read(
        self, ids: list[int] | None = None, *, up_to: int | None = None,
    ) -> r.InboxMarked:
        """Mark notifications read: ``ids``, or all up to ``up_to``, or (neither) all."""
        return await self._call(build(m.InboxRead, ids=ids, up_to=up_to), r.InboxMarked)
