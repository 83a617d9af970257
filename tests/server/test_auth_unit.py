"""The login throttle's bookkeeping and token hashes, without a server or a clock."""

from __future__ import annotations

import base64
import hashlib
import pickle

import pytest

from exchange.core.accounts import UserInfo
from exchange.server.auth import (
    BadTokenHash,
    ConnectionLogins,
    LoginThrottle,
    TokenHash,
    hash_token,
    plain_matches,
)
from exchange.server.config import ConfigError, demo_config, parse_config

# -- the throttle ---------------------------------------------------------------------------

def test_connection_delay_doubles_and_the_fifth_failure_closes() -> None:
    throttle = LoginThrottle()
    conn = ConnectionLogins()
    assert throttle.wait(conn, 100.0) == 0.0
    waits = []
    closed = []
    now = 100.0
    for _ in range(5):
        closed.append(throttle.failed(conn, "alice", now))
        waits.append(round(throttle.wait(conn, now), 6))
        now += waits[-1]
    assert closed == [False, False, False, False, True]
    assert waits == [0.1, 0.2, 0.4, 0.8, 1.6]
    assert throttle.closing(conn)
    # The delay counts from the failure: a client that waited anyway waits no more.
    late = ConnectionLogins()
    throttle.failed(late, "bob", 0.0)
    assert throttle.wait(late, 0.05) == pytest.approx(0.05)
    assert throttle.wait(late, 0.5) == 0.0


def test_delay_is_capped() -> None:
    throttle = LoginThrottle(max_connection_failures=100)
    assert throttle.delay_after(0) == 0.0
    assert throttle.delay_after(7) == 5.0
    assert throttle.delay_after(10_000) == 5.0


def test_user_lockout_is_bounded_by_the_window() -> None:
    throttle = LoginThrottle(max_connection_failures=1000)
    conn = ConnectionLogins()
    for i in range(9):
        throttle.failed(conn, "alice", 10.0 + i)
    assert throttle.locked("alice", 19.0) == 0.0
    throttle.failed(conn, "alice", 19.0)
    assert throttle.locked("alice", 19.0) == pytest.approx(51.0)  # window began at 10.0
    assert throttle.locked("bob", 19.0) == 0.0
    # Refusals during the lockout are not counted against the name: it does not extend.
    for _ in range(50):
        throttle.failed(conn, None, 30.0)
    assert throttle.locked("alice", 69.9) == pytest.approx(0.1)
    assert throttle.locked("alice", 70.0) == 0.0
    # A new window starts from nothing.
    throttle.failed(conn, "alice", 70.0)
    assert throttle.locked("alice", 70.0) == 0.0


def test_unknown_names_lock_out_the_same_way() -> None:
    throttle = LoginThrottle(max_connection_failures=1000)
    conn = ConnectionLogins()
    for _ in range(10):
        throttle.failed(conn, "alice", 0.0)
        throttle.failed(conn, "nobody-at-all", 0.0)
    assert throttle.locked("alice", 1.0) == throttle.locked("nobody-at-all", 1.0) > 0


def test_tracked_names_are_bounded() -> None:
    throttle = LoginThrottle(max_connection_failures=10**9, max_users=100)
    conn = ConnectionLogins()
    for i in range(10_000):
        throttle.failed(conn, f"name{i}", 0.0)
    assert throttle.tracked_users == 100
    # Names whose window has passed are forgotten as new failures come in.
    throttle.failed(conn, "late", 61.0)
    assert throttle.tracked_users == 1


# -- token hashes -----------------------------------------------------------------------------

def test_hash_token_round_trip() -> None:
    line = hash_token("s3cret")
    parsed = TokenHash.parse(line)
    assert parsed.scheme == "scrypt" and parsed.params == (2**14, 8, 1)
    assert parsed.format() == line
    assert parsed.verify("s3cret")
    assert not parsed.verify("s3cret ")
    assert not parsed.verify("")
    assert hash_token("s3cret") != line  # salted
    assert not parsed.decoy().verify("s3cret")


def test_pbkdf2_hashes_verify() -> None:
    salt = b"0123456789abcdef"
    key = hashlib.pbkdf2_hmac("sha256", b"tok", salt, 20_000)
    line = f"pbkdf2_sha256$20000${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"
    parsed = TokenHash.parse(line)
    assert parsed.verify("tok") and not parsed.verify("tok2")


@pytest.mark.parametrize(("text", "says"), [
    ("", "unknown scheme"),
    ("bcrypt$x", "unknown scheme"),
    ("scrypt$16384$8$1$c2FsdA==", "expected scrypt$N$r$p$SALT$KEY"),
    ("scrypt$1000$8$1$c2FsdA==$a2V5", "power of 2"),
    ("scrypt$16384$0$1$c2FsdA==$a2V5", "scrypt r"),
    ("scrypt$1048576$64$1$c2FsdA==$a2V5", "bytes"),
    ("scrypt$16384$8$1$!!!$a2V5", "salt is not standard base64"),
    ("scrypt$16384$8$1$c2FsdA==$", "key is empty"),
    ("scrypt$\uff11\uff16384$8$1$c2FsdA==$a2V5", "decimal integer"),
    ("pbkdf2_sha256$10$c2FsdA==$a2V5", "iterations"),
])
def test_bad_hashes_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(BadTokenHash, match=says.replace("$", r"\$")):
        TokenHash.parse(text)


def test_plain_tokens_compare_whatever_their_length() -> None:
    assert plain_matches("alice-token", "alice-token")
    assert not plain_matches("alice-toke", "alice-token")
    assert not plain_matches("", "alice-token")


# -- config -------------------------------------------------------------------------------------

SYMBOLS = [{"symbol": "AAPL", "tick_size": "0.01", "lot_size": "1"}]


def test_config_takes_exactly_one_of_token_and_token_hash() -> None:
    line = hash_token("t")
    config = parse_config({"symbols": SYMBOLS, "users": [{"user": "a", "token_hash": line}]})
    assert config.users[0].token_hash == line and config.users[0].token == ""
    info = config.build_exchange().accounts.get("a")
    assert info is not None and info.info.token_hash == line
    with pytest.raises(ConfigError, match=r"users\[0\]\.token: give exactly one"):
        parse_config({"symbols": SYMBOLS, "users": [{"user": "a", "token": "t",
                                                     "token_hash": line}]})
    with pytest.raises(ConfigError, match=r"users\[0\]\.token: give exactly one"):
        parse_config({"symbols": SYMBOLS, "users": [{"user": "a"}]})
    with pytest.raises(ConfigError, match=r"users\[0\]\.token_hash: unknown scheme"):
        parse_config({"symbols": SYMBOLS, "users": [{"user": "a", "token_hash": "md5$x"}]})
    with pytest.raises(ConfigError, match=r"users\[0\]\.token_hash: expected a string"):
        parse_config({"symbols": SYMBOLS, "users": [{"user": "a", "token_hash": 5}]})


def test_credentials_come_from_todays_config() -> None:
    exchange = demo_config().build_exchange()
    config = demo_config()
    config.users[0].token, config.users[0].token_hash = "", hash_token("new")
    config.apply_credentials(exchange)
    first = exchange.accounts.get(config.users[0].user)
    assert first is not None and first.info.token == "" and first.info.token_hash


def test_user_info_from_an_older_snapshot_gets_the_new_field() -> None:
    info = UserInfo("a", token="t", token_hash="h")
    assert pickle.loads(pickle.dumps(info)) == info
    old = UserInfo.__new__(UserInfo)
    old.__setstate__((None, {"user": "a", "name": "", "phone": "", "email": "",
                             "token": "t", "admin": False}))
    assert old.token_hash == "" and old.token == "t"
