"""The FIX session level, with a raw client: logon, sequence numbers, resends, gap fills,
heartbeats, rejects and logouts. Every message read is checked against FIX44.xml."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.fix.client import FixClient, order_fields, timestamp
from tests.fix.conftest import FixServer, start_fix_server


async def logged_on(server: FixServer, user: str = "alice", hb: int = 30,
                    reset: bool = False) -> FixClient:
    client = await FixClient.open(server.fix, user)
    ack = await client.logon(hb=hb, reset=reset)
    assert ack.type == "A", ack
    return client


async def test_logon_and_logout(fix_server: FixServer) -> None:
    client = await FixClient.open(fix_server.fix, "alice")
    ack = await client.logon(hb=30)
    assert (ack[49], ack[56], ack.seq, ack[98], ack[108]) == ("EXCHANGE", "alice", 1, "0", "30")
    await client.send("5")
    bye = await client.expect("5")
    assert bye.seq == 2
    assert await client.closed() == []


async def test_a_wrong_token_gets_a_logout_with_the_reason_then_the_close(
        fix_server: FixServer) -> None:
    client = await FixClient.open(fix_server.fix, "alice")
    logout = await client.logon(token="wrong")
    assert logout.type == "5" and logout[58].startswith("auth_failed: token:"), logout
    assert await client.closed() == []
    assert "failed login for user 'alice'" in fix_server.log_text()


async def test_an_unknown_user_is_refused_like_a_wrong_token(fix_server: FixServer) -> None:
    client = await FixClient.open(fix_server.fix, "mallory")
    logout = await client.logon(token="x")
    assert logout.type == "5" and "unknown user or wrong token" in logout[58]


async def test_the_first_message_must_be_a_logon(fix_server: FixServer) -> None:
    client = await FixClient.open(fix_server.fix, "alice")
    await client.send("1", [(112, "x")])
    logout = await client.expect("5")
    assert "Logon" in logout[58]
    assert await client.closed() == []


async def test_a_logon_for_another_comp_id_is_refused(fix_server: FixServer) -> None:
    client = await FixClient.open(fix_server.fix, "alice", target="NYSE")
    logout = await client.logon()
    assert logout.type == "5" and "TargetCompID(56) must be EXCHANGE" in logout[58]


async def test_a_bad_checksum_is_ignored_and_the_gap_asked_for(fix_server: FixServer) -> None:
    client = await logged_on(fix_server)
    good = client.build("1", [(112, "lost")])
    bad = good[:-4] + (b"000" if good[-4:-1] != b"000" else b"001") + b"\x01"
    await client.send_raw(bad)  # seq 2, garbled: as if never sent
    await client.send("1", [(112, "next")])  # seq 3: a gap at 2
    resend = await client.expect("2")
    assert (resend[7], resend[16]) == ("2", "0")
    assert "CheckSum" in fix_server.log_text()


async def test_a_wrong_body_length_is_ignored_and_the_stream_goes_on(
        fix_server: FixServer) -> None:
    client = await logged_on(fix_server)
    good = client.build("1", [(112, "lost")])
    length = good.split(b"\x01")[1]
    broken = good.replace(length, b"9=%d" % (int(length[2:]) + 5), 1)
    await client.send_raw(broken)
    data = client.build("1", [(112, "next")])
    await client.send_raw(data)
    resend = await client.expect("2")
    assert resend[7] == "2"
    # Filling the gap lets the session go on.
    await client.send("4", [(123, "Y"), (36, 4)], seq=2, poss_dup=True)
    await client.send("1", [(112, "after")], seq=4)
    client.next_seq = 5
    beat = await client.expect("0")
    assert beat[112] == "after"


async def test_a_sequence_number_too_high_asks_for_a_resend_once(fix_server: FixServer) -> None:
    client = await logged_on(fix_server)
    await client.send("1", [(112, "a")], seq=5)
    await client.send("1", [(112, "b")], seq=6)
    resend = await client.expect("2")
    assert (resend[7], resend[16]) == ("2", "0")
    # The peer's answer: a gap fill up to 5, then 5 and 6 again.
    await client.send("4", [(123, "Y"), (36, 5)], seq=2, poss_dup=True)
    await client.send("1", [(112, "a")], seq=5, poss_dup=True)
    await client.send("1", [(112, "b")], seq=6, poss_dup=True)
    assert (await client.expect("0"))[112] == "a"
    assert (await client.expect("0"))[112] == "b"


async def test_a_sequence_number_too_low_is_a_logout(fix_server: FixServer) -> None:
    client = await logged_on(fix_server)
    await client.send("1", [(112, "x")], seq=1)
    logout = await client.expect("5")
    assert logout[58] == "MsgSeqNum too low, expecting 2 but received 1"
    assert await client.closed() == []


async def test_a_possdup_below_the_expected_number_is_ignored(fix_server: FixServer) -> None:
    client = await logged_on(fix_server)
    await client.send("1", [(112, "old")], seq=1, poss_dup=True)
    await client.send("1", [(112, "new")], seq=2)
    client.next_seq = 3
    assert (await client.expect("0"))[112] == "new"


async def test_a_possdup_without_orig_sending_time_is_rejected(fix_server: FixServer) -> None:
    client = await logged_on(fix_server)
    await client.send("1", [(112, "x")], header=[(43, "Y")])
    reject = await client.expect("3")
    assert (reject[45], reject[371], reject[373]) == ("2", "122", "1")


async def test_a_resend_request_resends_orders_and_gap_fills_the_rest(
        fix_server: FixServer) -> None:
    client = await logged_on(fix_server)
    await client.send("1", [(112, "t")])  # -> Heartbeat, seq 2
    await client.expect("0")
    await client.send("D", order_fields("r1", "AAPL", "1", 5, "140.00"))  # -> ER, seq 3
    new = await client.expect("8")
    await client.send("1", [(112, "u")])  # -> Heartbeat, seq 4
    await client.expect("0")
    await client.send("2", [(7, 1), (16, 0)])
    gap = await client.expect("4")
    assert (gap.seq, gap[123], gap[36], gap[43]) == (1, "Y", "3", "Y")
    again = await client.expect("8")
    assert (again.seq, again[43], again[122], again[37], again[17]) == (
        3, "Y", new[52], new[37], new[17])
    tail = await client.expect("4")
    assert (tail.seq, tail[36]) == (4, "5")
    # New messages go on from where they were.
    await client.send("1", [(112, "v")])
    assert (await client.expect("0")).seq == 5


async def test_a_reconnected_session_continues_its_numbers_and_resends(
        fix_server: FixServer) -> None:
    client = await logged_on(fix_server)
    await client.send("D", order_fields("k1", "AAPL", "1", 1, "140.00"))
    placed = await client.expect("8")
    await client.logout()  # 3: our Logout
    again = await FixClient.open(fix_server.fix, "alice")
    again.next_seq = client.next_seq
    ack = await again.logon()
    assert ack.seq == 4
    await again.send("2", [(7, 2), (16, 2)])
    resent = await again.expect("8")
    assert (resent.seq, resent[43], resent[11]) == (2, "Y", placed[11])


async def test_resend_after_a_server_restart_with_a_data_dir(tmp_path: Path,
                                                             fix_servers: list[FixServer]
                                                             ) -> None:
    data = tmp_path / "data"
    args = ("--fix-port", "0", "--data-dir", str(data))
    server = start_fix_server(tmp_path, "first", args=args)
    fix_servers.append(server)
    client = await logged_on(server)
    await client.send("D", order_fields("d1", "AAPL", "1", 2, "141.00"))
    placed = await client.expect("8")
    await client.close()
    assert server.stop() == 0
    fix_servers.remove(server)
    server = start_fix_server(tmp_path, "second", args=args)
    fix_servers.append(server)
    again = await FixClient.open(server.fix, "alice")
    again.next_seq = client.next_seq
    ack = await again.logon()
    assert ack.seq == 3  # 1 the logon, 2 the report
    await again.send("2", [(7, 1), (16, 0)])
    gap = await again.expect("4")
    assert (gap.seq, gap[36]) == (1, "2")
    resent = await again.expect("8")
    assert (resent.seq, resent[43], resent[11], resent[37]) == (2, "Y", "d1", placed[37])
    tail = await again.expect("4")  # the Logon just sent
    assert (tail.seq, tail[36]) == (3, "4")
    await again.send("1", [(112, "after")])
    assert (await again.expect("0")).seq == 4


async def test_a_client_that_restarts_its_numbers_after_a_restart_is_logged_out(
        tmp_path: Path, fix_servers: list[FixServer]) -> None:
    data = tmp_path / "data"
    args = ("--fix-port", "0", "--data-dir", str(data))
    server = start_fix_server(tmp_path, "first", args=args)
    fix_servers.append(server)
    client = await logged_on(server)
    await client.send("1", [(112, "x")])
    await client.expect("0")
    await client.close()
    assert server.stop() == 0
    fix_servers.remove(server)
    server = start_fix_server(tmp_path, "second", args=args)
    fix_servers.append(server)
    again = await FixClient.open(server.fix, "alice")
    logout = await again.logon()  # seq 1 again, without ResetSeqNumFlag
    assert logout.type == "5" and logout[58] == "MsgSeqNum too low, expecting 3 but received 1"


async def test_reset_seq_num_flag_starts_both_sides_at_one(fix_server: FixServer) -> None:
    client = await logged_on(fix_server)
    await client.send("1", [(112, "x")])
    await client.expect("0")
    await client.logout()
    again = await FixClient.open(fix_server.fix, "alice")
    ack = await again.logon(reset=True)
    assert (ack.type, ack.seq, ack[141]) == ("A", 1, "Y")
    await again.send("1", [(112, "y")])
    assert (await again.expect("0")).seq == 2


async def test_sequence_reset_moves_the_expected_number(fix_server: FixServer) -> None:
    client = await logged_on(fix_server)
    await client.send("4", [(36, 10)], seq=99)  # reset mode: MsgSeqNum does not matter
    await client.send("1", [(112, "x")], seq=10)
    assert (await client.expect("0"))[112] == "x"
    await client.send("4", [(36, 5)], seq=11)  # lower: refused
    reject = await client.expect("3")
    assert (reject[371], reject[373]) == ("36", "5")


async def test_gap_fill_with_a_new_number_not_above_its_own_is_rejected(
        fix_server: FixServer) -> None:
    client = await logged_on(fix_server)
    await client.send("4", [(123, "Y"), (36, 2)])
    reject = await client.expect("3")
    assert (reject[45], reject[371], reject[373]) == ("2", "36", "5")


async def test_heartbeats_on_the_negotiated_interval(fix_server: FixServer) -> None:
    client = await logged_on(fix_server, hb=1)
    beat = await client.expect("0", timeout=3)
    assert 112 not in beat.fields
    await client.send("1", [(112, "ping-1")])
    while (msg := await client.recv(3)).type == "0" and msg.get(112) is None:
        pass
    assert (msg.type, msg[112]) == ("0", "ping-1")


async def test_a_silent_peer_gets_a_test_request_then_a_logout(fix_server: FixServer) -> None:
    client = await logged_on(fix_server, hb=1)
    got = await client.closed(timeout=6)
    types = [m.type for m in got]
    assert "1" in types and types[-1] == "5", got
    assert "heartbeat timeout" in got[-1][58]


async def test_a_missing_required_tag_is_a_session_reject_naming_it(
        fix_server: FixServer) -> None:
    client = await logged_on(fix_server)
    fields = [(t, v) for t, v in order_fields("m1", "AAPL", "1", 1, "150") if t != 55]
    await client.send("D", fields)
    reject = await client.expect("3")
    assert (reject[45], reject[371], reject[372], reject[373]) == ("2", "55", "D", "1")
    assert "55" in reject[58]


async def test_a_bad_value_format_is_a_session_reject(fix_server: FixServer) -> None:
    client = await logged_on(fix_server)
    await client.send("D", order_fields("m2", "AAPL", "1", "1e3", "150"))
    reject = await client.expect("3")
    assert (reject[371], reject[373]) == ("38", "6")
    await client.send("D", order_fields("m3", "AAPL", "X", 1, "150"))
    reject = await client.expect("3")
    assert (reject[371], reject[373]) == ("54", "5")


async def test_a_tag_twice_is_a_session_reject(fix_server: FixServer) -> None:
    client = await logged_on(fix_server)
    await client.send("D", [*order_fields("m4", "AAPL", "1", 1, "150"), (55, "MSFT")])
    reject = await client.expect("3")
    assert (reject[371], reject[373]) == ("55", "13")


async def test_unsupported_and_invalid_message_types(fix_server: FixServer) -> None:
    client = await logged_on(fix_server)
    await client.send("R", [(131, "q1")])  # QuoteRequest: FIX 4.4, not supported here
    reject = await client.expect("j")
    assert (reject[45], reject[372], reject[380]) == ("2", "R", "3")
    await client.send("ZZ", [])
    reject = await client.expect("3")
    assert (reject[45], reject[373]) == ("3", "11")


async def test_one_session_per_comp_id(fix_server: FixServer) -> None:
    first = await logged_on(fix_server)
    second = await FixClient.open(fix_server.fix, "alice")
    logout = await second.logon()
    assert logout.type == "5" and "logged on already" in logout[58]
    await first.send("1", [(112, "still")])
    assert (await first.expect("0"))[112] == "still"


async def test_shutdown_sends_a_logout(tmp_path: Path, fix_servers: list[FixServer]) -> None:
    server = start_fix_server(tmp_path, args=("--fix-port", "0"))
    client = await logged_on(server)
    stop = asyncio.get_running_loop().run_in_executor(None, server.stop)
    logout = await client.expect("5")
    assert "shutting down" in logout[58]
    assert await stop == 0


async def test_the_config_sets_the_port_and_comp_id(tmp_path: Path,
                                                    fix_servers: list[FixServer]) -> None:
    server = start_fix_server(tmp_path, extra_toml='[fix]\nport = 0\ncomp_id = "VENUE"\n')
    fix_servers.append(server)
    client = await FixClient.open(server.fix, "alice", target="VENUE")
    ack = await client.logon()
    assert (ack.type, ack[49]) == ("A", "VENUE")
    await client.send("D", order_fields("v1", "AAPL", "1", 1, "150.00",
                                        extra=[(60, timestamp())][:0]))
    assert (await client.expect("8"))[49] == "VENUE"
