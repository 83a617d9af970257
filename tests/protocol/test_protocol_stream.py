"""LineBuffer and decode_request together: the same messages however the bytes arrive."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wire_examples import REQUESTS

from protocol import messages as m
from protocol.codec import INVALID_UTF8_ERROR, LINE_TOO_LONG_ERROR, decode_request, encode
from protocol.errors import ProtocolError
from protocol.framing import MAX_LINE, LineBuffer

Decoded = m.Request | ProtocolError

# A session's worth of input: good and bad lines, both spellings, both terminators.
SESSION = b"".join(
    [
        b'{"op":"login","user":"alice","token":"alice-token","ref":1}\n',
        b"buy AAPL 100 @ 150.25\r\n",
        b"\n",
        b"   \r\n",
        b'{"op":"place","symbol":"AAPL","side":"buy","qty":"1","price":1,"post_onyl":true,'
        b'"ref":2}\n',
        b'{"op":"ping"\n',
        b"teleport\n",
        b"x" * (MAX_LINE + 10) + b"\n",
        b'{"op":"ping","ref":3}\n',
        b"\xff\xfe\n",
        b'{"op":"ping","ref":true}\n',
        b"quit\n",
    ]
)
EXPECTED: list[Decoded] = [
    m.Login(user="alice", token="alice-token", ref=1),
    m.Place(symbol="AAPL", side="buy", qty=Decimal("100"), price=Decimal("150.25")),
    ProtocolError("bad_request", "Object contains unknown field `post_onyl`", 2),
    ProtocolError("bad_json", "Invalid JSON: Input data was truncated"),
    ProtocolError("unknown_op", "Unknown command 'teleport'; try `help`"),
    LINE_TOO_LONG_ERROR,
    m.Ping(ref=3),
    INVALID_UTF8_ERROR,
    ProtocolError(
        "bad_request",
        "Invalid `ref`: expected a string of at most 64 characters or an integer - at `$.ref`",
    ),
    m.Quit(),
]


def run(chunks: list[bytes]) -> list[Decoded]:
    buf = LineBuffer()
    out: list[Decoded] = []
    for chunk in chunks:
        buf.feed(chunk)
        while (item := buf.next_line()) is not None:
            decoded = decode_request(item)
            if decoded is not None:
                out.append(decoded)
    return out


def test_whole() -> None:
    assert run([SESSION]) == EXPECTED


def test_byte_by_byte() -> None:
    assert run([SESSION[i : i + 1] for i in range(len(SESSION))]) == EXPECTED


@pytest.mark.parametrize("trailing", [b"pi", b'{"op":"ping"', b"x" * MAX_LINE, b"\r"])
def test_with_trailing_data(trailing: bytes) -> None:
    # An unterminated line at the end is never answered.
    assert run([SESSION + trailing]) == EXPECTED
    assert run([SESSION, trailing]) == EXPECTED


def test_trailing_over_long_data_is_reported_at_once() -> None:
    assert run([SESSION + b"y" * (MAX_LINE + 2)]) == [*EXPECTED, LINE_TOO_LONG_ERROR]


def test_every_request_example_through_the_stream() -> None:
    stream = b"".join(encode(req) for req in REQUESTS)
    assert run([stream]) == REQUESTS
    assert run([stream[i : i + 1] for i in range(len(stream))]) == REQUESTS
    crlf = stream.replace(b"\n", b"\r\n")
    assert run([crlf[i : i + 3] for i in range(0, len(crlf), 3)]) == REQUESTS


@given(st.lists(st.integers(0, len(SESSION)), max_size=30))
@settings(max_examples=200, deadline=None)
def test_any_chunking(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(SESSION)]
    assert run([SESSION[a:b] for a, b in pairwise(bounds)]) == EXPECTED
