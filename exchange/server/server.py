"""The server: listeners, actors, market-close timer, and an orderly shutdown.

It listens with the front-ends it is given by name (``exchange.server.frontends``; by
default one ``lines`` listener on the configured host and port), each on its own socket,
all in front of the one gateway; and, given a metrics port, serves the Prometheus metrics
there (``exchange.server.exposition``).

Shutdown order (after the way production ASGI servers do it): stop accepting; stop
reading from sessions but answer every line already read; let the actors drain;
flush; close the connections; stop the actors. A session that does not let us write
within the grace period is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import ssl
import sys
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from exchange import core
from exchange.core.commands import SetFees, SetLimits
from exchange.core.fees import FeeSchedule
from exchange.core.historylog import HistoryLog
from exchange.server.config import Config
from exchange.server.exposition import MetricsListener, serve_metrics
from exchange.server.frontends import Listener, Listening, frontend
from exchange.server.gateway import Gateway
from exchange.server.history.feed import HistoryFeed
from exchange.server.history.rebuild import open_history
from exchange.server.history.store import SqliteHistory
from exchange.server.journal import FileJournal
from exchange.server.views import now_us

log = logging.getLogger("exchange.server")

SHUTDOWN_GRACE = 5.0
"""Seconds to finish answering what was read before connections are closed anyway."""


def tune_gc() -> None:
    """Collect garbage less often: a book holds many long-lived objects.

    CPython's default (a young-generation pass every 700 allocations, full passes that walk
    every live order) costs the matching engine about a fifth of its time. Orders, trades
    and levels form no reference cycles in the steady state, so rarer passes lose nothing.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


EXIT_JOURNAL_FAILED = 74  # EX_IOERR
"""Exit status when the journal cannot be made durable."""


def journal_failed(exc: OSError) -> None:
    """The journal cannot be written or synced: exit at once, acknowledging nothing more.

    Replies of the turn that failed are still buffered and are never sent; a restart
    recovers what the disk holds. Carrying on (or an orderly stop, which would flush
    and snapshot) could acknowledge what is not durable.
    """
    log.critical("exiting: the journal cannot be made durable (%s); restart to recover "
                 "what the data directory holds", exc)
    logging.shutdown()
    os._exit(EXIT_JOURNAL_FAILED)


EXIT_BUG = 70  # EX_SOFTWARE
"""Exit status after a command met a bug (an unexpected exception): see fail_stop."""


class ExchangeServer:
    """One exchange served by its listeners (one ``lines`` on ``host:port`` unless
    ``listeners`` names others)."""

    def __init__(self, config: Config, host: str = "127.0.0.1", port: int = 7878,
                 data_dir: str | Path | None = None,
                 ssl_context: ssl.SSLContext | None = None,
                 listeners: list[Listener] | None = None,
                 metrics_port: int | None = None) -> None:
        self.config = config
        self.metrics_port = metrics_port
        """Serve the metrics on this port of the first listener's host (0: a free one)."""
        self.metrics_bound: tuple[str, int] | None = None
        self._metrics: MetricsListener | None = None
        keys = tuple(config.api_keys().values())
        self.listeners = [listener if listener.api_keys else replace(listener, api_keys=keys)
                          for listener in listeners or [Listener("lines", host, port,
                                                                 ssl_context)]]
        for listener in self.listeners:
            frontend(listener.frontend)  # an unknown name fails here, before recovery
        self.host = self.listeners[0].host
        self.port = self.listeners[0].port
        journal = None
        last_seq = 0
        if data_dir is None:
            self.exchange = config.build_exchange()
        else:
            recovered = FileJournal.recover(Path(data_dir), config.build_exchange())
            for note in recovered.notes:
                log.warning("recovery: %s", note)
            log.info("recovered %s: snapshot at record %d, %d records replayed, last %d",
                     data_dir, recovered.snapshot_seq, recovered.replayed, recovered.seq)
            self.exchange = recovered.exchange
            self.exchange.take_risk_alerts()  # raised by the replay: old news, told then
            # Limits come from today's config; the market itself from the data directory.
            self.exchange.max_open_orders = config.limits.max_open_orders
            config.apply_credentials(self.exchange)
            config.apply_symbol_names(self.exchange)
            journal = FileJournal(Path(data_dir), self.exchange, recovered.seq,
                                  base_seq=recovered.snapshot_seq)
            journal.on_failure = journal_failed
            last_seq = recovered.seq
        history: SqliteHistory | None = None
        feed: HistoryFeed | None = None
        if config.history.enabled:
            history = open_history(Path(data_dir) if data_dir is not None else None,
                                   config.build_exchange(), last_seq,
                                   config.history.inbox_keep)
            notes = HistoryLog(history.audit_id, history.inbox_id, history.order_hid,
                               counting=journal is None)
            if journal is not None:
                notes.seq = journal.seq
                journal.history_log = notes
            self.exchange.history = notes
            feed = HistoryFeed(notes)
        self.history = history
        self._set_limits(config, journal)
        self._set_fees(config, journal)
        self.gateway = Gateway(self.exchange, config.limits)
        self.gateway.issuer = config.market_name  # two-factor login's provisioning URIs
        self.gateway.journal = journal
        self.gateway.history = history
        self.gateway.feed = feed
        self.gateway.on_fatal = self._fatal
        self.fatal: BaseException | None = None
        self._servers: list[Listening] = []
        self.bound: list[tuple[str, int]] = []
        """Each listener's address once started (port 0 becomes the port chosen)."""
        self._stopping: asyncio.Event | None = None
        self._close_timer: asyncio.TimerHandle | None = None

    def _set_limits(self, config: Config, journal: FileJournal | None) -> None:
        """Put the config's exposure limits in force, as a recorded command when they
        differ from those the data directory brought back (see Config.exposure_limits)."""
        default, per_user = config.exposure_limits(self.exchange)
        default_now, per_user_now = self.exchange.exposure_limits()
        if (default, {u: lim for u, lim in per_user.items() if lim != default}) == (
                default_now, per_user_now):
            return
        cmd = SetLimits(now_us(), "", default, per_user)
        if journal is not None:
            journal.append(cmd)
            self.exchange.apply(cmd)
            journal.commit()
            log.info("exposure limits changed by the config: recorded")
        else:
            self.exchange.apply(cmd)

    def _set_fees(self, config: Config, journal: FileJournal | None) -> None:
        """Put the config's fee schedule in force, as a recorded command when it differs
        from the one the data directory brought back (see Config.fee_schedule)."""
        schedule = config.fee_schedule().normalized()
        # A user the data directory does not hold has nothing to charge (and a snapshot
        # names only users it holds).
        schedule = FeeSchedule(schedule.by_symbol, {
            u: r for u, r in schedule.per_user.items() if self.exchange.find_account(u)})
        if schedule == self.exchange.fee_schedule():
            return
        cmd = SetFees(now_us(), "", schedule)
        if journal is not None:
            journal.append(cmd)
            out = self.exchange.apply(cmd)
            journal.commit()
            log.info("fee schedule changed by the config: recorded")
        else:
            out = self.exchange.apply(cmd)
        for order in out.orders:
            log.warning("order %d of %r canceled: its hold cannot cover the new fees",
                        order.order_id, order.user)

    async def start(self) -> tuple[str, int]:
        self._stopping = asyncio.Event()
        if self.history is not None:
            self.history.loop = asyncio.get_running_loop()
        self.gateway.start()
        for listener in self.listeners:
            server = await frontend(listener.frontend)(self.gateway, listener)
            self._servers.append(server)
            sock = server.sockets[0].getsockname()
            self.bound.append((sock[0], sock[1]))
        self.host, self.port = self.bound[0]
        if self.metrics_port is not None:
            self._metrics = await serve_metrics(self.gateway.readings, self.host,
                                                self.metrics_port)
            sock = self._metrics.sockets[0].getsockname()
            self.metrics_bound = (sock[0], sock[1])
        self._schedule_close()
        tune_gc()
        return self.bound[0]

    @property
    def _server(self) -> Listening | None:
        """The first listener's server."""
        return self._servers[0] if self._servers else None

    def _stop_listening(self) -> None:
        for server in self._servers:
            server.close()
        if self._metrics is not None:
            self._metrics.close()

    async def _listeners_closed(self) -> None:
        for server in self._servers:
            await server.wait_closed()
        if self._metrics is not None:
            await self._metrics.wait_closed()

    def _schedule_close(self) -> None:
        """Arm the daily market close (``[market] close``, server local time)."""
        close = self.config.market_close
        if close is None:
            return
        now = datetime.now()
        at = now.replace(hour=close.hour, minute=close.minute, second=close.second,
                         microsecond=0)
        if at <= now:
            at += timedelta(days=1)
        delay = (at - now).total_seconds()
        self._close_timer = asyncio.get_running_loop().call_later(delay, self._daily_close)

    def _daily_close(self) -> None:
        log.info("market close: expiring day orders")
        self.gateway.close_all_books(False, None)
        self._schedule_close()

    def request_stop(self) -> None:
        if self._stopping is not None:
            self._stopping.set()

    def _fatal(self, exc: BaseException) -> None:
        """A command met a bug (``GatewayCore.fail_stop``): stop accepting, then exit."""
        self.fatal = exc
        self._stop_listening()
        self.request_stop()

    async def serve_until_stopped(self) -> int:
        """Serve until asked to stop; the exit status (0, or EXIT_BUG after a fail-stop)."""
        assert self._stopping is not None
        await self._stopping.wait()
        if self.fatal is not None:
            await self.fail_stop_shutdown()
            return EXIT_BUG
        await self.shutdown()
        return 0

    async def fail_stop_shutdown(self) -> None:
        """Stop after a bug: send what is committed, close the journal, no snapshot.

        The memory may hold a half-applied command, so it is neither snapshotted nor
        served on; the journal holds everything acknowledged and nothing of the faulty
        command, and a restart recovers from it.
        """
        log.critical("stopping: a command met a bug (%r); the memory may be inconsistent, "
                     "so no snapshot is written; restart to recover from the journal",
                     self.fatal)
        if self._close_timer is not None:
            self._close_timer.cancel()
        self.gateway.stop()
        self.gateway.flush()  # commits the journal first, as every turn
        sessions = [s for s in self.gateway.sessions.values() if not s.closed]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 1.0
        while loop.time() < deadline and any(
                not s.closed and s.unsent() for s in sessions):
            await asyncio.sleep(0.01)
        for session in sessions:
            session.close()
        await self._listeners_closed()
        journal = self.gateway.journal
        if journal is not None:
            journal.close()
        self._close_history()

    async def shutdown(self) -> None:
        log.info("shutting down")
        if self._close_timer is not None:
            self._close_timer.cancel()
        self._stop_listening()
        sessions = list(self.gateway.sessions.values())
        for session in sessions:
            if not session.closed:
                session.stop_reading()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SHUTDOWN_GRACE
        while loop.time() < deadline:
            busy = any(a.queue.qsize() for a in self.gateway.actors.values()) or any(
                s.has_work() for s in sessions)
            if not busy:
                break
            await asyncio.sleep(0.01)
        self.gateway.flush()
        for session in sessions:
            session.close()
        await self._listeners_closed()
        self.gateway.stop()
        journal = self.gateway.journal
        if journal is not None:
            journal.snapshot()
            journal.close()
        self._close_history()

    def _close_history(self) -> None:
        """Last: everything is handed over by now; the writer writes it and stops."""
        self.gateway.flush()
        if self.history is not None:
            self.history.close()
            self.history = None


async def run_server(config: Config, host: str, port: int, data_dir: str | None = None,
                     ssl_context: ssl.SSLContext | None = None,
                     others: dict[str, int] | None = None,
                     metrics_port: int | None = None) -> int:
    """Serve until stopped: JSON lines on ``host:port``, each front-end of ``others``
    (name -> port) on the same host, and the metrics on ``metrics_port`` if given.

    Each further listener prints ``<name> listening on HOST:PORT`` once it is bound (the
    metrics ``metrics listening on HOST:PORT``); the JSON-lines ``listening on
    HOST:PORT`` line comes last, once every listener is ready, so that a script that
    waits for it may connect to any of them."""
    listeners = [Listener("lines", host, port, ssl_context)]
    listeners += [Listener(name, host, other,
                           data_dir=Path(data_dir) if data_dir is not None else None,
                           options=config.frontend_options(name))
                  for name, other in (others or {}).items()]
    server = ExchangeServer(config, host, port, data_dir, ssl_context, listeners,
                            metrics_port)
    bound_host, bound_port = await server.start()
    for listener, (other_host, other_port) in zip(listeners[1:], server.bound[1:],
                                                  strict=True):
        print(f"{listener.frontend} listening on {other_host}:{other_port}", flush=True)
    if server.metrics_bound is not None:
        metrics_host, metrics_bound_port = server.metrics_bound
        print(f"metrics listening on {metrics_host}:{metrics_bound_port}", flush=True)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on every OS
            loop.add_signal_handler(sig, server.request_stop)
    log.info("matching core: the %s build (%s)", core.BUILD, core.BUILD_NOTE)
    print(f"listening on {bound_host}:{bound_port}", flush=True)
    sys.stdout.flush()
    return await server.serve_until_stopped()
