"""Random command sequences against the engine and against a brute-force reference model.

The model is written to be obviously right rather than fast: the book is "every live,
unpaused order", the best maker is found with ``min`` over all of them, reservations are
derived from the orders (``leaves * price`` for a limit buy, ``leaves`` for a sell) instead
of being tracked, and a fok order is tried on a copy of the whole model and kept only if
it filled. After every step the engine must agree with it on the trades (price, qty,
buyer, seller, in order), on every order's state and on every account, and the engine's
own invariants must hold.

Fees: each run draws a fee schedule first (often none): a maker and a taker rate for the
symbol and perhaps one user's own. The model charges them the plain way (the fee of each
fill rounded up, the buyer paying it on top, the seller out of the proceeds, the lot's
price plus one lot's fee held per lot a buy may still buy, a market buy filling the most
lots whose price and fee its available cash covers, found by counting down), keeps cost
basis and realized P/L by average cost, and the engine must agree, with the cash of the
whole exchange, the fee account included, conserved exactly.

Every order a command changes must also be reported by it: the command's own order, its
bulk list, or an event whose snapshot is the order's final state; for a refused command,
the outcome that rides on the error. Stops and post_only orders are left to the unit tests.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from exchange.core.accounts import UserInfo
from exchange.core.commands import SetDisabled
from exchange.core.fees import FEE_ACCOUNT, FeeRates, FeeSchedule
from exchange.core.orders import LIVE_STATUSES, TRANSITIONS
from exchange.core.results import CommandError, Outcome
from exchange.core.symbols import SymbolSpec
from tests.core.helpers import new_exchange

SYM = "X"
T0 = 1_700_000_000_000_000
START = {"alice": (6_000, 20), "bob": (60_000, 40), "carol": (700, 6)}
"""Cash units and lots per user: small enough that funds and holdings run out at times."""
USERS = tuple(START)
MAX_OPEN = 4
"""The exchange's max_open_orders, low enough to be reached (too_many_orders)."""
PRICES = st.integers(98, 102)
QTYS = st.integers(1, 8)
STP = st.sampled_from(["none", "none", "none", "cancel_newest", "cancel_oldest",
                       "cancel_both"])
BPS = st.sampled_from([0, 0, 0, 5, 30, 100, 250, 1000])


def fee(value: int, bps: int) -> int:
    """A fill's fee: the notional times the rate, rounded up to a whole cash unit."""
    whole, part = divmod(value * bps, 10_000)
    return whole + (1 if part else 0)


def _reachable() -> dict[str, set[str]]:
    """Every status reachable from each status through the TRANSITIONS table (or itself)."""
    out: dict[str, set[str]] = {}
    for start in TRANSITIONS:
        seen = {start}
        todo = [start]
        while todo:
            for nxt in TRANSITIONS[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        out[start] = seen
    return out


REACHABLE = _reachable()


class ModelError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class MOrder:
    oid: int
    user: str
    side: str
    kind: str
    tif: str
    price: int | None
    qty: int
    stp: str
    expires_at: int | None
    status: str = "accepted"
    reason: str | None = None
    filled: int = 0
    in_book: bool = False
    arrival: int = 0

    @property
    def live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def leaves(self) -> int:
        return self.qty - self.filled if self.live else 0

    def reserved(self, model: Model) -> int:
        if not self.live:
            return 0
        if self.side == "sell":
            return self.leaves
        if self.price is None:
            return 0  # a market buy pays from what is available when it trades
        return self.leaves * model.unit(self.user, self.price)


class Model:
    """One symbol whose tick times lot is one cash unit (mult 1); no stops."""

    def __init__(self) -> None:
        self.cash = {u: c for u, (c, _) in START.items()}
        self.lots = {u: n for u, (_, n) in START.items()}
        self.orders: dict[int, MOrder] = {}
        self.next_id = 1
        self.next_arrival = 0
        self.last: int | None = None
        self.halted = False
        self.trades: list[tuple[int, int, int, int]] = []
        self.disabled: set[str] = set()
        self.rates: dict[str, tuple[int, int]] = {u: (0, 0) for u in START}
        """Each user's (maker, taker) rate in basis points."""
        self.paid = dict.fromkeys(START, 0)
        self.collected = 0
        self.cost = dict.fromkeys(START, 0)
        self.realized = dict.fromkeys(START, 0)

    def unit(self, user: str, price: int) -> int:
        """What a buy holds per lot: its price and the higher rate's fee on one lot."""
        return price + fee(price, max(self.rates[user]))

    # -- derived state -----------------------------------------------------------------
    def reserved_cash(self, user: str) -> int:
        return sum(o.reserved(self) for o in self.orders.values()
                   if o.user == user and o.side == "buy")

    def reserved_lots(self, user: str) -> int:
        return sum(o.reserved(self) for o in self.orders.values()
                   if o.user == user and o.side == "sell")

    def available_cash(self, user: str) -> int:
        return self.cash[user] - self.reserved_cash(user)

    def available_lots(self, user: str) -> int:
        return self.lots[user] - self.reserved_lots(user)

    def resting(self, side: str) -> list[MOrder]:
        return [o for o in self.orders.values() if o.in_book and o.side == side]

    def depth(self, side: str) -> list[tuple[int, int]]:
        levels: dict[int, int] = {}
        for o in self.resting(side):
            assert o.price is not None
            levels[o.price] = levels.get(o.price, 0) + o.leaves
        return sorted(levels.items(), reverse=(side == "buy"))

    # -- lifecycle ---------------------------------------------------------------------
    def end(self, order: MOrder, status: str, reason: str | None = None) -> None:
        order.status = status
        order.reason = reason
        order.in_book = False

    def expire_due(self, now: int) -> None:
        for o in sorted(self.orders.values(), key=lambda o: o.oid):
            if o.live and o.expires_at is not None and o.expires_at <= now:
                self.end(o, "expired")

    def owned(self, user: str, oid: int, now: int) -> MOrder:
        order = self.orders.get(oid)
        if order is None or order.user != user:
            raise ModelError("unknown_order")
        self.expire_due(now)
        if not order.live:
            raise ModelError("not_live")
        return order

    # -- matching ----------------------------------------------------------------------
    def match(self, taker: MOrder) -> str | None:
        """Trade ``taker`` against the best makers; returns why it stopped early, if it did."""
        buy = taker.side == "buy"
        while taker.filled < taker.qty:
            makers = self.resting("sell" if buy else "buy")
            if taker.price is not None:
                limit = taker.price
                makers = [m for m in makers
                          if (m.price <= limit if buy else m.price >= limit)]  # type: ignore[operator]
            if not makers:
                return None
            maker = min(makers, key=lambda m: ((m.price if buy else -m.price), m.arrival))
            assert maker.price is not None
            if taker.stp != "none" and maker.user == taker.user:
                if taker.stp in ("cancel_oldest", "cancel_both"):
                    self.end(maker, "canceled", "self_trade")
                if taker.stp in ("cancel_newest", "cancel_both"):
                    return "self_trade"
                continue
            price = maker.price
            qty = min(taker.qty - taker.filled, maker.qty - maker.filled)
            if buy and taker.kind == "market":
                available = self.available_cash(taker.user)
                taker_bps = self.rates[taker.user][1]
                while qty and qty * price + fee(qty * price, taker_bps) > available:
                    qty -= 1
                if qty == 0:
                    return "insufficient_funds"
            buyer, seller = (taker, maker) if buy else (maker, taker)
            value = price * qty
            buy_fee = fee(value, self.rates[buyer.user][1 if buy else 0])
            sell_fee = fee(value, self.rates[seller.user][0 if buy else 1])
            self.cash[buyer.user] -= value + buy_fee
            self.lots[buyer.user] += qty
            self.cost[buyer.user] += value + buy_fee
            held = self.lots[seller.user]
            removed = self.cost[seller.user] * qty // held
            self.cost[seller.user] -= removed
            self.realized[seller.user] += value - sell_fee - removed
            self.cash[seller.user] += value - sell_fee
            self.lots[seller.user] -= qty
            self.paid[buyer.user] += buy_fee
            self.paid[seller.user] += sell_fee
            self.collected += buy_fee + sell_fee
            taker.filled += qty
            maker.filled += qty
            taker.status = "partially_filled"
            if maker.filled == maker.qty:
                self.end(maker, "filled")
            else:
                maker.status = "partially_filled"
            self.last = price
            self.trades.append((price, qty, buyer.oid, seller.oid))
        return None

    def execute(self, order: MOrder) -> None:
        """Trade an active order, then rest it or end it by its kind and tif."""
        if order.tif == "fok":
            trial = copy.deepcopy(self)
            trial_order = trial.orders[order.oid]
            trial.match(trial_order)
            if trial_order.filled == trial_order.qty:
                self.__dict__.update(trial.__dict__)
                self.end(self.orders[order.oid], "filled")
            else:
                self.end(order, "expired")
            return
        stopped = self.match(order)
        if order.filled == order.qty:
            self.end(order, "filled")
        elif stopped is not None:
            self.end(order, "canceled", stopped)
        elif order.kind == "market" or order.tif in ("ioc", "fok"):
            self.end(order, "expired")
        else:
            order.in_book = True
            order.arrival = self.next_arrival
            self.next_arrival += 1

    # -- commands ----------------------------------------------------------------------
    def place(self, user: str, side: str, kind: str, tif: str, qty: int, price: int | None,
              stp: str, expires_at: int | None, now: int) -> int:
        if user in self.disabled:  # refused before anything, lazy expiry included
            raise ModelError("forbidden")
        self.expire_due(now)
        oid = self.next_id
        self.next_id += 1
        order = MOrder(oid, user, side, kind, tif, price, qty, stp, expires_at)
        reason = None
        if self.halted:
            reason = "halted"
        elif sum(o.live for o in self.orders.values() if o.user == user) >= MAX_OPEN:
            reason = "too_many_orders"
        elif (side == "buy" and price is not None
              and qty * self.unit(user, price) > self.available_cash(user)):
            reason = "insufficient_funds"
        elif side == "sell" and qty > self.available_lots(user):
            reason = "insufficient_holdings"
        elif kind == "market":
            opposite = self.resting("sell" if side == "buy" else "buy")
            if not opposite:
                reason = "no_liquidity"
            elif side == "buy":
                best: int = min(o.price for o in opposite)  # type: ignore[type-var,assignment]
                if self.available_cash(user) < best + fee(best, self.rates[user][1]):
                    reason = "insufficient_funds"
        self.orders[oid] = order  # only now does it reserve anything
        if reason is not None:
            self.end(order, "rejected", reason)
        else:
            self.execute(order)
        return oid

    def modify(self, user: str, oid: int, now: int, qty: int | None, price: int | None) -> None:
        order = self.owned(user, oid, now)
        if self.halted:
            raise ModelError("bad_state")
        if qty is not None and qty <= order.filled:
            raise ModelError("bad_request")
        new_qty = qty if qty is not None else order.qty
        new_price = price if price is not None else order.price
        leaves = new_qty - order.filled
        if order.side == "sell":
            if leaves - order.reserved(self) > self.available_lots(user):
                raise ModelError("insufficient_holdings")
        else:
            assert new_price is not None
            if (leaves * self.unit(user, new_price) - order.reserved(self)
                    > self.available_cash(user)):
                raise ModelError("insufficient_funds")
        keeps_place = new_price == order.price and new_qty <= order.qty
        order.qty, order.price = new_qty, new_price
        if order.in_book and not keeps_place:
            order.in_book = False
            self.execute(order)

    def cancel(self, user: str, oid: int, now: int) -> None:
        self.end(self.owned(user, oid, now), "canceled")

    def cancel_all(self, user: str, now: int) -> None:
        self.expire_due(now)
        for order in self.orders.values():
            if order.user == user and order.live:
                self.end(order, "canceled")

    def pause(self, user: str, oid: int, now: int) -> None:
        order = self.owned(user, oid, now)
        if order.status == "paused":
            raise ModelError("bad_state")
        order.status = "paused"
        order.in_book = False

    def resume(self, user: str, oid: int, now: int) -> None:
        order = self.owned(user, oid, now)
        if order.status != "paused":
            raise ModelError("bad_state")
        if self.halted:
            raise ModelError("bad_state")
        order.status = "partially_filled" if order.filled else "accepted"
        self.execute(order)

    def expire_session(self, now: int, everything: bool) -> None:
        self.expire_due(now)
        for o in sorted(self.orders.values(), key=lambda o: o.oid):
            if o.live and (everything or o.tif == "day"):
                self.end(o, "expired")

    def withdraw(self, user: str, amount: int) -> None:
        if amount > self.available_cash(user):
            raise ModelError("insufficient_funds")
        self.cash[user] -= amount


class EngineVersusModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ex = new_exchange([SymbolSpec.create(SYM, "0.01", "1")], max_open_orders=MAX_OPEN)
        for user, (cash, lots) in START.items():
            self.ex.add_user(UserInfo(user), cash, {SYM: lots})
        self.model = Model()
        self.now = T0
        self.statuses: dict[int, str] = {}
        self.cash_total = sum(c for c, _ in START.values())
        self.lots_total = sum(n for _, n in START.values())

    @initialize(maker=BPS, taker=BPS, own=st.none() | st.tuples(st.sampled_from(USERS), BPS,
                                                                BPS))
    def fees(self, maker: int, taker: int, own: tuple[str, int, int] | None) -> None:
        """The fee schedule of the run: the symbol's rates, and perhaps one user's own."""
        per_user = {} if own is None else {own[0]: FeeRates(own[1], own[2])}
        self.ex.set_fee_schedule(FeeSchedule({SYM: FeeRates(maker, taker)}, per_user))
        for user in USERS:
            self.model.rates[user] = (maker, taker)
        if own is not None:
            self.model.rates[own[0]] = (own[1], own[2])
        if maker or taker or (own is not None and (own[1] or own[2])):
            event("fees")

    # -- running one command on both ---------------------------------------------------
    def both(self, engine_call: object, model_call: object) -> str | None:
        """Run a command on both sides: the same error code, or the same trades.

        The model raises only before it changes anything but the lazy expiry, which the
        engine also runs before it refuses a command.
        """
        self.model.trades = []
        model_error = engine_error = None
        try:
            model_call()  # type: ignore[operator]
        except ModelError as err:
            model_error = err.code
        before = self.engine_orders()
        outcome: Outcome | None = None
        try:
            result = engine_call()  # type: ignore[operator]
        except CommandError as err:
            engine_error = err.code
            if err.outcome is not None:
                event("refused after expiring orders")
            self.check_reported(before, err.outcome, refused=True)
        else:
            outcome = result if isinstance(result, Outcome) else None
            self.check_reported(before, outcome)
        assert engine_error == model_error
        if engine_error is not None:
            event(f"error {engine_error}")
        elif outcome is not None and outcome.order is not None:
            order = outcome.order
            event(f"order {order.status} {order.reason or ''}".strip())
        if outcome is not None and outcome.trades:
            event("traded")
        engine_trades = [] if outcome is None else [
            (t.price, t.qty, t.buy_order_id, t.sell_order_id) for t in outcome.trades]
        assert engine_trades == self.model.trades
        if outcome is not None:
            for t in outcome.trades:
                buy = self.ex.find(t.buy_user, t.buy_order_id)
                sell = self.ex.find(t.sell_user, t.sell_order_id)
                assert buy.price is None or t.price <= buy.price
                assert sell.price is None or t.price >= sell.price
                assert t.ts == self.now and t.symbol == SYM
        return model_error

    def engine_orders(self) -> dict[int, tuple[str, int, int, int | None]]:
        return {oid: (o.status, o.filled, o.qty, o.price)
                for oid, o in ((o.order_id, o) for o in self.ex.orders())}

    def check_reported(self, before: dict[int, tuple[str, int, int, int | None]],
                       outcome: Outcome | None, refused: bool = False) -> None:
        """Every order the command changed is its own order, in its bulk list, or in an
        event whose snapshot is the order's final state (so the owner hears of it).

        A refused command changes nothing itself; what it expired on the way comes back as
        events on the error.
        """
        after = self.engine_orders()
        changed = {oid for oid, state in after.items() if before.get(oid) != state}
        if outcome is None:
            assert not changed
            return
        addressed = set()
        if outcome.order is not None and not refused:
            addressed.add(outcome.order.order_id)
        bulk = {o.order_id for o in outcome.orders}
        last_event = {e.order.order_id: (e.status, e.filled) for e in outcome.events}
        assert changed <= addressed | bulk | set(last_event)
        for oid, (status, filled) in last_event.items():
            if oid not in addressed:
                assert (status, filled) == after[oid][:2]

    def tick(self, dt: int) -> int:
        self.now += dt
        return self.now

    def pick(self, index: int, live: bool) -> int:
        """An order id: mostly a live order's, else any order's (or 1 before the first)."""
        ids = sorted(self.model.orders)
        if live:
            ids = [oid for oid in ids if self.model.orders[oid].live] or ids
        return ids[index % len(ids)] if ids else 1

    # -- rules -------------------------------------------------------------------------
    @rule(user=st.sampled_from(USERS), side=st.sampled_from(["buy", "sell"]),
          tif=st.sampled_from(["gtc", "gtc", "ioc", "fok", "day", "gtd"]), qty=QTYS,
          price=PRICES, stp=STP, ttl=st.integers(1, 20), dt=st.integers(0, 3))
    def place_limit(self, user: str, side: str, tif: str, qty: int, price: int, stp: str,
                    ttl: int, dt: int) -> None:
        now = self.tick(dt)
        expires_at = now + ttl if tif == "gtd" else None
        self.both(
            lambda: self.ex.place(user, SYM, side, qty, now, price=price, tif=tif,
                                  expires_at=expires_at, stp=stp),
            lambda: self.model.place(user, side, "limit", tif, qty, price, stp, expires_at, now),
        )

    @rule(user=st.sampled_from(USERS), side=st.sampled_from(["buy", "sell"]),
          tif=st.sampled_from(["gtc", "ioc", "fok"]), qty=st.integers(1, 16),
          through=st.integers(0, 2), stp=STP, dt=st.integers(0, 3))
    def place_crossing(self, user: str, side: str, tif: str, qty: int, through: int, stp: str,
                       dt: int) -> None:
        """A limit priced at the opposite best, or ``through`` ticks past it: it trades."""
        opposite = self.model.depth("sell" if side == "buy" else "buy")
        best = opposite[0][0] if opposite else 100
        price = best + through if side == "buy" else best - through
        self.place_limit(user, side, tif, qty, price, stp, 1, dt)

    @rule(user=st.sampled_from(USERS), side=st.sampled_from(["buy", "sell"]),
          qty=QTYS | st.integers(9, 40), stp=STP, dt=st.integers(0, 3))
    def place_market(self, user: str, side: str, qty: int, stp: str, dt: int) -> None:
        now = self.tick(dt)
        self.both(
            lambda: self.ex.place(user, SYM, side, qty, now, kind="market", stp=stp),
            lambda: self.model.place(user, side, "market", "gtc", qty, None, stp, None, now),
        )

    @rule(index=st.integers(0, 10**6), live=st.integers(0, 4).map(bool),
          owner=st.integers(0, 4).map(bool), qty=st.none() | st.integers(1, 10),
          price=st.none() | PRICES, dt=st.integers(0, 3))
    def modify(self, index: int, live: bool, owner: bool, qty: int | None, price: int | None,
               dt: int) -> None:
        if qty is None and price is None:
            qty = 1
        now = self.tick(dt)
        oid = self.pick(index, live)
        user = self.owner_or_other(oid, owner)
        self.both(lambda: self.ex.modify(user, oid, now, qty=qty, price=price),
                  lambda: self.model.modify(user, oid, now, qty, price))

    @rule(index=st.integers(0, 10**6), live=st.integers(0, 4).map(bool),
          owner=st.integers(0, 4).map(bool), op=st.sampled_from(["cancel", "pause", "resume"]),
          dt=st.integers(0, 3))
    def lifecycle(self, index: int, live: bool, owner: bool, op: str, dt: int) -> None:
        now = self.tick(dt)
        oid = self.pick(index, live)
        user = self.owner_or_other(oid, owner)
        self.both(lambda: getattr(self.ex, op)(user, oid, now),
                  lambda: getattr(self.model, op)(user, oid, now))

    @rule(dt=st.integers(0, 10))
    def expire(self, dt: int) -> None:
        now = self.tick(dt)
        self.both(lambda: self.ex.expire(SYM, now), lambda: self.model.expire_due(now))

    @rule(action=st.sampled_from(["halt", "resume_trading", "resume_trading", "close_day",
                                  "close_all", "deposit", "withdraw", "withdraw",
                                  "disable", "enable"]),
          user=st.sampled_from(USERS), amount=st.integers(1, 3_000), dt=st.integers(0, 3))
    def admin(self, action: str, user: str, amount: int, dt: int) -> None:
        """The rarer commands, drawn as one rule so that trading makes up most steps."""
        now = self.tick(dt)
        if action in ("halt", "resume_trading"):
            halted = action == "halt"
            self.ex.set_halted(SYM, halted)
            self.model.halted = halted
        elif action.startswith("close"):
            everything = action == "close_all"
            self.both(lambda: self.ex.expire_session(SYM, now, everything),
                      lambda: self.model.expire_session(now, everything))
        elif action in ("disable", "enable"):
            # As the server disables a user: the flag, then a cancel_all of the book.
            disabled = action == "disable"
            self.ex.apply(SetDisabled(now, "admin", user, disabled))
            if disabled:
                self.model.disabled.add(user)
                self.both(lambda: self.ex.cancel_all(user, SYM, now),
                          lambda: self.model.cancel_all(user, now))
            else:
                self.model.disabled.discard(user)
        elif action == "deposit":
            self.ex.deposit(user, amount)
            self.model.cash[user] += amount
            self.cash_total += amount
        elif self.both(lambda: self.ex.withdraw(user, amount),
                       lambda: self.model.withdraw(user, amount)) is None:
            self.cash_total -= amount

    def owner_or_other(self, oid: int, owner: bool) -> str:
        order = self.model.orders.get(oid)
        if order is None:
            return USERS[0]
        if owner:
            return order.user
        return USERS[(USERS.index(order.user) + 1) % len(USERS)]

    # -- what must hold after every step -------------------------------------------------
    @invariant()
    def engine_invariants_hold(self) -> None:
        self.ex.check_invariants()

    @invariant()
    def orders_agree(self) -> None:
        engine_orders = {o.order_id: o for o in self.ex.orders()}
        assert sorted(engine_orders) == sorted(self.model.orders)
        for oid, m in self.model.orders.items():
            o = engine_orders[oid]
            assert (o.user, o.side, o.kind, o.tif) == (m.user, m.side, m.kind, m.tif)
            assert (o.status, o.reason, o.filled, o.qty, o.price) == (
                m.status, m.reason, m.filled, m.qty, m.price), (o, m)
            assert o.leaves == m.leaves and o.reserved == m.reserved(self.model)
            assert 0 <= o.filled <= o.qty and o.reserved >= 0
            if o.live:
                assert o.filled + o.leaves == o.qty and o.filled < o.qty
            previous = self.statuses.get(oid, "accepted")
            assert o.status in REACHABLE[previous] or (
                oid not in self.statuses and o.status == "rejected"), (previous, o)
            self.statuses[oid] = o.status

    @invariant()
    def accounts_agree_and_are_conserved(self) -> None:
        cash_total, lots = self.ex.totals()
        assert cash_total == self.cash_total
        assert lots.get(SYM, 0) == self.lots_total
        for user in USERS:
            acct = self.ex.find_account(user)
            assert acct is not None
            pos = acct.position(SYM)
            assert (acct.cash, pos.qty) == (self.model.cash[user], self.model.lots[user])
            assert acct.reserved_cash == self.model.reserved_cash(user)
            assert pos.reserved == self.model.reserved_lots(user)
            assert 0 <= acct.reserved_cash <= acct.cash
            assert 0 <= pos.reserved <= pos.qty
            assert acct.fees_paid == self.model.paid[user]
            assert (pos.cost, pos.realized) == (self.model.cost[user], self.model.realized[user])
        fees = self.ex.find_account(FEE_ACCOUNT)
        assert (0 if fees is None else fees.cash) == self.model.collected
        if self.model.collected:
            event("fees collected")

    @invariant()
    def gains_per_sale_add_up_to_realized(self) -> None:
        """What each sale brought in, less its fee and the basis it removed, summed over a
        user's sales, is the user's realized P/L (what a per-sale report adds up)."""
        for user in USERS:
            gains = sum(t.price * t.qty - t.sell_fee - t.sell_basis
                        for t, side in self.ex.fills_of(user, limit=10**6) if side == "sell")
            assert gains == self.model.realized[user]

    @invariant()
    def books_agree(self) -> None:
        _, bids, asks = self.ex.depth(SYM, 1000)
        assert bids == self.model.depth("buy")
        assert asks == self.model.depth("sell")
        if bids and asks:
            assert bids[0][0] < asks[0][0]
        assert self.ex.market_data(SYM).last == self.model.last


# About 5 s. With CI set in the environment the examples are derandomized (the same on
# every run), so a CI failure is reproducible and a CI run never flakes.
EngineVersusModel.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow],
)
TestEngineVersusModel = EngineVersusModel.TestCase
