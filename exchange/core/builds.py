"""Which build of the core to run: the registry of :class:`~exchange.core.interface.Engine`
implementations.

``EXCHANGE_ENGINE`` names the build: ``python`` (this package's code, interpreted) or
``compiled`` (the same code compiled with mypyc at install time); unset, the compiled
build when it is installed and fresh, else the Python one. The two share module names,
so one process runs one of them, chosen when :mod:`exchange.core` is first imported
(:mod:`exchange.core.loader`). The server builds its exchange through
:func:`engine_factory`, and so does the core's test suite, so every build runs through
the very same tests with ``EXCHANGE_ENGINE=<name> pytest tests/core``.
"""

from __future__ import annotations

import importlib
import os

from exchange.core import BUILD
from exchange.core.interface import EngineFactory

BUILDS: dict[str, str] = {
    "python": "exchange.core.engine:Exchange",
    "compiled": "exchange.core.engine:Exchange",
}
"""Build name -> ``module:attribute`` of its factory (the two differ in how the module
was loaded, not in its name)."""


def active_build() -> str:
    """The build this process runs: ``python`` or ``compiled``."""
    return BUILD


def engine_factory(name: str | None = None) -> EngineFactory:
    """The factory of the named build, else of ``$EXCHANGE_ENGINE``, else the running one.

    Naming a build other than the one this process loaded is an error: the choice was
    made at start-up and cannot change in a running process."""
    name = name or os.environ.get("EXCHANGE_ENGINE") or BUILD
    target = BUILDS.get(name)
    if target is None:
        raise ValueError(f"EXCHANGE_ENGINE: unknown build {name!r} "
                         f"(known: {', '.join(sorted(BUILDS))})")
    if name != BUILD:
        raise ValueError(f"EXCHANGE_ENGINE: this process runs the {BUILD} build, not {name!r} "
                         "(the build is chosen when the process starts)")
    module, _, attr = target.partition(":")
    factory: EngineFactory = getattr(importlib.import_module(module), attr)
    return factory
