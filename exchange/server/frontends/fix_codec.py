"""FIX 4.4 application messages <-> the protocol's request, reply and event messages.

Decoding turns a NewOrderSingle into :class:`protocol.messages.Place`, an
OrderCancelRequest into ``Cancel``, an OrderCancelReplaceRequest into ``Modify``, an
OrderStatusRequest into ``Status`` and an OrderMassCancelRequest into ``CancelAll``; what
cannot be turned into one is a :class:`Refusal` the session answers itself (a session-level
Reject naming the tag, or the message's own business reject). The request's FIX context
(its type, ClOrdIDs, the fields an ExecutionReport echoes) travels in the slot's ``ref``
as a :class:`Ref`, as docs/FRONTENDS.md says a front-end's correlation id does.

Encoding turns replies and events into message *bodies* (see :mod:`fix_wire`): ``Accepted``
into ExecutionReports New, then Trade per fill, then the final state; ``Modified`` into
Replaced and trades; ``Canceled`` into Canceled; ``Error`` into the reject of the request
it answers (ExecutionReport Rejected, OrderCancelReject, OrderMassCancelReport rejected);
``FillEvent``, ``Expired``, ``Triggered`` and ``Canceled`` events into ExecutionReports.
The mapping of every status and reason is in docs/FIX.md.

ClOrdIDs: an order placed over FIX has its ClOrdID as its protocol ``client_order_id``.
A cancel or replace carries a new ClOrdID, which FIX then uses for the order; the
protocol's id of the order does not change, so each user's :class:`ClOrdIds` maps the
new ClOrdIDs to the order's protocol id and the protocol id to its latest ClOrdID.
"""

from __future__ import annotations

import itertools
import re
import time
from decimal import Decimal
from typing import Any, Final

from exchange.server.frontends import fix_wire as W
from protocol import messages as M
from protocol import replies as R
from protocol.fields import (
    MAX_CLIENT_ORDER_ID_LEN,
    MAX_SYMBOL_LEN,
    check_decimal,
)

# -- enumerations -----------------------------------------------------------------------
SIDES: Final = {"1": "buy", "2": "sell"}
SIDE_CODES: Final = {"buy": "1", "sell": "2"}
FIX_SIDES: Final = frozenset("123456789ABCDEFG")
ORD_TYPES: Final = {"1": "market", "2": "limit", "3": "stop", "4": "stop_limit"}
ORD_TYPE_CODES: Final = {v: k for k, v in ORD_TYPES.items()}
FIX_ORD_TYPES: Final = frozenset({"1", "2", "3", "4", "6", "7", "8", "9", "D", "E", "G",
                                  "I", "J", "K", "L", "M", "P"})
TIFS: Final = {"0": "day", "1": "gtc", "3": "ioc", "4": "fok", "6": "gtd"}
TIF_CODES: Final = {v: k for k, v in TIFS.items()}
FIX_TIFS: Final = frozenset("01234567")
ORD_STATUS: Final = {"accepted": "0", "partially_filled": "1", "filled": "2",
                     "canceled": "4", "expired": "C", "rejected": "8", "pending": "0",
                     "paused": "9"}
"""The protocol's order status -> OrdStatus(39). A stop not yet triggered is New; an
order paused over JSON lines is Suspended."""

EXEC_NEW: Final = "0"
EXEC_CANCELED: Final = "4"
EXEC_REPLACED: Final = "5"
EXEC_REJECTED: Final = "8"
EXEC_EXPIRED: Final = "C"
EXEC_RESTATED: Final = "D"
EXEC_TRADE: Final = "F"
EXEC_STATUS: Final = "I"

ORD_REJ_REASONS: Final = {
    "insufficient_funds": 3, "insufficient_holdings": 3, "too_many_orders": 3,
    "bad_qty": 13, "market_closed": 2, "unknown_symbol": 1, "duplicate": 6,
    "unsupported": 11,
}
"""A rejected order's reason (or the error code of a refused NewOrderSingle) ->
OrdRejReason(103): 3 order exceeds limit, 13 incorrect quantity, 2 exchange closed,
1 unknown symbol, 6 duplicate order, 11 unsupported order characteristic; any other
(``bad_price``, ``price_band``, ``would_take``, ``no_liquidity``, ``halted``,
``bad_request``, ``rate_limited``, ``server_busy``) is 99 other. Text(58) always starts
with the protocol's word."""

CXL_REJ_REASONS: Final = {"not_live": 0, "unknown_order": 1, "duplicate": 6}
"""An error code -> CxlRejReason(102): 0 too late to cancel, 1 unknown order,
6 duplicate ClOrdID; any other is 99."""

MASS_TYPES: Final = {"1": "symbol", "7": "all"}

SUPPORTED: Final = frozenset({W.NEW_ORDER_SINGLE, W.ORDER_CANCEL_REQUEST,
                              W.ORDER_CANCEL_REPLACE_REQUEST, W.ORDER_STATUS_REQUEST,
                              W.ORDER_MASS_CANCEL_REQUEST})
_FIX44_TYPE_WORDS: Final = (
    "0 1 2 3 4 5 6 7 8 9 A AA AB AC AD AE AF AG AH AI AJ AK AL AM AN AO AP AQ AR AS AT AU "
    "AV AW AX AY AZ B BA BB BC BD BE BF BG BH C D E F G H J K L M N P Q R S T V W X Y Z a "
    "b c d e f g h i j k l m n o p q r s t u v w x y z")
FIX44_TYPES: Final = frozenset(_FIX44_TYPE_WORDS.split())
"""Every MsgType of FIX 4.4: one that is not supported gets a BusinessMessageReject,
one that is not FIX 4.4 at all a session-level Reject."""

REQUIRED: Final = {
    W.NEW_ORDER_SINGLE: (W.CL_ORD_ID, W.SYMBOL, W.SIDE, W.TRANSACT_TIME, W.ORDER_QTY,
                         W.ORD_TYPE),
    W.ORDER_CANCEL_REQUEST: (W.ORIG_CL_ORD_ID, W.CL_ORD_ID, W.SYMBOL, W.SIDE,
                             W.TRANSACT_TIME),
    W.ORDER_CANCEL_REPLACE_REQUEST: (W.ORIG_CL_ORD_ID, W.CL_ORD_ID, W.SYMBOL, W.SIDE,
                                     W.TRANSACT_TIME, W.ORD_TYPE),
    W.ORDER_STATUS_REQUEST: (W.CL_ORD_ID, W.SYMBOL, W.SIDE),
    W.ORDER_MASS_CANCEL_REQUEST: (W.CL_ORD_ID, W.MASS_CANCEL_REQUEST_TYPE, W.TRANSACT_TIME),
}
"""Tags each supported message must have (FIX44.xml's required fields, and OrderQty,
which the order needs); one missing is a session-level Reject naming it."""

_DECIMAL: Final = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)")


class ClOrdIds:
    """One user's ClOrdIDs that are not the protocol id of their order (see module doc)."""

    __slots__ = ("alias", "latest")

    def __init__(self) -> None:
        self.alias: dict[str, int | str] = {}
        """A cancel's or replace's ClOrdID -> the order: its order_id once the request
        went through, the protocol client_order_id (or order_id) it was sent for until then."""
        self.latest: dict[int, str] = {}
        """order_id -> the latest ClOrdID FIX knows the order by, when it is not its
        client_order_id."""

    def resolve(self, cl_ord_id: str) -> tuple[int | None, str | None]:
        """(order_id, client_order_id) for the protocol request about ``cl_ord_id``."""
        found = self.alias.get(cl_ord_id, cl_ord_id)
        if type(found) is int:
            return found, None
        return None, str(found)

    def current(self, order: R.Order) -> str | None:
        return self.latest.get(order.order_id, order.client_order_id) if self.latest else (
            order.client_order_id)


class Ref:
    """A request's FIX context, kept in its slot until the reply is encoded."""

    __slots__ = ("cl_ord_id", "expire_time", "fields", "ids", "kind", "mass_type", "msg_type",
                 "orig_cl_ord_id", "seq", "status_req_id", "symbol", "then")

    def __init__(self, msg_type: str, seq: int, fields: dict[int, str], ids: ClOrdIds | None
                 ) -> None:
        self.msg_type = msg_type
        self.seq = seq
        self.fields = fields
        self.ids = ids
        self.cl_ord_id = fields.get(W.CL_ORD_ID)
        self.orig_cl_ord_id = fields.get(W.ORIG_CL_ORD_ID)
        self.symbol = fields.get(W.SYMBOL)
        self.status_req_id = fields.get(W.ORD_STATUS_REQ_ID)
        self.mass_type = fields.get(W.MASS_CANCEL_REQUEST_TYPE)
        self.expire_time = fields.get(W.EXPIRE_TIME)
        self.kind = ""
        """``mass_follow``: a status asked for after a mass cancel, answered as Canceled."""
        self.then: Any = None
        """Work for the session once the reply is encoded (a mass cancel's follow-ups)."""


class Refusal:
    """A message the session answers itself: a session-level Reject (``tag`` and
    ``reason`` set) or, with ``code``, the message's own business reject."""

    __slots__ = ("code", "reason", "tag", "text")

    def __init__(self, text: str, tag: int | None = None, reason: int | None = None,
                 code: str = "bad_request") -> None:
        self.text = text
        self.tag = tag
        self.reason = reason
        self.code = code


class _Bad(Exception):
    def __init__(self, refusal: Refusal) -> None:
        self.refusal = refusal


def _required(msg_type: str, fields: dict[int, str]) -> None:
    for tag in REQUIRED[msg_type]:
        if tag not in fields:
            raise _Bad(Refusal(f"Required tag missing: {tag}", tag, W.REQUIRED_TAG_MISSING))


def _decimal(fields: dict[int, str], tag: int, name: str) -> Decimal | None:
    text = fields.get(tag)
    if text is None:
        return None
    if not _DECIMAL.fullmatch(text):
        raise _Bad(Refusal(f"Incorrect data format for value: {name}({tag})", tag,
                           W.INCORRECT_DATA_FORMAT))
    try:
        return check_decimal(Decimal(text), name)
    except ValueError:
        raise _Bad(Refusal(f"Value is incorrect (out of range) for this tag: {name}({tag})",
                           tag, W.VALUE_INCORRECT)) from None


def _unsupported(text: str) -> _Bad:
    return _Bad(Refusal(text, code="unsupported"))


def _cl_ord_id(fields: dict[int, str], tag: int) -> str:
    value = fields[tag]
    if len(value) > MAX_CLIENT_ORDER_ID_LEN:
        raise _Bad(Refusal(f"Value is incorrect (out of range) for this tag: {tag} is over "
                           f"{MAX_CLIENT_ORDER_ID_LEN} characters", tag, W.VALUE_INCORRECT))
    return value


def _side(fields: dict[int, str]) -> str:
    code = fields[W.SIDE]
    if code not in FIX_SIDES:
        raise _Bad(Refusal("Value is incorrect (out of range) for this tag: Side(54)",
                           W.SIDE, W.VALUE_INCORRECT))
    side = SIDES.get(code)
    if side is None:
        raise _unsupported(f"Side(54)={code} is not supported: 1 (buy) or 2 (sell)")
    return side


def _transact_time(fields: dict[int, str]) -> None:
    if not W.is_utc_timestamp(fields[W.TRANSACT_TIME]):
        raise _Bad(Refusal("Incorrect data format for value: TransactTime(60)",
                           W.TRANSACT_TIME, W.INCORRECT_DATA_FORMAT))


def _address(fields: dict[int, str], ids: ClOrdIds) -> tuple[int | None, str | None]:
    """(order_id, client_order_id) of the order a request names: OrderID(37) when it is
    one of ours, else OrigClOrdID(41) (or ClOrdID for a status request)."""
    order_id = fields.get(W.ORDER_ID)
    if order_id is not None and order_id.isdigit() and 0 < int(order_id) < 2**63:
        return int(order_id), None
    tag = W.ORIG_CL_ORD_ID if W.ORIG_CL_ORD_ID in fields else W.CL_ORD_ID
    return ids.resolve(_cl_ord_id(fields, tag))


def decode(msg_type: str, fields: dict[int, str], ids: ClOrdIds) -> Any:
    """The request message for an application message, or a :class:`Refusal`."""
    try:
        _required(msg_type, fields)
        if msg_type == W.NEW_ORDER_SINGLE:
            return _place(fields, ids)
        if msg_type == W.ORDER_CANCEL_REQUEST:
            _side(fields)
            _transact_time(fields)
            new_id = _cl_ord_id(fields, W.CL_ORD_ID)
            order_id, cid = _address(fields, ids)
            _claim(ids, new_id, order_id, cid)
            return M.Cancel(order_id=order_id, client_order_id=cid)
        if msg_type == W.ORDER_CANCEL_REPLACE_REQUEST:
            return _replace(fields, ids)
        if msg_type == W.ORDER_STATUS_REQUEST:
            _side(fields)
            order_id, cid = _address(fields, ids)
            return M.Status(order_id=order_id, client_order_id=cid)
        if msg_type == W.ORDER_MASS_CANCEL_REQUEST:
            _transact_time(fields)
            kind = MASS_TYPES.get(fields[W.MASS_CANCEL_REQUEST_TYPE])
            if kind is None:
                raise _unsupported("MassCancelRequestType(530) must be 1 (a security) or 7 "
                                   "(all orders)")
            if kind == "symbol":
                if W.SYMBOL not in fields:
                    raise _Bad(Refusal("Required tag missing: 55", W.SYMBOL,
                                       W.REQUIRED_TAG_MISSING))
                return M.CancelAll(symbol=_symbol(fields))
            return M.CancelAll()
    except _Bad as bad:
        return bad.refusal
    raise AssertionError(msg_type)  # pragma: no cover - only SUPPORTED types come here


def _symbol(fields: dict[int, str]) -> str:
    symbol = fields[W.SYMBOL]
    if len(symbol) > MAX_SYMBOL_LEN:
        raise _Bad(Refusal(f"unknown symbol {symbol[:MAX_SYMBOL_LEN]!r}...", code="unknown_symbol"))
    return symbol


def _claim(ids: ClOrdIds, new_id: str, order_id: int | None, cid: str | None) -> None:
    """A cancel's or replace's new ClOrdID names the order from now on (taken back if the
    request fails), so that a request pipelined behind it may name it. Known already: a
    duplicate."""
    if new_id in ids.alias:
        raise _Bad(Refusal(f"ClOrdID(11) {new_id!r} is already in use", code="duplicate"))
    if new_id != cid:
        ids.alias[new_id] = order_id if order_id is not None else str(cid)


def _place(fields: dict[int, str], ids: ClOrdIds) -> Any:
    cl_ord_id = _cl_ord_id(fields, W.CL_ORD_ID)
    if cl_ord_id in ids.alias:
        raise _Bad(Refusal(f"ClOrdID(11) {cl_ord_id!r} is already in use", code="duplicate"))
    symbol = _symbol(fields)
    side = _side(fields)
    _transact_time(fields)
    ord_type = fields[W.ORD_TYPE]
    if ord_type not in FIX_ORD_TYPES:
        raise _Bad(Refusal("Value is incorrect (out of range) for this tag: OrdType(40)",
                           W.ORD_TYPE, W.VALUE_INCORRECT))
    kind = ORD_TYPES.get(ord_type)
    if kind is None:
        raise _unsupported(f"OrdType(40)={ord_type} is not supported: 1 (market), 2 (limit), "
                           "3 (stop) or 4 (stop limit)")
    qty = _decimal(fields, W.ORDER_QTY, "OrderQty")
    price = _decimal(fields, W.PRICE, "Price")
    stop = _decimal(fields, W.STOP_PX, "StopPx")
    needs_price = kind in ("limit", "stop_limit")
    needs_stop = kind in ("stop", "stop_limit")
    if needs_price and price is None:
        raise _Bad(Refusal(f"Required tag missing: Price(44) for OrdType(40)={ord_type}",
                           W.PRICE, W.REQUIRED_TAG_MISSING))
    if not needs_price and price is not None:
        raise _unsupported(f"Price(44) is not allowed for OrdType(40)={ord_type}")
    if needs_stop and stop is None:
        raise _Bad(Refusal(f"Required tag missing: StopPx(99) for OrdType(40)={ord_type}",
                           W.STOP_PX, W.REQUIRED_TAG_MISSING))
    if not needs_stop and stop is not None:
        raise _unsupported(f"StopPx(99) is not allowed for OrdType(40)={ord_type}")
    tif_code = fields.get(W.TIME_IN_FORCE, "0")
    if tif_code not in FIX_TIFS:
        raise _Bad(Refusal("Value is incorrect (out of range) for this tag: TimeInForce(59)",
                           W.TIME_IN_FORCE, W.VALUE_INCORRECT))
    tif = TIFS.get(tif_code)
    if tif is None:
        raise _unsupported(f"TimeInForce(59)={tif_code} is not supported: 0, 1, 3, 4 or 6")
    expire_at = None
    expire_text = fields.get(W.EXPIRE_TIME)
    if tif == "gtd":
        if expire_text is None:
            raise _Bad(Refusal("Required tag missing: ExpireTime(126) for TimeInForce(59)=6",
                               W.EXPIRE_TIME, W.REQUIRED_TAG_MISSING))
        expire_at = W.parse_utc_timestamp(expire_text)
        if expire_at is None:
            raise _Bad(Refusal("Incorrect data format for value: ExpireTime(126)",
                               W.EXPIRE_TIME, W.INCORRECT_DATA_FORMAT))
        if expire_at.timestamp() <= time.time():
            raise _unsupported("ExpireTime(126) is in the past")
    elif expire_text is not None:
        raise _unsupported("ExpireTime(126) needs TimeInForce(59)=6")
    post_only = False
    inst = fields.get(W.EXEC_INST)
    if inst is not None:
        words = inst.split()
        if any(word != "6" for word in words):
            raise _unsupported(f"ExecInst(18)={inst} is not supported: only 6 "
                               "(participate, do not initiate: post-only)")
        post_only = bool(words)
    assert qty is not None  # required
    try:
        return M.Place(symbol=symbol, side=side, qty=qty, kind=kind, price=price,  # type: ignore[arg-type]
                       stop_price=stop, tif=tif, expire_at=expire_at,  # type: ignore[arg-type]
                       post_only=post_only, client_order_id=cl_ord_id)
    except ValueError as exc:  # pragma: no cover - every rule above is checked first
        raise _unsupported(str(exc)) from None


def _replace(fields: dict[int, str], ids: ClOrdIds) -> Any:
    _side(fields)
    _transact_time(fields)
    new_id = _cl_ord_id(fields, W.CL_ORD_ID)
    ord_type = fields[W.ORD_TYPE]
    kind = ORD_TYPES.get(ord_type)
    if kind is None:
        raise _unsupported(f"OrdType(40)={ord_type} is not supported")
    qty = _decimal(fields, W.ORDER_QTY, "OrderQty")
    price = _decimal(fields, W.PRICE, "Price") if kind in ("limit", "stop_limit") else None
    if qty is None and price is None:
        raise _Bad(Refusal("Required tag missing: OrderQty(38)", W.ORDER_QTY,
                           W.REQUIRED_TAG_MISSING))
    order_id, cid = _address(fields, ids)
    _claim(ids, new_id, order_id, cid)
    return M.Modify(order_id=order_id, client_order_id=cid, qty=qty, price=price)


# -- encoding ----------------------------------------------------------------------------

def _like(value: Decimal, like: str) -> str:
    """``value`` with as many decimals as ``like`` has."""
    exponent = Decimal(like).as_tuple().exponent
    assert isinstance(exponent, int)
    return str(value.quantize(Decimal(1).scaleb(exponent)))


def _avg(notional: Decimal, cum: Decimal, price: str) -> str:
    """The average price as the protocol writes it: six more decimals than the tick."""
    places = len(price.partition(".")[2]) + 6
    return str((notional / cum).quantize(Decimal(1).scaleb(-places)))


class Encoder:
    """Replies and events to message bodies. One per acceptor: ExecIDs are unique across
    its sessions (``<start>-<n>``, the server's start time making them unique across
    restarts), and an event pushed to several sessions is encoded once."""

    __slots__ = ("_exec_ids", "_last_data", "_last_event", "_prefix", "ids_of", "wall")

    def __init__(self, ids_of: Any) -> None:
        self.ids_of = ids_of
        """``ids_of(user) -> ClOrdIds``: the user's ClOrdIDs."""
        self._prefix = f"{int(time.time() * 1000):x}-"
        self._exec_ids = itertools.count(1)
        self.wall = W.WallClock()
        self._last_event: Any = None
        self._last_data = b""

    def exec_id(self) -> str:
        return f"{self._prefix}{next(self._exec_ids)}"

    # -- ExecutionReports ----------------------------------------------------------------
    def report(self, order: R.Order, exec_type: str, ord_status: str, cum: str, leaves: str,
               avg: str | None, cl_ord_id: str | None, orig: str | None = None,
               fill: R.Fill | None = None, text: str | None = None,
               rej_reason: int | None = None, status_req_id: str | None = None,
               restated: bool = False) -> bytes:
        """An ExecutionReport: one f-string for the fields every report has, the optional
        ones appended (this runs once or more per order)."""
        head = f"35=8\x0137={order.order_id}\x01"
        if cl_ord_id is not None:
            head += f"11={cl_ord_id}\x01"
        if orig is not None:
            head += f"41={orig}\x01"
        if status_req_id is not None:
            head += f"790={status_req_id}\x01"
        head += (f"17={self._prefix}{next(self._exec_ids)}\x01150={exec_type}\x01"
                 f"39={ord_status}\x01")
        if rej_reason is not None:
            head += f"103={rej_reason}\x01"
        if restated:
            head += "378=99\x01"
        head += (f"1={order.user}\x0155={order.symbol}\x0154={SIDE_CODES[order.side]}\x01"
                 f"38={order.qty}\x0140={ORD_TYPE_CODES[order.kind]}\x01")
        if order.price is not None and order.kind != "stop":
            head += f"44={order.price}\x01"
        if order.stop_price is not None:
            head += f"99={order.stop_price}\x01"
        head += f"59={TIF_CODES[order.tif]}\x01"
        if order.expires_at is not None:
            head += f"126={W.from_rfc3339(order.expires_at)}\x01"
        if fill is not None:
            # Commission(12) as an absolute amount of cash, CommType(13) 3 (FIX 4.4).
            head += (f"32={fill.qty}\x0131={fill.price}\x01"
                     f"851={1 if fill.liquidity == 'maker' else 2}\x01"
                     f"12={fill.fee}\x0113=3\x01")
            when = W.from_rfc3339(fill.ts)
        else:
            when = self.wall.stamp().decode()
        head += f"151={leaves}\x0114={cum}\x016={avg or 0}\x0160={when}\x01"
        if text is not None:
            head += f"58={text}\x01"
        return head.encode()

    def _now_state(self, order: R.Order, exec_type: str, cl_ord_id: str | None,
                   orig: str | None = None, fill: R.Fill | None = None,
                   text: str | None = None, status_req_id: str | None = None) -> bytes:
        """A report with the order's state as the view gives it."""
        return self.report(order, exec_type, ORD_STATUS[order.status], order.filled_qty,
                           order.leaves_qty, order.avg_price, cl_ord_id, orig, fill,
                           text, status_req_id=status_req_id,
                           restated=exec_type == EXEC_RESTATED)

    def _progress(self, order: R.Order, fills: list[R.Fill], first: bytes | None,
                  cl_ord_id: str | None, orig: str | None, exec_type: str,
                  triggered: bool = False) -> bytes:
        """The report of a request (New or Replaced) as the state was before its fills,
        then one Trade report per fill with the state after it, then the end (Expired,
        Canceled) when the order ended otherwise than filled."""
        if not fills and not triggered and first is None and order.status in _AS_IS:
            # The common case (an order that rests untouched): the view's own figures.
            return self.report(order, exec_type, ORD_STATUS[order.status], order.filled_qty,
                               order.leaves_qty, order.avg_price, cl_ord_id, orig)
        qty = Decimal(order.qty)
        cum = Decimal(order.filled_qty)
        notional = Decimal(0)
        for fill in fills:
            cum -= Decimal(fill.qty)
        # What was filled before this request (a replace of a partly filled order).
        before_cum = cum
        before_avg: str | None = None
        if before_cum > 0 and order.avg_price is not None:
            total = Decimal(order.avg_price) * Decimal(order.filled_qty)
            for fill in fills:
                total -= Decimal(fill.price) * Decimal(fill.qty)
            notional = total
            before_avg = order.avg_price if not fills else _avg(total, before_cum,
                                                                 fills[0].price)
        parts = [] if first is None else [first]
        live = "1" if before_cum > 0 else "0"
        parts.append(self.report(order, exec_type, live, _like(before_cum, order.qty),
                                 _like(qty - before_cum, order.qty), before_avg,
                                 cl_ord_id, orig))
        if triggered:
            parts.append(self.report(order, EXEC_RESTATED, live, _like(before_cum, order.qty),
                                     _like(qty - before_cum, order.qty), before_avg,
                                     cl_ord_id, None, text="triggered", restated=True))
        last = len(fills) - 1
        for i, fill in enumerate(fills):
            fill_qty = Decimal(fill.qty)
            cum += fill_qty
            notional += Decimal(fill.price) * fill_qty
            if i == last:  # the view's own figures
                avg, cum_text = order.avg_price, order.filled_qty
            else:
                avg, cum_text = _avg(notional, cum, fill.price), _like(cum, order.qty)
            parts.append(self.report(order, EXEC_TRADE, "2" if cum >= qty else "1", cum_text,
                                     _like(qty - cum, order.qty), avg, cl_ord_id, None, fill))
        if order.status in ("expired", "canceled"):
            parts.append(self._now_state(
                order, EXEC_EXPIRED if order.status == "expired" else EXEC_CANCELED,
                cl_ord_id, text=order.reason))
        return b"".join(parts)

    # -- replies ----------------------------------------------------------------------------
    def encode_reply(self, reply: Any, ref: Any) -> bytes:
        kind = type(reply)
        if kind is R.Accepted:
            order = reply.order
            cl = ref.cl_ord_id if ref is not None else order.client_order_id
            if reply.duplicate:
                return self._now_state(order, EXEC_STATUS, cl,
                                       text="duplicate ClOrdID: the order placed before")
            triggered = order.kind in ("stop", "stop_limit") and order.status != "pending"
            return self._progress(order, reply.fills, None, cl, None, EXEC_NEW, triggered)
        if kind is R.Rejected:
            order = reply.order
            reason = order.reason or "rejected"
            return self.report(order, EXEC_REJECTED, "8", order.filled_qty, "0", None,
                               ref.cl_ord_id if ref is not None else order.client_order_id,
                               text=reason, rej_reason=ORD_REJ_REASONS.get(reason, 99))
        if kind is R.Modified:
            self._took(ref, reply.order)
            return self._progress(reply.order, reply.fills, None, ref.cl_ord_id,
                                  ref.orig_cl_ord_id, EXEC_REPLACED)
        if kind is R.Canceled:
            self._took(ref, reply.order)
            return self._now_state(reply.order, EXEC_CANCELED, ref.cl_ord_id,
                                   ref.orig_cl_ord_id)
        if kind is R.OrderReply:
            order = reply.order
            if ref.kind == "mass_follow":
                return self._now_state(order, EXEC_CANCELED, ref.ids.current(order),
                                       text="mass cancel")
            return self._now_state(order, EXEC_STATUS, ref.ids.current(order),
                                   status_req_id=ref.status_req_id)
        if kind is R.CanceledAll:
            return self._mass_report(ref, reply.count)
        if kind is R.Error:
            return self.encode_error(reply.code, reply.message, ref)
        raise AssertionError(f"no FIX form for {kind.__name__}")  # pragma: no cover

    def _took(self, ref: Ref, order: R.Order) -> None:
        """A cancel or replace went through: its ClOrdID names the order from now on."""
        ids = ref.ids
        if ids is not None and ref.cl_ord_id is not None:
            if ref.cl_ord_id != order.client_order_id:
                ids.latest[order.order_id] = ref.cl_ord_id
                ids.alias[ref.cl_ord_id] = order.order_id
            else:
                ids.latest.pop(order.order_id, None)

    def _mass_report(self, ref: Ref, count: int) -> bytes:
        """The mass cancel's answer: how many orders it canceled. The orders themselves
        follow as one ExecutionReport Canceled each (the AffectedOrdGrp is left out: its
        entries must start with an OrigClOrdID, which an order placed over JSON lines
        does not have)."""
        fields: list[tuple[int, str | int | None]] = [
            (W.CL_ORD_ID, ref.cl_ord_id), (W.ORDER_ID, ref.cl_ord_id),
            (W.MASS_CANCEL_REQUEST_TYPE, ref.mass_type),
            (W.MASS_CANCEL_RESPONSE, ref.mass_type), (W.TOTAL_AFFECTED_ORDERS, count),
            (W.SYMBOL, ref.symbol if ref.mass_type == "1" else None),
            (W.TRANSACT_TIME, self.wall.stamp().decode())]
        return W.body(W.ORDER_MASS_CANCEL_REPORT, *fields)

    def encode_error(self, code: str, message: str, ref: Any) -> bytes:
        """An error reply, as the reject of the request it answers."""
        msg_type = ref.msg_type if ref is not None else ""
        text = f"{code}: {message}"
        if msg_type == W.NEW_ORDER_SINGLE:
            fields = ref.fields
            side = fields.get(W.SIDE, "1")
            return W.body(
                W.EXECUTION_REPORT, (W.ORDER_ID, "NONE"), (W.CL_ORD_ID, ref.cl_ord_id),
                (W.EXEC_ID, self.exec_id()), (W.EXEC_TYPE, EXEC_REJECTED), (W.ORD_STATUS, "8"),
                (W.ORD_REJ_REASON, ORD_REJ_REASONS.get(code, 99)),
                (W.SYMBOL, fields.get(W.SYMBOL)), (W.SIDE, side if side in FIX_SIDES else "1"),
                (W.LEAVES_QTY, 0), (W.CUM_QTY, 0), (W.AVG_PX, 0),
                (W.TRANSACT_TIME, self.wall.stamp().decode()), (W.TEXT, text))
        if msg_type in (W.ORDER_CANCEL_REQUEST, W.ORDER_CANCEL_REPLACE_REQUEST):
            ids = ref.ids
            if ids is not None and ref.kind == "claimed" and ref.cl_ord_id in ids.alias:
                # The new ClOrdID was claimed when the request was read; it names nothing.
                del ids.alias[ref.cl_ord_id]
            order_id, status = "NONE", "8"
            found = _NOT_LIVE.search(message) if code == "not_live" else None
            if found is not None:
                order_id, status = found.group(1), ORD_STATUS.get(found.group(2), "8")
            elif code != "unknown_order":
                given = ref.fields.get(W.ORDER_ID)
                order_id = given if given is not None else "NONE"
                status = "0"
            return W.body(
                W.ORDER_CANCEL_REJECT, (W.ORDER_ID, order_id), (W.CL_ORD_ID, ref.cl_ord_id),
                (W.ORIG_CL_ORD_ID, ref.orig_cl_ord_id), (W.ORD_STATUS, status),
                (W.CXL_REJ_RESPONSE_TO, "1" if msg_type == W.ORDER_CANCEL_REQUEST else "2"),
                (W.CXL_REJ_REASON, CXL_REJ_REASONS.get(code, 99)), (W.TEXT, text))
        if msg_type == W.ORDER_STATUS_REQUEST:
            fields = ref.fields
            return W.body(
                W.EXECUTION_REPORT, (W.ORDER_ID, "NONE"), (W.CL_ORD_ID, ref.cl_ord_id),
                (W.ORD_STATUS_REQ_ID, ref.status_req_id),
                (W.EXEC_ID, self.exec_id()), (W.EXEC_TYPE, EXEC_STATUS), (W.ORD_STATUS, "8"),
                (W.ORD_REJ_REASON, 5 if code == "unknown_order" else 99),
                (W.SYMBOL, fields.get(W.SYMBOL)), (W.SIDE, fields.get(W.SIDE)),
                (W.LEAVES_QTY, 0), (W.CUM_QTY, 0), (W.AVG_PX, 0), (W.TEXT, text))
        if msg_type == W.ORDER_MASS_CANCEL_REQUEST:
            return W.body(
                W.ORDER_MASS_CANCEL_REPORT, (W.CL_ORD_ID, ref.cl_ord_id),
                (W.ORDER_ID, ref.cl_ord_id), (W.MASS_CANCEL_REQUEST_TYPE, ref.mass_type or "7"),
                (W.MASS_CANCEL_RESPONSE, "0"),
                (W.MASS_CANCEL_REJECT_REASON,
                 "1" if code == "unknown_symbol" else "0" if code == "unsupported" else "99"),
                (W.TEXT, text))
        if msg_type == W.LOGON or ref is None:
            return W.body(W.LOGOUT, (W.TEXT, text))
        return W.body(W.BUSINESS_MESSAGE_REJECT, (W.REF_SEQ_NUM, ref.seq),
                      (W.REF_MSG_TYPE, msg_type), (W.BUSINESS_REJECT_REF_ID, ref.cl_ord_id),
                      (W.BUSINESS_REJECT_REASON, 0), (W.TEXT, text))

    # -- events ---------------------------------------------------------------------------------
    def encode_event(self, event: Any) -> bytes:
        if event is self._last_event:
            return self._last_data
        kind = type(event)
        order = getattr(event, "order", None)
        if kind is R.Error:  # the gateway ends the session (its user was disabled)
            data = W.body(W.LOGOUT, (W.TEXT, f"{event.code}: {event.message}"))
        elif order is None:
            data = b""  # a stream message: FIX sessions subscribe to none
        else:
            cl = self.ids_of(order.user).current(order)
            if kind is R.FillEvent:
                data = self._now_state(order, EXEC_TRADE, cl, fill=event.fill)
            elif kind is R.Expired:
                data = self._now_state(order, EXEC_EXPIRED, cl, text=order.reason)
            elif kind is R.Triggered:
                data = self._now_state(order, EXEC_RESTATED, cl, text="triggered")
            elif kind is R.Canceled:
                data = self._now_state(order, EXEC_CANCELED, cl, text=order.reason)
            else:
                data = b""
        self._last_event = event
        self._last_data = data
        return data


_AS_IS: Final = frozenset({"accepted", "pending", "partially_filled", "paused"})
"""Statuses in which a report without fills shows the view's figures as they are."""

_NOT_LIVE: Final = re.compile(r"order (\d+) is (\w+)$")
"""The core's not_live message, ``order_id: order 17 is filled``: its id and status."""
