"""Build hook: compile the core's order path with mypyc when a C compiler is present.

Everything else about the project is in ``pyproject.toml``. The compiled modules are
listed in ``exchange/core/loader.py`` (which also explains how a process chooses between
the compiled and the Python build). No compiler, a failed compile, or
``EXCHANGE_BUILD=python`` in the environment installs the Python build alone, which is
the same code, interpreted.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import sysconfig
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
CORE = ROOT / "exchange" / "core"


def _loader() -> Any:
    """``exchange/core/loader.py`` by path: the package's dependencies need not be here."""
    spec = importlib.util.spec_from_file_location("_exchange_core_loader", CORE / "loader.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _say(message: str) -> None:
    print(f"exchange build: {message}", file=sys.stderr)


def _has_compiler() -> bool:
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc) is not None or shutil.which("cc") is not None


def _extensions() -> list[Any]:
    if os.environ.get("EXCHANGE_BUILD", "") == "python":
        _say("EXCHANGE_BUILD=python: the Python build only")
        return []
    if not _has_compiler():
        _say("no C compiler found: the Python build only")
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        _say("mypyc is not installed: the Python build only")
        return []
    loader = _loader()
    paths = [f"exchange/core/{name}.py" for name in loader.COMPILED_MODULES]
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        return list(mypycify(paths, opt_level="3", group_name="exchange.core._native"))
    except Exception as exc:  # a type error mypyc refuses: install what runs anyway
        _say(f"mypyc failed ({exc}): the Python build only")
        return []
    finally:
        os.chdir(cwd)


class BuildCompiledCore(build_ext):
    """Builds the compiled core, or nothing if the compiler fails, and writes its manifest.

    The manifest (the digest of the sources compiled) lets a process tell a fresh
    compiled build from one left behind by sources edited since (an editable install)."""

    def run(self) -> None:
        if not self.extensions:
            return
        try:
            super().run()
        except Exception as exc:  # no headers, a broken compiler: the Python build runs
            _say(f"compiling the core failed ({exc}): the Python build only")
            return
        digest = _loader().source_digest(CORE)
        targets = [Path(self.build_lib) / "exchange" / "core"]
        if self.inplace or getattr(self, "editable_mode", False):
            targets.append(CORE)
        for target in targets:
            target.mkdir(parents=True, exist_ok=True)
            (target / "_compiled.txt").write_text(digest + "\n")
        _say(f"compiled core built ({len(self.extensions)} extension modules)")

    def get_outputs(self) -> list[str]:
        outputs: list[str] = super().get_outputs()
        return [*outputs, str(Path(self.build_lib) / "exchange" / "core" / "_compiled.txt")]


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildCompiledCore})
