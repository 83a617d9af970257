"""modify, pause, resume, cancel and cancel_all, and which op is allowed in which status."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from exchange.core.interface import Engine
from exchange.core.orders import LIVE_STATUSES, OP_RULES, TRANSITIONS, Order
from exchange.core.results import CommandError
from tests.core.helpers import (
    CASH,
    OTHER,
    SYM,
    T0,
    account,
    book,
    buy,
    make_exchange,
    placed,
    position,
    sell,
)


def error_code(fn: Callable[[], object]) -> str:
    with pytest.raises(CommandError) as err:
        fn()
    return err.value.code


# --- cancel -----------------------------------------------------------------------------


def test_cancel_releases_everything(ex: Engine) -> None:
    b = placed(buy(ex, "alice", 3, 10000))
    s = placed(sell(ex, "alice", 4, 10100))
    assert account(ex, "alice").reserved_cash == 30000 and position(ex, "alice").reserved == 4
    out = ex.cancel("alice", b.order_id, T0 + 1)
    assert out.order is b and out.trades == [] and out.events == []
    assert (b.status, b.reason, b.reserved, b.leaves) == ("canceled", None, 0, 0)
    ex.cancel("alice", s.order_id, T0 + 1)
    assert account(ex, "alice").reserved_cash == 0 and position(ex, "alice").reserved == 0
    assert book(ex) == ([], [])


def test_cancel_partially_filled_keeps_the_fills(ex: Engine) -> None:
    s = placed(sell(ex, "alice", 5, 10000))
    buy(ex, "bob", 2, 10000, T0 + 1)
    ex.cancel("alice", s.order_id, T0 + 2)
    assert (s.status, s.filled, s.notional, s.leaves) == ("canceled", 2, 20000, 0)
    pos = position(ex, "alice")
    assert (pos.qty, pos.reserved) == (998, 0)


def test_cancel_all_cancels_the_users_live_orders_on_one_symbol(ex: Engine) -> None:
    b = placed(buy(ex, "alice", 1, 9000))
    s = placed(sell(ex, "alice", 1, 11000))
    paused = placed(sell(ex, "alice", 1, 12000))
    ex.pause("alice", paused.order_id, T0)
    pending = placed(ex.place("alice", SYM, "sell", 1, T0, kind="stop", stop_price=100))
    other_symbol = placed(ex.place("alice", OTHER, "buy", 1, T0, price=9000))
    other_user = placed(buy(ex, "bob", 1, 9000))
    placed(buy(ex, "alice", 0, 9000))  # rejected
    out = ex.cancel_all("alice", SYM, T0 + 1)
    assert out.orders == [b, s, paused, pending]
    assert all(o.status == "canceled" and o.reserved == 0 for o in out.orders)
    assert other_symbol.status == other_user.status == "accepted"
    assert account(ex, "alice").reserved_cash == 9000
    assert position(ex, "alice").reserved == 0
    assert book(ex) == ([(9000, 1)], [])
    assert ex.cancel_all("alice", SYM, T0 + 2).orders == []
    with pytest.raises(CommandError) as err:
        ex.cancel_all("alice", "NOPE", T0)
    assert err.value.code == "unknown_symbol"


# --- modify -----------------------------------------------------------------------------


def test_modify_qty_down_releases_the_reservation(ex: Engine) -> None:
    b = placed(buy(ex, "alice", 10, 10000))
    out = ex.modify("alice", b.order_id, T0 + 1, qty=4)
    assert out.order is b and out.trades == []
    assert (b.qty, b.leaves, b.reserved, b.status) == (4, 4, 40000, "accepted")
    assert account(ex, "alice").reserved_cash == 40000
    s = placed(sell(ex, "alice", 10, 11000))
    ex.modify("alice", s.order_id, T0 + 1, qty=1)
    assert (s.reserved, position(ex, "alice").reserved) == (1, 1)
    assert book(ex) == ([(10000, 4)], [(11000, 1)])


def test_modify_qty_of_a_partially_filled_order(ex: Engine) -> None:
    b = placed(buy(ex, "alice", 10, 10000))
    sell(ex, "bob", 4, 10000, T0 + 1)
    ex.modify("alice", b.order_id, T0 + 2, qty=5)
    assert (b.qty, b.filled, b.leaves, b.reserved, b.status) == (5, 4, 1, 10000,
                                                                 "partially_filled")
    assert book(ex) == ([(10000, 1)], [])
    for qty in (4, 3):
        assert error_code(lambda q=qty: ex.modify("alice", b.order_id, T0 + 3, qty=q)) == (
            "bad_request")
    assert (b.qty, b.reserved) == (5, 10000)


def test_modify_price_moves_the_reservation(ex: Engine) -> None:
    b = placed(buy(ex, "alice", 2, 10000))
    ex.modify("alice", b.order_id, T0 + 1, price=9000)
    assert (b.price, b.reserved, account(ex, "alice").reserved_cash) == (9000, 18000, 18000)
    ex.modify("alice", b.order_id, T0 + 1, price=9500, qty=3)
    assert (b.price, b.qty, b.reserved) == (9500, 3, 28500)
    assert book(ex) == ([(9500, 3)], [])


def test_modify_to_a_crossing_price_trades_at_once(ex: Engine) -> None:
    ask = placed(sell(ex, "bob", 1, 10000))
    b = placed(buy(ex, "alice", 3, 9000))
    out = ex.modify("alice", b.order_id, T0 + 1, price=10500)
    assert [(t.price, t.qty, t.buy_order_id, t.sell_order_id) for t in out.trades] == [
        (10000, 1, b.order_id, ask.order_id)]
    assert out.fills == out.trades
    assert [(e.kind, e.order.order_id) for e in out.events] == [("fill", ask.order_id)]
    assert (b.status, b.filled, b.reserved) == ("partially_filled", 1, 21000)
    acct = account(ex, "alice")
    assert (acct.cash, acct.reserved_cash) == (CASH - 10000, 21000)
    assert book(ex) == ([(10500, 2)], [])


def test_modify_needing_more_than_available_is_refused_and_changes_nothing() -> None:
    ex = make_exchange(cash=30_000, lots=5)
    b = placed(buy(ex, "alice", 2, 10000))
    placed(buy(ex, "alice", 1, 5000))
    assert error_code(lambda: ex.modify("alice", b.order_id, T0, qty=3)) == "insufficient_funds"
    assert error_code(lambda: ex.modify("alice", b.order_id, T0, price=12600)) == (
        "insufficient_funds")
    assert (b.qty, b.price, b.reserved) == (2, 10000, 20000)
    ex.modify("alice", b.order_id, T0, price=12500)  # exactly the available cash
    assert account(ex, "alice").available_cash == 0
    s = placed(sell(ex, "alice", 4, 20000))
    assert error_code(lambda: ex.modify("alice", s.order_id, T0, qty=6)) == (
        "insufficient_holdings")
    assert (s.qty, s.reserved) == (4, 4)
    ex.modify("alice", s.order_id, T0, qty=5)
    assert position(ex, "alice").available == 0
    assert book(ex) == ([(12500, 2), (5000, 1)], [(20000, 5)])


@pytest.mark.parametrize(
    ("kw", "field"),
    [({}, "qty"), ({"qty": 0}, "qty"), ({"qty": -1}, "qty"), ({"price": 0}, "price"),
     ({"price": -100}, "price")],
)
def test_modify_bad_requests(ex: Engine, kw: dict[str, int], field: str) -> None:
    b = placed(buy(ex, "alice", 2, 10000))
    with pytest.raises(CommandError) as err:
        ex.modify("alice", b.order_id, T0, **kw)
    assert err.value.code == "bad_request" and err.value.message.startswith(field)
    assert (b.qty, b.price, b.reserved) == (2, 10000, 20000)


def test_modify_post_only_to_a_crossing_price_is_refused(ex: Engine) -> None:
    sell(ex, "bob", 1, 10000)
    b = placed(buy(ex, "alice", 1, 9000, post_only=True))
    with pytest.raises(CommandError) as err:
        ex.modify("alice", b.order_id, T0, price=10000)
    assert err.value.code == "bad_request"
    assert b.price == 9000 and b.filled == 0
    ex.modify("alice", b.order_id, T0, price=9999)
    assert b.price == 9999


def test_modify_a_paused_order_keeps_it_paused(ex: Engine) -> None:
    sell(ex, "bob", 1, 10000)
    b = placed(buy(ex, "alice", 1, 9000))
    ex.pause("alice", b.order_id, T0)
    out = ex.modify("alice", b.order_id, T0 + 1, price=10000, qty=2)
    assert out.trades == []
    assert (b.status, b.price, b.qty, b.reserved) == ("paused", 10000, 2, 20000)
    assert book(ex) == ([], [(10000, 1)])


# --- pause and resume -------------------------------------------------------------------


def test_pause_keeps_the_reservation_and_resume_restores_the_status(ex: Engine) -> None:
    b = placed(buy(ex, "alice", 5, 10000))
    sell(ex, "bob", 2, 10000, T0 + 1)
    out = ex.pause("alice", b.order_id, T0 + 2)
    assert out.order is b
    assert (b.status, b.reserved, b.leaves) == ("paused", 30000, 3)
    assert account(ex, "alice").reserved_cash == 30000
    assert book(ex) == ([], [])
    out = ex.resume("alice", b.order_id, T0 + 3)
    assert out.order is b and out.trades == []
    assert b.status == "partially_filled"
    assert book(ex) == ([(10000, 3)], [])


def test_resume_may_trade_at_once(ex: Engine) -> None:
    b = placed(buy(ex, "alice", 2, 10000))
    ex.pause("alice", b.order_id, T0 + 1)
    ask = placed(sell(ex, "bob", 1, 9900, T0 + 2))  # rests: the bid is paused
    assert ask.status == "accepted"
    out = ex.resume("alice", b.order_id, T0 + 3)
    assert [(t.price, t.qty, t.taker_side) for t in out.fills] == [(9900, 1, "buy")]
    assert (b.status, b.reserved) == ("partially_filled", 10000)
    assert account(ex, "alice").cash == CASH - 9900


def test_cancel_a_paused_order(ex: Engine) -> None:
    s = placed(sell(ex, "alice", 5, 10000))
    ex.pause("alice", s.order_id, T0)
    ex.cancel("alice", s.order_id, T0 + 1)
    assert (s.status, s.reserved) == ("canceled", 0)
    assert position(ex, "alice").reserved == 0
    assert error_code(lambda: ex.resume("alice", s.order_id, T0 + 2)) == "not_live"


def test_resumed_post_only_order_never_takes(ex: Engine) -> None:
    b = placed(buy(ex, "alice", 1, 10000, post_only=True))
    ex.pause("alice", b.order_id, T0 + 1)
    ask = placed(sell(ex, "bob", 1, 10000, T0 + 2))
    try:
        out = ex.resume("alice", b.order_id, T0 + 3)
    except CommandError:
        out = None
    assert out is None or out.trades == []
    assert b.filled == 0 and ask.filled == 0


def test_resume_of_a_post_only_order_that_would_take_is_refused(ex: Engine) -> None:
    b = placed(sell(ex, "alice", 2, 10000, post_only=True))
    ex.pause("alice", b.order_id, T0 + 1)
    bid = placed(buy(ex, "bob", 1, 10100, T0 + 2))
    assert error_code(lambda: ex.resume("alice", b.order_id, T0 + 3)) == "bad_request"
    assert (b.status, b.reserved, bid.filled) == ("paused", 2, 0)
    # once it would no longer take, it resumes
    ex.modify("alice", b.order_id, T0 + 4, price=10200)
    ex.resume("alice", b.order_id, T0 + 5)
    assert b.status == "accepted"
    assert book(ex) == ([(10100, 1)], [(10200, 2)])


# --- which op in which status -----------------------------------------------------------


def order_in(ex: Engine, status: str) -> Order:
    """An order of alice's in the given status."""
    if status == "pending":
        sell(ex, "bob", 1, 10000, T0)
        buy(ex, "carol", 1, 10000, T0)
        return placed(ex.place("alice", SYM, "buy", 1, T0, kind="stop", stop_price=20000))
    if status == "accepted":
        return placed(buy(ex, "alice", 2, 9000))
    if status == "partially_filled":
        b = placed(buy(ex, "alice", 2, 9000))
        sell(ex, "bob", 1, 9000, T0)
        return b
    if status == "paused":
        b = placed(buy(ex, "alice", 2, 9000))
        ex.pause("alice", b.order_id, T0)
        return b
    if status == "filled":
        sell(ex, "bob", 1, 9000, T0)
        return placed(buy(ex, "alice", 1, 9000))
    if status == "canceled":
        b = placed(buy(ex, "alice", 2, 9000))
        ex.cancel("alice", b.order_id, T0)
        return b
    if status == "expired":
        return placed(buy(ex, "alice", 2, 9000, tif="ioc"))
    assert status == "rejected"
    return placed(buy(ex, "alice", 0, 9000))


STATUSES = ["pending", "accepted", "partially_filled", "paused", "filled", "canceled",
            "expired", "rejected"]


@pytest.mark.parametrize("op", ["cancel", "modify", "pause", "resume"])
@pytest.mark.parametrize("status", STATUSES)
def test_op_rules_in_every_status(ex: Engine, op: str, status: str) -> None:
    order = order_in(ex, status)
    assert order.status == status
    expected = OP_RULES[op][status]
    calls: dict[str, Callable[[], object]] = {
        "cancel": lambda: ex.cancel("alice", order.order_id, T0 + 1),
        "modify": lambda: ex.modify("alice", order.order_id, T0 + 1, qty=3),
        "pause": lambda: ex.pause("alice", order.order_id, T0 + 1),
        "resume": lambda: ex.resume("alice", order.order_id, T0 + 1),
    }
    if expected is None:
        calls[op]()
        after = {"cancel": "canceled", "pause": "paused"}.get(op)
        if after is not None:
            assert order.status == after
    else:
        before = (order.status, order.qty, order.reserved)
        assert error_code(calls[op]) == expected
        assert (order.status, order.qty, order.reserved) == before


def test_op_rules_table_matches_the_protocol() -> None:
    live = {"pending", "accepted", "partially_filled", "paused"}
    for op in ("cancel", "modify", "pause", "resume"):
        for status in STATUSES:
            expected: str | None
            if status not in live:
                expected = "not_live"
            elif (op == "pause" and status == "paused") or (op == "resume" and status != "paused"):
                expected = "bad_state"
            else:
                expected = None
            assert OP_RULES[op][status] == expected, (op, status)


def test_transition_table_is_closed_and_terminal_statuses_are_final() -> None:
    assert set(TRANSITIONS) == set(STATUSES)
    for status, nexts in TRANSITIONS.items():
        assert nexts <= set(STATUSES), status
        assert (status in LIVE_STATUSES) == bool(nexts), status
        assert "rejected" not in nexts  # only a new order is ever rejected


# --- addressing -------------------------------------------------------------------------


def test_another_users_order_is_unknown(ex: Engine) -> None:
    b = placed(buy(ex, "bob", 1, 9000, client_order_id="b1"))
    for fn in (
        lambda: ex.find("alice", b.order_id),
        lambda: ex.find("alice", client_order_id="b1"),
        lambda: ex.cancel("alice", b.order_id, T0),
        lambda: ex.modify("alice", b.order_id, T0, qty=2),
        lambda: ex.pause("alice", b.order_id, T0),
        lambda: ex.resume("alice", b.order_id, T0),
    ):
        assert error_code(fn) == "unknown_order"
    assert b.status == "accepted" and b.qty == 1


def test_nonexistent_order_is_unknown(ex: Engine) -> None:
    assert error_code(lambda: ex.find("alice", 999)) == "unknown_order"
    assert error_code(lambda: ex.cancel("alice", 999, T0)) == "unknown_order"
    assert error_code(lambda: ex.find("alice", client_order_id="nope")) == "unknown_order"
    assert error_code(lambda: ex.find("nobody", 1)) == "unknown_order"
    assert error_code(lambda: ex.find("alice")) == "bad_request"


def test_find_by_id_and_by_client_id(ex: Engine) -> None:
    b = placed(buy(ex, "alice", 1, 9000, client_order_id="a-1"))
    assert ex.find("alice", b.order_id) is b
    assert ex.find("alice", client_order_id="a-1") is b
    assert b.client_order_id == "a-1"
