"""The asyncio client library of the exchange.

```python
import asyncio
from client import Accepted, Client, FillEvent, InsufficientFundsError, TradeEvent

async def main() -> None:
    async with Client.connect("127.0.0.1", 7878, user="alice", token="alice-token") as c:
        reply = await c.place("AAPL", "buy", 10, "150.25", client_order_id="my-1")
        if isinstance(reply, Accepted):
            print("order", reply.order.order_id, reply.order.status)
        else:  # Rejected: a result, not an exception
            print("rejected:", reply.order.reason)

        # Many requests at once on one connection: each reply finds its own caller.
        quotes = await asyncio.gather(*(c.quote(s) for s in ("AAPL", "MSFT", "TSLA")))
        print([(q.symbol, q.bid, q.ask) for q in quotes])

        # One stream on its own: subscribed on entry, unsubscribed on exit.
        async with c.stream("trades", "AAPL") as trades:
            await c.place("AAPL", "sell", 5, "150.25")  # trades with our own bid
            async for event in trades:
                if isinstance(event, TradeEvent):
                    print("trade", event.trade.qty, "@", event.trade.price)
                    break

        # Everything pushed to this session: fills, expiries, alerts, stream messages.
        async with asyncio.timeout(5):
            async for event in c.events():
                if isinstance(event, FillEvent):  # our resting bid was the maker
                    print("filled", event.fill.qty, "@", event.fill.price)
                    break

        try:
            await c.withdraw("1e9")
        except InsufficientFundsError as err:
            print(err.code, err.message)

asyncio.run(main())
```

What to know:

- Every method returns the reply Struct of `protocol.replies` (re-exported here). An
  `error` reply raises the `ServerError` subclass of its code; a rejected order is returned.
- Exceptions share one base, `ExchangeError`. Socket errors surface as `ConnectionClosed`
  (a `ConnectionError`), timeouts as `RequestTimeout` (a `TimeoutError`).
- A request that times out or whose task is cancelled is forgotten; its late reply is
  discarded and never handed to another caller.
- `events()` is bounded (`max_events`, default 10,000): when full, the oldest event is
  dropped and counted in `dropped_events`.
- `reconnect=True` reconnects with capped, jittered exponential backoff, logs in again and
  renews subscriptions. Requests in flight at the loss fail with `ConnectionClosed`; new
  requests wait for the new connection (within their timeout). Re-sending a `place` with
  the same `client_order_id` after a reconnect is safe: if the server already has the order
  it answers `accepted` with the existing order and `duplicate=True`, and places nothing.
"""

from client.client import Client
from client.commands import DecimalLike
from client.errors import (
    AuthFailedError,
    AuthRequiredError,
    BadJsonError,
    BadRequestError,
    BadStateError,
    ConnectFailed,
    ConnectionClosed,
    ExchangeError,
    ForbiddenError,
    InsufficientFundsError,
    InsufficientHoldingsError,
    InvalidRequest,
    LineTooLongError,
    NotLiveError,
    ProtocolViolation,
    RateLimitedError,
    RequestTimeout,
    ServerBusyError,
    ServerError,
    UnknownOpError,
    UnknownOrderError,
    UnknownSymbolError,
)
from client.events import Event, EventQueue
from client.streams import Stream
from protocol.replies import (
    Accepted,
    AlertEvent,
    AlertSet,
    AuditEvent,
    AuditReply,
    BalanceReply,
    BookReply,
    BookUpdate,
    Bye,
    Canceled,
    CanceledAll,
    Candle,
    CandleHistoryReply,
    CandlesReply,
    Expired,
    Fill,
    FillEvent,
    FillHistoryReply,
    FillsReply,
    Halted,
    HelpReply,
    InboxMarked,
    InboxReply,
    MarketClosed,
    MarketOpened,
    Modified,
    Notification,
    Order,
    OrderHistoryReply,
    OrderReply,
    OrdersReply,
    OtpDisabled,
    OtpEnabled,
    OtpSetupReply,
    Paused,
    Pong,
    PortfolioReply,
    Position,
    ProfileReply,
    QuoteReply,
    Rejected,
    Reply,
    ReportReply,
    Resumed,
    RiskAlertEvent,
    SearchReply,
    StatsReply,
    Subscribed,
    SymbolAdded,
    SymbolInfo,
    SymbolsReply,
    Trade,
    TradeEvent,
    TradeHistoryReply,
    TradesReply,
    TradingResumed,
    Triggered,
    Unsubscribed,
    UserCreated,
    UserDisabled,
    UserEnabled,
    UserProfile,
    WatchEntry,
    WatchlistReply,
    Welcome,
)

__all__ = [
    "Accepted",
    "AlertEvent",
    "AlertSet",
    "AuditEvent",
    "AuditReply",
    "AuthFailedError",
    "AuthRequiredError",
    "BadJsonError",
    "BadRequestError",
    "BadStateError",
    "BalanceReply",
    "BookReply",
    "BookUpdate",
    "Bye",
    "Canceled",
    "CanceledAll",
    "Candle",
    "CandleHistoryReply",
    "CandlesReply",
    "Client",
    "ConnectFailed",
    "ConnectionClosed",
    "DecimalLike",
    "Event",
    "EventQueue",
    "ExchangeError",
    "Expired",
    "Fill",
    "FillEvent",
    "FillHistoryReply",
    "FillsReply",
    "ForbiddenError",
    "Halted",
    "HelpReply",
    "InboxMarked",
    "InboxReply",
    "InsufficientFundsError",
    "InsufficientHoldingsError",
    "InvalidRequest",
    "LineTooLongError",
    "MarketClosed",
    "MarketOpened",
    "Modified",
    "NotLiveError",
    "Notification",
    "Order",
    "OrderHistoryReply",
    "OrderReply",
    "OrdersReply",
    "OtpDisabled",
    "OtpEnabled",
    "OtpSetupReply",
    "Paused",
    "Pong",
    "PortfolioReply",
    "Position",
    "ProfileReply",
    "ProtocolViolation",
    "QuoteReply",
    "RateLimitedError",
    "Rejected",
    "Reply",
    "ReportReply",
    "RequestTimeout",
    "Resumed",
    "RiskAlertEvent",
    "SearchReply",
    "ServerBusyError",
    "ServerError",
    "StatsReply",
    "Stream",
    "Subscribed",
    "SymbolAdded",
    "SymbolInfo",
    "SymbolsReply",
    "Trade",
    "TradeEvent",
    "TradeHistoryReply",
    "TradesReply",
    "TradingResumed",
    "Triggered",
    "UnknownOpError",
    "UnknownOrderError",
    "UnknownSymbolError",
    "Unsubscribed",
    "UserCreated",
    "UserDisabled",
    "UserEnabled",
    "UserProfile",
    "WatchEntry",
    "WatchlistReply",
    "Welcome",
]
