"""The risk part: accounts keyed by user, the holds of their live orders, settlement.

The exchange is split the way exchange-core splits it: a command passes risk (a hold
on the user's cash or holdings), then the symbol engine (book, matching, stops, expiry,
market data: :mod:`exchange.core.matching`), then risk again (each fill settled on both
accounts, each ended order's hold released). The symbol engine knows nothing of
accounts: it talks to risk only through the :class:`~exchange.core.ports.RiskPort`
methods below, passing order records and trades, and it never reads a balance except
as the cash budget risk gives a market buy.

What risk owns of an order is ``order.reserved``, the hold: cash units for a limit buy
(``leaves x unit``, the unit being one lot at the order's own limit plus the fee of one
lot at the user's taker rate, see :meth:`Risk.unit_cost`), lots for a sell, nothing for
a market or stop buy, which pays from the budget risk gives it when it trades. In one
process the order record is shared and risk writes that one field; a risk shard in
another process keeps the same number against the order id.

Every successful :meth:`Risk.hold` is matched by exactly one :meth:`Risk.release`
(when the order ends, or at once when the engine refuses it after the hold), which is
what keeps ``open_orders`` and the reservations exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from mypy_extensions import mypyc_attr

from exchange.core.accounts import Account, Accounts, Position, UserInfo
from exchange.core.fees import BPS, FEE_ACCOUNT, NO_SCHEDULE, FeeSchedule
from exchange.core.limits import (
    ALERT_SHARE,
    MAX_OPEN_EXPOSURE,
    MAX_ORDER_NOTIONAL,
    MAX_POSITION,
    NO_LIMITS,
    ExposureLimits,
    RiskAlert,
)
from exchange.core.orders import BUY, MARKET, STOP, Order
from exchange.core.pickling import Picklable
from exchange.core.results import CommandError, Trade
from exchange.core.symbols import INT64_MAX, Money

DEFAULT_MAX_OPEN_ORDERS = 100_000

__all__ = ["DEFAULT_MAX_OPEN_ORDERS", "ExposureLimits", "Risk", "RiskAlert"]

@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class Risk(Picklable):
    """Cash, holdings and holds of every user; the one writer of account state."""

    def __init__(self, money: Money, max_open_orders: int = DEFAULT_MAX_OPEN_ORDERS) -> None:
        self.accounts = Accounts()
        self.by_user = self.accounts.by_user
        """The accounts by user id (the same dict; one attribute read on the hot path)."""
        self.money = money
        self.max_open_orders = max_open_orders
        self.default_limits: ExposureLimits = NO_LIMITS
        self.user_limits: dict[str, ExposureLimits] = {}
        self.limited = False
        """Whether any exposure limit is set: without one, holds check and track nothing
        more than cash and holdings (the hot path stays as it is)."""
        self.alerts: list[RiskAlert] = []
        """Alerts raised by the commands run since the caller last took them."""
        self._lots_delta = 0
        self.fees: FeeSchedule = NO_SCHEDULE
        self.charging = False
        """Whether any fee rate is set: without one, holds and settlement are exactly
        what they are without fees (the hot path pays one test for them)."""
        self.fee_account: Account | None = None
        """The account fees are paid into (:data:`~exchange.core.fees.FEE_ACCOUNT`), made
        by the first schedule that charges anything."""

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

    # -- exposure limits ------------------------------------------------------------------
    def set_limits(self, default: ExposureLimits, per_user: Mapping[str, ExposureLimits],
                   live_buys: Iterable[Order]) -> None:
        """Set the exposure limits, and count what the live buys may still buy.

        ``live_buys`` are the exchange's live buy orders: the position limit counts them,
        and they may predate the limits (a data directory restarted with a new config)."""
        self.default_limits = default
        self.user_limits = {user: limits for user, limits in per_user.items()
                            if limits != default}
        self.limited = not default.empty or any(not lim.empty for lim in per_user.values())
        for account in self.accounts:
            for position in account.positions.values():
                position.buying = 0
        if self.limited:
            for order in live_buys:
                self.by_user[order.user].position(order.symbol).buying += (
                    order.qty - order.filled)

    def limits_of(self, user: str) -> ExposureLimits:
        return self.user_limits.get(user, self.default_limits)

    def take_alerts(self) -> list[RiskAlert]:
        alerts = self.alerts
        self.alerts = []
        return alerts

    def _check_limits(self, account: Account, order: Order, mult: int,
                      price: int | None) -> str | None:
        """The first exposure limit the new order would pass, else None (alerts noted)."""
        limits = self.user_limits.get(order.user, self.default_limits)
        if limits.empty:
            return None
        pending: list[RiskAlert] = []
        if order.price is not None:
            price = order.price
        elif order.stop_price is not None:
            price = order.stop_price
        notional = None if price is None else order.qty * price * mult
        cap = limits.max_order_notional
        if cap is not None and notional is not None:
            if notional > cap:
                return MAX_ORDER_NOTIONAL
            self._near(pending, order, MAX_ORDER_NOTIONAL, notional, cap)
        if order.side == BUY:
            cap = limits.max_position.get(order.symbol)
            if cap is not None:
                position = account.positions.get(order.symbol)
                held = 0 if position is None else position.qty + position.buying
                if held + order.qty > cap:
                    return MAX_POSITION
                self._near(pending, order, MAX_POSITION, held + order.qty, cap)
            cap = limits.max_open_exposure
            if cap is not None and order.kind != MARKET and order.kind != STOP:
                exposure = account.reserved_cash + order.qty * self.unit_cost(
                    order.user, order.symbol, order.price, mult)  # type: ignore[arg-type]
                if exposure > cap:
                    return MAX_OPEN_EXPOSURE
                self._near(pending, order, MAX_OPEN_EXPOSURE, exposure, cap)
        self.alerts.extend(pending)
        return None

    @staticmethod
    def _near(pending: list[RiskAlert], order: Order, limit: str, used: int,
              maximum: int) -> None:
        share, whole = ALERT_SHARE
        if used * whole > maximum * share:
            pending.append(RiskAlert(order.user, limit, order.symbol, used, maximum))

    # -- fees -----------------------------------------------------------------------------
    def set_fees(self, schedule: FeeSchedule) -> None:
        """Put a fee schedule in force (the fee account is made the first time one charges
        anything). The caller re-holds the live buys after it (see
        ``Exchange.set_fee_schedule``), as their holds include the fee of each lot."""
        self.fees = schedule.normalized()
        self.charging = not self.fees.empty
        if self.charging and FEE_ACCOUNT not in self.by_user:
            self.accounts.add(UserInfo(FEE_ACCOUNT, name="Exchange fees"), 0, {})
        self.fee_account = self.by_user.get(FEE_ACCOUNT)

    def taker_bps(self, user: str, symbol: str) -> int:
        """The rate ``user`` pays on ``symbol`` when taking liquidity, in basis points."""
        if not self.charging:
            return 0
        return self.fees.rates(user, symbol).taker_bps

    def unit_cost(self, user: str, symbol: str, price: int, mult: int) -> int:
        """What one lot at ``price`` may cost ``user`` at most: its value plus the fee of
        one lot alone, rounded up, at the taker rate (or the maker rate, should a schedule
        make it the higher: a resting buy trades as the maker). A buy holds ``leaves`` of
        these: each lot may fill alone, and fees rounded up fill by fill never exceed it."""
        value = price * mult
        if not self.charging:
            return value
        rates = self.fees.rates(user, symbol)
        bps = rates.taker_bps if rates.taker_bps >= rates.maker_bps else rates.maker_bps
        return value + (value * bps + BPS - 1) // BPS

    def fee_rehold(self, order: Order, mult: int) -> int:
        """The hold change a live buy needs under the schedule now in force (zero for an
        order that holds no cash)."""
        if order.side != BUY or order.price is None or order.kind == STOP:
            return 0
        unit = self.unit_cost(order.user, order.symbol, order.price, mult)
        return (order.qty - order.filled) * unit - order.reserved

    def apply_fee_rehold(self, order: Order, delta: int) -> bool:
        """Change a live buy's hold by ``delta`` if its owner's available cash covers it."""
        account = self.by_user[order.user]
        if delta > account.cash - account.reserved_cash:
            return False
        order.reserved += delta
        account.reserved_cash += delta
        return True

    # -- holds (the RiskPort the symbol engine calls) --------------------------------
    def hold(self, order: Order, mult: int, best: int | None = None) -> str | None:
        """Take the hold a new order needs, or say why not (nothing held then).

        Checks the user's live-order bound, then the exposure limits (``best``: the
        best opposite price, which values a market order), then reserves:
        ``qty x unit`` cash for a limit or stop-limit buy (:meth:`unit_cost`: the
        price of a lot and its taker fee), ``qty`` lots for a sell; a market or stop buy
        reserves nothing (see :meth:`budget`)."""
        account = self.by_user[order.user]
        if account.open_orders >= self.max_open_orders:
            return "too_many_orders"
        if self.limited:
            alerts = len(self.alerts)
            refusal = self._check_limits(account, order, mult, best)
            if refusal is None:
                refusal = self._reserve(account, order, mult)
            if refusal is not None:
                del self.alerts[alerts:]  # an order refused raises no alert
                return refusal
            if order.side == BUY:
                account.position(order.symbol).buying += order.qty
            account.open_orders += 1
            return None
        refusal = self._reserve(account, order, mult)
        if refusal is None:
            account.open_orders += 1
        return refusal

    def _reserve(self, account: Account, order: Order, mult: int) -> str | None:
        if order.side == BUY:
            if order.kind != MARKET and order.kind != STOP:
                need = order.qty * order.price * mult  # type: ignore[operator]
                if self.charging:
                    need = order.qty * self.unit_cost(order.user, order.symbol,
                                                      order.price, mult)  # type: ignore[arg-type]
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
        return None

    def budget(self, user: str) -> int:
        """The cash a market buy may spend now, fees included: what is not reserved."""
        account = self.by_user[user]
        return account.cash - account.reserved_cash

    def rehold(self, order: Order, leaves: int, price: int | None, mult: int) -> int:
        """The change of hold a modify to ``leaves`` lots at ``price`` needs, if affordable.

        Raises :class:`CommandError` (nothing changed) when the user cannot cover it."""
        account = self.by_user[order.user]
        if self.limited:
            self._rehold_limits(account, order, leaves, price, mult)
        if order.side != BUY:
            delta = leaves - order.reserved
            position = account.position(order.symbol)
            if delta > position.qty - position.reserved:
                raise CommandError("insufficient_holdings", "qty: not enough holdings available")
            return delta
        if price is None or order.kind == STOP:
            return 0
        delta = leaves * self.unit_cost(order.user, order.symbol, price, mult) - order.reserved
        if delta > account.cash - account.reserved_cash:
            raise CommandError("insufficient_funds", "qty: not enough cash available")
        return delta

    def _rehold_limits(self, account: Account, order: Order, leaves: int,
                       price: int | None, mult: int) -> None:
        """A modify must keep within the limits as a new order would."""
        limits = self.user_limits.get(order.user, self.default_limits)
        value_price = price if price is not None else order.stop_price
        qty = order.filled + leaves
        cap = limits.max_order_notional
        if cap is not None and value_price is not None and qty * value_price * mult > cap:
            raise CommandError("bad_request", f"qty: the order would pass {MAX_ORDER_NOTIONAL}")
        self._lots_delta = 0
        if order.side == BUY:
            self._lots_delta = leaves - (order.qty - order.filled)
            cap = limits.max_position.get(order.symbol)
            position = account.position(order.symbol)
            if (cap is not None and self._lots_delta > 0
                    and position.qty + position.buying + self._lots_delta > cap):
                raise CommandError("bad_request", f"qty: the order would pass {MAX_POSITION}")
            cap = limits.max_open_exposure
            if cap is not None and price is not None and order.kind != STOP:
                delta = (leaves * self.unit_cost(order.user, order.symbol, price, mult)
                         - order.reserved)
                if delta > 0 and account.reserved_cash + delta > cap:
                    raise CommandError("bad_request",
                                       f"qty: the order would pass {MAX_OPEN_EXPOSURE}")

    def adjust(self, order: Order, delta: int) -> None:
        """Apply a change of hold that :meth:`rehold` found affordable."""
        order.reserved += delta
        account = self.by_user[order.user]
        if self.limited and order.side == BUY:
            account.positions[order.symbol].buying += self._lots_delta
            self._lots_delta = 0
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
        if self.limited and order.side == BUY:
            account.positions[order.symbol].buying -= order.qty - order.filled
        account.open_orders -= 1

    def settle(self, trade: Trade, buy: Order, sell: Order, mult: int) -> None:
        """Settle one fill on both accounts, at the trade's price.

        The buyer pays ``price x qty x mult`` and its fee, and gives up the hold of those
        lots at its own limit (price improvement and any fee held beyond the one charged
        come back); the seller hands over the lots it held and receives the cash less its
        fee. The fees go to the fee account. The buyer's position is updated first, so a
        self-trade books its cost basis exactly as two separate users' trades would.

        Fees: ``ceil(value x bps / 10000)`` cash units each side, at the taker rate for
        the side of the incoming order and the maker rate for the other, written on the
        trade with the seller's cost basis removed (``sell_basis``)."""
        by_user = self.by_user
        symbol = trade.symbol
        q = trade.qty
        value = trade.price * q * mult
        buyer = by_user[trade.buy_user]
        seller = by_user[trade.sell_user]
        buy_fee = 0
        sell_fee = 0
        if self.charging:
            buy_fee, sell_fee = self._charge(trade, value, buyer, seller)
            if buy.reserved:
                # The hold is linear in the lots left: leaves x unit, exactly.
                rel = buy.reserved // (buy.qty - buy.filled) * q
                buy.reserved -= rel
                buyer.reserved_cash -= rel
        elif buy.reserved:
            rel = buy.price * q * mult  # type: ignore[operator]
            buy.reserved -= rel
            buyer.reserved_cash -= rel
        buyer.cash -= value + buy_fee
        position: Position | None = buyer.positions.get(symbol)
        if position is None:
            position = buyer.position(symbol)
        position.qty += q
        position.cost += value + buy_fee
        if self.limited:
            position.buying -= q
        position = seller.positions[symbol]
        trade.sell_basis = position.sold(q, value - sell_fee)
        position.reserved -= q
        sell.reserved -= q
        seller.cash += value - sell_fee

    def _charge(self, trade: Trade, value: int, buyer: Account,
                seller: Account) -> tuple[int, int]:
        """Both sides' fees on a fill worth ``value``, paid into the fee account."""
        fees = self.fees
        buy_rates = fees.rates(trade.buy_user, trade.symbol)
        sell_rates = fees.rates(trade.sell_user, trade.symbol)
        if trade.taker_side == BUY:
            buy_bps, sell_bps = buy_rates.taker_bps, sell_rates.maker_bps
        else:
            buy_bps, sell_bps = buy_rates.maker_bps, sell_rates.taker_bps
        buy_fee = (value * buy_bps + BPS - 1) // BPS
        sell_fee = (value * sell_bps + BPS - 1) // BPS
        trade.buy_fee = buy_fee
        trade.sell_fee = sell_fee
        buyer.fees_paid += buy_fee
        seller.fees_paid += sell_fee
        self.fee_account.cash += buy_fee + sell_fee  # type: ignore[union-attr]
        return buy_fee, sell_fee

    # -- cash ---------------------------------------------------------------------------
    def deposit(self, user: str, amount: int) -> Account:
        if user == FEE_ACCOUNT:
            raise CommandError("bad_request", "user: the fee account takes only fees")
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
        if user == FEE_ACCOUNT:
            raise CommandError("bad_request", "user: the fee account takes only fees")
        if amount <= 0:
            raise CommandError("bad_request", "amount: must be a positive amount of cash")
        if amount > INT64_MAX:
            raise CommandError("bad_request", f"amount: at most {self.money.fmt(INT64_MAX)}")
        account = self.account(user)
        if amount > account.available_cash:
            raise CommandError("insufficient_funds", "amount: more than the available cash")
        account.cash -= amount
        return account
