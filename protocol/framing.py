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

    __slots__ = ("_discarding", "_partial", "_queue")

    def __init__(self) -> None:
        self._queue: deque[bytes | LineTooLong] = deque()
        # The unterminated tail of what was fed, at most MAX_LINE + 1 bytes.
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
        if b"\r" in data:
            # Drop every `\r` that ends a line, in one C pass. A `\r` at the end of the
            # previous read is handled below, where the two reads are joined.
            data = data.replace(b"\r\n", b"\n")
        lines = data.split(b"\n")
        tail = lines.pop()
        queue = self._queue
        partial = self._partial
        if partial:
            first = lines[0]
            if not first and partial[-1] == 0x0D:  # "\r" + "\n" split across reads
                del partial[-1]
            if len(partial) + len(first) > MAX_LINE:
                queue.append(LINE_TOO_LONG)
            else:
                partial += first
                queue.append(bytes(partial))
            partial.clear()
            del lines[0]  # (cheap: lines is a list of references)
        # A line over MAX_LINE can only be here if the read is that long; in the common case
        # no line is measured at all.
        if len(data) > MAX_LINE:
            queue.extend(LINE_TOO_LONG if len(line) > MAX_LINE else line for line in lines)
        else:
            queue.extend(lines)
        if tail:
            self._add_partial(tail)

    def _add_partial(self, data: bytes) -> None:
        """Keep an unterminated tail, or report it too long without storing it."""
        if not data:
            return
        size = len(self._partial) + len(data)
        # MAX_LINE + 1: the last byte may be the `\r` of a `\r\n` still to come.
        if size > MAX_LINE + 1 or (size == MAX_LINE + 1 and data[-1] != 0x0D):
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
