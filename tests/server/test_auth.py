"""Logins on the wire: throttled failures, their log lines, hashed tokens, TLS."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from client import Client
from exchange.server.auth import TokenHash
from tests.server.conftest import BASE_CONFIG, Server, StartServer
from tests.server.wire import Conn, connect

ROOT = Path(__file__).resolve().parents[2]

GUESS = "guess-Zq81-not-the-token"
"""A wrong token that must never appear in the server's log."""


def sockname(conn: Conn) -> str:
    host, port = conn.writer.get_extra_info("sockname")[:2]
    return f"{host}:{port}"


def failed_lines(server: Server, user: str, peer: str) -> list[str]:
    return [line for line in server.log_text().splitlines()
            if "WARNING" in line and f"failed login for user {user!r} from {peer} " in line]


async def read_until_closed(conn: Conn) -> list[dict[str, object]]:
    messages = []
    while True:
        try:
            messages.append(await conn.recv())
        except ConnectionError:
            return messages


# -- throttling -------------------------------------------------------------------------------

async def test_pipelined_wrong_logins_are_slowed_then_the_connection_is_closed(
        server: Server) -> None:
    conn = await Conn.open(server.addr)
    peer = sockname(conn)
    started = time.monotonic()
    await conn.send_raw(b"".join(
        json.dumps({"op": "login", "user": "alice", "token": GUESS, "ref": i}).encode() + b"\n"
        for i in range(1, 51)) + b'{"op":"ping","ref":"p"}\n')
    replies = await read_until_closed(conn)
    elapsed = time.monotonic() - started
    # In order; the first five were checked, the fifth says the connection closes.
    logins = [r["ref"] for r in replies if r["ref"] != "p"]
    assert logins == list(range(1, len(logins) + 1))
    assert all(r["ref"] != "p" for r in replies[:-1])
    assert all(r["code"] == "auth_failed" for r in replies if r["ref"] != "p")
    checked = replies[:5]
    assert [r["ref"] for r in checked] == [1, 2, 3, 4, 5]
    assert all("unknown user or wrong token" in str(r["message"]) for r in checked)
    assert "closing the connection" in str(checked[4]["message"])
    assert not any("closing" in str(r["message"]) for r in checked[:4])
    # Whatever was read behind the fifth failure is refused without a check, then closed.
    for reply in replies[5:]:
        assert reply["ref"] == "p" or "too many failed logins on this connection" in str(
            reply["message"]), reply
    # Each of the last four waited for its delay (0.1 + 0.2 + 0.4 + 0.8 s) first.
    assert elapsed >= 1.4
    lines = failed_lines(server, "alice", peer)
    assert len(lines) == 5, server.log_text()[-3000:]
    assert "failure 5 on this connection" in lines[-1] and "closing" in lines[-1]
    assert GUESS not in server.log_text()
    await conn.close()


async def test_requests_behind_a_delayed_login_run_as_the_user_it_logs_in(
        server: Server) -> None:
    conn = await connect(server.addr, "bob")
    assert (await conn.request("login", user="alice", token=GUESS))["code"] == "auth_failed"
    # Pipelined: a delayed (second) login, then an order: the order is alice's, not bob's.
    await conn.send_raw(
        b'{"op":"login","user":"alice","token":"alice-token","ref":"in"}\n'
        b'{"op":"place","symbol":"AAPL","side":"buy","qty":"1","price":"140.00","ref":"o"}\n'
        b'{"op":"balance","ref":"b"}\n')
    first = await conn.recv()
    assert first["type"] == "welcome" and first["ref"] == "in"
    placed = await conn.recv()
    assert placed["ref"] == "o" and placed["order"]["user"] == "alice", placed
    assert (await conn.recv())["ref"] == "b"
    assert any("logged in as 'alice'" in line for line in server.log_text().splitlines())
    await conn.close()


async def test_a_correct_login_after_failures_works_on_a_new_connection(server: Server) -> None:
    guesser = await Conn.open(server.addr)
    for _ in range(4):
        reply = await guesser.request("login", user="carol", token=GUESS)
        assert reply["code"] == "auth_failed"
    assert (await guesser.request("ping"))["type"] == "pong"  # four failures: still open
    fresh = await connect(server.addr, "carol")
    assert (await fresh.request("balance"))["type"] == "balance"
    # The connection that failed four times may still log in, after its delay.
    assert (await guesser.login("carol"))["user"] == "carol"
    await guesser.close()
    await fresh.close()


async def test_a_user_name_is_locked_out_after_ten_failures_known_or_not(
        server: Server) -> None:
    async def fail_five(user: str) -> None:
        conn = await Conn.open(server.addr)
        for i in range(5):
            reply = await conn.request("login", user=user, token=GUESS)
            assert reply["code"] == "auth_failed" and "wrong token" in reply["message"], (i, reply)
        await conn.expect_closed()
        await conn.close()

    await asyncio.gather(*(fail_five(user) for user in ("dave", "dave", "mallory", "mallory")))
    refused = []
    for user, token in (("dave", "dave-token"), ("mallory", "dave-token")):
        conn = await Conn.open(server.addr)
        refused.append(await conn.request("login", user=user, token=token))
        await conn.close()
    for reply in refused:
        assert reply["code"] == "auth_failed"
        assert re.fullmatch(r"token: too many failed logins for this user; try again in \d+ s",
                            reply["message"]), reply
    # Other users are not affected.
    other = await connect(server.addr, "alice")
    await other.close()


async def test_unknown_and_known_users_fail_alike(server: Server) -> None:
    conn = await Conn.open(server.addr)
    known = await conn.request("login", user="alice", token=GUESS, ref=1)
    conn2 = await Conn.open(server.addr)
    unknown = await conn2.request("login", user="nobody", token=GUESS, ref=1)
    assert known == unknown
    await conn.close()
    await conn2.close()


# -- hashed tokens --------------------------------------------------------------------------

def hash_with_cli(token: str, stdin: bool = False) -> str:
    args = [sys.executable, "-m", "exchange", "hash-token"] + ([] if stdin else [token])
    result = subprocess.run(args, cwd=ROOT, input=token + "\n" if stdin else "",
                            text=True, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    match = re.fullmatch(r'token_hash = "([^"]+)"\n', result.stdout)
    assert match, result.stdout
    return match.group(1)


def test_hash_token_prints_a_line_that_verifies() -> None:
    for stdin in (False, True):
        parsed = TokenHash.parse(hash_with_cli("hana-secret", stdin=stdin))
        assert parsed.verify("hana-secret")
        assert not parsed.verify("hana-secret2")


def test_hash_token_refuses_an_empty_token() -> None:
    result = subprocess.run([sys.executable, "-m", "exchange", "hash-token"], input="\n",
                            cwd=ROOT, text=True, capture_output=True, timeout=60)
    assert result.returncode == 2 and "1 to 256 characters" in result.stderr


HASHED_USER = """
[[users]]
user = "hana"
name = "Hana Example"
token_hash = "{hash}"
cash = "1000"
holdings = {{ AAPL = "10" }}
"""


async def test_hashed_tokens_log_in_and_wrong_ones_fail(start_server: StartServer) -> None:
    server = start_server(config=BASE_CONFIG + HASHED_USER.format(hash=hash_with_cli("hana-s")))
    conn = await Conn.open(server.addr)
    # Pipelined behind a login checked in a thread: the order runs as hana.
    await conn.send_raw(
        b'{"op":"login","user":"hana","token":"hana-s","ref":"in"}\n'
        b'{"op":"place","symbol":"AAPL","side":"sell","qty":"1","price":"160.00","ref":"o"}\n')
    assert (await conn.recv())["type"] == "welcome"
    placed = await conn.recv()
    assert placed["ref"] == "o" and placed["order"]["user"] == "hana", placed
    wrong = await Conn.open(server.addr)
    bad = await wrong.request("login", user="hana", token="hana-t", ref=1)
    other = await Conn.open(server.addr)
    unknown = await other.request("login", user="hanna", token="hana-s", ref=1)
    assert bad["code"] == "auth_failed" and bad == unknown
    # Plain-token users of the same config are unaffected.
    await (await connect(server.addr, "alice")).close()
    assert "hana-t" not in server.log_text() and "hana-s" not in server.log_text()
    for c in (conn, wrong, other):
        await c.close()


async def test_a_restart_takes_the_credentials_of_todays_config(
        start_server: StartServer, tmp_path: Path) -> None:
    data = ("--data-dir", str(tmp_path / "data"))
    first = start_server(args=data)
    conn = await connect(first.addr, "alice")
    await conn.order_id("AAPL", "buy", "1", "140.00")
    await conn.close()
    assert first.stop() == 0
    hashed = BASE_CONFIG.replace('token = "alice-token"',
                                 f'token_hash = "{hash_with_cli("alice-new")}"')
    second = start_server(config=hashed, args=data)
    conn = await Conn.open(second.addr)
    assert (await conn.request("login", user="alice", token="alice-token"))["code"] == \
        "auth_failed"
    assert (await conn.login("alice", "alice-new"))["user"] == "alice"
    assert len((await conn.request("orders"))["orders"]) == 1
    await conn.close()


# -- TLS ------------------------------------------------------------------------------------------

@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, made with the openssl CLI."""
    # Not a skip: a TLS listener that is never tested is not known to work. .ci/run
    # installs Debian's openssl where it is missing.
    assert shutil.which("openssl") is not None, "needs openssl (apt-get install openssl)"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                    "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


async def test_tls_round_trip(start_server: StartServer, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server = start_server(args=("--tls-cert", str(cert), "--tls-key", str(key)))
    context = ssl.create_default_context(cafile=str(cert))

    # Plain TCP and junk against the TLS port: refused, and the server carries on.
    for junk in (b'{"op":"ping"}\n', b"\x16\x03\x01\x00\x05junkjunk" * 50):
        plain = await Conn.open(server.addr)
        await plain.send_raw(junk)
        assert b"pong" not in await plain.expect_closed()
        await plain.close()

    # The client library over TLS.
    async with Client.connect(*server.addr, user="alice", token="alice-token",
                              ssl=context) as client:
        assert (await client.balance()).cash
        assert (await client.ping()).ts

    # A raw TLS socket speaking the line protocol.
    def raw() -> bytes:
        with socket.create_connection(server.addr, timeout=5) as sock, \
                context.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
            tls.sendall(b'login alice alice-token\n{"op":"ping","ref":1}\n')
            data = b""
            while data.count(b"\n") < 2:
                chunk = tls.recv(4096)
                assert chunk, data
                data += chunk
            return data
    lines = (await asyncio.to_thread(raw)).splitlines()
    assert json.loads(lines[0])["type"] == "welcome"
    assert json.loads(lines[1]) == {"type": "pong", "ts": json.loads(lines[1])["ts"], "ref": 1}
    assert "TLS on the listener" in server.log_text()


def test_tls_needs_both_files(tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    for args in (["--tls-cert", str(cert)], ["--tls-key", str(key)],
                 ["--tls-cert", str(key), "--tls-key", str(cert)],
                 ["--tls-cert", str(tmp_path / "none.pem"), "--tls-key", str(key)]):
        result = subprocess.run([sys.executable, "-m", "exchange", "serve", "--port", "0",
                                 *args], cwd=ROOT, text=True, capture_output=True,
                                timeout=60)
        assert result.returncode == 2, (args, result.stderr)
        assert "--tls" in result.stderr
