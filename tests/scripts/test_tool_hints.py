"""Without the tools extra, watch and loadgen say exactly what to install (and exit)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _run_without(module: str, script: str, *argv: str) -> subprocess.CompletedProcess[str]:
    code = (f"import sys, runpy; sys.modules[{module!r}] = None; "
            f"sys.argv = [{script!r}, *{list(argv)!r}]; "
            f"runpy.run_path({str(SCRIPTS / script)!r}, run_name='__main__')")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.mark.parametrize(("module", "script", "tool"), [
    ("rich", "watch.py", "watch"), ("rich", "loadgen.py", "loadgen"),
    ("hdrh", "loadgen.py", "loadgen"),
])
def test_missing_tools_extra_says_what_to_install(module: str, script: str, tool: str) -> None:
    done = _run_without(module, script, "AAPL") if tool == "watch" else _run_without(
        module, script)
    assert done.returncode != 0
    assert f"exchange {tool} needs the tools extra" in done.stderr
    assert "pip install -e '.[tools]'" in done.stderr


def test_plot_without_matplotlib_says_what_to_install_before_any_load() -> None:
    done = _run_without("matplotlib", "loadgen.py", "--plot", "out.png", "--orders", "10")
    assert done.returncode == 2
    assert "pip install -e '.[plot]'" in done.stderr
    assert "spawned server" not in done.stderr
