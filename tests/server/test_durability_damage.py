"""A damaged journal is not a torn tail: refuse to start, change nothing, repair on request.

One byte flipped in a record in the middle of the journal (intact records after it):
the server refuses to start, names the file, the byte offset and the record expected
there, and the data directory is unchanged byte for byte. ``exchange inspect`` reports
the damage; ``exchange repair`` says what a cut would lose and cuts only with
``--truncate-at-damage``, after which the server starts with the records before it.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from exchange.server.journal import read_segment
from tests.server.durability_helpers import REPO, Client, ServerProcess, file_hashes, inspect

SEGMENT = "journal-000000000000.log"


async def repair(data: Path, *flags: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "exchange", "repair", str(data), *flags, cwd=REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 15.0)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_a_flipped_byte_mid_journal_refuses_to_start_and_changes_nothing(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = ServerProcess(data, tmp_path / "a.log")
    try:
        addr = await server.start()
        alice = await Client.connect(addr, "alice")
        for i in range(10):
            reply = await alice.call("deposit", amount=str(i + 1))
            assert reply["type"] == "balance", reply
        await alice.close()
        await server.kill9()
    finally:
        await server.stop_if_running()
    ends = [0] + [end for _, _, end in read_segment(data / SEGMENT)]
    assert len(ends) == 11
    raw = bytearray((data / SEGMENT).read_bytes())
    raw[ends[4] + 10] ^= 0x01  # inside record 5's payload
    (data / SEGMENT).write_bytes(bytes(raw))
    before = file_hashes(data)
    refused = ServerProcess(data, tmp_path / "b.log")
    code, out = await refused.start_expecting_failure()
    assert code != 0, out
    assert f"{SEGMENT} is damaged at byte {ends[4]} (record 5 expected there" in out, out
    assert "5 intact records follow" in out, out
    assert file_hashes(data) == before
    report = await inspect(data)
    assert f"DAMAGED at byte {ends[4]}: checksum mismatch; 5 intact records follow " \
           "(records 6..10)" in report, report
    code, out = await repair(data)
    assert code == 1 and "loses 5 intact records (records 6..10)" in out, out
    assert "nothing changed" in out
    assert file_hashes(data) == before
    code, out = await repair(data, "--truncate-at-damage")
    assert code == 0 and "cut." in out, out
    assert (data / SEGMENT).stat().st_size == ends[4]
    server = ServerProcess(data, tmp_path / "c.log")
    try:
        addr = await server.start()
        alice = await Client.connect(addr, "alice")
        balance = await alice.call("balance")
        assert balance["cash"] == "1000010", balance  # 1 + 2 + 3 + 4
        await alice.close()
        await server.terminate()
    finally:
        await server.stop_if_running()
