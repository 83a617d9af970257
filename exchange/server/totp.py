"""Time-based one-time passwords (RFC 6238), as authenticator apps compute them.

HOTP (RFC 4226) of the number of 30-second steps since the Unix epoch, under HMAC-SHA1,
truncated to 6 decimal digits: the parameters every authenticator app uses by default,
so that the provisioning URI needs nothing an app could misread. Only the standard
library: :mod:`hmac`, :mod:`hashlib`, :mod:`base64` and :mod:`secrets` for the key.

Pure functions with the time passed in (microseconds, as the engine counts it), so that
the tests can check a code at any instant. The rules the gateway applies with them
(PROTOCOL.md, "Two-factor login"):

* a code is accepted for the current step and one step either side (clock drift of up
  to 30 s between the server and the user's phone);
* a code is accepted only for a step after the last one accepted for that user, so a
  code seen once (over a shoulder, in a log of keystrokes) cannot be used again, and
  neither can any earlier code.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
from typing import Final
from urllib.parse import quote, urlencode

from protocol.fields import OTP_DIGITS

DIGITS: Final = OTP_DIGITS
"""Digits of a code (the protocol's `otp` and `code` fields are exactly this long)."""
PERIOD: Final = 30
"""Seconds per step."""
DRIFT: Final = 1
"""Steps accepted either side of the current one."""
SECRET_BYTES: Final = 20
"""160 bits: RFC 4226's recommended key length for HMAC-SHA1 (32 base32 characters)."""
_US_PER_STEP: Final = PERIOD * 1_000_000


def new_secret() -> str:
    """A fresh random key, base32 without padding (what apps and ``pyotp`` take)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii").rstrip("=")


def _key(secret: str) -> bytes:
    padded = secret.upper() + "=" * (-len(secret) % 8)
    try:
        return base64.b32decode(padded)
    except (binascii.Error, ValueError):
        raise ValueError("the secret is not base32") from None


def step_at(now_us: int) -> int:
    """The step a time (microseconds since the epoch) falls in."""
    return now_us // _US_PER_STEP


def code_at(secret: str, step: int) -> str:
    """The code of one step (RFC 4226 section 5.3's dynamic truncation)."""
    digest = hmac.new(_key(secret), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    (value,) = struct.unpack_from(">I", digest, offset)
    return str((value & 0x7FFFFFFF) % 10**DIGITS).zfill(DIGITS)


def accepted_step(secret: str, code: str, now_us: int, last_step: int) -> int | None:
    """The step ``code`` is the code of, within the drift around ``now_us`` and after
    ``last_step``; None when it is no such code.

    Every candidate step is compared (in constant time each), whatever matches, so the
    time a check takes does not tell which step matched."""
    now = step_at(now_us)
    found = None
    for step in range(now - DRIFT, now + DRIFT + 1):
        matches = hmac.compare_digest(code_at(secret, step), code)
        if matches and step > last_step and found is None:
            found = step
    return found


def provisioning_uri(secret: str, user: str, issuer: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads (usually from a QR code): the
    label ``issuer:user`` and the parameters, per the Key Uri Format apps follow."""
    label = f"{quote(issuer, safe='')}:{quote(user, safe='@')}"
    query = urlencode({"secret": secret, "issuer": issuer, "algorithm": "SHA1",
                       "digits": DIGITS, "period": PERIOD}, quote_via=quote)
    return f"otpauth://totp/{label}?{query}"
