"""Server configuration: the TOML file of PROTOCOL.md, and the built-in demo market.

A config is read once at start-up, checked field by field (an unknown key or a bad
value stops the server with a message naming it: a typo in a config is better found
before the market opens than by a surprised trader), and turned into an
:class:`~exchange.core.engine.Exchange` with its symbols and funded users.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import time as dtime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from exchange.core.accounts import UserInfo
from exchange.core.engine import Exchange
from exchange.core.fees import FEE_ACCOUNT, MAX_BPS, FeeRates, FeeSchedule
from exchange.core.limits import ExposureLimits
from exchange.core.symbols import INT64_MAX, SymbolSpec
from exchange.server.auth import BadTokenHash, TokenHash

DEFAULT_RATE = 0
DEFAULT_MAX_OPEN_ORDERS = 100_000
DEFAULT_OUTBOUND_BUFFER = 8 * 1024 * 1024
DEFAULT_MAX_CONNECTIONS = 10_000
DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 256
DEFAULT_LOGIN_TIMEOUT = 30.0


class ConfigError(ValueError):
    """The configuration is unusable; the message names the field."""


@dataclass(slots=True)
class SymbolConfig:
    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    reference_price: Decimal | None = None
    price_band: Decimal | None = None
    max_price: Decimal | None = None
    max_qty: Decimal | None = None
    name: str = ""
    """The display name (``Apple Inc.``); optional."""
    fees: FeeRates | None = None
    """The symbol's maker and taker rates (``maker_fee_bps``, ``taker_fee_bps``)."""


@dataclass(slots=True)
class ExposureConfig:
    """Exposure limits as written in the config (decimals; ``None``: not given).

    In ``[limits]`` they are every user's; in a ``[[users]]`` table they replace those
    of ``[limits]`` key by key (``max_position`` symbol by symbol) for that user."""

    max_order_notional: Decimal | None = None
    max_open_exposure: Decimal | None = None
    max_position: dict[str, Decimal] = field(default_factory=dict)

    def over(self, default: ExposureConfig) -> ExposureConfig:
        """These limits where given, else ``default``'s."""
        return ExposureConfig(
            self.max_order_notional if self.max_order_notional is not None
            else default.max_order_notional,
            self.max_open_exposure if self.max_open_exposure is not None
            else default.max_open_exposure,
            {**default.max_position, **self.max_position})


EXPOSURE_KEYS = ("max_order_notional", "max_open_exposure", "max_position")


@dataclass(slots=True)
class UserConfig:
    user: str
    token: str = ""
    name: str = ""
    phone: str = ""
    email: str = ""
    cash: Decimal = Decimal(0)
    holdings: dict[str, Decimal] = field(default_factory=dict)
    admin: bool = False
    token_hash: str = ""
    """Set instead of ``token``: the token's hash (``exchange hash-token``)."""
    api_key: str = ""
    """The HTTP front-end's API key (``X-MBX-APIKEY``); with ``api_secret``, or neither."""
    api_secret: str = ""
    """The HMAC-SHA256 key the user's signed HTTP requests are checked with."""
    exposure: ExposureConfig = field(default_factory=ExposureConfig)
    fees: FeeRates | None = None
    """The user's own maker and taker rates, on every symbol instead of the symbol's."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One user's HTTP credentials, as a front-end that signs requests needs them: it
    checks a request's signature with ``secret``, then logs in as ``user`` with
    ``token`` through the gateway like any other session (see docs/HTTP.md)."""

    key: str
    secret: str
    user: str
    token: str


@dataclass(slots=True)
class Limits:
    rate: float = DEFAULT_RATE
    """Requests per second per session (token bucket, one second of burst); 0 = unlimited."""
    max_open_orders: int = DEFAULT_MAX_OPEN_ORDERS
    """Live orders per user: each one costs memory and a place in some book."""
    outbound_buffer: int = DEFAULT_OUTBOUND_BUFFER
    """Bytes queued to a session that is not reading before it is disconnected."""
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    """Sessions open at once; past it a new connection gets ``server_busy`` and is
    closed. 0 = unlimited."""
    max_connections_per_address: int = DEFAULT_MAX_CONNECTIONS_PER_ADDRESS
    """Sessions open at once from one peer address; 0 = unlimited."""
    login_timeout: float = DEFAULT_LOGIN_TIMEOUT
    """Seconds a connection may stay idle without logging in; 0 = never closed."""
    exposure: ExposureConfig = field(default_factory=ExposureConfig)
    """Every user's exposure limits (none by default)."""


@dataclass(slots=True)
class FixSettings:
    """The ``[fix]`` table: the FIX acceptor (docs/FIX.md)."""

    port: int | None = None
    """Serve FIX on this port (0: a free one) unless ``--fix-port`` says otherwise;
    None: only when ``--fix-port`` is given."""
    comp_id: str = "EXCHANGE"
    """The acceptor's CompID: the clients' TargetCompID, our SenderCompID."""


# -- metrics ----------------------------------------------------------------------------
@dataclass(slots=True)
class MetricsSettings:
    """The ``[metrics]`` table: the Prometheus metrics listener (docs/METRICS.md)."""

    port: int | None = None
    """Serve ``/metrics`` on this port (0: a free one) unless ``--metrics-port`` says
    otherwise; None: only when ``--metrics-port`` is given."""


@dataclass(slots=True)
class HistorySettings:
    """The ``[history]`` table: the history store (docs/HISTORY.md)."""

    enabled: bool = True
    """Keep history (ended orders, trades, the audit trail, the inbox) in SQLite: a
    file in the data directory, in memory without one."""
    inbox_keep: int = 1000
    """Notifications kept per user (the oldest go first)."""


@dataclass(slots=True)
class Config:
    symbols: list[SymbolConfig]
    users: list[UserConfig]
    limits: Limits = field(default_factory=Limits)
    market_close: dtime | None = None
    fix: FixSettings = field(default_factory=FixSettings)
    market_name: str = "Exchange"
    """``[market] name``: the exchange's name, the issuer an authenticator app shows for
    two-factor login."""
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    history: HistorySettings = field(default_factory=HistorySettings)

    def frontend_options(self, name: str) -> dict[str, str]:
        """A front-end's settings, for its listener."""
        return {"comp_id": self.fix.comp_id} if name == "fix" else {}

    def build_exchange(self) -> Exchange:
        """A fresh exchange with these symbols and these users, funded."""
        specs = [
            SymbolSpec.create(s.symbol, s.tick_size, s.lot_size, s.reference_price, s.price_band,
                              s.max_price, s.max_qty, s.name)
            for s in self.symbols
        ]
        exchange = Exchange(specs, max_open_orders=self.limits.max_open_orders)
        specs_by_symbol = {spec.symbol: spec for spec in specs}
        for u in self.users:
            cash = exchange.money.parse_any(u.cash)
            if cash is None:
                raise ConfigError(f"users.{u.user}.cash: {u.cash} is not a whole number of "
                                  f"cash units (10^-{exchange.money.decimals})")
            holdings: dict[str, int] = {}
            for symbol, qty in u.holdings.items():
                spec = specs_by_symbol.get(symbol)
                if spec is None:
                    raise ConfigError(f"users.{u.user}.holdings: unknown symbol {symbol!r}")
                lots = 0 if qty == 0 else spec.qty_lots(qty)
                if lots is None:
                    raise ConfigError(f"users.{u.user}.holdings.{symbol}: {qty} is not a "
                                      f"multiple of the lot size {spec.lot_size}")
                holdings[symbol] = lots
            info = UserInfo(u.user, u.name, u.phone, u.email, u.token, u.admin, u.token_hash)
            exchange.add_user(info, cash, holdings)
        _check_totals(exchange)
        self.exposure_limits(exchange)  # a bad limit is found here, before binding
        return exchange

    def api_keys(self) -> dict[str, ApiKey]:
        """API key -> credentials, for every user the config gives one."""
        return {u.api_key: ApiKey(u.api_key, u.api_secret, u.user, u.token)
                for u in self.users if u.api_key}

    def exposure_limits(self, exchange: Exchange
                        ) -> tuple[ExposureLimits, dict[str, ExposureLimits]]:
        """The config's exposure limits in the exchange's units: every user's, and those
        of the users who have their own.

        The exchange is built without them: they change what an order does, so the server
        gives them as a recorded command (``SetLimits``), and replay then runs each order
        under the limits it first met, whatever today's config says."""
        default = self.limits.exposure
        per_user = {u.user: _exposure(u.exposure.over(default), exchange, f"users.{u.user}")
                    for u in self.users if u.exposure != ExposureConfig()}
        return _exposure(default, exchange, "limits"), per_user

    def fee_schedule(self) -> FeeSchedule:
        """The config's fee schedule: each symbol's rates and each user's own.

        Like the exposure limits, it changes what a fill does, so the server gives it as
        a recorded command (``SetFees``) and replay charges what was charged live."""
        return FeeSchedule({s.symbol: s.fees for s in self.symbols if s.fees is not None},
                           {u.user: u.fees for u in self.users if u.fees is not None})

    def apply_credentials(self, exchange: Exchange) -> None:
        """Give each user the config names today's ``token``/``token_hash``.

        A data directory brings back its users as they were; their credentials, like the
        limits, come from the config, so that a changed or hashed token takes effect at
        the next start. Users the config no longer names keep what the directory holds.
        """
        for u in self.users:
            account = exchange.find_account(u.user)
            if account is not None:
                account.info.token = u.token
                account.info.token_hash = u.token_hash


    def apply_symbol_names(self, exchange: Exchange) -> None:
        """Give each symbol the config names with a ``name`` that name.

        Display names are configuration, like credentials: a data directory brings its
        symbols back with the names they had, and the config's names replace them, so
        that a corrected name shows at the next start."""
        for s in self.symbols:
            if s.name and s.symbol in exchange.symbols():
                exchange.spec(s.symbol).name = s.name


def _exposure(raw: ExposureConfig, exchange: Exchange, where: str) -> ExposureLimits:
    """The limits in engine units: cash units, and lots of each symbol."""
    def cash(value: Decimal | None, key: str) -> int | None:
        if value is None:
            return None
        units = exchange.money.parse_any(value)
        if units is None or units > INT64_MAX:
            raise ConfigError(f"{where}.{key}: {value} is not a whole number of cash units "
                              f"(10^-{exchange.money.decimals}) within 2^63-1")
        return units

    position: dict[str, int] = {}
    for symbol, qty in raw.max_position.items():
        if symbol not in exchange.symbols():
            raise ConfigError(f"{where}.max_position: unknown symbol {symbol!r}")
        spec = exchange.spec(symbol)
        lots = 0 if qty == 0 else spec.qty_lots(qty)
        if lots is None:
            raise ConfigError(f"{where}.max_position.{symbol}: {qty} is not a multiple of the "
                              f"lot size {spec.lot_size}")
        position[symbol] = lots
    return ExposureLimits(cash(raw.max_order_notional, "max_order_notional"), position,
                          cash(raw.max_open_exposure, "max_open_exposure"))


def _parse_exposure(table: dict[str, Any], where: str) -> ExposureConfig:
    position = table.get("max_position", {})
    if not isinstance(position, dict):
        raise ConfigError(f"{where}.max_position: expected a table such as {{ AAPL = \"100\" }}")
    return ExposureConfig(
        _decimal(table["max_order_notional"], f"{where}.max_order_notional")
        if "max_order_notional" in table else None,
        _decimal(table["max_open_exposure"], f"{where}.max_open_exposure")
        if "max_open_exposure" in table else None,
        {k: _decimal(v, f"{where}.max_position.{k}") for k, v in position.items()})


FEE_KEYS = ("maker_fee_bps", "taker_fee_bps")


def _parse_fees(table: dict[str, Any], where: str, both: bool) -> FeeRates | None:
    """``maker_fee_bps``/``taker_fee_bps``: whole basis points, 0 to 10000; a key not given
    is 0, or (``both``, a user's own rates) must be given with the other."""
    given = [key for key in FEE_KEYS if key in table]
    if not given:
        return None
    if both and len(given) != len(FEE_KEYS):
        raise ConfigError(f"{where}.{given[0]}: a user's own rates need both "
                          "maker_fee_bps and taker_fee_bps")
    rates = []
    for key in FEE_KEYS:
        value = table.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_BPS:
            raise ConfigError(f"{where}.{key}: expected whole basis points, 0 to {MAX_BPS}")
        rates.append(value)
    return FeeRates(rates[0], rates[1])


def _check_totals(exchange: Exchange) -> None:
    """Refuse a market whose totals would not fit the engine's 64-bit integers.

    Trades conserve cash and lots, so bounding the totals at load (and deposits later)
    bounds every balance and holding for good."""
    cash, lots = exchange.totals()
    if cash > INT64_MAX:
        raise ConfigError(f"users: cash adds up to {exchange.money.fmt(cash)}, more than the "
                          f"{exchange.money.fmt(INT64_MAX)} the exchange can hold")
    for symbol, total in lots.items():
        if total > INT64_MAX:
            spec = exchange.spec(symbol)
            raise ConfigError(f"users: holdings of {symbol} add up to {spec.fmt_qty(total)}, "
                              f"more than {spec.fmt_qty(INT64_MAX)}")
    for account in exchange.users():
        for symbol, pos in account.positions.items():
            if pos.cost > INT64_MAX:
                raise ConfigError(f"users.{account.info.user}.holdings.{symbol}: worth more "
                                  "than 2^63-1 cash units at the reference price")


# -- reading TOML ---------------------------------------------------------------------

def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ConfigError(f"{where}: expected a decimal string such as \"0.01\"")
    try:
        # A TOML float is read through its shortest repr, which is the text written.
        result = Decimal(str(value))
    except InvalidOperation:
        raise ConfigError(f"{where}: {value!r} is not a decimal number") from None
    if not result.is_finite() or result < 0:
        raise ConfigError(f"{where}: {value!r} must be a finite, non-negative number")
    return result


def _check_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(table) - allowed
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")


def _str(table: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(f"{where}.{key}: expected a string")
    return value


def parse_config(data: dict[str, Any]) -> Config:
    """Check and convert a parsed TOML document."""
    _check_keys(data, {"market", "limits", "symbols", "users", "fix",
                       "metrics", "history"}, "config")
    market = data.get("market", {})
    _check_keys(market, {"close", "name"}, "market")
    market_name = _str(market, "name", "market", "Exchange")
    if not market_name.strip() or len(market_name) > 64:
        raise ConfigError("market.name: expected 1 to 64 characters")
    close = None
    if "close" in market:
        try:
            close = dtime.fromisoformat(_str(market, "close", "market"))
        except ValueError:
            raise ConfigError("market.close: expected a time such as \"16:00\"") from None
    raw_limits = data.get("limits", {})
    limit_keys = ("rate", "max_open_orders", "outbound_buffer", "max_connections",
                  "max_connections_per_address", "login_timeout")
    _check_keys(raw_limits, set(limit_keys) | set(EXPOSURE_KEYS), "limits")
    limits = Limits(exposure=_parse_exposure(raw_limits, "limits"))
    for key in limit_keys:
        if key in raw_limits:
            value = raw_limits[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"limits.{key}: expected a non-negative number")
            setattr(limits, key, value if key in ("rate", "login_timeout") else int(value))
    symbols = []
    seen: set[str] = set()
    for i, raw in enumerate(data.get("symbols", [])):
        where = f"symbols[{i}]"
        _check_keys(raw, {"symbol", "tick_size", "lot_size", "reference_price", "price_band",
                          "max_price", "max_qty", "name", *FEE_KEYS}, where)
        display = _str(raw, "name", where, "")
        if len(display) > 128:
            raise ConfigError(f"{where}.name: at most 128 characters")
        name = _str(raw, "symbol", where)
        if name in seen:
            raise ConfigError(f"{where}.symbol: duplicate symbol {name!r}")
        seen.add(name)
        symbols.append(SymbolConfig(
            symbol=name,
            tick_size=_decimal(raw.get("tick_size"), f"{where}.tick_size"),
            lot_size=_decimal(raw.get("lot_size"), f"{where}.lot_size"),
            reference_price=(_decimal(raw["reference_price"], f"{where}.reference_price")
                             if "reference_price" in raw else None),
            price_band=(_decimal(raw["price_band"], f"{where}.price_band")
                        if "price_band" in raw else None),
            max_price=(_decimal(raw["max_price"], f"{where}.max_price")
                       if "max_price" in raw else None),
            max_qty=(_decimal(raw["max_qty"], f"{where}.max_qty") if "max_qty" in raw else None),
            name=display,
            fees=_parse_fees(raw, where, both=False),
        ))
    if not symbols:
        raise ConfigError("symbols: at least one [[symbols]] table is needed")
    users = []
    api_keys_seen: set[str] = set()
    for i, raw in enumerate(data.get("users", [])):
        where = f"users[{i}]"
        _check_keys(raw, {"user", "name", "phone", "email", "token", "token_hash", "cash",
                          "holdings", "admin", "api_key", "api_secret", *EXPOSURE_KEYS,
                          *FEE_KEYS},
                    where)
        if ("token" in raw) == ("token_hash" in raw):
            raise ConfigError(f"{where}.token: give exactly one of token and token_hash")
        token_hash = ""
        if "token_hash" in raw:
            token_hash = _str(raw, "token_hash", where)
            try:
                TokenHash.parse(token_hash)
            except BadTokenHash as exc:
                raise ConfigError(f"{where}.token_hash: {exc}") from None
        if raw.get("user") == FEE_ACCOUNT:
            raise ConfigError(f"{where}.user: {FEE_ACCOUNT!r} is the exchange's fee account")
        holdings_raw = raw.get("holdings", {})
        if not isinstance(holdings_raw, dict):
            raise ConfigError(f"{where}.holdings: expected a table such as {{ AAPL = \"10\" }}")
        admin = raw.get("admin", False)
        if not isinstance(admin, bool):
            raise ConfigError(f"{where}.admin: expected true or false")
        api_key = _str(raw, "api_key", where, "")
        api_secret = _str(raw, "api_secret", where, "")
        if bool(api_key) != bool(api_secret):
            raise ConfigError(f"{where}.api_key: give both api_key and api_secret, or neither")
        if api_key and "token_hash" in raw:
            raise ConfigError(f"{where}.api_key: an API key needs a plain token (the HTTP "
                              "front-end logs in with it), not token_hash")
        if api_key and api_key in api_keys_seen:
            raise ConfigError(f"{where}.api_key: the same API key as another user")
        api_keys_seen.add(api_key)
        users.append(UserConfig(
            user=_str(raw, "user", where),
            api_key=api_key,
            api_secret=api_secret,
            token=_str(raw, "token", where) if "token" in raw else "",
            token_hash=token_hash,
            name=_str(raw, "name", where, ""),
            phone=_str(raw, "phone", where, ""),
            email=_str(raw, "email", where, ""),
            cash=_decimal(raw.get("cash", "0"), f"{where}.cash"),
            holdings={k: _decimal(v, f"{where}.holdings.{k}") for k, v in holdings_raw.items()},
            admin=admin,
            exposure=_parse_exposure(raw, where),
            fees=_parse_fees(raw, where, both=True),
        ))
    return Config(symbols=symbols, users=users, limits=limits, market_close=close,
                  fix=_fix_settings(data.get("fix", {})), market_name=market_name,
                  metrics=_metrics_settings(data.get("metrics", {})),
                  history=_history_settings(data.get("history", {})))


_COMP_ID = re.compile(r"[!-~]{1,64}")
"""A CompID: 1 to 64 printable ASCII characters, no blank (it is a FIX header value)."""


def _fix_settings(raw: Any) -> FixSettings:
    if not isinstance(raw, dict):
        raise ConfigError("fix: expected a table")
    _check_keys(raw, {"port", "comp_id"}, "fix")
    settings = FixSettings()
    if "port" in raw:
        port = raw["port"]
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ConfigError("fix.port: expected a port number, 0 to 65535")
        settings.port = port
    if "comp_id" in raw:
        comp_id = _str(raw, "comp_id", "fix")
        if not _COMP_ID.fullmatch(comp_id) or "=" in comp_id:
            raise ConfigError("fix.comp_id: expected 1 to 64 printable ASCII characters "
                              "without blanks or '='")
        settings.comp_id = comp_id
    return settings


def _metrics_settings(raw: Any) -> MetricsSettings:
    if not isinstance(raw, dict):
        raise ConfigError("metrics: expected a table")
    _check_keys(raw, {"port"}, "metrics")
    settings = MetricsSettings()
    if "port" in raw:
        port = raw["port"]
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ConfigError("metrics.port: expected a port number, 0 to 65535")
        settings.port = port
    return settings


def _history_settings(raw: Any) -> HistorySettings:
    if not isinstance(raw, dict):
        raise ConfigError("history: expected a table")
    _check_keys(raw, {"enabled", "inbox_keep"}, "history")
    settings = HistorySettings()
    if "enabled" in raw:
        if not isinstance(raw["enabled"], bool):
            raise ConfigError("history.enabled: expected true or false")
        settings.enabled = raw["enabled"]
    if "inbox_keep" in raw:
        keep = raw["inbox_keep"]
        if isinstance(keep, bool) or not isinstance(keep, int) or not 1 <= keep <= 1_000_000:
            raise ConfigError("history.inbox_keep: expected a whole number, 1 to 1000000")
        settings.inbox_keep = keep
    return settings


def load_config(path: str | Path) -> Config:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return parse_config(data)


# -- the demo market ------------------------------------------------------------------

DEMO_SYMBOLS = [
    # symbol, tick, lot, reference price, band: prices match PROTOCOL.md's examples, so a
    # person trying them at `nc` on the demo market gets trades, not price-band rejects.
    ("AAPL", "0.01", "1", "150.00", "0.10"),
    ("MSFT", "0.01", "1", "420.00", "0.20"),
    ("TSLA", "0.01", "1", "250.00", None),
    ("BTC-USD", "0.01", "0.0001", "50000.00", None),
    ("ETH-USD", "0.01", "0.001", "3000.00", None),
]
DEMO_NAMES = {
    "AAPL": "Apple Inc.",
    "MSFT": "Microsoft Corporation",
    "TSLA": "Tesla, Inc.",
    "BTC-USD": "Bitcoin / US Dollar",
    "ETH-USD": "Ether / US Dollar",
}
"""The demo symbols' display names (the ``symbols`` reply, ``search``)."""
DEMO_PEOPLE = [
    ("alice", "Alice Example", False),
    ("bob", "Bob Example", False),
    ("carol", "Carol Example", False),
    ("dave", "Dave Example", False),
    ("mm", "Demo Market Maker", False),
    ("admin", "Exchange Operator", True),
]


def demo_config() -> Config:
    """The built-in market: equities and crypto pairs, funded users with holdings.

    Every user's token is ``<user>-token``, API key ``<user>-key`` and API secret
    ``<user>-secret`` (the HTTP front-end's); ``admin`` is an administrator; ``mm`` is the
    demo market maker, funded deeper than the others so it can quote all day.
    """
    symbols = [
        SymbolConfig(s, Decimal(t), Decimal(lot), Decimal(ref), Decimal(b) if b else None,
                     name=DEMO_NAMES[s])
        for s, t, lot, ref, b in DEMO_SYMBOLS
    ]
    users = []
    for i, (user, name, admin) in enumerate(DEMO_PEOPLE):
        scale = 100 if user == "mm" else 1
        users.append(UserConfig(
            user=user,
            token=f"{user}-token",
            api_key=f"{user}-key",
            api_secret=f"{user}-secret",
            name=name,
            phone=f"+1-555-01{i:02d}",
            email=f"{user}@example.com",
            cash=Decimal(1_000_000 * scale),
            holdings={"AAPL": Decimal(1000 * scale), "MSFT": Decimal(1000 * scale),
                      "TSLA": Decimal(1000 * scale), "BTC-USD": Decimal(10 * scale),
                      "ETH-USD": Decimal(100 * scale)},
            admin=admin,
        ))
    return Config(symbols=symbols, users=users)
