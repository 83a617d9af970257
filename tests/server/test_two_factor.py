"""Two-factor login end to end, with ``pyotp`` as the user's authenticator app.

* ``otp_setup`` returns a secret and an ``otpauth://`` URI an app reads (issuer: the
  config's ``[market] name``); nothing changes for logins until ``otp_enable`` with a
  right code (a wrong one is refused).
* Once on, a login needs a code: a right one logs in, a wrong, missing or replayed one
  is ``auth_failed`` (and counts in the login throttle), one step of drift either side is
  accepted, two are not; the code that enabled it cannot log in.
* The code may come in ``otp``, as the text command's third word, or appended to the
  token (FIX's Password(554)); the HTTP front-end's API keys need none.
* ``otp_disable`` needs a right code.
* With ``--data-dir`` all of it survives a restart, by snapshot (SIGTERM) and by the
  journal alone (SIGKILL), the step used last included.
* The secret is in no log line, no ``stats`` and no other reply than ``otp_setup``'s.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
import pyotp

from exchange.server.inspect import inspect
from tests.fix.client import FixClient
from tests.server.conftest import BASE_CONFIG, Server, StartServer, _start
from tests.server.http_wire import HTTP_CONFIG, Http
from tests.server.wire import Conn, connect

MARKET = '[market]\nname = "Test Exchange"\n'


def step_now() -> int:
    """The 30-second step the test's clock is in (the server's clock is the same)."""
    return int(time.time() // 30)


def at(secret: str, step: int) -> str:
    """The code an app shows during ``step``. Tests name steps relative to one step
    ``s`` taken at their start, so that they hold whether or not a step boundary passes
    while they run (the server accepts one step either side of its own)."""
    return str(pyotp.TOTP(secret).at(step * 30))


async def away_from_a_step_edge(seconds: float = 3.0) -> None:
    """Wait, when the current step has less than ``seconds`` left, for the next one: for
    the one test whose code must be exactly one step behind the server's."""
    left = 30 - time.time() % 30
    if left < seconds:
        await asyncio.sleep(left + 0.1)


def wrong_code(secret: str) -> str:
    """Six digits that are the code of none of the seven steps around now."""
    s = step_now()
    near = {at(secret, k) for k in range(s - 3, s + 4)}
    return next(c for c in (f"{n:06d}" for n in range(1_000_000)) if c not in near)


async def login(addr: tuple[str, int], user: str, otp: str | None = None,
                token: str | None = None) -> dict[str, Any]:
    """One login on a fresh connection (so that one failure does not delay the next)."""
    conn = await Conn.open(addr)
    fields: dict[str, Any] = {"user": user, "token": token or f"{user}-token"}
    if otp is not None:
        fields["otp"] = otp
    reply = await conn.request("login", **fields)
    await conn.close()
    return reply


async def enable(conn: Conn, step: int) -> str:
    """Set up two-factor login for ``conn``'s user and enable it with the code of
    ``step`` (which then counts as used); the secret."""
    setup = await conn.request("otp_setup")
    assert setup["type"] == "otp_setup", setup
    secret = str(setup["secret"])
    reply = await conn.request("otp_enable", code=at(secret, step))
    assert reply["type"] == "otp_enabled", reply
    return secret


def refused(reply: dict[str, Any]) -> bool:
    return (reply["type"] == "error" and reply["code"] == "auth_failed"
            and "one-time code (otp) missing or wrong" in reply["message"])


# -- set-up ------------------------------------------------------------------------------------

async def test_setup_gives_a_secret_an_app_reads_and_changes_nothing_until_enabled(
        start_server: StartServer) -> None:
    server = start_server(MARKET)
    alice = await connect(server.addr, "alice")
    setup = await alice.request("otp_setup")
    app = pyotp.parse_uri(setup["uri"])
    assert isinstance(app, pyotp.TOTP)
    assert (app.secret, app.issuer, app.name, app.digits, app.interval) == (
        setup["secret"], "Test Exchange", "alice", 6, 30)
    assert (setup["digits"], setup["period"]) == (6, 30)
    assert setup["uri"].startswith("otpauth://totp/Test%20Exchange:alice?secret=")
    assert len(setup["secret"]) == 32  # 160 bits of base32
    # Not enabled yet: a login needs no code, and a mistyped confirmation locks no one out.
    assert (await login(server.addr, "alice"))["type"] == "welcome"
    wrong = await alice.request("otp_enable", code=wrong_code(setup["secret"]))
    assert wrong["code"] == "auth_failed" and wrong["message"].startswith("code: "), wrong
    assert (await login(server.addr, "alice"))["type"] == "welcome"
    # A second setup replaces the secret; the first one's codes no longer enable.
    s = step_now()
    again = await alice.request("otp_setup")
    assert again["secret"] != setup["secret"]
    old = await alice.request("otp_enable", code=at(setup["secret"], s))
    assert old["code"] == "auth_failed", old
    enabled = await alice.request("otp_enable", code=at(again["secret"], s))
    assert enabled["type"] == "otp_enabled", enabled
    # On: no setup over it, no second enable.
    assert (await alice.request("otp_setup"))["code"] == "bad_state"
    assert (await alice.request("otp_enable", code=at(again["secret"], s + 1)))["code"] == (
        "bad_state")
    assert refused(await login(server.addr, "alice"))


async def test_the_ops_need_a_login_a_setup_and_well_formed_codes(server: Server) -> None:
    anon = await Conn.open(server.addr)
    assert (await anon.request("otp_setup"))["code"] == "auth_required"
    bob = await connect(server.addr, "bob")
    reply = await bob.request("otp_enable", code="123456")
    assert reply["code"] == "bad_state" and "otp_setup first" in reply["message"]
    assert (await bob.request("otp_disable", code="123456"))["code"] == "bad_state"
    for bad in ("12345", "1234567", "12345a", 123456):
        reply = await bob.request("otp_enable", code=bad)
        assert reply["code"] == "bad_request" and "`$.code`" in reply["message"], reply
    reply = await bob.request("login", user="bob", token="bob-token", otp="abc")
    assert reply["code"] == "bad_request" and "`$.otp`" in reply["message"], reply


# -- logins --------------------------------------------------------------------------------------

async def test_right_wrong_missing_replayed_and_drifted_codes(server: Server) -> None:
    addr = server.addr
    alice = await connect(addr, "alice")
    s = step_now()
    secret = await enable(alice, s)
    assert refused(await login(addr, "alice"))  # no code
    assert refused(await login(addr, "alice", wrong_code(secret)))
    assert refused(await login(addr, "alice", at(secret, s)))  # enabling used this step
    ahead = at(secret, s + 1)  # the phone's clock 30 s ahead: accepted
    welcome = await login(addr, "alice", ahead)
    assert welcome["type"] == "welcome" and welcome["user"] == "alice"
    assert refused(await login(addr, "alice", ahead))  # replayed
    assert refused(await login(addr, "alice", at(secret, s - 1)))  # an older step
    assert refused(await login(addr, "alice", at(secret, s + 3)))  # beyond the drift
    # A wrong token with a code not used yet is refused the same way.
    assert refused(await login(addr, "alice", at(secret, s + 2), token="guess"))
    # The session logged in before stays logged in.
    assert (await alice.request("balance"))["type"] == "balance"


async def test_one_step_behind_is_accepted_and_two_are_not(server: Server) -> None:
    bob = await connect(server.addr, "bob")
    await away_from_a_step_edge()
    s = step_now()
    secret = (await bob.request("otp_setup"))["secret"]
    too_old = await bob.request("otp_enable", code=at(secret, s - 2))
    assert too_old["code"] == "auth_failed", too_old
    behind = await bob.request("otp_enable", code=at(secret, s - 1))  # the phone 30 s late
    assert behind["type"] == "otp_enabled", behind
    assert (await login(server.addr, "bob", at(secret, s)))["type"] == "welcome"


async def test_wrong_codes_count_in_the_login_throttle(server: Server) -> None:
    carol = await connect(server.addr, "carol")
    secret = await enable(carol, step_now())
    conn = await Conn.open(server.addr)
    wrong = wrong_code(secret)
    replies = []
    for i in range(5):
        replies.append(await conn.request("login", ref=i, user="carol", token="carol-token",
                                          otp=wrong))
    assert all(refused(r) for r in replies)
    assert "closing the connection" in replies[4]["message"]
    assert await conn.expect_closed() == b""
    assert server.log_text().count("failed login for user 'carol'") == 5


async def test_the_code_as_a_text_word_and_appended_to_the_token(server: Server) -> None:
    s = step_now()
    dave = await connect(server.addr, "dave")
    dave_secret = await enable(dave, s)
    # A client with one secret field sends the token followed by the code.
    appended = f"dave-token{at(dave_secret, s + 1)}"
    assert (await login(server.addr, "dave", token=appended))["type"] == "welcome"
    assert refused(await login(server.addr, "dave", token=appended))  # that code is spent
    bob = await connect(server.addr, "bob")
    bob_secret = await enable(bob, s)
    conn = await Conn.open(server.addr)
    text = await conn.text(f"login bob bob-token {at(bob_secret, s + 1)}")
    assert text["type"] == "welcome", text
    # Users without two-factor login are not read that way: alice's token is her token.
    assert refused(await login(server.addr, "alice", token=f"alice-token{at(bob_secret, s)}"))
    assert (await login(server.addr, "alice", otp="123456"))["type"] == "welcome"


async def test_disable_needs_a_right_code(server: Server) -> None:
    s = step_now()
    bob = await connect(server.addr, "bob")
    secret = await enable(bob, s)
    wrong = await bob.request("otp_disable", code=wrong_code(secret))
    assert wrong["code"] == "auth_failed", wrong
    spent = await bob.request("otp_disable", code=at(secret, s))  # used by enabling
    assert spent["code"] == "auth_failed", spent
    assert refused(await login(server.addr, "bob"))  # still on
    assert (await bob.request("otp_disable", code=at(secret, s + 1)))["type"] == "otp_disabled"
    assert (await login(server.addr, "bob"))["type"] == "welcome"
    assert (await bob.request("otp_disable", code=at(secret, s + 1)))["code"] == "bad_state"


# -- the secret stays secret ---------------------------------------------------------------

async def test_the_secret_is_in_no_log_no_stats_and_no_other_reply(
        start_server: StartServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server(args=("--data-dir", str(data)))
    s = step_now()
    alice = await connect(server.addr, "alice")
    secret = await enable(alice, s)
    assert (await login(server.addr, "alice", at(secret, s + 1)))["type"] == "welcome"
    assert refused(await login(server.addr, "alice", wrong_code(secret)))
    admin = await connect(server.addr, "admin")
    replies = [await admin.request("stats"), await alice.request("balance"),
               await alice.request("watchlist"), await alice.request("help"),
               await alice.request("otp_setup")]  # refused: it is on
    assert replies[-1]["code"] == "bad_state"
    for reply in replies:
        assert secret not in str(reply)
    assert server.stop() == 0
    log = server.log_text()
    assert "two-factor login enabled" in log and secret not in log
    shown = inspect(data, show_records=100)
    assert "two_factor" in shown and "<secret>" in shown and secret not in shown


# -- durability ---------------------------------------------------------------------------

async def _restart_keeps_two_factor(start_server: StartServer, tmp_path: Path,
                                    sig: int) -> None:
    """alice enabled with the code of the step before this one (the clock 30 s late);
    bob set up and never enabled. After the restart alice still needs a code, the one
    she enabled with is still spent, today's code still works (the same secret); bob
    still logs in without one, and his pending secret still enables."""
    data = tmp_path / "data"
    # Started by hand: the fixture's servers must exit 0, and this one may be killed.
    first = _start(BASE_CONFIG, tmp_path, "first", ("--data-dir", str(data)))
    await away_from_a_step_edge(10)
    s = step_now()
    alice = await connect(first.addr, "alice")
    secret = await enable(alice, s - 1)
    bob = await connect(first.addr, "bob")
    pending = (await bob.request("otp_setup"))["secret"]
    await alice.close()
    await bob.close()
    assert first.stop(sig) == (0 if sig == signal.SIGTERM else -signal.SIGKILL)
    second = start_server(args=("--data-dir", str(data)))
    assert refused(await login(second.addr, "alice"))
    assert refused(await login(second.addr, "alice", at(secret, s - 1)))  # still spent
    assert (await login(second.addr, "alice", at(secret, s)))["type"] == "welcome"
    assert refused(await login(second.addr, "alice", at(secret, s)))  # spent now
    assert (await login(second.addr, "bob"))["type"] == "welcome"  # not on
    bob = await connect(second.addr, "bob")
    assert (await bob.request("otp_enable", code=at(pending, s)))["type"] == "otp_enabled"
    assert refused(await login(second.addr, "bob"))


async def test_two_factor_survives_an_orderly_restart(start_server: StartServer,
                                                      tmp_path: Path) -> None:
    await _restart_keeps_two_factor(start_server, tmp_path, signal.SIGTERM)
    assert list((tmp_path / "data").glob("snapshot-*.snap"))


async def test_two_factor_survives_a_crash(start_server: StartServer, tmp_path: Path) -> None:
    await _restart_keeps_two_factor(start_server, tmp_path, signal.SIGKILL)


# -- the other front-ends -------------------------------------------------------------------

async def test_fix_logon_appends_the_code_to_the_password(start_server: StartServer) -> None:
    server = start_server(args=("--fix-port", "0"))
    s = step_now()
    alice = await connect(server.addr, "alice")
    secret = await enable(alice, s)
    fix = server.others["fix"]
    client = await FixClient.open(fix, "alice")
    logout = await client.logon()
    assert logout.type == "5" and "one-time code (otp) missing or wrong" in logout[58]
    await client.close()
    client = await FixClient.open(fix, "alice")
    logon = await client.logon(token=f"alice-token{at(secret, s + 1)}")
    assert logon.type == "A", logon
    await client.logout()


async def test_api_keys_need_no_code(start_server: StartServer) -> None:
    server = start_server(config=HTTP_CONFIG, args=("--http-port", "0"))
    alice = await connect(server.addr, "alice")
    await enable(alice, step_now())
    assert refused(await login(server.addr, "alice"))
    async with aiohttp.ClientSession() as session:
        api = Http(session, server.others["http"], "alice")
        status, body = await api.signed("GET", "/api/v3/account")
    assert status == 200 and "balances" in body, body
