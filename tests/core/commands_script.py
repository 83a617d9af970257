"""A run of every kind of command record, and what an exchange holds after it.

Shared by the core's round-trip tests and the journal's replay tests: :func:`run_script`
drives a fresh exchange through ``Exchange.apply`` with commands of every type (some of
them refused, as a live server records refusals too) and returns the records it ran;
:func:`state` is everything observable an exchange holds, to compare two of them.
"""

from __future__ import annotations

from typing import Any

from exchange.core import commands as C
from exchange.core.engine import Exchange
from exchange.core.fees import FEE_ACCOUNT, FeeRates, FeeSchedule
from exchange.core.limits import ExposureLimits
from exchange.core.results import CommandError
from tests.core.helpers import OTHER, SYM, T0

NEW = "NEWCO"
"""The symbol the script lists at run time."""

ORDER_FIELDS = ("order_id", "user", "symbol", "side", "kind", "tif", "qty", "price",
                "stop_price", "status", "reason", "filled", "notional", "reserved",
                "expires_at", "post_only", "stp", "client_order_id", "triggered")


def place(t: int, user: str, side: str, qty: int, price: int | None, *, symbol: str = SYM,
          kind: str = "limit", tif: str = "gtc", stop_price: int | None = None,
          expires_at: int | None = None, post_only: bool = False, stp: str = "none",
          cid: str | None = None) -> C.Place:
    return C.Place(t, user, symbol, side, qty, kind, tif, price, stop_price, expires_at,
                   post_only, stp, cid)


def run_script(ex: Exchange) -> list[C.Command]:
    """Run commands of every type on ``ex`` through ``apply``; the records, in order."""
    ran: list[C.Command] = []

    def do(cmd: C.Command) -> int | None:
        ran.append(cmd)
        try:
            out = ex.apply(cmd)
        except CommandError:
            return None
        return out.order.order_id if out.order is not None else None

    t = T0
    do(C.Deposit(t, "alice", 5_000))
    do(C.Withdraw(t + 1, "bob", 2_000))
    do(C.Withdraw(t + 2, "bob", 10**15))  # refused: more than bob has
    resting = do(place(t + 3, "alice", "buy", 10, 100, cid="a-1"))
    do(place(t + 4, "alice", "buy", 10, 100, cid="a-1"))  # a duplicate client id
    do(place(t + 5, "bob", "sell", 4, 99))  # trades 4 with alice's order
    assert resting is not None
    do(C.Modify(t + 6, "alice", resting, 8, 101))
    do(C.Pause(t + 7, "alice", resting))
    do(C.Resume(t + 8, "alice", resting))
    do(C.Modify(t + 9, "bob", resting, 1, None))  # refused: not bob's order
    do(place(t + 10, "carol", "sell", 5, 150, tif="gtd", expires_at=t + 100))
    do(C.Expire(t + 200, SYM))
    do(place(t + 201, "carol", "buy", 3, 90, tif="day"))
    do(place(t + 202, "bob", "sell", 2, None, kind="stop", stop_price=95))
    do(place(t + 203, "carol", "sell", 2, 200, post_only=True))
    do(C.ExpireSession(t + 300, SYM, False))
    do(C.Cancel(t + 301, "alice", resting))
    do(C.Cancel(t + 302, "alice", resting))  # refused: already canceled
    for i in range(3):
        do(place(t + 310 + i, "bob", "buy", 1 + i, 50 + i, symbol=OTHER))
    do(C.CancelAll(t + 320, "bob", OTHER))
    do(C.Halt(t + 400, "admin", SYM, True))
    do(place(t + 401, "alice", "buy", 1, 100))  # rejected: halted
    do(C.Halt(t + 402, "admin", SYM, False))
    do(C.MarketOpen(t + 500, "admin", False))
    do(place(t + 501, "alice", "buy", 1, 100))  # rejected: market closed
    do(C.MarketOpen(t + 502, "admin", True))
    do(place(t + 503, "alice", "buy", 5, 120))
    do(place(t + 504, "carol", "sell", 7, None, kind="market"))
    do(place(t + 505, "bob", "sell", 1, 130, symbol=OTHER))
    do(C.ExpireSession(t + 600, OTHER, True))
    do(place(t + 601, "nobody", "buy", 1, 100))  # refused: not a user
    do(C.SetLimits(t + 700, "", ExposureLimits(max_order_notional=1_000),
                   {"bob": ExposureLimits(max_position={SYM: 2_000})}))
    do(place(t + 701, "alice", "buy", 11, 100))  # rejected: max_order_notional
    do(place(t + 702, "bob", "buy", 5, 100))  # bob has his own limits
    # account administration and profiles
    do(C.CreateUser(t + 800, "admin", "dora", "Dora", "+1 555 0199", "dora@example.com",
                    "scrypt$16384$8$1$c2FsdA==$a2V5", False, 50_000, {OTHER: 10}))
    do(C.CreateUser(t + 801, "admin", "dora", "", "", "", "h", False, 0, {}))  # refused: exists
    do(C.UpdateProfile(t + 802, "bob", "bob", "Robert", None, "bob@example.org"))
    do(C.UpdateProfile(t + 803, "bob", "bob", None, "not a phone", None))  # refused
    do(place(t + 804, "dora", "buy", 1, 100, symbol=OTHER))
    do(C.SetDisabled(t + 805, "admin", "dora", True))
    do(C.CancelAll(t + 806, "dora", OTHER))
    do(place(t + 807, "dora", "buy", 1, 100))  # refused: disabled
    do(C.SetDisabled(t + 808, "admin", "dora", False))
    do(C.AddSymbol(t + 900, "admin", NEW, "0.05", "10", "20.00", "0.5", None, None))
    do(C.AddSymbol(t + 901, "admin", "FINE", "0.001", "0.001", None, None, None, None))  # refused
    do(place(t + 902, "dora", "buy", 3, 400, symbol=NEW))
    do(place(t + 903, "carol", "buy", 2, 401, symbol=NEW))
    do(C.CreateUser(t + 904, "admin", "erin", "Erin", "", "", "h", False, 0, {NEW: 50}))
    do(place(t + 905, "erin", "sell", 4, 400, symbol=NEW))  # trades with carol, then dora
    # two-factor login and watchlists
    do(C.TwoFactor(t + 800, "alice", "JBSWY3DPEHPK3PXP", False, 0))
    do(C.TwoFactor(t + 801, "alice", "JBSWY3DPEHPK3PXP", True, 12345))
    do(C.TwoFactor(t + 802, "bob", "KRSXG5CTMVRXEZLU", False, 0))
    do(C.TwoFactor(t + 803, "bob", "", False, 0))  # bob turned it off again
    do(C.TwoFactor(t + 804, "nobody", "KRSXG5CTMVRXEZLU", False, 0))  # refused: no user
    do(C.Watch(t + 810, "alice", OTHER, True))
    do(C.Watch(t + 811, "alice", SYM, True))
    do(C.Watch(t + 812, "bob", SYM, True))
    do(C.Watch(t + 813, "bob", SYM, False))
    do(C.Watch(t + 814, "carol", SYM, False))  # refused: not on carol's watchlist
    do(C.Watch(t + 815, "carol", "NOPE", True))  # refused: unknown symbol
    # fees
    do(place(t + 999, "alice", "buy", 2, 97))  # rests before the fees: re-held for them
    do(C.SetFees(t + 1000, "", FeeSchedule({SYM: FeeRates(10, 25)},
                                           {"carol": FeeRates(0, 5)})))
    do(place(t + 1001, "carol", "buy", 3, 100))  # rests: it will be the maker
    do(place(t + 1002, "bob", "sell", 2, 100))  # takes: both pay a fee
    do(place(t + 1003, "alice", "buy", 4, None, kind="market"))  # a budget with the fee
    return ran


def state(ex: Exchange) -> dict[str, Any]:
    """What the exchange holds: balances, positions, every order, books, tape, flags."""
    accounts = {}
    orders = {}
    for acct in ex.users():
        user = acct.user
        i = acct.info
        accounts[user] = (acct.cash, acct.reserved_cash, acct.open_orders, acct.fees_paid,
                          sorted((s, p.qty, p.reserved, p.cost, p.realized)
                                 for s, p in acct.positions.items()),
                          (i.name, i.phone, i.email, i.token_hash, i.admin, i.disabled))
        for order in ex.orders_of(user, live_only=False):
            orders[order.order_id] = tuple(getattr(order, f) for f in ORDER_FIELDS)
    books = {}
    for symbol in ex.symbols():
        md = ex.market_data(symbol)
        spec = ex.spec(symbol)
        books[symbol] = (ex.depth(symbol, 1000), ex.books[symbol].halted, md.last,
                         md.volume, ex.next_expiry(symbol),
                         (str(spec.tick_size), str(spec.lot_size), spec.reference_price,
                          spec.price_band, spec.max_price, spec.max_qty, spec.mult))
    fills = {a.user: [(t.trade_id, t.price, t.qty, side, t.buy_fee, t.sell_fee, t.sell_basis)
                      for t, side in ex.fills_of(a.user)]
             for a in ex.users()}
    fee_account = ex.find_account(FEE_ACCOUNT)
    return {"accounts": accounts, "orders": orders, "books": books, "fills": fills,
            "market_open": ex.market_open, "limits": ex.exposure_limits(),
            "two_factor": {a.user: ex.two_factor_of(a.user) for a in ex.users()},
            "watchlists": {a.user: ex.watchlist(a.user) for a in ex.users()},
            "fees": (ex.fee_schedule(), None if fee_account is None else fee_account.cash),
            "next_order_id": ex.next_order_id,
            "next_trade_id": ex.next_trade_id}
