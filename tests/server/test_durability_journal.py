"""FileJournal on its own, and the rule that nothing is answered before it is durable.

* ``append`` only buffers: the file does not change until ``commit``; after ``commit``
  returns, a fresh reader sees every record appended, in order, and the commit was one
  write and one fsync for all of them (group commit).
* A write or fsync that fails poisons the journal: that commit and every later one
  raise, and the server's hook runs once.
* In a real server (in this process), every time a session's output is handed to the
  transport the journal holds nothing appended but not yet synced; and when the sync
  fails, nothing more is answered and the server exits.
* Snapshots keep exactly one generation back; recovery replays across segments.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from exchange.server.config import demo_config
from exchange.server.journal import (
    FileJournal,
    JournalFailed,
    read_segment,
    segments,
    snapshots,
)
from exchange.server.server import EXIT_JOURNAL_FAILED, ExchangeServer
from exchange.server.session import Session
from tests.server.durability_helpers import Client


def new_journal(tmp_path: Path) -> tuple[FileJournal, Path]:
    journal = FileJournal(tmp_path, demo_config().build_exchange(), 0)
    return journal, tmp_path / "journal-000000000000.log"


def records(path: Path) -> list[tuple[int, Any]]:
    return [(seq, entry) for seq, entry, _ in read_segment(path)]


def test_append_writes_nothing_until_commit(tmp_path: Path) -> None:
    journal, path = new_journal(tmp_path)
    for i in range(1, 4):
        journal.append(("deposit", "alice", i))
    assert path.stat().st_size == 0
    assert records(path) == []
    assert journal.durable_seq == 0 and journal.seq == 3
    journal.commit()
    assert records(path) == [(i, ["deposit", "alice", i]) for i in range(1, 4)]
    assert journal.durable_seq == 3
    journal.close()


def test_every_record_is_readable_once_commit_returns(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    journal, path = new_journal(tmp_path)
    calls: list[str] = []
    real_write, real_sync = os.write, os.fdatasync

    def write(fd: int, data: Any) -> int:
        calls.append("write")
        return real_write(fd, data)

    def sync(fd: int) -> None:
        calls.append("sync")
        real_sync(fd)

    monkeypatch.setattr(os, "write", write)
    monkeypatch.setattr(os, "fdatasync", sync)
    expected: list[tuple[int, Any]] = []
    for batch in (1, 7, 0, 250, 3):
        calls.clear()
        for _ in range(batch):
            entry = ("place", 1_700_000_000_000_000 + len(expected), "bob", "AAPL", "buy",
                     len(expected) + 1, "limit", "gtc", 15000, None, None, False, "none",
                     f"cid-{len(expected)}" * 3)
            journal.append(entry)
            expected.append((len(expected) + 1, list(entry)))
        assert records(path) == expected[:len(expected) - batch]  # not yet
        journal.commit()
        assert calls == (["write", "sync"] if batch else [])
        assert records(path) == expected  # a fresh read sees all of them
        assert journal.durable_seq == len(expected)
    journal.close()


def test_a_failed_sync_poisons_the_journal(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    journal, path = new_journal(tmp_path)
    journal.append(("deposit", "alice", 1))
    journal.commit()
    size = path.stat().st_size
    failures: list[OSError] = []
    journal.on_failure = failures.append

    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", broken)
    journal.append(("deposit", "alice", 2))
    with pytest.raises(OSError, match="Input/output"):
        journal.commit()
    assert len(failures) == 1 and failures[0].errno == errno.EIO
    assert journal.durable_seq == 1
    monkeypatch.undo()  # the disk "works" again: a retry must still not claim success
    journal.append(("deposit", "alice", 3))
    with pytest.raises(JournalFailed):
        journal.commit()
    with pytest.raises(JournalFailed):
        journal.commit()
    assert len(failures) == 1
    assert journal.durable_seq == 1
    # What reached the file after the good commit was never acknowledged; a restart
    # may replay it or not, but the good prefix is intact.
    assert records(path)[:1] == [(1, ["deposit", "alice", 1])]
    assert path.stat().st_size >= size


def test_snapshots_keep_one_generation_back(tmp_path: Path) -> None:
    exchange = demo_config().build_exchange()
    journal = FileJournal(tmp_path, exchange, 0)
    names: list[tuple[list[str], list[str]]] = []
    for round_ in range(3):
        for i in range(5):
            entry = ("deposit", "alice", 100 * round_ + i + 1)
            exchange.deposit("alice", entry[2])
            journal.append(entry)
        journal.commit()
        journal.snapshot()
        names.append(([p.name for _, p in snapshots(tmp_path)],
                      [p.name for _, p in segments(tmp_path)]))
    journal.close()
    assert names == [
        (["snapshot-000000000005.snap"],
         ["journal-000000000000.log", "journal-000000000005.log"]),
        (["snapshot-000000000005.snap", "snapshot-000000000010.snap"],
         ["journal-000000000005.log", "journal-000000000010.log"]),
        (["snapshot-000000000010.snap", "snapshot-000000000015.snap"],
         ["journal-000000000010.log", "journal-000000000015.log"]),
    ]
    recovered = FileJournal.recover(tmp_path, demo_config().build_exchange())
    assert (recovered.seq, recovered.snapshot_seq, recovered.replayed) == (15, 15, 0)
    cash = recovered.exchange.accounts.by_user["alice"].cash
    assert cash == exchange.accounts.by_user["alice"].cash
    # Without the newest snapshot, the previous one and its journal give the same.
    (tmp_path / "snapshot-000000000015.snap").write_bytes(b"EXSNAP2\nnot a snapshot")
    recovered = FileJournal.recover(tmp_path, demo_config().build_exchange())
    assert (recovered.seq, recovered.snapshot_seq, recovered.replayed) == (15, 10, 5)
    assert recovered.exchange.accounts.by_user["alice"].cash == cash
    assert recovered.notes == ["skipped unreadable snapshot snapshot-000000000015.snap"]


# -- in a real server ----------------------------------------------------------------------------

@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[ExchangeServer]:
    threshold = gc.get_threshold()
    server = ExchangeServer(demo_config(), port=0, data_dir=tmp_path / "data")
    await server.start()
    try:
        yield server
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
        server.gateway.stop()
        if server._server is not None:
            server._server.close()
        for session in list(server.gateway.sessions.values()):
            if session.transport is not None:
                session.transport.abort()
        await asyncio.sleep(0)


async def test_output_is_written_only_when_the_journal_is_synced(
        served: ExchangeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = served.gateway.journal
    assert journal is not None
    checked: list[int] = []
    real_flush = Session.flush

    def flush(session: Session) -> None:
        if session.out:
            assert not journal._buffer, "output written before the journal was synced"
            assert journal.durable_seq == journal.seq
            checked.append(len(session.out))
        real_flush(session)

    monkeypatch.setattr(Session, "flush", flush)
    addr = ("127.0.0.1", served.port)
    alice, bob = await Client.connect(addr, "alice"), await Client.connect(addr, "bob")
    replies = []
    for round_ in range(8):  # in rounds, so that there are many turns and many flushes
        futures = []
        for i in range(25):
            price = f"{150 + (i % 7 - 3) / 10:.2f}"
            futures.append(alice.send("place", symbol="AAPL", side="buy", qty="3",
                                      price=price))
            futures.append(bob.send("place", symbol="AAPL", side="sell", qty="2",
                                    price=price))
            if i % 10 == round_ % 10:
                futures.append(alice.send("deposit", amount="10"))
                futures.append(bob.send("cancel_all", symbol="AAPL"))
        replies += await asyncio.wait_for(asyncio.gather(*futures), 10.0)
    assert all(r["type"] != "error" for r in replies), [r for r in replies if "code" in r][:3]
    assert sum(len(r.get("fills", ())) for r in replies) > 0
    assert len(checked) >= 8
    assert journal.durable_seq == journal.seq > 400
    await alice.close()
    await bob.close()


async def test_a_failed_sync_answers_nothing_more_and_exits(
        served: ExchangeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = served.gateway.journal
    assert journal is not None
    addr = ("127.0.0.1", served.port)
    alice = await Client.connect(addr, "alice")
    placed = await alice.call("place", symbol="AAPL", side="buy", qty="1", price="149.00")
    assert placed["type"] == "accepted"
    exits: list[int] = []
    monkeypatch.setattr(logging, "shutdown", lambda: None)
    monkeypatch.setattr(os, "_exit", exits.append)

    def broken(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fdatasync", broken)
    lost = alice.send("place", symbol="AAPL", side="buy", qty="1", price="148.00")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(lost), 0.5)
    assert exits == [EXIT_JOURNAL_FAILED]
    # Even once the disk works again, nothing more is answered: not the lost place,
    # not a later request.
    monkeypatch.setattr(os, "fdatasync", os.fsync)
    later = alice.send("balance")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(later), 0.5)
    assert not lost.done()
    assert exits == [EXIT_JOURNAL_FAILED]
    with contextlib.suppress(Exception):
        await alice.close()
