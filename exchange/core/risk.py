"""The risk part: accounts keyed by user, the holds of their live orders, settlement.

The exchange is split the way exchange-core splits it: a command passes risk (a hold
on the user's cash or holdings), then the symbol engine (book, matching, stops, expiry,
market data: :mod:`exchange.core.matching`), then risk again (each fill settled on both
accounts, each ended order's hold released). The symbol engine knows nothing of
accounts: it talks to risk only through the :class:`~exchange.core.ports.RiskPort`
methods below, passing order records and trades, and it never reads a balance except
as the cash budget risk gives a market buy.

What risk owns of an order is ``order.reserved``, the hold: cash units for a limit buy
(``leaves x price x mult``, at the order's own limit), lots for a sell, nothing for a
market or stop buy, which pays from the budget risk gives it when it trades. In one
process the order record is shared and risk writes that one field; a risk shard in
another process keeps the same number against the order id.

Every successful :meth:`Risk.hold` is matched by exactly one :meth:`Risk.release`
(when the order ends, or at once when the engine refuses it after the hold), which is
what keeps ``open_orders`` and the reservations exact.
"""

from __future__ import annotations

from collections.abc import Iterator

from mypy_extensions import mypyc_attr

from exchange.core.accounts import Account, Accounts, Position, UserInfo
from exchange.core.orders import BUY, MARKET, STOP, Order
from exchange.core.pickling import Picklable
from exchange.core.results import CommandError, Trade
from exchange.core.symbols import INT64_MAX, Money

DEFAULT_MAX_OPEN_ORDERS = 100_000


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class Risk(Picklable):
    """Cash, holdings and holds of every user; the one writer of account state."""

    def __init__(self, money: Money, max_open_orders: int = DEFAULT_MAX_OPEN_ORDERS) -> None:
        self.accounts = Accounts()
        self.by_user = self.accounts.by_user
        """The accounts by user id (the same dict; one attribute read on the hot path)."""
        self.money = money
        self.max_open_orders = max_open_orders

    # -- users ------------------------------------------------------------------------
    def add_user(self, info: UserInfo, cash: int,
                 holdings: dict[str, tuple[int, int]]) -> Account:
        """Register a user with cash units and ``{symbol: (lots, cost)}`` holdings."""
        return self.accounts.add(info, cash, holdings)

    def account(self, user: str) -> Account:
        account = self.by_user.get(user)
        if account is None:
            raise CommandError("auth_required", "user: not a registered user")
        return account

    def find_account(self, user: str) -> Account | None:
        return self.by_user.get(user)

    def __iter__(self) -> Iterator[Account]:
        return iter(self.accounts)

    def available_cash(self, user: str) -> int:
        account = self.by_user[user]
        return account.cash - account.reserved_cash

    def totals(self) -> tuple[int, dict[str, int]]:
        """Total cash and lots per symbol across all users (conserved by trading)."""
        return self.accounts.totals()

    def total_cash(self) -> int:
        """The cash of every account together, in cash units.

        Trades only move cash between accounts, so this changes only by deposits and
        withdrawals; keeping it within INT64_MAX keeps every balance, reservation and
        notional of every account within it too."""
        return sum(account.cash for account in self.accounts)

    def open_orders(self) -> int:
        return sum(account.open_orders for account in self.accounts)

    # -- holds (the RiskPort the symbol engine calls) --------------------------------
    def hold(self, order: Order, mult: int) -> str | None:
        """Take the hold a new order needs, or say why not (nothing held then).

        Checks the user's live-order bound, then reserves: ``qty x price x mult`` cash
        for a limit or stop-limit buy, ``qty`` lots for a sell; a market or stop buy
        reserves nothing (see :meth:`budget`)."""
        account = self.by_user[order.user]
        if account.open_orders >= self.max_open_orders:
            return "too_many_orders"
        if order.side == BUY:
            if order.kind != MARKET and order.kind != STOP:
                need = order.qty * order.price * mult  # type: ignore[operator]
                if need > account.cash - account.reserved_cash:
                    return "insufficient_funds"
                order.reserved = need
                account.reserved_cash += need
        else:
            position = account.positions.get(order.symbol)
            if position is None:
                position = account.position(order.symbol)
            if order.qty > position.qty - position.reserved:
                return "insufficient_holdings"
            order.reserved = order.qty
            position.reserved += order.qty
        account.open_orders += 1
        return None

    def budget(self, user: str) -> int:
        """The cash a market buy may spend now: what is not reserved."""
        account = self.by_user[user]
        return account.cash - account.reserved_cash

    def rehold(self, order: Order, leaves: int, price: int | None, mult: int) -> int:
        """The change of hold a modify to ``leaves`` lots at ``price`` needs, if affordable.

        Raises :class:`CommandError` (nothing changed) when the user cannot cover it."""
        account = self.by_user[order.user]
        if order.side != BUY:
            delta = leaves - order.reserved
            position = account.position(order.symbol)
            if delta > position.qty - position.reserved:
                raise CommandError("insufficient_holdings", "qty: not enough holdings available")
            return delta
        if price is None or order.kind == STOP:
            return 0
        delta = leaves * price * mult - order.reserved
        if delta > account.cash - account.reserved_cash:
            raise CommandError("insufficient_funds", "qty: not enough cash available")
        return delta

    def adjust(self, order: Order, delta: int) -> None:
        """Apply a change of hold that :meth:`rehold` found affordable."""
        order.reserved += delta
        account = self.by_user[order.user]
        if order.side == BUY:
            account.reserved_cash += delta
        else:
            account.positions[order.symbol].reserved += delta

    def release(self, order: Order) -> None:
        """The order ended (or was refused after its hold): give back what it holds."""
        account = self.by_user[order.user]
        reserved = order.reserved
        if reserved:
            if order.side == BUY:
                account.reserved_cash -= reserved
            else:
                account.positions[order.symbol].reserved -= reserved
            order.reserved = 0
        account.open_orders -= 1

    def settle(self, trade: Trade, buy: Order, sell: Order, mult: int) -> None:
        """Settle one fill on both accounts, at the trade's price.

        The buyer pays ``price x qty x mult`` and gives up the hold of those lots at its
        own limit (price improvement comes back); the seller hands over the lots it held
        and receives the cash. The buyer's position is updated first, so a self-trade
        books its cost basis exactly as two separate users' trades would."""
        by_user = self.by_user
        symbol = trade.symbol
        q = trade.qty
        value = trade.price * q * mult
        buyer = by_user[trade.buy_user]
        buyer.cash -= value
        if buy.reserved:
            rel = buy.price * q * mult  # type: ignore[operator]
            buy.reserved -= rel
            buyer.reserved_cash -= rel
        position: Position | None = buyer.positions.get(symbol)
        if position is None:
            position = buyer.position(symbol)
        position.qty += q
        position.cost += value
        seller = by_user[trade.sell_user]
        position = seller.positions[symbol]
        position.sold(q, value)
        position.reserved -= q
        sell.reserved -= q
        seller.cash += value

    # -- cash ---------------------------------------------------------------------------
    def deposit(self, user: str, amount: int) -> Account:
        if amount <= 0:
            raise CommandError("bad_request", "amount: must be a positive amount of cash")
        account = self.account(user)
        room = INT64_MAX - self.total_cash()
        if amount > room:
            raise CommandError("bad_request", f"amount: at most {self.money.fmt(max(room, 0))}"
                               " can be deposited now (all cash on the exchange together is "
                               f"at most {self.money.fmt(INT64_MAX)})")
        account.cash += amount
        return account

    def withdraw(self, user: str, amount: int) -> Account:
        if amount <= 0:
            raise CommandError("bad_request", "amount: must be a positive amount of cash")
        if amount > INT64_MAX:
            raise CommandError("bad_request", f"amount: at most {self.money.fmt(INT64_MAX)}")
        account = self.account(user)
        if amount > account.available_cash:
            raise CommandError("insufficient_funds", "amount: more than the available cash")
        account.cash -= amount
        return account
