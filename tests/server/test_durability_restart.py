"""Orderly restarts (SIGTERM: snapshot), a crash after one, gtd timers, corrupt snapshots.

* SIGTERM writes a snapshot at the last record and starts a new, empty journal segment;
  the state after the restart is exactly the state before it. More load and a kill -9
  then recover from that snapshot plus the journal written after it.
* A gtd order recovered from the data directory still expires at its time, by its timer,
  without any other command on its book to trigger lazy expiry.
* A snapshot that does not read back intact (bad checksum) is skipped: recovery falls
  back to the previous snapshot, or to the configuration, and replays the journal kept
  since then. When the journal kept cannot rebuild what the bad snapshot held, the
  server refuses to start, names the file, and changes nothing in the directory.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import time
from datetime import datetime
from pathlib import Path

from tests.server.durability_helpers import (
    Client,
    ServerProcess,
    close_all,
    connect_all,
    dump_state,
    inspect,
    run_load,
    settle,
    state_diff,
)


def files(data: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(data.iterdir())}


def snapshot_names(data: Path) -> list[str]:
    return sorted(p.name for p in data.glob("snapshot-*.snap"))


def corrupt(path: Path, rng: random.Random) -> None:
    """Flip one byte of the payload: the checksum no longer matches."""
    raw = bytearray(path.read_bytes())
    at = rng.randrange(12, len(raw))
    raw[at] ^= 0x5A
    path.write_bytes(bytes(raw))


async def load_and_stop(server: ServerProcess, seed: int, count: int) -> dict[str, object]:
    """Start, run a load, wait for every reply, take the picture, SIGTERM."""
    addr = await server.start()
    clients = await connect_all(addr)
    traders = await run_load(clients, seed, count)
    await settle(traders)
    await close_all(clients)
    state = await dump_state(addr)
    await server.terminate()
    return state


async def test_sigterm_snapshot_then_kill9_replays_the_journal(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = ServerProcess(data, tmp_path / "server.log")
    try:
        before = await load_and_stop(server, 11, 200)
        snaps = snapshot_names(data)
        assert len(snaps) == 1, files(data)
        seq = int(snaps[0].removeprefix("snapshot-").removesuffix(".snap"))
        assert seq > 0
        segment = data / f"journal-{seq:012d}.log"
        assert segment.stat().st_size == 0, files(data)
        assert max(p.name for p in data.glob("journal-*.log")) == segment.name
        report = await inspect(data)
        assert f"{snaps[0]}: record {seq}," in report, report
        assert f"{segment.name}: 0 no records" in report, report
        assert f"last record: {seq}" in report, report

        # Restart: the same state, and the new segment is still the (empty) current one.
        addr = await server.start()
        after = await dump_state(addr)
        assert after == before, "\n".join(state_diff(before, after))
        assert segment.stat().st_size == 0

        # More load, then a crash: the snapshot plus the records after it.
        clients = await connect_all(addr)
        traders = await run_load(clients, 12, 200)
        await settle(traders)
        await close_all(clients)
        before = await dump_state(addr)
        await server.kill9()
        assert snapshot_names(data) == snaps, files(data)
        assert segment.stat().st_size > 0
        report = await inspect(data)
        assert f"{segment.name}: " in report and f"records {seq + 1}.." in report, report

        addr = await server.start()
        after = await dump_state(addr)
        assert after == before, "\n".join(state_diff(before, after))
        recovered = [line for line in server.log().splitlines() if " recovered " in line]
        assert f": snapshot at record {seq}, " in recovered[-1], recovered
        replayed = int(recovered[-1].split(", ")[1].split()[0])
        assert replayed > 0, recovered
        await server.terminate()
        # A second orderly stop: a new snapshot at the new last record.
        assert len(snapshot_names(data)) >= 1
        assert snapshot_names(data)[-1] > snaps[0]
    finally:
        await server.stop_if_running()


async def test_kill9_during_an_orderly_stop(tmp_path: Path) -> None:
    """SIGKILL at any moment of the SIGTERM path (draining, snapshot, new segment, clean-up)
    loses nothing that was acknowledged before it."""
    data = tmp_path / "data"
    server = ServerProcess(data, tmp_path / "server.log")
    try:
        addr = await server.start()
        codes = []
        for i, delay in enumerate((0.0, 0.001, 0.003, 0.006, 0.012, 0.03)):
            clients = await connect_all(addr)
            traders = await run_load(clients, 50 + i, 60)
            await settle(traders)
            await close_all(clients)
            before = await dump_state(addr)
            codes.append(await server.terminate_then_kill(delay))
            addr = await server.start()
            after = await dump_state(addr)
            assert after == before, (delay, state_diff(before, after))
        assert codes[0] == -9, codes  # at least the first was cut short
        await server.terminate()
        # What a snapshot cut short leaves behind is cleared at the next start.
        (data / "snapshot-000000000001.tmp").write_bytes(b"half a snapshot")
        await server.start()
        assert not list(data.glob("*.tmp")), files(data)
        await server.terminate()
    finally:
        await server.stop_if_running()


async def test_gtd_order_expires_on_time_after_a_restart(tmp_path: Path) -> None:
    """Recovered orders with an expiry get their timers back (kill -9 and SIGTERM)."""
    data = tmp_path / "data"
    server = ServerProcess(data, tmp_path / "server.log")
    try:
        addr = await server.start()
        alice = await Client.connect(addr, "alice")
        first = await alice.call("place", symbol="AAPL", side="buy", qty="2",
                                 price="149.00", ttl_ms=600)
        second = await alice.call("place", symbol="MSFT", side="sell", qty="3",
                                  price="421.00", ttl_ms=1800)
        assert first["order"]["status"] == second["order"]["status"] == "accepted"
        await alice.close()
        await server.kill9()
        addr = await server.start()
        await server.terminate()  # the second order is still live in this snapshot
        addr = await server.start()
        alice = await Client.connect(addr, "alice")
        for placed in (first, second):
            oid = placed["order"]["order_id"]
            # Nothing else happens on these books: only the timer can expire the order.
            order = (await alice.call("status", order_id=oid))["order"]
            deadline = datetime.fromisoformat(placed["order"]["expires_at"]).timestamp() + 2.0
            while order["status"] != "expired" and time.time() < deadline:
                await asyncio.sleep(0.05)
                order = (await alice.call("status", order_id=oid))["order"]
            assert order["status"] == "expired", order
            assert order["accepted_at"] == placed["order"]["accepted_at"]
        balance = await alice.call("balance")
        assert balance["reserved"] == "0", balance
        portfolio = await alice.call("portfolio")
        msft = next(p for p in portfolio["positions"] if p["symbol"] == "MSFT")
        assert msft["available"] == msft["qty"], msft
        await alice.close()
        await server.terminate()
    finally:
        await server.stop_if_running()


async def test_corrupt_last_snapshot_falls_back_to_the_previous_one(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = ServerProcess(data, tmp_path / "server.log")
    try:
        await load_and_stop(server, 21, 120)
        before = await load_and_stop(server, 22, 120)
        snaps = snapshot_names(data)
        assert len(snaps) == 2, files(data)  # the previous generation is kept
        corrupt(data / snaps[-1], random.Random(5))
        report = await inspect(data)
        assert f"{snaps[-1]}: UNREADABLE" in report, report

        addr = await server.start()
        after = await dump_state(addr)
        assert after == before, "\n".join(state_diff(before, after))
        assert f"skipped unreadable snapshot {snaps[-1]}" in server.log()
        await server.terminate()
        # The orderly stop wrote a good snapshot again.
        report = await inspect(data)
        assert "UNREADABLE" not in report.splitlines()[-2], report
    finally:
        await server.stop_if_running()


async def test_corrupt_first_snapshot_falls_back_to_config_and_journal(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = ServerProcess(data, tmp_path / "server.log")
    try:
        before = await load_and_stop(server, 31, 150)
        snaps = snapshot_names(data)
        assert len(snaps) == 1, files(data)
        assert (data / "journal-000000000000.log").stat().st_size > 0, files(data)
        corrupt(data / snaps[0], random.Random(6))
        addr = await server.start()
        after = await dump_state(addr)
        assert after == before, "\n".join(state_diff(before, after))
        await server.terminate()
    finally:
        await server.stop_if_running()


async def test_corrupt_snapshot_without_a_way_back_refuses_to_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = ServerProcess(data, tmp_path / "server.log")
    try:
        await load_and_stop(server, 41, 80)
        await load_and_stop(server, 42, 80)
        addr = await server.start()
        alice = await Client.connect(addr, "alice")
        placed = await alice.call("place", symbol="AAPL", side="buy", qty="1", price="140.00")
        assert placed["type"] == "accepted"
        await alice.close()
        await server.kill9()
        last = snapshot_names(data)[-1]
        seq = int(last.removeprefix("snapshot-").removesuffix(".snap"))
        segment = f"journal-{seq:012d}.log"
        assert (data / segment).stat().st_size > 0

        for case, empty_journal in (("records-after", False), ("empty-journal", True)):
            copy = tmp_path / case
            copy.mkdir()
            # Only the last snapshot (made unreadable) and its segment survive.
            for name in (last, segment):
                shutil.copy2(data / name, copy / name)
            if empty_journal:
                (copy / segment).write_bytes(b"")
            corrupt(copy / last, random.Random(7))
            kept = {p.name: p.read_bytes() for p in copy.iterdir()}
            refused = ServerProcess(copy, tmp_path / f"{case}.log")
            code, output = await refused.start_expecting_failure()
            assert code not in (0, None), (case, output)
            assert "listening on" not in output, (case, output)
            assert last in output, (case, output)
            assert "exchange: cannot recover" in output and "Traceback" not in output, output
            after = {p.name: p.read_bytes() for p in copy.iterdir() if p.name != "LOCK"}
            assert after == kept, case
    finally:
        await server.stop_if_running()


async def test_a_second_server_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    """Two servers appending to one journal would lose one of them's acknowledged work."""
    data = tmp_path / "data"
    first = ServerProcess(data, tmp_path / "first.log")
    second = ServerProcess(data, tmp_path / "second.log")
    try:
        addr = await first.start()
        kept = {p.name: p.read_bytes() for p in data.iterdir()}
        code, output = await second.start_expecting_failure()
        assert code == 1, output
        assert "in use by another exchange server" in output, output
        assert {p.name: p.read_bytes() for p in data.iterdir()} == kept
        alice = await Client.connect(addr, "alice")
        placed = await alice.call("place", symbol="AAPL", side="buy", qty="1", price="149.00")
        assert placed["type"] == "accepted"
        await alice.close()
        await first.kill9()  # the lock goes with the process, however it ends
        addr = await second.start()
        alice = await Client.connect(addr, "alice")
        status = await alice.call("status", order_id=placed["order"]["order_id"])
        assert status["order"] == placed["order"]
        await alice.close()
        await second.terminate()
    finally:
        await first.stop_if_running()
        await second.stop_if_running()
