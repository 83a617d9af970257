"""LineBuffer: lines out of any split of a byte stream, bounded memory, over-long lines."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.framing import LINE_TOO_LONG, MAX_LINE, LineBuffer, LineTooLong

Item = bytes | LineTooLong


def drain(buf: LineBuffer) -> list[Item]:
    out: list[Item] = []
    while (item := buf.next_line()) is not None:
        out.append(item)
    return out


def feed_chunks(chunks: list[bytes], max_line: int = MAX_LINE) -> list[Item]:
    """Feed chunk by chunk, draining after each feed as the server does."""
    buf = LineBuffer(max_line)
    out: list[Item] = []
    for chunk in chunks:
        buf.feed(chunk)
        out.extend(drain(buf))
    return out


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def reference(stream: bytes, max_line: int) -> list[Item]:
    """The framing rules, written the slow and obvious way."""
    *complete, tail = stream.split(b"\n")
    out: list[Item] = []
    for line in complete:
        if line.endswith(b"\r"):
            line = line[:-1]
        out.append(LINE_TOO_LONG if len(line) > max_line else line)
    # An unterminated line is never returned, but one already known to be too long is
    # reported as soon as it is known.
    if len(tail) > max_line + 1 or (len(tail) == max_line + 1 and not tail.endswith(b"\r")):
        out.append(LINE_TOO_LONG)
    return out


def test_lines_and_terminators() -> None:
    data = b'{"op":"ping"}\nping\r\n\n  \r\nlast'
    expected: list[Item] = [b'{"op":"ping"}', b"ping", b"", b"  "]
    assert feed_chunks([data]) == expected
    assert feed_chunks(bytewise(data)) == expected


def test_need_data_and_partial() -> None:
    buf = LineBuffer()
    assert buf.next_line() is None
    buf.feed(b"pi")
    assert buf.next_line() is None
    assert buf.partial_size == 2
    buf.feed(b"ng\r")
    assert buf.next_line() is None
    buf.feed(b"\nqu")
    assert buf.next_line() == b"ping"
    assert buf.next_line() is None
    assert buf.partial_size == 2


def test_cr_split_from_lf_across_reads() -> None:
    assert feed_chunks([b"ping\r", b"\n"]) == [b"ping"]
    # Only one `\r` belongs to the terminator; one before it is part of the line.
    assert feed_chunks([b"a\r\r", b"\n"]) == [b"a\r"]
    assert feed_chunks([b"a\r\r\n"]) == [b"a\r"]
    # A lone `\r` inside a line stays.
    assert feed_chunks([b"a\rb\n"]) == [b"a\rb"]


def test_empty_feed_is_harmless() -> None:
    assert feed_chunks([b"", b"ping", b"", b"\n", b""]) == [b"ping"]


def test_line_of_exactly_max_is_accepted() -> None:
    line = b"x" * MAX_LINE
    for data in (line + b"\n", line + b"\r\n"):
        assert feed_chunks([data]) == [line]
        assert feed_chunks([data[:-1], data[-1:]]) == [line]
        assert feed_chunks([data[:-2], data[-2:-1], data[-1:]]) == [line]


def test_over_long_line_is_reported_once_then_reading_goes_on() -> None:
    data = b"ping\n" + b"x" * (MAX_LINE + 1) + b"\nquit\n"
    expected: list[Item] = [b"ping", LINE_TOO_LONG, b"quit"]
    assert feed_chunks([data]) == expected
    assert feed_chunks(bytewise(data)) == expected
    assert feed_chunks([data[i : i + 4096] for i in range(0, len(data), 4096)]) == expected


def test_over_long_line_with_content_cr_is_too_long() -> None:
    # The line is MAX_LINE bytes and a `\r` of its own, then the `\r\n` terminator.
    data = b"x" * MAX_LINE + b"\r\r\nping\n"
    expected: list[Item] = [LINE_TOO_LONG, b"ping"]
    assert feed_chunks([data]) == expected
    assert feed_chunks(bytewise(data)) == expected


def test_over_long_line_is_reported_before_its_newline() -> None:
    buf = LineBuffer()
    buf.feed(b"x" * (MAX_LINE + 2))
    assert buf.next_line() is LINE_TOO_LONG
    assert buf.next_line() is None
    buf.feed(b"more of the same line")
    assert buf.next_line() is None
    buf.feed(b"\nping\n")
    assert buf.next_line() == b"ping"


def test_memory_stays_bounded_whatever_the_peer_sends() -> None:
    buf = LineBuffer()
    chunk = b"y" * 65_536
    for _ in range(200):  # 13 MB without a newline
        buf.feed(chunk)
        assert buf.partial_size <= MAX_LINE + 1
        drain(buf)
    assert buf.partial_size == 0  # dropped, not stored
    buf.feed(b"\nping\n")
    assert drain(buf) == [b"ping"]


def test_partial_line_at_eof_is_not_returned() -> None:
    assert feed_chunks([b"ping\npin"]) == [b"ping"]


def test_marker() -> None:
    assert isinstance(LINE_TOO_LONG, LineTooLong)
    assert repr(LINE_TOO_LONG) == "LINE_TOO_LONG"


# --- property tests -----------------------------------------------------------------------

SMALL_MAX = 8
pieces = st.sampled_from([b"a", b"b", b" ", b"\r", b"\n", b"\r\n", b"{", b"\xff", b"xyz"])
streams = st.lists(pieces, max_size=80).map(b"".join)


@st.composite
def chunked(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    stream = draw(streams)
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    bounds = [0, *cuts, len(stream)]
    return stream, [stream[a:b] for a, b in pairwise(bounds)]


@given(chunked())
@settings(max_examples=500)
def test_any_chunking_matches_the_reference(case: tuple[bytes, list[bytes]]) -> None:
    stream, chunks = case
    expected = reference(stream, SMALL_MAX)
    assert feed_chunks(chunks, SMALL_MAX) == expected
    assert feed_chunks([stream], SMALL_MAX) == expected
    assert feed_chunks(bytewise(stream), SMALL_MAX) == expected


@given(chunked())
@settings(max_examples=300)
def test_chunking_without_draining_between_feeds(case: tuple[bytes, list[bytes]]) -> None:
    stream, chunks = case
    buf = LineBuffer(SMALL_MAX)
    for chunk in chunks:
        buf.feed(chunk)
        assert buf.partial_size <= SMALL_MAX + 1
    assert drain(buf) == reference(stream, SMALL_MAX)


@given(st.lists(st.binary(max_size=300).map(lambda b: b.replace(b"\n", b"")), max_size=30))
@settings(max_examples=200)
def test_random_lines_with_default_limit(lines: list[bytes]) -> None:
    stream = b"".join(line + b"\n" for line in lines)
    expected = reference(stream, MAX_LINE)
    assert feed_chunks([stream]) == expected
    assert feed_chunks([stream[i : i + 7] for i in range(0, len(stream), 7)]) == expected
