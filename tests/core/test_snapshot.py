"""Snapshots: capture -> encode -> decode -> restore gives the same exchange, which then
behaves exactly as the original would; a record that is malformed, of an unknown version
or inconsistent is refused with a clear error, and decoding never runs code."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.core.accounts import UserInfo
from exchange.core.engine import Exchange
from exchange.core.fees import FEE_ACCOUNT, FeeRates, FeeSchedule
from exchange.core.results import CommandError, Outcome
from exchange.core.snapshot import (
    SNAPSHOT_VERSION,
    Snapshot,
    SnapshotError,
    capture,
    decode,
    encode,
    restore,
)
from exchange.core.store import MemoryStore
from exchange.core.symbols import SymbolSpec
from tests.core.helpers import OTHER, SYM, T0

USERS = ("alice", "bob", "carol")
SECOND = 1_000_000


def make(store: MemoryStore | None = None) -> Exchange:
    """Two symbols of different grids (so mult differs), a price band, small balances."""
    specs = [SymbolSpec.create(SYM, "0.01", "1", "1.00", "0.5"),
             SymbolSpec.create(OTHER, "0.5", "0.01", max_price="5000")]
    ex = Exchange(specs, store=store if store is not None else MemoryStore(6, 5),
                  max_open_orders=10)
    for user in USERS:
        ex.add_user(UserInfo(user, name=user.title(), email=f"{user}@example.com",
                             token=f"t-{user}", admin=user == "alice"),
                    2_000_000, {SYM: 50, OTHER: 500})
    return ex


def round_trip(ex: Exchange) -> Exchange:
    return restore(decode(encode(capture(ex))), max_open_orders=ex.max_open_orders,
                   store=MemoryStore(6, 5))


# -- commands -------------------------------------------------------------------------------

Command = tuple[Any, ...]

PLACE = st.tuples(
    st.just("place"), st.sampled_from(USERS), st.sampled_from([SYM, OTHER]),
    st.sampled_from(["buy", "sell"]), st.integers(1, 6),
    st.sampled_from(["limit", "limit", "limit", "market", "stop", "stop_limit"]),
    st.sampled_from(["gtc", "gtc", "day", "ioc", "fok", "gtd"]),
    st.sampled_from([99, 100, 101]), st.sampled_from([99, 100, 101]), st.booleans(),
    st.sampled_from(["none", "none", "cancel_newest", "cancel_oldest", "cancel_both"]),
    st.one_of(st.none(), st.sampled_from(["a", "b", "c"])))
ON_ORDER = st.tuples(st.sampled_from(["cancel", "pause", "resume"]), st.sampled_from(USERS),
                     st.integers(1, 15))
MODIFY = st.tuples(st.just("modify"), st.sampled_from(USERS), st.integers(1, 15),
                   st.one_of(st.none(), st.integers(1, 8)),
                   st.one_of(st.none(), st.sampled_from([99, 100, 101])))
OTHERS = st.one_of(
    st.tuples(st.just("cancel_all"), st.sampled_from(USERS), st.sampled_from([SYM, OTHER])),
    st.tuples(st.just("expire"), st.sampled_from([SYM, OTHER])),
    st.tuples(st.just("expire_session"), st.sampled_from([SYM, OTHER]), st.booleans()),
    st.tuples(st.just("halt"), st.sampled_from([SYM, OTHER]), st.booleans()),
    st.tuples(st.just("market_open"), st.booleans()),
    st.tuples(st.just("deposit"), st.sampled_from(USERS), st.integers(1, 10_000)),
    st.tuples(st.just("withdraw"), st.sampled_from(USERS), st.integers(1, 10_000)),
    st.tuples(st.just("wait"), st.integers(1, 3)),
    # fees: a schedule of a symbol's rates and one user's own
    st.tuples(st.just("set_fees"), st.sampled_from([SYM, OTHER]), st.integers(0, 300),
              st.integers(0, 300), st.sampled_from(USERS), st.integers(0, 50)))
# Weighted by hand: hypothesis's one_of favours the simpler strategies, which would
# leave few orders placed and fewer trades.
_MIX = (PLACE,) * 6 + (ON_ORDER, ON_ORDER, MODIFY, OTHERS)
COMMANDS = st.lists(st.integers(0, len(_MIX) - 1).flatmap(lambda i: _MIX[i]),
                    min_size=10, max_size=60)


class Clock:
    def __init__(self) -> None:
        self.now = T0


def _place(ex: Exchange, c: Command, now: int) -> Outcome:
    _, user, symbol, side, qty, kind, tif, price, stop, post_only, stp, cid = c
    if symbol == OTHER:
        price, stop = price * 20, stop * 20  # ticks of 0.5 around 1000
    needs_price = kind in ("limit", "stop_limit")
    needs_stop = kind in ("stop", "stop_limit")
    return ex.place(user, symbol, side, qty, now, kind=kind, tif=tif,
                    price=price if needs_price else None,
                    stop_price=stop if needs_stop else None,
                    expires_at=now + 2 * SECOND if tif == "gtd" else None,
                    post_only=post_only and kind == "limit", stp=stp, client_order_id=cid)


RUN: dict[str, Callable[[Exchange, Command, int], object]] = {
    "place": _place,
    "cancel": lambda ex, c, now: ex.cancel(c[1], c[2], now),
    "pause": lambda ex, c, now: ex.pause(c[1], c[2], now),
    "resume": lambda ex, c, now: ex.resume(c[1], c[2], now),
    "modify": lambda ex, c, now: ex.modify(c[1], c[2], now, qty=c[3], price=c[4]),
    "cancel_all": lambda ex, c, now: ex.cancel_all(c[1], c[2], now),
    "expire": lambda ex, c, now: ex.expire(c[1], now),
    "expire_session": lambda ex, c, now: ex.expire_session(c[1], now, c[2]),
    "halt": lambda ex, c, now: ex.set_halted(c[1], c[2]),
    "market_open": lambda ex, c, now: ex.set_market_open(c[1]),
    "deposit": lambda ex, c, now: ex.deposit(c[1], c[2]),
    "withdraw": lambda ex, c, now: ex.withdraw(c[1], c[2]),
    "set_fees": lambda ex, c, now: ex.set_fee_schedule(FeeSchedule(
        {c[1]: FeeRates(c[2], c[3])}, {c[4]: FeeRates(c[5], c[5])})),
}


def _summary(result: object) -> object:
    """What a command returned, as plain values (orders, trades, events, book changes)."""
    if not isinstance(result, Outcome):
        return None
    order = result.order
    return (
        None if order is None else (order.order_id, order.status, order.reason, order.filled,
                                    order.notional, order.reserved),
        [(t.trade_id, t.symbol, t.price, t.qty, t.buy_order_id, t.sell_order_id, t.ts,
          t.buy_fee, t.sell_fee, t.sell_basis) for t in result.trades],
        [(e.kind, e.order.order_id, e.status, e.filled) for e in result.events],
        [o.order_id for o in result.orders], result.duplicate, result.book_changes)


def run(ex: Exchange, commands: list[Command], clock: Clock) -> list[object]:
    said: list[object] = []
    for c in commands:
        if c[0] == "wait":
            clock.now += c[1] * SECOND
            continue
        clock.now += 1000
        try:
            said.append(_summary(RUN[c[0]](ex, c, clock.now)))
        except CommandError as exc:
            said.append((exc.code, exc.message, _summary(exc.outcome)))
        ex.check_invariants()
    return said


def queries(ex: Exchange) -> object:
    """What the read-only ops answer, for every user and symbol."""
    out: list[object] = []
    for symbol in (SYM, OTHER):
        md = ex.market_data(symbol)
        out.append((ex.depth(symbol, 10), md.last, md.open, md.high, md.low, md.volume,
                    [(c.t, c.o, c.h, c.l, c.c, c.v) for c in ex.candles(symbol, "1m", 100)],
                    [t.trade_id for t in md.recent_trades(100)], ex.next_expiry(symbol)))
        for user in USERS:
            out.append([(o.order_id, o.status) for o in ex.orders_of(user, symbol, False)])
            out.append([(o.order_id, o.status) for o in ex.orders_of(user, symbol)])
            out.append([(t.trade_id, side, t.buy_fee, t.sell_fee, t.sell_basis)
                        for t, side in ex.fills_of(user, symbol)])
    out.append(ex.fee_schedule())
    for a in ex.users():
        out.append((a.user, a.cash, a.reserved_cash, a.open_orders, a.fees_paid,
                    [(p.symbol, p.qty, p.reserved, p.cost, p.realized)
                     for p in a.positions.values()]))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=COMMANDS, after=COMMANDS)
def test_a_restored_exchange_is_the_same_and_behaves_the_same(
        before: list[Command], after: list[Command]) -> None:
    original = make()
    clock = Clock()
    run(original, before, clock)
    record = capture(original)
    restored = round_trip(original)
    assert capture(restored) == record
    assert encode(capture(restored)) == encode(record)
    assert queries(restored) == queries(original)
    twin = Clock()
    twin.now = clock.now
    assert run(restored, after, twin) == run(original, after, clock)
    assert capture(restored) == capture(original)
    assert queries(restored) == queries(original)


def busy() -> Exchange:
    """Resting orders on both sides of both symbols, a stop, a paused and a gtd order,
    trades (so fills, tape and candles), and an order of each user that ended."""
    ex = make(MemoryStore())
    ex.place("alice", SYM, "buy", 5, T0, price=99)
    ex.place("bob", SYM, "buy", 3, T0 + 1, price=99)
    ex.place("carol", SYM, "sell", 4, T0 + 2, price=101)
    ex.place("bob", SYM, "sell", 2, T0 + 3, price=99)  # trades with alice
    ex.place("carol", SYM, "buy", 2, T0 + 4, kind="stop", stop_price=102)
    ex.place("carol", OTHER, "sell", 100, T0 + 5, price=2001)
    paused = ex.place("alice", OTHER, "buy", 50, T0 + 6, price=1999).order
    assert paused is not None
    ex.pause("alice", paused.order_id, T0 + 7)
    ex.place("bob", OTHER, "buy", 10, T0 + 8, tif="gtd", price=1990,
             expires_at=T0 + 60 * SECOND)
    ex.place("alice", SYM, "sell", 1000, T0 + 9, price=100)  # rejected: holdings
    return ex


def test_queue_order_stops_expiries_and_ids_survive() -> None:
    ex = busy()
    restored = round_trip(ex)
    book = restored.books[SYM]
    assert [list(book.bids.levels[99].orders)] == [[1, 2]]
    assert book.bids.levels[99].total == 6 and book.asks.levels[101].total == 4
    assert list(book.stops) == [5] and list(restored.books[OTHER].paused) == [7]
    assert restored.next_expiry(OTHER) == T0 + 60 * SECOND
    assert (restored.next_order_id, restored.next_trade_id) == (10, 2)
    assert restored.account("alice").open_orders == 2
    # The next trade takes alice's remaining 3 first (time priority), then bob's.
    out = restored.place("carol", SYM, "sell", 5, T0 + 10, price=99)
    assert [(t.trade_id, t.buy_order_id, t.qty) for t in out.trades] == [(2, 1, 3), (3, 2, 2)]
    assert out.order is not None and out.order.order_id == 10
    assert restored.expire(OTHER, T0 + 61 * SECOND).events[0].order.order_id == 8


def test_the_record_describes_state_not_attributes() -> None:
    record = capture(busy())
    assert record.version == SNAPSHOT_VERSION == 3
    by_symbol = {s.spec.symbol: s for s in record.symbols}
    aapl, msft = by_symbol[SYM], by_symbol[OTHER]
    assert (aapl.spec.tick_size, aapl.spec.price_band, msft.spec.lot_size) == ("0.01", "1/2",
                                                                               "0.01")
    assert [(lv.price, lv.order_ids) for lv in aapl.bids] == [(99, [1, 2])]
    assert aapl.buy_stops == [5] and msft.paused == [7]
    assert [(e.at, e.order_id) for e in msft.expiries] == [(T0 + 60 * SECOND, 8)]
    assert [o.status for o in record.orders][:4] == ["partially_filled", "accepted",
                                                     "accepted", "filled"]
    assert record.ended == [4, 9]
    assert [f.trade_id for f in record.fills["alice"]] == [1] == aapl.market.tape
    assert record.trades[0].price == 99 and record.trades[0].buy_user == "alice"
    data = msgspec.msgpack.decode(encode(record))
    assert sorted(data) == sorted(Snapshot.__struct_fields__)


# -- refusals ---------------------------------------------------------------------------------

def _edited(change: Callable[[dict[str, Any]], None]) -> bytes:
    data = msgspec.msgpack.decode(encode(capture(busy())))
    change(data)
    return msgspec.msgpack.encode(data)


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.update(version=SNAPSHOT_VERSION + 1),
     f"version {SNAPSHOT_VERSION + 1} is not known"),
    (lambda d: d.update(version=4), "version 4 is not known"),
    (lambda d: d.update(version="1"), "not a snapshot record"),
    (lambda d: d.pop("orders"), "missing required field `orders`"),
    (lambda d: d.update(surprise=1), "unknown field `surprise`"),
    (lambda d: d["orders"][0].__setitem__(3, "sideways"),
     r"Invalid enum value 'sideways' - at `\$.orders\[0\]\[3\]`"),
])
def test_a_malformed_record_is_refused_by_decode(change: Callable[[dict[str, Any]], None],
                                                 message: str) -> None:
    with pytest.raises(SnapshotError, match=message):
        decode(_edited(change))


def _symbol(d: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in d["symbols"] if s["spec"]["symbol"] == name)
    return found


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["orders"][0].__setitem__(2, "GOOG"), "order 1: unknown symbol 'GOOG'"),
    (lambda d: d["orders"][0].__setitem__(1, "mallory"), "order 1: unknown user 'mallory'"),
    (lambda d: d.update(next_order_id=5), "order 5 is not below next_order_id 5"),
    (lambda d: _symbol(d, SYM)["bids"][0][1].append(3), "order 3 is unknown, not accepted"),
    (lambda d: _symbol(d, SYM)["bids"].clear(), r"live orders \[1, 2\] wait nowhere"),
    (lambda d: _symbol(d, OTHER)["expiries"].clear(), "have an expiry time but are not"),
    (lambda d: d["accounts"][0].__setitem__("reserved_cash", 1), "reserved cash 1 is not"),
    (lambda d: d["accounts"][0]["positions"][0].__setitem__(0, "GOOG"), "unknown symbol"),
    (lambda d: d.update(cash_decimals=5), "cash_decimals 5 is not what its symbols give"),
    (lambda d: d["fills"].update(mallory=[]), "fills of unknown user 'mallory'"),
    (lambda d: d["trades"].clear(), "unknown trade"),
    (lambda d: d["ended"].pop(), "ended does not list every ended order"),
    (lambda d: _symbol(d, SYM)["spec"].update(tick_size="zero"), "not a consistent exchange"),
])
def test_an_inconsistent_record_is_refused_by_restore(change: Callable[[dict[str, Any]], None],
                                                      message: str) -> None:
    record = decode(_edited(change))
    with pytest.raises(SnapshotError, match=message):
        restore(record)


def test_decoding_never_runs_code(tmp_path: Path) -> None:
    """A pickle that would run code when unpickled is, to decode, just bytes that are no
    snapshot: refused, and nothing ran."""
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self) -> tuple[Any, ...]:
            return (Path.touch, (marker,))

    payload = pickle.dumps(Evil())
    with pytest.raises(SnapshotError):
        decode(payload)
    # Even hidden inside a well-formed record, a string stays a string.
    data = msgspec.msgpack.decode(encode(capture(busy())))
    data["accounts"][0]["info"]["name"] = payload.decode("latin-1")
    restored = restore(decode(msgspec.msgpack.encode(data)))
    assert restored.account("alice").info.name == payload.decode("latin-1")
    assert not marker.exists()


def test_the_exposure_limits_are_part_of_the_state() -> None:
    from exchange.core.limits import ExposureLimits
    from exchange.core.snapshot_format import SnapshotV1

    ex = busy()
    ex.set_exposure_limits(ExposureLimits(max_order_notional=10**9),
                           {"bob": ExposureLimits(max_position={ex.symbols()[0]: 10**6})})
    back = restore(decode(encode(capture(ex))))
    assert back.exposure_limits() == ex.exposure_limits()
    assert back.limited
    back.check_invariants()  # what live buys may still buy was counted again
    # a version 1 record (written before limits were state) reads as no limits
    record = capture(ex)
    fields = {n: getattr(record, n) for n in SnapshotV1.__struct_fields__}
    old = decode(msgspec.msgpack.encode(SnapshotV1(**{**fields, "version": 1})))
    assert old.version == SNAPSHOT_VERSION
    assert not restore(old).limited


# -- fees (version 3) -------------------------------------------------------------------------

def charged() -> Exchange:
    """``busy`` with a fee schedule in force and fills that paid fees both ways."""
    ex = busy()
    ex.set_fee_schedule(FeeSchedule({SYM: FeeRates(20, 50)}, {"carol": FeeRates(0, 10)}))
    ex.place("carol", SYM, "sell", 3, T0 + 20, price=99)  # takes from alice (maker)
    ex.place("alice", OTHER, "buy", 1, T0 + 21, kind="market")  # no fee on OTHER
    return ex


def test_the_fees_are_part_of_the_state() -> None:
    from exchange.core.snapshot_format import SnapshotV2

    ex = charged()
    ex.check_invariants()
    trade = ex.fills_of("carol", SYM)[-1][0]
    assert (trade.buy_fee, trade.sell_fee) == (ceil_bps(297 * ex.spec(SYM).mult, 20),
                                               ceil_bps(297 * ex.spec(SYM).mult, 10))
    record = capture(ex)
    assert record.fees.schedule == ex.fee_schedule()
    assert record.fees.paid == {"alice": trade.buy_fee, "carol": trade.sell_fee}
    back = restore(decode(encode(record)), store=MemoryStore(6, 5))
    assert capture(back) == record
    assert back.account(FEE_ACCOUNT).cash == trade.buy_fee + trade.sell_fee
    assert queries(back) == queries(round_trip(ex))
    last = back.fills_of("carol", SYM)[-1][0]
    assert (last.buy_fee, last.sell_fee, last.sell_basis) == (
        trade.buy_fee, trade.sell_fee, trade.sell_basis) and trade.sell_basis > 0
    # the restored exchange charges as the original does
    a = ex.place("bob", SYM, "sell", 1, T0 + 30, price=99)
    b = back.place("bob", SYM, "sell", 1, T0 + 30, price=99)
    assert _summary(a) == _summary(b) and a.trades[0].sell_fee > 0
    assert capture(back) == capture(ex)
    # a version 2 record (written before fees were state) reads as an exchange without
    old_ex = busy()
    v2 = capture(old_ex)
    fields = {n: getattr(v2, n) for n in SnapshotV2.__struct_fields__}
    old = decode(msgspec.msgpack.encode(SnapshotV2(**{**fields, "version": 2})))
    assert old.version == SNAPSHOT_VERSION and old.fees.schedule.empty
    again = capture(restore(old, store=MemoryStore(6, 5)))
    assert again.fees.trades == []  # the basis a version 2 sale removed was not kept
    assert msgspec.structs.replace(again, fees=v2.fees) == v2


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["fees"]["schedule"]["by_symbol"].update(GOOG=[1, 1]), "unknown symbol 'GOOG'"),
    (lambda d: d["fees"]["paid"].update(mallory=1), "unknown user 'mallory'"),
    (lambda d: d["fees"]["paid"].update(bob=5), "the fee account holds"),
    (lambda d: d["fees"]["schedule"]["by_symbol"].update(AAPL=[1, 10_001]), "outside 0 to"),
    (lambda d: d["fees"]["schedule"]["by_symbol"].update(AAPL=[90, 90]), "live buy holds"),
])
def test_an_inconsistent_fee_record_is_refused(change: Callable[[dict[str, Any]], None],
                                               message: str) -> None:
    data = msgspec.msgpack.decode(encode(capture(charged())))
    change(data)
    with pytest.raises(SnapshotError, match=message):
        restore(decode(msgspec.msgpack.encode(data)))


def ceil_bps(value: int, bps: int) -> int:
    return -(-value * bps // 10_000)
