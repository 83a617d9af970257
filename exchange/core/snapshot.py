"""Capture and restore: between the exchange in memory and its snapshot records.

The records (:mod:`exchange.core.snapshot_format`) describe the state; these functions are
the only code that knows how this version keeps it in memory, so an attribute renamed, a
class moved, the core split or compiled changes :func:`capture` and :func:`restore` (and
the small ``_capture_*``/``_restore_*`` functions under them) only, and a data directory
written by one version loads in every later one.

Symbol specifications are carried: a price is a count of ticks and a quantity a count of
lots, which mean nothing without the tick and lot they were counted in, so a snapshot
states them and restore builds its exchange from them (as a pickled exchange did). The
configuration's limits (``max_open_orders``) and the store's retention bounds are
configuration, not state, and are not carried.

What is derived is not recorded but rebuilt: each account's count of open orders (the
risk part's), level totals, the stop trigger lists, the store's indexes by user and by
client order id. What could be stale (expiry entries of orders that
ended) is left out. Restore refuses a record that does not describe a consistent exchange
(an unknown symbol or user, an order placed twice or missing from where its status says
it waits, ids at or past the counters, the invariants of :mod:`exchange.core.invariants`)
with :class:`SnapshotError`; it builds a new exchange and hands it over only once all of
it checked, so nothing is ever half-loaded.
"""

from __future__ import annotations

import heapq
from collections import deque
from decimal import Decimal
from fractions import Fraction

from exchange.core.accounts import Account, Position, UserInfo
from exchange.core.book import OrderBook, Side
from exchange.core.engine import DEFAULT_MAX_OPEN_ORDERS, Exchange
from exchange.core.errors import InvariantError
from exchange.core.fees import MAX_BPS
from exchange.core.marketdata import CANDLES_KEPT, INTERVALS, TAPE_LENGTH, Candle, MarketData
from exchange.core.orders import (
    ACCEPTED,
    PARTIALLY_FILLED,
    PAUSED,
    PENDING,
    TRANSITIONS,
    Order,
)
from exchange.core.results import Trade
from exchange.core.snapshot_format import (
    SNAPSHOT_VERSION,
    AccountRecord,
    CandleRecord,
    ExpiryRecord,
    FeesRecord,
    FillRecord,
    LevelRecord,
    LimitsRecord,
    MarketRecord,
    OrderRecord,
    PositionRecord,
    Snapshot,
    SnapshotError,
    SpecRecord,
    SymbolRecord,
    TradeFeeRecord,
    TradeRecord,
    TwoFactorRecord,
    UserRecord,
    decode,
    encode,
)
from exchange.core.store import MemoryStore, _UserBook
from exchange.core.symbols import SymbolSpec
from exchange.core.watchlists import MAX_WATCHLIST

# -- capture --------------------------------------------------------------------------------

def capture(exchange: Exchange) -> Snapshot:
    """The exchange's whole state as records (the exchange is only read)."""
    store = exchange.store
    if not isinstance(store, MemoryStore):
        raise SnapshotError(f"cannot capture a {type(store).__name__}: only the memory store "
                            "is captured")
    trades: dict[int, Trade] = {}
    symbols = [_capture_symbol(exchange, symbol, trades) for symbol in exchange.specs]
    fills = _capture_fills(exchange, store, trades)
    return Snapshot(
        version=SNAPSHOT_VERSION,
        cash_decimals=exchange.money.decimals,
        market_open=exchange.market_open,
        next_order_id=exchange.next_order_id,
        next_trade_id=exchange.next_trade_id,
        symbols=symbols,
        accounts=[_capture_account(a) for a in exchange.risk.accounts],
        orders=[_capture_order(o) for o in store.orders.values()],
        ended=[o.order_id for o in store._ended],
        trades=[_capture_trade(trades[tid]) for tid in sorted(trades)],
        fills=fills,
        limits=LimitsRecord(*exchange.exposure_limits()),
        disabled=[a.user for a in exchange.risk.accounts if a.info.disabled],
        # -- two-factor login, watchlists and symbol names (version 3) --
        two_factor=_capture_two_factor(exchange),
        watchlists={a.user: exchange.watchlist(a.user) for a in exchange.risk.accounts
                    if exchange.watchlist(a.user)},
        symbol_names={n: s.name for n, s in exchange.specs.items() if s.name},
        fees=_capture_fees(exchange, trades),
    )


def _capture_two_factor(exchange: Exchange) -> list[TwoFactorRecord]:
    """Users with two-factor login set up, in account order (equal states, equal bytes)."""
    records = []
    for account in exchange.risk.accounts:
        state = exchange.two_factor_of(account.user)
        if state is not None:
            records.append(TwoFactorRecord(account.user, state.secret, state.enabled,
                                           state.last_step))
    return records


def _capture_spec(spec: SymbolSpec) -> SpecRecord:
    band = spec.price_band
    return SpecRecord(spec.symbol, str(spec.tick_size), str(spec.lot_size),
                      spec.reference_price,
                      None if band is None else f"{band.numerator}/{band.denominator}",
                      spec.max_price, spec.max_qty)


def _capture_account(account: Account) -> AccountRecord:
    i = account.info
    return AccountRecord(
        UserRecord(i.user, i.name, i.phone, i.email, i.token, i.token_hash, i.admin),
        account.cash, account.reserved_cash,
        [PositionRecord(p.symbol, p.qty, p.reserved, p.cost, p.realized)
         for p in account.positions.values()])


def _capture_order(o: Order) -> OrderRecord:
    return OrderRecord(o.order_id, o.user, o.symbol, o.side, o.kind, o.tif,  # type: ignore[arg-type]
                       o.qty, o.price, o.stop_price, o.accepted_at, o.expires_at, o.post_only,
                       o.stp, o.client_order_id, o.status, o.reason, o.filled,  # type: ignore[arg-type]
                       o.notional, o.reserved, o.triggered)


def _capture_trade(t: Trade) -> TradeRecord:
    return TradeRecord(t.trade_id, t.symbol, t.price, t.qty, t.buy_order_id, t.sell_order_id,
                       t.taker_side, t.ts, t.buy_user, t.sell_user)  # type: ignore[arg-type]


def _capture_levels(side: Side, best_first_descending: bool) -> list[LevelRecord]:
    prices = reversed(side.prices) if best_first_descending else iter(side.prices)
    return [LevelRecord(p, list(side.levels[p].orders)) for p in prices]


def _capture_symbol(exchange: Exchange, symbol: str, trades: dict[int, Trade]) -> SymbolRecord:
    book = exchange.books[symbol]
    orders = exchange.store.all_orders()
    # The heap may hold stale entries (orders that ended): the schedule is the live ones.
    expiries = sorted(
        (at, oid) for at, oid in book.expiries
        if (o := orders.get(oid)) is not None and o.live and o.expires_at == at)
    return SymbolRecord(
        spec=_capture_spec(exchange.specs[symbol]),
        halted=book.halted,
        book_seq=book.seq,
        bids=_capture_levels(book.bids, True),
        asks=_capture_levels(book.asks, False),
        buy_stops=[oid for _, oid in book.buy_stops],
        sell_stops=[oid for _, oid in reversed(book.sell_stops)],
        paused=list(book.paused),
        expiries=[ExpiryRecord(at, oid) for at, oid in expiries],
        market=_capture_market(exchange.market[symbol], trades),
    )


def _capture_market(md: MarketData, trades: dict[int, Trade]) -> MarketRecord:
    for trade in md.tape:
        trades[trade.trade_id] = trade
    return MarketRecord(
        md.last, md.open, md.high, md.low, md.volume, [t.trade_id for t in md.tape],
        {name: [CandleRecord(c.t, c.o, c.h, c.l, c.c, c.v) for c in series]
         for name, series in md.candles.items()})


def _capture_fills(exchange: Exchange, store: MemoryStore,
                   trades: dict[int, Trade]) -> dict[str, list[FillRecord]]:
    """Each user's fill history, users in account order (so that equal states encode to
    equal bytes, whatever order the store met its users in)."""
    fills: dict[str, list[FillRecord]] = {}
    for account in exchange.risk.accounts:
        book = store._users.get(account.user)
        if book is not None and book.fills:
            for trade, _ in book.fills:
                trades[trade.trade_id] = trade
            fills[account.user] = [FillRecord(trade.trade_id, side)  # type: ignore[arg-type]
                                   for trade, side in book.fills]
    return fills


# -- restore --------------------------------------------------------------------------------

def restore(snapshot: Snapshot, *, max_open_orders: int = DEFAULT_MAX_OPEN_ORDERS,
            store: MemoryStore | None = None) -> Exchange:
    """A new exchange in exactly the state ``snapshot`` describes.

    ``store`` is an empty store to fill (its retention bounds are configuration); raises
    :class:`SnapshotError`, having built nothing anyone sees, when the record is not a
    consistent exchange (a store passed in is then part of the refused build: drop it).
    """
    if snapshot.version != SNAPSHOT_VERSION:
        raise SnapshotError(f"cannot restore a version {snapshot.version} record")
    try:
        exchange = _restore(snapshot, max_open_orders,
                            store if store is not None else MemoryStore())
        exchange.check_invariants()
    except SnapshotError:
        raise
    except (InvariantError, ValueError, ArithmeticError) as exc:
        # A spec the symbols module refuses, a decimal that does not parse, a broken rule.
        raise SnapshotError(f"the snapshot is not a consistent exchange: {exc}") from None
    return exchange


def _restore(snap: Snapshot, max_open_orders: int, store: MemoryStore) -> Exchange:
    if store.orders:
        raise ValueError("restore needs an empty store")
    exchange = Exchange([_restore_spec(s.spec) for s in snap.symbols], store=store,
                        max_open_orders=max_open_orders)
    if exchange.money.decimals != snap.cash_decimals:
        raise SnapshotError(f"cash_decimals {snap.cash_decimals} is not what its symbols "
                            f"give ({exchange.money.decimals})")
    exchange.market_open = snap.market_open
    exchange.next_order_id = snap.next_order_id
    exchange.next_trade_id = snap.next_trade_id
    for account in snap.accounts:
        _restore_account(exchange, account)
    orders = _restore_orders(exchange, snap)
    _restore_store(store, snap, orders)
    trades = _restore_trades(exchange, snap)
    _restore_fills(exchange, store, snap, trades)
    for record in snap.symbols:
        _restore_book(exchange.books[record.spec.symbol], record, orders)
        _restore_market(exchange.market[record.spec.symbol], record.spec.symbol, record.market,
                        trades)
    _restore_limits(exchange, snap.limits)
    _restore_disabled(exchange, snap.disabled)
    _restore_user_extras(exchange, snap)
    _restore_fees(exchange, snap.fees, trades)
    return exchange


def _restore_disabled(exchange: Exchange, users: list[str]) -> None:
    """The users an administrator disabled (version 3), each one a known user."""
    for user in users:
        account = exchange.find_account(user)
        if account is None:
            raise SnapshotError(f"disabled: unknown user {user!r}")
        account.info.disabled = True


def _restore_user_extras(exchange: Exchange, snap: Snapshot) -> None:
    """Two-factor login, watchlists and symbol names (version 3), checked against the
    users and symbols they name."""
    for r in snap.two_factor:
        if exchange.find_account(r.user) is None:
            raise SnapshotError(f"two_factor: unknown user {r.user!r}")
        if not r.secret or exchange.two_factor_of(r.user) is not None:
            raise SnapshotError(f"two_factor: user {r.user!r} has an empty secret or is "
                                "there twice")
        exchange.set_two_factor(r.user, r.secret, r.enabled, r.last_step)
    for user, symbols in snap.watchlists.items():
        if exchange.find_account(user) is None:
            raise SnapshotError(f"watchlists: unknown user {user!r}")
        if not symbols or len(symbols) > MAX_WATCHLIST:
            raise SnapshotError(f"watchlists: user {user!r} watches {len(symbols)} symbols "
                                f"(1 to {MAX_WATCHLIST})")
        for symbol in symbols:
            if symbol not in exchange.specs:
                raise SnapshotError(f"watchlists: user {user!r} watches unknown symbol "
                                    f"{symbol!r}")
            if not exchange.watchlists.add(user, symbol):
                raise SnapshotError(f"watchlists: user {user!r} watches {symbol!r} twice")
    for symbol, name in snap.symbol_names.items():
        spec = exchange.specs.get(symbol)
        if spec is None:
            raise SnapshotError(f"symbol_names: unknown symbol {symbol!r}")
        spec.name = name


def _restore_limits(exchange: Exchange, r: LimitsRecord) -> None:
    """The exposure limits, checked against the symbols and users they name."""
    for user, limits in [("", r.default), *r.per_user.items()]:
        if user and exchange.find_account(user) is None:
            raise SnapshotError(f"limits: unknown user {user!r}")
        for symbol in limits.max_position:
            if symbol not in exchange.specs:
                raise SnapshotError(f"limits: unknown symbol {symbol!r}")
    exchange.set_exposure_limits(r.default, r.per_user)


# -- fees (version 3) ------------------------------------------------------------------------

def _capture_fees(exchange: Exchange, trades: dict[int, Trade]) -> FeesRecord:
    return FeesRecord(
        exchange.fee_schedule(),
        {a.user: a.fees_paid for a in exchange.risk.accounts if a.fees_paid},
        [TradeFeeRecord(t.trade_id, t.buy_fee, t.sell_fee, t.sell_basis)
         for t in (trades[tid] for tid in sorted(trades))
         if t.buy_fee or t.sell_fee or t.sell_basis])


def _restore_fees(exchange: Exchange, r: FeesRecord, trades: dict[int, Trade]) -> None:
    """The fee schedule (checked against the symbols and users it names), the fees each
    user has paid, and the kept trades' fee fields."""
    for user in r.schedule.per_user:
        if exchange.find_account(user) is None:
            raise SnapshotError(f"fees: unknown user {user!r}")
    for symbol in r.schedule.by_symbol:
        if symbol not in exchange.specs:
            raise SnapshotError(f"fees: unknown symbol {symbol!r}")
    for rates in [*r.schedule.by_symbol.values(), *r.schedule.per_user.values()]:
        if not (0 <= rates.maker_bps <= MAX_BPS and 0 <= rates.taker_bps <= MAX_BPS):
            raise SnapshotError(f"fees: a rate outside 0 to {MAX_BPS} bps: {rates!r}")
    for user, paid in r.paid.items():
        account = exchange.find_account(user)
        if account is None:
            raise SnapshotError(f"fees: unknown user {user!r} paid fees")
        account.fees_paid = paid
    for t in r.trades:
        trade = trades.get(t.trade_id)
        if trade is None:
            raise SnapshotError(f"fees: unknown trade {t.trade_id}")
        trade.buy_fee, trade.sell_fee, trade.sell_basis = t.buy_fee, t.sell_fee, t.sell_basis
    exchange.risk.set_fees(r.schedule)


def _restore_spec(r: SpecRecord) -> SymbolSpec:
    tick, lot = Decimal(r.tick_size), Decimal(r.lot_size)
    spec = SymbolSpec.create(
        r.symbol, tick, lot,
        None if r.reference_price is None else Decimal(r.reference_price) * tick,
        None, Decimal(r.max_price) * tick, Decimal(r.max_qty) * lot)
    if r.price_band is not None:
        band = Fraction(r.price_band)
        if band <= 0:
            raise SnapshotError(f"{r.symbol}: price_band must be positive")
        spec.price_band = band
    return spec


def _restore_account(exchange: Exchange, r: AccountRecord) -> None:
    i = r.info
    info = UserInfo(i.user, i.name, i.phone, i.email, i.token, i.admin, i.token_hash)
    try:
        account = exchange.risk.accounts.add(info, r.cash, {})
    except ValueError as exc:
        raise SnapshotError(str(exc)) from None
    account.reserved_cash = r.reserved_cash
    for p in r.positions:
        if p.symbol not in exchange.specs:
            raise SnapshotError(f"user {i.user!r} holds unknown symbol {p.symbol!r}")
        if p.symbol in account.positions:
            raise SnapshotError(f"user {i.user!r} holds {p.symbol!r} twice")
        position = account.positions[p.symbol] = Position(exchange.specs[p.symbol].symbol,
                                                          p.qty, p.cost)
        position.reserved = p.reserved
        position.realized = p.realized


# The engine's own string constants, so that restored orders compare as fast as new ones.
_NAMES = {s: s for s in [*TRANSITIONS, "buy", "sell", "limit", "market", "stop", "stop_limit",
                         "gtc", "day", "ioc", "fok", "gtd", "none", "cancel_newest",
                         "cancel_oldest", "cancel_both"]}


def _restore_orders(exchange: Exchange, snap: Snapshot) -> dict[int, Order]:
    orders: dict[int, Order] = {}
    last_id = 0
    for r in snap.orders:
        if r.order_id <= last_id:
            raise SnapshotError(f"order {r.order_id} is out of id order (or twice)")
        last_id = r.order_id
        if r.order_id >= snap.next_order_id:
            raise SnapshotError(f"order {r.order_id} is not below next_order_id "
                                f"{snap.next_order_id}")
        account = exchange.risk.accounts.get(r.user)
        if account is None:
            raise SnapshotError(f"order {r.order_id}: unknown user {r.user!r}")
        spec = exchange.specs.get(r.symbol)
        if spec is None:
            raise SnapshotError(f"order {r.order_id}: unknown symbol {r.symbol!r}")
        n = _NAMES
        order = Order(r.order_id, account.user, spec.symbol, n[r.side], n[r.kind], n[r.tif],
                      r.qty, r.price, r.stop_price, r.accepted_at, r.expires_at, r.post_only,
                      n[r.stp], r.client_order_id)
        order.status = n[r.status]
        order.reason = r.reason
        order.filled = r.filled
        order.notional = r.notional
        order.reserved = r.reserved
        order.triggered = r.triggered
        if order.live:
            account.open_orders += 1
            # A live sell holds lots of its position (risk made it with the hold).
            if order.side == "sell" and spec.symbol not in account.positions:
                raise SnapshotError(f"order {r.order_id} sells {r.symbol!r}, which user "
                                    f"{r.user!r} holds no position in")
        orders[r.order_id] = order
    return orders


def _restore_store(store: MemoryStore, snap: Snapshot, orders: dict[int, Order]) -> None:
    store.orders.update(orders)
    for order in orders.values():  # by id: the order they were placed in
        book = store._users.get(order.user)
        if book is None:
            book = store._users[order.user] = _UserBook(store._fills_kept)
        book.placed.append(order)
        if order.client_order_id is not None:
            if order.client_order_id in book.by_cid:
                raise SnapshotError(f"user {order.user!r} has client_order_id "
                            f"{order.client_order_id!r} twice")
            book.by_cid[order.client_order_id] = order
        if order.live:
            book.live[order.order_id] = order
    ended = [orders.get(oid) for oid in snap.ended]
    if any(o is None or o.live for o in ended) or len(set(snap.ended)) != len(ended):
        raise SnapshotError("ended lists an order that is unknown, live or there twice")
    if len(ended) != sum(1 for o in orders.values() if not o.live):
        raise SnapshotError("ended does not list every ended order")
    store._ended = deque(o for o in ended if o is not None)


def _restore_trades(exchange: Exchange, snap: Snapshot) -> dict[int, Trade]:
    trades: dict[int, Trade] = {}
    for r in snap.trades:
        if r.trade_id in trades or r.trade_id >= snap.next_trade_id:
            raise SnapshotError(f"trade {r.trade_id} is there twice or not below next_trade_id")
        spec = exchange.specs.get(r.symbol)
        if spec is None:
            raise SnapshotError(f"trade {r.trade_id}: unknown symbol {r.symbol!r}")
        trades[r.trade_id] = Trade(r.trade_id, spec.symbol, r.price, r.qty, r.buy_order_id,
                                   r.sell_order_id, _NAMES[r.taker_side], r.ts, r.buy_user,
                                   r.sell_user)
    return trades


def _restore_fills(exchange: Exchange, store: MemoryStore, snap: Snapshot,
                   trades: dict[int, Trade]) -> None:
    for user, fills in snap.fills.items():
        if exchange.risk.accounts.get(user) is None:
            raise SnapshotError(f"fills of unknown user {user!r}")
        book = store._users.get(user)
        if book is None:
            book = store._users[user] = _UserBook(store._fills_kept)
        for f in fills:
            trade = trades.get(f.trade_id)
            if trade is None:
                raise SnapshotError(f"user {user!r}: a fill of unknown trade {f.trade_id}")
            book.fills.append((trade, _NAMES[f.side]))


def _restore_book(book: OrderBook, r: SymbolRecord, orders: dict[int, Order]) -> None:
    symbol = r.spec.symbol
    placed: set[int] = set()

    def take(oid: int, statuses: tuple[str, ...], side: str | None, where: str) -> Order:
        order = orders.get(oid)
        if (order is None or order.symbol != symbol or order.status not in statuses
                or (side is not None and order.side != side) or oid in placed):
            raise SnapshotError(f"{symbol} {where}: order {oid} is unknown, not "
                                f"{'/'.join(statuses)}{'' if side is None else ' ' + side} "
                                "of this symbol, or there twice")
        placed.add(oid)
        return order

    book.halted = r.halted
    book.seq = r.book_seq
    resting = (ACCEPTED, PARTIALLY_FILLED)
    for levels, side_name, side in ((r.bids, "buy", book.bids), (r.asks, "sell", book.asks)):
        for level in levels:
            if not level.order_ids:
                raise SnapshotError(f"{symbol}: an empty level at {level.price}")
            for oid in level.order_ids:
                order = take(oid, resting, side_name, f"level {level.price}")
                if order.price != level.price:
                    raise SnapshotError(f"{symbol}: order {oid} is priced {order.price}, not "
                                f"{level.price}")
                side.add(order)
        side.dirty.clear()
    for stops, side_name, descending in ((r.buy_stops, "buy", False),
                                         (r.sell_stops, "sell", True)):
        keys = [(take(oid, (PENDING,), side_name, "stops").stop_price or 0, oid)
                for oid in stops]
        if keys != sorted(keys, reverse=descending):
            raise SnapshotError(f"{symbol}: {side_name} stops are not in trigger order")
        for oid in stops:
            book.add_stop(orders[oid])
    for oid in r.paused:
        book.paused[oid] = take(oid, (PAUSED,), None, "paused")
    live = {o.order_id for o in orders.values() if o.symbol == symbol and o.live}
    if placed != live:
        missing = sorted(live - placed)
        raise SnapshotError(f"{symbol}: live orders {missing[:10]} wait nowhere")
    _restore_expiries(book, r, orders)


def _restore_expiries(book: OrderBook, r: SymbolRecord, orders: dict[int, Order]) -> None:
    symbol = r.spec.symbol
    scheduled = set()
    for e in r.expiries:
        order = orders.get(e.order_id)
        if (order is None or order.symbol != symbol or not order.live
                or order.expires_at != e.at or e.order_id in scheduled):
            raise SnapshotError(f"{symbol}: expiry of order {e.order_id} at {e.at} does not match "
                        "a live order of this symbol expiring then (or is there twice)")
        scheduled.add(e.order_id)
        book.expiries.append((e.at, e.order_id))
    heapq.heapify(book.expiries)
    due = {o.order_id for o in orders.values()
           if o.symbol == symbol and o.live and o.expires_at is not None}
    if scheduled != due:
        raise SnapshotError(f"{symbol}: live orders {sorted(due - scheduled)[:10]} have an expiry "
                    "time but are not scheduled")


def _restore_market(md: MarketData, symbol: str, r: MarketRecord,
                    trades: dict[int, Trade]) -> None:
    md.last, md.open, md.high, md.low, md.volume = r.last, r.open, r.high, r.low, r.volume
    tape = [trades.get(tid) for tid in r.tape]
    if any(t is None or t.symbol != symbol for t in tape):
        raise SnapshotError(f"{symbol}: the tape refers to an unknown trade or another symbol's")
    md.tape = deque((t for t in tape if t is not None), maxlen=TAPE_LENGTH)
    unknown = set(r.candles) - set(INTERVALS)
    if unknown:
        raise SnapshotError(f"{symbol}: unknown candle intervals {sorted(unknown)}")
    for name, series in r.candles.items():
        candles = md.candles[name] = deque(maxlen=CANDLES_KEPT)
        for c in series:
            candle = Candle(c.t, c.o, c.v)
            candle.h, candle.l, candle.c = c.h, c.l, c.c
            candles.append(candle)


__all__ = ["SNAPSHOT_VERSION", "Snapshot", "SnapshotError", "capture", "decode", "encode",
           "restore"]
