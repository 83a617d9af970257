"""Symbols and the fixed-point units the engine counts in.

Inside the engine a price is a whole number of ticks, a quantity a whole number of
lots and cash a whole number of *cash units* (10**-cash_decimals of the currency).
Exact decimal strings exist only at the edge: this module converts between the two,
so that no binary float ever touches money.

The cash unit is chosen per exchange so that every trade value is an integer:
one lot at one tick is worth ``tick_size * lot_size`` currency, so the cash scale
needs at least ``decimals(tick) + decimals(lot)`` decimals for the finest symbol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

MIN_CASH_DECIMALS = 2
"""Cash is never coarser than cents, so deposits like ``"10.50"`` always work."""

INT64_MAX = 2**63 - 1
"""Every integer the engine holds (ticks, lots, cash units, notionals) fits a signed
64-bit integer: a journal encodes them natively, and a compiled core could too."""


def default_bounds(mult: int) -> tuple[int, int]:
    """(largest price in ticks, largest quantity in lots) for a symbol worth ``mult``.

    The decimal digits a notional has room for, ``D = floor(log10(INT64_MAX // mult))``,
    are split between price and quantity: the price gets ``10**(D // 2)`` ticks and the
    quantity the other ``10**(D - D // 2)`` lots, so that ``price * qty * mult`` is at most
    ``10**D * mult <= INT64_MAX``. Round powers of ten are easy to state and to remember.
    """
    digits = len(str(INT64_MAX // mult)) - 1
    return 10 ** (digits // 2), 10 ** (digits - digits // 2)


def power_of_ten_within(limit: int) -> int:
    """The largest power of ten at most ``limit`` (1 for a limit below 1)."""
    return int(10 ** (len(str(max(1, limit))) - 1))


def decimals_of(value: Decimal) -> int:
    """Number of digits after the point that ``value`` needs (0 for whole numbers)."""
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def format_fixed(units: int, decimals: int) -> str:
    """Write ``units * 10**-decimals`` with exactly ``decimals`` digits after the point."""
    if decimals == 0:
        return str(units)
    sign = "-" if units < 0 else ""
    digits = str(abs(units)).rjust(decimals + 1, "0")
    return f"{sign}{digits[:-decimals]}.{digits[-decimals:]}"


def format_trimmed(units: int, decimals: int) -> str:
    """Like :func:`format_fixed` but without trailing zeros (the protocol's money format)."""
    text = format_fixed(units, decimals)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def to_units(value: Decimal, step: Decimal) -> int | None:
    """``value / step`` when it is a positive whole number, else None.

    None covers zero, negatives, non-multiples and non-finite input: every one of
    them is "not a positive multiple of the step", the protocol's bad_price/bad_qty.
    """
    try:
        if not value.is_finite():
            return None
        units, rest = divmod(value, step)
    except InvalidOperation:
        return None
    if rest != 0 or units <= 0:
        return None
    return int(units)


@dataclass(slots=True)
class SymbolSpec:
    """One tradable symbol: its grid (tick and lot) and its price band.

    ``mult`` is the value in cash units of one lot at one tick, so a trade of ``q``
    lots at ``p`` ticks is worth ``p * q * mult`` cash units exactly.
    """

    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    reference_price: int | None = None
    """Ticks; the price band's centre until the first trade."""
    price_band: Fraction | None = None
    """Allowed relative distance from the reference, e.g. Fraction(1, 10) for 10%."""
    price_decimals: int = 0
    qty_decimals: int = 0
    mult: int = 1
    cash_decimals: int = MIN_CASH_DECIMALS
    max_price: int = 0
    """Largest price (and stop price) in ticks; set with the cash scale, see `bounds`."""
    max_qty: int = 0
    """Largest order quantity in lots; ``max_qty * max_price * mult <= INT64_MAX``."""
    name: str = ""
    """The display name (``Apple Inc.``); "" when none was given (the symbol is shown)."""
    _wanted: tuple[int | None, int | None] = (None, None)
    _price_text: dict[int, str] = field(default_factory=dict, repr=False)

    @classmethod
    def create(
        cls,
        symbol: str,
        tick_size: Decimal | str,
        lot_size: Decimal | str,
        reference_price: Decimal | str | None = None,
        price_band: Decimal | str | None = None,
        max_price: Decimal | str | None = None,
        max_qty: Decimal | str | None = None,
        name: str = "",
    ) -> SymbolSpec:
        tick = Decimal(tick_size)
        lot = Decimal(lot_size)
        if not (tick.is_finite() and tick > 0 and lot.is_finite() and lot > 0):
            raise ValueError(f"{symbol}: tick_size and lot_size must be positive")
        spec = cls(symbol=symbol, tick_size=tick, lot_size=lot, name=name)
        spec.price_decimals = decimals_of(tick)
        spec.qty_decimals = decimals_of(lot)
        if reference_price is not None:
            ref = to_units(Decimal(reference_price), tick)
            if ref is None:
                raise ValueError(f"{symbol}: reference_price must be a positive multiple of tick")
            spec.reference_price = ref
        if price_band is not None:
            band = Fraction(Decimal(price_band))
            if band <= 0:
                raise ValueError(f"{symbol}: price_band must be positive")
            spec.price_band = band
        wanted_price = wanted_qty = None
        if max_price is not None:
            wanted_price = to_units(Decimal(max_price), tick)
            if wanted_price is None:
                raise ValueError(f"{symbol}: max_price must be a positive multiple of tick")
        if max_qty is not None:
            wanted_qty = to_units(Decimal(max_qty), lot)
            if wanted_qty is None:
                raise ValueError(f"{symbol}: max_qty must be a positive multiple of lot")
        spec._wanted = (wanted_price, wanted_qty)
        return spec

    def __setstate__(self, state: Any) -> None:
        """Unpickle (an old snapshot, by `exchange upgrade`), deriving the bounds when the
        snapshot predates them.

        A slotted object pickles as ``(None, {slot: value})``; a snapshot written before
        `max_price`/`max_qty` existed lacks them and gets the defaults for its ``mult``."""
        slots = state[1] if isinstance(state, tuple) else state
        for key, value in (slots or {}).items():
            setattr(self, key, value)
        if not hasattr(self, "name"):  # a snapshot from before display names
            self.name = ""
        if not getattr(self, "max_price", 0) or not getattr(self, "max_qty", 0):
            if not hasattr(self, "_wanted"):
                self._wanted = (None, None)
            self._set_bounds()

    def set_cash_decimals(self, cash_decimals: int) -> None:
        """Fix the exchange-wide cash scale; ``mult`` follows from it."""
        value = self.tick_size * self.lot_size * (Decimal(10) ** cash_decimals)
        if value != value.to_integral_value():
            raise ValueError(f"{self.symbol}: cash scale too coarse for tick x lot")
        self.cash_decimals = cash_decimals
        self.mult = int(value)
        self._set_bounds()

    def _set_bounds(self) -> None:
        """The largest price and quantity: the config's, or `default_bounds`.

        Given one of the two, the other gets all the room left (a power of ten). Both
        must leave every notional ``qty * price * mult`` within a signed 64-bit integer,
        and the reference price must be a price an order may carry.
        """
        mult = self.mult
        price, qty = self._wanted
        if price is None and qty is None:
            price, qty = default_bounds(mult)
        elif qty is None:
            assert price is not None
            qty = power_of_ten_within(INT64_MAX // (mult * price))
        elif price is None:
            price = power_of_ten_within(INT64_MAX // (mult * qty))
        if price * qty * mult > INT64_MAX:
            raise ValueError(
                f"{self.symbol}: max_qty x max_price is {self.fmt_qty(qty)} x "
                f"{self.fmt_price(price)}, worth more than 2^63-1 cash units of "
                f"10^-{self.cash_decimals}; lower one of them")
        if self.reference_price is not None and self.reference_price > price:
            raise ValueError(f"{self.symbol}: reference_price is above max_price "
                             f"{self.fmt_price(price)}")
        self.max_price = price
        self.max_qty = qty

    @property
    def display_name(self) -> str:
        """The name to show: the configured one, else the symbol itself."""
        return self.name or self.symbol

    # -- edge conversions -------------------------------------------------------------
    def price_ticks(self, value: Decimal) -> int | None:
        return to_units(value, self.tick_size)

    def qty_lots(self, value: Decimal) -> int | None:
        return to_units(value, self.lot_size)

    def fmt_price(self, ticks: int) -> str:
        # Prices repeat endlessly on a busy book: cache their text (bounded, see below).
        text = self._price_text.get(ticks)
        if text is None:
            text = format_fixed(ticks * int(self.tick_size.scaleb(self.price_decimals)),
                                self.price_decimals)
            if len(self._price_text) < 100_000:  # a bound against unbounded price spray
                self._price_text[ticks] = text
        return text

    def fmt_qty(self, lots: int) -> str:
        # Zero is "0" whatever the lot: the protocol writes `leaves_qty` "0" for an ended
        # order and "0" for a removed level, on every symbol.
        if lots == 0:
            return "0"
        return format_fixed(lots * int(self.lot_size.scaleb(self.qty_decimals)), self.qty_decimals)

    def fmt_avg_price(self, notional: int, lots: int) -> str | None:
        """Average fill price (notional in tick*lot) rounded half-even to tick decimals + 6."""
        if lots == 0:
            return None
        places = self.price_decimals + 6
        avg = (Decimal(notional) * self.tick_size / Decimal(lots)).quantize(
            Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN
        )
        return f"{avg:f}"

    def band_allows(self, price: int, last: int | None) -> bool:
        """Whether a limit price lies inside the band (inclusive) around last or reference."""
        band = self.price_band
        if band is None:
            return True
        ref = last if last is not None else self.reference_price
        if ref is None:
            return True
        num, den = band.numerator, band.denominator
        return ref * (den - num) <= price * den <= ref * (den + num)


def cash_decimals_for(specs: list[SymbolSpec]) -> int:
    """The coarsest cash scale in which every symbol's trade values are whole units."""
    need = MIN_CASH_DECIMALS
    for spec in specs:
        need = max(need, decimals_of(spec.tick_size * spec.lot_size))
    return need


@dataclass(slots=True)
class Money:
    """Converts cash between decimal text and the exchange's integer cash units."""

    decimals: int

    def to_units(self, value: Decimal) -> int | None:
        """Cash units for a positive amount, or None if it is not a positive whole unit count."""
        return to_units(value, Decimal(1).scaleb(-self.decimals))

    def parse_any(self, value: Decimal) -> int | None:
        """Cash units for a non-negative amount (config balances may be zero)."""
        if value == 0:
            return 0
        return self.to_units(value)

    def fmt(self, units: int) -> str:
        return format_trimmed(units, self.decimals)
