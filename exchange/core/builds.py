"""Which build of the core to run: the registry of :class:`~exchange.core.interface.Engine`
implementations.

``EXCHANGE_ENGINE`` names the build (default ``python``, this package's code). The
server builds its exchange through :func:`engine_factory`, and so does the core's test
suite, so a second build (compiled, say) registered here runs through the very same
tests with ``EXCHANGE_ENGINE=<name> pytest tests/core``.
"""

from __future__ import annotations

import importlib
import os

from exchange.core.interface import EngineFactory

BUILDS: dict[str, str] = {
    "python": "exchange.core.engine:Exchange",
}
"""Build name -> ``module:attribute`` of its factory."""


def engine_factory(name: str | None = None) -> EngineFactory:
    """The factory of the named build, else of ``$EXCHANGE_ENGINE``, else ``python``."""
    name = name or os.environ.get("EXCHANGE_ENGINE") or "python"
    target = BUILDS.get(name)
    if target is None:
        raise ValueError(f"EXCHANGE_ENGINE: unknown build {name!r} "
                         f"(known: {', '.join(sorted(BUILDS))})")
    module, _, attr = target.partition(":")
    factory: EngineFactory = getattr(importlib.import_module(module), attr)
    return factory
