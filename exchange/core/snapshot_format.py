"""The snapshot format: versioned msgspec records of the exchange's state, and their bytes.

These records say what the exchange *is*, in the protocol's terms (users and their money,
orders with every field, each symbol's price levels as queues of order ids, stops in
trigger order, paused orders, the expiry schedule, market data, the id counters), never
how some version keeps it in memory; :mod:`exchange.core.snapshot` maps between the two.
Decoding builds only these records (validated: types, enumerations, required fields), so
no snapshot can name code to run. The layout is documented in ``docs/DATA_DIR.md``.

Versioning: ``SNAPSHOT_VERSION`` is the version :func:`encode` writes. Every later version
of this module must decode every earlier one: a released version never changes meaning;
a new one gets its own record types, a decoder here, and a conversion to the newest.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from exchange.core.fees import FeeSchedule
from exchange.core.limits import ExposureLimits

SNAPSHOT_VERSION = 3
"""The record version :func:`encode` writes; :func:`decode` reads it and every earlier one.

Version 2 added ``limits`` (the exposure limits in force); version 1 had none, and reads
as a snapshot with no limits set. Version 3 added, each in its own block, ``disabled`` (the
users an administrator disabled); ``two_factor``, ``watchlists`` and ``symbol_names``; and
``fees`` (the fee schedule, what each user has paid, and each kept trade's fees and the
seller's cost basis it removed). Versions 1 and 2 read as having none of them: nobody
disabled, no two-factor login or watchlists, an exchange that never charged a fee."""

SideName = Literal["buy", "sell"]
Status = Literal["pending", "accepted", "partially_filled", "filled", "canceled", "expired",
                 "rejected", "paused"]
Kind = Literal["limit", "market", "stop", "stop_limit"]
Tif = Literal["gtc", "day", "ioc", "fok", "gtd"]
Stp = Literal["none", "cancel_newest", "cancel_oldest", "cancel_both"]


class SnapshotError(ValueError):
    """A snapshot that cannot be read or does not describe a consistent exchange."""


class UnknownVersion(SnapshotError):
    """A snapshot of a version this code does not know: written by a newer version."""


# -- the records (version 1) ---------------------------------------------------------------
# Per-item records are arrays (compact: a snapshot may hold a million orders), the rest are
# maps. Unknown map keys are refused rather than ignored: any change to these records,
# even an added field, is a new version, so that a version number names one format.

class SpecRecord(msgspec.Struct, forbid_unknown_fields=True):
    """A symbol's grid and bounds: decimals as text, prices in ticks, quantities in lots."""

    symbol: str
    tick_size: str
    lot_size: str
    reference_price: int | None
    price_band: str | None
    """The allowed relative distance as an exact fraction, ``"1/10"`` for 10%."""
    max_price: int
    max_qty: int


class UserRecord(msgspec.Struct, forbid_unknown_fields=True):
    user: str
    name: str
    phone: str
    email: str
    token: str
    token_hash: str
    admin: bool


class PositionRecord(msgspec.Struct, array_like=True):
    """Lots held, lots reserved by live sells, cost basis and realized P/L (cash units)."""

    symbol: str
    qty: int
    reserved: int
    cost: int
    realized: int


class AccountRecord(msgspec.Struct, forbid_unknown_fields=True):
    """A user, their cash, the cash their live buys reserve, and positions in list order."""

    info: UserRecord
    cash: int
    reserved_cash: int
    positions: list[PositionRecord]


class OrderRecord(msgspec.Struct, array_like=True):
    """Every field of an order; money in ticks, lots and cash units, times in microseconds."""

    order_id: int
    user: str
    symbol: str
    side: SideName
    kind: Kind
    tif: Tif
    qty: int
    price: int | None
    stop_price: int | None
    accepted_at: int
    expires_at: int | None
    post_only: bool
    stp: Stp
    client_order_id: str | None
    status: Status
    reason: str | None
    filled: int
    notional: int
    reserved: int
    triggered: bool


class TradeRecord(msgspec.Struct, array_like=True):
    trade_id: int
    symbol: str
    price: int
    qty: int
    buy_order_id: int
    sell_order_id: int
    taker_side: SideName
    ts: int
    buy_user: str
    sell_user: str


class FillRecord(msgspec.Struct, array_like=True):
    """One entry of a user's fill history: a trade and the user's side of it."""

    trade_id: int
    side: SideName


class LevelRecord(msgspec.Struct, array_like=True):
    """A price level: its resting orders' ids in queue (time) order, first to trade first."""

    price: int
    order_ids: list[int]


class ExpiryRecord(msgspec.Struct, array_like=True):
    at: int
    order_id: int


class CandleRecord(msgspec.Struct, array_like=True):
    t: int
    o: int
    h: int
    l: int  # noqa: E741 - the candle's low, named as on the wire
    c: int
    v: int


class MarketRecord(msgspec.Struct, forbid_unknown_fields=True):
    """Public market data: last price, this session's open/high/low/volume, the tape
    (trade ids, oldest first) and each candle series (oldest first)."""

    last: int | None
    open: int | None
    high: int | None
    low: int | None
    volume: int
    tape: list[int]
    candles: dict[str, list[CandleRecord]]


class SymbolRecord(msgspec.Struct, forbid_unknown_fields=True):
    """One symbol: its spec and everything that is state of its book and market.

    ``bids`` best (highest) first, ``asks`` best (lowest) first; ``buy_stops`` and
    ``sell_stops`` in trigger order; ``paused`` in the order they were paused;
    ``expiries`` earliest first (the live orders that have an expiry time)."""

    spec: SpecRecord
    halted: bool
    book_seq: int
    bids: list[LevelRecord]
    asks: list[LevelRecord]
    buy_stops: list[int]
    sell_stops: list[int]
    paused: list[int]
    expiries: list[ExpiryRecord]
    market: MarketRecord


class LimitsRecord(msgspec.Struct, forbid_unknown_fields=True):
    """The exposure limits in force: every user's, and those of users with their own."""

    default: ExposureLimits = msgspec.field(default_factory=ExposureLimits)
    per_user: dict[str, ExposureLimits] = msgspec.field(default_factory=dict)


class SnapshotV1(msgspec.Struct, forbid_unknown_fields=True):
    """Version 1 of the whole exchange. ``orders`` by id; ``ended`` the ids of the ended
    orders kept, in the order they ended (the first are forgotten first); ``trades`` every
    trade that a fill history or a tape refers to, by id; ``fills`` each user's history,
    oldest first."""

    version: int
    cash_decimals: int
    market_open: bool
    next_order_id: int
    next_trade_id: int
    symbols: list[SymbolRecord]
    accounts: list[AccountRecord]
    orders: list[OrderRecord]
    ended: list[int]
    trades: list[TradeRecord]
    fills: dict[str, list[FillRecord]]


class SnapshotV2(SnapshotV1, forbid_unknown_fields=True):
    """The whole exchange, as version 2 has it: version 1 and ``limits``."""

    limits: LimitsRecord = msgspec.field(default_factory=lambda: LimitsRecord())
    """The exposure limits in force (version 2)."""


# -- version 3: two-factor login, watchlists and symbol names -------------------------------

class TwoFactorRecord(msgspec.Struct, array_like=True):
    """One user's two-factor login: the TOTP secret (base32), whether logins need a
    code, and the step of the last code accepted."""

    user: str
    secret: str
    enabled: bool
    last_step: int


# -- version 3: fees -------------------------------------------------------------------------

class TradeFeeRecord(msgspec.Struct, array_like=True):
    """What settlement wrote on a kept trade: each side's fee and the seller's cost basis
    removed by the sale (cash units). A trade not listed has all three zero."""

    trade_id: int
    buy_fee: int
    sell_fee: int
    sell_basis: int


class FeesRecord(msgspec.Struct, forbid_unknown_fields=True):
    """The fee schedule in force, the fees each user has paid (users who paid none are
    left out), and the fee fields of the trades in ``trades``."""

    schedule: FeeSchedule = msgspec.field(default_factory=FeeSchedule)
    paid: dict[str, int] = msgspec.field(default_factory=dict)
    trades: list[TradeFeeRecord] = msgspec.field(default_factory=list)


class Snapshot(SnapshotV2, forbid_unknown_fields=True):
    """The whole exchange, as version 3 has it: version 2 and the blocks below."""

    # -- version 3: account administration ------------------------------------------------
    # Users and symbols created at run time need nothing new: every account and every
    # symbol is in the snapshot already, wherever it came from.
    disabled: list[str] = msgspec.field(default_factory=list)
    """The users an administrator disabled, in registration order."""

    # -- two-factor login, watchlists and symbol names (version 3) --
    two_factor: list[TwoFactorRecord] = msgspec.field(default_factory=list)
    """Users who set up two-factor login, in account order."""
    watchlists: dict[str, list[str]] = msgspec.field(default_factory=dict)
    """Each user's watchlist, symbols in the order added (users without one left out)."""
    symbol_names: dict[str, str] = msgspec.field(default_factory=dict)
    """Display names of the symbols that have one."""

    # -- fees (version 3) --
    fees: FeesRecord = msgspec.field(default_factory=lambda: FeesRecord())
    """The fee schedule, fees paid and each kept trade's fees (version 3)."""


class _Version(msgspec.Struct):
    """Just the version of an encoded snapshot (every version is a map with this key)."""

    version: int


_ENCODER = msgspec.msgpack.Encoder()
_DECODERS: dict[int, msgspec.msgpack.Decoder[Any]] = {
    1: msgspec.msgpack.Decoder(SnapshotV1),
    2: msgspec.msgpack.Decoder(SnapshotV2),
    3: msgspec.msgpack.Decoder(Snapshot),
}
_VERSION = msgspec.msgpack.Decoder(_Version)


def encode(snapshot: Snapshot) -> bytes:
    return _ENCODER.encode(snapshot)


def decode(data: bytes | memoryview) -> Snapshot:
    """The snapshot encoded in ``data``, or :class:`SnapshotError` saying what is wrong."""
    try:
        version = _VERSION.decode(data).version
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise SnapshotError(f"not a snapshot record ({exc})") from None
    decoder = _DECODERS.get(version)
    if decoder is None:
        raise UnknownVersion(f"snapshot version {version} is not known to this version of the "
                            f"exchange (it reads versions 1 to {SNAPSHOT_VERSION}); was it "
                            "written by a newer one?")
    try:
        record = decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise SnapshotError(f"malformed version {version} snapshot: {exc}") from None
    if type(record) is not Snapshot:  # an earlier version: what it lacks has its default
        return Snapshot(**{**msgspec.structs.asdict(record), "version": SNAPSHOT_VERSION})
    snapshot: Snapshot = record
    return snapshot
