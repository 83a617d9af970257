"""Expiry: gtd by timer and lazily when the book is matched, day orders at the close."""

from __future__ import annotations

import pytest

from exchange.core.interface import Engine
from exchange.core.results import CommandError
from tests.core.helpers import OTHER, SYM, T0, account, book, buy, placed, position, sell


def test_gtd_order_expires_at_its_time_by_the_timer(ex: Engine) -> None:
    b = placed(buy(ex, "alice", 2, 10000, tif="gtd", expires_at=T0 + 100))
    assert ex.next_expiry(SYM) == T0 + 100
    assert ex.expire(SYM, T0 + 99).events == []
    assert b.status == "accepted"
    out = ex.expire(SYM, T0 + 100)
    assert [(e.kind, e.order.order_id, e.status) for e in out.events] == [
        ("expired", b.order_id, "expired")]
    assert (b.status, b.reason, b.reserved, b.leaves) == ("expired", None, 0, 0)
    assert account(ex, "alice").reserved_cash == 0
    assert book(ex) == ([], [])
    assert ex.next_expiry(SYM) is None
    assert ex.expire(SYM, T0 + 200).events == []


def test_expire_takes_every_due_order_earliest_first(ex: Engine) -> None:
    late = placed(sell(ex, "alice", 1, 11000, tif="gtd", expires_at=T0 + 30))
    early = placed(buy(ex, "bob", 1, 9000, tif="gtd", expires_at=T0 + 10))
    future = placed(buy(ex, "carol", 1, 9000, tif="gtd", expires_at=T0 + 50))
    out = ex.expire(SYM, T0 + 40)
    assert [e.order for e in out.events] == [early, late]
    assert future.status == "accepted"
    assert ex.next_expiry(SYM) == T0 + 50


def test_next_expiry_skips_orders_that_ended_otherwise(ex: Engine) -> None:
    a = placed(buy(ex, "alice", 1, 9000, tif="gtd", expires_at=T0 + 10))
    b = placed(sell(ex, "bob", 1, 11000, tif="gtd", expires_at=T0 + 20))
    c = placed(buy(ex, "carol", 1, 9000, tif="gtd", expires_at=T0 + 30))
    ex.cancel("alice", a.order_id, T0 + 1)
    buy(ex, "carol", 1, 11000, T0 + 2)  # fills b
    assert b.status == "filled"
    assert ex.next_expiry(SYM) == T0 + 30
    ex.cancel("carol", c.order_id, T0 + 3)
    assert ex.next_expiry(SYM) is None
    assert ex.next_expiry(OTHER) is None


def test_expired_orders_never_trade(ex: Engine) -> None:
    s = placed(sell(ex, "alice", 1, 10000, tif="gtd", expires_at=T0 + 10))
    out = buy(ex, "bob", 1, 10000, T0 + 10)  # no timer ran: the match expires it first
    b = placed(out)
    assert out.trades == []
    assert [(e.kind, e.order.order_id) for e in out.events] == [("expired", s.order_id)]
    assert s.status == "expired" and b.status == "accepted"
    assert position(ex, "alice").reserved == 0
    assert book(ex) == ([(10000, 1)], [])


def test_an_order_trades_until_its_expiry_time(ex: Engine) -> None:
    s = placed(sell(ex, "alice", 2, 10000, tif="gtd", expires_at=T0 + 10))
    buy(ex, "bob", 1, 10000, T0 + 9)
    assert (s.status, s.filled) == ("partially_filled", 1)
    out = ex.expire(SYM, T0 + 10)
    assert out.events[0].order is s
    assert (s.status, s.filled, s.leaves, s.reserved) == ("expired", 1, 0, 0)


def test_lazy_expiry_runs_in_every_command_on_the_book(ex: Engine) -> None:
    due = placed(buy(ex, "alice", 1, 9000, tif="gtd", expires_at=T0 + 10))
    mine = placed(buy(ex, "bob", 1, 9000))
    out = ex.pause("bob", mine.order_id, T0 + 10)
    assert [e.order for e in out.events] == [due] and due.status == "expired"
    due = placed(buy(ex, "alice", 1, 9000, T0 + 11, tif="gtd", expires_at=T0 + 20))
    out = ex.resume("bob", mine.order_id, T0 + 20)
    assert [e.order for e in out.events] == [due]
    due = placed(buy(ex, "alice", 1, 9000, T0 + 21, tif="gtd", expires_at=T0 + 30))
    out = ex.modify("bob", mine.order_id, T0 + 30, qty=2)
    assert [e.order for e in out.events] == [due]
    due = placed(buy(ex, "alice", 1, 9000, T0 + 31, tif="gtd", expires_at=T0 + 40))
    out = ex.cancel_all("carol", SYM, T0 + 40)
    assert [e.order for e in out.events] == [due]
    due = placed(buy(ex, "alice", 1, 9000, T0 + 41, tif="gtd", expires_at=T0 + 50))
    out = ex.cancel("bob", mine.order_id, T0 + 50)
    assert [e.order for e in out.events] == [due]


def test_lazy_expiry_of_the_addressed_order_makes_it_not_live(ex: Engine) -> None:
    b = placed(buy(ex, "alice", 1, 9000, tif="gtd", expires_at=T0 + 10))
    with pytest.raises(CommandError) as err:
        ex.cancel("alice", b.order_id, T0 + 10)
    assert err.value.code == "not_live"
    assert b.status == "expired" and account(ex, "alice").reserved_cash == 0
    # the expiry found on the way rides on the refusal, so the owner is told
    outcome = err.value.outcome
    assert outcome is not None
    assert [(e.kind, e.order, e.status) for e in outcome.events] == [("expired", b, "expired")]


def test_a_refusal_that_expired_nothing_carries_no_outcome(ex: Engine) -> None:
    b = placed(buy(ex, "alice", 1, 9000, tif="gtd", expires_at=T0 + 10))
    with pytest.raises(CommandError) as err:
        ex.modify("alice", b.order_id, T0 + 1, qty=0)
    assert err.value.code == "bad_request" and err.value.outcome is None
    with pytest.raises(CommandError) as err:
        ex.pause("bob", b.order_id, T0 + 2)
    assert err.value.code == "unknown_order" and err.value.outcome is None
    assert b.status == "accepted"


def test_paused_and_pending_orders_expire_too(ex: Engine) -> None:
    p = placed(buy(ex, "alice", 1, 9000, tif="gtd", expires_at=T0 + 10))
    ex.pause("alice", p.order_id, T0 + 1)
    s = placed(ex.place("bob", SYM, "sell", 2, T0, kind="stop", stop_price=8000, tif="gtd",
                        expires_at=T0 + 10))
    assert s.status == "pending"
    out = ex.expire(SYM, T0 + 10)
    assert {e.order.order_id for e in out.events} == {p.order_id, s.order_id}
    assert p.status == s.status == "expired"
    assert account(ex, "alice").reserved_cash == 0 and position(ex, "bob").reserved == 0
    # an expired stop never triggers
    sell(ex, "carol", 1, 7000, T0 + 11)
    buy(ex, "carol", 1, 7000, T0 + 11)
    assert s.filled == 0


def test_modify_keeps_the_expiry(ex: Engine) -> None:
    b = placed(buy(ex, "alice", 1, 9000, tif="gtd", expires_at=T0 + 10))
    ex.modify("alice", b.order_id, T0 + 1, price=9100, qty=3)
    assert ex.next_expiry(SYM) == T0 + 10
    ex.expire(SYM, T0 + 10)
    assert b.status == "expired"


def test_gtd_order_that_fills_on_arrival_leaves_no_timer(ex: Engine) -> None:
    sell(ex, "alice", 1, 10000)
    b = placed(buy(ex, "bob", 1, 10000, T0 + 1, tif="gtd", expires_at=T0 + 10))
    assert b.status == "filled"
    assert ex.next_expiry(SYM) is None


def test_expire_session_expires_day_orders_only(ex: Engine) -> None:
    d1 = placed(buy(ex, "alice", 1, 9000, tif="day"))
    gtc = placed(buy(ex, "alice", 1, 9000))
    d2 = placed(sell(ex, "bob", 1, 11000, tif="day"))
    ex.pause("bob", d2.order_id, T0)
    d3 = placed(ex.place("carol", SYM, "sell", 1, T0, kind="stop", stop_price=10, tif="day"))
    other = placed(ex.place("alice", OTHER, "buy", 1, T0, price=9000, tif="day"))
    out = ex.expire_session(SYM, T0 + 1)
    assert out.orders == [d1, d2, d3]
    assert [(e.kind, e.order) for e in out.events] == [("expired", o) for o in (d1, d2, d3)]
    assert all(o.status == "expired" and o.reserved == 0 for o in (d1, d2, d3))
    assert gtc.status == other.status == "accepted"
    assert book(ex) == ([(9000, 1)], [])
    assert position(ex, "bob").reserved == 0 and position(ex, "carol").reserved == 0


def test_expire_session_everything(ex: Engine) -> None:
    gtc = placed(buy(ex, "alice", 1, 9000))
    gtd = placed(sell(ex, "bob", 1, 11000, tif="gtd", expires_at=T0 + 100))
    paused = placed(sell(ex, "carol", 1, 12000))
    ex.pause("carol", paused.order_id, T0)
    out = ex.expire_session(SYM, T0 + 1, everything=True)
    assert out.orders == [gtc, gtd, paused]
    assert book(ex) == ([], [])
    assert ex.orders_of("alice") == ex.orders_of("bob") == ex.orders_of("carol") == []
    assert ex.next_expiry(SYM) is None


def test_expire_session_also_expires_what_is_due(ex: Engine) -> None:
    gtd = placed(sell(ex, "bob", 1, 11000, tif="gtd", expires_at=T0 + 5))
    out = ex.expire_session(SYM, T0 + 10)
    assert out.orders == [] and [e.order for e in out.events] == [gtd]


def test_expire_unknown_symbol(ex: Engine) -> None:
    with pytest.raises(CommandError) as err:
        ex.expire("NOPE", T0)
    assert err.value.code == "unknown_symbol"
    with pytest.raises(CommandError) as err:
        ex.expire_session("NOPE", T0)
    assert err.value.code == "unknown_symbol"


def test_an_expiry_is_reported_even_when_the_command_that_ran_it_fails(ex: Engine) -> None:
    # The refusal changes nothing, but the expiry it ran on the way is real: it comes back
    # on the error, so the server can tell the owner, and is not reported a second time.
    due = placed(buy(ex, "alice", 1, 9000, tif="gtd", expires_at=T0 + 10))
    mine = placed(buy(ex, "bob", 1, 9000))
    with pytest.raises(CommandError) as refused:
        ex.modify("bob", mine.order_id, T0 + 20, qty=0)
    assert refused.value.outcome is not None
    assert [(e.kind, e.order) for e in refused.value.outcome.events] == [("expired", due)]
    assert due.status == "expired"
    assert ex.expire(SYM, T0 + 30).events == []


def test_next_expiry_of_an_unknown_symbol(ex: Engine) -> None:
    with pytest.raises(CommandError) as err:
        ex.next_expiry("NOPE")
    assert err.value.code == "unknown_symbol"
