from __future__ import annotations

from collections.abc import Iterator

import pytest

from exchange.core.interface import Engine
from tests.core.helpers import make_exchange


@pytest.fixture
def ex() -> Iterator[Engine]:
    """A fresh exchange (AAPL and MSFT, tick 0.01, lot 1) with alice, bob and carol.

    The engine's own invariants are checked once more when the test is done, so every
    test that uses this fixture also checks them on the state it left behind.
    """
    exchange = make_exchange()
    yield exchange
    exchange.check_invariants()
