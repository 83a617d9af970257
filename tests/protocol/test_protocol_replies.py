"""Server messages: round trips, complete shapes, `ref` handling, and the error value."""

from __future__ import annotations

import json

import msgspec
import pytest
from wire_examples import ORDER, ORDER_JSON, QUOTE, REPLIES

from protocol import replies as r
from protocol.codec import (
    LINE_TOO_LONG_ERROR,
    decode_reply,
    decode_request,
    encode,
    encode_into,
    error_reply,
)
from protocol.errors import ERROR_CODES, REJECT_REASONS, ProtocolError
from protocol.framing import LINE_TOO_LONG
from protocol.replies import REPLY_TYPES


def test_examples_cover_every_reply_type() -> None:
    assert {type(x) for x in REPLIES} == set(REPLY_TYPES)
    tags = [t.__struct_config__.tag for t in REPLY_TYPES]
    # + account administration and profiles, + two-factor login, watchlists and search
    # + history, audit trail, reports and the inbox
    assert len(tags) == len(set(tags)) == 37 + 5 + 5 + 8


@pytest.mark.parametrize("reply", REPLIES, ids=lambda x: type(x).__name__)
def test_reply_round_trips(reply: r.Reply) -> None:
    line = encode(reply)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode_reply(line) == reply
    assert decode_reply(line[:-1]) == reply


@pytest.mark.parametrize("reply", REPLIES, ids=lambda x: type(x).__name__)
def test_every_field_is_written_and_ref_only_when_set(reply: r.Reply) -> None:
    obj = json.loads(encode(reply))
    fields = set(type(reply).__struct_fields__)
    ref = getattr(reply, "ref", None)
    expected = {"type"} | (fields if ref is not None else fields - {"ref"})
    assert set(obj) == expected
    assert obj["type"] == type(reply).__struct_config__.tag
    if ref is not None:
        assert obj["ref"] == ref


def test_events_have_no_ref() -> None:
    for t in (r.FillEvent, r.Expired, r.Triggered, r.TradeEvent, r.BookUpdate, r.AlertEvent,
              r.RiskAlertEvent):
        assert "ref" not in t.__struct_fields__
    for both in (r.Canceled, r.BookReply, r.QuoteReply):  # a reply and an event
        assert "ref" in both.__struct_fields__


def test_order_matches_the_protocol_example() -> None:
    assert msgspec.json.decode(ORDER_JSON, type=r.Order) == ORDER
    assert json.loads(msgspec.json.encode(ORDER)) == json.loads(ORDER_JSON)
    assert list(json.loads(ORDER_JSON)) == list(r.Order.__struct_fields__)


def test_nulls_are_written() -> None:
    obj = json.loads(encode(r.OrderReply(order=ORDER)))
    assert obj["order"]["stop_price"] is None
    assert obj["order"]["reason"] is None
    assert obj["order"]["expires_at"] is None
    quote = json.loads(encode(QUOTE))
    assert quote["ask"] is None and quote["ask_qty"] is None


def test_duplicate_is_always_written() -> None:
    assert r.Accepted(order=ORDER, fills=[]).duplicate is False
    assert json.loads(encode(r.Accepted(order=ORDER, fills=[])))["duplicate"] is False
    assert json.loads(encode(r.Accepted(order=ORDER, fills=[], duplicate=True)))["duplicate"]


def test_exact_encoding() -> None:
    assert encode(r.Pong(ts="2026-11-22T09:30:00.000123Z", ref=3)) == (
        b'{"type":"pong","ts":"2026-11-22T09:30:00.000123Z","ref":3}\n'
    )
    assert encode(r.BookUpdate(symbol="AAPL", seq=2, bids=[("1.00", "0")], asks=[])) == (
        b'{"type":"book_update","symbol":"AAPL","seq":2,"bids":[["1.00","0"]],"asks":[]}\n'
    )
    assert encode(r.Bye()) == b'{"type":"bye"}\n'


def test_encode_into_appends_lines() -> None:
    buffer = bytearray(b"head\n")
    encode_into(r.Bye(ref=1), buffer)
    encode_into(r.MarketOpened(), buffer)
    assert bytes(buffer) == b'head\n{"type":"bye","ref":1}\n{"type":"market_opened"}\n'


def test_error_reply() -> None:
    err = ProtocolError("unknown_op", "Unknown op 'x' - at `$.op`", "r")
    assert error_reply(err) == r.Error(code="unknown_op", message=err.message, ref="r")
    assert encode(error_reply(err)) == (
        b'{"type":"error","code":"unknown_op","message":"Unknown op \'x\' - at `$.op`","ref":"r"}\n'
    )


def test_line_too_long_error() -> None:
    assert decode_request(LINE_TOO_LONG) == LINE_TOO_LONG_ERROR
    assert encode(error_reply(LINE_TOO_LONG_ERROR)).startswith(
        b'{"type":"error","code":"line_too_long",'
    )


def test_error_codes_and_reasons() -> None:
    assert "line_too_long" in ERROR_CODES and len(ERROR_CODES) == 15
    assert "would_take" in REJECT_REASONS and len(REJECT_REASONS) == 13
    assert ProtocolError("bad_json", "m") == ProtocolError("bad_json", "m", None)
    assert hash(ProtocolError("bad_json", "m")) == hash(ProtocolError("bad_json", "m"))


@pytest.mark.parametrize(
    "line",
    [
        b'{"type":"welcome","user":"a"}',
        b'{"type":"nope"}',
        b'{"type":"error","code":"oops","message":"m"}',
        b'{"type":"pong","ts":"x"',
        b'{"op":"ping"}',
    ],
)
def test_decode_reply_raises_on_a_broken_server_line(line: bytes) -> None:
    with pytest.raises(msgspec.DecodeError):
        decode_reply(line)
