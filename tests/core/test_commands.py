"""The command records: one shape of a command, from the request to the journal and back.

* Every record type encodes (msgpack, ``[tag, field, ...]``) and decodes to an equal
  record of the same type, and the union decodes each by its tag.
* The records of the ops whose layout did not change encode to exactly the bytes of the
  journal tuples written before the records existed, so old journals read as records.
* A run of every command type through ``Exchange.apply``, encoded and decoded and applied
  again on a fresh exchange, rebuilds the same state; and ``apply`` runs each command as
  the keyword method it stands for does.
* A record is frozen, and a record with more fields than its type is refused.
"""

from __future__ import annotations

import contextlib
from typing import get_args

import msgspec
import pytest

from exchange.core import commands as C
from exchange.core.fees import FeeRates, FeeSchedule
from exchange.core.limits import ExposureLimits
from exchange.core.results import CommandError
from tests.core.commands_script import place, run_script, state
from tests.core.helpers import SYM, T0, make_exchange

SAMPLES: list[C.Command] = [
    place(T0, "alice", "buy", 3, 15000, tif="gtd", expires_at=T0 + 1, cid="c-1"),
    C.Modify(T0, "alice", 7, None, 15001),
    C.Cancel(T0, "alice", 7),
    C.Pause(T0, "alice", 7),
    C.Resume(T0, "alice", 7),
    C.CancelAll(T0, "bob", SYM),
    C.Expire(T0, SYM),
    C.ExpireSession(T0, SYM, True),
    C.Halt(T0, "admin", SYM, True),
    C.MarketOpen(T0, "admin", False),
    C.Deposit(T0, "alice", 100),
    C.Withdraw(T0, "alice", 100),
    C.SetLimits(T0, "", ExposureLimits(1_000, {SYM: 5}, None), {"bob": ExposureLimits()}),
    # account administration and profiles
    C.CreateUser(T0, "admin", "dora", "Dora", "+1 555 0100", "d@example.com", "h", True, 5,
                 {SYM: 3}),
    C.UpdateProfile(T0, "alice", "alice", "Alice", None, ""),
    C.SetDisabled(T0, "admin", "bob", True),
    C.AddSymbol(T0, "admin", "NEWCO", "0.05", "10", "20.00", None, "1000", None),
    C.TwoFactor(T0, "alice", "JBSWY3DPEHPK3PXP", True, 59_000_000),
    C.Watch(T0, "alice", SYM, True),
    C.SetFees(T0, "", FeeSchedule({SYM: FeeRates(10, 25)}, {"bob": FeeRates(0, 0)})),
]

# (record, the journal tuple the server wrote for it before the records existed)
UNCHANGED_LAYOUT = [
    (SAMPLES[0], ("place", T0, "alice", SYM, "buy", 3, "limit", "gtd", 15000, None,
                  T0 + 1, False, "none", "c-1")),
    (SAMPLES[1], ("modify", T0, "alice", 7, None, 15001)),
    (SAMPLES[2], ("cancel", T0, "alice", 7)),
    (SAMPLES[3], ("pause", T0, "alice", 7)),
    (SAMPLES[4], ("resume", T0, "alice", 7)),
    (SAMPLES[5], ("cancel_all", T0, "bob", SYM)),
    (SAMPLES[6], ("expire", T0, SYM)),
    (SAMPLES[7], ("expire_session", T0, SYM, True)),
]


def test_the_samples_and_the_union_cover_every_record_type() -> None:
    assert [type(s) for s in SAMPLES] == list(C.COMMANDS) == list(get_args(C.Command))
    assert sorted(C.BY_TAG) == sorted(["place", "modify", "cancel", "pause", "resume",
                                       "cancel_all", "expire", "expire_session", "halt",
                                       "market_open", "deposit", "withdraw", "set_limits",
                                       "create_user", "update_profile", "set_disabled",
                                       "add_symbol",
                                       "two_factor", "watch",
                                       "set_fees"])


@pytest.mark.parametrize("cmd", SAMPLES, ids=lambda c: type(c).__name__)
def test_every_record_round_trips_through_msgpack(cmd: C.Command) -> None:
    data = msgspec.msgpack.encode(cmd)
    assert msgspec.msgpack.decode(data)[0] == cmd.__struct_config__.tag  # the tag first
    back = msgspec.msgpack.Decoder(C.Command).decode(data)
    assert type(back) is type(cmd)
    assert back == cmd
    assert msgspec.convert(msgspec.msgpack.decode(data), C.Command) == cmd


@pytest.mark.parametrize(("cmd", "old"), UNCHANGED_LAYOUT, ids=lambda c: str(c)[:12])
def test_unchanged_ops_encode_as_the_old_journal_tuples(cmd: C.Command,
                                                         old: tuple[object, ...]) -> None:
    assert msgspec.msgpack.encode(cmd) == msgspec.msgpack.encode(old)
    assert msgspec.msgpack.encode((41, cmd)) == msgspec.msgpack.encode((41, old))


def test_a_record_is_frozen_and_extra_fields_are_refused() -> None:
    cmd = C.Deposit(T0, "alice", 1)
    with pytest.raises(AttributeError):
        cmd.amount = 2  # type: ignore[misc]
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(["deposit", T0, "alice", 1, "extra"], C.Command)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(["deposit", T0, "alice", "1"], C.Command)  # a field's type
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(["no_such_op", T0], C.Command)


def test_the_script_runs_every_record_type() -> None:
    ex = make_exchange()
    ran = run_script(ex)
    assert {type(c) for c in ran} == set(C.COMMANDS)
    ex.check_invariants()
    after = state(ex)
    assert after["fills"]["alice"] and after["fills"]["carol"]  # trades happened
    assert any(o[9] == "rejected" for o in after["orders"].values())


def test_decoded_records_replay_to_the_same_state() -> None:
    live = make_exchange()
    ran = run_script(live)
    encoder = msgspec.msgpack.Encoder()
    wire = [encoder.encode(cmd) for cmd in ran]
    decoder = msgspec.msgpack.Decoder(C.Command)
    replayed = make_exchange()
    for data in wire:
        with contextlib.suppress(CommandError):
            replayed.apply(decoder.decode(data))
    live.check_invariants()
    replayed.check_invariants()
    assert state(replayed) == state(live)
    assert state(replayed) != state(make_exchange())


def test_apply_runs_each_command_as_its_keyword_method() -> None:
    """The same commands through the keyword methods give the same state as apply."""
    by_apply = make_exchange()
    ran = run_script(by_apply)
    by_method = make_exchange()
    for c in ran:
        with contextlib.suppress(CommandError):
            match c:
                case C.Place():
                    by_method.place(c.user, c.symbol, c.side, c.qty, c.time, kind=c.kind,
                                    tif=c.tif, price=c.price, stop_price=c.stop_price,
                                    expires_at=c.expires_at, post_only=c.post_only,
                                    stp=c.stp, client_order_id=c.client_order_id)
                case C.Modify():
                    by_method.modify(c.user, c.order_id, c.time, qty=c.qty, price=c.price)
                case C.Cancel():
                    by_method.cancel(c.user, c.order_id, c.time)
                case C.Pause():
                    by_method.pause(c.user, c.order_id, c.time)
                case C.Resume():
                    by_method.resume(c.user, c.order_id, c.time)
                case C.CancelAll():
                    by_method.cancel_all(c.user, c.symbol, c.time)
                case C.Expire():
                    by_method.expire(c.symbol, c.time)
                case C.ExpireSession():
                    by_method.expire_session(c.symbol, c.time, c.everything)
                case C.Halt():
                    by_method.set_halted(c.symbol, c.halted)
                case C.MarketOpen():
                    by_method.set_market_open(c.is_open)
                case C.Deposit():
                    by_method.deposit(c.user, c.amount)
                case C.Withdraw():
                    by_method.withdraw(c.user, c.amount)
                case C.SetLimits():
                    by_method.set_exposure_limits(c.default, c.per_user)
                case C.CreateUser():
                    by_method.create_user(c.new_user, c.name, c.phone, c.email,
                                          c.token_hash, c.admin, c.cash, c.holdings)
                case C.UpdateProfile():
                    by_method.update_profile(c.target, c.name, c.phone, c.email)
                case C.SetDisabled():
                    by_method.set_disabled(c.target, c.disabled)
                case C.AddSymbol():
                    by_method.add_symbol(c.symbol, c.tick_size, c.lot_size,
                                         c.reference_price, c.price_band, c.max_price,
                                         c.max_qty)
                case C.TwoFactor():
                    by_method.set_two_factor(c.user, c.secret, c.enabled, c.last_step)
                case C.Watch():
                    by_method.watch(c.user, c.symbol, c.on)
                case C.SetFees():
                    by_method.set_fee_schedule(c.schedule)
    assert state(by_method) == state(by_apply)


def test_apply_returns_an_outcome_for_every_command() -> None:
    ex = make_exchange()
    cash = ex.account("alice").cash
    out = ex.apply(C.Deposit(T0, "alice", 250))
    assert out.order is None and not out.events and not out.fills
    assert ex.account("alice").cash == cash + 250
    ex.apply(C.Halt(T0, "admin", SYM, True))
    assert ex.books[SYM].halted
    ex.apply(C.MarketOpen(T0, "admin", False))
    assert not ex.market_open
    with pytest.raises(CommandError, match="amount"):
        ex.apply(C.Withdraw(T0, "alice", 10**18))
