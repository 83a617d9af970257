"""scripts/loadgen.py end to end: it spawns its own server, runs, and reports."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from tests.scripts.conftest import ROOT, SCRIPTS

LOADGEN = str(SCRIPTS / "loadgen.py")


def run_loadgen(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, LOADGEN, "--no-progress", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_closed_loop_against_a_spawned_server(tmp_path: Path) -> None:
    out, png = tmp_path / "result.json", tmp_path / "latency.png"
    proc = run_loadgen("--orders", "3000", "--sessions", "2", "--window", "16",
                       "--json", str(out), "--plot", str(png))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["mode"] == "closed"
    assert result["server"]["spawned"] is True
    assert result["orders_sent"] == 3000
    assert result["replies"] == 3000 and result["lost"] == 0
    assert result["throughput"] > 0
    assert result["accepted"] > 0
    assert set(result["sent_by_op"]) == {"place", "cancel", "modify"}
    assert not result["rejected"], result["rejected"]  # the flow stays valid
    assert set(result["errors"]) <= {"not_live"}  # only cancels racing fills
    assert result["fills"] > 0
    lat = result["latency_us"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99.9"] <= lat["max"]
    assert "throughput" in proc.stdout and "p99.9" in proc.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_open_loop_with_a_data_dir(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    proc = run_loadgen("--rate", "400", "--duration", "1.5", "--sessions", "1",
                       "--symbols", "AAPL,BTC-USD", "--data-dir", str(tmp_path / "data"),
                       "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["mode"] == "open" and result["rate"] == 400
    assert result["accepted"] > 0 and result["throughput"] > 0
    assert result["replies"] == result["orders_sent"] > 0
    assert any((tmp_path / "data").iterdir())  # the server journaled there


def test_unreachable_server_is_an_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free, and nobody listens once closed
    proc = run_loadgen("--port", str(port), "--orders", "10", timeout=60)
    assert proc.returncode == 2
    assert "cannot connect" in proc.stderr
