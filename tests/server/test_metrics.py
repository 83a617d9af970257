"""The Prometheus metrics end to end: a real server scraped on its metrics port and on
the HTTP front-end's ``/metrics``, read back with ``prometheus_client``'s own parser
while a scripted session places orders, trades and makes errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.fix.client import FixClient, order_fields
from tests.server.conftest import StartServer
from tests.server.http_wire import HTTP_CONFIG, Http
from tests.server.wire import Conn, connect

Labels = tuple[tuple[str, str], ...]
Samples = dict[tuple[str, Labels], float]


async def scrape(client: aiohttp.ClientSession, addr: tuple[str, int]) -> Samples:
    """Every sample of one scrape, keyed by (sample name, sorted labels)."""
    async with client.get(f"http://{addr[0]}:{addr[1]}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            assert key not in samples, key
            samples[key] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def trade_and_fail(addr: tuple[str, int]) -> list[Conn]:
    """alice rests a sell, bob buys into it (one trade), bob cancels an order that does
    not exist (one error), and a login with a wrong token fails on a third connection.
    The three stay open (the test closes them), so that what is open is known."""
    alice = await connect(addr, "alice")
    bob = await connect(addr, "bob")
    sell = await alice.request("place", symbol="AAPL", side="sell", qty="10", price="150.00")
    assert sell["type"] == "accepted"
    buy = await bob.request("place", symbol="AAPL", side="buy", qty="4", price="150.00")
    assert buy["type"] == "accepted" and buy["fills"], buy
    missing = await bob.request("cancel", order_id=999_999)
    assert (missing["type"], missing["code"]) == ("error", "unknown_order")
    intruder = await Conn.open(addr)
    refused = await intruder.request("login", user="carol", token="not-her-token")
    assert (refused["type"], refused["code"]) == ("error", "auth_failed")
    return [alice, bob, intruder]


async def close(conns: list[Conn]) -> None:
    for conn in conns:
        await conn.close()


async def test_the_metrics_port_counts_a_scripted_session(
        start_server: StartServer, client: aiohttp.ClientSession, tmp_path: Path) -> None:
    server = start_server(args=("--metrics-port", "0", "--data-dir", str(tmp_path / "d")))
    metrics = server.others["metrics"]
    before = await scrape(client, metrics)
    assert value(before, "exchange_requests_total", op="place") == 0
    assert value(before, "exchange_build_info", build="python") + value(
        before, "exchange_build_info", build="compiled") == 1
    conns = await trade_and_fail(server.addr)
    after = await scrape(client, metrics)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("exchange_requests_total", op="place") == 2
    assert moved("exchange_requests_total", op="cancel") == 1
    assert moved("exchange_requests_total", op="login") == 3
    assert moved("exchange_errors_total", op="cancel", code="unknown_order") == 1
    assert moved("exchange_errors_total", op="login", code="auth_failed") == 1
    assert sum(v for (name, _), v in after.items() if name == "exchange_errors_total") == 2
    assert moved("exchange_logins_failed_total") == 1
    assert moved("exchange_orders_total") == 2
    assert moved("exchange_trades_total") == 1
    assert value(after, "exchange_live_orders") == 1  # alice's sell, 6 left
    assert value(after, "exchange_sessions_open", frontend="lines") == 3
    assert moved("exchange_sessions_opened_total", frontend="lines") == 3
    assert value(after, "exchange_users_online") == 2
    assert value(after, "exchange_actor_queue_depth", symbol="AAPL") == 0
    # Every reply of the script was timed: six requests, six replies.
    assert moved("exchange_reply_latency_seconds_count") == 6
    assert value(after, "exchange_reply_latency_seconds_bucket", le="+Inf") == value(
        after, "exchange_reply_latency_seconds_count")
    assert 0 < moved("exchange_reply_latency_seconds_sum") < 10
    # Both orders were journaled and synced before they were acknowledged.
    assert moved("exchange_journal_fsync_seconds_count") >= 1
    assert value(after, "exchange_journal_durable_seq") >= 2
    await close(conns)


async def test_the_http_frontend_serves_the_same_metrics(
        start_server: StartServer, client: aiohttp.ClientSession) -> None:
    server = start_server(config=HTTP_CONFIG,
                          args=("--http-port", "0", "--metrics-port", "0"))
    http = server.others["http"]
    before = await scrape(client, http)
    # The HTTP front-end's public session is open from the start.
    assert value(before, "exchange_sessions_open", frontend="http") == 1
    conns = await trade_and_fail(server.addr)
    api = Http(client, http, "alice")
    status, _ = await api.signed("DELETE", "/api/v3/order", symbol="AAPLUSD", orderId="999999")
    assert status == 400
    on_http = await scrape(client, http)
    on_port = await scrape(client, server.others["metrics"])
    for samples in (on_http, on_port):
        assert value(samples, "exchange_trades_total") - value(
            before, "exchange_trades_total") == 1
        assert value(samples, "exchange_errors_total", op="cancel",
                     code="unknown_order") == 1  # by JSON lines
        # Over HTTP, a cancel first looks the order up: the lookup is what fails.
        assert value(samples, "exchange_errors_total", op="status",
                     code="unknown_order") == 1
        assert value(samples, "exchange_sessions_open", frontend="http") == 2  # + alice's
        assert value(samples, "exchange_journal_fsync_seconds_count") == 0  # no data dir
        assert value(samples, "exchange_sessions_open", frontend="lines") == 3
    await close(conns)


async def test_fix_sessions_and_their_orders_are_counted(
        start_server: StartServer, client: aiohttp.ClientSession) -> None:
    server = start_server(args=("--fix-port", "0", "--metrics-port", "0"))
    alice = await FixClient.open(server.others["fix"], "alice")
    assert (await alice.logon()).type == "A"
    await alice.send("D", order_fields("m1", "AAPL", "1", 10, "150.00", tif="1"))
    assert (await alice.expect("8"))[150] == "0"  # New
    await alice.send("D", order_fields("m2", "NOPE", "1", 10, "150.00", tif="1"))
    assert (await alice.expect("8"))[150] == "8"  # Rejected: no such symbol
    samples = await scrape(client, server.others["metrics"])
    assert value(samples, "exchange_sessions_open", frontend="fix") == 1
    assert value(samples, "exchange_sessions_opened_total", frontend="fix") == 1
    assert value(samples, "exchange_requests_total", op="login") == 1  # the Logon
    assert value(samples, "exchange_requests_total", op="place") == 2
    assert value(samples, "exchange_errors_total", op="place", code="unknown_symbol") == 1
    assert value(samples, "exchange_live_orders") == 1
    assert value(samples, "exchange_reply_latency_seconds_count") == 3


def test_the_config_names_the_metrics_port(start_server: StartServer) -> None:
    server = start_server(extra_toml="[metrics]\nport = 0\n")
    assert "metrics" in server.others and server.others["metrics"][1] > 0


def test_a_bad_metrics_port_in_the_config_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[metrics]\nport = "9100"\n[[symbols]]\nsymbol = "A"\n'
                    'tick_size = "0.01"\nlot_size = "1"\n')
    done = subprocess.run([sys.executable, "-m", "exchange", "serve", "--config", str(path)],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2
    assert "metrics.port: expected a port number" in done.stderr
