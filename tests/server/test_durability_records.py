"""The journal's records are the command records, and every older record still replays.

* Command records appended to a journal read back as the same records and recover to
  exactly the state their direct run through ``Exchange.apply`` left.
* Tuple records as versions before the command records wrote them, of every op, in a
  version 1 and a version 2 segment, recover to the same state as their records would.
* A record with an integer past 64 bits is refused naming its field (as the request names
  it), before anything is buffered or numbered.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import msgspec
import pytest

from exchange.core import commands as C
from exchange.server.journal import (
    FileJournal,
    NotRecordable,
    command_of,
    read_segment,
)
from tests.core.commands_script import place, run_script, state
from tests.core.helpers import SYM, T0, make_exchange

SEGMENT = "journal-000000000000.log"


def old_tuple(cmd: C.Command) -> tuple[Any, ...]:
    """The journal tuple the server wrote for ``cmd`` before the command records."""
    match cmd:
        case C.Halt():
            return ("halt", cmd.symbol, cmd.halted)
        case C.MarketOpen():
            return ("market_open", cmd.is_open)
        case C.Deposit() | C.Withdraw():
            return (cmd.__struct_config__.tag, cmd.user, cmd.amount)
        case _:
            fields = [getattr(cmd, f) for f in cmd.__struct_fields__]
            return (cmd.__struct_config__.tag, *fields)


def test_records_read_back_as_records_and_recover_the_same_state(tmp_path: Path) -> None:
    live = make_exchange()
    ran = run_script(live)
    journal = FileJournal(tmp_path, make_exchange(), 0)
    for cmd in ran:
        journal.append(cmd)
    journal.commit()
    journal.close()
    back = [command_of(entry) for _, entry, _ in read_segment(tmp_path / SEGMENT)]
    assert back == ran
    recovered = FileJournal.recover(tmp_path, make_exchange())
    assert (recovered.seq, recovered.replayed) == (len(ran), len(ran))
    recovered.exchange.check_invariants()
    assert state(recovered.exchange) == state(live)


@pytest.mark.parametrize("version", [1, 2])
def test_old_tuple_records_of_every_op_still_replay(tmp_path: Path, version: int) -> None:
    live = make_exchange()
    ran = run_script(live)
    assert {type(c) for c in ran} == set(C.COMMANDS)
    encoder = msgspec.msgpack.Encoder()
    data = bytearray(b"EXJRNL2\n" if version == 2 else b"")
    for seq, cmd in enumerate(ran, 1):
        payload = encoder.encode((seq, old_tuple(cmd)))
        length = struct.pack("<I", len(payload))
        crc = zlib.crc32(payload, zlib.crc32(length)) if version == 2 else zlib.crc32(payload)
        data += length + struct.pack("<I", crc) + payload
    (tmp_path / SEGMENT).write_bytes(bytes(data))
    recovered = FileJournal.recover(tmp_path, make_exchange())
    assert (recovered.seq, recovered.replayed, recovered.torn_bytes) == (len(ran), len(ran), 0)
    recovered.exchange.check_invariants()
    assert state(recovered.exchange) == state(live)


def test_old_records_become_records_with_no_time_and_no_user() -> None:
    assert command_of(["halt", SYM, True]) == C.Halt(0, "", SYM, True)
    assert command_of(["market_open", False]) == C.MarketOpen(0, "", False)
    assert command_of(["deposit", "alice", 5]) == C.Deposit(0, "alice", 5)
    assert command_of(["withdraw", "alice", 5]) == C.Withdraw(0, "alice", 5)
    assert command_of(["cancel", T0, "bob", 3]) == C.Cancel(T0, "bob", 3)
    with pytest.raises(msgspec.ValidationError):
        command_of(["halt", T0, SYM])  # neither layout


@pytest.mark.parametrize(("cmd", "field"), [
    (place(T0, "alice", "buy", 2**64, 100), "qty"),
    (place(T0, "alice", "buy", 1, -(2**63) - 1), "price"),
    (place(T0, "alice", "sell", 1, None, kind="stop", stop_price=2**70), "stop_price"),
    (place(T0, "alice", "buy", 1, 100, tif="gtd", expires_at=2**64), "expire_at"),
    (C.Modify(T0, "alice", 1, None, 2**64), "price"),
    (C.Cancel(T0, "alice", 2**64), "order_id"),
    (C.Deposit(T0, "alice", 2**64), "amount"),
    (C.Withdraw(T0, "alice", 10**30), "amount"),
])
def test_an_integer_past_64_bits_is_refused_naming_its_field(
        tmp_path: Path, cmd: C.Command, field: str) -> None:
    exchange = make_exchange()
    before = state(exchange)
    journal = FileJournal(tmp_path, exchange, 0)
    journal.append(C.Deposit(T0, "alice", 1))
    buffered = bytes(journal._buffer)
    with pytest.raises(NotRecordable, match=f"^{field}: cannot be recorded") as refused:
        journal.append(cmd)  # the server records first: apply is never reached
    assert refused.value.code == "bad_request"
    assert (journal.seq, bytes(journal._buffer)) == (1, buffered)
    assert state(exchange) == before
    journal.append(C.Deposit(T0, "alice", 2))
    journal.commit()
    journal.close()
    assert [s for s, _, _ in read_segment(tmp_path / SEGMENT)] == [1, 2]
