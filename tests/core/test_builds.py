"""The build registry: which implementation of the core interface the suite runs over."""

from __future__ import annotations

import pytest

from exchange.core.builds import BUILDS, engine_factory
from exchange.core.engine import Exchange
from exchange.core.symbols import SymbolSpec
from tests.core.helpers import make_exchange


def test_the_python_build_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXCHANGE_ENGINE", raising=False)
    assert engine_factory() is Exchange
    assert engine_factory("python") is Exchange
    assert "python" in BUILDS


def test_the_environment_names_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXCHANGE_ENGINE", "no-such-build")
    with pytest.raises(ValueError, match="EXCHANGE_ENGINE: unknown build 'no-such-build'"):
        engine_factory()
    with pytest.raises(ValueError, match="EXCHANGE_ENGINE"):
        make_exchange()  # the core suite builds its exchanges through the registry


def test_a_build_is_made_from_specs_and_a_bound() -> None:
    ex = engine_factory("python")([SymbolSpec.create("X", "0.01", "1")], max_open_orders=2)
    assert ex.symbols() == ["X"] and ex.max_open_orders == 2
