"""A journal whose last record is torn, or with bytes after its last record.

A crash (or a power cut) can leave the end of the last journal segment half written.
Recovery must keep every whole record before it and drop the rest: the state is then
exactly the state before the torn command, ``exchange inspect`` reports the torn tail
before the restart, and the server's log says what it dropped. Bytes after a whole last
record (zeros, noise, a header promising more than there is, a record with a bad
checksum) are dropped the same way and the state is the whole journal's.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

from exchange.server.journal import read_segment
from tests.server.durability_helpers import (
    Client,
    Msg,
    ServerProcess,
    dump_state,
    inspect,
    state_diff,
)

SEGMENT = "journal-000000000000.log"


async def build(tmp_path: Path) -> tuple[Path, Msg, Msg, Msg]:
    """A data directory whose last record is one crossing order.

    Returns the directory (after kill -9), the state before and after that order, and
    the order's reply.
    """
    data = tmp_path / "data"
    server = ServerProcess(data, tmp_path / "build.log")
    try:
        addr = await server.start()
        alice, bob = await Client.connect(addr, "alice"), await Client.connect(addr, "bob")
        for request in (("deposit", {"amount": "1234.56"}),
                        ("place", {"symbol": "AAPL", "side": "sell", "qty": "5",
                                   "price": "150.10"}),
                        ("place", {"symbol": "AAPL", "side": "sell", "qty": "7",
                                   "price": "150.20", "client_order_id": "a-1"}),
                        ("place", {"symbol": "BTC-USD", "side": "sell", "qty": "0.25",
                                   "price": "50010.00"})):
            reply = await alice.call(request[0], **request[1])
            assert reply["type"] in ("accepted", "balance"), reply
        for request in (("place", {"symbol": "AAPL", "side": "buy", "qty": "3",
                                   "price": "150.10"}),
                        ("withdraw", {"amount": "99.99"}),
                        ("place", {"symbol": "BTC-USD", "side": "buy", "qty": "0.1",
                                   "price": "49990.00"})):
            reply = await bob.call(request[0], **request[1])
            assert reply["type"] in ("accepted", "balance"), reply
        await alice.close()
        before = await dump_state(addr)
        last = await bob.call("place", symbol="AAPL", side="buy", qty="6", price="150.20",
                              client_order_id="b-last")
        assert last["type"] == "accepted" and len(last["fills"]) == 2, last
        await bob.close()
        after = await dump_state(addr)
        await server.kill9()
    finally:
        await server.stop_if_running()
    return data, before, after, last


def boundaries(path: Path) -> list[int]:
    return [0] + [end for _, _, end in read_segment(path)]


async def restart_and_check(tmp_path: Path, case: str, data: Path, expected: Msg,
                            torn: int, records: int, next_order_id: int) -> None:
    report = await inspect(data)
    assert f"{SEGMENT}: {records} records 1..{records}" in report, (case, report)
    assert f"TORN TAIL {torn} bytes" in report, (case, report)
    server = ServerProcess(data, tmp_path / f"{case}.log")
    try:
        addr = await server.start()
        got = await dump_state(addr)
        assert got == expected, (case, state_diff(expected, got))
        assert f"{SEGMENT}: dropped a torn tail of {torn} bytes" in server.log(), case
        report = await inspect(data)
        assert "TORN" not in report, (case, report)
        assert f"journal-{records:012d}.log: 0 no records" in report, (case, report)
        carol = await Client.connect(addr, "carol")
        placed = await carol.call("place", symbol="TSLA", side="buy", qty="1", price="240.00")
        assert placed["order"]["order_id"] == next_order_id, (case, placed)
        await carol.close()
        await server.terminate()
    finally:
        await server.stop_if_running()


async def test_torn_last_record_is_dropped(tmp_path: Path) -> None:
    data, before, _, last = await build(tmp_path)
    ends = boundaries(data / SEGMENT)
    count = len(ends) - 1
    start, end = ends[-2], ends[-1]
    entry = list(read_segment(data / SEGMENT))[-1][1]
    assert entry[0] == "place" and entry[-1] == "b-last", entry
    rng = random.Random(20260517)
    cuts = sorted({1, 4, 8, 9, rng.randrange(10, end - start - 1), end - start - 1})
    for cut in cuts:
        case = f"cut-{cut}"
        copy = tmp_path / case
        shutil.copytree(data, copy)
        with open(copy / SEGMENT, "r+b") as fh:
            fh.truncate(start + cut)
        await restart_and_check(tmp_path, case, copy, before, cut, count - 1,
                                last["order"]["order_id"])


async def test_bytes_after_the_last_record_are_dropped(tmp_path: Path) -> None:
    data, _, after, last = await build(tmp_path)
    count = len(boundaries(data / SEGMENT)) - 1
    whole = (data / SEGMENT).read_bytes()
    first_len = boundaries(data / SEGMENT)[1]
    bad_crc = bytearray(whole[:first_len])
    bad_crc[4] ^= 0xFF
    tails = {
        "zeros-3": b"\0" * 3,
        "noise-5": random.Random(5).randbytes(5),
        "zeros-8": b"\0" * 8,
        "short-payload": (100).to_bytes(4, "little") + b"\x12\x34\x56\x78" + b"x" * 20,
        "bad-checksum": bytes(bad_crc),
    }
    for case, tail in tails.items():
        copy = tmp_path / case
        shutil.copytree(data, copy)
        with open(copy / SEGMENT, "ab") as fh:
            fh.write(tail)
        await restart_and_check(tmp_path, case, copy, after, len(tail), count,
                                last["order"]["order_id"] + 1)
