"""The shape of Binance's spot API v3, sans-IO: its parameters to request messages, the
reply messages to its JSON objects, and its error codes.

Nothing here does I/O; :mod:`.rest` and :mod:`.streams` move the results over HTTP and
WebSocket. Binance's conventions kept as clients expect them:

* symbols without separator, base then quote: ``AAPL`` is ``AAPLUSD`` (base ``AAPL``),
  ``BTC-USD`` is ``BTCUSD`` (base ``BTC``). The quote asset is always the exchange's one
  cash currency, ``USD``; the base is the symbol up to its first ``-`` (:class:`Names`);
* decimals as strings, times as integer milliseconds since the epoch;
* an error is ``{"code": negative int, "msg": text}`` with a 4xx/5xx HTTP status
  (:class:`BinanceError`); a success body never carries ``code``.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

import msgspec

from protocol import messages as M
from protocol import replies as R
from protocol.fields import parse_decimal

QUOTE: Final = "USD"
"""The quote asset of every symbol: the exchange's one cash currency."""

ORDER_TYPES: Final = ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT"]
"""Binance order types that map to this exchange's kinds (see :func:`place`)."""

INTERVAL_MS: Final = {"1m": 60_000, "5m": 300_000, "1h": 3_600_000, "1d": 86_400_000}
"""Kline intervals served (the exchange keeps candles of these four)."""

MAX_ROWS: Final = 1000
"""Binance's cap on ``limit`` of trades, klines, allOrders and myTrades."""


class BinanceError(Exception):
    """An error reply: Binance's ``code`` and ``msg``, and the HTTP status it comes with."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg}


def mandatory(name: str) -> BinanceError:
    return BinanceError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, "
                               "or malformed.")


INVALID_SYMBOL: Final = (-1121, "Invalid symbol.")
NO_SUCH_ORDER: Final = (-2013, "Order does not exist.")
UNKNOWN_ORDER_SENT: Final = (-2011, "Unknown order sent.")
NO_BALANCE: Final = "Account has insufficient balance for requested action."
BAD_KEY: Final = (-2015, "Invalid API-key, IP, or permissions for action.")

_REJECTS: Final[dict[str, tuple[int, str]]] = {
    "bad_price": (-1013, "Filter failure: PRICE_FILTER"),
    "bad_qty": (-1013, "Filter failure: LOT_SIZE"),
    "price_band": (-1013, "Filter failure: PERCENT_PRICE_BY_SIDE"),
    "too_many_orders": (-1013, "Filter failure: MAX_NUM_ORDERS"),
    "insufficient_funds": (-2010, NO_BALANCE),
    "insufficient_holdings": (-2010, NO_BALANCE),
    "would_take": (-2010, "Order would immediately match and take."),
    "no_liquidity": (-2010, "Order would not trade: the book has no liquidity."),
    "halted": (-2010, "Market is closed."),
    "market_closed": (-2010, "Market is closed."),
}
"""A rejected order's reason -> Binance's code and message for a refused new order."""


def rejected(order: R.Order) -> BinanceError:
    code, msg = _REJECTS.get(order.reason or "", (-2010, f"Order rejected: {order.reason}."))
    return BinanceError(code, msg)


def from_error(error: R.Error, cancel: bool = False, lookup: bool = False) -> BinanceError:
    """A gateway error as Binance's. ``cancel``: it answered a cancel (-2011 for what
    cannot be canceled); ``lookup``: a query of one order (-2013 when there is none)."""
    code = error.code
    message = error.message
    if code == "unknown_order" or (cancel and code in ("not_live", "bad_state")):
        return BinanceError(*(UNKNOWN_ORDER_SENT if cancel else NO_SUCH_ORDER))
    if code == "unknown_symbol":
        return BinanceError(*INVALID_SYMBOL)
    if code in ("insufficient_funds", "insufficient_holdings"):
        return BinanceError(-2010, NO_BALANCE)
    if code in ("auth_required", "auth_failed", "forbidden"):
        return BinanceError(*BAD_KEY, status=401)
    if code == "rate_limited":
        return BinanceError(-1003, f"Too many requests; {message}", status=429)
    if code == "server_busy":
        return BinanceError(-1008, "Server is currently overloaded with other requests. "
                                   "Please try again in a few minutes.", status=503)
    if code == "bad_request" and (message.startswith("price:") or
                                  message.startswith("stop_price:")):
        return BinanceError(-1013, "Filter failure: PRICE_FILTER")
    if code == "bad_request" and message.startswith("qty:"):
        return BinanceError(-1013, "Filter failure: LOT_SIZE")
    if cancel:
        return BinanceError(-2011, f"Cancel rejected: {message}")
    return BinanceError(-1100 if code == "bad_request" else -2010, message)


# -- symbols -------------------------------------------------------------------------------


def binance_id(symbol: str) -> str:
    """``AAPL`` -> ``AAPLUSD``; ``BTC-USD`` -> ``BTCUSD``; ``X-Y`` -> ``XUSD``."""
    return base_asset(symbol) + QUOTE


def base_asset(symbol: str) -> str:
    return symbol.split("-", 1)[0]


class Names:
    """The exchange's symbols by their Binance ids, and back."""

    def __init__(self, symbols: list[str]) -> None:
        self.by_id: dict[str, str] = {}
        self.to_id: dict[str, str] = {}
        self.lower: dict[str, str] = {}
        for symbol in symbols:
            self.add(symbol)

    def add(self, symbol: str) -> None:
        """Name one more symbol (at start-up, or listed at run time); ``ValueError`` for
        one whose Binance id another symbol has already."""
        bid = binance_id(symbol)
        if bid in self.by_id:
            raise ValueError(f"symbols {self.by_id[bid]!r} and {symbol!r} would both be "
                             f"{bid!r} on the HTTP front-end; rename one")
        self.by_id[bid] = symbol
        self.to_id[symbol] = bid
        self.lower[bid.lower()] = symbol

    def symbol(self, params: Mapping[str, str], required: bool = True) -> str | None:
        """The exchange symbol the ``symbol`` parameter names."""
        given = params.get("symbol")
        if not given:
            if required:
                raise mandatory("symbol")
            return None
        symbol = self.by_id.get(given)
        if symbol is None:
            raise BinanceError(*INVALID_SYMBOL)
        return symbol


# -- numbers and times ---------------------------------------------------------------------

_SECONDS: dict[str, int] = {}


def ms(stamp: str) -> int:
    """An RFC 3339 UTC time as the exchange writes it (``2024-01-02T03:04:05.123456Z``)
    as milliseconds since the epoch."""
    prefix = stamp[:19]
    second = _SECONDS.get(prefix)
    if second is None:
        second = calendar.timegm((int(stamp[0:4]), int(stamp[5:7]), int(stamp[8:10]),
                                  int(stamp[11:13]), int(stamp[14:16]), int(stamp[17:19])))
        if len(_SECONDS) > 10_000:
            _SECONDS.clear()
        _SECONDS[prefix] = second
    frac = stamp[20:23] if len(stamp) > 20 and stamp[19] == "." else "0"
    return second * 1000 + int(frac.ljust(3, "0"))


def product(price: str | None, qty: str) -> str:
    """``price x qty`` exactly, as a decimal string (a trade's quote quantity)."""
    if price is None:
        return "0"
    return plain(Decimal(price) * Decimal(qty))


def plain(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def decimal_param(params: Mapping[str, str], name: str) -> Decimal | None:
    text = params.get(name)
    if text is None or text == "":
        return None
    try:
        return parse_decimal(text)
    except ValueError:
        raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal "
                                  "range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.") from None


def int_param(params: Mapping[str, str], name: str, default: int | None = None,
              low: int = 0, high: int = 2**63 - 1) -> int | None:
    text = params.get(name)
    if text is None or text == "":
        return default
    if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
        raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal "
                                  f"range is {low} to {high}.")
    return int(text)


def limit_param(params: Mapping[str, str], default: int, high: int = MAX_ROWS) -> int:
    value = int_param(params, "limit", default, 1, high)
    assert value is not None
    return value


# -- requests ------------------------------------------------------------------------------

_SIDES: Final = {"BUY": "buy", "SELL": "sell"}
_TIFS: Final = {"GTC": "gtc", "IOC": "ioc", "FOK": "fok"}
_STP: Final = {"NONE": "none", "EXPIRE_TAKER": "cancel_newest",
               "EXPIRE_MAKER": "cancel_oldest", "EXPIRE_BOTH": "cancel_both"}
_KINDS: Final = {"LIMIT": "limit", "LIMIT_MAKER": "limit", "MARKET": "market",
                 "STOP_LOSS": "stop", "STOP_LOSS_LIMIT": "stop_limit"}
RESPONSE_TYPES: Final = ("ACK", "RESULT", "FULL")


def place(params: Mapping[str, str], symbol: str) -> tuple[M.Place, str]:
    """The ``Place`` a ``POST /api/v3/order`` asks for, and its ``newOrderRespType``."""
    side = params.get("side")
    if not side:
        raise mandatory("side")
    if side not in _SIDES:
        raise BinanceError(-1117, "Invalid side.")
    type_ = params.get("type")
    if not type_:
        raise mandatory("type")
    kind = _KINDS.get(type_)
    if kind is None:
        raise BinanceError(-1116, "Invalid orderType.")
    if params.get("quoteOrderQty"):
        raise BinanceError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
    qty = decimal_param(params, "quantity")
    if qty is None:
        raise mandatory("quantity")
    price = decimal_param(params, "price")
    stop = decimal_param(params, "stopPrice")
    if kind in ("limit", "stop_limit") and price is None:
        raise mandatory("price")
    if kind in ("stop", "stop_limit") and stop is None:
        raise mandatory("stopPrice")
    tif_text = params.get("timeInForce")
    tif = None
    if type_ in ("LIMIT", "STOP_LOSS_LIMIT"):
        if not tif_text:
            raise mandatory("timeInForce")
        tif = _TIFS.get(tif_text)
        if tif is None:
            raise BinanceError(-1115, "Invalid timeInForce.")
    elif tif_text:
        raise BinanceError(-1106, "Parameter 'timeInForce' sent when not required.")
    stp = _STP.get(params.get("selfTradePreventionMode") or "NONE")
    if stp is None:
        raise BinanceError(-1100, "Illegal characters found in parameter "
                                  "'selfTradePreventionMode'.")
    resp = params.get("newOrderRespType") or ("FULL" if type_ in ("LIMIT", "MARKET")
                                              else "ACK")
    if resp not in RESPONSE_TYPES:
        raise BinanceError(-1100, "Illegal characters found in parameter 'newOrderRespType'.")
    fields: dict[str, Any] = {
        "symbol": symbol, "side": _SIDES[side], "qty": qty, "kind": kind,
        "post_only": type_ == "LIMIT_MAKER", "stp": stp,
    }
    if kind in ("limit", "stop_limit"):
        fields["price"] = price
    elif price is not None:
        raise BinanceError(-1106, "Parameter 'price' sent when not required.")
    if kind in ("stop", "stop_limit"):
        fields["stop_price"] = stop
    elif stop is not None:
        raise BinanceError(-1106, "Parameter 'stopPrice' sent when not required.")
    if tif is not None:
        fields["tif"] = tif
    cid = params.get("newClientOrderId")
    if cid:
        fields["client_order_id"] = cid
    try:
        message = msgspec.convert(fields, M.Place)
    except msgspec.ValidationError as exc:
        raise BinanceError(-1100, str(exc)) from None
    return message, resp


def order_address(params: Mapping[str, str]) -> dict[str, Any]:
    """``orderId`` or ``origClientOrderId`` as the fields of a request about one order."""
    order_id = int_param(params, "orderId", None, 1)
    if order_id is not None:
        return {"order_id": order_id}
    cid = params.get("origClientOrderId")
    if cid:
        if len(cid) > 64:
            raise BinanceError(*NO_SUCH_ORDER)
        return {"client_order_id": cid}
    raise BinanceError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but "
                              "both were empty/null!")


# -- replies -------------------------------------------------------------------------------

_STATUS: Final = {"accepted": "NEW", "partially_filled": "PARTIALLY_FILLED", "paused": "NEW",
                  "pending": "NEW", "filled": "FILLED", "canceled": "CANCELED",
                  "expired": "EXPIRED", "rejected": "REJECTED"}
_TYPE: Final = {"limit": "LIMIT", "market": "MARKET", "stop": "STOP_LOSS",
                "stop_limit": "STOP_LOSS_LIMIT"}
_TIF_OUT: Final = {"gtc": "GTC", "ioc": "IOC", "fok": "FOK", "day": "GTC", "gtd": "GTD"}


def status(order: R.Order) -> str:
    return _STATUS[order.status]


def order_type(order: R.Order) -> str:
    return _TYPE[order.kind]


def side(value: str) -> str:
    return "BUY" if value == "buy" else "SELL"


def tif(order: R.Order) -> str:
    return _TIF_OUT[order.tif]


def quote_qty(order: R.Order) -> str:
    """What the order's fills have cost or brought (from the average price)."""
    if order.avg_price is None:
        return "0"
    value = Decimal(order.avg_price) * Decimal(order.filled_qty)
    places = len(order.avg_price.partition(".")[2]) - 6 + len(order.qty.partition(".")[2])
    return plain(value.quantize(Decimal(1).scaleb(-max(places, 0))))


def order(names: Names, o: R.Order) -> dict[str, Any]:
    """An order as ``GET /api/v3/order`` writes it."""
    at = ms(o.accepted_at)
    return {
        "symbol": names.to_id[o.symbol], "orderId": o.order_id, "orderListId": -1,
        "clientOrderId": o.client_order_id or "", "price": o.price or "0",
        "origQty": o.qty, "executedQty": o.filled_qty, "cummulativeQuoteQty": quote_qty(o),
        "status": status(o), "timeInForce": tif(o), "type": order_type(o),
        "side": side(o.side), "stopPrice": o.stop_price or "0", "icebergQty": "0",
        "time": at, "updateTime": at, "isWorking": o.status != "pending",
        "workingTime": at, "origQuoteOrderQty": "0", "selfTradePreventionMode": "NONE",
    }


def new_order(names: Names, o: R.Order, fills: list[R.Fill], resp: str,
              now_ms: int) -> dict[str, Any]:
    """The reply to ``POST /api/v3/order`` in the ``newOrderRespType`` asked for."""
    body: dict[str, Any] = {"symbol": names.to_id[o.symbol], "orderId": o.order_id,
                            "orderListId": -1, "clientOrderId": o.client_order_id or "",
                            "transactTime": now_ms}
    if resp == "ACK":
        return body
    body.update({
        "price": o.price or "0", "origQty": o.qty, "executedQty": o.filled_qty,
        "origQuoteOrderQty": "0", "cummulativeQuoteQty": quote_qty(o), "status": status(o),
        "timeInForce": tif(o), "type": order_type(o), "side": side(o.side),
        "workingTime": ms(o.accepted_at), "selfTradePreventionMode": "NONE",
    })
    if o.stop_price is not None:
        body["stopPrice"] = o.stop_price
    if resp == "FULL":
        body["fills"] = [{"price": f.price, "qty": f.qty, "commission": f.fee,
                          "commissionAsset": QUOTE, "tradeId": f.trade_id} for f in fills]
    return body


def canceled(names: Names, o: R.Order, now_ms: int) -> dict[str, Any]:
    """The reply to ``DELETE /api/v3/order``."""
    return {
        "symbol": names.to_id[o.symbol], "origClientOrderId": o.client_order_id or "",
        "orderId": o.order_id, "orderListId": -1, "clientOrderId": o.client_order_id or "",
        "transactTime": now_ms, "price": o.price or "0", "origQty": o.qty,
        "executedQty": o.filled_qty, "origQuoteOrderQty": "0",
        "cummulativeQuoteQty": quote_qty(o), "status": status(o), "timeInForce": tif(o),
        "type": order_type(o), "side": side(o.side), "selfTradePreventionMode": "NONE",
    }


def trade(t: R.Trade) -> dict[str, Any]:
    """A public trade as ``GET /api/v3/trades`` writes it."""
    return {"id": t.trade_id, "price": t.price, "qty": t.qty,
            "quoteQty": product(t.price, t.qty), "time": ms(t.ts),
            "isBuyerMaker": t.taker_side == "sell", "isBestMatch": True}


def agg_trade(t: R.Trade) -> dict[str, Any]:
    """A public trade as ``GET /api/v3/aggTrades`` writes it (one trade per aggregate)."""
    return {"a": t.trade_id, "p": t.price, "q": t.qty, "f": t.trade_id, "l": t.trade_id,
            "T": ms(t.ts), "m": t.taker_side == "sell", "M": True}


def my_trade(names: Names, f: R.Fill) -> dict[str, Any]:
    """One of the user's fills as ``GET /api/v3/myTrades`` writes it."""
    return {"symbol": names.to_id[f.symbol], "id": f.trade_id, "orderId": f.order_id,
            "orderListId": -1, "price": f.price, "qty": f.qty,
            "quoteQty": product(f.price, f.qty), "commission": f.fee,
            "commissionAsset": QUOTE, "time": ms(f.ts), "isBuyer": f.side == "buy",
            "isMaker": f.liquidity == "maker", "isBestMatch": True}


def kline(c: R.Candle, interval_ms: int) -> list[Any]:
    """A candle as a row of ``GET /api/v3/klines`` (quote volume and counts not kept)."""
    start = ms(c.t)
    return [start, c.o, c.h, c.l, c.c, c.v, start + interval_ms - 1, "0", 0, "0", "0", "0"]


def filters(info: R.SymbolInfo) -> list[dict[str, Any]]:
    """PRICE_FILTER from the tick, LOT_SIZE from the lot, PERCENT_PRICE_BY_SIDE from the
    band (the same on both sides: the band is around the last or reference price)."""
    rows: list[dict[str, Any]] = [
        {"filterType": "PRICE_FILTER", "minPrice": info.tick_size,
         "maxPrice": info.max_price or "0", "tickSize": info.tick_size},
        {"filterType": "LOT_SIZE", "minQty": info.lot_size, "maxQty": info.max_qty or "0",
         "stepSize": info.lot_size},
        {"filterType": "MARKET_LOT_SIZE", "minQty": info.lot_size,
         "maxQty": info.max_qty or "0", "stepSize": info.lot_size},
    ]
    if info.price_band is not None:
        band = Decimal(info.price_band)
        up, down = plain(1 + band), plain(1 - band)
        rows.append({"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": up,
                     "bidMultiplierDown": down, "askMultiplierUp": up,
                     "askMultiplierDown": down, "avgPriceMins": 0})
    return rows


def _places(step: str) -> int:
    return len(step.partition(".")[2])


def symbol_info(names: Names, info: R.SymbolInfo) -> dict[str, Any]:
    """One symbol of ``GET /api/v3/exchangeInfo``."""
    price_places = _places(info.tick_size)
    qty_places = _places(info.lot_size)
    return {
        "symbol": names.to_id[info.symbol], "status": "TRADING" if info.status == "open"
        else "HALT" if info.status == "halted" else "BREAK",
        "baseAsset": base_asset(info.symbol), "baseAssetPrecision": qty_places,
        "quoteAsset": QUOTE, "quotePrecision": price_places,
        "quoteAssetPrecision": price_places, "baseCommissionPrecision": qty_places,
        "quoteCommissionPrecision": price_places, "orderTypes": ORDER_TYPES,
        "icebergAllowed": False, "ocoAllowed": False, "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": False, "allowTrailingStop": False,
        "cancelReplaceAllowed": False, "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False, "filters": filters(info), "permissions": ["SPOT"],
        "permissionSets": [["SPOT"]], "defaultSelfTradePreventionMode": "NONE",
        "allowedSelfTradePreventionModes": list(_STP),
    }


def ticker_24hr(names: Names, q: R.QuoteReply, now_ms: int) -> dict[str, Any]:
    """``GET /api/v3/ticker/24hr`` of one symbol, from its quote (today's session)."""
    last = q.last or "0"
    open_ = q.open or last
    change = Decimal(last) - Decimal(open_)
    percent = (change * 100 / Decimal(open_)).quantize(Decimal("0.001")) if Decimal(
        open_) else Decimal(0)
    return {
        "symbol": names.to_id[q.symbol], "priceChange": plain(change) or "0",
        "priceChangePercent": f"{percent:f}", "weightedAvgPrice": last,
        "prevClosePrice": open_, "lastPrice": last, "lastQty": "0",
        "bidPrice": q.bid or "0", "bidQty": q.bid_qty or "0", "askPrice": q.ask or "0",
        "askQty": q.ask_qty or "0", "openPrice": open_, "highPrice": q.high or last,
        "lowPrice": q.low or last, "volume": q.volume, "quoteVolume": "0",
        "openTime": now_ms - 86_400_000, "closeTime": now_ms, "firstId": -1, "lastId": -1,
        "count": 0,
    }


def book_ticker(names: Names, q: R.QuoteReply) -> dict[str, Any]:
    return {"symbol": names.to_id[q.symbol], "bidPrice": q.bid or "0",
            "bidQty": q.bid_qty or "0", "askPrice": q.ask or "0", "askQty": q.ask_qty or "0"}
