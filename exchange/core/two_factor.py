"""Two-factor login state: each user's TOTP secret, whether it is on, and the last step used.

The core keeps the facts and nothing else: the server generates the secret, checks the
codes against its clock (``exchange.server.totp``) and records each change as a
``two_factor`` command record, so that replay rebuilds exactly this table. A user appears
here from the first set-up until two-factor login is turned off again.

Kept out of the compiled modules: nothing on the order path reads it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TwoFactorState:
    """One user's two-factor login.

    * ``secret``: the shared TOTP key, base32 (RFC 4648, no padding), as the user's
      authenticator app holds it;
    * ``enabled``: logins need a code. False between ``otp_setup`` and ``otp_enable``,
      so that a setup the user never confirms locks nobody out;
    * ``last_step``: the 30-second step of the last code accepted (enabling, a login,
      or 0 for none): a code of that step or an earlier one is never accepted again.
    """

    secret: str
    enabled: bool
    last_step: int


class TwoFactorBook:
    """Every user's :class:`TwoFactorState` (users without one have two-factor off)."""

    __slots__ = ("by_user",)

    def __init__(self) -> None:
        self.by_user: dict[str, TwoFactorState] = {}

    def get(self, user: str) -> TwoFactorState | None:
        return self.by_user.get(user)

    def set(self, user: str, secret: str, enabled: bool, last_step: int) -> None:
        """The user's state from now on; an empty ``secret`` turns two-factor off."""
        if not secret:
            self.by_user.pop(user, None)
        else:
            self.by_user[user] = TwoFactorState(secret, enabled, last_step)

    def enabled_users(self) -> int:
        """How many users have two-factor login on."""
        return sum(1 for s in self.by_user.values() if s.enabled)
