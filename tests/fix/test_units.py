"""Sans-IO parts of the FIX front-end: the framer's bounds, the checksum, the store, and
the config's [fix] table."""

from __future__ import annotations

from pathlib import Path

import pytest
import simplefix

from exchange.server.config import ConfigError, parse_config
from exchange.server.frontends import fix_wire as W
from exchange.server.frontends.fix_store import FileStore

SYMBOLS = {"symbols": [{"symbol": "X", "tick_size": "0.01", "lot_size": "1"}]}


def message(seq: int = 1) -> bytes:
    msg = simplefix.FixMessage()
    for tag, value in ((8, "FIX.4.4"), (35, "0"), (49, "a"), (56, "EXCHANGE"), (34, seq),
                       (52, "20260101-00:00:00")):
        msg.append_pair(tag, value, header=True)
    data: bytes = msg.encode()
    return data


def frames(data: bytes) -> list[object]:
    framer = W.Framer()
    framer.feed(data)
    out = []
    while (frame := framer.next_line()) is not None:
        out.append(frame)
    return out


def test_the_checksum_matches_a_plain_byte_sum() -> None:
    for size in (0, 1, 255, 256, 257, 5000):
        data = bytes(range(256)) * (size // 256 + 1)
        assert W.checksum(data[:size]) == sum(data[:size]) % 256


def test_messages_split_by_body_length_one_byte_at_a_time() -> None:
    data = message(1) + message(2)
    framer = W.Framer()
    got = []
    for i in range(len(data)):
        framer.feed(data[i:i + 1])
        while (frame := framer.next_line()) is not None:
            got.append(frame)
    assert [type(f) for f in got] == [W.Message, W.Message]
    assert [f.fields[34] for f in got if isinstance(f, W.Message)] == ["1", "2"]


def test_junk_a_bad_checksum_and_a_bad_body_length_are_garbled_and_skipped() -> None:
    good = message(3)
    bad_sum = message(1)[:-4] + b"999\x01"
    long = message(2).replace(b"9=", b"9=1", 1)
    got = frames(b"junk" + bad_sum + long + good)
    kinds = [type(f).__name__ for f in got]
    assert kinds[-1] == "Message" and kinds.count("Message") == 1, got
    assert any("CheckSum" in f.why for f in got if isinstance(f, W.Garbled))


def test_the_framer_is_bounded() -> None:
    framer = W.Framer()
    framer.feed(b"8=FIX.4.4\x019=99999\x01" + b"x" * 1000)
    assert isinstance(framer.next_line(), W.Garbled)
    framer.feed(b"y" * 100_000)
    while framer.next_line() is not None:
        pass
    assert len(framer.buf) < 64


def test_parsing_names_what_is_malformed() -> None:
    assert W.Message(b"8=FIX.4.4\x0135=0\x0155=\x0110=000\x01").problem == (
        55, W.TAG_WITHOUT_VALUE, "tag 55 specified without a value")
    assert W.Message(b"8=FIX.4.4\x0135=0\x01x=1\x0110=000\x01").problem is not None
    assert W.Message(b"8=FIX.4.4\x0135=0\x0155=A\x0155=B\x0110=000\x01").problem == (
        55, W.TAG_APPEARS_TWICE, "tag 55 appears more than once")


def test_bodies_split_back_apart() -> None:
    one = W.body("8", (37, 1), (58, "a 35=x"))
    two = W.body("9", (37, 2))
    assert W.split_bodies(one + two + one) == [one, two, one]
    assert W.split_bodies(one) == [one]


def test_the_file_store_survives_a_torn_record(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.next_in, store.next_out = 5, 4
    store.add(2, b"20260101-00:00:00.000", b"35=8\x0137=1\x01")
    store.add(3, b"20260101-00:00:00.000", b"35=8\x0137=2\x01")
    store.close()
    with open(tmp_path / "messages", "ab") as fh:
        fh.write(b"4 20260101-00:00:00.000 99\n35=8")
    again = FileStore(tmp_path)
    assert (again.next_in, again.next_out) == (5, 4)
    assert [seq for seq, _, _ in again.sent(1, 10)] == [2, 3]
    again.close()


def test_the_fix_table_of_the_config() -> None:
    config = parse_config({**SYMBOLS, "fix": {"port": 9878, "comp_id": "VENUE"}})
    assert (config.fix.port, config.fix.comp_id) == (9878, "VENUE")
    assert parse_config(SYMBOLS).fix.comp_id == "EXCHANGE"
    for bad, where in (({"port": 70000}, "fix.port"), ({"comp_id": "a b"}, "fix.comp_id"),
                       ({"comp_id": ""}, "fix.comp_id"), ({"other": 1}, "fix: unknown")):
        with pytest.raises(ConfigError, match=where):
            parse_config({**SYMBOLS, "fix": bad})
