"""Which build of the core this process runs: chosen once, before any core module loads.

The core's order-path modules (:data:`COMPILED_MODULES`) are compiled with mypyc when
the project is installed on a machine with a C compiler (``setup.py``). The extension
modules are built in place of the sources they come from: ``exchange/core/book.py``
gets an ``exchange/core/book.<abi>.so`` beside it, and CPython's path finder, which
tries extension modules before source files, loads the compiled one. Both builds are
therefore in every compiled installation, under the same module names, and the server,
the snapshot code and the tests use whichever runs without knowing which it is.

``EXCHANGE_ENGINE`` picks the build when :mod:`exchange.core` is first imported:

* ``python``: an import hook at the front of ``sys.meta_path`` loads those modules from
  their ``.py`` sources, so the compiled files are never touched;
* ``compiled``: the compiled modules, or ``ImportError`` if they are missing or stale;
* unset (or any other name, which :mod:`exchange.core.builds` then refuses): compiled
  when it is installed and fresh, else the Python build.

*Fresh* means built from the sources that are there now. The build writes the digest
of the compiled modules' sources into :data:`MANIFEST`; an editable install whose
sources were edited since (``pip install -e .`` compiles once) runs the Python build
rather than stale machine code until it is built again.

One process runs one build: the choice is made before the first core module loads and
cannot change afterwards. The core's shared suite runs once per build, in two
processes (``.ci/run``). This module imports nothing but the standard library, because
``setup.py`` runs it too, before the project's dependencies are importable.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Final

COMPILED_MODULES: Final = (
    "accounts",
    "book",
    "engine",
    "historylog",
    "lifecycle",
    "marketdata",
    "matching",
    "orders",
    "pickling",
    "results",
    "risk",
    "store",
)
"""The modules of ``exchange.core`` that the compiled build compiles: the order path,
the risk part and the stores. The rest (commands, symbols, snapshots, the audit...) is
the same Python code in both builds."""

MANIFEST: Final = "_compiled.txt"
"""Written beside the compiled modules at build time: the digest of their sources."""

PACKAGE: Final = "exchange.core"
CORE_DIR: Final = Path(__file__).resolve().parent


def source_digest(core_dir: Path = CORE_DIR) -> str:
    """The digest of the compiled modules' sources, as the build and the check see them."""
    digest = hashlib.sha256()
    for name in COMPILED_MODULES:
        digest.update(name.encode())
        digest.update((core_dir / f"{name}.py").read_bytes())
    return digest.hexdigest()


def compiled_state(core_dir: Path = CORE_DIR) -> str | None:
    """Why the compiled build cannot run here, or None when it is installed and fresh."""
    suffixes = importlib.machinery.EXTENSION_SUFFIXES
    missing = [name for name in COMPILED_MODULES
               if not any((core_dir / f"{name}{s}").exists() for s in suffixes)]
    if missing:
        return "not installed (no C compiler at install time, or EXCHANGE_BUILD=python)"
    try:
        built = (core_dir / MANIFEST).read_text().strip()
    except OSError:
        return f"not installed ({MANIFEST} missing)"
    if built != source_digest(core_dir):
        return "stale: the sources changed since it was built (pip install -e . again)"
    return None


class _SourceFirst(importlib.abc.MetaPathFinder):
    """Loads the compiled modules' names from their ``.py`` sources (the Python build)."""

    def __init__(self, core_dir: Path) -> None:
        self.paths = {f"{PACKAGE}.{name}": core_dir / f"{name}.py"
                      for name in COMPILED_MODULES}

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        source = self.paths.get(fullname)
        if source is None:
            return None
        return importlib.util.spec_from_file_location(fullname, source)


def select(requested: str | None) -> tuple[str, str]:
    """Choose this process's build; returns its name and a note on why it was chosen.

    Called once, by ``exchange/core/__init__.py``, before any other core module loads.
    """
    problem = compiled_state()
    if requested == "compiled":
        if problem is not None:
            raise ImportError(f"EXCHANGE_ENGINE=compiled: the compiled core is {problem}")
        return "compiled", "EXCHANGE_ENGINE=compiled"
    if requested != "python" and problem is None:
        return "compiled", "the compiled core is installed"
    sys.meta_path.insert(0, _SourceFirst(CORE_DIR))
    if requested == "python":
        return "python", "EXCHANGE_ENGINE=python"
    return "python", f"the compiled core is {problem}"


def loaded_build() -> str:
    """The build whose modules this process has loaded (checked, not remembered)."""
    module = sys.modules.get(f"{PACKAGE}.engine")
    if module is None:
        module = importlib.import_module(f"{PACKAGE}.engine")
    origin = getattr(module, "__file__", "") or ""
    return "python" if origin.endswith(".py") else "compiled"

