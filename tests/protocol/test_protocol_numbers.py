"""The strict decimal grammar: one rule for every decimal field, over JSON and text.

`Decimal()` alone accepts `"1_0"`, `" 149"`, Arabic-Indic and full-width digits and
exponents; a trading protocol must refuse each of them with a `bad_request` naming the
field, and still accept every plain spelling and its neighbours.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from protocol import messages as m
from protocol.codec import decode_request, encode
from protocol.errors import ProtocolError
from protocol.fields import decimal_hook

HOSTILE_STRINGS = [
    "1_49", "1_0", "\u0661\u0664\u0669", "\uff11\uff14\uff19", " 149", "149 ", "\t149",
    "1 49", "+149", "1e2", "1E2", "1e-2", "0x10", "1.2.3", "..5", ".", "-", "", "--5",
    "5-", "NaN", "nan", "Infinity", "-Infinity", "sNaN", "1,5", "\u00a0149", "149\u200b",
    "\U0001d7cf", "1" * 19, "0." + "0" * 18 + "1",
]
"""Each is one character or one rule away from a valid decimal."""

PLAIN = [
    ("149", "149"), ("149.25", "149.25"), (".5", "0.5"), ("5.", "5"), ("0", "0"),
    ("-5", "-5"), ("-0.01", "-0.01"), ("007", "7"), ("1" * 18, "1" * 18),
    ("0." + "0" * 17 + "1", "1E-18"), ("1.50000000000000000000000", "1.5"),
]
"""Valid spellings, negatives included: a negative is a *rejected order*, not bad syntax."""

FIELDS: list[tuple[str, dict[str, Any], str]] = [
    ("place", {"symbol": "AAPL", "side": "buy", "price": "1"}, "qty"),
    ("place", {"symbol": "AAPL", "side": "buy", "qty": "1"}, "price"),
    ("place", {"symbol": "AAPL", "side": "buy", "qty": "1", "kind": "stop"}, "stop_price"),
    ("modify", {"order_id": 1}, "qty"),
    ("modify", {"order_id": 1}, "price"),
    ("deposit", {}, "amount"),
    ("withdraw", {}, "amount"),
    ("alert", {"symbol": "AAPL"}, "above"),
    ("alert", {"symbol": "AAPL"}, "below"),
]


def _json(op: str, fields: dict[str, Any], name: str, value: Any) -> bytes:
    return json.dumps({"op": op, **fields, name: value}).encode()


@pytest.mark.parametrize("value", HOSTILE_STRINGS)
@pytest.mark.parametrize(("op", "fields", "name"), FIELDS)
def test_hostile_decimal_strings_are_bad_requests_naming_the_field(
        op: str, fields: dict[str, Any], name: str, value: str) -> None:
    result = decode_request(_json(op, fields, name, value))
    assert isinstance(result, ProtocolError), result
    assert result.code == "bad_request"
    assert f"`$.{name}`" in result.message


@pytest.mark.parametrize(("value", "expected"), PLAIN)
@pytest.mark.parametrize(("op", "fields", "name"), FIELDS)
def test_plain_decimal_strings_are_accepted(op: str, fields: dict[str, Any], name: str,
                                            value: str, expected: str) -> None:
    result = decode_request(_json(op, fields, name, value))
    assert not isinstance(result, ProtocolError), result
    assert getattr(result, name) == Decimal(expected)


@pytest.mark.parametrize(("raw", "expected"), [
    (b"1e2", "100"), (b"1E2", "100"), (b"1.5e1", "15"), (b"-1e-2", "-0.01"), (b"1E+2", "100"),
    (b"1e-06", "0.000001"), (b"0e0", "0"),
])
def test_json_numbers_keep_json_grammar_exponent_included(raw: bytes, expected: str) -> None:
    """JSON's number grammar is already ASCII-only; `1e-06` is what encoders write."""
    line = b'{"op":"place","symbol":"AAPL","side":"buy","price":"1","qty":' + raw + b"}"
    result = decode_request(line)
    assert isinstance(result, m.Place), result
    assert result.qty == Decimal(expected)


@pytest.mark.parametrize("raw", [b"1e18", b"1e999999999", b"1e-19", b"-1e-999999999"])
def test_json_numbers_outside_the_bounds_are_refused(raw: bytes) -> None:
    line = b'{"op":"place","symbol":"AAPL","side":"buy","price":"1","qty":' + raw + b"}"
    result = decode_request(line)
    assert isinstance(result, ProtocolError), result
    assert result.code == "bad_request" and "`$.qty`" in result.message


@pytest.mark.parametrize(("raw", "expected"), [
    (b"149", "149"), (b"149.25", "149.25"), (b"-5", "-5"), (b"0.1", "0.1"),
    (b"0", "0"), (b"123456789012345678", "123456789012345678"),
])
def test_plain_json_numbers_are_accepted_exactly(raw: bytes, expected: str) -> None:
    line = b'{"op":"place","symbol":"AAPL","side":"buy","price":"1","qty":' + raw + b"}"
    result = decode_request(line)
    assert isinstance(result, m.Place), result
    assert result.qty == Decimal(expected)


@pytest.mark.parametrize("raw", [b"true", b"false", b"[]", b"{}", b"1234567890123456789"])
def test_other_json_values_are_refused(raw: bytes) -> None:
    line = b'{"op":"deposit","amount":' + raw + b"}"
    result = decode_request(line)
    assert isinstance(result, ProtocolError), result
    assert result.code == "bad_request" and "`$.amount`" in result.message


@pytest.mark.parametrize("value", [v for v in HOSTILE_STRINGS if v.strip() == v and v
                                   and " " not in v and not v.isspace()
                                   and "\u00a0" not in v and "\u200b" not in v])
@pytest.mark.parametrize("template", [
    "buy AAPL {v} @ 149", "buy AAPL 10 @ {v}", "sell AAPL 10 {v}", "buy AAPL 10 stop={v}",
    "buy AAPL 10 stop=150 limit={v}", "modify 1 qty={v}", "modify cid=a price={v}",
    "deposit {v}", "withdraw {v}", "alert AAPL above {v}", "alert AAPL below {v}",
])
def test_hostile_words_in_text_commands_are_bad_requests(template: str, value: str) -> None:
    result = decode_request(template.format(v=value).encode())
    assert isinstance(result, ProtocolError), result
    assert result.code == "bad_request"


def test_the_issue_example_no_longer_places_10_at_149() -> None:
    result = decode_request(b"buy AAPL 1_0 @ 1_49")
    assert isinstance(result, ProtocolError)
    assert result.code == "bad_request" and "`$.qty`" in result.message
    assert "'1_0'" in result.message
    ok = decode_request(b"buy AAPL 10 @ 149")
    assert isinstance(ok, m.Place) and ok.qty == 10 and ok.price == 149


@pytest.mark.parametrize("value", [Decimal("1E-18"), Decimal("1E+2"), Decimal("150.250")])
def test_requests_built_from_any_decimal_are_encoded_plain(value: Decimal) -> None:
    """A client may hold `Decimal('1E+2')`; on the wire it must be the plain `"100"`."""
    request = msgspec.convert({"symbol": "AAPL", "side": "buy", "qty": value, "price": "1"},
                              m.Place, dec_hook=decimal_hook)
    line = encode(request)
    assert b"E" not in line
    again = decode_request(line[:-1])
    assert again == request
    direct = m.Deposit(amount=value)
    assert b"E" not in encode(direct)
    assert decode_request(encode(direct)[:-1]) == direct
