"""Every later version must load the committed data directory ``tests/fixtures/datadir-v1``
(a version 1 snapshot and the journal segment after it, see its ``make_datadir_v1.py``) and
find exactly the state it was made with. The expected values are worked out by hand from
the commands in the generator, not read back from the engine.

Cash is in units of 10^-4 (COIN-USD's tick 0.5 x lot 0.001 needs four decimals): ACME is
worth 100 units per lot per tick, COIN-USD 5.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from exchange.core.engine import Exchange
from exchange.server.config import load_config
from exchange.server.journal import FileJournal, Recovered

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "datadir-v1"
T0 = 1_700_000_000_000_000
HOUR = 3600 * 1_000_000


def recover_copy(fixture: Path, tmp_path: Path) -> Recovered:
    """Recover a copy of a committed data directory with its own ``config.toml`` (recovery
    takes a lock and may cut a torn tail: never the original), then close its journal."""
    data = tmp_path / "data"
    shutil.copytree(fixture, data)
    config = load_config(data / "config.toml")
    result = FileJournal.recover(data, config.build_exchange())
    FileJournal(data, result.exchange, result.seq, result.snapshot_seq).close()
    return result


def recovered(tmp_path: Path) -> Exchange:
    result = recover_copy(FIXTURE, tmp_path)
    assert (result.seq, result.snapshot_seq, result.replayed) == (16, 12, 4)
    assert result.notes == []
    return result.exchange


def test_the_v1_fixture_loads_with_its_state(tmp_path: Path) -> None:
    ex = recovered(tmp_path)
    ex.check_invariants()
    assert (ex.next_order_id, ex.next_trade_id, ex.market_open) == (12, 3, True)
    assert ex.money.decimals == 4
    balances = {a.user: (a.cash, a.reserved_cash, a.open_orders) for a in ex.accounts}
    assert balances == {"ann": (103_614_000, 1_589_000, 3),
                        "ben": (196_385_000, 2_490_000, 3),
                        "cat": (50_128_450, 98_500, 1)}
    # A position of nothing (no lots, hold, cost or P/L) is the same as none: whether
    # placing an order opens an empty one is the engine's business, not state.
    holdings = {(a.user, p.symbol): (p.qty, p.reserved) for a in ex.accounts
                for p in a.positions.values()
                if (p.qty, p.reserved, p.cost, p.realized) != (0, 0, 0, 0)}
    assert holdings == {("ann", "ACME"): (504, 0), ("ann", "COIN-USD"): (1800, 300),
                        ("ben", "ACME"): (296, 0), ("ben", "COIN-USD"): (1200, 0)}
    ann = ex.account("ann")
    assert ann.info.name == "Ann Fixture" and ann.info.email == "ann@example.com"
    assert ex.account("cat").info.admin
    assert ex.depth("ACME", 5) == (ex.books["ACME"].seq, [(990, 11), (985, 1)], [])
    assert ex.depth("COIN-USD", 5)[1:] == ([(3980, 50)], [(4010, 300)])
    acme, coin = ex.books["ACME"], ex.books["COIN-USD"]
    assert list(acme.bids.levels[990].orders) == [1, 2]
    assert list(acme.stops) == [5] and list(coin.paused) == [8]
    assert (acme.halted, coin.halted) == (False, True)
    assert (ex.next_expiry("ACME"), ex.next_expiry("COIN-USD")) == (None, T0 + HOUR)
    statuses = {o.order_id: (o.status, o.filled) for o in ex.store.all_orders().values()}
    assert statuses == {1: ("partially_filled", 4), 2: ("accepted", 0), 3: ("canceled", 0),
                        4: ("filled", 4), 5: ("pending", 0), 6: ("partially_filled", 200),
                        7: ("filled", 200), 8: ("paused", 0), 9: ("accepted", 0),
                        10: ("expired", 0), 11: ("accepted", 0)}
    assert ex.find("ann", client_order_id="a1").order_id == 1
    assert (ex.market_data("ACME").last, ex.market_data("COIN-USD").last) == (990, 4010)
    assert [(t.trade_id, side) for t, side in ex.fills_of("ben")] == [(1, "sell"), (2, "buy")]


def test_the_v1_fixture_trades_on_in_time_priority(tmp_path: Path) -> None:
    ex = recovered(tmp_path)
    out = ex.place("ann", "ACME", "sell", 8, T0 + 40, price=990)
    assert out.order is not None and out.order.order_id == 12
    assert [(t.trade_id, t.buy_order_id, t.qty) for t in out.trades] == [(3, 1, 6), (4, 2, 2)]
    assert ex.books["ACME"].stops  # 990 does not reach the stop at 1050
    ex.check_invariants()
