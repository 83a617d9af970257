"""The server: listener, actors, market-close timer, and an orderly shutdown.

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
from datetime import datetime, timedelta
from pathlib import Path

from exchange.server.config import Config
from exchange.server.gateway import Gateway
from exchange.server.journal import FileJournal

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
    """One exchange served on one TCP port."""

    def __init__(self, config: Config, host: str = "127.0.0.1", port: int = 7878,
                 data_dir: str | Path | None = None,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.config = config
        self.ssl_context = ssl_context
        self.host = host
        self.port = port
        journal = None
        if data_dir is None:
            self.exchange = config.build_exchange()
        else:
            recovered = FileJournal.recover(Path(data_dir), config.build_exchange())
            for note in recovered.notes:
                log.warning("recovery: %s", note)
            log.info("recovered %s: snapshot at record %d, %d records replayed, last %d",
                     data_dir, recovered.snapshot_seq, recovered.replayed, recovered.seq)
            self.exchange = recovered.exchange
            # Limits come from today's config; the market itself from the data directory.
            self.exchange.max_open_orders = config.limits.max_open_orders
            config.apply_credentials(self.exchange)
            journal = FileJournal(Path(data_dir), self.exchange, recovered.seq,
                                  base_seq=recovered.snapshot_seq)
            journal.on_failure = journal_failed
        self.gateway = Gateway(self.exchange, config.limits)
        self.gateway.journal = journal
        self.gateway.on_fatal = self._fatal
        self.fatal: BaseException | None = None
        self._server: asyncio.Server | None = None
        self._stopping: asyncio.Event | None = None
        self._close_timer: asyncio.TimerHandle | None = None

    async def start(self) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self.gateway.start()
        self._server = await loop.create_server(self.gateway.new_session, self.host, self.port,
                                                reuse_address=True, backlog=1024,
                                                ssl=self.ssl_context)
        sock = self._server.sockets[0].getsockname()
        self.port = sock[1]
        self._schedule_close()
        tune_gc()
        return sock[0], sock[1]

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
        if self._server is not None:
            self._server.close()
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
        sessions = [s for s in self.gateway.sessions.values()
                    if s.transport is not None and not s.closed]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 1.0
        while loop.time() < deadline and any(
                s.transport is not None and s.transport.get_write_buffer_size()
                for s in sessions):
            await asyncio.sleep(0.01)
        for session in sessions:
            if session.transport is not None:
                session.transport.close()
        if self._server is not None:
            await self._server.wait_closed()
        journal = self.gateway.journal
        if journal is not None:
            journal.close()

    async def shutdown(self) -> None:
        log.info("shutting down")
        if self._close_timer is not None:
            self._close_timer.cancel()
        if self._server is not None:
            self._server.close()
        sessions = list(self.gateway.sessions.values())
        for session in sessions:
            if session.transport is not None and not session.closed:
                session.stop_reading()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SHUTDOWN_GRACE
        while loop.time() < deadline:
            busy = any(a.queue.qsize() for a in self.gateway.actors.values()) or any(
                s.slots or s.parked is not None for s in sessions if not s.closed)
            if not busy:
                break
            await asyncio.sleep(0.01)
        self.gateway.flush()
        for session in sessions:
            if session.transport is not None and not session.closed:
                session.transport.close()
        if self._server is not None:
            await self._server.wait_closed()
        self.gateway.stop()
        journal = self.gateway.journal
        if journal is not None:
            journal.snapshot()
            journal.close()


async def run_server(config: Config, host: str, port: int, data_dir: str | None = None,
                     ssl_context: ssl.SSLContext | None = None) -> int:
    server = ExchangeServer(config, host, port, data_dir, ssl_context)
    bound_host, bound_port = await server.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on every OS
            loop.add_signal_handler(sig, server.request_stop)
    print(f"listening on {bound_host}:{bound_port}", flush=True)
    sys.stdout.flush()
    return await server.serve_until_stopped()
