"""The front-end registry, in a real server: listeners started by front-end name, each
in front of the same gateway; an unknown name is refused before anything starts."""

from __future__ import annotations

import asyncio
import gc
import json

import pytest

from exchange.server.config import demo_config
from exchange.server.frontends import FRONTENDS, Listener, frontend
from exchange.server.server import ExchangeServer


async def ask(port: int, lines: bytes) -> list[dict[str, object]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(lines)
    writer.write_eof()
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return [json.loads(line) for line in data.splitlines()]


async def test_two_listeners_serve_one_exchange() -> None:
    threshold = gc.get_threshold()
    server = ExchangeServer(demo_config(), listeners=[Listener("lines", "127.0.0.1", 0),
                                                      Listener("lines", "127.0.0.1", 0)])
    await server.start()
    try:
        (_, first), (_, second) = server.bound
        assert first != second and server.port == first
        placed = await ask(first, b'login alice alice-token\n'
                                  b'{"op":"place","symbol":"AAPL","side":"buy","qty":"1",'
                                  b'"price":"150","ref":"p"}\n')
        assert [(r["type"], r.get("ref")) for r in placed] == [("welcome", None),
                                                               ("accepted", "p")]
        order_id = placed[1]["order"]["order_id"]  # type: ignore[index]
        seen = await ask(second, b'login alice alice-token\n{"op":"orders","ref":9}\n')
        assert seen[1]["ref"] == 9
        assert [o["order_id"] for o in seen[1]["orders"]] == [order_id]  # type: ignore[attr-defined]
        assert server.gateway.counters["sessions_opened"] == 2
    finally:
        await server.shutdown()
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_an_unknown_frontend_is_refused_before_anything_starts() -> None:
    assert "lines" in FRONTENDS and callable(frontend("lines"))
    with pytest.raises(KeyError):
        ExchangeServer(demo_config(), listeners=[Listener("smoke-signals")])
