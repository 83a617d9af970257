"""One exception hierarchy for everything the client can raise.

```
ExchangeError
+-- ConnectionClosed            (also a builtin ConnectionError)
|   +-- ConnectFailed           the connection could not be opened
+-- RequestTimeout              (also a builtin TimeoutError)
+-- InvalidRequest              (also a ValueError) refused before anything was sent
+-- ProtocolViolation           the server sent something the protocol does not allow
+-- ServerError                 the server answered {"type": "error"}; one subclass per code
```

I/O errors (`OSError`, EOF) are translated where they happen, in `client.connection`, so a
caller never has to catch socket exceptions: losing the connection is `ConnectionClosed`,
whatever the operating system called it. The original exception is kept as `__cause__`.

A rejected order is not an exception: `place` returns a `Rejected` reply, because a reject
is an ordinary trading outcome with an order id the server remembers.
"""

from __future__ import annotations

from typing import Final

from protocol.errors import ErrorCode
from protocol.replies import Error

__all__ = [
    "AuthFailedError",
    "AuthRequiredError",
    "BadJsonError",
    "BadRequestError",
    "BadStateError",
    "ConnectFailed",
    "ConnectionClosed",
    "ExchangeError",
    "ForbiddenError",
    "InsufficientFundsError",
    "InsufficientHoldingsError",
    "InvalidRequest",
    "LineTooLongError",
    "NotLiveError",
    "ProtocolViolation",
    "RateLimitedError",
    "RequestTimeout",
    "ServerBusyError",
    "ServerError",
    "UnknownOpError",
    "UnknownOrderError",
    "UnknownSymbolError",
]


class ExchangeError(Exception):
    """Base class of every exception the client raises on purpose."""


class ConnectionClosed(ExchangeError, ConnectionError):
    """The connection is gone: lost, closed by the server, or closed by this client.

    A request that was in flight when the connection was lost fails with this error; whether
    the server acted on it is unknown. Re-sending a `place` with the same `client_order_id`
    is safe: the server answers with the existing order and `duplicate=True`.
    """


class ConnectFailed(ConnectionClosed):
    """The connection could not be opened (refused, unreachable, or too slow)."""


class RequestTimeout(ExchangeError, TimeoutError):
    """No reply within the request's timeout. The late reply, if any, is discarded."""


class InvalidRequest(ExchangeError, ValueError):
    """The arguments do not make a valid request; nothing was sent.

    The message is the protocol's own validation message, naming the field at fault.
    """


class ProtocolViolation(ExchangeError):
    """The server sent a line that is not a valid message, or the wrong reply type."""


class ServerError(ExchangeError):
    """The server answered a request with `{"type": "error"}`.

    `code` is the protocol's error code, `message` the server's explanation (it names the
    field at fault), `ref` the request's ref. Each code has its own subclass, so
    `except InsufficientFundsError:` works as well as checking `err.code`.
    """

    code_name: str = ""
    """The code this subclass stands for (empty on the base class)."""

    def __init__(self, code: str, message: str, ref: str | int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.ref = ref

    @staticmethod
    def from_reply(reply: Error) -> ServerError:
        """The exception for an `error` reply: the subclass for its code."""
        cls = _BY_CODE.get(reply.code, ServerError)
        return cls(reply.code, reply.message, reply.ref)


def _code(code: ErrorCode) -> str:
    return code


class BadJsonError(ServerError):
    code_name = _code("bad_json")


class BadRequestError(ServerError):
    code_name = _code("bad_request")


class UnknownOpError(ServerError):
    code_name = _code("unknown_op")


class LineTooLongError(ServerError):
    code_name = _code("line_too_long")


class AuthRequiredError(ServerError):
    code_name = _code("auth_required")


class AuthFailedError(ServerError):
    code_name = _code("auth_failed")


class ForbiddenError(ServerError):
    code_name = _code("forbidden")


class UnknownSymbolError(ServerError):
    code_name = _code("unknown_symbol")


class UnknownOrderError(ServerError):
    code_name = _code("unknown_order")


class NotLiveError(ServerError):
    code_name = _code("not_live")


class BadStateError(ServerError):
    code_name = _code("bad_state")


class InsufficientFundsError(ServerError):
    code_name = _code("insufficient_funds")


class InsufficientHoldingsError(ServerError):
    code_name = _code("insufficient_holdings")


class RateLimitedError(ServerError):
    """Too many requests per second on this session; retry later."""

    code_name = _code("rate_limited")


class ServerBusyError(ServerError):
    """The server is overloaded; retry later."""

    code_name = _code("server_busy")


_BY_CODE: Final[dict[str, type[ServerError]]] = {
    cls.code_name: cls for cls in ServerError.__subclasses__()
}
