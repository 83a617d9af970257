"""JSON requests: round trips, decimals, and every way a request can be malformed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from wire_examples import REQUESTS

from protocol import messages as m
from protocol.codec import INVALID_UTF8_ERROR, decode_request, encode
from protocol.errors import ProtocolError
from protocol.messages import OPS, REQUEST_TYPES


def req(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def place(**extra: Any) -> bytes:
    fields: dict[str, Any] = {"op": "place", "symbol": "AAPL", "side": "buy", "qty": "100"}
    fields.update(extra)
    return req(**fields)


def error(line: bytes) -> ProtocolError:
    result = decode_request(line)
    assert isinstance(result, ProtocolError), result
    return result


# --- round trips ------------------------------------------------------------------------


def test_examples_cover_every_request_type() -> None:
    assert {type(x) for x in REQUESTS} == set(REQUEST_TYPES)
    # + account administration and profiles, + two-factor login, watchlists and search
    # + history, audit trail, reports and the inbox
    assert len(OPS) == 30 + 6 + 7 + 8


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda x: type(x).__name__)
def test_request_round_trips(request_: m.Request) -> None:
    line = encode(request_)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode_request(line[:-1]) == request_
    assert decode_request(line) == request_  # trailing whitespace is fine


def test_encoding_is_compact_and_omits_defaults() -> None:
    assert encode(m.Ping()) == b'{"op":"ping"}\n'
    assert encode(m.Ping(ref=7)) == b'{"op":"ping","ref":7}\n'
    line = encode(m.Place(symbol="AAPL", side="buy", qty=Decimal("1"), price=Decimal("2.50")))
    assert json.loads(line) == {
        "op": "place",
        "symbol": "AAPL",
        "side": "buy",
        "qty": "1",
        "price": "2.50",
        "tif": "gtc",
    }


def test_leading_blanks_before_json() -> None:
    assert decode_request(b'  \t{"op":"ping","ref":1}') == m.Ping(ref=1)


@pytest.mark.parametrize("line", [b"", b" ", b"\t \t", b"\r"])
def test_blank_line_is_none(line: bytes) -> None:
    assert decode_request(line) is None


def test_full_place_decodes() -> None:
    line = place(
        kind="stop_limit",
        price="147.50",
        stop_price=148,
        ttl_ms=30000,
        post_only=True,
        stp="cancel_both",
        client_order_id="c-1",
        ref="abc",
    )
    assert decode_request(line) == m.Place(
        symbol="AAPL",
        side="buy",
        qty=Decimal("100"),
        kind="stop_limit",
        price=Decimal("147.50"),
        stop_price=Decimal("148"),
        tif="gtd",
        ttl_ms=30000,
        post_only=True,
        stp="cancel_both",
        client_order_id="c-1",
        ref="abc",
    )


# --- decimals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b'"150.25"', "150.25"),
        (b"150.25", "150.25"),
        (b"1e2", "1E+2"),
        (b"0.1", "0.1"),
        (b'"0.10"', "0.10"),
        (b"123456789012345678.123456789012345678", "123456789012345678.123456789012345678"),
        (b'"0.000000000000000001"', "1E-18"),
        (b'"1.5000000000000000000000000000"', "1.5000000000000000000000000000"),
    ],
)
def test_decimals_are_exact(raw: bytes, text: str) -> None:
    line = b'{"op":"place","symbol":"AAPL","side":"buy","qty":1,"price":' + raw + b"}"
    result = decode_request(line)
    assert isinstance(result, m.Place)
    assert isinstance(result.price, Decimal)
    assert str(result.price) == text
    assert result.price == Decimal(text)


def test_float_decimal_does_not_go_through_binary() -> None:
    result = decode_request(place(price=0.1, qty=0.3))
    assert isinstance(result, m.Place)
    assert result.qty == Decimal("0.3")
    assert result.qty != Decimal.from_float(0.3)  # what a detour through a float gives
    assert result.price == Decimal("0.1")


@pytest.mark.parametrize(
    "raw",
    [
        b'"NaN"',
        b'"nan"',
        b'"sNaN"',
        b'"Infinity"',
        b'"-Infinity"',
        b'"inf"',
        b'"abc"',
        b'""',
        b"true",
        b"[1]",
        b'"1e999999999"',
        b"1e18",
        b'"0.0000000000000000001"',
    ],
)
def test_bad_decimals_name_the_field(raw: bytes) -> None:
    line = b'{"op":"place","symbol":"AAPL","side":"buy","qty":1,"price":' + raw + b',"ref":5}'
    err = error(line)
    assert err.code == "bad_request"
    assert "`$.price`" in err.message
    assert err.ref == 5


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (req(op="deposit", amount="NaN"), "amount"),
        (req(op="withdraw", amount="Infinity"), "amount"),
        (req(op="modify", order_id=1, qty="NaN"), "qty"),
        (req(op="modify", order_id=1, price="-Infinity"), "price"),
        (req(op="alert", symbol="AAPL", above="NaN"), "above"),
        (req(op="alert", symbol="AAPL", below="NaN"), "below"),
        (place(qty="NaN", price="1"), "qty"),
        (place(kind="stop", stop_price="NaN"), "stop_price"),
    ],
)
def test_non_finite_decimals_in_every_decimal_field(line: bytes, field: str) -> None:
    err = error(line)
    assert err.code == "bad_request"
    assert f"`$.{field}`" in err.message


def test_trailing_zeros_do_not_count_as_places() -> None:
    result = decode_request(req(op="deposit", amount="1." + "0" * 40))
    assert isinstance(result, m.Deposit)
    assert result.amount == 1


# --- malformed requests -----------------------------------------------------------------


@pytest.mark.parametrize(
    "line", [b'{"op":"ping"', b'{"op":"ping",}', b"{op:ping}", b'{"op":"ping"} x', b"{"]
)
def test_bad_json(line: bytes) -> None:
    err = error(line)
    assert err.code == "bad_json"
    assert err.ref is None


def test_unknown_op_keeps_ref() -> None:
    assert error(req(op="teleport", ref=9)) == ProtocolError(
        "unknown_op", "Unknown op 'teleport' - at `$.op`", 9
    )


def test_unknown_op_with_other_fields() -> None:
    err = error(req(op="Place", symbol="AAPL", ref="q"))  # ops are case-sensitive in JSON
    assert (err.code, err.ref) == ("unknown_op", "q")


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        (req(ref=1), "`op`"),
        (req(op=5, ref=1), "`$.op`"),
        (req(op=None, ref=1), "`$.op`"),
        (req(op="place", side="buy", qty="1", price="1", ref=1), "`symbol`"),
        (req(op="place", symbol="AAPL", qty="1", price="1", ref=1), "`side`"),
        (req(op="login", user="alice", ref=1), "`token`"),
        (req(op="book", symbol=5, ref=1), "`$.symbol`"),
        (req(op="book", symbol="AAPL", depth="5", ref=1), "`$.depth`"),
        (req(op="book", symbol="AAPL", depth=5.0, ref=1), "`$.depth`"),
        (req(op="book", symbol="AAPL", depth=0, ref=1), "`$.depth`"),
        (req(op="book", symbol="AAPL", depth=10001, ref=1), "`$.depth`"),
        (req(op="trades", symbol="AAPL", limit=-1, ref=1), "`$.limit`"),
        (req(op="cancel", order_id=0, ref=1), "`$.order_id`"),
        (req(op="cancel", order_id="17", ref=1), "`$.order_id`"),
        (req(op="cancel", order_id=True, ref=1), "`$.order_id`"),
        (req(op="cancel", client_order_id="x" * 65, ref=1), "`$.client_order_id`"),
        (req(op="cancel", client_order_id="", ref=1), "`$.client_order_id`"),
        (place(price="1", side="long", ref=1), "`$.side`"),
        (place(price="1", kind="iceberg", ref=1), "`$.kind`"),
        (place(price="1", tif="GTC", ref=1), "`$.tif`"),
        (place(price="1", stp="cancel", ref=1), "`$.stp`"),
        (place(price="1", post_only="yes", ref=1), "`$.post_only`"),
        (place(price="1", ttl_ms=0, ref=1), "`$.ttl_ms`"),
        (place(price="1", expire_at="2026-11-22T16:00:00", ref=1), "`$.expire_at`"),
        (place(price="1", expire_at="tomorrow", ref=1), "`$.expire_at`"),
        (req(op="orders", status="open", ref=1), "`$.status`"),
        (req(op="subscribe", channel="trade", symbol="AAPL", ref=1), "`$.channel`"),
        (req(op="candles", symbol="AAPL", interval="2m", ref=1), "`$.interval`"),
        (req(op="close_market", expire="week", ref=1), "`$.expire`"),
        (req(op="book", symbol="", ref=1), "`$.symbol`"),
        (req(op="book", symbol="X" * 33, ref=1), "`$.symbol`"),
        (req(op="login", user="u" * 65, token="t", ref=1), "`$.user`"),
    ],
)
def test_validation_errors_name_the_field_and_keep_ref(line: bytes, needle: str) -> None:
    err = error(line)
    assert err.code == "bad_request"
    assert needle in err.message
    assert err.ref == 1


@pytest.mark.parametrize("field", ["post_onyl", "sybmol", "foo"])
def test_unknown_field_is_named(field: str) -> None:
    err = error(place(price="1", ref="r", **{field: True}))
    assert err == ProtocolError("bad_request", f"Object contains unknown field `{field}`", "r")


def test_unknown_field_on_a_fieldless_op() -> None:
    assert error(req(op="ping", symbol="AAPL")).message == "Object contains unknown field `symbol`"


@pytest.mark.parametrize(
    "ref",
    [True, False, 1.5, "r" * 65, 2**63, -(2**63) - 1, [1], {"a": 1}],
    ids=repr,
)
def test_invalid_ref_is_answered_without_ref(ref: Any) -> None:
    for line in (req(op="ping", ref=ref), req(op="book", ref=ref), req(op="nope", ref=ref)):
        err = error(line)
        assert err.code == "bad_request"
        assert err.ref is None
        assert "`$.ref`" in err.message


@pytest.mark.parametrize("ref", ["r" * 64, "", 0, -1, 2**63 - 1, -(2**63), None])
def test_valid_refs(ref: str | int | None) -> None:
    assert decode_request(req(op="ping", ref=ref)) == m.Ping(ref=ref)
    err = error(req(op="book", ref=ref))  # missing symbol: the ref still comes back
    assert err.ref == ref


@pytest.mark.parametrize(
    "line",
    [
        b'{"op":"ping","ref":"\xff"}',
        b'{"op":"book","symbol":"\xc3\x28"}',
        b'{"op":"teleport","x":"\xff"}',
        b'{"op":"ping"} \xff',
        b"\xff\xfe",
        b"buy AAPL 10 @ 1\xe2\x82",
    ],
)
def test_invalid_utf8_is_bad_request_without_ref(line: bytes) -> None:
    assert decode_request(line) == INVALID_UTF8_ERROR
    assert INVALID_UTF8_ERROR.code == "bad_request"


def test_json_decoder_is_not_fooled_by_escaped_utf8() -> None:
    assert decode_request(b'{"op":"book","symbol":"\\u00e9"}') == m.Book(symbol="\u00e9")


# --- rules across fields ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        (place(), "`price`"),
        (place(price=None), "`price`"),
        (place(kind="limit", stop_price="1", price="1"), "`stop_price`"),
        (place(kind="market", price="1"), "`price`"),
        (place(kind="market", stop_price="1"), "`stop_price`"),
        (place(kind="stop"), "`stop_price`"),
        (place(kind="stop", stop_price="1", price="1"), "`price`"),
        (place(kind="stop_limit", stop_price="1"), "`price`"),
        (place(kind="stop_limit", price="1"), "`stop_price`"),
        (place(price="1", tif="gtd"), "`ttl_ms`"),
        (place(price="1", tif="ioc", ttl_ms=1000), "`$.tif`"),
        (place(price="1", tif="gtc", expire_at="2030-01-01T00:00:00Z"), "`$.tif`"),
        (place(price="1", ttl_ms=1, expire_at="2030-01-01T00:00:00Z"), "`expire_at`"),
        (req(op="cancel"), "`order_id`"),
        (req(op="status", order_id=1, client_order_id="a"), "`client_order_id`"),
        (req(op="modify", order_id=1), "`qty`"),
        (req(op="alert", symbol="AAPL"), "`above`"),
        (req(op="alert", symbol="AAPL", above=1, below=2), "`below`"),
    ],
)
def test_cross_field_rules(line: bytes, needle: str) -> None:
    err = error(line)
    assert err.code == "bad_request"
    assert needle in err.message


@pytest.mark.parametrize(
    ("extra", "tif"),
    [
        ({}, "gtc"),
        ({"ttl_ms": 5}, "gtd"),
        ({"expire_at": "2030-01-01T00:00:00Z"}, "gtd"),
        ({"ttl_ms": 5, "tif": "gtd"}, "gtd"),
        ({"tif": "fok"}, "fok"),
    ],
)
def test_tif_is_resolved(extra: dict[str, Any], tif: str) -> None:
    result = decode_request(place(price="1", **extra))
    assert isinstance(result, m.Place)
    assert result.tif == tif


def test_expire_at_is_a_timezone_aware_datetime() -> None:
    result = decode_request(place(price="1", expire_at="2030-01-01T01:00:00+01:00"))
    assert isinstance(result, m.Place)
    assert result.expire_at == datetime(2030, 1, 1, 0, 0, tzinfo=UTC)


def test_struct_checks_also_run_on_construction() -> None:
    with pytest.raises(ValueError, match="price"):
        m.Place(symbol="AAPL", side="buy", qty=Decimal(1))
    with pytest.raises(msgspec.ValidationError, match="amount"):
        msgspec.convert({"amount": "NaN"}, m.Deposit)


@pytest.mark.parametrize("depth", [1_000, 100_000])
@pytest.mark.parametrize("shape", ["array_field", "object_field", "bare_object"])
def test_deeply_nested_json_is_a_bad_request_not_an_exception(depth: int, shape: str) -> None:
    inner = {
        "array_field": b'{"op":"place","symbol":' + b"[" * depth + b"]" * depth + b"}",
        "object_field": b'{"op":"ping","x":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}",
        "bare_object": b'{"a":' * depth + b"1" + b"}" * depth,
    }[shape]
    result = decode_request(inner)
    assert isinstance(result, ProtocolError)
    assert result.code == "bad_request"
