"""The live web page in a real browser: Debian's Chromium, headless, driven by Playwright.

While the demo market maker quotes AAPL and a taker trades against it over REST, the page
must show the ladder, the trades and the candles changing without a reload; a user who
enters a key and secret places an order from the page and cancels it; and a screenshot
of the chart must show drawn candles (pixels of the candle colours)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from PIL import Image
from playwright.async_api import Page, async_playwright

from tests.server.conftest import Server
from tests.server.http_wire import Http

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
UP = (0x4C, 0xAF, 0x7D)  # the page's candle colours (static/app.js)
DOWN = (0xE2, 0x5C, 0x5C)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def market_maker(hserver: Server, tmp_path: Path) -> subprocess.Popen[bytes]:
    """The demo market maker quoting AAPL as carol, until the test ends."""
    log = open(tmp_path / "mm.log", "wb")  # noqa: SIM115 -- closed below
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "market_maker.py"), "--host", hserver.addr[0],
         "--port", str(hserver.addr[1]), "--user", "carol", "--symbols", "AAPL",
         "--interval", "0.2", "--levels", "4", "--duration", "120"],
        stdout=subprocess.PIPE, stderr=log, cwd=ROOT)
    assert proc.stdout is not None
    proc.stdout.readline()  # its first quotes are up
    yield proc  # type: ignore[misc]
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        log.close()


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield await browser.new_page(viewport={"width": 1400, "height": 800})
        finally:
            await browser.close()


def shows(page: Page, selector: str, text: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await page.locator(selector).inner_text() == text
    return check


async def rows(page: Page, table: str) -> list[str]:
    return await page.locator(f"#{table} tbody tr").all_inner_texts()


async def eventually(check: Callable[[], Awaitable[bool]], what: str,
                     timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"the page did not show {what} within {timeout} s")
        await asyncio.sleep(0.1)


def candle_pixels(png: bytes) -> tuple[int, int]:
    data = Image.open(io.BytesIO(png)).convert("RGB").tobytes()
    up = down = 0
    for i in range(0, len(data), 3):
        pixel = data[i:i + 3]
        if all(abs(a - b) <= 8 for a, b in zip(pixel, UP, strict=True)):
            up += 1
        elif all(abs(a - b) <= 8 for a, b in zip(pixel, DOWN, strict=True)):
            down += 1
    return up, down


async def test_the_page_shows_the_market_and_trades(
        hserver: Server, market_maker: subprocess.Popen[bytes], page: Page,
        tmp_path: Path) -> None:
    host, port = hserver.others["http"]
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"http://{host}:{port}/?symbol=AAPLUSD")
    await eventually(shows(page, "#conn", "live"), "a live stream")

    async def ladder_full() -> bool:
        return len(await rows(page, "ladder")) >= 8  # the maker's 4 levels a side
    await eventually(ladder_full, "the maker's quotes in the ladder")
    first_ladder = await rows(page, "ladder")
    assert await rows(page, "trades") == []
    assert candle_pixels(await page.locator("#chart").screenshot()) == (0, 0)  # no trade yet

    async with aiohttp.ClientSession() as client:
        taker = Http(client, (host, port), "dave")
        for i in range(6):  # trades against the maker, both ways
            status, body = await taker.order("AAPLUSD", "BUY" if i % 2 else "SELL", "2",
                                             type="MARKET")
            assert status == 200 and body["status"] == "FILLED", body

        async def six_trades() -> bool:
            return len(await rows(page, "trades")) >= 6
        await eventually(six_trades, "six trades")
        _, rest = await taker.get("/api/v3/trades", symbol="AAPLUSD")
        shown = [r.split("\t")[1] for r in await rows(page, "trades")][:6]
        assert shown == [t["price"] for t in reversed(rest)][:6]

        async def ladder_moved() -> bool:
            return await rows(page, "ladder") != first_ladder
        await eventually(ladder_moved, "a changed ladder")
        quote = await page.locator("#quote").inner_text()
        assert quote.startswith("bid ") and " ask " in quote

        # Order entry and cancel for a user who gives a key and secret.
        await page.fill("#key", "alice-key")
        await page.fill("#secret", "alice-secret")
        await page.click("#connect")
        await page.wait_for_selector("#entry:not([hidden])")
        assert "USD" in await page.locator("#balance").inner_text()
        await page.select_option("#side", "BUY")
        await page.fill("#qty", "3")
        await page.fill("#price", "140.00")
        await page.click("#place")
        await page.wait_for_selector("#orders tbody tr")
        order_id = int(await page.locator("#orders tbody tr").get_attribute("data-order") or 0)
        alice = Http(client, (host, port), "alice")
        _, order = await alice.signed("GET", "/api/v3/order", symbol="AAPLUSD",
                                      orderId=order_id)
        assert (order["status"], order["price"], order["origQty"]) == ("NEW", "140.00", "3")
        assert "held 420" in await page.locator("#balance").inner_text()
        await page.click("#orders tbody tr button.cancel")
        await page.wait_for_selector("#orders tbody tr", state="detached")
        _, order = await alice.signed("GET", "/api/v3/order", symbol="AAPLUSD",
                                      orderId=order_id)
        assert order["status"] == "CANCELED"
        assert f"order {order_id}: CANCELED" in await page.locator("#message").inner_text()
        # A refusal is shown, not thrown away.
        await page.fill("#price", "140.001")
        await page.click("#place")
        await eventually(shows(page, "#message", "-1013: Filter failure: PRICE_FILTER"),
                         "the refusal")

    # The candle chart has drawn the trades: its pixels have the candle colours.
    shot = await page.locator("#chart").screenshot(path=str(tmp_path / "chart.png"))
    await page.screenshot(path=str(tmp_path / "page.png"))
    up, down = candle_pixels(shot)
    assert up + down > 100, (up, down)
    assert errors == []
