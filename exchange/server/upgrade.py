"""``exchange upgrade DIR``: convert a data directory's pickled snapshots to the current format.

Snapshots were once the pickled ``Exchange`` object (``snapshot-<seq>.pickle``, magic
``EXSNAP1``). Unpickling a file runs whatever code it names, so the server never loads one:
it refuses to start and names this command. Running it is the operator's statement that
the directory is this exchange's own (written by its own server, not received from
someone else); it unpickles each old snapshot once, writes the same state as
``snapshot-<seq>.snap`` (:mod:`exchange.core.snapshot_format`) and removes the old file.

Each conversion is atomic and a crash leaves the old file in place, so running it again
finishes the work. An old snapshot that does not read back intact (wrong magic, bad
checksum: what recovery used to skip) is kept, renamed to ``snapshot-<seq>.snap`` with its
bytes unchanged: recovery then sees an unreadable snapshot at that record, skips it and
still refuses to start with less than it held, exactly as before. Journal segments need
no conversion. Pickles can only be read by a version whose classes they name; upgrade
with the version you upgrade to, before a later one moves the core's classes.
"""

from __future__ import annotations

import pickle
import struct
import zlib
from pathlib import Path

from exchange.core.engine import Exchange
from exchange.server.journal import (
    RecoveryError,
    fsync_dir,
    lock_data_dir,
    old_snapshots,
    unlock_data_dir,
    write_snapshot,
)

OLD_MAGIC = b"EXSNAP1\n"


def read_pickled_snapshot(path: Path) -> tuple[int, int, Exchange] | None:
    """``(seq, written_at_us, exchange)`` of an intact first-format snapshot, else None.

    This runs the code the file names: call it only on a directory you trust."""
    data = path.read_bytes()
    if not data.startswith(OLD_MAGIC) or len(data) < len(OLD_MAGIC) + 4:
        return None
    (crc,) = struct.unpack_from("<I", data, len(OLD_MAGIC))
    payload = data[len(OLD_MAGIC) + 4:]
    if zlib.crc32(payload) != crc:
        return None
    try:
        seq, written_at, exchange = pickle.loads(payload)
    except Exception:  # a matching checksum over a payload that is not ours
        return None
    if not isinstance(exchange, Exchange) or not isinstance(seq, int):
        return None
    return seq, written_at, exchange


def upgrade(data_dir: Path) -> tuple[int, str]:
    """Convert every pickled snapshot of ``data_dir``; returns ``(exit status, report)``."""
    if not data_dir.is_dir():
        return 2, f"{data_dir}: not a directory"
    try:
        lock_data_dir(data_dir)  # never under a running server
    except RecoveryError as exc:
        return 1, str(exc)
    try:
        lines = []
        for seq, path in old_snapshots(data_dir):
            loaded = read_pickled_snapshot(path)
            target = path.with_suffix(".snap")
            if loaded is None:
                path.replace(target)
                fsync_dir(data_dir)
                lines.append(f"{path.name}: unreadable; kept as {target.name} (recovery skips "
                             "it as before)")
                continue
            written_seq, written_at, exchange = loaded
            if written_seq != seq:
                return 1, "\n".join([*lines, f"{path.name}: holds record {written_seq}, not "
                                     f"{seq}; nothing done with it"])
            write_snapshot(data_dir, seq, written_at, exchange)
            path.unlink()
            fsync_dir(data_dir)
            lines.append(f"{path.name}: converted to {target.name}")
        if not lines:
            return 0, f"{data_dir}: no old snapshots; nothing to do"
        return 0, "\n".join(lines)
    finally:
        unlock_data_dir(data_dir)
