"""A FIX session's sequence numbers and the messages it sent, for resends.

One store per session identity (the acceptor's CompID and the client's), kept for the
life of the server so that a client that reconnects continues its sequence numbers, as a
FIX session spans connections. With ``--data-dir`` it is on disk,
``<data-dir>/fix/<comp id>/<client comp id>/``:

- ``seqnums``: ``<next incoming> <next outgoing>`` (rewritten in place once a turn);
- ``messages``: what was sent, one record per message, ``<seq> <SendingTime> <length>\\n``
  followed by the message body and ``\\n``; only application messages are kept, since a
  resend replaces session-level ones with a gap fill.

The files are written once a turn, when the gateway flushes the session's output, and are
not synced: after a crash the last turn's messages may be missing, and a resend covers
them with a gap fill, which FIX allows (the orders themselves are in the journal).
Without a data directory the store is in memory; both keep at most
:data:`MAX_KEPT` messages, older ones are gap-filled when asked for.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Final
from urllib.parse import quote

MAX_KEPT: Final = 1_000_000
"""Messages kept for resends per session: a trading day of a busy session; older ones
are answered with a gap fill."""


class MemoryStore:
    """Sequence numbers and sent messages in memory."""

    def __init__(self) -> None:
        self.next_in = 1
        self.next_out = 1
        self._first = 1  # sequence number of _kept[0]
        self._kept: list[tuple[int, bytes, bytes] | None] = []

    def add(self, seq: int, sending_time: bytes, body: bytes) -> None:
        """An application message sent as ``seq`` (sequence numbers only grow)."""
        kept = self._kept
        if not kept:
            self._first = seq
        gap = seq - (self._first + len(kept))
        if gap > 0:
            kept.extend([None] * gap)
        kept.append((seq, sending_time, body))
        if len(kept) > MAX_KEPT:
            drop = len(kept) - MAX_KEPT // 2
            del kept[:drop]
            self._first += drop

    def sent(self, begin: int, end: int) -> Iterator[tuple[int, bytes, bytes]]:
        """The kept messages numbered ``begin..end``: (seq, SendingTime, body)."""
        kept = self._kept
        start = max(begin - self._first, 0)
        stop = min(end - self._first + 1, len(kept))
        for i in range(start, stop):
            item = kept[i]
            if item is not None:
                yield item

    def reset(self) -> None:
        """ResetSeqNumFlag: both sides start again at 1, nothing is kept."""
        self.next_in = 1
        self.next_out = 1
        self._kept = []
        self._first = 1

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class FileStore(MemoryStore):
    """The same, kept on disk in ``folder`` (see the module doc)."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._seq_path = folder / "seqnums"
        self._saved = (0, 0)
        if self._seq_path.exists():
            words = self._seq_path.read_text().split()
            if len(words) == 2 and all(w.isdigit() for w in words):
                self.next_in, self.next_out = int(words[0]), int(words[1])
                self._saved = (self.next_in, self.next_out)
        self._msg_path = folder / "messages"
        self._load()
        self._out = open(self._msg_path, "ab")  # noqa: SIM115 - open for the store's life
        self._seq_fd = os.open(self._seq_path, os.O_RDWR | os.O_CREAT, 0o644)

    def _load(self) -> None:
        """Read the messages back; a torn last record (a crash mid-write) is cut off."""
        if not self._msg_path.exists():
            return
        data = self._msg_path.read_bytes()
        pos = 0
        good = 0
        while pos < len(data):
            eol = data.find(b"\n", pos)
            if eol < 0:
                break
            words = data[pos:eol].split()
            if len(words) != 3 or not words[0].isdigit() or not words[2].isdigit():
                break
            seq, stamp, length = int(words[0]), words[1], int(words[2])
            start = eol + 1
            stop = start + length
            if stop + 1 > len(data) or data[stop:stop + 1] != b"\n":
                break
            super().add(seq, stamp, data[start:stop])
            pos = good = stop + 1
        if good < len(data):
            with open(self._msg_path, "r+b") as fh:
                fh.truncate(good)
        if self._kept:
            last = self._first + len(self._kept) - 1
            self.next_out = max(self.next_out, last + 1)

    def add(self, seq: int, sending_time: bytes, body: bytes) -> None:
        super().add(seq, sending_time, body)
        self._out.write(b"%d %s %d\n%s\n" % (seq, sending_time, len(body), body))

    def reset(self) -> None:
        super().reset()
        self._out.truncate(0)
        self._out.seek(0)
        self.flush()

    def flush(self) -> None:
        self._out.flush()
        now = (self.next_in, self.next_out)
        if now != self._saved:
            self._saved = now
            text = b"%d %d\n" % now
            os.pwrite(self._seq_fd, text.ljust(42), 0)

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.flush()
        self._out.close()
        with contextlib.suppress(OSError):
            os.close(self._seq_fd)


Store = MemoryStore
"""Either kind: :class:`FileStore` is a :class:`MemoryStore` that also writes."""


def store_folder(data_dir: Path, comp_id: str, client: str) -> Path:
    """Where a session's store lives: names percent-encoded, so any CompID is one name."""
    return data_dir / "fix" / quote(comp_id, safe="") / quote(client, safe="")
