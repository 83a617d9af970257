"""Text commands for people at a terminal (`nc`), parsed into the same Request Structs as JSON.

The grammar is PROTOCOL.md's "Text commands": words separated by blanks; the command word and
keywords are case-insensitive; symbols are upper-cased; options are `key=value` words. Each
command builds the fields of its JSON twin and hands them to `msgspec.convert`, so both
spellings go through the very same validation (constraints, enum words, `__post_init__`
checks) and produce equal Structs.

Errors are values: an unknown command word is `unknown_op`; anything else malformed is
`bad_request` with a message naming what is wrong and the command's usage. Text commands carry
no `ref`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final, cast

import msgspec

from protocol import messages as m
from protocol.errors import ProtocolError
from protocol.fields import decimal_hook

Fields = dict[str, Any]


class _Usage(Exception):
    """A malformed argument; the message says which."""


def _show(word: str) -> str:
    """A word as quoted in an error message, cut short so a message stays a message."""
    return repr(word if len(word) <= 40 else word[:40] + "...")


# --- words ------------------------------------------------------------------------------


def _symbol(word: str) -> str:
    return word.upper()


def _whole(word: str, name: str) -> int:
    # 18 digits: every bound in protocol.fields fits, and int() never sees a huge string.
    if not (word.isascii() and word.isdigit() and len(word) <= 18):
        raise _Usage(f"{name} must be a whole number, got {_show(word)}")
    return int(word)


def _order_ref(word: str) -> Fields:
    """`17` is an order id; `cid=my-1` a client order id (kept as typed)."""
    if word[:4].lower() == "cid=":
        return {"client_order_id": word[4:]}
    if word.isascii() and word.isdigit():
        return {"order_id": _whole(word, "order id")}
    raise _Usage(f"expected an order id or cid=..., got {_show(word)}")


def _option(word: str) -> tuple[str, str] | None:
    """`key=value` as (lower-cased key, value), or None for a plain word."""
    key, eq, value = word.partition("=")
    return (key.lower(), value) if eq else None


_TTL = re.compile(r"(\d{1,15}(?:\.\d{1,9})?)(ms|s|m|h)", re.IGNORECASE)
_TTL_UNIT_MS: Final = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}


def _ttl_ms(value: str) -> int:
    match = _TTL.fullmatch(value)
    if match is None:
        raise _Usage(
            f"ttl must be a number with a unit ms, s, m or h (ttl=30s), got {_show(value)}"
        )
    ms = Decimal(match[1]) * _TTL_UNIT_MS[match[2].lower()]
    if ms != ms.to_integral_value():
        raise _Usage(f"ttl must be a whole number of milliseconds, got {_show(value)}")
    return int(ms)


def _no_more(args: list[str]) -> None:
    if args:
        raise _Usage(f"unexpected word {_show(args[0])}")


def _looks_numeric(word: str) -> bool:
    """A word meant as a number; anything else in an order is a keyword or a typo."""
    return word[:1] in _NUMBER_START


_NUMBER_START: Final = frozenset("0123456789.+-")


# --- commands ---------------------------------------------------------------------------
# Each takes the words after the command word and returns (Struct type, fields).

Parsed = tuple[type[m.RequestBase], Fields]


def _no_args(cls: type[m.RequestBase]) -> Callable[[list[str]], Parsed]:
    def parse(args: list[str]) -> Parsed:
        _no_more(args)
        return cls, {}

    return parse


def _login(args: list[str]) -> Parsed:
    if len(args) not in (2, 3):
        raise _Usage("expected a user and a token (and the one-time code, with two-factor login)")
    fields: Fields = {"user": args[0], "token": args[1]}
    if len(args) == 3:
        fields["otp"] = args[2]
    return m.Login, fields


_TIF_WORDS: Final = frozenset({"gtc", "ioc", "fok", "day", "gtd"})
_ORDER_OPTIONS: Final = {
    "ttl": "ttl_ms",
    "cid": "client_order_id",
    "stp": "stp",
    "stop": "stop_price",
    "limit": "price",
    "tif": "tif",
}


def _order(side: str) -> Callable[[list[str]], Parsed]:
    def parse(args: list[str]) -> Parsed:
        if len(args) < 2:
            raise _Usage("expected a symbol and a quantity")
        fields: Fields = {"symbol": _symbol(args[0]), "side": side, "qty": args[1]}
        market = False
        words = iter(args[2:])
        for word in words:
            low = word.lower()
            if low == "@":  # optional: `buy AAPL 100 @ 150.25` == `buy AAPL 100 150.25`
                word = low = next(words, "")
                if not _looks_numeric(word):
                    raise _Usage(f"price: expected a price after `@`, got {_show(word)}")
            option = _option(word)
            if option is not None:
                key, value = option
                name = _ORDER_OPTIONS.get(key)
                if name is None:
                    raise _Usage(f"unknown option {_show(key + '=')}")
                if name in fields:
                    raise _Usage(f"{key}= given twice, or with another price")
                if name == "ttl_ms":
                    fields[name] = _ttl_ms(value)
                elif name in ("stp", "tif"):
                    fields[name] = value.lower()
                else:
                    fields[name] = value
            elif low == "market":
                market = True
            elif low in _TIF_WORDS:
                if "tif" in fields:
                    raise _Usage("two time-in-force words")
                fields["tif"] = low
            elif low == "post_only":
                fields["post_only"] = True
            elif _looks_numeric(word):
                if "price" in fields:
                    raise _Usage(f"a second price {_show(word)}")
                fields["price"] = word
            else:
                raise _Usage(f"unexpected word {_show(word)}")
        if market:
            fields["kind"] = "market"
        elif "stop_price" in fields:
            fields["kind"] = "stop_limit" if "price" in fields else "stop"
        return m.Place, fields

    return parse


def _modify(args: list[str]) -> Parsed:
    if not args:
        raise _Usage("expected an order id")
    fields = _order_ref(args[0])
    for word in args[1:]:
        option = _option(word)
        if option is None or option[0] not in ("qty", "price"):
            raise _Usage(f"expected qty=... or price=..., got {_show(word)}")
        if option[0] in fields:
            raise _Usage(f"{option[0]}= given twice")
        fields[option[0]] = option[1]
    return m.Modify, fields


def _by_order(cls: type[m.OrderRequest]) -> Callable[[list[str]], Parsed]:
    def parse(args: list[str]) -> Parsed:
        if not args:
            raise _Usage("expected an order id")
        _no_more(args[1:])
        return cls, _order_ref(args[0])

    return parse


def _cancel_all(args: list[str]) -> Parsed:
    _no_more(args[1:])
    return m.CancelAll, {"symbol": _symbol(args[0])} if args else {}


def _cancel(args: list[str]) -> Parsed:
    if args and args[0].lower() == "all":
        return _cancel_all(args[1:])
    return _by_order(m.Cancel)(args)


def _orders(args: list[str]) -> Parsed:
    fields: Fields = {}
    for word in args:
        low = word.lower()
        key, value = ("status", low) if low in ("all", "live") else ("symbol", _symbol(word))
        if key in fields:
            raise _Usage(f"unexpected word {_show(word)}")
        fields[key] = value
    return m.Orders, fields


def _fills(args: list[str]) -> Parsed:
    fields: Fields = {}
    for word in args:
        key = "limit" if word.isascii() and word.isdigit() else "symbol"
        if key in fields:
            raise _Usage(f"unexpected word {_show(word)}")
        fields[key] = _whole(word, "limit") if key == "limit" else _symbol(word)
    return m.Fills, fields


def _amount(cls: type[m.RequestBase]) -> Callable[[list[str]], Parsed]:
    def parse(args: list[str]) -> Parsed:
        if len(args) != 1:
            raise _Usage("expected one amount")
        return cls, {"amount": args[0]}

    return parse


def _symbol_then(
    cls: type[m.RequestBase], *optional: str, required: str | None = None
) -> Callable[[list[str]], Parsed]:
    """`CMD SYMBOL [REQUIRED] [OPTIONAL...]`, where every optional word is a whole number."""

    def parse(args: list[str]) -> Parsed:
        if not args:
            raise _Usage("expected a symbol")
        fields: Fields = {"symbol": _symbol(args[0])}
        rest = args[1:]
        if required is not None:
            if not rest:
                raise _Usage(f"expected {required}")
            fields[required] = rest.pop(0).lower()
        if len(rest) > len(optional):
            raise _Usage(f"unexpected word {_show(rest[len(optional)])}")
        for name, word in zip(optional, rest, strict=False):
            fields[name] = _whole(word, name)
        return cls, fields

    return parse


def _channel(cls: type[m.RequestBase]) -> Callable[[list[str]], Parsed]:
    def parse(args: list[str]) -> Parsed:
        if len(args) != 2:
            raise _Usage("expected a channel and a symbol")
        return cls, {"channel": args[0].lower(), "symbol": _symbol(args[1])}

    return parse


def _alert(args: list[str]) -> Parsed:
    if len(args) != 3 or args[1].lower() not in ("above", "below"):
        raise _Usage("expected a symbol, `above` or `below`, and a price")
    return m.Alert, {"symbol": _symbol(args[0]), args[1].lower(): args[2]}


def _close_market(args: list[str]) -> Parsed:
    _no_more(args[1:])
    return m.CloseMarket, {"expire": args[0].lower()} if args else {}


# --- account administration and profiles ---------------------------------------------

_PROFILE_KEYS: Final = ("name", "phone", "email")


def _profile_options(words: list[str], fields: Fields, more: tuple[str, ...] = ()) -> None:
    """`name=...`, `phone=...`, `email=...` (and the keys in `more`) into `fields`."""
    for word in words:
        option = _option(word)
        if option is None or option[0] not in (*_PROFILE_KEYS, *more):
            keys = ", ".join(f"{k}=" for k in (*_PROFILE_KEYS, *more))
            raise _Usage(f"expected one of {keys} got {_show(word)}")
        key, value = option
        if key in fields:
            raise _Usage(f"{key}= given twice")
        fields[key] = value


def _create_user(args: list[str]) -> Parsed:
    if not args or _option(args[0]) is not None:
        raise _Usage("expected a user id first")
    fields: Fields = {"user": args[0]}
    rest = args[1:]
    if rest and rest[-1].lower() == "admin":
        fields["admin"] = True
        rest = rest[:-1]
    _profile_options(rest, fields, ("cash", "holdings"))
    if "holdings" in fields:
        fields["holdings"] = _holdings(fields["holdings"])
    return m.CreateUser, fields


def _holdings(value: str) -> Fields:
    """`AAPL:10,MSFT:5` as {"AAPL": "10", "MSFT": "5"} (symbols upper-cased)."""
    held: Fields = {}
    for item in value.split(","):
        symbol, colon, qty = item.partition(":")
        if not colon or not symbol or not qty:
            raise _Usage(f"holdings= expects SYMBOL:QTY,SYMBOL:QTY..., got {_show(value)}")
        if _symbol(symbol) in held:
            raise _Usage(f"holdings= names {_show(symbol)} twice")
        held[_symbol(symbol)] = qty
    return held


def _profile(args: list[str]) -> Parsed:
    _no_more(args[1:])
    return m.Profile, {"user": args[0]} if args else {}


def _update_profile(args: list[str]) -> Parsed:
    fields: Fields = {}
    if args and _option(args[0]) is None:
        fields["user"] = args[0]
        args = args[1:]
    _profile_options(args, fields)
    return m.UpdateProfile, fields


def _user(cls: type[m.RequestBase]) -> Callable[[list[str]], Parsed]:
    def parse(args: list[str]) -> Parsed:
        if len(args) != 1:
            raise _Usage("expected a user id")
        return cls, {"user": args[0]}

    return parse


# -- two-factor login, watchlists and symbol search --


def _code(cls: type[m.RequestBase]) -> Callable[[list[str]], Parsed]:
    def parse(args: list[str]) -> Parsed:
        if len(args) != 1:
            raise _Usage("expected the 6-digit code of your authenticator app")
        return cls, {"code": args[0]}

    return parse


_SYMBOL_OPTIONS: Final = {"ref": "reference_price", "band": "price_band",
                          "max_price": "max_price", "max_qty": "max_qty"}


def _add_symbol(args: list[str]) -> Parsed:
    if len(args) < 3:
        raise _Usage("expected a symbol, a tick size and a lot size")
    fields: Fields = {"symbol": _symbol(args[0]), "tick_size": args[1], "lot_size": args[2]}
    for word in args[3:]:
        option = _option(word)
        name = _SYMBOL_OPTIONS.get(option[0]) if option is not None else None
        if option is None or name is None:
            raise _Usage(f"expected ref=, band=, max_price= or max_qty=, got {_show(word)}")
        if name in fields:
            raise _Usage(f"{option[0]}= given twice")
        fields[name] = option[1]
    return m.AddSymbol, fields


_QUOTED: Final = frozenset({"create_user", "update_profile"})
"""Commands whose values may be quoted (`name="Dora Explorer"`): a name has blanks."""
def _search(args: list[str]) -> Parsed:
    """`search WORDS... [limit=N]`: the words, joined by one blank, are the query."""
    fields: Fields = {}
    words = []
    for word in args:
        option = _option(word)
        if option is not None and option[0] == "limit":
            if "limit" in fields:
                raise _Usage("limit= given twice")
            fields["limit"] = _whole(option[1], "limit")
        else:
            words.append(word)
    if not words:
        raise _Usage("expected words to look for")
    fields["query"] = " ".join(words)
    return m.Search, fields


# --- history, audit trail, reports and the inbox ----------------------------------------

_HISTORY_OPTIONS: Final = frozenset({"start", "end", "after", "limit"})


def _history_options(args: list[str], fields: Fields, allowed: frozenset[str]) -> Fields:
    """``key=value`` options (start=, end= are RFC 3339 times; after=, limit= numbers)."""
    for word in args:
        option = _option(word)
        if option is None or option[0] not in allowed:
            raise _Usage(f"unexpected word {_show(word)}")
        key, value = option
        fields[key] = (_whole(value, key) if key in ("after", "limit", "since", "up_to")
                       else value)
    return fields


def _history(cls: type[m.RequestBase], symbol: str) -> Callable[[list[str]], Parsed]:
    """``symbol``: "required", "optional" or "none" first word."""

    def parse(args: list[str]) -> Parsed:
        fields: Fields = {}
        if symbol == "required" or (symbol == "optional" and args and _option(args[0]) is None):
            if not args:
                raise _Usage("expected a symbol")
            fields["symbol"] = _symbol(args[0])
            args = args[1:]
        if cls is m.CandleHistory:
            if not args:
                raise _Usage("expected an interval")
            fields["interval"] = args[0].lower()
            args = args[1:]
        allowed = _HISTORY_OPTIONS - {"after"} if cls is m.CandleHistory else _HISTORY_OPTIONS
        return cls, _history_options(args, fields, allowed)

    return parse


def _audit(args: list[str]) -> Parsed:
    fields: Fields = {}
    if args and _option(args[0]) is None:
        fields["user"] = args[0]
        args = args[1:]
    return m.Audit, _history_options(args, fields, _HISTORY_OPTIONS)


def _report(args: list[str]) -> Parsed:
    if not args:
        raise _Usage("expected confirmations or gains")
    kind = args[0].lower()
    if kind == "gains":
        if len(args) != 2:
            raise _Usage("expected a year")
        return m.Report, {"kind": kind, "year": _whole(args[1], "year")}
    return m.Report, _history_options(args[1:], {"kind": kind}, frozenset({"start", "end"}))


def _inbox(args: list[str]) -> Parsed:
    return m.Inbox, _history_options(args, {}, frozenset({"since", "limit"}))


def _inbox_read(args: list[str]) -> Parsed:
    if args == ["all"] or not args:
        return m.InboxRead, {}
    if len(args) == 1 and _option(args[0]) is not None:
        return m.InboxRead, _history_options(args, {}, frozenset({"up_to"}))
    return m.InboxRead, {"ids": [_whole(word, "notification id") for word in args]}


# command word -> (parser, usage)
_COMMANDS: Final[dict[str, tuple[Callable[[list[str]], Parsed], str]]] = {
    "login": (_login, "login USER TOKEN [CODE]"),
    "ping": (_no_args(m.Ping), "ping"),
    "help": (_no_args(m.Help), "help"),
    "quit": (_no_args(m.Quit), "quit"),
    "buy": (_order("buy"), "buy SYMBOL QTY [@] PRICE|market [gtc|ioc|fok|day] [options]"),
    "sell": (_order("sell"), "sell SYMBOL QTY [@] PRICE|market [gtc|ioc|fok|day] [options]"),
    "modify": (_modify, "modify ORDER [qty=QTY] [price=PRICE]"),
    "cancel": (_cancel, "cancel ORDER | cancel all [SYMBOL]"),
    "cancel_all": (_cancel_all, "cancel_all [SYMBOL]"),
    "pause": (_by_order(m.Pause), "pause ORDER"),
    "resume": (_by_order(m.Resume), "resume ORDER"),
    "status": (_by_order(m.Status), "status ORDER"),
    "orders": (_orders, "orders [SYMBOL] [all]"),
    "fills": (_fills, "fills [SYMBOL] [LIMIT]"),
    "balance": (_no_args(m.Balance), "balance"),
    "deposit": (_amount(m.Deposit), "deposit AMOUNT"),
    "withdraw": (_amount(m.Withdraw), "withdraw AMOUNT"),
    "portfolio": (_no_args(m.Portfolio), "portfolio"),
    "symbols": (_no_args(m.Symbols), "symbols"),
    "book": (_symbol_then(m.Book, "depth"), "book SYMBOL [DEPTH]"),
    "quote": (_symbol_then(m.Quote), "quote SYMBOL"),
    "trades": (_symbol_then(m.Trades, "limit"), "trades SYMBOL [LIMIT]"),
    "candles": (
        _symbol_then(m.Candles, "limit", required="interval"),
        "candles SYMBOL 1m|5m|1h|1d [LIMIT]",
    ),
    "subscribe": (_channel(m.Subscribe), "subscribe trades|book|quote SYMBOL"),
    "unsubscribe": (_channel(m.Unsubscribe), "unsubscribe trades|book|quote SYMBOL"),
    "alert": (_alert, "alert SYMBOL above|below PRICE"),
    "halt": (_symbol_then(m.Halt), "halt SYMBOL"),
    "resume_trading": (_symbol_then(m.ResumeTrading), "resume_trading SYMBOL"),
    "close_market": (_close_market, "close_market [all]"),
    "open_market": (_no_args(m.OpenMarket), "open_market"),
    "stats": (_no_args(m.Stats), "stats"),
    # account administration and profiles
    "create_user": (
        _create_user,
        'create_user USER [name="NAME"] [phone=PHONE] [email=EMAIL] [cash=AMOUNT] '
        "[holdings=SYMBOL:QTY,...] [admin]",
    ),
    "profile": (_profile, "profile [USER]"),
    "update_profile": (
        _update_profile,
        'update_profile [USER] [name="NAME"] [phone=PHONE] [email=EMAIL]',
    ),
    "disable_user": (_user(m.DisableUser), "disable_user USER"),
    "enable_user": (_user(m.EnableUser), "enable_user USER"),
    "add_symbol": (
        _add_symbol,
        "add_symbol SYMBOL TICK LOT [ref=PRICE] [band=FRACTION] [max_price=P] [max_qty=Q]",
    ),
    # two-factor login, watchlists and symbol search
    "otp_setup": (_no_args(m.OtpSetup), "otp_setup"),
    "otp_enable": (_code(m.OtpEnable), "otp_enable CODE"),
    "otp_disable": (_code(m.OtpDisable), "otp_disable CODE"),
    "watchlist": (_no_args(m.Watchlist), "watchlist"),
    "watch": (_symbol_then(m.Watch), "watch SYMBOL"),
    "unwatch": (_symbol_then(m.Unwatch), "unwatch SYMBOL"),
    "search": (_search, "search WORDS... [limit=N]"),
    # history, audit trail, reports and the inbox
    "order_history": (_history(m.OrderHistory, "optional"),
                      "order_history [SYMBOL] [start=TIME] [end=TIME] [after=ID] [limit=N]"),
    "fill_history": (_history(m.FillHistory, "optional"),
                     "fill_history [SYMBOL] [start=TIME] [end=TIME] [after=ID] [limit=N]"),
    "trade_history": (_history(m.TradeHistory, "required"),
                      "trade_history SYMBOL [start=TIME] [end=TIME] [after=ID] [limit=N]"),
    "candle_history": (_history(m.CandleHistory, "required"),
                       "candle_history SYMBOL 1m|5m|1h|1d [start=TIME] [end=TIME] [limit=N]"),
    "audit": (_audit, "audit [USER] [start=TIME] [end=TIME] [after=ID] [limit=N]"),
    "report": (_report, "report confirmations [start=TIME] [end=TIME] | report gains YEAR"),
    "inbox": (_inbox, "inbox [since=ID] [limit=N]"),
    "inbox_read": (_inbox_read, "inbox_read [all] | inbox_read ID... | inbox_read up_to=ID"),
}
COMMAND_WORDS: Final[frozenset[str]] = frozenset(_COMMANDS)

HELP_COMMANDS: Final[tuple[str, ...]] = (
    "login USER TOKEN [CODE]   CODE: the one-time code, once two-factor login is on",
    "buy|sell SYMBOL QTY [@] PRICE [gtc|ioc|fok|day] [options]   limit order (the @ is optional)",
    "buy|sell SYMBOL QTY market   market order",
    "buy|sell SYMBOL QTY stop=STOP [limit=PRICE]   stop, or stop-limit",
    "  options: ttl=30s (ms, s, m or h; makes it gtd)  cid=CLIENT_ORDER_ID  post_only",
    "  options: stp=none|cancel_newest|cancel_oldest|cancel_both",
    "modify ORDER [qty=QTY] [price=PRICE]   ORDER is an order id, or cid=CLIENT_ORDER_ID",
    "cancel ORDER",
    "cancel all [SYMBOL]",
    "pause ORDER",
    "resume ORDER",
    "status ORDER",
    "orders [SYMBOL] [all]   live orders, or all of them",
    "fills [SYMBOL] [LIMIT]",
    "balance",
    "portfolio",
    "deposit AMOUNT",
    "withdraw AMOUNT",
    "symbols",
    "book SYMBOL [DEPTH]",
    "quote SYMBOL",
    "trades SYMBOL [LIMIT]",
    "candles SYMBOL 1m|5m|1h|1d [LIMIT]",
    "subscribe trades|book|quote SYMBOL",
    "unsubscribe trades|book|quote SYMBOL",
    "alert SYMBOL above|below PRICE",
    "ping",
    "help",
    "quit",
    "halt SYMBOL   administrators only",
    "resume_trading SYMBOL   administrators only",
    "close_market [all]   administrators only",
    "open_market   administrators only",
    "stats   administrators only",
    # account administration and profiles
    "profile   your name, phone and email",
    'update_profile [name="NAME"] [phone=PHONE] [email=EMAIL]   change them ("" clears one)',
    'create_user USER [name="NAME"] [phone=P] [email=E] [cash=C] [holdings=SYM:QTY,...] [admin]',
    "  administrators only; the reply shows the new user's token, this once",
    "profile USER | update_profile USER ...   another user's: administrators only",
    "disable_user USER   administrators only: ends their sessions, cancels their orders",
    "enable_user USER   administrators only",
    "add_symbol SYMBOL TICK LOT [ref=P] [band=F] [max_price=P] [max_qty=Q]   administrators only",
    # two-factor login, watchlists and symbol search
    "otp_setup   a new two-factor secret and its otpauth:// URI (for an authenticator app)",
    "otp_enable CODE   turn two-factor login on with a code of the new secret",
    "otp_disable CODE   turn two-factor login off",
    "watchlist   your watchlist, each symbol with its quote",
    "watch SYMBOL",
    "unwatch SYMBOL",
    "search WORDS... [limit=N]   symbols by prefix, or by words of their name",
    # history, audit trail, reports and the inbox
    "order_history [SYMBOL] [start=TIME] [end=TIME] [after=ID] [limit=N]   ended orders",
    "fill_history [SYMBOL] [start=TIME] [end=TIME] [after=ID] [limit=N]",
    "trade_history SYMBOL [start=TIME] [end=TIME] [after=ID] [limit=N]   the public tape",
    "candle_history SYMBOL 1m|5m|1h|1d [start=TIME] [end=TIME] [limit=N]",
    "  TIME is RFC 3339 with an offset (2026-12-01T09:30:00Z); pages go on with after=",
    "audit [USER] [options]   your audit trail (another user's: administrators only)",
    "report confirmations [start=TIME] [end=TIME]   trade confirmations as CSV",
    "report gains YEAR   realized gains per sale as CSV",
    "inbox [since=ID] [limit=N]   notifications, unread first",
    "inbox_read [all] | inbox_read ID... | inbox_read up_to=ID",
)
"""The `help` reply's `commands`: one command a line, no line breaks inside, so that the
JSON line a person sees at `nc` lists each command as its own string."""

HELP_SUMMARY: Final = (
    "Text commands, one per line, words separated by blanks (case does not matter except "
    "in user names, tokens and cid= values); numbers are plain ASCII decimals such as "
    "150.25; every command gets the JSON reply of the JSON request it stands for, and JSON "
    "lines work too. The commands: login, buy, sell, modify, cancel, pause, resume, status, "
    "orders, fills, balance, portfolio, deposit, withdraw, symbols, book, quote, trades, "
    "candles, subscribe, unsubscribe, alert, ping, help, quit, profile, update_profile, "
    "otp_setup, otp_enable, otp_disable, watchlist, watch, unwatch, search, order_history, "
    "fill_history, trade_history, candle_history, audit, report, inbox, inbox_read; "
    "administrators also halt, resume_trading, close_market, open_market, stats, "
    "create_user, disable_user, enable_user, add_symbol; see `commands`."
)
"""The `help` reply's `text`: one line, without `\\n`."""

HELP_TEXT: Final = (
    "Text commands (one per line; words separated by blanks; case does not matter except in\n"
    "user names, tokens and cid= values; symbols are upper-cased). Every command gets the same\n"
    "JSON reply as the JSON request it stands for; JSON lines ({\"op\": ...}) work too.\n\n"
    + "".join(f"  {line}\n" for line in HELP_COMMANDS)
)
"""The same, as a block of text (for documentation and terminals that print it)."""


def parse_command(line: str) -> m.Request | ProtocolError | None:
    """Parse one text command; None for a line with no words."""
    words = line.split()
    if not words:
        return None
    if words[0].lower() in _QUOTED:
        try:
            words = shlex.split(line)
        except ValueError as exc:  # an unclosed quote
            return ProtocolError("bad_request", f"{exc} (usage: {_COMMANDS[words[0].lower()][1]})")
    entry = _COMMANDS.get(words[0].lower())
    if entry is None:
        return ProtocolError("unknown_op", f"Unknown command {_show(words[0])}; try `help`")
    parse, usage = entry
    try:
        cls, fields = parse(words[1:])
        request = cast("m.Request", msgspec.convert(fields, cls, dec_hook=decimal_hook))
    except _Usage as exc:
        return ProtocolError("bad_request", f"{exc} (usage: {usage})")
    except msgspec.ValidationError as exc:
        return ProtocolError("bad_request", f"{exc} (usage: {usage})")
    return request
