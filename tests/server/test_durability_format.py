"""The journal's segment format: version 2 (magic line, checksum over the length too),
version 1 segments still read, and refusals that leave no gap in the numbering."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import msgspec
import pytest

from exchange.server.config import demo_config
from exchange.server.journal import (
    FileJournal,
    NotRecordable,
    RecoveryError,
    read_segment,
)

SEGMENT = "journal-000000000000.log"


def test_a_segment_starts_with_the_magic_and_its_checksums_cover_the_length(
        tmp_path: Path) -> None:
    journal = FileJournal(tmp_path, demo_config().build_exchange(), 0)
    journal.append(("deposit", "alice", 5))
    journal.commit()
    journal.close()
    data = (tmp_path / SEGMENT).read_bytes()
    assert data.startswith(b"EXJRNL2\n")
    length, crc = struct.unpack_from("<II", data, 8)
    payload = data[16:16 + length]
    assert crc == zlib.crc32(data[8:12] + payload) != zlib.crc32(payload)
    assert [s for s, _, _ in read_segment(tmp_path / SEGMENT)] == [1]


def test_a_version_1_segment_still_loads(tmp_path: Path) -> None:
    encoder = msgspec.msgpack.Encoder()
    old = bytearray()
    for seq in (1, 2, 3):
        payload = encoder.encode((seq, ("deposit", "alice", 100 * seq)))
        old += struct.pack("<II", len(payload), zlib.crc32(payload)) + payload
    (tmp_path / SEGMENT).write_bytes(bytes(old))
    fresh = demo_config().build_exchange()
    cash = fresh.accounts.by_user["alice"].cash
    recovered = FileJournal.recover(tmp_path, fresh)
    assert (recovered.seq, recovered.replayed, recovered.torn_bytes) == (3, 3, 0)
    assert recovered.exchange.accounts.by_user["alice"].cash == cash + 600
    journal = FileJournal(tmp_path, recovered.exchange, recovered.seq)
    journal.append(("deposit", "alice", 1))
    journal.commit()
    journal.close()
    assert (tmp_path / "journal-000000000003.log").read_bytes().startswith(b"EXJRNL2\n")
    assert [s for s, _, _ in read_segment(tmp_path / SEGMENT)] == [1, 2, 3]


def test_a_torn_magic_line_is_a_torn_tail(tmp_path: Path) -> None:
    (tmp_path / SEGMENT).write_bytes(b"EXJR")
    recovered = FileJournal.recover(tmp_path, demo_config().build_exchange())
    assert (recovered.seq, recovered.torn_bytes) == (0, 4)
    assert (tmp_path / SEGMENT).stat().st_size == 0


def test_a_record_that_cannot_be_encoded_takes_no_number(tmp_path: Path) -> None:
    journal = FileJournal(tmp_path, demo_config().build_exchange(), 0)
    journal.append(("deposit", "alice", 1))
    with pytest.raises(NotRecordable, match="amount: cannot be recorded"):
        journal.append(("deposit", "alice", 2**64))
    journal.append(("deposit", "alice", 2))
    journal.append(("deposit", "alice", 3))
    journal.retract(3)
    with pytest.raises(ValueError):
        journal.retract(1)
    journal.commit()
    journal.close()
    got = [(s, e) for s, e, _ in read_segment(tmp_path / SEGMENT)]
    assert got == [(1, ["deposit", "alice", 1]), (2, ["deposit", "alice", 2])]


def test_damage_in_a_segment_that_is_not_the_last_refuses(tmp_path: Path) -> None:
    exchange = demo_config().build_exchange()
    journal = FileJournal(tmp_path, exchange, 0)
    for i in range(3):
        journal.append(("deposit", "alice", i + 1))
    journal.commit()
    journal._open_segment(3)  # a later segment, as after a snapshot
    journal.append(("deposit", "alice", 9))
    journal.commit()
    journal.close()
    path = tmp_path / SEGMENT
    path.write_bytes(path.read_bytes()[:-2])  # the last record of the first segment
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(RecoveryError, match=f"{SEGMENT} is damaged at byte \\d+ \\(record 3 "
                       "expected there.*later segments follow it"):
        FileJournal.recover(tmp_path, demo_config().build_exchange())
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
