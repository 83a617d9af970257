"""Per-symbol bounds and the exchange-wide cash bound: everything fits a signed 64 bits."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from exchange.core.accounts import UserInfo
from exchange.core.interface import Engine
from exchange.core.results import CommandError
from exchange.core.symbols import INT64_MAX, SymbolSpec, default_bounds
from exchange.server.config import ConfigError, demo_config, parse_config
from tests.core.helpers import new_exchange


@pytest.mark.parametrize("mult", [1, 10, 10**4, 5 * 10**5, 10**12, INT64_MAX])
def test_default_bounds_fit(mult: int) -> None:
    price, qty = default_bounds(mult)
    assert price >= 1 and qty >= 1
    assert price * qty * mult <= INT64_MAX


def test_demo_market_bounds() -> None:
    ex = demo_config().build_exchange()
    got = {s: (spec.fmt_qty(spec.max_qty), spec.fmt_price(spec.max_price))
           for s, spec in ((s, ex.spec(s)) for s in ex.symbols())}
    assert got == {"AAPL": ("10000000", "100000.00"), "MSFT": ("10000000", "100000.00"),
                   "TSLA": ("10000000", "100000.00"),
                   "BTC-USD": ("100000.0000", "10000000.00"),
                   "ETH-USD": ("1000000.000", "1000000.00")}


def _config(**symbol: Any) -> dict[str, Any]:
    return {"symbols": [{"symbol": "X", "tick_size": "0.01", "lot_size": "1", **symbol}],
            "users": [{"user": "u", "token": "t", "cash": "100"}]}


def test_config_overrides_one_bound_and_the_other_takes_the_room() -> None:
    spec = parse_config(_config(max_price="1000")).build_exchange().specs["X"]
    assert spec.max_price == 100_000
    assert spec.max_price * spec.max_qty * spec.mult <= INT64_MAX
    assert spec.max_price * spec.max_qty * 10 * spec.mult > INT64_MAX  # the largest power
    spec = parse_config(_config(max_price="1000", max_qty="5")).build_exchange().specs["X"]
    assert (spec.max_price, spec.max_qty) == (100_000, 5)


@pytest.mark.parametrize("symbol", [
    {"max_price": "1000000000000", "max_qty": "1000000000"},  # product does not fit
    {"max_price": "0.001"},                                   # not on the tick grid
    {"max_qty": "0"},
    {"reference_price": "20", "max_price": "10"},
])
def test_config_refuses_bounds_that_do_not_fit(symbol: dict[str, Any]) -> None:
    with pytest.raises((ConfigError, ValueError)):
        parse_config(_config(**symbol)).build_exchange()


def test_config_refuses_cash_or_holdings_past_int64() -> None:
    data = _config()
    data["users"] = [{"user": f"u{i}", "token": "t", "cash": "50000000000000000"}
                     for i in range(2)]
    with pytest.raises(ConfigError, match="cash adds up"):
        parse_config(data).build_exchange()
    data["users"] = [{"user": f"u{i}", "token": "t", "holdings": {"X": str(INT64_MAX)}}
                     for i in range(2)]
    with pytest.raises(ConfigError, match="holdings of X"):
        parse_config(data).build_exchange()


def _exchange(cash: int) -> Engine:
    ex = new_exchange([SymbolSpec.create("X", "0.01", "1")])
    ex.add_user(UserInfo("a", "", "", "", "t", False), cash)
    ex.add_user(UserInfo("b", "", "", "", "t", False), 0)
    return ex


def test_deposits_stop_at_the_exchange_wide_bound_and_change_nothing() -> None:
    ex = _exchange(INT64_MAX - 10)
    ex.deposit("b", 4)
    with pytest.raises(CommandError) as err:
        ex.deposit("b", 7)
    assert err.value.code == "bad_request" and err.value.message.startswith("amount: ")
    assert ex.find_account("b").cash == 4  # type: ignore[union-attr]
    ex.deposit("b", 6)
    assert ex.total_cash() == INT64_MAX
    with pytest.raises(CommandError):
        ex.deposit("a", 1)
    with pytest.raises(CommandError, match="amount"):
        ex.withdraw("a", INT64_MAX + 1)
    assert ex.total_cash() == INT64_MAX


def test_views_refuse_a_value_past_the_bound_naming_the_field() -> None:
    from exchange.server.views import Views
    ex = demo_config().build_exchange()
    views = Views(ex)
    spec = ex.spec("BTC-USD")
    assert views.lots(spec, Decimal("100000.0000")) == 10**9
    with pytest.raises(CommandError, match=r"^qty: at most 100000.0000 for BTC-USD$"):
        views.lots(spec, Decimal("100000.0001"))
    assert views.ticks(spec, Decimal("10000000.00")) == 10**9
    with pytest.raises(CommandError, match=r"^stop_price: at most 10000000.00 for BTC-USD$"):
        views.ticks(spec, Decimal("10000000.01"), "stop_price")
    assert views.lots(spec, Decimal("-5")) == 0  # a rejected order (bad_qty), not an error


def test_a_snapshot_from_before_the_bounds_gets_the_default_bounds() -> None:
    """Old snapshots (pickles, read only by `exchange upgrade`) hold the specs; one written
    before `max_price` existed must still convert."""
    import pickle

    ex = demo_config().build_exchange()
    spec = ex.spec("BTC-USD")
    reduced = spec.__reduce_ex__(pickle.HIGHEST_PROTOCOL)
    state = reduced[2]
    assert isinstance(state, tuple)
    old_slots = {k: v for k, v in state[1].items()
                 if k not in ("max_price", "max_qty", "_wanted")}
    old = SymbolSpec.__new__(SymbolSpec)
    old.__setstate__((None, old_slots))
    assert (old.max_price, old.max_qty) == (spec.max_price, spec.max_qty) == (10**9, 10**9)
    again = pickle.loads(pickle.dumps(ex))
    assert again.specs["AAPL"].max_qty == ex.spec("AAPL").max_qty
