"""Field types shared by requests and replies: enum words, ids, refs, and their bounds.

Everything a client controls is bounded here, at the edge, so that the server never has to
ask "how big can this be?" further in. Each bound says why it exists. Business rules (tick
and lot multiples, price bands, balances) are not checked here: that is the engine's job,
and it answers them with a rejected order rather than a malformed-request error.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

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
MAX_PROFILE_LEN: Final = 256
"""A profile field (name, phone, email) as it may arrive; the engine's rules for each
(exchange.core.administration) are tighter, this only keeps a hostile request cheap."""
ProfileText = Annotated[str, Meta(max_length=MAX_PROFILE_LEN)]
MAX_HOLDINGS: Final = 1000
"""Symbols a new user's starting holdings may name (each must be listed anyway)."""
TtlMs = Annotated[int, Meta(gt=0, le=MAX_TTL_MS)]
HistoryId = Annotated[int, Meta(ge=0, le=INT64_MAX)]
"""A row id of the history (order, trade, audit or notification id): a page cursor."""
InboxIds = Annotated[list[HistoryId], Meta(min_length=1, max_length=MAX_ROWS)]
ReportKind = Literal["confirmations", "gains"]
Year = Annotated[int, Meta(ge=1970, le=9999)]
Timestamp = Annotated[datetime, Meta(tz=True)]
"""An RFC 3339 time with an offset; a time without one is ambiguous and refused."""

# -- two-factor login and symbol search --
OTP_DIGITS: Final = 6
OtpCode = Annotated[str, Meta(pattern=f"^[0-9]{{{OTP_DIGITS}}}$")]
"""A one-time code: exactly six ASCII digits, as an authenticator app shows it (a string,
so that a leading zero is kept)."""
MAX_SEARCH_LEN: Final = 64
SearchQuery = Annotated[str, Meta(min_length=1, max_length=MAX_SEARCH_LEN)]
"""What `search` looks for: a symbol's prefix or words of its name; short, since every
symbol is compared with it."""


# --- exact decimals -----------------------------------------------------------------------

if TYPE_CHECKING:
    DecimalField = Decimal
else:

    class DecimalField(Decimal):
        """A price, quantity, stop price, amount or alert level, as decoded from a request.

        A subclass only so that msgspec hands the raw value to `decimal_hook` instead of
        calling `Decimal()` itself: `Decimal()` accepts `"1_0"`, `" 149"`, Arabic-Indic and
        full-width digits, which a trading protocol must refuse. To the type checker and to
        every consumer it is a plain `Decimal`.
        """

        __slots__ = ()


class _JsonNumber(str):
    """The raw text of a JSON number with a fraction or an exponent (see `float_hook`)."""

    __slots__ = ()


float_hook: Final = _JsonNumber
"""The request decoder's `float_hook`: a JSON number reaches `decimal_hook` as its exact
text (never through a binary float), marked as a number rather than a string."""

_DECIMAL_STRING: Final = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
"""The protocol's decimal string, ASCII only: an optional leading `-` (so that a negative
price or quantity is a rejected order, as the contract says, not a malformed request),
digits, at most one `.` with digits on at least one side. `[0-9]`, not `\\d`: in Python
`\\d` matches every Unicode digit.

A JSON *number* keeps JSON's own grammar, which is already ASCII-only without `+`, `_`,
blanks or hex; its exponent is accepted (`1e-06` is how common JSON encoders write
0.000001, and the contract allows numbers), and bounded like any other decimal."""

_PARSED: dict[str, Decimal] = {}
"""Texts already found valid, with their value. Prices and quantities repeat endlessly on
the wire, and a dict lookup is far cheaper than the grammar and the bounds; bounded like
every cache."""
_PARSED_LIMIT: Final = 100_000

_SYNTAX_HINT: Final = (
    "ASCII digits with at most one `.`, an optional leading `-`, and no `+`, `_`, "
    "spaces or exponent"
)


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")


def parse_decimal(text: str) -> Decimal:
    """The value of a decimal string in the protocol's grammar; `ValueError` otherwise.

    The message is msgspec's style without the path: called from `decimal_hook`, msgspec
    appends " - at `$.field`" itself.
    """
    value = _PARSED.get(text)
    if value is not None:
        return value
    if type(text) is not _JsonNumber and _DECIMAL_STRING.fullmatch(text) is None:
        raise ValueError(f"Expected a decimal string ({_SYNTAX_HINT}), got {_shown(text)}")
    value = DecimalField(text)
    _check_size(value)
    # Strings only: an equal JSON number's text ("1e2") must not admit the string later.
    if len(_PARSED) < _PARSED_LIMIT and type(text) is str:
        _PARSED[text] = value
    return value


def _check_size(value: Decimal) -> None:
    """Refuse a finite decimal outside the digit bounds above (trailing zeros are free)."""
    if not value:
        return
    if value.adjusted() >= MAX_DECIMAL_INTEGER_DIGITS:
        raise ValueError(f"Expected a decimal below 1e{MAX_DECIMAL_INTEGER_DIGITS}")
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite decimals have an int exponent
    if exponent >= -MAX_DECIMAL_PLACES:
        return
    # Trailing zeros are free. Counted by hand: `normalize()` rounds a tiny value to 0.
    digits = value.as_tuple().digits
    zeros = len(digits) - len(bytes(digits).rstrip(b"\0"))
    if exponent + zeros < -MAX_DECIMAL_PLACES:
        raise ValueError(f"Expected a decimal with at most {MAX_DECIMAL_PLACES} places")


def decimal_hook(kind: type, obj: Any) -> Any:
    """msgspec's `dec_hook` for every request decoder and `msgspec.convert` of a request.

    Accepts a decimal string (the protocol's spelling), a JSON integer or plain JSON number,
    and -- for a client library building requests with `msgspec.convert` -- a finite
    `Decimal` or `int` within the bounds. Everything else is refused with a message that
    msgspec completes with the field's path.
    """
    if kind is not DecimalField:
        raise NotImplementedError(f"no decoder for {kind!r}")
    if isinstance(obj, str):
        return parse_decimal(obj)
    if isinstance(obj, bool) or not isinstance(obj, int | Decimal):
        raise TypeError(f"Expected a decimal string, got `{type(obj).__name__}`")
    if isinstance(obj, Decimal) and not obj.is_finite():
        raise ValueError(f"Expected a finite decimal, got '{obj}'")
    value = DecimalField(obj)
    _check_size(value)
    return value


def check_decimal(value: Decimal, name: str) -> Decimal:
    """``value`` as a checked `DecimalField`; `ValueError` if not finite or out of bounds.

    For Structs built directly (not decoded): a decoded value has passed `decimal_hook`
    already and costs one type check here. A plain `Decimal` is turned into a
    `DecimalField`, so that the request is encoded in the plain spelling (`encode_hook`),
    never as `1E-18`, which the grammar refuses. Raising `ValueError` from a Struct's
    `__post_init__` turns into a `msgspec.ValidationError`, so the message follows
    msgspec's own "... - at `$.field`" form.
    """
    if type(value) is DecimalField:
        return value
    if not value.is_finite():
        raise ValueError(f"Expected a finite decimal, got '{value}' - at `$.{name}`")
    try:
        _check_size(value)
    except ValueError as exc:
        raise ValueError(f"{exc} - at `$.{name}`") from None
    return DecimalField(value)


def encode_hook(obj: Any) -> Any:
    """msgspec's `enc_hook`: a request's decimal in the protocol's plain spelling.

    msgspec encodes only exact `Decimal`s itself (and would write `1E-18`); it calls this
    for the `DecimalField` subclass, and for nothing on the hot path of replies."""
    if isinstance(obj, Decimal):
        return format(obj, "f")
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")
