"""The server's TOTP code against RFC 6238's test vectors and against ``pyotp``."""

from __future__ import annotations

import base64

import pyotp
import pytest

from exchange.server import totp

RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
"""RFC 6238 appendix B's SHA-1 key."""
SECOND = 1_000_000


@pytest.mark.parametrize(("unix", "eight_digits"), [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
])
def test_rfc_6238_vectors(unix: int, eight_digits: str) -> None:
    # The same truncation with six digits keeps the last six of the eight.
    assert totp.code_at(RFC_SECRET, totp.step_at(unix * SECOND)) == eight_digits[-6:]


def test_codes_agree_with_pyotp_and_the_uri_reads_back() -> None:
    for _ in range(20):
        secret = totp.new_secret()
        app = pyotp.TOTP(secret)
        for unix in (0, 29, 30, 1_700_000_000, 1_700_000_017, 4_102_444_800):
            assert totp.code_at(secret, totp.step_at(unix * SECOND)) == app.at(unix)
        parsed = pyotp.parse_uri(totp.provisioning_uri(secret, "al ice@x", "My: Exchange"))
        assert isinstance(parsed, pyotp.TOTP)
        assert (parsed.secret, parsed.name, parsed.issuer) == (secret, "al ice@x",
                                                               "My: Exchange")


def test_accepted_step_drift_and_reuse() -> None:
    secret = totp.new_secret()
    now = 1_700_000_015 * SECOND
    s = totp.step_at(now)
    for offset in (-1, 0, 1):
        assert totp.accepted_step(secret, totp.code_at(secret, s + offset), now, 0) == s + offset
    for offset in (-2, 2):
        assert totp.accepted_step(secret, totp.code_at(secret, s + offset), now, 0) is None
    assert totp.accepted_step(secret, totp.code_at(secret, s), now, s) is None  # used
    assert totp.accepted_step(secret, totp.code_at(secret, s + 1), now, s) == s + 1
    assert totp.accepted_step(secret, totp.code_at(secret, s - 1), now, s - 1) is None


def test_a_secret_is_160_random_bits() -> None:
    secrets = {totp.new_secret() for _ in range(100)}
    assert len(secrets) == 100
    assert all(len(base64.b32decode(s)) == 20 for s in secrets)
