"""The server's limits as the client reports them: retryable errors, the session intact."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from client import Pong, RateLimitedError
from tests.client.conftest import ServerProcess, connect, start_server


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = start_server(tmp_path, extra="[limits]\nrate = 5\n")
    yield proc
    proc.stop()


async def test_rate_limited_requests_raise_and_the_session_survives(
    limited: ServerProcess,
) -> None:
    async with connect(limited, "alice") as c:
        results = await asyncio.gather(*(c.ping() for _ in range(40)), return_exceptions=True)
        refused = [res for res in results if isinstance(res, RateLimitedError)]
        assert refused and all(err.code == "rate_limited" for err in refused)
        assert all(isinstance(res, Pong | RateLimitedError) for res in results)
        # A retry with backoff gets through once the bucket refills.
        for attempt in range(50):
            try:
                assert isinstance(await c.ping(), Pong)
                break
            except RateLimitedError:
                await asyncio.sleep(0.05 * (attempt + 1))
        else:
            pytest.fail("never got through")
