"""scripts/market_maker.py against a spawned server: a two-sided book, fills, clean exit."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from decimal import Decimal
from typing import Any

from tests.scripts.conftest import ROOT, SCRIPTS


def test_quotes_both_sides_and_cleans_up(server: Any, lines: Any) -> None:
    mm = subprocess.Popen(
        [sys.executable, str(SCRIPTS / "market_maker.py"), "--port", str(server.port),
         "--interval", "0.2", "--seed", "7"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert mm.stdout is not None
        ready = mm.stdout.readline()  # printed once the first quotes are acknowledged
        assert ready.startswith("market_maker: quoting AAPL, MSFT, TSLA, BTC-USD, ETH-USD")
        time.sleep(2.0)  # let it re-quote a few times
        conn = lines()
        for symbol in ("AAPL", "MSFT", "TSLA", "BTC-USD", "ETH-USD"):
            book = conn.ask(f"book {symbol}")
            assert book["bids"] and book["asks"], book
            assert Decimal(book["bids"][0][0]) < Decimal(book["asks"][0][0])
        book = conn.ask("book AAPL")
        limit = Decimal(book["asks"][0][0]) + 1  # well through the best ask, should it move
        # Someone takes the best ask: the maker is filled and quotes again.
        assert conn.ask("login alice alice-token")["type"] == "welcome"
        taken = conn.ask(f"buy AAPL 1 @ {limit} ioc")
        assert taken["type"] == "accepted" and taken["fills"], taken
        time.sleep(0.5)
        book = conn.ask("book AAPL")
        assert book["bids"] and book["asks"]
    finally:
        mm.send_signal(signal.SIGINT)
        out, err = mm.communicate(timeout=30)
    assert mm.returncode == 0, err
    assert "market_maker:" in out and "fills" in out and "placed" in out
    assert "AAPL -1" in out  # its net position: it sold the one share alice bought
    book = lines().ask("book AAPL")
    assert book["bids"] == [] and book["asks"] == []  # its quotes were canceled at exit
