"""Snapshot files: the versioned format on disk, no pickle on the load path, and the
deliberate upgrade of a data directory whose snapshots are old pickles."""

from __future__ import annotations

import ast
import pickle
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import msgspec
import pytest

from exchange.core.commands import Command, Deposit, Place
from exchange.core.engine import Exchange
from exchange.core.snapshot import capture
from exchange.core.snapshot_format import SNAPSHOT_VERSION
from exchange.server.config import demo_config
from exchange.server.inspect import inspect
from exchange.server.journal import FileJournal, RecoveryError, snapshots
from exchange.server.upgrade import upgrade

ROOT = Path(__file__).resolve().parents[2]
SNAP = "snapshot-000000000003.snap"
OLD = "snapshot-000000000003.pickle"


def busy_exchange() -> Exchange:
    ex = demo_config().build_exchange()
    ex.place("alice", "AAPL", "buy", 5, 1_000, price=14_000)
    ex.place("bob", "AAPL", "sell", 2, 2_000, price=14_000)
    ex.deposit("carol", 700)
    return ex


def entries() -> list[Command]:
    """The journal records of ``busy_exchange`` (its three commands)."""
    return [Place(1_000, "alice", "AAPL", "buy", 5, "limit", "gtc", 14_000, None, None,
                  False, "none", None),
            Place(2_000, "bob", "AAPL", "sell", 2, "limit", "gtc", 14_000, None, None,
                  False, "none", None),
            Deposit(3_000, "carol", 700)]


def write_old_snapshot(path: Path, payload_object: object) -> None:
    """A snapshot of the first format, as the server used to write it."""
    payload = pickle.dumps(payload_object, protocol=pickle.HIGHEST_PROTOCOL)
    path.write_bytes(b"EXSNAP1\n" + struct.pack("<I", zlib.crc32(payload)) + payload)


def test_a_snapshot_file_is_magic_checksum_and_msgpack(tmp_path: Path) -> None:
    ex = busy_exchange()
    journal = FileJournal(tmp_path, ex, 0)
    for entry in entries():
        journal.append(entry)
    journal.snapshot()
    journal.close()
    data = (tmp_path / SNAP).read_bytes()
    assert data.startswith(b"EXSNAP2\n")
    (crc,) = struct.unpack_from("<I", data, 8)
    assert crc == zlib.crc32(data[12:])
    seq, written_at, state = msgspec.msgpack.decode(data[12:])
    assert seq == 3 and written_at > 0
    assert state["version"] == SNAPSHOT_VERSION and state["next_order_id"] == 3
    recovered = FileJournal.recover(tmp_path, demo_config().build_exchange())
    assert (recovered.seq, recovered.snapshot_seq, recovered.replayed) == (3, 3, 0)
    assert capture(recovered.exchange) == capture(ex)
    recovered.exchange.check_invariants()


def test_a_newer_snapshot_version_is_refused_not_skipped(tmp_path: Path) -> None:
    payload = msgspec.msgpack.encode([3, 1, {"version": 99}])
    (tmp_path / SNAP).write_bytes(b"EXSNAP2\n" + struct.pack("<I", zlib.crc32(payload))
                                  + payload)
    with pytest.raises(RecoveryError, match="version 99 is not known"):
        FileJournal.recover(tmp_path, demo_config().build_exchange())
    assert "NEWER FORMAT" in inspect(tmp_path)


def test_an_intact_file_with_a_bad_record_is_skipped_as_unreadable(tmp_path: Path) -> None:
    payload = msgspec.msgpack.encode([3, 1, {"version": 1, "orders": "?"}])
    (tmp_path / SNAP).write_bytes(b"EXSNAP2\n" + struct.pack("<I", zlib.crc32(payload))
                                  + payload)
    with pytest.raises(RecoveryError, match=f"{SNAP} is unreadable"):
        FileJournal.recover(tmp_path, demo_config().build_exchange())
    assert f"{SNAP}: UNREADABLE (malformed version 1 snapshot" in inspect(tmp_path)


def test_an_old_pickle_is_never_loaded_at_start_up(tmp_path: Path) -> None:
    """Recovery and inspect refuse to unpickle: the file's code does not run."""
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self) -> tuple[Any, ...]:
            return (Path.touch, (marker,))

    data = tmp_path / "data"
    data.mkdir()
    write_old_snapshot(data / OLD, (3, 1, Evil()))
    with pytest.raises(RecoveryError, match=rf"old pickle format \({OLD}\).*exchange upgrade"):
        FileJournal.recover(data, demo_config().build_exchange())
    assert "OLD FORMAT" in inspect(data)
    assert not marker.exists()
    assert sorted(p.name for p in data.iterdir()) == [OLD]  # refusing changed nothing


def test_upgrade_converts_old_snapshots_and_recovery_replays_after_them(
        tmp_path: Path) -> None:
    ex = busy_exchange()
    write_old_snapshot(tmp_path / OLD, (3, 1234, ex))
    journal = FileJournal(tmp_path, ex, 3)  # the segment after it, as the server kept it
    ex.deposit("dave", 5)
    journal.append(Deposit(4_000, "dave", 5))
    journal.close()
    status, report = upgrade(tmp_path)
    assert (status, report) == (0, f"{OLD}: converted to {SNAP}")
    assert [p.name for _, p in snapshots(tmp_path)] == [SNAP]
    assert not (tmp_path / OLD).exists()
    recovered = FileJournal.recover(tmp_path, demo_config().build_exchange())
    assert (recovered.seq, recovered.snapshot_seq, recovered.replayed) == (4, 3, 1)
    assert capture(recovered.exchange) == capture(ex)
    assert msgspec.msgpack.decode((tmp_path / SNAP).read_bytes()[12:])[1] == 1234
    recovered_journal = FileJournal(tmp_path, recovered.exchange, recovered.seq, 3)
    recovered_journal.close()
    assert upgrade(tmp_path) == (0, f"{tmp_path}: no old snapshots; nothing to do")


def test_upgrade_keeps_an_unreadable_old_snapshot_as_an_unreadable_new_one(
        tmp_path: Path) -> None:
    """Recovery still knows a snapshot was at record 3, and refuses with less."""
    (tmp_path / OLD).write_bytes(b"EXSNAP1\nnot a snapshot")
    status, report = upgrade(tmp_path)
    assert status == 0 and "unreadable; kept as" in report
    assert (tmp_path / SNAP).read_bytes() == b"EXSNAP1\nnot a snapshot"
    with pytest.raises(RecoveryError, match=f"{SNAP} is unreadable and the journal kept "
                                            "ends at record 0"):
        FileJournal.recover(tmp_path, demo_config().build_exchange())


def test_upgrade_refuses_a_directory_a_server_holds(tmp_path: Path) -> None:
    recovered = FileJournal.recover(tmp_path, demo_config().build_exchange())
    journal = FileJournal(tmp_path, recovered.exchange, recovered.seq)
    try:
        script = ("import sys; from pathlib import Path; "
                  "from exchange.server.upgrade import upgrade; "
                  f"s, r = upgrade(Path({str(tmp_path)!r})); print(r); sys.exit(s)")
        done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, text=True,
                              capture_output=True, timeout=60)
        assert done.returncode == 1 and "in use by another exchange server" in done.stdout
    finally:
        journal.close()


def test_the_cli_upgrades(tmp_path: Path) -> None:
    write_old_snapshot(tmp_path / OLD, (3, 1, busy_exchange()))
    done = subprocess.run([sys.executable, "-m", "exchange", "upgrade", str(tmp_path)],
                          cwd=ROOT, text=True, capture_output=True, timeout=60)
    assert done.returncode == 0 and f"converted to {SNAP}" in done.stdout
    assert (tmp_path / SNAP).exists() and not (tmp_path / OLD).exists()


LOAD_PATH = ("exchange/server/journal.py", "exchange/server/server.py",
             "exchange/server/inspect.py", "exchange/server/gateway.py",
             "exchange/core/snapshot.py", "exchange/core/snapshot_format.py")


@pytest.mark.parametrize("module", LOAD_PATH)
def test_no_pickle_on_the_load_path(module: str) -> None:
    tree = ast.parse((ROOT / module).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)}
    assert not imported & {"pickle", "_pickle", "marshal", "shelve", "exchange.server.upgrade"}
