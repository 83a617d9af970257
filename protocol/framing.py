"""Line framing, sans-IO: bytes in, complete lines out.

`LineBuffer` follows h11's shape: `feed()` takes whatever the transport read, `next_line()`
hands back the next complete line, a `LineTooLong` marker, or None for "need more data".
It never touches a socket, so the server and the client library share it, and tests can feed
it any split of any input.

Speed: this is on the hot path of a server reading hundreds of thousands of lines a second,
so it never loops over bytes in Python. Each read is split once with `bytes.split` (C), and a
line is copied at most once more (when it straddles two reads).

Memory: a peer controls what it sends, so the buffer is bounded whatever arrives. The only
thing kept across reads is the unterminated tail of the last read, and that is capped at one
line (65,536 bytes plus a possible `\\r`); past that, the line is reported too long and the
rest of it is dropped as it arrives, never stored. Complete lines wait in a queue until
`next_line()` takes them, so a caller that drains the queue after each `feed()` (as the
server does) holds at most one read plus one partial line.
"""

from __future__ import annotations

from collections import deque
from typing import Final, final

MAX_LINE: Final = 65_536
"""The longest line the protocol accepts, in bytes, not counting its terminator."""


@final
class LineTooLong:
    """Marks a line longer than `MAX_LINE`; the line itself has been discarded.

    There is one instance, `LINE_TOO_LONG`, so `item is LINE_TOO_LONG` and
    `isinstance(item, LineTooLong)` both work.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "LINE_TOO_LONG"


LINE_TOO_LONG: Final = LineTooLong()


class LineBuffer:
    """Splits a byte stream into lines ending in `\\n` (a `\\r` before it is dropped too).

    A line over `MAX_LINE` bytes yields `LINE_TOO_LONG` once, in its place in the sequence,
    as soon as it is known to be too long; the bytes up to and including its newline are
    discarded, and what follows is read normally. Empty lines are returned as `b""`: skipping
    blank lines is the decoder's business.

    An unterminated line left at end of input is never returned: the protocol answers
    complete lines only. `partial_size` tells how many such bytes are pending.
    """

    __slots__ = ("_discarding", "_max_line", "_partial", "_queue")

    def __init__(self, max_line: int = MAX_LINE) -> None:
        """`max_line` is the protocol's limit; tests pass a small one to reach the edges."""
        self._max_line = max_line
        self._queue: deque[bytes | LineTooLong] = deque()
        # The unterminated tail of what was fed, at most max_line + 1 bytes.
        self._partial = bytearray()
        # True while dropping the rest of a line already reported as too long.
        self._discarding = False

    @property
    def partial_size(self) -> int:
        """Bytes of an unterminated line waiting for its newline."""
        return len(self._partial)

    def feed(self, data: bytes) -> None:
        """Take bytes read from the peer. Lines become available from `next_line()`."""
        if self._discarding:
            end = data.find(b"\n")
            if end < 0:
                return  # still inside the over-long line: drop, do not store
            self._discarding = False
            data = data[end + 1 :]
        if b"\n" not in data:
            self._add_partial(data)
            return
        # A `\r` ending the previous read is a terminator only if this read opens with `\n`.
        joined_crlf = data[0] == 0x0A and self._partial[-1:] == b"\r"
        if b"\r" in data:
            # Drop every `\r` that ends a line, in one C pass. A `\r` at the end of the
            # previous read is handled below, where the two reads are joined.
            data = data.replace(b"\r\n", b"\n")
        lines = data.split(b"\n")
        tail = lines.pop()
        queue = self._queue
        partial = self._partial
        max_line = self._max_line
        if partial:
            first = lines[0]
            if joined_crlf:
                del partial[-1]
            if len(partial) + len(first) > max_line:
                queue.append(LINE_TOO_LONG)
            else:
                partial += first
                queue.append(bytes(partial))
            partial.clear()
            del lines[0]
        # A line over max_line can only be here if the read is that long; in the common case
        # no line is measured at all.
        if len(data) > max_line:
            queue.extend(LINE_TOO_LONG if len(line) > max_line else line for line in lines)
        else:
            queue.extend(lines)
        if tail:
            self._add_partial(tail)

    def _add_partial(self, data: bytes) -> None:
        """Keep an unterminated tail, or report it too long without storing it."""
        if not data:
            return
        size = len(self._partial) + len(data)
        limit = self._max_line + 1  # the last byte may be the `\r` of a `\r\n` still to come
        if size > limit or (size == limit and data[-1] != 0x0D):
            self._partial.clear()
            self._queue.append(LINE_TOO_LONG)
            self._discarding = True
        else:
            self._partial += data

    def next_line(self) -> bytes | LineTooLong | None:
        """The next complete line without its terminator, `LINE_TOO_LONG`, or None when
        more data is needed."""
        if self._queue:
            return self._queue.popleft()
        return None
