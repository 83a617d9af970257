"""The exchange's commands: everything a request can do to orders and accounts.

:class:`Exchange` joins the two parts of the core in one process: the risk part
(:class:`~exchange.core.risk.Risk`, accounts keyed by user) and the symbol engine
(:mod:`~exchange.core.matching` and :mod:`~exchange.core.lifecycle`: books, matching,
stops, expiry, market data), which reaches risk only through its
:class:`~exchange.core.ports.RiskPort`. A place runs risk's hold, then the engine,
which settles each fill and releases each ended order through the port.

:class:`Exchange` is synchronous and has no clock: every command that depends on time
takes ``now`` (microseconds since the epoch). Run on one thread, a command is atomic:
it checks, reserves, matches and settles before the next one starts, which is why no
cash or share can be spent twice however the server interleaves its sessions.

Inputs are integers already converted at the edge (ticks, lots, cash units). For
``qty``/``price``/``stop_price``, ``0`` means "given, but not a positive multiple of
the grid" (the order is then rejected ``bad_qty``/``bad_price``) and ``None`` means
"not given". Structural mistakes raise :class:`CommandError` and change nothing;
business refusals create a ``rejected`` order that keeps its id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from mypy_extensions import mypyc_attr

from exchange.core import failpoints
from exchange.core.accounts import Account, Accounts, UserInfo
from exchange.core.administration import check_profile, check_user_id, symbol_spec
from exchange.core.book import OrderBook
from exchange.core.commands import (
    AddSymbol,
    Cancel,
    CancelAll,
    Command,
    CreateUser,
    Deposit,
    Expire,
    ExpireSession,
    Halt,
    MarketOpen,
    Modify,
    Pause,
    Place,
    Resume,
    SetDisabled,
    SetFees,
    SetLimits,
    TwoFactor,
    UpdateProfile,
    Watch,
    Withdraw,
)
from exchange.core.fees import FeeSchedule
from exchange.core.historylog import HistoryLog
from exchange.core.invariants import check_invariants
from exchange.core.lifecycle import OrderLifecycle
from exchange.core.marketdata import INTERVALS, Candle, MarketData
from exchange.core.orders import (
    BUY,
    CANCELED,
    DAY,
    EXPIRED,
    FOK,
    GTC,
    GTD,
    IOC,
    LIMIT,
    LIVE_STATUSES,
    MARKET,
    PENDING,
    REJECTED,
    STOP,
    STOP_LIMIT,
    STP_NONE,
    Order,
    start_as,
)
from exchange.core.results import (
    CANCELED_EVENT,
    EXPIRED_EVENT,
    CommandError,
    Event,
    Outcome,
    Trade,
)
from exchange.core.risk import DEFAULT_MAX_OPEN_ORDERS, ExposureLimits, Risk, RiskAlert
from exchange.core.store import MemoryStore, Store
from exchange.core.symbols import INT64_MAX, Money, SymbolSpec, cash_decimals_for
from exchange.core.two_factor import TwoFactorBook, TwoFactorState
from exchange.core.watchlists import Watchlists

if TYPE_CHECKING:
    from exchange.core.interface import Engine

__all__ = ["DEFAULT_MAX_OPEN_ORDERS", "Exchange"]
NEEDS_PRICE = {LIMIT: True, STOP_LIMIT: True, MARKET: False, STOP: False}
NEEDS_STOP = {LIMIT: False, MARKET: False, STOP: True, STOP_LIMIT: True}


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class Exchange(OrderLifecycle):
    """All books, accounts and orders of one exchange."""

    def __init__(
        self,
        symbols: Iterable[SymbolSpec],
        *,
        store: Store | None = None,
        max_open_orders: int = DEFAULT_MAX_OPEN_ORDERS,
    ) -> None:
        specs = list(symbols)
        cash_decimals = cash_decimals_for(specs)
        self.money = Money(cash_decimals)
        self.risk: Risk = Risk(self.money, max_open_orders)
        super().__init__(store if store is not None else MemoryStore(), self.risk)
        for spec in specs:
            if spec.symbol in self.specs:
                raise ValueError(f"duplicate symbol {spec.symbol!r}")
            spec.set_cash_decimals(cash_decimals)
            self.specs[spec.symbol] = spec
            self.books[spec.symbol] = OrderBook(spec)
            self.market[spec.symbol] = MarketData()
        self.market_open = True
        # two-factor login and watchlists: per-user state beside the accounts, which the
        # order path never reads
        self.two_factor: TwoFactorBook = TwoFactorBook()
        self.watchlists: Watchlists = Watchlists()
        self.history: HistoryLog | None = None
        """Told of every command :meth:`apply` ran, with its outcome or its refusal
        (:mod:`exchange.core.historylog`): how the server's history store follows the
        exchange. None (the default) costs one test per command."""

    @property
    def accounts(self) -> Accounts:
        """Every account (the risk part's; read them, change them through commands)."""
        return self.risk.accounts

    @property
    def max_open_orders(self) -> int:
        return self.risk.max_open_orders

    @max_open_orders.setter
    def max_open_orders(self, value: int) -> None:
        self.risk.max_open_orders = value

    def account(self, user: str) -> Account:
        """The user's account; ``auth_required`` for a user the exchange does not know."""
        return self.risk.account(user)

    # -- exposure limits ------------------------------------------------------------------
    def set_exposure_limits(self, default: ExposureLimits,
                            per_user: Mapping[str, ExposureLimits] | None = None) -> None:
        """Set the exposure limits: ``default`` for every user, ``per_user`` instead of it
        for the users it names (see :class:`~exchange.core.risk.ExposureLimits`)."""
        live_buys = [o for o in self.store.all_orders().values() if o.live and o.side == BUY]
        self.risk.set_limits(default, per_user or {}, live_buys)

    def exposure_limits(self) -> tuple[ExposureLimits, dict[str, ExposureLimits]]:
        """The limits in force: every user's, and those of users who have their own."""
        return self.risk.default_limits, dict(self.risk.user_limits)

    @property
    def limited(self) -> bool:
        """Whether any exposure limit is set."""
        return self.risk.limited

    def take_risk_alerts(self) -> list[RiskAlert]:
        """The risk alerts raised since the last call (orders that came near a limit)."""
        return self.risk.take_alerts()

    # -- fees -------------------------------------------------------------------------------
    def set_fee_schedule(self, schedule: FeeSchedule) -> Outcome:
        """Put a fee schedule in force (see :mod:`exchange.core.fees`), and re-hold every
        live buy at its new rates, those whose hold shrinks first (freeing cash), then the
        others by order id. A buy whose owner cannot cover its larger hold is canceled with
        reason ``fees``; the outcome lists those orders (``orders``) and their events."""
        risk = self.risk
        risk.set_fees(schedule)
        out = Outcome()
        buys = sorted((o for o in self.store.all_orders().values() if o.live and o.side == BUY),
                      key=lambda o: o.order_id)
        deltas = [(o, risk.fee_rehold(o, self.specs[o.symbol].mult)) for o in buys]
        for order, delta in deltas:
            if delta <= 0:
                risk.apply_fee_rehold(order, delta)
        later = [o for o, delta in deltas if delta > 0]
        touched: set[str] = set()
        for order in later:
            if not risk.apply_fee_rehold(order, risk.fee_rehold(order,
                                                                self.specs[order.symbol].mult)):
                book = self.books[order.symbol]
                self._take_out(book, order)
                self._end(order, CANCELED, "fees")
                out.orders.append(order)
                out.events.append(Event(CANCELED_EVENT, order))
                touched.add(order.symbol)
        for symbol in touched:
            self.books[symbol].end_step()
        return out

    def fee_schedule(self) -> FeeSchedule:
        """The fee schedule in force (without zero-rate symbols)."""
        return self.risk.fees

    # -- set-up -----------------------------------------------------------------------
    def add_user(
        self, info: UserInfo, cash: int, holdings: dict[str, int] | None = None
    ) -> Account:
        """Register a user with cash units and ``{symbol: lots}`` of holdings.

        Initial holdings cost their symbol's reference price (else nothing), so that
        the portfolio's P/L starts from a meaningful basis.
        """
        priced: dict[str, tuple[int, int]] = {}
        for symbol, lots in (holdings or {}).items():
            spec = self._spec(symbol)
            ref = spec.reference_price or 0
            priced[symbol] = (lots, lots * ref * spec.mult)
        return self.risk.add_user(info, cash, priced)

    # -- place ------------------------------------------------------------------------
    def place(
        self,
        user: str,
        symbol: str,
        side: str,
        qty: int,
        now: int,
        *,
        kind: str = LIMIT,
        tif: str = GTC,
        price: int | None = None,
        stop_price: int | None = None,
        expires_at: int | None = None,
        post_only: bool = False,
        stp: str = STP_NONE,
        client_order_id: str | None = None,
    ) -> Outcome:
        """Place an order. Written as one straight path for the common limit order.

        The fast path (a plain limit order that does not cross) makes no calls beyond
        the order's constructor, the store and the book; every other case goes through
        the same helpers the other commands use.
        """
        risk = self.risk
        account = risk.by_user.get(user)
        if account is None:
            raise CommandError("auth_required", "user: not a registered user")
        if account.info.disabled:
            raise CommandError("forbidden", "user: the account is disabled")
        book = self.books.get(symbol)
        if book is None:
            raise CommandError("unknown_symbol", f"symbol: unknown symbol {symbol!r}")
        if client_order_id is not None:
            existing = self.store.by_client_id(user, client_order_id)
            if existing is not None:
                out = Outcome(existing)
                out.duplicate = True
                return out
        if (kind != LIMIT or price is None or stop_price is not None or expires_at is not None
                or tif == GTD or post_only):
            self._check_shape(kind, tif, price, stop_price, expires_at, post_only, now)
        oid = self.next_order_id
        self.next_order_id = oid + 1
        order = Order(oid, user, symbol, side, kind, tif, qty, price or None, stop_price or None,
                      now, expires_at, post_only, stp, client_order_id)
        out = Outcome(order)
        expiries = book.expiries
        if expiries and expiries[0][0] <= now:
            self._expire_due(book, now, out)
        spec = book.spec
        bad_price = ((price is not None and price <= 0)
                     or (stop_price is not None and stop_price <= 0))
        if (not self.market_open or book.halted or qty <= 0 or bad_price
                or (price is not None and spec.price_band is not None
                    and not spec.band_allows(price, self.market[symbol].last))):
            self._reject(order, self._reject_reason(book, order, bad_price))
        elif (refusal := risk.hold(order, spec.mult, None if kind != MARKET or not risk.limited
                                   else book.best_ask() if side == BUY
                                   else book.best_bid())) is not None:
            self._reject(order, refusal)
        else:
            if failpoints.ACTIVE:  # a fault after cash or shares are reserved (tests)
                failpoints.hit("place.after_reserve")
            if post_only and self._crosses(book, side, price):  # type: ignore[arg-type]
                risk.release(order)
                self._reject(order, "would_take")
            elif kind == MARKET and (reason := self._market_reject(book, order)) is not None:
                risk.release(order)
                self._reject(order, reason)
            else:
                self.store.add_order(order)
                if kind == LIMIT and tif != FOK and not self._crosses(book, side, price):  # type: ignore[arg-type]
                    if tif == IOC:
                        self._end(order, EXPIRED, None)
                    else:
                        book.rest(order)
                else:
                    if not order.triggered:
                        start_as(order, PENDING)
                    self._activate(book, order, now, out)
                if expires_at is not None and order.status in LIVE_STATUSES:
                    book.add_expiry(order)
        if book.bids.dirty or book.asks.dirty:
            out.book_changes = book.end_step()
        return out

    def _check_shape(self, kind: str, tif: str, price: int | None, stop_price: int | None,
                     expires_at: int | None, post_only: bool, now: int) -> None:
        """Structural checks: a broken request is an error and creates no order."""
        if NEEDS_PRICE[kind] and price is None:
            raise CommandError("bad_request", f"price: required for a {kind} order")
        if not NEEDS_PRICE[kind] and price is not None:
            raise CommandError("bad_request", f"price: not allowed for a {kind} order")
        if NEEDS_STOP[kind] and stop_price is None:
            raise CommandError("bad_request", f"stop_price: required for a {kind} order")
        if not NEEDS_STOP[kind] and stop_price is not None:
            raise CommandError("bad_request", f"stop_price: not allowed for a {kind} order")
        if post_only and kind != LIMIT:
            raise CommandError("bad_request", "post_only: only for limit orders")
        if tif == GTD and expires_at is None:
            raise CommandError("bad_request", "expire_at: gtd needs ttl_ms or expire_at")
        if tif != GTD and expires_at is not None:
            raise CommandError("bad_request", f"ttl_ms: an expiry needs tif gtd, not {tif}")
        if expires_at is not None and expires_at <= now:
            raise CommandError("bad_request", "expire_at: is in the past")

    def _reject_reason(self, book: OrderBook, order: Order, bad_price: bool) -> str:
        """Why the engine refuses an order before any hold (the first case that holds)."""
        if not self.market_open:
            return "market_closed"
        if book.halted:
            return "halted"
        if order.qty <= 0:
            return "bad_qty"
        if bad_price:
            return "bad_price"
        return "price_band"

    def _reject(self, order: Order, reason: str) -> None:
        start_as(order, REJECTED)
        order.reason = reason
        self.store.add_order(order)

    def _market_reject(self, book: OrderBook, order: Order) -> str | None:
        """A market order facing an empty book, or a buy that can't pay for one lot."""
        if order.side == BUY:
            best = book.best_ask()
            if best is None:
                return "no_liquidity"
            if self.risk.budget(order.user) < self.risk.unit_cost(
                    order.user, order.symbol, best, book.spec.mult):
                return "insufficient_funds"
            return None
        return "no_liquidity" if book.best_bid() is None else None

    # -- time -------------------------------------------------------------------------
    def next_expiry(self, symbol: str) -> int | None:
        """When this book next has an order to expire (for the server's one timer per book)."""
        return self._book(symbol).next_expiry(self.store.all_orders())

    def expire(self, symbol: str, now: int) -> Outcome:
        """Expire what is due on one book (the timer's command)."""
        book = self._book(symbol)
        out = Outcome()
        self._expire_due(book, now, out)
        out.book_changes = book.end_step()
        return out

    def expire_session(self, symbol: str, now: int, everything: bool = False) -> Outcome:
        """Market close on one book: expire its ``day`` orders, or every live order."""
        book = self._book(symbol)
        out = Outcome()
        self._expire_due(book, now, out)
        for order in book.live_orders():
            if everything or order.tif == DAY:
                self._take_out(book, order)
                self._end(order, EXPIRED, None)
                out.orders.append(order)
                out.events.append(Event(EXPIRED_EVENT, order))
        out.book_changes = book.end_step()
        return out

    def set_market_open(self, is_open: bool) -> None:
        """Close (``place`` is rejected ``market_closed``) or open the market.

        Opening starts a new session: open/high/low/volume restart from the next trade.
        """
        if is_open and not self.market_open:
            for md in self.market.values():
                md.reset_session()
        self.market_open = is_open

    def set_halted(self, symbol: str, halted: bool) -> None:
        self._book(symbol).halted = halted

    # -- queries ------------------------------------------------------------------------
    def orders_of(
        self, user: str, symbol: str | None = None, live_only: bool = True
    ) -> list[Order]:
        if live_only:
            orders: Iterable[Order] = self.store.live_orders(user).values()
        else:
            orders = self.store.user_orders(user)
        return [o for o in orders if symbol is None or o.symbol == symbol]

    def fills_of(self, user: str, symbol: str | None = None,
                 limit: int = 100) -> list[tuple[Trade, str]]:
        fills = self.store.user_fills(user)
        if symbol is not None:
            fills = [f for f in fills if f[0].symbol == symbol]
        return fills[-limit:] if limit > 0 else []

    def depth(self, symbol: str, depth: int) -> tuple[int, list[tuple[int, int]],
                                                      list[tuple[int, int]]]:
        book = self._book(symbol)
        bids, asks = book.depth(depth)
        return book.seq, bids, asks

    def market_data(self, symbol: str) -> MarketData:
        self._book(symbol)
        return self.market[symbol]

    def candles(self, symbol: str, interval: str, limit: int) -> list[Candle]:
        if interval not in INTERVALS:
            raise CommandError("bad_request", f"interval: unknown interval {interval!r}")
        return self.market_data(symbol).recent_candles(interval, limit)

    def mark_price(self, symbol: str) -> int | None:
        """Last trade price, else the reference price (what portfolios are valued at)."""
        last = self.market_data(symbol).last
        return last if last is not None else self.specs[symbol].reference_price

    def symbols(self) -> list[str]:
        """Every symbol, in the configuration's order."""
        return list(self.specs)

    def spec(self, symbol: str) -> SymbolSpec:
        """The symbol's grid and bounds; ``unknown_symbol`` for one the exchange lacks."""
        return self._spec(symbol)

    def top(self, symbol: str) -> tuple[int | None, int, int | None, int]:
        """Best bid, its lots, best ask, its lots (a missing side is ``None, 0``)."""
        book = self._book(symbol)
        bid, ask = book.best_bid(), book.best_ask()
        return (bid, 0 if bid is None else book.bids.levels[bid].total,
                ask, 0 if ask is None else book.asks.levels[ask].total)

    def last_price(self, symbol: str) -> int | None:
        """The price of the symbol's last trade, if it has traded."""
        return self.market_data(symbol).last

    def book_seq(self, symbol: str) -> int:
        """The visible book's sequence number (one more per command that changed it)."""
        return self._book(symbol).seq

    def halted(self, symbol: str) -> bool:
        return self._book(symbol).halted

    def track_book(self, symbol: str, on: bool) -> None:
        """Whether commands return the visible book's changed levels (someone streams them)."""
        self._book(symbol).track_changes = on

    def order(self, order_id: int) -> Order | None:
        """An order the exchange still keeps, whoever owns it (for administration)."""
        return self.store.get_order(order_id)

    def order_by_client_id(self, user: str, client_order_id: str) -> Order | None:
        """The user's order of that client id, if the exchange still keeps it."""
        return self.store.by_client_id(user, client_order_id)

    def counts(self) -> tuple[int, int]:
        """Orders placed and trades made since the exchange began."""
        return self.next_order_id - 1, self.next_trade_id - 1

    def orders(self) -> list[Order]:
        """Every order the exchange still keeps, live or ended, by id."""
        return list(self.store.all_orders().values())

    def find_account(self, user: str) -> Account | None:
        """The user's account, or None for a user the exchange does not know."""
        return self.risk.find_account(user)

    def users(self) -> list[Account]:
        """Every account, in registration order."""
        return list(self.risk)

    def totals(self) -> tuple[int, dict[str, int]]:
        """Total cash and lots per symbol across all users (conserved by trading)."""
        return self.risk.totals()

    def open_orders(self) -> int:
        """Live orders on the whole exchange."""
        return self.risk.open_orders()

    # -- cash ---------------------------------------------------------------------------
    def total_cash(self) -> int:
        """The cash of every account together, in cash units (see :meth:`Risk.total_cash`)."""
        return self.risk.total_cash()

    def deposit(self, user: str, amount: int) -> Account:
        account = self.risk.deposit(user, amount)
        if failpoints.ACTIVE:  # a fault after the cash is credited (tests)
            failpoints.hit("deposit.after_credit")
        return account

    def withdraw(self, user: str, amount: int) -> Account:
        return self.risk.withdraw(user, amount)

    # -- account administration and profiles ------------------------------------------------
    def create_user(self, user: str, name: str, phone: str, email: str, token_hash: str,
                    admin: bool, cash: int,
                    holdings: Mapping[str, int] | None = None) -> Account:
        """Register a user at run time, with a profile, a hashed token, starting cash and
        ``{symbol: lots}`` of holdings (which cost the reference price, as the config's do).

        Cash and lots are new, bounded as a deposit is: all cash on the exchange together,
        and all lots of each symbol, stay within 64 bits."""
        check_user_id(user)
        check_profile(name, phone, email)
        if self.risk.find_account(user) is not None:
            raise CommandError("bad_request", f"user: {user!r} already exists")
        if not token_hash:
            raise CommandError("bad_request", "token_hash: a new user needs a token")
        if cash < 0:
            raise CommandError("bad_request", "cash: must not be negative")
        room = INT64_MAX - self.risk.total_cash()
        if cash > room:
            raise CommandError("bad_request", f"cash: at most {self.money.fmt(max(room, 0))} "
                               "can be created now (all cash on the exchange together is at "
                               f"most {self.money.fmt(INT64_MAX)})")
        held = self.risk.totals()[1]
        for symbol, lots in (holdings or {}).items():
            spec = self.specs.get(symbol)
            if spec is None:
                raise CommandError("bad_request", f"holdings: unknown symbol {symbol!r}")
            if lots < 0 or lots > INT64_MAX - held.get(symbol, 0):
                raise CommandError("bad_request", f"holdings: {symbol} must be at least 0 "
                                   "and keep all holdings of it within 2^63-1 lots")
            if lots * (spec.reference_price or 0) * spec.mult > INT64_MAX:
                raise CommandError("bad_request", f"holdings: {symbol} is worth more than "
                                   "2^63-1 cash units at the reference price")
        info = UserInfo(user, name, phone, email, "", admin, token_hash)
        return self.add_user(info, cash, dict(holdings or {}))

    def update_profile(self, user: str, name: str | None, phone: str | None,
                       email: str | None) -> Account:
        """Change the fields given (``None``: kept) of a user's profile."""
        check_profile(name, phone, email)
        account = self._known(user)
        info = account.info
        if name is not None:
            info.name = name
        if phone is not None:
            info.phone = phone
        if email is not None:
            info.email = email
        return account

    def set_disabled(self, user: str, disabled: bool) -> Account:
        """Disable a user (no login, no new order) or enable them again. The account and
        its money stay; the live orders are the caller's to cancel (one ``cancel_all`` per
        book, so that each book's owner does it)."""
        account = self._known(user)
        account.info.disabled = disabled
        return account

    def add_symbol(self, symbol: str, tick_size: str, lot_size: str,
                   reference_price: str | None = None, price_band: str | None = None,
                   max_price: str | None = None, max_qty: str | None = None) -> SymbolSpec:
        """List a symbol at run time: a new, empty book on the exchange's cash scale."""
        if symbol in self.specs:
            raise CommandError("bad_request", f"symbol: {symbol!r} is already listed")
        spec = symbol_spec(symbol, tick_size, lot_size, reference_price, price_band,
                           max_price, max_qty, self.money.decimals)
        self.specs[symbol] = spec
        self.books[symbol] = OrderBook(spec)
        self.market[symbol] = MarketData()
        return spec

    def _known(self, user: str) -> Account:
        account = self.risk.find_account(user)
        if account is None:
            raise CommandError("bad_request", f"user: no such user {user!r}")
        return account
    # -- two-factor login and watchlists ------------------------------------------------
    def two_factor_of(self, user: str) -> TwoFactorState | None:
        """The user's two-factor login state; None when it was never set up (or is off)."""
        return self.two_factor.get(user)

    def set_two_factor(self, user: str, secret: str, enabled: bool, last_step: int) -> None:
        """The user's two-factor state from now on (the ``two_factor`` record's effect)."""
        self.risk.account(user)  # auth_required for a user the exchange does not know
        self.two_factor.set(user, secret, enabled, last_step)

    def watchlist(self, user: str) -> list[str]:
        """The symbols on the user's watchlist, in the order they were added."""
        return self.watchlists.of(user)

    def watch(self, user: str, symbol: str, on: bool) -> None:
        """Add a known symbol to the user's watchlist (``on``) or take it off."""
        self.risk.account(user)
        if on:
            self._spec(symbol)  # unknown_symbol
            self.watchlists.add(user, symbol)
        else:
            self.watchlists.remove(user, symbol)

    # -- command records ----------------------------------------------------------------
    def apply(self, cmd: Command) -> Outcome:
        """Run one command record (:mod:`exchange.core.commands`): the one entry point.

        The server runs every state-changing command this way, with the same record it
        journals, and replay runs the journal's records this way again, so that a
        command cannot run differently live and in recovery. Refusals raise
        :class:`CommandError` as the keyword methods do. Deposit, withdraw, halt and
        market open return an empty :class:`Outcome` (they touch no order; a caller
        that wants the account looks it up).
        """
        log = self.history
        if log is None:
            return _RUN[type(cmd)](self, cmd)
        try:
            out = _RUN[type(cmd)](self, cmd)
        except CommandError as exc:
            log.note(cmd, None, exc)
            raise
        log.note(cmd, out, None)
        return out

    # -- audit --------------------------------------------------------------------------
    def check_invariants(self) -> None:
        """Check the engine's invariants (see :mod:`exchange.core.invariants`).

        Raises :class:`~exchange.core.errors.InvariantError` for the first that fails."""
        check_invariants(self)


# How each command record runs on the engine: by its type, one dict lookup (the place path
# is hot). Module functions rather than bound methods, so that an Exchange holds no table.
def _place(ex: Exchange, c: Place) -> Outcome:
    return ex.place(c.user, c.symbol, c.side, c.qty, c.time, kind=c.kind, tif=c.tif,
                    price=c.price, stop_price=c.stop_price, expires_at=c.expires_at,
                    post_only=c.post_only, stp=c.stp, client_order_id=c.client_order_id)


def _halt(ex: Exchange, c: Halt) -> Outcome:
    ex.set_halted(c.symbol, c.halted)
    return Outcome()


def _market_open(ex: Exchange, c: MarketOpen) -> Outcome:
    ex.set_market_open(c.is_open)
    return Outcome()


def _deposit(ex: Exchange, c: Deposit) -> Outcome:
    ex.deposit(c.user, c.amount)
    return Outcome()


def _withdraw(ex: Exchange, c: Withdraw) -> Outcome:
    ex.withdraw(c.user, c.amount)
    return Outcome()


def _set_limits(ex: Exchange, c: SetLimits) -> Outcome:
    ex.set_exposure_limits(c.default, c.per_user)
    return Outcome()


def _create_user(ex: Exchange, c: CreateUser) -> Outcome:
    ex.create_user(c.new_user, c.name, c.phone, c.email, c.token_hash, c.admin, c.cash,
                   c.holdings)
    return Outcome()


def _update_profile(ex: Exchange, c: UpdateProfile) -> Outcome:
    ex.update_profile(c.target, c.name, c.phone, c.email)
    return Outcome()


def _set_disabled(ex: Exchange, c: SetDisabled) -> Outcome:
    ex.set_disabled(c.target, c.disabled)
    return Outcome()


def _add_symbol(ex: Exchange, c: AddSymbol) -> Outcome:
    ex.add_symbol(c.symbol, c.tick_size, c.lot_size, c.reference_price, c.price_band,
                  c.max_price, c.max_qty)
    return Outcome()


def _two_factor(ex: Exchange, c: TwoFactor) -> Outcome:
    ex.set_two_factor(c.user, c.secret, c.enabled, c.last_step)
    return Outcome()


def _watch(ex: Exchange, c: Watch) -> Outcome:
    ex.watch(c.user, c.symbol, c.on)
    return Outcome()
def _set_fees(ex: Exchange, c: SetFees) -> Outcome:
    return ex.set_fee_schedule(c.schedule)


_RUN: dict[type[Any], Callable[[Exchange, Any], Outcome]] = {
    Place: _place,
    Modify: lambda ex, c: ex.modify(c.user, c.order_id, c.time, qty=c.qty, price=c.price),
    Cancel: lambda ex, c: ex.cancel(c.user, c.order_id, c.time),
    Pause: lambda ex, c: ex.pause(c.user, c.order_id, c.time),
    Resume: lambda ex, c: ex.resume(c.user, c.order_id, c.time),
    CancelAll: lambda ex, c: ex.cancel_all(c.user, c.symbol, c.time),
    Expire: lambda ex, c: ex.expire(c.symbol, c.time),
    ExpireSession: lambda ex, c: ex.expire_session(c.symbol, c.time, c.everything),
    Halt: _halt,
    MarketOpen: _market_open,
    Deposit: _deposit,
    Withdraw: _withdraw,
    SetLimits: _set_limits,
    # account administration and profiles
    CreateUser: _create_user,
    UpdateProfile: _update_profile,
    SetDisabled: _set_disabled,
    AddSymbol: _add_symbol,
    # two-factor login and watchlists
    TwoFactor: _two_factor,
    Watch: _watch,
    # fees
    SetFees: _set_fees,
}


if TYPE_CHECKING:  # the Python build provides the whole interface (checked by mypy)
    def _provides(ex: Exchange) -> Engine:
        return ex
