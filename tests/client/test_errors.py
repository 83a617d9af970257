"""The exception hierarchy: one base, builtin bases where they help, a class per code."""

from __future__ import annotations

import pytest

import client
from client import (
    ConnectFailed,
    ConnectionClosed,
    ExchangeError,
    InsufficientFundsError,
    InvalidRequest,
    RequestTimeout,
    ServerError,
)
from protocol.errors import ERROR_CODES
from protocol.replies import Error


def test_builtin_bases() -> None:
    assert issubclass(ConnectionClosed, ExchangeError)
    assert issubclass(ConnectionClosed, ConnectionError)
    assert issubclass(ConnectFailed, ConnectionClosed)
    assert issubclass(RequestTimeout, ExchangeError)
    assert issubclass(RequestTimeout, TimeoutError)
    assert issubclass(InvalidRequest, ValueError)
    assert issubclass(ServerError, ExchangeError)


@pytest.mark.parametrize("code", sorted(ERROR_CODES))
def test_every_error_code_has_its_subclass(code: str) -> None:
    error = ServerError.from_reply(Error(code=code, message="at `$.qty`", ref=7))  # type: ignore[arg-type]
    assert type(error) is not ServerError
    assert type(error).code_name == code
    assert (error.code, error.message, error.ref) == (code, "at `$.qty`", 7)
    assert type(error).__name__ in client.__all__


def test_unknown_code_falls_back_to_the_base_class() -> None:
    # A code newer than this client still raises, as the base class.
    error = ServerError.from_reply(Error(code="new_code", message="m"))  # type: ignore[arg-type]
    assert type(error) is ServerError
    assert error.code == "new_code"


def test_subclass_is_catchable_by_code_class() -> None:
    with pytest.raises(InsufficientFundsError) as info:
        raise ServerError.from_reply(
            Error(code="insufficient_funds", message="reserved cash", ref=None)
        )
    assert info.value.code == "insufficient_funds"
