"""The `exchange` command: its subcommands, and the tools it runs from scripts/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "exchange", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=60)


def test_help_lists_every_subcommand() -> None:
    result = run("--help")
    assert result.returncode == 0
    for word in ("serve", "inspect", "loadgen", "market-maker", "watch"):
        assert word in result.stdout


def test_tools_receive_their_own_arguments() -> None:
    # --help reaches the tool's own parser, not the exchange command's.
    result = run("loadgen", "--help")
    assert result.returncode == 0
    assert "--window" in result.stdout and "--rate" in result.stdout
    result = run("market-maker", "--help")
    assert result.returncode == 0 and "--interval" in result.stdout


def test_inspect_of_an_empty_directory(tmp_path: Path) -> None:
    result = run("inspect", str(tmp_path))
    assert result.returncode == 0
    assert "last record: none" in result.stdout


def test_bad_config_names_the_field(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[[symbols]]\nsymbol = "X"\ntick_size = "0.01"\nlot_size = "1"\nfoo = 1\n')
    result = run("serve", "--port", "0", "--config", str(config))
    assert result.returncode == 2
    assert "foo" in result.stderr and "symbols[0]" in result.stderr
