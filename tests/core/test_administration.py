"""Account administration and profiles in the core: users created and disabled at run
time, profiles changed, symbols listed, and all of it through the snapshot.

Every refusal is a ``bad_request`` naming its field and changes nothing.
"""

from __future__ import annotations

import msgspec
import pytest

from exchange.core import commands as C
from exchange.core.interface import Engine
from exchange.core.results import CommandError
from exchange.core.snapshot import capture, decode, encode, restore
from exchange.core.snapshot_format import Snapshot, SnapshotV2
from exchange.core.symbols import INT64_MAX
from tests.core.commands_script import state
from tests.core.helpers import CASH, OTHER, SYM, T0, account

HASH = "scrypt$16384$8$1$c2FsdA==$a2V5"


def create(ex: Engine, user: str = "dora", *, name: str = "Dora Explorer",
           phone: str = "+1 (555) 010-0199", email: str = "dora@example.com",
           admin: bool = False, cash: int = 50_000,
           holdings: dict[str, int] | None = None) -> None:
    ex.apply(C.CreateUser(T0, "admin", user, name, phone, email, HASH, admin, cash,
                          holdings or {}))


def refused(ex: Engine, cmd: C.Command, field: str) -> None:
    """``cmd`` is refused ``bad_request`` naming ``field``, and changes nothing."""
    before = state(ex)
    with pytest.raises(CommandError) as caught:
        ex.apply(cmd)
    assert caught.value.code == "bad_request"
    assert caught.value.message.startswith(f"{field}: "), caught.value.message
    assert state(ex) == before


def test_a_created_user_has_the_profile_the_hash_and_the_cash(ex: Engine) -> None:
    total = ex.total_cash()
    create(ex, admin=True)
    dora = account(ex, "dora")
    info = dora.info
    assert (info.name, info.phone, info.email, info.admin, info.disabled) == (
        "Dora Explorer", "+1 (555) 010-0199", "dora@example.com", True, False)
    assert (info.token, info.token_hash) == ("", HASH)  # never a clear token
    assert dora.cash == 50_000 and not dora.positions
    assert ex.total_cash() == total + 50_000
    assert [a.user for a in ex.users()][-1] == "dora"
    out = ex.place("dora", SYM, "buy", 5, T0, price=100)
    assert out.order is not None and out.order.status == "accepted"


@pytest.mark.parametrize(("user", "field", "changes"), [
    ("alice", "user", {}),  # already exists
    ("", "user", {}),
    ("dora smith", "user", {}),
    ("-dora", "user", {}),
    ("d" * 65, "user", {}),
    ("dora\n", "user", {}),
    ("dora", "name", {"name": "x" * 101}),
    ("dora", "name", {"name": "Dora\x1b[2J"}),
    ("dora", "name", {"name": " Dora"}),
    ("dora", "phone", {"phone": "call me"}),
    ("dora", "phone", {"phone": "12"}),
    ("dora", "email", {"email": "dora"}),
    ("dora", "email", {"email": "dora@localhost"}),
    ("dora", "email", {"email": "do ra@example.com"}),
    ("dora", "cash", {"cash": -1}),
    ("dora", "token_hash", {"token_hash": ""}),
    ("dora", "holdings", {"holdings": {"NOPE": 1}}),
    ("dora", "holdings", {"holdings": {SYM: -1}}),
    ("dora", "holdings", {"holdings": {SYM: INT64_MAX}}),
])
def test_a_malformed_or_duplicate_user_is_refused(ex: Engine, user: str, field: str,
                                                  changes: dict[str, object]) -> None:
    fields: dict[str, object] = {"name": "Dora", "phone": "", "email": "", "token_hash": HASH,
                                 "cash": 0, **changes}
    refused(ex, C.CreateUser(T0, "admin", user, fields["name"], fields["phone"],  # type: ignore[arg-type]
                             fields["email"], fields["token_hash"], False,  # type: ignore[arg-type]
                             fields["cash"], fields.get("holdings", {})), field)  # type: ignore[arg-type]


def test_created_cash_is_bounded_like_a_deposit(ex: Engine) -> None:
    room = INT64_MAX - ex.total_cash()
    refused(ex, C.CreateUser(T0, "admin", "rich", "", "", "", HASH, False, room + 1, {}),
            "cash")
    ex.apply(C.CreateUser(T0, "admin", "rich", "", "", "", HASH, False, room, {}))
    assert ex.total_cash() == INT64_MAX


def test_a_profile_update_changes_only_the_fields_given(ex: Engine) -> None:
    ex.apply(C.UpdateProfile(T0, "bob", "bob", None, "+44 20 7946 0000", None))
    ex.apply(C.UpdateProfile(T0, "bob", "bob", "Robert", None, "bob@example.org"))
    info = account(ex, "bob").info
    assert (info.name, info.phone, info.email) == ("Robert", "+44 20 7946 0000",
                                                   "bob@example.org")
    ex.apply(C.UpdateProfile(T0, "bob", "bob", None, "", ""))  # "" clears a field
    assert (info.name, info.phone, info.email) == ("Robert", "", "")
    refused(ex, C.UpdateProfile(T0, "bob", "bob", None, None, "bob@"), "email")
    refused(ex, C.UpdateProfile(T0, "admin", "nobody", "N", None, None), "user")


def test_a_disabled_user_keeps_the_account_and_places_nothing(ex: Engine) -> None:
    resting = ex.place("bob", OTHER, "sell", 3, T0, price=200).order
    assert resting is not None
    ex.apply(C.SetDisabled(T0, "admin", "bob", True))
    assert account(ex, "bob").info.disabled
    with pytest.raises(CommandError) as caught:
        ex.place("bob", SYM, "buy", 1, T0, price=100)
    assert caught.value.code == "forbidden" and caught.value.message.startswith("user: ")
    # The orders are the server's to cancel (one cancel_all per book); until then they rest.
    assert ex.orders_of("bob") == [resting]
    out = ex.apply(C.CancelAll(T0 + 1, "bob", OTHER))
    assert [o.order_id for o in out.orders] == [resting.order_id]
    assert account(ex, "bob").cash == CASH and account(ex, "bob").reserved_cash == 0
    ex.apply(C.SetDisabled(T0 + 2, "admin", "bob", False))
    out = ex.place("bob", SYM, "buy", 1, T0 + 3, price=100)
    assert out.order is not None and out.order.status == "accepted"
    refused(ex, C.SetDisabled(T0, "admin", "nobody", True), "user")


def test_a_symbol_listed_at_run_time_trades_at_once(ex: Engine) -> None:
    ex.apply(C.AddSymbol(T0, "admin", "NEWCO", "0.05", "10", "20.00", "0.5", None, "100000"))
    assert ex.symbols() == [SYM, OTHER, "NEWCO"]
    spec = ex.spec("NEWCO")
    assert (spec.reference_price, spec.max_qty, spec.mult) == (400, 10_000, 50)
    ex.apply(C.Deposit(T0, "alice", 1))  # nothing else changed
    sell = ex.place("alice", SYM, "sell", 1, T0, price=100)  # an old book still trades
    assert sell.order is not None
    # Nobody holds NEWCO yet: a buy rests, and a sell is refused for holdings.
    bid = ex.place("alice", "NEWCO", "buy", 2, T0, price=401)
    assert bid.order is not None and bid.order.status == "accepted"
    assert account(ex, "alice").reserved_cash == 2 * 401 * 50
    ask = ex.place("bob", "NEWCO", "sell", 1, T0, price=401)
    assert ask.order is not None and ask.order.reason == "insufficient_holdings"
    band = ex.place("bob", "NEWCO", "buy", 1, T0, price=601)  # beyond +-50% of 20.00
    assert band.order is not None and band.order.reason == "price_band"
    assert ex.depth("NEWCO", 5)[1] == [(401, 2)]
    # A user created with holdings of it sells them: the first trade, settled as any.
    create(ex, "ipo", cash=0, holdings={"NEWCO": 100})
    assert account(ex, "ipo").position("NEWCO").cost == 100 * 400 * 50  # reference price
    out = ex.place("ipo", "NEWCO", "sell", 5, T0 + 1, price=401)
    assert [(t.price, t.qty, t.buy_user) for t in out.trades] == [(401, 2, "alice")]
    assert account(ex, "ipo").cash == 2 * 401 * 50
    assert account(ex, "alice").position("NEWCO").qty == 2
    assert ex.last_price("NEWCO") == 401 and ex.depth("NEWCO", 5)[2] == [(401, 3)]


@pytest.mark.parametrize(("fields", "field"), [
    (("AAPL", "0.01", "1", None, None, None, None), "symbol"),  # already listed
    (("newco", "0.01", "1", None, None, None, None), "symbol"),
    (("NEW CO", "0.01", "1", None, None, None, None), "symbol"),
    (("NEWCO", "0", "1", None, None, None, None), "tick_size"),
    (("NEWCO", "0.01", "-1", None, None, None, None), "lot_size"),
    (("NEWCO", "x", "1", None, None, None, None), "tick_size"),
    (("NEWCO", "0.001", "1", None, None, None, None), "tick_size"),  # finer than a cent
    (("NEWCO", "0.01", "1", "10.005", None, None, None), "reference_price"),
    (("NEWCO", "0.01", "1", None, "0", None, None), "price_band"),
    (("NEWCO", "0.01", "1", None, None, "1.001", None), "max_price"),
    (("NEWCO", "0.01", "1", None, None, None, "0.5"), "max_qty"),
    (("NEWCO", "0.01", "1", None, None, "1000000000", "1000000000000"), "max_qty"),
    (("NEWCO", "0.01", "1", "200", None, "100", None), "reference_price"),
])
def test_a_symbol_that_cannot_be_listed_is_refused(
        ex: Engine, fields: tuple[str, str, str, str | None, str | None, str | None,
                                  str | None], field: str) -> None:
    refused(ex, C.AddSymbol(T0, "admin", *fields), field)
    assert ex.symbols() == [SYM, OTHER]


def test_administration_survives_the_snapshot(ex: Engine) -> None:
    create(ex)
    ex.apply(C.AddSymbol(T0, "admin", "NEWCO", "0.05", "10", "20.00", None, None, None))
    ex.place("dora", "NEWCO", "buy", 2, T0, price=401)
    ex.apply(C.UpdateProfile(T0, "alice", "alice", "Alice Liddell", None, None))
    ex.apply(C.SetDisabled(T0, "admin", "bob", True))
    record = capture(ex)  # type: ignore[arg-type]
    assert record.disabled == ["bob"]
    back = restore(decode(encode(record)))
    assert state(back) == state(ex)
    assert back.symbols() == [SYM, OTHER, "NEWCO"]
    assert account(back, "bob").info.disabled and not account(back, "dora").info.disabled
    assert account(back, "dora").info.token_hash == HASH
    with pytest.raises(CommandError):
        back.place("bob", SYM, "buy", 1, T0, price=100)


def test_a_version_2_snapshot_reads_with_nobody_disabled(ex: Engine) -> None:
    ex.apply(C.SetDisabled(T0, "admin", "bob", True))
    data = msgspec.msgpack.decode(encode(capture(ex)))  # type: ignore[arg-type]
    for name in set(Snapshot.__struct_fields__) - set(SnapshotV2.__struct_fields__):
        data.pop(name)  # every field version 3 added
    data["version"] = 2
    back = restore(decode(msgspec.msgpack.encode(data)))
    assert not account(back, "bob").info.disabled
    data["version"] = 3
    data["disabled"] = ["nobody"]
    with pytest.raises(Exception, match="disabled: unknown user 'nobody'"):
        restore(decode(msgspec.msgpack.encode(data)))
