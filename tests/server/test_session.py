"""Session ops, refs, errors of malformed lines, framing limits and EOF, on the wire."""

from __future__ import annotations

import asyncio
import json
import re

from tests.server.conftest import Server
from tests.server.wire import Conn, connect

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


# -- session ops ---------------------------------------------------------------------------

async def test_login_json_and_text(anon: Conn) -> None:
    reply = await anon.request("login", user="alice", token="alice-token")
    assert reply == {"type": "welcome", "user": "alice", "name": "Alice Example",
                     "ref": reply["ref"]}
    # A second login switches the session to the other user.
    reply = await anon.text("login bob bob-token")
    assert reply == {"type": "welcome", "user": "bob", "name": "Bob Example"}
    assert (await anon.request("status", order_id=1))["code"] == "unknown_order"
    oid = await anon.order_id("AAPL", "sell", "1", "160.00")
    status = await anon.request("status", order_id=oid)
    assert status["order"]["user"] == "bob"


async def test_login_failures_do_not_say_whether_the_user_exists(anon: Conn) -> None:
    wrong_token = await anon.request("login", user="alice", token="nope")
    no_user = await anon.request("login", user="mallory", token="nope")
    assert wrong_token["type"] == no_user["type"] == "error"
    assert wrong_token["code"] == no_user["code"] == "auth_failed"
    assert wrong_token["message"] == no_user["message"]
    text = await anon.text("login alice wrong")
    assert text["code"] == "auth_failed" and "ref" not in text
    # Still not logged in.
    assert (await anon.request("balance"))["code"] == "auth_required"


async def test_failed_login_keeps_the_previous_user(alice: Conn) -> None:
    assert (await alice.request("login", user="bob", token="bad"))["code"] == "auth_failed"
    assert (await alice.request("balance"))["type"] == "balance"
    oid = await alice.order_id("AAPL", "buy", "1", "140.00")
    assert (await alice.request("status", order_id=oid))["order"]["user"] == "alice"


async def test_ping_help_quit(anon: Conn) -> None:
    pong = await anon.request("ping")
    assert pong["type"] == "pong" and TS.match(pong["ts"]), pong
    text_pong = await anon.text("PING")
    assert text_pong["type"] == "pong" and "ref" not in text_pong
    help_ = await anon.request("help")
    assert help_["type"] == "help"
    for word in ("login", "buy", "cancel", "subscribe", "alert", "portfolio"):
        assert word in help_["text"]
    assert (await anon.text("help"))["text"] == help_["text"]
    bye = await anon.request("quit", ref=9)
    assert bye == {"type": "bye", "ref": 9}
    assert await anon.expect_closed() == b""


async def test_text_quit(anon: Conn) -> None:
    await anon.send("quit")
    assert json.loads(await anon.recv_line()) == {"type": "bye"}
    assert await anon.expect_closed() == b""


async def test_nothing_is_read_after_quit(alice: Conn) -> None:
    place = json.dumps({"op": "place", "symbol": "AAPL", "side": "buy", "qty": "1",
                        "price": "149.00", "ref": "late"})
    await alice.send_raw(b'{"op": "ping", "ref": 1}\n{"op": "quit", "ref": 2}\n'
                         + place.encode() + b"\nping\n")
    data = await alice.expect_closed()
    replies = [json.loads(x) for x in data.splitlines()]
    assert [(r["type"], r.get("ref")) for r in replies] == [("pong", 1), ("bye", 2)]
    # The order behind quit was never placed.
    other = await connect(alice_addr(alice), "alice")
    assert (await other.request("orders", status="all"))["orders"] == []


def alice_addr(conn: Conn) -> tuple[str, int]:
    host, port = conn.writer.get_extra_info("peername")[:2]
    return host, port


async def test_order_and_account_ops_need_login(anon: Conn) -> None:
    requests: list[dict[str, object]] = [
        {"op": "place", "symbol": "AAPL", "side": "buy", "qty": "1", "price": "150"},
        {"op": "modify", "order_id": 1, "qty": "2"},
        {"op": "cancel", "order_id": 1},
        {"op": "cancel_all"},
        {"op": "pause", "order_id": 1},
        {"op": "resume", "order_id": 1},
        {"op": "status", "order_id": 1},
        {"op": "orders"},
        {"op": "fills"},
        {"op": "balance"},
        {"op": "deposit", "amount": "1"},
        {"op": "withdraw", "amount": "1"},
        {"op": "portfolio"},
        {"op": "alert", "symbol": "AAPL", "above": "1"},
        {"op": "halt", "symbol": "AAPL"},
        {"op": "resume_trading", "symbol": "AAPL"},
        {"op": "close_market"},
        {"op": "open_market"},
        {"op": "stats"},
    ]
    for i, req in enumerate(requests):
        reply = await anon.request(ref=i, **req)  # type: ignore[arg-type]
        assert reply["type"] == "error" and reply["code"] == "auth_required", (req, reply)
        assert reply["ref"] == i
    for command in ("buy AAPL 1 150", "orders", "balance", "cancel all", "stats"):
        reply = await anon.text(command)
        assert reply["code"] == "auth_required", (command, reply)
    # Market data works without login.
    for op, fields in [("symbols", {}), ("book", {"symbol": "AAPL"}),
                       ("quote", {"symbol": "AAPL"}), ("trades", {"symbol": "AAPL"}),
                       ("candles", {"symbol": "AAPL", "interval": "1m"}),
                       ("subscribe", {"channel": "trades", "symbol": "AAPL"}),
                       ("unsubscribe", {"channel": "trades", "symbol": "AAPL"})]:
        reply = await anon.request(op, **fields)
        assert reply["type"] != "error", (op, reply)


async def test_admin_ops_are_forbidden_to_traders(alice: Conn) -> None:
    for op, fields in [("halt", {"symbol": "AAPL"}), ("resume_trading", {"symbol": "AAPL"}),
                       ("close_market", {}), ("open_market", {}), ("stats", {})]:
        reply = await alice.request(op, **fields)
        assert reply["type"] == "error" and reply["code"] == "forbidden", (op, reply)
    assert (await alice.text("halt AAPL"))["code"] == "forbidden"
    # Nothing was halted or closed.
    assert (await alice.place("AAPL", "buy", "1", "150.00"))["type"] == "accepted"


# -- refs ------------------------------------------------------------------------------------

async def test_ref_is_echoed_string_and_int(anon: Conn) -> None:
    for ref in ("a", "x" * 64, 0, -7, 2**63 - 1, -(2**63), "ünïcødé"):
        await anon.send({"op": "ping", "ref": ref})
        reply = await anon.recv()
        assert reply["type"] == "pong" and reply["ref"] == ref
        assert type(reply["ref"]) is type(ref)


async def test_ref_on_errors(anon: Conn) -> None:
    reply = await anon.request("book", ref="e1", symbol="NOPE")
    assert reply["type"] == "error" and reply["code"] == "unknown_symbol" and reply["ref"] == "e1"
    assert "symbol" in reply["message"]
    reply = await anon.request("place", ref=5, symbol="AAPL", side="buy", qty="1", price="1")
    assert reply["code"] == "auth_required" and reply["ref"] == 5
    reply = await anon.request("fly", ref="u")
    assert reply["code"] == "unknown_op" and reply["ref"] == "u"
    reply = await anon.request("book", ref=6, symbol="AAPL", depth="x")
    assert reply["code"] == "bad_request" and reply["ref"] == 6 and "depth" in reply["message"]


async def test_invalid_ref_gets_bad_request_without_ref(anon: Conn) -> None:
    for ref in ("x" * 65, 1.5, True, [1], {"a": 1}, 2**63, -(2**63) - 1):
        await anon.send(json.dumps({"op": "ping", "ref": ref}))
        reply = await anon.recv()
        assert reply["type"] == "error" and reply["code"] == "bad_request", (ref, reply)
        assert "ref" not in reply, reply
        assert "ref" in reply["message"]
    # A null ref is no ref.
    await anon.send('{"op": "ping", "ref": null}')
    reply = await anon.recv()
    assert reply["type"] == "pong" and "ref" not in reply


# -- malformed lines -------------------------------------------------------------------------

async def test_bad_json(anon: Conn) -> None:
    for line in ('{"op": "ping"', '{op: ping}', '{"op": "ping"} trailing', "{", '{"a":1,}'):
        await anon.send(line)
        reply = await anon.recv()
        assert reply["type"] == "error" and reply["code"] == "bad_json", (line, reply)
        assert "ref" not in reply
    assert (await anon.request("ping"))["type"] == "pong"


async def test_unknown_op_json_and_text(anon: Conn) -> None:
    reply = await anon.request("transfer")
    assert reply["code"] == "unknown_op"
    reply = await anon.text("transfer 100 to bob")
    assert reply["type"] == "error" and reply["code"] == "unknown_op" and "ref" not in reply
    # A JSON line that is not an object is not JSON by the framing rule: a text command.
    reply = await anon.text('["op", "ping"]')
    assert reply["code"] == "unknown_op"


async def test_bad_request_names_the_field(alice: Conn) -> None:
    cases: list[tuple[dict[str, object], str]] = [
        ({"op": "place", "symbol": "AAPL", "side": "buy", "price": "150"}, "qty"),
        ({"op": "place", "symbol": "AAPL", "side": "up", "qty": "1", "price": "150"}, "side"),
        ({"op": "place", "symbol": "AAPL", "side": "buy", "qty": "1"}, "price"),
        ({"op": "place", "symbol": "AAPL", "side": "buy", "qty": 1, "price": "150",
          "tif": "forever"}, "tif"),
        ({"op": "place", "symbol": "AAPL", "side": "buy", "qty": "1", "price": "150",
          "post_onyl": True}, "post_onyl"),
        ({"op": "place", "symbol": "AAPL", "side": "buy", "qty": "1", "kind": "market",
          "price": "150"}, "price"),
        ({"op": "place", "symbol": "AAPL", "side": "buy", "qty": "1", "kind": "stop"},
         "stop_price"),
        ({"op": "place", "symbol": "AAPL", "side": "buy", "qty": "1", "price": "150",
          "ttl_ms": 1000, "tif": "day"}, "tif"),
        ({"op": "place", "symbol": "AAPL", "side": "buy", "qty": "1", "price": "150",
          "tif": "gtd"}, "ttl_ms"),
        ({"op": "place", "symbol": "AAPL", "side": "buy", "qty": "1", "price": "150",
          "stp": "sometimes"}, "stp"),
        ({"op": "place", "symbol": "AAPL", "side": "buy", "qty": "abc", "price": "150"}, "qty"),
        ({"op": "place", "symbol": "AAPL", "side": "buy", "qty": "1", "price": "NaN"}, "price"),
        ({"op": "place", "symbol": "AAPL", "side": "buy", "qty": "1", "price": "150",
          "client_order_id": "c" * 65}, "client_order_id"),
        ({"op": "cancel"}, "order_id"),
        ({"op": "modify", "order_id": 1}, "qty"),
        ({"op": "orders", "status": "dead"}, "status"),
        ({"op": "candles", "symbol": "AAPL", "interval": "2m"}, "interval"),
        ({"op": "subscribe", "channel": "news", "symbol": "AAPL"}, "channel"),
        ({"op": "deposit"}, "amount"),
        ({"op": "alert", "symbol": "AAPL"}, "above"),
        ({"op": "close_market", "expire": "some"}, "expire"),
    ]
    for i, (req, field) in enumerate(cases):
        await alice.send({**req, "ref": i})
        reply = await alice.reply(i)
        assert reply["type"] == "error" and reply["code"] == "bad_request", (req, reply)
        assert field in reply["message"], (req, reply)
    # None of them created an order.
    assert (await alice.request("orders", status="all"))["orders"] == []


async def test_expire_at_in_the_past_is_bad_request(alice: Conn) -> None:
    reply = await alice.place("AAPL", "buy", "1", "150.00", expire_at="2020-01-01T00:00:00Z")
    assert reply["type"] == "error" and reply["code"] == "bad_request"
    assert "expire_at" in reply["message"]
    assert (await alice.request("orders", status="all"))["orders"] == []


async def test_hostile_json_is_a_bad_line(anon: Conn) -> None:
    deep = b"[" * 30_000 + b"]" * 30_000
    lines = [b'{"op": "ping", "ref": ' + deep + b"}",
             b'{"op": "ping", "x": ' + deep + b"}",
             b'{"op": "ping", "x": ' + b'{"a": ' * 9_000 + b"1" + b"}" * 9_000 + b"}",
             b'{"op": ' + deep + b"}",
             b'{"op": "place", "symbol": "AAPL", "side": "buy", "qty": ' + deep + b"}"]
    for line in lines:
        await anon.send_raw(line + b"\n")
        reply = await anon.recv()
        assert reply["type"] == "error" and reply["code"] == "bad_request", reply
        assert "ref" not in reply
    await anon.send_raw(b"\x00\x01\x02\n" + b"[" * 60_000 + b"\n")
    assert (await anon.recv())["code"] == "unknown_op"
    assert (await anon.recv())["code"] == "unknown_op"
    await anon.send_raw(b'{"op": "ping"}\x00\n')
    assert (await anon.recv())["code"] == "bad_json"
    big = b'{"op": "deposit", "amount": "1' + b"0" * 5000 + b'"}'
    await anon.send_raw(big + b"\n")
    reply = await anon.recv()
    assert reply["code"] == "bad_request" and "amount" in reply["message"]
    assert (await anon.request("ping"))["type"] == "pong"


async def test_blank_lines_are_ignored_and_crlf_accepted(anon: Conn) -> None:
    await anon.send_raw(b"\n   \n\t\r\n" + b'{"op": "ping", "ref": 1}\r\n' + b"ping\r\n")
    first = await anon.recv()
    second = await anon.recv()
    assert first["type"] == "pong" and first["ref"] == 1
    assert second["type"] == "pong" and "ref" not in second
    await anon.no_more()


async def test_a_bad_line_does_not_close_the_session_or_change_state(alice: Conn) -> None:
    before = await alice.request("balance")
    await alice.send_raw(b'{"op": "deposit", "amount": "-5"}\n{"op":\n\xff\xfe\nbuy AAPL x\n')
    codes = [(await alice.recv())["code"] for _ in range(4)]
    assert codes == ["bad_request", "bad_json", "bad_request", "bad_request"]
    after = await alice.request("balance")
    assert {k: v for k, v in after.items() if k != "ref"} == {
        k: v for k, v in before.items() if k != "ref"}


# -- framing limits ----------------------------------------------------------------------------

async def test_line_too_long_then_a_good_line(anon: Conn) -> None:
    long_line = b'{"op": "ping", "pad": "' + b"x" * 70_000 + b'"}\n'
    await anon.send_raw(long_line + b'{"op": "ping", "ref": "after"}\n')
    err = await anon.recv()
    assert err["type"] == "error" and err["code"] == "line_too_long" and "ref" not in err
    ok = await anon.recv()
    assert ok == {"type": "pong", "ts": ok["ts"], "ref": "after"}
    # Also when the long line arrives in pieces.
    for _ in range(10):
        await anon.send_raw(b"y" * 10_000)
    await anon.send_raw(b"\nping\n")
    assert (await anon.recv())["code"] == "line_too_long"
    assert (await anon.recv())["type"] == "pong"
    await anon.no_more()


async def test_line_of_exactly_the_limit_is_accepted(anon: Conn) -> None:
    head = b'{"op": "ping", "ref": "edge", "x": "'
    tail = b'"}'
    line = head + b"a" * (65_536 - len(head) - len(tail)) + tail
    assert len(line) == 65_536
    await anon.send_raw(line + b"\n")
    reply = await anon.recv()
    # Accepted by the framing; the unknown field is then a bad request, with its ref.
    assert reply["code"] == "bad_request" and reply["ref"] == "edge"
    await anon.send_raw(line + b"a\n")
    assert (await anon.recv())["code"] == "line_too_long"
    # The terminator does not count: a \r\n after 65,536 bytes is still fine.
    await anon.send_raw(line + b"\r\n")
    reply = await anon.recv()
    assert reply["code"] == "bad_request" and reply["ref"] == "edge"


async def test_invalid_utf8(anon: Conn) -> None:
    await anon.send_raw(b"buy AAPL \xff\xfe 10\n")
    reply = await anon.recv()
    assert reply["type"] == "error" and reply["code"] == "bad_request"
    await anon.send_raw(b'{"op": "ping", "ref": "\xc3\x28"}\n')
    reply = await anon.recv()
    assert reply["type"] == "error" and reply["code"] == "bad_request"
    await anon.send_raw(b'{"op": "ping", "ref": "ok"}\n')
    assert (await anon.recv())["ref"] == "ok"


async def test_eof_answers_every_line_then_closes(addr: tuple[str, int]) -> None:
    conn = await connect(addr)
    lines = [json.dumps({"op": "login", "user": "alice", "token": "alice-token", "ref": 0})]
    for i in range(1, 200):
        if i % 3 == 0:
            lines.append(json.dumps({"op": "place", "symbol": "AAPL", "side": "buy",
                                     "qty": "1", "price": "140.00", "ref": i}))
        elif i % 3 == 1:
            lines.append(json.dumps({"op": "balance", "ref": i}))
        else:
            lines.append(json.dumps({"op": "ping", "ref": i}))
    await conn.send_raw(("\n".join(lines) + "\nping\n").encode() + b"partial line without end")
    conn.writer.write_eof()
    data = await conn.expect_closed()
    replies = [json.loads(x) for x in data.splitlines()]
    assert [r.get("ref") for r in replies] == [*range(200), None]
    assert replies[-1]["type"] == "pong"
    placed = [r for r in replies if r["type"] == "accepted"]
    assert len(placed) == 66
    ids = [r["order"]["order_id"] for r in placed]
    assert ids == sorted(ids)
    await conn.close()


async def test_eof_right_after_connect_closes(addr: tuple[str, int]) -> None:
    conn = await connect(addr)
    conn.writer.write_eof()
    assert await conn.expect_closed() == b""


async def test_hundred_connections_open_and_close(server: Server) -> None:
    conns = await asyncio.gather(*(connect(server.addr) for _ in range(100)))
    replies = await asyncio.gather(*(c.request("ping", ref=i) for i, c in enumerate(conns)))
    assert [r["ref"] for r in replies] == list(range(100))
    await asyncio.gather(*(c.close() for c in conns[:50]))
    for c in conns[50:]:
        await c.send("quit")
    for c in conns[50:]:
        assert await c.expect_closed() == b'{"type":"bye"}\n'
    # And once more, logged in; the server still counts and serves.
    conns = await asyncio.gather(*(connect(server.addr, "alice") for _ in range(100)))
    await asyncio.gather(*(c.close() for c in conns))
    admin = await connect(server.addr, "admin")
    stats = await admin.request("stats")
    assert stats["counters"]["sessions"] >= 1
    assert stats["counters"]["sessions_opened"] == 201
