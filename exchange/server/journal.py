"""Durability: an append-only journal of applied commands, and snapshots.

The server records every command that may change state (``Gateway.record``) in the
order it was applied, which is one total order because everything runs on one thread.
The engine takes time as an argument and reads no clock, so replaying the same records
on the same starting state rebuilds exactly the same exchange: the same order ids,
queue positions, balances and timestamps.

Journal file format (version 2): the magic line ``EXJRNL2\n``, then records, each

    u32 length (little-endian) | u32 crc32 of the 4 length bytes and the payload | payload

where the payload is MessagePack of ``[seq, entry]`` and ``entry`` is a command record
(:mod:`exchange.core.commands`) in its ``array_like`` encoding, ``[op, time, ...fields]``
in the record's field order (``docs/JOURNAL.md`` lists every layout). The checksum
covers the length, so a damaged length is caught as surely as a damaged payload. A
segment that does not start with the magic line is version 1 (written before it
existed): the same records, with the checksum over the payload only; it is read as
such, so old data directories still load.
The magic is written with a segment's first records, so an empty segment is empty.

Records written before the command records existed are tuples of the same shape, and for
eight ops (place, modify, cancel, pause, resume, cancel_all, expire, expire_session) they
are byte for byte the encoding of today's record. Four ops gained fields: ``halt``
(``[op, symbol, halted]``), ``market_open`` (``[op, is_open]``), ``deposit`` and
``withdraw`` (``[op, user, amount]``) had no time and no user. Each gained fields, so
their old records are told apart by their length and read with time 0 and user ""
(nothing reads either for these ops). That needs no new segment version: the framing
did not change and every record names its op. Replay (:func:`apply`) reads each record as
its command record and runs it with ``Exchange.apply``, the same entry point the server
uses live.

After a crash the last record may be torn: a record that does not read back (length past
the end of the file, checksum mismatch, undecodable) with no intact record numbered after
it in the last segment is a torn tail, cut off at start-up with a warning, never misread.
The same damage with intact later records after it, or in a segment that is not the
last, is corruption: recovery refuses (see :func:`find_damage`), changing nothing.

Group commit: records are buffered as they are appended, and :meth:`FileJournal.commit`
(called once per event-loop turn, before any reply of that turn is written) does one
write and one fsync for all of them.

Snapshots are the engine's whole state as the versioned records of
:mod:`exchange.core.snapshot_format` (never a pickle: the records describe the state, not
this version's objects, so a later version loads them and loading runs no code). A file
``snapshot-<seq>.snap`` is the magic line ``EXSNAP2\n``, a u32 crc32 (little-endian) of
the payload, and the payload: MessagePack of ``[seq, written_at_us, state record]``. It is
written atomically (write a temporary file, fsync, rename, fsync the directory); a new
journal segment ``journal-<seq>.log`` then starts. One generation back is kept: the
previous state source (the previous snapshot, or the configuration when there was none)
and every segment written since it; anything older is removed. An orderly stop with
nothing recorded since the last snapshot writes none (that snapshot is already the state).
See ``docs/DATA_DIR.md``.

Recovery loads the newest snapshot that reads back intact and replays the segments after
it. A snapshot that does not read back intact (bad checksum, wrong magic, a record that
does not decode or does not restore to a consistent exchange) is skipped with a warning
and the one before it is used, or the configuration, replaying the journal kept since
then. One of a record version newer than this code reads is refused, not skipped.
Recovery refuses, with :class:`RecoveryError` and without changing any file, when that
cannot rebuild at least what the skipped snapshot held: the journal then has a gap, or
ends before the skipped snapshot's record. Starting from less than was acknowledged would
silently undo it. (A fallback to the configuration assumes the users
and symbols of the configuration have not changed since the data directory began.)

A failed write or fsync of the journal is fatal: :meth:`FileJournal.commit` raises, and
every later commit raises too (after a failed fsync the kernel may have dropped the dirty
pages, so a retry would prove nothing). Nothing appended after the last good commit is ever
acknowledged; ``on_failure``, when set, is called once so that the server can exit, and a
restart recovers from what the disk holds.

One server at a time: recovery takes an exclusive ``flock`` on ``LOCK`` in the data
directory (held until the journal is closed or the process ends), and a second server
started on the same directory refuses with :class:`RecoveryError` instead of truncating
and appending to the first one's journal.

Snapshots of the first format (``snapshot-<seq>.pickle``, a pickled exchange) are never
loaded at start-up: unpickling runs whatever code the file names. Recovery refuses with
:class:`RecoveryError` and says to run ``exchange upgrade DIR``
(:mod:`exchange.server.upgrade`), the operator's deliberate statement that the directory
is the exchange's own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import struct
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import msgspec

from exchange.core import snapshot as snapshot_records
from exchange.core.commands import (
    BY_TAG,
    Command,
    CommandRecord,
)
from exchange.core.engine import DEFAULT_MAX_OPEN_ORDERS, Exchange
from exchange.core.historylog import HistoryLog
from exchange.core.results import CommandError
from exchange.core.snapshot_format import SnapshotError, UnknownVersion
from exchange.server.metrics import FSYNC_BOUNDS, Histogram

if sys.platform != "win32":
    import fcntl

log = logging.getLogger("exchange.journal")

_HEADER = struct.Struct("<II")
_LENGTH = struct.Struct("<I")
_MAGIC = b"EXJRNL2\n"
_SNAPSHOT_MAGIC = b"EXSNAP2\n"
_SEGMENT = re.compile(r"journal-(\d{12})\.log$")
_SNAPSHOT = re.compile(r"snapshot-(\d{12})\.snap$")
_OLD_SNAPSHOT = re.compile(r"snapshot-(\d{12})\.pickle$")
"""Snapshots of the first format (a pickled exchange): only ``exchange upgrade`` reads them."""
MAX_RECORD = 16 * 1024 * 1024
"""A length above this cannot be ours: treat it as a torn or corrupt record."""


class RecoveryError(RuntimeError):
    """The data directory cannot be brought back to what it acknowledged."""


class NotRecordable(CommandError):
    """A command whose record cannot be encoded (a number beyond 64 bits, say).

    Raised by :meth:`FileJournal.append` before anything is buffered and before a record
    number is taken, so that the caller refuses the command with nothing applied and
    the journal keeps no gap."""

    def __init__(self, message: str) -> None:
        super().__init__("bad_request", message)


class JournalFailed(OSError):
    """An earlier write or fsync of the journal failed; nothing more is made durable."""


class Journal(Protocol):
    """Receives each applied command; ``commit`` makes everything appended durable."""

    def append(self, cmd: Command) -> None: ...
    def commit(self) -> None: ...


# -- applying records -------------------------------------------------------------------

Entry = list[Any] | tuple[Any, ...]
"""One journal record's command as read back: its op (the tag), then its fields."""

# The records of segments written before the command records: four ops had no time and
# no user. Told apart by their length (each gained fields), they are read with time 0
# and user "" put in front of their fields (nothing reads either for these ops). Every
# other op's old record is already the encoding of its command record.
_LEGACY: dict[tuple[str, int], tuple[Any, ...]] = {
    ("halt", 3): (0, ""),
    ("market_open", 2): (0, ""),
    ("deposit", 3): (0,),
    ("withdraw", 3): (0,),
}


def command_of(entry: Entry) -> Command:
    """The command record a journal record holds (either layout; see the module doc).

    Raises ``msgspec.ValidationError`` for a record that is neither."""
    op = entry[0]
    missing = _LEGACY.get((op, len(entry)))
    if missing is not None:
        entry = [op, *missing, *entry[1:]]
    record_type = BY_TAG.get(op)
    if record_type is None:
        raise msgspec.ValidationError(f"unknown journal record {op!r}")
    # By the tag's own type: converting to the union would cost forty times as much.
    return msgspec.convert(entry, record_type)


def apply(exchange: Exchange, entry: Entry) -> None:
    """Re-run one recorded command on the engine, exactly as it first ran.

    Commands that failed the first time fail the same way again (they were recorded
    because a failing command may still have expired orders on its way).
    """
    cmd = command_of(entry)
    with contextlib.suppress(CommandError):
        exchange.apply(cmd)


_AS_SENT = {"expires_at": "expire_at"}
"""Record fields a request names otherwise (a refusal names the field as sent)."""


def _field_of(cmd: Command | Entry) -> str:
    """The field of ``cmd`` that holds an integer msgpack cannot carry, else "request"."""
    record: CommandRecord
    if isinstance(cmd, CommandRecord):
        record = cmd
    else:  # a record in the old layout, as older versions wrote (and tests still do)
        record = BY_TAG[cmd[0]](*_LEGACY.get((cmd[0], len(cmd)), ()), *cmd[1:])
    for name in record.__struct_fields__:
        value = getattr(record, name)
        if isinstance(value, int) and not -(2**63) <= value < 2**64:
            return _AS_SENT.get(name, name)
    return "request"


# -- reading ------------------------------------------------------------------------------

@dataclass(slots=True)
class SegmentScan:
    path: Path
    records: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    good_bytes: int = 0
    torn_bytes: int = 0


def _start(data: bytes) -> tuple[int, bool]:
    """Where the records of a segment start, and whether it is version 2.

    A file that is a strict prefix of the magic is a version 2 segment torn while its
    first write was under way: no records, and its bytes are a torn tail."""
    if data.startswith(_MAGIC):
        return len(_MAGIC), True
    if data and _MAGIC.startswith(data):
        return 0, True
    return 0, False


def _crc(data: bytes | memoryview, offset: int, end: int, v2: bool) -> int:
    if v2:
        return zlib.crc32(data[offset + _HEADER.size:end], zlib.crc32(data[offset:offset + 4]))
    return zlib.crc32(data[offset + _HEADER.size:end])


def records_start(path: Path) -> int:
    """The offset of the first record of a segment (after its magic line)."""
    with open(path, "rb") as fh:
        return _start(fh.read(len(_MAGIC)))[0]


def read_segment(path: Path) -> Iterator[tuple[int, list[Any], int]]:
    """Yield ``(seq, entry, end_offset)`` for each intact record, stopping at a torn one."""
    data = path.read_bytes()
    offset, v2 = _start(data)
    if v2 and offset == 0:
        return
    decoder = msgspec.msgpack.Decoder()
    while offset + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        end = start + length
        if length > MAX_RECORD or end > len(data):
            return
        payload = data[start:end]
        if _crc(data, offset, end, v2) != crc:
            return
        try:
            seq, entry = decoder.decode(payload)
        except (msgspec.DecodeError, ValueError, TypeError):
            return
        yield seq, entry, end
        offset = end


def _record_at(data: bytes, offset: int, decoder: msgspec.msgpack.Decoder[Any],
               v2: bool) -> tuple[int, int] | str:
    """``(seq, end)`` of an intact record at ``offset``, else what is wrong there."""
    if offset + _HEADER.size > len(data):
        return f"{len(data) - offset} bytes, too short for a record header"
    length, crc = _HEADER.unpack_from(data, offset)
    start = offset + _HEADER.size
    end = start + length
    if length > MAX_RECORD:
        return f"length {length} is larger than any record"
    if end > len(data):
        return f"length {length} runs past the end of the file"
    payload = data[start:end]
    if _crc(data, offset, end, v2) != crc:
        return "checksum mismatch"
    try:
        seq, _ = decoder.decode(payload)
    except (msgspec.DecodeError, ValueError, TypeError) as exc:
        return f"payload does not decode ({exc})"
    if not isinstance(seq, int):
        return "payload is not a record"
    return seq, end


@dataclass(slots=True)
class Damage:
    """A record that does not read back, and the intact records found after it."""

    path: Path
    offset: int
    reason: str
    intact_after: int = 0
    first_seq_after: int | None = None
    last_seq_after: int | None = None


def find_damage(path: Path, after_seq: int) -> Damage | None:
    """The first damaged record of ``path``, with the intact records found after it.

    Only records numbered past ``after_seq`` (the last intact one before the damage)
    count: they would be lost by a cut. Every payload is MessagePack of a 2-array, so a
    record can only start 8 bytes before a 0x92 byte: the search jumps between those.
    """
    data = path.read_bytes()
    good, v2 = _start(data)
    for _, _, end in read_segment(path):
        good = end
    if good >= len(data):
        return None
    decoder = msgspec.msgpack.Decoder()
    found = _record_at(data, good, decoder, v2)
    if v2 and good == 0:
        found = "the segment's magic line is torn"
    damage = Damage(path, good, found if isinstance(found, str) else "unreadable")
    pos = data.find(b"\x92", good + 1 + _HEADER.size)
    while pos >= 0:
        at = _record_at(data, pos - _HEADER.size, decoder, v2)
        if not isinstance(at, str) and at[0] > after_seq:
            seq, end = at
            damage.intact_after += 1
            if damage.first_seq_after is None:
                damage.first_seq_after = seq
            damage.last_seq_after = seq
            after_seq = seq
            pos = data.find(b"\x92", end + _HEADER.size)
        else:
            pos = data.find(b"\x92", pos + 1)
    return damage


def scan_segment(path: Path) -> SegmentScan:
    scan = SegmentScan(path)
    scan.good_bytes = records_start(path)
    for seq, _, end in read_segment(path):
        scan.records += 1
        if scan.first_seq is None:
            scan.first_seq = seq
        scan.last_seq = seq
        scan.good_bytes = end
    scan.torn_bytes = path.stat().st_size - scan.good_bytes
    return scan


def _numbered(data_dir: Path, pattern: re.Pattern[str]) -> list[tuple[int, Path]]:
    """The files whose names match ``pattern``, by the record number in their name."""
    found = []
    for path in data_dir.iterdir():
        match = pattern.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def segments(data_dir: Path) -> list[tuple[int, Path]]:
    return _numbered(data_dir, _SEGMENT)


def snapshots(data_dir: Path) -> list[tuple[int, Path]]:
    return _numbered(data_dir, _SNAPSHOT)


def old_snapshots(data_dir: Path) -> list[tuple[int, Path]]:
    """Snapshots in the first format (``snapshot-<seq>.pickle``), for ``exchange upgrade``."""
    return _numbered(data_dir, _OLD_SNAPSHOT)


class _SnapshotFile(msgspec.Struct, array_like=True):
    """A snapshot file's payload: the record number it holds the state after, when it was
    written, and the state (:mod:`exchange.core.snapshot_format`, decoded only once the
    checksum matched)."""

    seq: int
    written_at: int
    state: msgspec.Raw


_SNAPSHOT_FILE = msgspec.msgpack.Decoder(_SnapshotFile)


class UnreadableSnapshot(Exception):
    """A snapshot file that does not read back intact; the message says what is wrong."""


def load_snapshot(path: Path, max_open_orders: int = DEFAULT_MAX_OPEN_ORDERS
                  ) -> tuple[int, int, Exchange]:
    """``(seq, written_at_us, exchange)`` of a snapshot file.

    Raises :class:`UnreadableSnapshot` when it does not read back intact (wrong magic,
    checksum mismatch, a record that does not decode or is not a consistent exchange), and
    :class:`RecoveryError` when it is intact but of a version newer than this code reads:
    skipping it would start from older state that a newer version has moved on from.
    """
    data = path.read_bytes()
    if not data.startswith(_SNAPSHOT_MAGIC):
        raise UnreadableSnapshot("not a snapshot file (its first line is not EXSNAP2)")
    body = memoryview(data)[len(_SNAPSHOT_MAGIC):]
    if len(body) < 4:
        raise UnreadableSnapshot("too short for its checksum")
    (crc,) = _LENGTH.unpack_from(body)
    payload = body[4:]
    if zlib.crc32(payload) != crc:
        raise UnreadableSnapshot("checksum mismatch")
    try:
        top = _SNAPSHOT_FILE.decode(payload)
        record = snapshot_records.decode(top.state)
        exchange = snapshot_records.restore(record, max_open_orders=max_open_orders)
    except UnknownVersion as exc:
        raise RecoveryError(f"{path.name}: {exc}") from None
    except (msgspec.DecodeError, msgspec.ValidationError, SnapshotError) as exc:
        raise UnreadableSnapshot(str(exc)) from None
    return top.seq, top.written_at, exchange


def read_snapshot(path: Path) -> tuple[int, int, Exchange] | None:
    """``(seq, written_at_us, exchange)`` of an intact snapshot file, else None."""
    try:
        return load_snapshot(path)
    except UnreadableSnapshot:
        return None


def write_snapshot(data_dir: Path, seq: int, written_at: int, exchange: Exchange) -> Path:
    """Write ``snapshot-<seq>.snap`` atomically: a temporary file, fsync, rename, fsync the
    directory. A crash leaves the old state of the directory or the new one, and at worst a
    ``.tmp`` file that the next start removes."""
    state = snapshot_records.encode(snapshot_records.capture(exchange))
    payload = msgspec.msgpack.encode(_SnapshotFile(seq, written_at, msgspec.Raw(state)))
    final = data_dir / f"snapshot-{seq:012d}.snap"
    tmp = final.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        fh.write(_SNAPSHOT_MAGIC)
        fh.write(_LENGTH.pack(zlib.crc32(payload)))
        fh.write(payload)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    fsync_dir(data_dir)
    return final


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_locks: dict[Path, int] = {}
"""Data directories this process holds, and the descriptor holding each lock."""


def lock_data_dir(data_dir: Path) -> None:
    """Take ``data_dir`` for this process, or raise :class:`RecoveryError` if it is taken."""
    key = data_dir.resolve()
    if key in _locks or sys.platform == "win32":
        return
    fd = os.open(key / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise RecoveryError(f"{data_dir} is in use by another exchange server "
                            "(its LOCK is held)") from None
    _locks[key] = fd


def unlock_data_dir(data_dir: Path) -> None:
    fd = _locks.pop(data_dir.resolve(), None)
    if fd is not None:
        os.close(fd)  # closing the only descriptor of the lock releases it


def _gap(path: Path, seq: int, last: int, unreadable: list[tuple[int, Path]]) -> str:
    message = f"{path.name}: record {seq} follows {last}; the journal has a gap"
    if unreadable:
        message += (f" (the records before it were in {unreadable[0][1].name}, "
                    "which is unreadable)")
    return message


def _spec_changes(config: Exchange, restored: Exchange) -> str:
    """How the configuration's symbols differ from a snapshot's, or "" if they agree."""
    wanted = {n: (str(s.tick_size), str(s.lot_size)) for n, s in config.specs.items()}
    held = {n: (str(s.tick_size), str(s.lot_size)) for n, s in restored.specs.items()}
    changes = [f"{n} only in the configuration" for n in wanted if n not in held]
    changes += [f"{n} only in the data directory (listed at run time, or no longer in the "
                "configuration)" for n in held if n not in wanted]
    changes += [f"{n} has another tick or lot" for n in wanted
                if n in held and wanted[n] != held[n]]
    return ", ".join(changes)


# -- the journal ---------------------------------------------------------------------------

@dataclass
class Recovered:
    exchange: Exchange
    seq: int
    snapshot_seq: int
    replayed: int
    torn_bytes: int = 0
    notes: list[str] = field(default_factory=list)


class FileJournal:
    """The journal of a data directory: recovery at open, group commit, snapshots."""

    def __init__(self, data_dir: Path, exchange: Exchange, seq: int,
                 base_seq: int = 0) -> None:
        """Continue the journal of ``data_dir`` after record ``seq``.

        ``base_seq`` is the record of the snapshot the exchange was recovered from (0: from
        the configuration); the next snapshot keeps it, and the journal since it, as the
        previous generation.
        """
        self.dir = data_dir
        self.exchange = exchange
        self.seq = seq
        self.durable_seq = seq
        self.base_seq = base_seq
        self.failed: OSError | None = None
        self.on_failure: Callable[[OSError], None] | None = None
        self._encoder = msgspec.msgpack.Encoder()
        self._buffer = bytearray()
        self._undo = 0
        self._since_snapshot = 0
        self.snapshot_every = 1_000_000
        self.sync_times = Histogram(FSYNC_BOUNDS)
        """Seconds each commit's write and fdatasync took (the metrics' histogram)."""
        self._clock = time.perf_counter
        self._fd = -1
        self._magic = b""
        self.history_log: HistoryLog | None = None
        """Told each record's number as it is appended (the history notes it)."""
        for path in data_dir.glob("snapshot-*.tmp"):  # what a crash in a snapshot left
            path.unlink()
        self._open_segment(seq)

    # -- opening ------------------------------------------------------------------------------
    @classmethod
    def recover(cls, data_dir: Path, fresh: Exchange) -> Recovered:
        """Rebuild the exchange from ``data_dir``; ``fresh`` is used when it is empty.

        Raises :class:`RecoveryError` (having changed nothing) when the directory cannot
        give back at least everything a snapshot in it held.
        """
        data_dir.mkdir(parents=True, exist_ok=True)
        had_lock_file = (data_dir / "LOCK").exists()
        lock_data_dir(data_dir)
        try:
            return cls._recover(data_dir, fresh)
        except RecoveryError:
            # Refusing changes nothing: not even the LOCK file, if this made it.
            unlock_data_dir(data_dir)
            if not had_lock_file:
                (data_dir / "LOCK").unlink(missing_ok=True)
            raise

    @classmethod
    def _recover(cls, data_dir: Path, fresh: Exchange) -> Recovered:
        old = old_snapshots(data_dir)
        if old:
            raise RecoveryError(
                f"{data_dir} holds snapshots in the old pickle format ({old[-1][1].name}), "
                "which this version does not load: unpickling a file can run any code. If "
                f"the directory is this exchange's own, convert it once with: exchange "
                f"upgrade {data_dir}")
        exchange, snap_seq = fresh, 0
        notes = []
        unreadable: list[tuple[int, Path]] = []
        for seq, path in reversed(snapshots(data_dir)):
            try:
                snap_seq, _, exchange = load_snapshot(path, fresh.max_open_orders)
            except UnreadableSnapshot as exc:
                log.warning("snapshot %s is unreadable: %s", path.name, exc)
                unreadable.append((seq, path))
                notes.append(f"skipped unreadable snapshot {path.name}")
                continue
            differ = _spec_changes(fresh, exchange)
            if differ:
                notes.append(f"the configuration's symbols differ from the data directory's "
                             f"({differ}); the data directory's are used")
            break
        last = snap_seq
        replayed = 0
        torn = 0
        truncate: list[tuple[Path, int]] = []
        found = segments(data_dir)
        for i, (_, path) in enumerate(found):
            if i + 1 < len(found) and found[i + 1][0] <= snap_seq:
                continue  # every record of it is in the snapshot: the next one starts there
            good = records_start(path)
            for seq, entry, end in read_segment(path):
                good = end
                if seq <= last:
                    continue
                if seq != last + 1:
                    raise RecoveryError(_gap(path, seq, last, unreadable))
                try:
                    apply(exchange, entry)
                except Exception as exc:  # a bug: the same one may have stopped the server
                    raise RecoveryError(
                        f"recovery met a bug at record {seq} of {path.name}: {exc!r}; "
                        "nothing on disk was changed") from exc
                last = seq
                replayed += 1
            size = path.stat().st_size
            if size > good:
                damage = find_damage(path, last)
                assert damage is not None
                if damage.intact_after or i + 1 < len(found):
                    # Not a torn tail: acknowledged records follow the damage (or a
                    # later segment does). Cutting would destroy them; refuse instead.
                    follows = (f"{damage.intact_after} intact records follow it"
                               if damage.intact_after else "later segments follow it")
                    raise RecoveryError(
                        f"{path.name} is damaged at byte {damage.offset} (record "
                        f"{last + 1} expected there: {damage.reason}) and {follows}; "
                        "refusing to start, nothing on disk was changed (see exchange "
                        "inspect; exchange repair --truncate-at-damage cuts there)")
                torn += size - good
                notes.append(f"{path.name}: dropped a torn tail of {size - good} bytes")
                truncate.append((path, good))
        if unreadable and last < unreadable[0][0]:
            seq, path = unreadable[0]
            raise RecoveryError(
                f"{path.name} is unreadable and the journal kept ends at record {last}, "
                f"before its record {seq}; refusing to start with less than was "
                f"acknowledged (restore {path.name} or an older snapshot with its journal)")
        for path, good in truncate:
            with open(path, "r+b") as fh:
                fh.truncate(good)
                fh.flush()
                os.fsync(fh.fileno())
        return Recovered(exchange, last, snap_seq, replayed, torn, notes)

    def _open_segment(self, seq: int) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        path = self.dir / f"journal-{seq:012d}.log"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        # An empty segment gets the magic line with its first records (one write); a
        # non-empty one here is a version 2 segment recovered with no records after it.
        self._magic = _MAGIC if os.fstat(self._fd).st_size == 0 else b""
        fsync_dir(self.dir)

    # -- writing --------------------------------------------------------------------------------
    def append(self, cmd: Command) -> None:
        """Buffer one command record; raises :class:`NotRecordable`, having changed nothing, if
        it cannot be encoded.

        The record number is taken only once the record is encoded, so that a refusal
        leaves no gap in the numbering.
        """
        seq = self.seq + 1
        try:
            payload = self._encoder.encode((seq, cmd))
        except Exception as exc:  # OverflowError for an int past 64 bits, TypeError...
            raise NotRecordable(f"{_field_of(cmd)}: cannot be recorded ({exc})") from exc
        buffer = self._buffer
        self._undo = len(buffer)
        size = len(payload)
        buffer += _HEADER.pack(size, zlib.crc32(payload, zlib.crc32(_LENGTH.pack(size))))
        buffer += payload
        self.seq = seq
        if self.history_log is not None:
            self.history_log.seq = seq

    def retract(self, seq: int) -> None:
        """Take back record ``seq``, the last one appended and not yet committed.

        For a command that failed after it was recorded and before it was answered
        (see the fail-stop in :mod:`exchange.server.actor`): the record leaves the
        buffer and its number is given back.
        """
        if seq != self.seq or seq <= self.durable_seq:
            raise ValueError(f"record {seq} is not the last uncommitted record "
                             f"(last {self.seq}, durable {self.durable_seq})")
        del self._buffer[self._undo:]
        self.seq -= 1
        if self.history_log is not None:
            self.history_log.seq = self.seq

    def commit(self) -> None:
        """One write and one fsync for everything appended since the last commit.

        Raises if the journal cannot be made durable (now or at any earlier commit): the
        caller must then acknowledge nothing more.
        """
        if self.failed is not None:
            raise JournalFailed(f"the journal failed earlier: {self.failed}") from self.failed
        if not self._buffer:
            return
        data = self._magic + self._buffer
        self._buffer.clear()
        try:
            started = self._clock()
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            os.fdatasync(self._fd)
            self.sync_times.observe(self._clock() - started)
            self._magic = b""
        except OSError as exc:
            self.failed = exc
            log.critical("journal write failed after record %d: %s", self.durable_seq, exc)
            if self.on_failure is not None:
                self.on_failure(exc)
            raise
        self._since_snapshot += self.seq - self.durable_seq
        self.durable_seq = self.seq
        if self._since_snapshot >= self.snapshot_every:
            self.snapshot()

    def snapshot(self) -> Path:
        """Write the whole state atomically, start a new segment, drop what is two back."""
        self.commit()
        final = self.dir / f"snapshot-{self.seq:012d}.snap"
        if self.seq == self.base_seq and self.seq > 0 and final.exists():
            return final  # recovered from it and nothing happened since
        from exchange.server.views import now_us

        final = write_snapshot(self.dir, self.seq, now_us(), self.exchange)
        self._open_segment(self.seq)
        # Keep the previous generation: should this snapshot ever read back damaged,
        # recovery rebuilds from the one before it (or the configuration) and its journal.
        keep_from, self.base_seq = self.base_seq, self.seq
        for seq, path in snapshots(self.dir):
            if seq < keep_from:
                path.unlink()
        for seq, path in segments(self.dir):
            if seq < keep_from:
                path.unlink()
        fsync_dir(self.dir)
        self._since_snapshot = 0
        log.info("snapshot at record %d: %s (%d bytes)", self.seq, final.name,
                 final.stat().st_size)
        return final

    def close(self) -> None:
        self.commit()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        unlock_data_dir(self.dir)
