"""The order record and the rules of its lifecycle, written as tables.

Enumerations are plain interned strings (the protocol's own words) rather than Enum
members: they are compared on the hot path of matching millions of times and written
to the wire unchanged, so a string is both the fastest and the simplest choice.

The status table is enforced, not only documented: every change of an order's status
goes through :func:`set_status` (or, once, :func:`start_as` for an order being placed),
which raises :class:`~exchange.core.errors.IllegalTransition` for a move the table does
not hold. The check is one dict and one frozenset lookup. The matching walk is the one
place that assigns ``order.status`` itself, for speed: it checks its taker against the
table once per walk and each partly filled maker inline.
"""

from __future__ import annotations

from typing import Final

from mypy_extensions import mypyc_attr

from exchange.core.errors import IllegalTransition
from exchange.core.pickling import Picklable

BUY: Final = "buy"
SELL: Final = "sell"

LIMIT: Final = "limit"
MARKET: Final = "market"
STOP: Final = "stop"
STOP_LIMIT: Final = "stop_limit"

GTC: Final = "gtc"
IOC: Final = "ioc"
FOK: Final = "fok"
DAY: Final = "day"
GTD: Final = "gtd"

STP_NONE: Final = "none"
STP_CANCEL_NEWEST: Final = "cancel_newest"
STP_CANCEL_OLDEST: Final = "cancel_oldest"
STP_CANCEL_BOTH: Final = "cancel_both"

PENDING: Final = "pending"
ACCEPTED: Final = "accepted"
PARTIALLY_FILLED: Final = "partially_filled"
PAUSED: Final = "paused"
FILLED: Final = "filled"
CANCELED: Final = "canceled"
EXPIRED: Final = "expired"
REJECTED: Final = "rejected"

LIVE_STATUSES: Final = frozenset({PENDING, ACCEPTED, PARTIALLY_FILLED, PAUSED})
"""An order in one of these still holds a reservation and may still change."""

# Every status an order may move to from each status. Terminal statuses have none.
# set_status enforces it on every move and tests check it exhaustively.
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    PENDING: frozenset({ACCEPTED, PARTIALLY_FILLED, FILLED, CANCELED, EXPIRED, PAUSED}),
    ACCEPTED: frozenset({PARTIALLY_FILLED, FILLED, CANCELED, EXPIRED, PAUSED}),
    PARTIALLY_FILLED: frozenset({PARTIALLY_FILLED, FILLED, CANCELED, EXPIRED, PAUSED}),
    PAUSED: frozenset({PENDING, ACCEPTED, PARTIALLY_FILLED, CANCELED, EXPIRED}),
    FILLED: frozenset(),
    CANCELED: frozenset(),
    EXPIRED: frozenset(),
    REJECTED: frozenset(),
}

NEW_ORDER_STATUSES: Final = frozenset({PENDING, REJECTED})
"""What an order being placed may start as instead of the constructor's ``accepted``: a
stop waits ``pending``, a refused order is ``rejected``. This is the order's birth, not a
move (it has never been seen as ``accepted``), so it is not in TRANSITIONS."""

# What each lifecycle op does from each status: None means "allowed", otherwise the
# protocol's error code. One table instead of a thicket of ifs in every op.
_LIVE_OK = {PENDING: None, ACCEPTED: None, PARTIALLY_FILLED: None, PAUSED: None}
_DEAD = {FILLED: "not_live", CANCELED: "not_live", EXPIRED: "not_live", REJECTED: "not_live"}
OP_RULES: Final[dict[str, dict[str, str | None]]] = {
    "cancel": {**_LIVE_OK, **_DEAD},
    "modify": {**_LIVE_OK, **_DEAD},
    "pause": {**_LIVE_OK, PAUSED: "bad_state", **_DEAD},
    "resume": {PENDING: "bad_state", ACCEPTED: "bad_state", PARTIALLY_FILLED: "bad_state",
               PAUSED: None, **_DEAD},
}


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class Order(Picklable):
    """One order and everything the engine needs to know about it.

    ``price`` and ``stop_price`` are ticks, ``qty``/``filled`` lots, ``notional`` the
    sum of ``price * qty`` over its fills (ticks x lots, for the average price),
    ``reserved`` what it still holds of its owner's account: cash units for a buy,
    lots for a sell; it is the risk part's field (:mod:`exchange.core.risk` writes it,
    the symbol engine never reads it). Times are microseconds since the epoch, given
    by the caller. The order names its owner by user id only: it holds no reference to
    an account, so the symbol engine that keeps it needs none.
    """

    __slots__ = (
        "accepted_at",
        "client_order_id",
        "expires_at",
        "filled",
        "kind",
        "notional",
        "order_id",
        "post_only",
        "price",
        "qty",
        "reason",
        "reserved",
        "side",
        "status",
        "stop_price",
        "stp",
        "symbol",
        "tif",
        "triggered",
        "user",
    )

    def __init__(
        self,
        order_id: int,
        user: str,
        symbol: str,
        side: str,
        kind: str,
        tif: str,
        qty: int,
        price: int | None,
        stop_price: int | None,
        accepted_at: int,
        expires_at: int | None = None,
        post_only: bool = False,
        stp: str = STP_NONE,
        client_order_id: str | None = None,
    ) -> None:
        self.order_id = order_id
        self.user = user
        self.symbol = symbol
        self.side = side
        self.kind = kind
        self.tif = tif
        self.qty = qty
        self.price = price
        self.stop_price = stop_price
        self.accepted_at = accepted_at
        self.expires_at = expires_at
        self.post_only = post_only
        self.stp = stp
        self.client_order_id = client_order_id
        self.filled = 0
        self.notional = 0
        self.reserved = 0
        self.status: str = ACCEPTED
        self.reason: str | None = None
        self.triggered = kind in (LIMIT, MARKET)

    @property
    def leaves(self) -> int:
        """Lots still to trade; 0 once the order is no longer live."""
        return self.qty - self.filled if self.status in LIVE_STATUSES else 0

    @property
    def live(self) -> bool:
        return self.status in LIVE_STATUSES

    def __repr__(self) -> str:
        return (
            f"Order({self.order_id} {self.user} {self.side} {self.filled}/{self.qty}"
            f" {self.symbol}@{self.price} {self.status})"
        )


def set_status(order: Order, new: str) -> None:
    """Move an order to ``new``, or raise IllegalTransition if the table has no such move."""
    old = order.status
    if new not in TRANSITIONS[old]:
        raise IllegalTransition(order.order_id, old, new)
    order.status = new


def start_as(order: Order, new: str) -> None:
    """Give an order being placed (still as constructed) its first status other than accepted.

    Only ``place`` calls this, before the order has been stored or told to anyone.
    """
    if order.status != ACCEPTED or order.filled or new not in NEW_ORDER_STATUSES:
        raise IllegalTransition(order.order_id, order.status, new)
    order.status = new
