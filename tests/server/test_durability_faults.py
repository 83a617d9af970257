"""No half-applied command, and no refusal that leaves a gap in the journal.

* A deposit whose record cannot be encoded (an amount past 64 bits) is refused with
  ``bad_request`` and changes nothing: not the balance, not the journal's numbering.
  The restart after it succeeds.
* A fault injected inside ``place`` after the engine reserved cash (the failpoint
  ``place.after_reserve``) is answered "internal error", the server exits 70 without a
  snapshot, and the restart (without the fault) holds exactly what was acknowledged.
* The same fault met while replaying stops recovery with a clear message and changes
  nothing in the data directory.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from tests.server.durability_helpers import (
    Client,
    ServerProcess,
    dump_state,
    file_hashes,
    state_diff,
)


class FaultyServer(ServerProcess):
    def __init__(self, data_dir: Path, log_path: Path, failpoints: str) -> None:
        super().__init__(data_dir, log_path)
        self.failpoints = failpoints

    async def _spawn(self) -> asyncio.subprocess.Process:
        os.environ["EXCHANGE_FAILPOINTS"] = self.failpoints
        try:
            return await super()._spawn()
        finally:
            del os.environ["EXCHANGE_FAILPOINTS"]


async def test_a_deposit_that_cannot_be_recorded_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = ServerProcess(data, tmp_path / "a.log")
    try:
        addr = await server.start()
        alice = await Client.connect(addr, "alice")
        before = await alice.call("balance")
        huge = await alice.call("deposit", amount=str(10**14))  # 10^20 units: past u64
        assert huge["type"] == "error" and huge["code"] == "bad_request", huge
        assert "amount" in huge["message"], huge
        after = await alice.call("balance")
        assert after["cash"] == before["cash"], (before, after)
        ok = await alice.call("deposit", amount="10")
        assert ok["type"] == "balance", ok
        await alice.close()
        state = await dump_state(addr)
        await server.kill9()
        addr = await server.start()
        assert (got := await dump_state(addr)) == state, state_diff(state, got)
        await server.terminate()
    finally:
        await server.stop_if_running()


async def test_a_fault_inside_place_fail_stops_and_the_restart_holds_what_was_acked(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    faulty = FaultyServer(data, tmp_path / "faulty.log", "place.after_reserve@3")
    try:
        addr = await faulty.start()
        alice = await Client.connect(addr, "alice")
        futures = [alice.send("deposit", amount="100")]
        for i in range(3):
            futures.append(alice.send("place", symbol="AAPL", side="buy", qty="10",
                                      price=f"{140 + i}.00"))
        futures.append(alice.send("deposit", amount="5"))
        done = await asyncio.wait(futures, timeout=10.0)
        replies = [f.result() for f in done[0] if f.exception() is None]
        by_ref = {r["ref"]: r for r in replies}
        refs = sorted(alice.sent)[-5:]
        assert by_ref[refs[0]]["type"] == "balance"
        assert by_ref[refs[1]]["type"] == "accepted" and by_ref[refs[2]]["type"] == "accepted"
        assert by_ref[refs[3]]["type"] == "error", by_ref[refs[3]]
        assert "internal error" in by_ref[refs[3]]["message"]
        assert refs[4] not in by_ref or by_ref[refs[4]]["type"] == "error"
        assert faulty.proc is not None
        code = await asyncio.wait_for(faulty.proc.wait(), 15.0)
        assert code == 70, faulty.log()
        assert "CRITICAL" in faulty.log() and "Failpoint" in faulty.log()
        await alice.close()
        assert not list(data.glob("snapshot-*"))
    finally:
        await faulty.stop_if_running()
    server = ServerProcess(data, tmp_path / "after.log")
    try:
        addr = await server.start()
        alice = await Client.connect(addr, "alice")
        orders = await alice.call("orders", status="all")
        assert [o["price"] for o in orders["orders"]] == ["140.00", "141.00"], orders
        balance = await alice.call("balance")
        assert balance["cash"] == "1000100", balance
        assert balance["reserved"] == "2810", balance  # 10 x 140 + 10 x 141
        await alice.close()
        await server.terminate()
    finally:
        await server.stop_if_running()


async def test_a_fault_met_in_replay_stops_recovery_and_changes_nothing(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = ServerProcess(data, tmp_path / "a.log")
    try:
        addr = await server.start()
        alice = await Client.connect(addr, "alice")
        for i in range(3):
            reply = await alice.call("place", symbol="AAPL", side="buy", qty="1",
                                     price=f"{140 + i}.00")
            assert reply["type"] == "accepted", reply
        await alice.close()
        await server.kill9()
    finally:
        await server.stop_if_running()
    before = file_hashes(data)
    faulty = FaultyServer(data, tmp_path / "replay.log", "place.after_reserve@2")
    code, out = await faulty.start_expecting_failure()
    assert code != 0, out
    assert "recovery met a bug at record 2 of journal-000000000000.log" in out, out
    assert file_hashes(data) == before


async def test_a_fault_inside_a_deposit_fail_stops_and_the_restart_holds_what_was_acked(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    faulty = FaultyServer(data, tmp_path / "faulty.log", "deposit.after_credit@2")
    try:
        addr = await faulty.start()
        bob = await Client.connect(addr, "bob")
        first = await bob.call("deposit", amount="7")
        assert first["type"] == "balance" and first["cash"] == "1000007", first
        futures = [bob.send("deposit", amount="1000"), bob.send("balance")]
        done, _ = await asyncio.wait(futures, timeout=10.0)
        replies = {f.result()["ref"]: f.result() for f in done if f.exception() is None}
        faulty_ref, later_ref = sorted(bob.sent)[-2:]
        assert replies[faulty_ref]["type"] == "error", replies
        assert "internal error; the request was not run" in replies[faulty_ref]["message"]
        assert later_ref not in replies or replies[later_ref]["type"] == "error", replies
        assert faulty.proc is not None
        assert await asyncio.wait_for(faulty.proc.wait(), 15.0) == 70, faulty.log()
        await bob.close()
    finally:
        await faulty.stop_if_running()
    server = ServerProcess(data, tmp_path / "after.log")
    try:
        addr = await server.start()
        bob = await Client.connect(addr, "bob")
        balance = await bob.call("balance")
        assert balance["cash"] == "1000007", balance  # the faulty deposit is not there
        again = await bob.call("deposit", amount="1")
        assert again["cash"] == "1000008", again
        await bob.close()
        await server.terminate()
    finally:
        await server.stop_if_running()


class InMemoryFaultyServer(FaultyServer):
    """The same fault on a server without ``--data-dir``."""

    def _argv(self) -> list[str]:
        argv = super()._argv()
        at = argv.index("--data-dir")
        return argv[:at] + argv[at + 2:]


async def test_in_memory_a_fault_fail_stops_too(tmp_path: Path) -> None:
    """Without a journal the memory is all there is, and it may be half-changed: the
    server exits 70 rather than serve it, and the request behind is not run."""
    faulty = InMemoryFaultyServer(tmp_path / "unused", tmp_path / "mem.log",
                                  "place.after_reserve@1")
    try:
        addr = await faulty.start()
        alice = await Client.connect(addr, "alice")
        place = alice.send("place", symbol="AAPL", side="buy", qty="10", price="140.00")
        behind = alice.send("deposit", amount="5")
        reply = await asyncio.wait_for(place, 10.0)
        assert reply["type"] == "error" and "internal error" in reply["message"], reply
        assert faulty.proc is not None
        assert await asyncio.wait_for(faulty.proc.wait(), 15.0) == 70, faulty.log()
        await asyncio.wait([behind], timeout=5.0)
        assert not behind.done() or behind.exception() is not None or (
            behind.result()["type"] == "error"), behind
        assert not (tmp_path / "unused").exists()
        await alice.close()
    finally:
        await faulty.stop_if_running()
