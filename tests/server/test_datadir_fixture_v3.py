"""Every later version must load the committed data directory ``tests/fixtures/datadir-v3``
(a version 3 snapshot and the journal segment after it, see its ``make_datadir_v3.py``) and
find exactly the state it was made with: fees, a user created at run time, a symbol listed
at run time, two-factor login, a watchlist, a changed profile. The expected values are
worked out by hand from the commands in the generator, not read back from the engine.

Cash is in units of 10^-4: an ACME lot at 9.90 is 99,000 units. Fees are ceil(notional *
bps / 10000): ACME charges the maker 10 bps and the taker 20.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from exchange.core.engine import Exchange
from exchange.core.fees import FEE_ACCOUNT, FeeRates, FeeSchedule
from tests.server.test_datadir_fixture import recover_copy

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "datadir-v3"


def recovered(tmp_path: Path) -> Exchange:
    result = recover_copy(FIXTURE, tmp_path)
    assert (result.seq, result.snapshot_seq, result.replayed) == (12, 9, 3)
    # The one difference from the configuration: the symbol listed at run time.
    assert len(result.notes) == 1 and "NEWT only in the data directory" in result.notes[0]
    return result.exchange


def test_the_v3_fixture_loads_with_its_state(tmp_path: Path) -> None:
    ex = recovered(tmp_path)
    ex.check_invariants()
    assert ex.fee_schedule() == FeeSchedule({"ACME": FeeRates(10, 20)}, {})
    # Trade 1: ben sells 4 to ann at 9.90 (396,000): ann pays 396 (maker), ben 792.
    # Trade 2: dan sells 2 to ann (198,000): ann pays 198, dan 396.
    fees = {t.trade_id: (t.qty, t.buy_fee, t.sell_fee) for t, _ in ex.fills_of("ann")}
    assert fees == {1: (4, 396, 792), 2: (2, 198, 396)}
    paid = {a.user: a.fees_paid for a in ex.accounts if a.user != FEE_ACCOUNT}
    assert paid == {"ann": 594, "ben": 792, "cat": 0, "dan": 396}
    assert ex.account(FEE_ACCOUNT).cash == 1782
    # ann's buy of 10 holds, for its 4 lots left, 9.90 and one lot's fee at 20 bps each.
    ann, ben, dan = ex.account("ann"), ex.account("ben"), ex.account("dan")
    assert (ann.cash, ann.reserved_cash) == (100_000_000 - 594_000 - 594, 4 * (99_000 + 198))
    assert ben.cash == 200_000_000 + 396_000 - 792
    assert dan.cash == 1_000_000 + 198_000 - 396
    assert (ann.positions["ACME"].qty, ben.positions["ACME"].qty,
            dan.positions["ACME"].qty) == (506, 296, 8)
    order = ex.order(1)
    assert order is not None and (order.status, order.filled) == ("partially_filled", 6)
    # dan: created at run time, disabled in the snapshot, enabled again in the journal.
    info = dan.info
    assert (info.name, info.phone, info.email, info.admin, info.disabled) == (
        "Dan Fixture", "+1-555-0102", "dan@example.com", False, False)
    assert info.token_hash == "scrypt$16384$8$1$c2FsdA==$a2V5"
    assert ben.info.name == "Benjamin"
    newt = ex.spec("NEWT")
    assert (newt.tick_size, newt.lot_size) == (Decimal("0.05"), Decimal("10"))
    assert newt.reference_price == 400  # 20.00 in ticks of 0.05
    assert ex.two_factor_of("ann") is not None
    state = ex.two_factor_of("ann")
    assert state is not None and (state.secret, state.enabled, state.last_step) == (
        "JBSWY3DPEHPK3PXP", True, 5)
    assert ex.two_factor_of("ben") is None
    assert ex.watchlist("ben") == ["ACME", "NEWT"]


def test_the_v3_fixture_trades_on_with_fees(tmp_path: Path) -> None:
    ex = recovered(tmp_path)
    out = ex.place("ben", "ACME", "sell", 4, 1_700_000_000_000_100, price=990)
    assert [(t.trade_id, t.buy_order_id, t.qty, t.buy_fee, t.sell_fee) for t in out.trades] \
        == [(3, 1, 4, 396, 792)]
    assert ex.account(FEE_ACCOUNT).cash == 1782 + 396 + 792
    ex.check_invariants()
