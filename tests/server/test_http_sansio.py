"""The HTTP front-end's sans-IO parts: its session's answer order, the signature check,
Binance names and times, and the WebSocket outbox's bound."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any, cast

import pytest

from exchange.server.auth import hash_token
from exchange.server.config import ApiKey, ConfigError, Limits, demo_config, parse_config
from exchange.server.frontends.http import binance as B
from exchange.server.frontends.http import signing
from exchange.server.frontends.http.outbox import Outbox
from exchange.server.frontends.http.session import HttpSession, Refused
from exchange.server.metrics import RequestMetrics
from exchange.server.port import GatewayPort, Slot
from protocol import messages as M
from protocol import replies as R


class FakeGateway:
    """Answers Ping itself (local) and sends Place to an 'actor' the test answers."""

    limits = Limits()

    def __init__(self) -> None:
        self.metrics = RequestMetrics()
        self.routed: list[tuple[HttpSession, Slot]] = []
        self.closed: list[HttpSession] = []

    def dispatch(self, session: HttpSession, message: Any) -> None:
        if isinstance(message, M.Ping):
            session.local(lambda: R.Pong(ts="now"))
        else:
            session.routed(lambda slot: self.routed.append((session, slot)))

    def session_closed(self, session: HttpSession, exc: Exception | None) -> None:
        self.closed.append(session)


async def test_answers_come_in_request_order() -> None:
    gateway = FakeGateway()
    session = HttpSession(cast(GatewayPort, gateway), 1, "test")
    place = session.send(M.Place(symbol="A", side="buy", qty=Decimal(1), price=Decimal(1)))
    ping = session.send(M.Ping())
    await asyncio.sleep(0)
    assert not ping.done()  # a local request behind an owed reply waits for it
    events: list[R.Message] = []
    session.on_event = events.append
    session.push(R.Expired(order=None))  # type: ignore[arg-type]
    assert events == []  # an event waits behind the reply still owed too
    (_, slot), = gateway.routed
    accepted = R.Accepted(order=None, fills=[])  # type: ignore[arg-type]
    session.fulfil(slot, accepted)
    assert place.result() is accepted
    assert isinstance(ping.result(), R.Pong)
    assert [type(e) for e in events] == [R.Expired]
    assert not session.has_work()
    # Shutdown: what is still owed is refused, not left hanging.
    owed = session.send(M.Place(symbol="A", side="buy", qty=Decimal(1), price=Decimal(1)))
    session.close()
    with pytest.raises(Refused):
        owed.result()
    assert gateway.closed == [session]
    with pytest.raises(Refused):
        session.send(M.Ping())


def test_signature_and_timestamp_checks() -> None:
    key = ApiKey("k", "s", "u", "t")
    now = int(time.time() * 1000)
    query = f"symbol=AAPLUSD&timestamp={now}"
    body = "side=BUY&quantity=1"
    sig = signing.sign("s", query + body)
    params = signing.parse_params(query, f"{body}&signature={sig}")
    signing.check(key, query, f"{body}&signature={sig}", params, now)
    with pytest.raises(B.BinanceError) as bad:
        signing.check(key, query, body + "0" + f"&signature={sig}", params, now)
    assert bad.value.code == -1022
    with pytest.raises(B.BinanceError) as stale:
        signing.check(key, query, f"{body}&signature={sig}", params, now + 5001)
    assert stale.value.code == -1021
    assert signing.parse_params("a=1&b=x%20y", "a=2&c=3+4") == {"a": "1", "b": "x y",
                                                                 "c": "3 4"}
    with pytest.raises(B.BinanceError) as none:
        signing.api_key({}, "")
    assert (none.value.code, none.value.status) == (-2014, 401)


def test_names_and_times() -> None:
    names = B.Names(["AAPL", "BTC-USD", "ETH-USD"])
    assert names.to_id == {"AAPL": "AAPLUSD", "BTC-USD": "BTCUSD", "ETH-USD": "ETHUSD"}
    assert names.symbol({"symbol": "BTCUSD"}) == "BTC-USD"
    with pytest.raises(B.BinanceError) as unknown:
        names.symbol({"symbol": "BTC-USD"})
    assert unknown.value.body() == {"code": -1121, "msg": "Invalid symbol."}
    with pytest.raises(ValueError, match="both be 'BTCUSD'"):
        B.Names(["BTC", "BTC-USD"])
    assert B.ms("1970-01-01T00:00:01.234567Z") == 1234
    assert B.ms("2024-02-29T23:59:59.999999Z") == 1709251199999


async def test_a_stream_that_is_not_read_is_closed_at_its_bound() -> None:
    box = Outbox(cast(Any, None), 100, "test")
    box.put(b"x" * 60)
    assert not box.closed
    box.put(b"y" * 60)  # would hold 120 bytes of a 100-byte bound
    assert box.closed and box.size == 0
    big = Outbox(cast(Any, None), 100, "test")
    big.put(b"z" * 500)  # one message bigger than the bound still goes when nothing waits
    assert not big.closed


def test_api_keys_in_the_config() -> None:
    base = {"symbols": [{"symbol": "AAPL", "tick_size": "0.01", "lot_size": "1"}]}

    def users(*rows: dict[str, Any]) -> dict[str, Any]:
        return {**base, "users": list(rows)}
    config = parse_config(users({"user": "a", "token": "t", "api_key": "k",
                                 "api_secret": "s"}, {"user": "b", "token": "u"}))
    assert config.api_keys() == {"k": ApiKey("k", "s", "a", "t")}
    for bad, why in (
            ({"user": "a", "token": "t", "api_key": "k"}, "give both"),
            ({"user": "a", "token_hash": hash_token("t"), "api_key": "k",
              "api_secret": "s"}, "needs a plain token"),
            ({"user": "a", "token": "t", "api_key": 5, "api_secret": "s"}, "string")):
        with pytest.raises(ConfigError, match=why):
            parse_config(users(bad))
    with pytest.raises(ConfigError, match="same API key"):
        parse_config(users({"user": "a", "token": "t", "api_key": "k", "api_secret": "s"},
                           {"user": "b", "token": "u", "api_key": "k", "api_secret": "z"}))
    demo = demo_config().api_keys()
    assert demo["alice-key"] == ApiKey("alice-key", "alice-secret", "alice", "alice-token")
