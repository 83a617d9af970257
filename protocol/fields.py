"""Field types shared by requests and replies: enum words, ids, refs, and their bounds.

Everything a client controls is bounded here, at the edge, so that the server never has to
ask "how big can this be?" further in. Each bound says why it exists. Business rules (tick
and lot multiples, price bands, balances) are not checked here: that is the engine's job,
and it answers them with a rejected order rather than a malformed-request error.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Final, Literal

from msgspec import Meta

# --- enum words -------------------------------------------------------------------------
# Literal types, so that msgspec rejects an unknown word with an error naming the field.

Side = Literal["buy", "sell"]
OrderKind = Literal["limit", "market", "stop", "stop_limit"]
Tif = Literal["gtc", "ioc", "fok", "day", "gtd"]
Stp = Literal["none", "cancel_newest", "cancel_oldest", "cancel_both"]
OrderStatus = Literal[
    "accepted", "partially_filled", "paused", "pending", "filled", "canceled", "expired", "rejected"
]
OrdersFilter = Literal["live", "all"]
Channel = Literal["trades", "book", "quote"]
Interval = Literal["1m", "5m", "1h", "1d"]
Liquidity = Literal["maker", "taker"]
ExpireScope = Literal["day", "all"]

# --- bounds -----------------------------------------------------------------------------

INT64_MAX: Final = 2**63 - 1
INT64_MIN: Final = -(2**63)

MAX_REF_LEN: Final = 64
"""A ref is echoed back on the reply; the protocol caps it at 64 characters."""

MAX_CLIENT_ORDER_ID_LEN: Final = 64
"""The protocol caps client order ids at 64 characters; the server indexes them per user."""

MAX_SYMBOL_LEN: Final = 32
"""Symbols are dictionary keys and appear in every error message; real ones are short."""

MAX_USER_LEN: Final = 64
MAX_TOKEN_LEN: Final = 256
"""Login fields are compared, never stored; the caps only keep a hostile login cheap."""

MAX_ROWS: Final = 10_000
"""Upper bound for `depth` and `limit`. A reply is built and encoded in one piece on the
server's event loop; 10,000 rows (about a megabyte of JSON) keeps one request from stalling
every other session, while staying far above what a screen or a strategy needs."""

MAX_TTL_MS: Final = 366 * 24 * 3600 * 1000
"""A `ttl_ms` of at most a year (leap year included). Longer-lived orders are `gtc`; the cap
keeps expiry timers in a range every event loop and clock handles."""

MAX_DECIMAL_PLACES: Final = 18
MAX_DECIMAL_INTEGER_DIGITS: Final = 18
"""Decimals are exact, so their size is their cost. At most 18 digits before and 18 after the
point (18 places is the finest unit in wide use, e.g. wei) covers any real price, quantity or
amount, while a value like `1e999999999` -- a few bytes on the wire, a billion digits once the
engine turns it into whole ticks -- is refused at the edge. Trailing zeros do not count."""

# --- constrained types ------------------------------------------------------------------

Ref = (
    Annotated[str, Meta(max_length=MAX_REF_LEN)]
    | Annotated[int, Meta(ge=INT64_MIN, le=INT64_MAX)]
    | None
)
"""A request's `ref`: a string of at most 64 characters, or an integer (64-bit, so that any
client language can hold it)."""

ReplyRef = str | int | None
"""A reply's `ref`: the server only ever echoes a ref that passed `Ref`."""

OrderId = Annotated[int, Meta(gt=0, le=INT64_MAX)]
ClientOrderId = Annotated[str, Meta(min_length=1, max_length=MAX_CLIENT_ORDER_ID_LEN)]
Symbol = Annotated[str, Meta(min_length=1, max_length=MAX_SYMBOL_LEN)]
UserName = Annotated[str, Meta(min_length=1, max_length=MAX_USER_LEN)]
Token = Annotated[str, Meta(max_length=MAX_TOKEN_LEN)]
Rows = Annotated[int, Meta(gt=0, le=MAX_ROWS)]
TtlMs = Annotated[int, Meta(gt=0, le=MAX_TTL_MS)]
Timestamp = Annotated[datetime, Meta(tz=True)]
"""An RFC 3339 time with an offset; a time without one is ambiguous and refused."""


_CHECKED: set[Decimal] = set()
"""Values already found valid. Equal decimals have the same magnitude and the same places
once trailing zeros (which are free) are dropped, so a value equal to one in here is valid
too. Prices and quantities repeat endlessly on the wire; bounded like every cache."""
_CHECKED_LIMIT: Final = 100_000


def check_decimal(value: Decimal, name: str) -> None:
    """Refuse a decimal that is not finite or is outside the bounds above.

    msgspec decodes both JSON strings and JSON numbers into `Decimal` exactly (never through
    a binary float), but it also accepts the strings "NaN", "Infinity" and "sNaN". Raising
    `ValueError` from a Struct's `__post_init__` turns into a `msgspec.ValidationError`, so
    the message follows msgspec's own "... - at `$.field`" form.
    """
    if not value.is_finite():  # first: a signalling NaN cannot even be hashed
        raise ValueError(f"Expected a finite decimal, got '{value}' - at `$.{name}`")
    if value in _CHECKED:
        return
    if not value:
        return
    if value.adjusted() >= MAX_DECIMAL_INTEGER_DIGITS:
        raise ValueError(f"Expected a decimal below 1e{MAX_DECIMAL_INTEGER_DIGITS} - at `$.{name}`")
    # Fast path for the usual plain spelling ("150.25"): count places in the text, which
    # costs a quarter of `as_tuple()`. This runs for every price and quantity received.
    text = str(value)
    if "E" not in text:
        dot = text.find(".")
        if dot < 0 or len(text) - dot - 1 <= MAX_DECIMAL_PLACES:
            if len(_CHECKED) < _CHECKED_LIMIT:
                _CHECKED.add(value)
            return
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite decimals have an int exponent
    if exponent >= -MAX_DECIMAL_PLACES:
        return
    # Slow path, only for values written with many places: trailing zeros are free.
    digits = value.as_tuple().digits
    zeros = len(digits) - len(bytes(digits).rstrip(b"\0"))
    if exponent + zeros < -MAX_DECIMAL_PLACES:
        raise ValueError(
            f"Expected a decimal with at most {MAX_DECIMAL_PLACES} places - at `$.{name}`"
        )
