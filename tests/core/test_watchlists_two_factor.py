"""Watchlists, two-factor state and symbol names in the core, and in the snapshot (v3).

* A watchlist keeps the order symbols were added, takes a symbol once, refuses one past
  its bound, an unknown symbol, or a removal of a symbol it does not hold, each changing
  nothing.
* The two-factor record sets the user's whole state; an empty secret turns it off.
* The snapshot carries all three; a version 2 record (written before them) reads as none;
  a version 3 record naming an unknown user or symbol is refused.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from exchange.core import commands as C
from exchange.core.accounts import UserInfo
from exchange.core.results import CommandError
from exchange.core.snapshot import SnapshotError, capture, decode, encode, restore
from exchange.core.snapshot_format import SnapshotV2
from exchange.core.symbols import SymbolSpec
from exchange.core.two_factor import TwoFactorState
from exchange.core.watchlists import MAX_WATCHLIST
from tests.core.helpers import OTHER, SYM, T0, make_exchange, new_exchange

SECRET = "JBSWY3DPEHPK3PXP"


def test_a_watchlist_keeps_the_order_added_and_each_symbol_once() -> None:
    ex = make_exchange()
    ex.apply(C.Watch(T0, "alice", OTHER, True))
    ex.apply(C.Watch(T0, "alice", SYM, True))
    ex.apply(C.Watch(T0, "alice", OTHER, True))  # there already: nothing changes
    assert ex.watchlist("alice") == [OTHER, SYM]
    assert ex.watchlist("bob") == []
    ex.apply(C.Watch(T0, "alice", OTHER, False))
    assert ex.watchlist("alice") == [SYM]
    ex.check_invariants()


@pytest.mark.parametrize(("cmd", "code", "needle"), [
    (C.Watch(T0, "alice", "NOPE", True), "unknown_symbol", "symbol: unknown symbol 'NOPE'"),
    (C.Watch(T0, "alice", OTHER, False), "bad_request", "symbol: 'MSFT' is not on the"),
    (C.Watch(T0, "mallory", SYM, True), "auth_required", "user"),
    (C.TwoFactor(T0, "mallory", SECRET, False, 0), "auth_required", "user"),
])
def test_refusals_change_nothing(cmd: C.Command, code: str, needle: str) -> None:
    ex = make_exchange()
    ex.apply(C.Watch(T0, "alice", SYM, True))
    with pytest.raises(CommandError) as err:
        ex.apply(cmd)
    assert err.value.code == code and needle in err.value.message
    assert ex.watchlist("alice") == [SYM]
    assert ex.two_factor_of("mallory") is None


def test_a_watchlist_is_bounded() -> None:
    symbols = [SymbolSpec.create(f"S{i:03d}", "0.01", "1") for i in range(MAX_WATCHLIST + 1)]
    ex = new_exchange(symbols)
    ex.add_user(UserInfo("alice"), 0)
    for spec in symbols[:MAX_WATCHLIST]:
        ex.apply(C.Watch(T0, "alice", spec.symbol, True))
    with pytest.raises(CommandError, match=f"at most {MAX_WATCHLIST} symbols"):
        ex.apply(C.Watch(T0, "alice", symbols[-1].symbol, True))
    assert len(ex.watchlist("alice")) == MAX_WATCHLIST
    ex.apply(C.Watch(T0, "alice", symbols[0].symbol, True))  # there already: not refused


def test_the_two_factor_record_sets_the_whole_state() -> None:
    ex = make_exchange()
    assert ex.two_factor_of("alice") is None
    ex.apply(C.TwoFactor(T0, "alice", SECRET, False, 0))
    assert ex.two_factor_of("alice") == TwoFactorState(SECRET, False, 0)
    ex.apply(C.TwoFactor(T0, "alice", SECRET, True, 56_666_666))
    assert ex.two_factor_of("alice") == TwoFactorState(SECRET, True, 56_666_666)
    ex.apply(C.TwoFactor(T0, "alice", "", False, 0))
    assert ex.two_factor_of("alice") is None


def _with_extras() -> Any:
    specs = [SymbolSpec.create(SYM, "0.01", "1", name="Apple Inc."),
             SymbolSpec.create(OTHER, "0.01", "1")]
    ex = new_exchange(specs)
    for user in ("alice", "bob", "carol"):
        ex.add_user(UserInfo(user), 1000)
    ex.apply(C.TwoFactor(T0, "bob", SECRET, True, 7))
    ex.apply(C.TwoFactor(T0, "alice", "KRSXG5CTMVRXEZLU", False, 0))
    ex.apply(C.Watch(T0, "carol", OTHER, True))
    ex.apply(C.Watch(T0, "carol", SYM, True))
    return ex


def test_the_snapshot_carries_two_factor_watchlists_and_names() -> None:
    ex = _with_extras()
    record = capture(ex)
    assert [(r.user, r.enabled, r.last_step) for r in record.two_factor] == [
        ("alice", False, 0), ("bob", True, 7)]  # in account order
    assert record.watchlists == {"carol": [OTHER, SYM]}
    assert record.symbol_names == {SYM: "Apple Inc."}
    back = restore(decode(encode(record)))
    assert back.two_factor_of("bob") == TwoFactorState(SECRET, True, 7)
    assert back.two_factor_of("alice") == TwoFactorState("KRSXG5CTMVRXEZLU", False, 0)
    assert back.two_factor_of("carol") is None
    assert back.watchlist("carol") == [OTHER, SYM]
    assert back.spec(SYM).display_name == "Apple Inc."
    assert back.spec(OTHER).name == "" and back.spec(OTHER).display_name == OTHER
    assert encode(capture(back)) == encode(record)


def test_a_version_2_record_reads_as_having_none_of_them() -> None:
    record = capture(_with_extras())
    fields = {n: getattr(record, n) for n in SnapshotV2.__struct_fields__}
    old = decode(msgspec.msgpack.encode(SnapshotV2(**{**fields, "version": 2})))
    back = restore(old)
    assert back.two_factor_of("bob") is None and back.watchlist("carol") == []
    assert back.spec(SYM).name == ""


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["two_factor"].append(["mallory", SECRET, True, 0]),
     "two_factor: unknown user 'mallory'"),
    (lambda d: d["two_factor"].append(["bob", SECRET, True, 0]), "there twice"),
    (lambda d: d["two_factor"].append(["carol", "", True, 0]), "empty secret"),
    (lambda d: d["watchlists"].update(mallory=[SYM]), "watchlists: unknown user 'mallory'"),
    (lambda d: d["watchlists"].update(alice=["GOOG"]), "unknown symbol 'GOOG'"),
    (lambda d: d["watchlists"].update(alice=[SYM, SYM]), "watches 'AAPL' twice"),
    (lambda d: d["watchlists"].update(alice=[]), "watches 0 symbols"),
    (lambda d: d["symbol_names"].update(GOOG="Alphabet"), "symbol_names: unknown symbol"),
])
def test_an_inconsistent_version_3_block_is_refused(change: Any, message: str) -> None:
    data = msgspec.msgpack.decode(encode(capture(_with_extras())))
    change(data)
    with pytest.raises(SnapshotError, match=message):
        restore(decode(msgspec.msgpack.encode(data)))
