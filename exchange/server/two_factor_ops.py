"""Two-factor login: ``otp_setup``, ``otp_enable``, ``otp_disable``, and the code a login
of a user who turned it on must carry.

The secret is made here (:func:`exchange.server.totp.new_secret`) and every change is a
``two_factor`` command record, journaled before it is applied like a deposit, so a
restart on the same data directory keeps who has two-factor login on, with which secret
and which step was used last (a code seen once stays spent across a restart). The
secret leaves the server in one message only, the ``otp_setup`` reply: it is never
logged, counted in ``stats`` or repeated in any other reply.

A wrong code, at a login or in ``otp_enable``/``otp_disable``, is a failed login for the
throttle of :mod:`exchange.server.auth` (per connection and per user name), so that six
digits cannot be guessed faster than a token.

Which front-ends ask for the code (PROTOCOL.md, "Two-factor login"): JSON lines and text
in ``login``'s ``otp`` (or appended to the token); FIX appended to Password(554), the
only secret field its Logon has; the HTTP front-end's API keys are credentials of their
own, a key and an HMAC secret checked on every request, and need no code
(``SessionPort.second_factor``).
"""

from __future__ import annotations

import logging
from typing import Final

from exchange.core import commands as C
from exchange.core.results import CommandError
from exchange.core.two_factor import TwoFactorState
from exchange.server import totp
from exchange.server.auth import ConnectionLogins, LoginThrottle
from exchange.server.gateway_base import GatewayCore
from exchange.server.port import SessionPort
from exchange.server.views import now_us
from protocol import messages as M
from protocol import replies as R
from protocol.fields import OTP_DIGITS

log = logging.getLogger("exchange.gateway")

DEFAULT_ISSUER: Final = "Exchange"
"""The issuer an authenticator app shows beside the user, unless ``[market] name`` says."""


class TwoFactorOps(GatewayCore):
    """The two-factor ops, and the second factor of a login."""

    login_throttle: LoginThrottle
    _login_conns: dict[int, ConnectionLogins]
    issuer: str = DEFAULT_ISSUER
    """The provisioning URI's issuer: the exchange's name (``[market] name``)."""

    # -- login ------------------------------------------------------------------------------
    def login_factors(self, msg: M.Login) -> tuple[str, str | None]:
        """The token and the one-time code a login gives.

        A client with a single secret field (FIX's Password(554)) appends the code to the
        token: for a user with two-factor login on and no ``otp``, a token ending in six
        digits is read as the token, then the code."""
        token, code = msg.token, msg.otp
        state = self.exchange.two_factor_of(msg.user)
        if (code is None and state is not None and state.enabled
                and len(token) > OTP_DIGITS and token[-OTP_DIGITS:].isascii()
                and token[-OTP_DIGITS:].isdigit()):
            token, code = token[:-OTP_DIGITS], token[-OTP_DIGITS:]
        return token, code

    def second_factor_ok(self, session: SessionPort, user: str, code: str | None) -> bool:
        """Whether a login whose token was right may go on: the user has two-factor
        login off, the session's front-end checked a second credential of its own, or
        ``code`` is a current code not used before (then its step is recorded as used)."""
        state = self.exchange.two_factor_of(user)
        if state is None or not state.enabled or session.second_factor:
            return True
        if code is None:
            return False
        step = totp.accepted_step(state.secret, code, now_us(), state.last_step)
        if step is None:
            return False
        self._record_two_factor(user, state.secret, True, step)
        return True

    # -- the ops ---------------------------------------------------------------------------
    def on_otp_setup(self, session: SessionPort, msg: M.OtpSetup) -> None:
        def work() -> R.ReplyBase:
            user = session.user or ""
            state = self.exchange.two_factor_of(user)
            if state is not None and state.enabled:
                raise CommandError("bad_state", "op: two-factor login is on already; turn it "
                                   "off first (otp_disable CODE)")
            secret = totp.new_secret()
            # Not enabled yet: a setup the user never confirms with a code locks no one out.
            self._record_two_factor(user, secret, False, 0)
            log.info("session %d (%r): two-factor secret set up, not yet enabled",
                     session.id, user)
            return R.OtpSetupReply(secret=secret,
                                   uri=totp.provisioning_uri(secret, user, self.issuer),
                                   digits=totp.DIGITS, period=totp.PERIOD)
        self._local(session, msg, work, login=True, mutates=True)

    def on_otp_enable(self, session: SessionPort, msg: M.OtpEnable) -> None:
        def work() -> R.ReplyBase:
            user = session.user or ""
            state = self.exchange.two_factor_of(user)
            if state is None:
                raise CommandError("bad_state", "code: no two-factor secret is set up; "
                                   "otp_setup first")
            if state.enabled:
                raise CommandError("bad_state", "op: two-factor login is on already")
            step = self._checked_code(session, user, state, msg.code)
            self._record_two_factor(user, state.secret, True, step)
            log.info("session %d (%r): two-factor login enabled", session.id, user)
            return R.OtpEnabled()
        self._local(session, msg, work, login=True, mutates=True)

    def on_otp_disable(self, session: SessionPort, msg: M.OtpDisable) -> None:
        def work() -> R.ReplyBase:
            user = session.user or ""
            state = self.exchange.two_factor_of(user)
            if state is None or not state.enabled:
                raise CommandError("bad_state", "op: two-factor login is not on")
            self._checked_code(session, user, state, msg.code)
            self._record_two_factor(user, "", False, 0)
            log.info("session %d (%r): two-factor login disabled", session.id, user)
            return R.OtpDisabled()
        self._local(session, msg, work, login=True, mutates=True)

    # -- helpers -----------------------------------------------------------------------------
    def _checked_code(self, session: SessionPort, user: str, state: TwoFactorState,
                      code: str) -> int:
        """The step of ``code``, a current and unused code of ``state``'s secret; a wrong
        one is ``auth_failed`` and a failed login for the throttle."""
        assert self.loop is not None
        throttle = self.login_throttle
        now = self.loop.time()
        locked = throttle.locked(user, now)
        if locked > 0:
            raise CommandError("auth_failed", "code: too many failed logins for this user; "
                               f"try again in {int(locked) + 1} s")
        step = totp.accepted_step(state.secret, code, now_us(), state.last_step)
        if step is not None:
            return step
        conn = self._login_conns.setdefault(session.id, ConnectionLogins())
        closing = throttle.failed(conn, user, now)
        log.warning("wrong two-factor code for user %r from %s (session %d, failure %d on "
                    "this connection)%s", user, session.peer, session.id, conn.failures,
                    "; closing the connection" if closing else "")
        why = ("code: not a current one-time code of the secret (or one used already); "
               "check the clock of the device")
        if closing:
            session.end_input()
            session.close_after_flush()
            why += "; too many failed logins, closing the connection"
        raise CommandError("auth_failed", why)

    def _record_two_factor(self, user: str, secret: str, enabled: bool, last_step: int) -> None:
        """Journal, then apply, the user's two-factor state from now on."""
        cmd = C.TwoFactor(now_us(), user, secret, enabled, last_step)
        self.record(cmd)
        self.exchange.apply(cmd)
