"""Symbols and units: the fixed-point grid, cash scale, formatting and the price band."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from exchange.core.accounts import UserInfo
from exchange.core.results import CommandError
from exchange.core.symbols import (
    Money,
    SymbolSpec,
    cash_decimals_for,
    decimals_of,
    format_fixed,
    format_trimmed,
    to_units,
)
from tests.core.helpers import new_exchange


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", 0), ("10", 0), ("1E+2", 0), ("0.01", 2), ("0.50", 1), ("0.0001", 4), ("2.5000", 1)],
)
def test_decimals_of(text: str, expected: int) -> None:
    assert decimals_of(Decimal(text)) == expected


@pytest.mark.parametrize(
    ("units", "decimals", "text"),
    [(15025, 2, "150.25"), (5, 2, "0.05"), (0, 2, "0.00"), (-5, 2, "-0.05"), (-15025, 2, "-150.25"),
     (7, 0, "7"), (1, 6, "0.000001"), (1000000, 6, "1.000000")],
)
def test_format_fixed(units: int, decimals: int, text: str) -> None:
    assert format_fixed(units, decimals) == text


@pytest.mark.parametrize(
    ("units", "decimals", "text"),
    [(15020, 2, "150.2"), (15000, 2, "150"), (0, 2, "0"), (-50, 2, "-0.5"), (-1, 4, "-0.0001"),
     (100, 0, "100")],
)
def test_format_trimmed(units: int, decimals: int, text: str) -> None:
    assert format_trimmed(units, decimals) == text


@pytest.mark.parametrize(
    ("value", "step", "units"),
    [("150.25", "0.01", 15025), ("0.01", "0.01", 1), ("3", "1", 3), ("1.5", "0.5", 3),
     ("0.000", "0.001", None), ("0", "1", None), ("-1", "1", None), ("-0.02", "0.01", None),
     ("150.255", "0.01", None), ("0.7", "0.5", None), ("NaN", "1", None),
     ("Infinity", "1", None), ("-Infinity", "0.01", None)],
)
def test_to_units_accepts_only_positive_multiples(value: str, step: str, units: int | None) -> None:
    assert to_units(Decimal(value), Decimal(step)) == units


def test_spec_decimals_and_formatting() -> None:
    spec = SymbolSpec.create("BTC", "0.5", "0.001")
    assert (spec.price_decimals, spec.qty_decimals) == (1, 3)
    assert spec.price_ticks(Decimal("100.5")) == 201
    assert spec.price_ticks(Decimal("100.25")) is None
    assert spec.qty_lots(Decimal("0.25")) == 250
    assert spec.qty_lots(Decimal("0.0005")) is None
    assert spec.fmt_price(201) == "100.5"
    assert spec.fmt_price(201) == "100.5"  # cached text is the same text
    assert spec.fmt_qty(250) == "0.250"
    assert spec.fmt_qty(1) == "0.001"


def test_fmt_price_writes_exactly_the_tick_decimals() -> None:
    spec = SymbolSpec.create("AAPL", "0.05", "1")
    assert spec.fmt_price(3) == "0.15"
    assert spec.fmt_price(2000) == "100.00"
    whole = SymbolSpec.create("IDX", "5", "1")
    assert whole.fmt_price(3) == "15"


def test_fmt_avg_price_rounds_half_even_to_six_more_decimals() -> None:
    spec = SymbolSpec.create("AAPL", "0.01", "1")
    assert spec.fmt_avg_price(0, 0) is None
    assert spec.fmt_avg_price(15025 * 3, 3) == "150.25000000"
    # (100 + 101 + 101) ticks / 3 lots = 100.666...6 ticks = 1.00666666(6) currency
    assert spec.fmt_avg_price(302, 3) == "1.00666667"
    # 1 tick over 8 lots is 0.00125, exact at 8 places
    assert spec.fmt_avg_price(1, 8) == "0.00125000"
    assert spec.fmt_avg_price(1, 3) == "0.00333333"
    assert spec.fmt_avg_price(2, 3) == "0.00666667"
    # ties go to even: 0.000000025 -> 0.00000002 and 0.000000075 -> 0.00000008
    assert spec.fmt_avg_price(5, 2 * 10**6) == "0.00000002"
    assert spec.fmt_avg_price(15, 2 * 10**6) == "0.00000008"


@pytest.mark.parametrize(
    ("tick", "lot"), [("0", "1"), ("-0.01", "1"), ("0.01", "0"), ("0.01", "-1"), ("NaN", "1"),
                      ("0.01", "Infinity")],
)
def test_spec_refuses_a_non_positive_grid(tick: str, lot: str) -> None:
    with pytest.raises(ValueError, match="positive"):
        SymbolSpec.create("X", tick, lot)


def test_spec_reference_price_and_band() -> None:
    spec = SymbolSpec.create("X", "0.01", "1", reference_price="150.00", price_band="0.10")
    assert spec.reference_price == 15000
    assert spec.price_band == Fraction(1, 10)
    with pytest.raises(ValueError, match="reference_price"):
        SymbolSpec.create("X", "0.01", "1", reference_price="150.005")
    with pytest.raises(ValueError, match="reference_price"):
        SymbolSpec.create("X", "0.01", "1", reference_price="0")
    with pytest.raises(ValueError, match="price_band"):
        SymbolSpec.create("X", "0.01", "1", price_band="0")
    with pytest.raises(ValueError, match="price_band"):
        SymbolSpec.create("X", "0.01", "1", price_band="-0.1")


def test_band_is_inclusive_and_measured_from_last_else_reference() -> None:
    spec = SymbolSpec.create("X", "0.01", "1", reference_price="100.00", price_band="0.10")
    assert spec.band_allows(9000, None) and spec.band_allows(11000, None)
    assert not spec.band_allows(8999, None) and not spec.band_allows(11001, None)
    # once there is a last price, it is the centre
    assert spec.band_allows(13200, 12000) and not spec.band_allows(13201, 12000)
    assert spec.band_allows(10800, 12000) and not spec.band_allows(10799, 12000)
    no_band = SymbolSpec.create("Y", "0.01", "1", reference_price="100.00")
    assert no_band.band_allows(1, None) and no_band.band_allows(10**9, 5)
    no_reference = SymbolSpec.create("Z", "0.01", "1", price_band="0.10")
    assert no_reference.band_allows(1, None) and no_reference.band_allows(10**9, None)
    assert not no_reference.band_allows(200, 100)


def test_cash_scale_is_fine_enough_for_every_symbol() -> None:
    stock = SymbolSpec.create("AAPL", "0.01", "1")
    coin = SymbolSpec.create("BTC", "0.01", "0.00001")
    assert cash_decimals_for([]) == 2
    assert cash_decimals_for([stock]) == 2
    assert cash_decimals_for([stock, coin]) == 7
    whole = SymbolSpec.create("IDX", "5", "10")
    assert cash_decimals_for([whole]) == 2  # never coarser than cents


def test_exchange_mult_makes_trade_values_whole_cash_units() -> None:
    specs = [SymbolSpec.create("AAPL", "0.01", "1"), SymbolSpec.create("BTC", "0.5", "0.001"),
             SymbolSpec.create("IDX", "5", "10")]
    ex = new_exchange(specs)
    assert ex.money.decimals == 4  # 0.5 * 0.001 = 0.0005
    # value in cash units of one lot at one tick: tick * lot * 10**4
    assert [s.mult for s in specs] == [100, 5, 500000]
    assert ex.money.fmt(5) == "0.0005"


def test_set_cash_decimals_refuses_a_scale_too_coarse() -> None:
    spec = SymbolSpec.create("BTC", "0.01", "0.001")
    with pytest.raises(ValueError, match="too coarse"):
        spec.set_cash_decimals(4)
    spec.set_cash_decimals(5)
    assert spec.mult == 1


def test_money_parsing_and_formatting() -> None:
    money = Money(2)
    assert money.to_units(Decimal("10.50")) == 1050
    assert money.to_units(Decimal("10.505")) is None
    assert money.to_units(Decimal("0")) is None
    assert money.to_units(Decimal("-1")) is None
    assert money.parse_any(Decimal("0")) == 0
    assert money.parse_any(Decimal("0.00")) == 0
    assert money.parse_any(Decimal("12")) == 1200
    assert money.parse_any(Decimal("-12")) is None
    assert money.fmt(1050) == "10.5"
    assert money.fmt(100) == "1"
    assert money.fmt(0) == "0"
    assert money.fmt(-3) == "-0.03"


def test_duplicate_symbol_and_duplicate_user_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate symbol"):
        new_exchange([SymbolSpec.create("A", "0.01", "1"), SymbolSpec.create("A", "0.1", "1")])
    ex = new_exchange([SymbolSpec.create("A", "0.01", "1")])
    ex.add_user(UserInfo("alice"), 100)
    with pytest.raises(ValueError, match="duplicate user"):
        ex.add_user(UserInfo("alice"), 100)


def test_add_user_with_holdings_of_an_unknown_symbol() -> None:
    ex = new_exchange([SymbolSpec.create("A", "0.01", "1")])
    with pytest.raises(CommandError) as err:
        ex.add_user(UserInfo("alice"), 100, {"NOPE": 5})
    assert err.value.code == "unknown_symbol"
    assert ex.find_account("alice") is None


def test_add_user_sets_cash_holdings_and_user_details() -> None:
    ex = new_exchange([SymbolSpec.create("A", "0.01", "1")])
    info = UserInfo("alice", name="Alice Example", phone="+1", email="a@x", token="t", admin=True)
    acct = ex.add_user(info, 12345, {"A": 7})
    assert acct is ex.find_account("alice")
    assert acct.user == "alice" and acct.info.admin and acct.info.name == "Alice Example"
    assert (acct.cash, acct.reserved_cash, acct.available_cash) == (12345, 0, 12345)
    pos = acct.positions["A"]
    assert (pos.qty, pos.reserved, pos.available, pos.realized) == (7, 0, 7, 0)
