"""Server-to-client messages: replies, pushed events, and the records they carry.

Every message is a Struct tagged by its `type` field; `Reply` is their union, which is what
the client decodes. Values that are decimals are strings (the engine formats them with the
tick's or lot's places), times are RFC 3339 strings, and fields that may be null are always
written, as `null`: a message's shape never depends on its values.

The one exception is `ref`, which is left out when there is none. It is the only field with
a plain default, and the message bases set `omit_defaults`, so msgspec drops exactly `ref`
when it is None. A field that needs a constructor default but must still always be written
(`Accepted.duplicate`) uses `default_factory`, which `omit_defaults` does not treat as a
default to omit (tests pin this).

Pushed events carry no `ref` at all. Three types -- `canceled`, `book` and `quote` -- are both
a direct reply and a pushed event with the same fields; they are one Struct each, and as
events their `ref` is simply None.

Class names: a message whose `type` is also an op or a record name has the suffix `Reply`
(`BookReply` answers the `Book` request); an event-only message has the suffix `Event` when
its bare name would be ambiguous (`FillEvent` carries a `Fill`).
"""

from __future__ import annotations

from typing import Any, Final, get_args

from msgspec import Struct, field

from protocol.errors import ErrorCode
from protocol.fields import Channel, Liquidity, OrderKind, OrderStatus, ReplyRef, Side, Tif

# --- records ----------------------------------------------------------------------------
# Order, Trade and Fill may also be built positionally, in field order: the server builds
# one or more for every reply, and positional construction costs a sixth of 17 keywords.


class Order(Struct):
    """An order's state as the client sees it. `reason` says why an order was rejected,
    canceled by the exchange, or expired; it is a plain string so that a new reason never
    breaks an older client (see `protocol.errors` for the known ones)."""

    order_id: int
    client_order_id: str | None
    user: str
    symbol: str
    side: Side
    kind: OrderKind
    tif: Tif
    price: str | None
    stop_price: str | None
    qty: str
    filled_qty: str
    leaves_qty: str
    avg_price: str | None
    status: OrderStatus
    reason: str | None
    accepted_at: str
    expires_at: str | None


class Trade(Struct):
    """A public trade. `taker_side` is the side of the incoming order."""

    trade_id: int
    symbol: str
    price: str
    qty: str
    buy_order_id: int
    sell_order_id: int
    taker_side: Side
    ts: str


class Fill(Struct):
    """One side's view of a trade: the TRADE fields plus whose order, which side,
    whether it made or took liquidity, and the fee this side paid (cash)."""

    trade_id: int
    symbol: str
    price: str
    qty: str
    buy_order_id: int
    sell_order_id: int
    taker_side: Side
    ts: str
    order_id: int
    side: Side
    liquidity: Liquidity
    fee: str
    """Cash this side paid in fees on this fill (PROTOCOL.md, "Fees")."""


class Position(Struct, kw_only=True):
    """One holding. `last` is null until the symbol trades."""

    symbol: str
    qty: str
    available: str
    avg_cost: str
    last: str | None
    market_value: str
    unrealized_pnl: str
    realized_pnl: str


class SymbolInfo(Struct, kw_only=True):
    """A listed symbol. `status` is the engine's word for its trading state."""

    symbol: str
    tick_size: str
    lot_size: str
    last: str | None
    status: str
    max_qty: str | None = None
    """The largest quantity one order may have (see PROTOCOL.md, "Bounds")."""
    max_price: str | None = None
    """The largest price or stop price an order may have."""
    reference_price: str | None = None
    price_band: str | None = None
    """The relative half-width of the price band, e.g. "0.1" for +-10%; None: no band."""
    name: str = ""
    """The display name ("Apple Inc."); the symbol itself when the config gives none."""


class WatchEntry(Struct, kw_only=True):
    """One symbol of a watchlist: its name, trading state and quote (the `quote` reply's
    fields)."""

    symbol: str
    name: str
    status: str
    bid: str | None
    bid_qty: str | None
    ask: str | None
    ask_qty: str | None
    last: str | None
    open: str | None
    high: str | None
    low: str | None
    volume: str


class Candle(Struct, kw_only=True):
    """`t` is the UTC start of the interval; then open, high, low, close, volume."""

    t: str
    o: str
    h: str
    l: str  # noqa: E741 -- the protocol's field name
    c: str
    v: str


Level = tuple[str, str]
"""A book level as `[price, qty]`."""


# --- bases ------------------------------------------------------------------------------


class Message(Struct, tag_field="type", omit_defaults=True, kw_only=True):
    """Every server-to-client message."""


class ReplyBase(Message, kw_only=True):
    """A direct reply: it echoes the request's `ref`, left out when None."""

    ref: ReplyRef = None


class EventBase(Message, kw_only=True):
    """A pushed event: never a `ref`."""


# --- session ----------------------------------------------------------------------------


class Welcome(ReplyBase, tag="welcome"):
    user: str
    name: str


class Pong(ReplyBase, tag="pong"):
    ts: str


class HelpReply(ReplyBase, tag="help"):
    """`text` is a one-line summary (the contract's field); `commands` one command a line."""

    text: str
    commands: list[str] = field(default_factory=list)


class Bye(ReplyBase, tag="bye"):
    pass


class Error(ReplyBase, tag="error"):
    code: ErrorCode
    message: str


# --- orders -----------------------------------------------------------------------------


class Accepted(ReplyBase, tag="accepted"):
    """`duplicate` is true when a known `client_order_id` returned the existing order."""

    order: Order
    fills: list[Fill]
    duplicate: bool = field(default_factory=bool)  # always written; see the module doc


class Rejected(ReplyBase, tag="rejected"):
    order: Order


class Modified(ReplyBase, tag="modified"):
    order: Order
    fills: list[Fill]


class Canceled(ReplyBase, tag="canceled"):
    """The reply to `cancel`, and the event for an order the exchange canceled."""

    order: Order


class CanceledAll(ReplyBase, tag="canceled_all"):
    count: int
    order_ids: list[int]


class Paused(ReplyBase, tag="paused"):
    order: Order


class Resumed(ReplyBase, tag="resumed"):
    order: Order
    fills: list[Fill]


class OrderReply(ReplyBase, tag="order"):
    order: Order


class OrdersReply(ReplyBase, tag="orders"):
    orders: list[Order]


class FillsReply(ReplyBase, tag="fills"):
    fills: list[Fill]


# --- accounts ---------------------------------------------------------------------------


class BalanceReply(ReplyBase, tag="balance"):
    cash: str
    available: str
    reserved: str
    fees_paid: str
    """Cash paid in trading fees, all told."""


class PortfolioReply(ReplyBase, tag="portfolio"):
    cash: str
    positions: list[Position]
    net_worth: str


# --- market data ------------------------------------------------------------------------


class SymbolsReply(ReplyBase, tag="symbols"):
    symbols: list[SymbolInfo]


class BookReply(ReplyBase, tag="book"):
    """The `book` reply, and the snapshot event that opens a `book` stream."""

    symbol: str
    seq: int
    bids: list[Level]
    asks: list[Level]


class QuoteReply(ReplyBase, tag="quote"):
    """The `quote` reply, and the event a `quote` stream pushes on every change."""

    symbol: str
    bid: str | None
    bid_qty: str | None
    ask: str | None
    ask_qty: str | None
    last: str | None
    open: str | None
    high: str | None
    low: str | None
    volume: str


class TradesReply(ReplyBase, tag="trades"):
    trades: list[Trade]


class CandlesReply(ReplyBase, tag="candles"):
    candles: list[Candle]


class Subscribed(ReplyBase, tag="subscribed"):
    channel: Channel
    symbol: str


class Unsubscribed(ReplyBase, tag="unsubscribed"):
    channel: Channel
    symbol: str


class AlertSet(ReplyBase, tag="alert_set"):
    alert_id: int


# --- administration ---------------------------------------------------------------------


class Halted(ReplyBase, tag="halted"):
    symbol: str


class TradingResumed(ReplyBase, tag="trading_resumed"):
    symbol: str


class MarketClosed(ReplyBase, tag="market_closed"):
    count: int
    order_ids: list[int]


class MarketOpened(ReplyBase, tag="market_opened"):
    pass


class StatsReply(ReplyBase, tag="stats"):
    """Counters by name (sessions, orders, trades, queue depths...), all integers, and
    which build of the matching core runs (``python`` or ``compiled``)."""

    counters: dict[str, int]
    build: str


# --- account administration and profiles ------------------------------------------------


class UserProfile(Struct, kw_only=True):
    """A user's profile: what `profile` shows and `update_profile` changes (`name`,
    `phone`, `email`), and what only an administrator sets (`admin`, `disabled`)."""

    user: str
    name: str
    phone: str
    email: str
    admin: bool
    disabled: bool


class ProfileReply(ReplyBase, tag="profile"):
    profile: UserProfile


class UserCreated(ReplyBase, tag="user_created"):
    """`token` is the new user's login token, shown this once: the exchange keeps only
    its hash."""

    profile: UserProfile
    token: str


class UserDisabled(ReplyBase, tag="user_disabled"):
    """The user's sessions were ended and their live orders canceled (`order_ids`)."""

    user: str
    count: int
    order_ids: list[int]


class UserEnabled(ReplyBase, tag="user_enabled"):
    user: str


class SymbolAdded(ReplyBase, tag="symbol_added"):
    symbol: SymbolInfo
# --- two-factor login, watchlists and symbol search ----------------------------------------


class OtpSetupReply(ReplyBase, tag="otp_setup"):
    """The new secret (base32) and its `otpauth://` URI: the only message that ever
    carries the secret."""

    secret: str
    uri: str
    digits: int
    period: int


class OtpEnabled(ReplyBase, tag="otp_enabled"):
    pass


class OtpDisabled(ReplyBase, tag="otp_disabled"):
    pass


class WatchlistReply(ReplyBase, tag="watchlist"):
    """The reply to `watchlist`, `watch` and `unwatch`: the whole list, in the order the
    symbols were added, each with its quote."""

    symbols: list[WatchEntry]


class SearchReply(ReplyBase, tag="search"):
    symbols: list[SymbolInfo]


# --- history, audit trail, reports and the inbox ----------------------------------------


class OrderHistoryReply(ReplyBase, tag="order_history"):
    """``more``: rows past ``limit`` exist; the next page is asked with ``after`` =
    ``next`` (for orders a number of the history's own: they come in the order they
    ended, which is not the order of their ids)."""

    orders: list[Order]
    more: bool
    next: int


class FillHistoryReply(ReplyBase, tag="fill_history"):
    """``next``: the last trade id of the page (the next page's ``after``)."""

    fills: list[Fill]
    more: bool
    next: int


class TradeHistoryReply(ReplyBase, tag="trade_history"):
    trades: list[Trade]
    more: bool
    next: int


class CandleHistoryReply(ReplyBase, tag="candle_history"):
    symbol: str
    interval: str
    candles: list[Candle]
    more: bool


class AuditEvent(Struct, kw_only=True):
    """One entry of the audit trail: what ``user`` did (``action``, an op name such as
    ``place`` or ``login``) with which fields (``detail``, the command as recorded, in
    engine units), and what came of it (``outcome``)."""

    id: int
    seq: int
    ts: str
    user: str
    action: str
    detail: dict[str, Any]
    outcome: str


class AuditReply(ReplyBase, tag="audit"):
    events: list[AuditEvent]
    more: bool
    next: int


class ReportReply(ReplyBase, tag="report"):
    """A report as CSV text (a header line, then one line per row); ``rows`` counts the
    rows, ``more`` says the report stopped at its bound (ask for a shorter period)."""

    kind: str
    csv: str
    rows: int
    more: bool


class Notification(Struct, kw_only=True, omit_defaults=True):
    """One notification of the inbox: ``kind`` is ``fill``, ``expired``, ``canceled``,
    ``triggered``, ``alert`` or ``risk_alert``; ``text`` says it in words."""

    id: int
    ts: str
    kind: str
    symbol: str | None = None
    order_id: int | None = None
    text: str
    read: bool


class InboxReply(ReplyBase, tag="inbox"):
    notifications: list[Notification]
    unread: int
    more: bool


class InboxMarked(ReplyBase, tag="inbox_read"):
    marked: int
    unread: int


# --- events -----------------------------------------------------------------------------


class FillEvent(EventBase, tag="fill"):
    order: Order
    fill: Fill


class Expired(EventBase, tag="expired"):
    order: Order


class Triggered(EventBase, tag="triggered"):
    order: Order


class TradeEvent(EventBase, tag="trade"):
    trade: Trade


class BookUpdate(EventBase, tag="book_update"):
    """Changed levels since `seq - 1`; a qty of `"0"` removes the level."""

    symbol: str
    seq: int
    bids: list[Level]
    asks: list[Level]


class AlertEvent(EventBase, tag="alert"):
    alert_id: int
    symbol: str
    last: str


class RiskAlertEvent(EventBase, tag="risk_alert"):
    """An accepted order took the use of an exposure limit past 80% of it."""

    limit: str
    """``max_order_notional``, ``max_position`` or ``max_open_exposure``."""
    symbol: str
    used: str
    """After the order: cash for the notional and exposure limits, quantity for a position."""
    max: str


Reply = (
    Welcome
    | Pong
    | HelpReply
    | Bye
    | Error
    | Accepted
    | Rejected
    | Modified
    | Canceled
    | CanceledAll
    | Paused
    | Resumed
    | OrderReply
    | OrdersReply
    | FillsReply
    | BalanceReply
    | PortfolioReply
    | SymbolsReply
    | BookReply
    | QuoteReply
    | TradesReply
    | CandlesReply
    | Subscribed
    | Unsubscribed
    | AlertSet
    | Halted
    | TradingResumed
    | MarketClosed
    | MarketOpened
    | StatsReply
    | FillEvent
    | Expired
    | Triggered
    | TradeEvent
    | BookUpdate
    | AlertEvent
    | RiskAlertEvent
    # account administration and profiles
    | ProfileReply
    | UserCreated
    | UserDisabled
    | UserEnabled
    | SymbolAdded
    # two-factor login, watchlists and symbol search
    | OtpSetupReply
    | OtpEnabled
    | OtpDisabled
    | WatchlistReply
    | SearchReply
    # history, audit trail, reports and the inbox
    | OrderHistoryReply
    | FillHistoryReply
    | TradeHistoryReply
    | CandleHistoryReply
    | AuditReply
    | ReportReply
    | InboxReply
    | InboxMarked
)
"""Every server-to-client message, tagged by its `type` field."""

REPLY_TYPES: Final[tuple[type[Message], ...]] = get_args(Reply)
