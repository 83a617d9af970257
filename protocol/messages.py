"""Client-to-server requests: one msgspec Struct per op, and the `Request` tagged union.

Both spellings of a request -- a JSON object and a text command -- decode into these same
Structs, so the server handles one type and `match`es on it.

Every request forbids unknown fields: on a trading API a typo such as `"post_onyl": true`
must be an error naming the field, never an option silently ignored.

Checks that span fields (a limit order needs `price`, `ttl_ms` implies `gtd`, an order is
addressed by exactly one id) live in `__post_init__`, which msgspec runs on decoding and on
`msgspec.convert`; a `ValueError` raised there becomes a `msgspec.ValidationError`. Rules that
need the book, the clock or an account (tick and lot multiples, price bands, `expire_at` in
the past, funds) belong to the engine.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Final, get_args

from msgspec import Meta, Struct, field

from protocol.fields import (
    MAX_HOLDINGS,
    Channel,
    ClientOrderId,
    DecimalField,
    ExpireScope,
    HistoryId,
    InboxIds,
    Interval,
    OrderId,
    OrderKind,
    OrdersFilter,
    OtpCode,
    ProfileText,
    Ref,
    ReportKind,
    Rows,
    SearchQuery,
    Side,
    Stp,
    Symbol,
    Tif,
    Timestamp,
    Token,
    TtlMs,
    UserName,
    Year,
    check_decimal,
)


class RequestBase(
    Struct, tag_field="op", forbid_unknown_fields=True, omit_defaults=True, kw_only=True
):
    """Fields every request has. `omit_defaults` keeps client-encoded requests short."""

    ref: Ref = None


# --- session ----------------------------------------------------------------------------


class Login(RequestBase, tag="login"):
    """`otp`: the current one-time code, for a user who turned two-factor login on."""

    user: UserName
    token: Token
    otp: OtpCode | None = None


class Ping(RequestBase, tag="ping"):
    pass


class Help(RequestBase, tag="help"):
    pass


class Quit(RequestBase, tag="quit"):
    pass


# --- orders -----------------------------------------------------------------------------

# Which price fields each kind of order needs (True) or must not have (False):
# (price, stop_price). A field given where it has no meaning is refused rather than ignored.
_KIND_PRICES: Final[dict[str, tuple[bool, bool]]] = {
    "limit": (True, False),
    "market": (False, False),
    "stop": (False, True),
    "stop_limit": (True, True),
}


def _require(value: Decimal | None, needed: bool, name: str, kind: str) -> Decimal | None:
    if value is None:
        if needed:
            raise ValueError(f"Object missing required field `{name}` (a {kind} order needs it)")
        return None
    if not needed:
        raise ValueError(f"A {kind} order takes no `{name}` - at `$.{name}`")
    return check_decimal(value, name)


class Place(RequestBase, tag="place"):
    """A new order.

    `tif` may be left out: after construction it is always set, to `gtd` when `ttl_ms` or
    `expire_at` is given and to `gtc` otherwise (so `tif` is never None once decoded).
    """

    symbol: Symbol
    side: Side
    qty: DecimalField
    kind: OrderKind = "limit"
    price: DecimalField | None = None
    stop_price: DecimalField | None = None
    tif: Tif | None = None
    ttl_ms: TtlMs | None = None
    expire_at: Timestamp | None = None
    post_only: bool = False
    stp: Stp = "none"
    client_order_id: ClientOrderId | None = None

    def __post_init__(self) -> None:
        self.qty = check_decimal(self.qty, "qty")
        needs_price, needs_stop = _KIND_PRICES[self.kind]
        self.price = _require(self.price, needs_price, "price", self.kind)
        self.stop_price = _require(self.stop_price, needs_stop, "stop_price", self.kind)
        if self.ttl_ms is not None and self.expire_at is not None:
            raise ValueError("Give `ttl_ms` or `expire_at`, not both - at `$.expire_at`")
        timed = self.ttl_ms is not None or self.expire_at is not None
        if self.tif is None:
            self.tif = "gtd" if timed else "gtc"
        elif timed and self.tif != "gtd":
            raise ValueError(
                f"`ttl_ms` and `expire_at` need tif `gtd`, not `{self.tif}` - at `$.tif`"
            )
        elif not timed and self.tif == "gtd":
            raise ValueError(
                "Object missing required field `ttl_ms` (or `expire_at`) for tif `gtd`"
            )


class OrderRequest(RequestBase):
    """A request about one order, addressed by exactly one of its two ids."""

    order_id: OrderId | None = None
    client_order_id: ClientOrderId | None = None

    def __post_init__(self) -> None:
        if self.order_id is None:
            if self.client_order_id is None:
                raise ValueError("Object missing required field `order_id` (or `client_order_id`)")
        elif self.client_order_id is not None:
            raise ValueError(
                "Give `order_id` or `client_order_id`, not both - at `$.client_order_id`"
            )


class Modify(OrderRequest, tag="modify"):
    """`qty` is the new total quantity; at least one of `qty` and `price` is given."""

    qty: DecimalField | None = None
    price: DecimalField | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.qty is None and self.price is None:
            raise ValueError("Object missing required field `qty` (or `price`)")
        if self.qty is not None:
            self.qty = check_decimal(self.qty, "qty")
        if self.price is not None:
            self.price = check_decimal(self.price, "price")


class Cancel(OrderRequest, tag="cancel"):
    pass


class CancelAll(RequestBase, tag="cancel_all"):
    symbol: Symbol | None = None


class Pause(OrderRequest, tag="pause"):
    pass


class Resume(OrderRequest, tag="resume"):
    pass


class Status(OrderRequest, tag="status"):
    pass


class Orders(RequestBase, tag="orders"):
    symbol: Symbol | None = None
    status: OrdersFilter = "live"


class Fills(RequestBase, tag="fills"):
    symbol: Symbol | None = None
    limit: Rows = 100


# --- accounts ---------------------------------------------------------------------------


class Balance(RequestBase, tag="balance"):
    pass


class Deposit(RequestBase, tag="deposit"):
    amount: DecimalField

    def __post_init__(self) -> None:
        self.amount = check_decimal(self.amount, "amount")


class Withdraw(RequestBase, tag="withdraw"):
    amount: DecimalField

    def __post_init__(self) -> None:
        self.amount = check_decimal(self.amount, "amount")


class Portfolio(RequestBase, tag="portfolio"):
    pass


# --- market data ------------------------------------------------------------------------


class Symbols(RequestBase, tag="symbols"):
    pass


class Book(RequestBase, tag="book"):
    symbol: Symbol
    depth: Rows = 10


class Quote(RequestBase, tag="quote"):
    symbol: Symbol


class Trades(RequestBase, tag="trades"):
    symbol: Symbol
    limit: Rows = 50


class Candles(RequestBase, tag="candles"):
    symbol: Symbol
    interval: Interval
    limit: Rows = 100


class Subscribe(RequestBase, tag="subscribe"):
    channel: Channel
    symbol: Symbol


class Unsubscribe(RequestBase, tag="unsubscribe"):
    channel: Channel
    symbol: Symbol


class Alert(RequestBase, tag="alert"):
    """A one-shot price alert: exactly one of `above` and `below`."""

    symbol: Symbol
    above: DecimalField | None = None
    below: DecimalField | None = None

    def __post_init__(self) -> None:
        if self.above is None:
            if self.below is None:
                raise ValueError("Object missing required field `above` (or `below`)")
            self.below = check_decimal(self.below, "below")
        elif self.below is not None:
            raise ValueError("Give `above` or `below`, not both - at `$.below`")
        else:
            self.above = check_decimal(self.above, "above")


# --- administration ---------------------------------------------------------------------


class Halt(RequestBase, tag="halt"):
    symbol: Symbol


class ResumeTrading(RequestBase, tag="resume_trading"):
    symbol: Symbol


class CloseMarket(RequestBase, tag="close_market"):
    """`expire="day"` expires `day` orders only; `"all"` expires every live order."""

    expire: ExpireScope = "day"


class OpenMarket(RequestBase, tag="open_market"):
    pass


class Stats(RequestBase, tag="stats"):
    pass


# --- account administration and profiles ------------------------------------------------


class CreateUser(RequestBase, tag="create_user"):
    """Administrators: register `user` with a profile, starting `cash` (default 0) and
    `holdings` ({symbol: qty}, default none)."""

    user: UserName
    name: ProfileText = ""
    phone: ProfileText = ""
    email: ProfileText = ""
    admin: bool = False
    cash: DecimalField | None = None
    holdings: Annotated[dict[Symbol, DecimalField], Meta(max_length=MAX_HOLDINGS)] = field(
        default_factory=dict)

    def __post_init__(self) -> None:
        if self.cash is not None:
            self.cash = check_decimal(self.cash, "cash")
        self.holdings = {symbol: check_decimal(qty, f"holdings.{symbol}")
                         for symbol, qty in self.holdings.items()}


class Profile(RequestBase, tag="profile"):
    """The session's own profile; another `user`'s for administrators."""

    user: UserName | None = None


class UpdateProfile(RequestBase, tag="update_profile"):
    """Change the fields given of the session's own profile (another `user`'s for
    administrators). The user id and the admin flag are not profile fields: a request
    naming them is refused as any unknown field is."""

    user: UserName | None = None
    name: ProfileText | None = None
    phone: ProfileText | None = None
    email: ProfileText | None = None

    def __post_init__(self) -> None:
        if self.name is None and self.phone is None and self.email is None:
            raise ValueError("Object missing required field `name` (or `phone`, `email`)")


class DisableUser(RequestBase, tag="disable_user"):
    user: UserName


class EnableUser(RequestBase, tag="enable_user"):
    user: UserName


class AddSymbol(RequestBase, tag="add_symbol"):
    """Administrators: list a symbol now, with the fields of the config's `[[symbols]]`."""

    symbol: Symbol
    tick_size: DecimalField
    lot_size: DecimalField
    reference_price: DecimalField | None = None
    price_band: DecimalField | None = None
    max_price: DecimalField | None = None
    max_qty: DecimalField | None = None

    def __post_init__(self) -> None:
        self.tick_size = check_decimal(self.tick_size, "tick_size")
        self.lot_size = check_decimal(self.lot_size, "lot_size")
        for name in ("reference_price", "price_band", "max_price", "max_qty"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, check_decimal(value, name))
# --- two-factor login, watchlists and symbol search ----------------------------------------


class OtpSetup(RequestBase, tag="otp_setup"):
    """A new TOTP secret for the user (two-factor login stays off until `otp_enable`)."""


class OtpEnable(RequestBase, tag="otp_enable"):
    """Turn two-factor login on, with a current code of the secret set up."""

    code: OtpCode


class OtpDisable(RequestBase, tag="otp_disable"):
    """Turn two-factor login off, with a current code."""

    code: OtpCode


class Watchlist(RequestBase, tag="watchlist"):
    pass


class Watch(RequestBase, tag="watch"):
    symbol: Symbol


class Unwatch(RequestBase, tag="unwatch"):
    symbol: Symbol


class Search(RequestBase, tag="search"):
    """Symbols whose symbol starts with `query`, or whose name has words starting with
    each of its words."""

    query: SearchQuery
    limit: Rows = 20

    def __post_init__(self) -> None:
        if not self.query.strip():
            raise ValueError("Expected a non-blank `query` - at `$.query`")
# --- history, audit trail, reports and the inbox ----------------------------------------


class TimeRange(RequestBase):
    """A time range ``[start, end)`` (either end open when left out) and a bound."""

    start: Timestamp | None = None
    end: Timestamp | None = None
    limit: Rows = 1000

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError("`end` is before `start` - at `$.end`")


class HistoryRequest(TimeRange):
    """A time range and a page cursor: rows whose id is greater than ``after``."""

    after: HistoryId = 0


class OrderHistory(HistoryRequest, tag="order_history"):
    """The user's ended orders (accepted in the range), by order id."""

    symbol: Symbol | None = None


class FillHistory(HistoryRequest, tag="fill_history"):
    """The user's fills in the range, by trade id."""

    symbol: Symbol | None = None


class TradeHistory(HistoryRequest, tag="trade_history", kw_only=True):
    """A symbol's public trades in the range, by trade id (no login needed)."""

    symbol: Symbol


class CandleHistory(TimeRange, tag="candle_history", kw_only=True):
    """A symbol's candles in the range, built from its stored trades (no login needed).
    The next page starts where the last candle's interval ends (``start``)."""

    symbol: Symbol
    interval: Interval


class Audit(HistoryRequest, tag="audit"):
    """The audit trail: the user's own, or (administrators) that of ``user``."""

    user: UserName | None = None


class Report(RequestBase, tag="report"):
    """A CSV report: ``confirmations`` (trade confirmations in ``[start, end)``) or
    ``gains`` (realized gains per sale in calendar ``year``, UTC)."""

    kind: ReportKind
    start: Timestamp | None = None
    end: Timestamp | None = None
    year: Year | None = None

    def __post_init__(self) -> None:
        if self.kind == "gains":
            if self.year is None:
                raise ValueError("Object missing required field `year` (a gains report "
                                 "needs it)")
            if self.start is not None or self.end is not None:
                raise ValueError("A gains report takes `year`, not `start`/`end` - at "
                                 "`$.start`")
        elif self.year is not None:
            raise ValueError("A confirmations report takes `start`/`end`, not `year` - at "
                             "`$.year`")


class Inbox(RequestBase, tag="inbox"):
    """The user's notifications: those after ``since`` (an id), or unread first."""

    since: HistoryId | None = None
    limit: Rows = 100


class InboxRead(RequestBase, tag="inbox_read"):
    """Mark notifications read: the ``ids`` given, or every one up to ``up_to``, or
    (neither given) all of them."""

    ids: InboxIds | None = None
    up_to: HistoryId | None = None

    def __post_init__(self) -> None:
        if self.ids is not None and self.up_to is not None:
            raise ValueError("Give `ids` or `up_to`, not both - at `$.up_to`")


Request = (
    Login
    | Ping
    | Help
    | Quit
    | Place
    | Modify
    | Cancel
    | CancelAll
    | Pause
    | Resume
    | Status
    | Orders
    | Fills
    | Balance
    | Deposit
    | Withdraw
    | Portfolio
    | Symbols
    | Book
    | Quote
    | Trades
    | Candles
    | Subscribe
    | Unsubscribe
    | Alert
    | Halt
    | ResumeTrading
    | CloseMarket
    | OpenMarket
    | Stats
    # account administration and profiles
    | CreateUser
    | Profile
    | UpdateProfile
    | DisableUser
    | EnableUser
    | AddSymbol
    # two-factor login, watchlists and symbol search
    | OtpSetup
    | OtpEnable
    | OtpDisable
    | Watchlist
    | Watch
    | Unwatch
    | Search
    # history, audit trail, reports and the inbox
    | OrderHistory
    | FillHistory
    | TradeHistory
    | CandleHistory
    | Audit
    | Report
    | Inbox
    | InboxRead
)
"""Every client-to-server message, tagged by its `op` field."""

REQUEST_TYPES: Final[tuple[type[RequestBase], ...]] = get_args(Request)
OPS: Final[frozenset[str]] = frozenset(t.__struct_config__.tag for t in REQUEST_TYPES)  # type: ignore[misc]
"""Every op name, to tell an unknown op from another malformed request."""
