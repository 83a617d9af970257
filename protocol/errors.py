"""Error codes, order reasons, and the `ProtocolError` value.

A `ProtocolError` is a value, not an exception: decoding a line returns it next to the
decoded request (h11's habit of making "the peer broke it" an ordinary outcome), and the
server turns it into an `error` reply. Nothing here raises.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

from msgspec import Struct

ErrorCode = Literal[
    "bad_json",
    "bad_request",
    "unknown_op",
    "line_too_long",
    "auth_required",
    "auth_failed",
    "forbidden",
    "unknown_symbol",
    "unknown_order",
    "not_live",
    "bad_state",
    "insufficient_funds",
    "insufficient_holdings",
    "rate_limited",
    "server_busy",
]
ERROR_CODES: Final[frozenset[str]] = frozenset(get_args(ErrorCode))

RejectReason = Literal[
    "insufficient_funds",
    "insufficient_holdings",
    "bad_price",
    "bad_qty",
    "price_band",
    "would_take",
    "no_liquidity",
    "halted",
    "too_many_orders",
    "market_closed",
    "max_order_notional",
    "max_position",
    "max_open_exposure",
]
"""`order.reason` of an order whose status is `rejected`."""
REJECT_REASONS: Final[frozenset[str]] = frozenset(get_args(RejectReason))

CancelReason = Literal["self_trade", "insufficient_funds"]
"""`order.reason` of an order the exchange canceled on its own: self-trade prevention, or the
unaffordable remainder of a market buy."""
CANCEL_REASONS: Final[frozenset[str]] = frozenset(get_args(CancelReason))


class ProtocolError(Struct, frozen=True):
    """A request the server cannot act on: what to answer, and to which `ref`.

    `ref` is None when the line carried none, or when the ref itself was the problem (the
    protocol answers an invalid ref without one).
    """

    code: ErrorCode
    message: str
    ref: str | int | None = None
