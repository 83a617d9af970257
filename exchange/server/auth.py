"""Logins: token hashes, and the throttle that stands in front of every check.

A token is either given in the config as is (``token``) or as a hash (``token_hash``),
made with a key-derivation function of :mod:`hashlib` so that a leaked config does not
leak the tokens: ``scrypt$N$r$p$SALT$KEY`` (what ``exchange hash-token`` writes) or
``pbkdf2_sha256$ITERATIONS$SALT$KEY`` (salt and key in standard base64). Both are
compared in constant time.

The throttle is pure bookkeeping, with time passed in, so that it can be tested without a
clock. Its decisions (PROTOCOL.md, "Authentication"):

* per connection: after the k-th failed login, the connection's next login is not looked
  at before ``0.1 * 2**(k-1)`` seconds (at most 5 s) have passed since that failure, and
  the 5th failure closes the connection;
* per user name (known or not, so that refusing reveals nothing): 10 failures within a
  60 s window refuse further logins under that name until the window ends, without
  looking at the token. The lockout is short and bounded on purpose: anyone can make a
  name fail, so a long lockout would let an attacker lock a real user out for good.
  Refusals during a lockout are not counted against the name, so the lockout never
  extends itself;
* the names tracked are attacker-chosen, so the table is bounded: entries whose window
  has passed are forgotten, and past ``max_users`` names the least recently failed one is.

Both are checked before any hashing, so guessing costs the guesser time, not the server CPU.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections import OrderedDict
from dataclasses import dataclass

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
"""scrypt's cost parameters for new hashes: about 37 ms and 16 MiB per check on the
development machine (``exchange hash-token`` writes them into the hash, so a later change
here leaves existing hashes valid)."""
SALT_BYTES = 16
KEY_BYTES = 32

MAX_SCRYPT_MEMORY = 256 * 1024 * 1024
"""The most memory a configured scrypt hash may ask for per check (128 * N * r bytes)."""
MIN_PBKDF2_ITERATIONS = 10_000
MAX_PBKDF2_ITERATIONS = 10_000_000


class BadTokenHash(ValueError):
    """A ``token_hash`` that cannot be used; the message says which part is wrong."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise BadTokenHash(f"{what} is not standard base64") from None
    if not data:
        raise BadTokenHash(f"{what} is empty")
    return data


def _int(text: str, what: str, low: int, high: int) -> int:
    if not text.isascii() or not text.isdigit():
        raise BadTokenHash(f"{what} must be a decimal integer")
    value = int(text)
    if not low <= value <= high:
        raise BadTokenHash(f"{what} must be between {low} and {high}")
    return value


@dataclass(frozen=True, slots=True)
class TokenHash:
    """A parsed ``token_hash``: the scheme, its cost parameters, salt and derived key."""

    scheme: str
    params: tuple[int, ...]
    salt: bytes
    key: bytes

    @classmethod
    def parse(cls, text: str) -> TokenHash:
        """Parse and bound-check a hash line; raises :class:`BadTokenHash`."""
        parts = text.split("$")
        if parts[0] == "scrypt":
            if len(parts) != 6:
                raise BadTokenHash("expected scrypt$N$r$p$SALT$KEY")
            n = _int(parts[1], "scrypt N", 2, 2**20)
            if n & (n - 1):
                raise BadTokenHash("scrypt N must be a power of 2")
            r = _int(parts[2], "scrypt r", 1, 64)
            p = _int(parts[3], "scrypt p", 1, 16)
            if 128 * n * r > MAX_SCRYPT_MEMORY:
                raise BadTokenHash(f"scrypt N * r asks for more than {MAX_SCRYPT_MEMORY} bytes")
            return cls("scrypt", (n, r, p), _unb64(parts[4], "salt"), _unb64(parts[5], "key"))
        if parts[0] == "pbkdf2_sha256":
            if len(parts) != 4:
                raise BadTokenHash("expected pbkdf2_sha256$ITERATIONS$SALT$KEY")
            iterations = _int(parts[1], "pbkdf2 iterations", MIN_PBKDF2_ITERATIONS,
                              MAX_PBKDF2_ITERATIONS)
            return cls("pbkdf2_sha256", (iterations,), _unb64(parts[2], "salt"),
                       _unb64(parts[3], "key"))
        raise BadTokenHash("unknown scheme: expected scrypt$... or pbkdf2_sha256$...")

    def derive(self, token: bytes) -> bytes:
        """The key this hash's scheme, parameters and salt derive from ``token``."""
        if self.scheme == "scrypt":
            n, r, p = self.params
            # maxmem: what N and r need (128*N*r) plus a margin; OpenSSL's default of
            # 32 MiB would refuse the larger configured costs.
            return hashlib.scrypt(token, salt=self.salt, n=n, r=r, p=p,
                                  maxmem=128 * n * r * (p + 1) + 1024 * 1024,
                                  dklen=len(self.key))
        (iterations,) = self.params
        return hashlib.pbkdf2_hmac("sha256", token, self.salt, iterations, len(self.key))

    def verify(self, token: str) -> bool:
        """Whether ``token`` is the one hashed (constant-time comparison). Slow on
        purpose (tens of milliseconds): call it off the event loop."""
        return hmac.compare_digest(self.derive(token.encode()), self.key)

    def format(self) -> str:
        params = "$".join(str(v) for v in self.params)
        return f"{self.scheme}${params}${_b64(self.salt)}${_b64(self.key)}"

    def decoy(self) -> TokenHash:
        """A hash with the same scheme and cost that no token matches in practice: what
        a login for an unknown user is checked against, so that it costs the same."""
        return TokenHash(self.scheme, self.params, os.urandom(len(self.salt)),
                         os.urandom(len(self.key)))


def hash_token(token: str, salt: bytes | None = None) -> str:
    """The ``token_hash`` line for ``token``: scrypt with this module's parameters."""
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    template = TokenHash("scrypt", (SCRYPT_N, SCRYPT_R, SCRYPT_P), salt, b"\0" * KEY_BYTES)
    return TokenHash("scrypt", template.params, salt, template.derive(token.encode())).format()


def plain_matches(given: str, expected: str) -> bool:
    """Compare a plain token in constant time, its length included (both sides are
    digested first: ``compare_digest`` returns early on a length difference)."""
    return hmac.compare_digest(hashlib.sha256(given.encode()).digest(),
                               hashlib.sha256(expected.encode()).digest())


# -- the throttle -------------------------------------------------------------------------

MAX_CONNECTION_FAILURES = 5
BASE_DELAY = 0.1
MAX_DELAY = 5.0
USER_FAILURES = 10
USER_WINDOW = 60.0
MAX_TRACKED_USERS = 10_000


class ConnectionLogins:
    """One connection's failed logins."""

    __slots__ = ("failures", "not_before")

    def __init__(self) -> None:
        self.failures = 0
        self.not_before = 0.0
        """Loop time before which this connection's next login is not looked at."""


class _UserWindow:
    __slots__ = ("count", "start")

    def __init__(self, start: float) -> None:
        self.start = start
        self.count = 0


class LoginThrottle:
    """The bookkeeping of failed logins per connection and per user name."""

    def __init__(self, max_connection_failures: int = MAX_CONNECTION_FAILURES,
                 base_delay: float = BASE_DELAY, max_delay: float = MAX_DELAY,
                 user_failures: int = USER_FAILURES, user_window: float = USER_WINDOW,
                 max_users: int = MAX_TRACKED_USERS) -> None:
        self.max_connection_failures = max_connection_failures
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.user_failures = user_failures
        self.user_window = user_window
        self.max_users = max_users
        self._users: OrderedDict[str, _UserWindow] = OrderedDict()
        """User name -> its current window, least recently failed first."""

    def delay_after(self, failures: int) -> float:
        """Seconds a connection waits, after its ``failures``-th failure, for its next try."""
        if failures <= 0:
            return 0.0
        return min(self.max_delay, self.base_delay * float(2 ** min(failures - 1, 62)))

    @staticmethod
    def wait(conn: ConnectionLogins, now: float) -> float:
        """Seconds before this connection's next login may be looked at (0: now)."""
        return max(0.0, conn.not_before - now)

    def closing(self, conn: ConnectionLogins) -> bool:
        """The connection has failed too often and is being closed."""
        return conn.failures >= self.max_connection_failures

    def locked(self, user: str, now: float) -> float:
        """Seconds left of ``user``'s lockout (0: not locked out)."""
        window = self._users.get(user)
        if window is None or window.count < self.user_failures:
            return 0.0
        return max(0.0, window.start + self.user_window - now)

    def failed(self, conn: ConnectionLogins, user: str | None, now: float) -> bool:
        """Record a failed login (``user`` None: refused without a check, not counted
        against the name); True when the connection must now be closed."""
        conn.failures += 1
        conn.not_before = now + self.delay_after(conn.failures)
        if user is not None:
            self._count(user, now)
        return self.closing(conn)

    def _count(self, user: str, now: float) -> None:
        users = self._users
        window = users.pop(user, None)
        if window is None or now - window.start >= self.user_window:
            window = _UserWindow(now)
        window.count += 1
        users[user] = window  # now the most recently failed
        # Forget names whose window has passed (the least recently failed come first),
        # then, if still too many, the least recently failed.
        while users:
            oldest = next(iter(users.values()))
            if now - oldest.start < self.user_window and len(users) <= self.max_users:
                break
            users.popitem(last=False)

    @property
    def tracked_users(self) -> int:
        return len(self._users)
