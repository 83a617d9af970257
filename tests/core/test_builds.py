"""The build registry: which implementation of the core interface the suite runs over."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from exchange.core import BUILD
from exchange.core.builds import BUILDS, active_build, engine_factory
from exchange.core.engine import Exchange
from exchange.core.loader import COMPILED_MODULES, compiled_state, loaded_build
from exchange.core.symbols import SymbolSpec
from tests.core.helpers import make_exchange


def test_the_running_build_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXCHANGE_ENGINE", raising=False)
    assert engine_factory() is Exchange
    assert engine_factory(active_build()) is Exchange
    assert {"python", "compiled"} <= set(BUILDS)


def test_the_build_running_is_the_one_loaded() -> None:
    """``BUILD`` says what was chosen; the modules say what was loaded: they agree."""
    assert active_build() == BUILD == loaded_build()
    for name in COMPILED_MODULES:
        module = sys.modules.get(f"exchange.core.{name}")
        if module is not None:
            assert module.__file__ is not None
            assert module.__file__.endswith(".py") == (BUILD == "python"), name


def test_the_default_is_compiled_when_it_is_installed_and_fresh() -> None:
    if os.environ.get("EXCHANGE_ENGINE"):
        assert active_build() == os.environ["EXCHANGE_ENGINE"]
    else:
        assert active_build() == ("compiled" if compiled_state() is None else "python")


def test_the_other_build_cannot_be_asked_of_a_running_process() -> None:
    other = "python" if BUILD == "compiled" else "compiled"
    with pytest.raises(ValueError, match=f"this process runs the {BUILD} build"):
        engine_factory(other)


def test_the_python_build_loads_the_sources_whatever_is_installed() -> None:
    code = ("import exchange.core as c, exchange.core.engine as e, exchange.core.book as b;"
            "print(c.BUILD, e.__file__.endswith('.py'), b.__file__.endswith('.py'))")
    env = {**os.environ, "EXCHANGE_ENGINE": "python"}
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    assert out == ["python", "True", "True"]


def test_the_environment_names_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXCHANGE_ENGINE", "no-such-build")
    with pytest.raises(ValueError, match="EXCHANGE_ENGINE: unknown build 'no-such-build'"):
        engine_factory()
    with pytest.raises(ValueError, match="EXCHANGE_ENGINE"):
        make_exchange()  # the core suite builds its exchanges through the registry


def test_a_build_is_made_from_specs_and_a_bound() -> None:
    ex = engine_factory()([SymbolSpec.create("X", "0.01", "1")], max_open_orders=2)
    assert ex.symbols() == ["X"] and ex.max_open_orders == 2
