"""`Client`: the connection's lifecycle, request/reply pairing, events, streams, reconnect."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import ssl as ssl_module
from collections.abc import Callable, Generator
from types import TracebackType
from typing import Any, Final

from client.commands import Commands
from client.connection import DEFAULT_MAX_LINE, Connection
from client.errors import (
    ConnectionClosed,
    ExchangeError,
    RequestTimeout,
    ServerError,
)
from client.events import Event, EventQueue, StreamKey, stream_key
from client.streams import Stream
from protocol import messages as m
from protocol import replies as r
from protocol.fields import Channel

__all__ = ["Client"]

log = logging.getLogger(__name__)

_DEFAULT: Final[Any] = object()
"""`timeout=` left out: use the client's default."""


class Client(Commands):
    """An asyncio client for one session on the exchange. Create it with `Client.connect`.

    Requests may be issued concurrently from many tasks; each is written at once with its
    own `ref` and paired with its reply by that ref (pipelining). Pushed events are read
    with `events()` or, per stream, with `stream()`.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        user: str | None = None,
        token: str | None = None,
        timeout: float | None = 10.0,
        reconnect: bool = False,
        reconnect_delay: float = 0.1,
        reconnect_max_delay: float = 5.0,
        reconnect_attempts: int | None = None,
        max_events: int = 10_000,
        max_line: int = DEFAULT_MAX_LINE,
        ssl: ssl_module.SSLContext | bool | None = None,
        server_hostname: str | None = None,
        otp: Callable[[], str] | None = None,
    ) -> None:
        """Prefer `Client.connect`, which also opens the connection (see its parameters)."""
        if (user is None) != (token is None):
            raise ValueError("give both `user` and `token`, or neither")
        self.host = host
        self.port = port
        self.timeout = timeout
        """Default timeout of every request, in seconds (None: wait forever)."""
        self._credentials = (user, token) if user is not None and token is not None else None
        self._reconnect = reconnect
        self._reconnect_delay = reconnect_delay
        self._reconnect_max_delay = reconnect_max_delay
        self._reconnect_attempts = reconnect_attempts
        self._max_events = max_events
        self._max_line = max_line
        self._ssl = ssl
        self._server_hostname = server_hostname
        self._otp = otp
        self._last_otp: str | None = None
        self._refs = itertools.count(1)
        self._conn: Connection | None = None
        # Set while a connection is usable, or once the client is closed for good, so that a
        # request waiting for a reconnection wakes up either way.
        self._ready = asyncio.Event()
        self._closing = False
        self._closed_error: ConnectionClosed | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._events: EventQueue[Event] = EventQueue(max_events)
        self._subscriptions: set[StreamKey] = set()
        self._streams: dict[StreamKey, list[Stream]] = {}
        self.reconnects = 0
        """How many times the connection was re-established."""

    # --- lifecycle ----------------------------------------------------------------------

    @classmethod
    def connect(
        cls,
        host: str,
        port: int,
        *,
        user: str | None = None,
        token: str | None = None,
        timeout: float | None = 10.0,
        reconnect: bool = False,
        reconnect_delay: float = 0.1,
        reconnect_max_delay: float = 5.0,
        reconnect_attempts: int | None = None,
        max_events: int = 10_000,
        max_line: int = DEFAULT_MAX_LINE,
        ssl: ssl_module.SSLContext | bool | None = None,
        server_hostname: str | None = None,
        otp: Callable[[], str] | None = None,
    ) -> _Connecting:
        """Connect (and log in when `user` and `token` are given).

        Use as `async with Client.connect(...) as c:` or `c = await Client.connect(...)`.

        - `timeout`: seconds for opening the connection, and the default for every request.
        - `reconnect`: on losing the connection, reconnect in the background with
          exponential backoff (from `reconnect_delay`, doubling up to `reconnect_max_delay`,
          jittered), log in again and renew the subscriptions. `reconnect_attempts` bounds the
          attempts per outage (None: keep trying). The first connection is not retried.
        - `max_events`: capacity of the events queue (and of each stream): when full, the
          oldest event is dropped and counted in `dropped_events`.
        - `max_line`: the longest reply line accepted from the server.
        - `ssl`: connect over TLS: True verifies the server against the system's
          certificate authorities, an `ssl.SSLContext` as it is configured (for example
          `ssl.create_default_context(cafile=...)` for a private CA); None: plain TCP.
          `server_hostname`: the name to verify when it is not `host`. Reconnections use
          the same.
        - `otp`: for a user with two-factor login on, a function that returns the current
          one-time code (`pyotp.TOTP(secret).now`, say), called for every login, those
          after a reconnect included. A code is accepted once: a login that would repeat
          the last code sent waits for the next one (at most 30 s, within `timeout`).
        """
        client = cls(
            host,
            port,
            user=user,
            token=token,
            timeout=timeout,
            reconnect=reconnect,
            reconnect_delay=reconnect_delay,
            reconnect_max_delay=reconnect_max_delay,
            reconnect_attempts=reconnect_attempts,
            max_events=max_events,
            max_line=max_line,
            ssl=ssl,
            server_hostname=server_hostname,
            otp=otp,
        )
        return _Connecting(client)

    async def open(self) -> None:
        """Open the connection and log in. Raises `ConnectFailed`, `RequestTimeout`, or
        `AuthFailedError`; the client is closed again on failure."""
        conn: Connection | None = None
        try:
            async with asyncio.timeout(self.timeout):
                conn = await self._open_connection()
                await self._handshake(conn)
        except BaseException as exc:
            if conn is not None:
                await conn.close()
            self._shut(ConnectionClosed(f"could not connect: {exc!r}"), clean=True)
            if isinstance(exc, TimeoutError):
                raise RequestTimeout(f"no connection to {self.host}:{self.port} in time") from None
            raise
        self._conn = conn
        self._ready.set()

    async def close(self) -> None:
        """Close the connection. Requests still waiting fail with `ConnectionClosed`;
        `events()` and streams end once drained. Closing twice is harmless."""
        self._closing = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
            await asyncio.wait([self._reconnect_task])  # (never raises the task's error)
            self._reconnect_task = None
        if self._conn is not None:
            await self._conn.close()
        self._shut(ConnectionClosed("the client is closed"), clean=True)

    @property
    def is_connected(self) -> bool:
        """True while a connection is open and ready for requests."""
        return self._conn is not None and self._conn.is_open and self._ready.is_set()

    @property
    def is_closed(self) -> bool:
        """True once the client is closed for good (by `close`, or a loss it gave up on)."""
        return self._closed_error is not None

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _shut(self, error: ConnectionClosed, *, clean: bool) -> None:
        """Close for good: wake every waiter, end the events queue and the streams."""
        if self._closed_error is not None:
            return
        self._closed_error = error
        self._ready.set()
        queue_error = None if clean else error
        self._events.close(queue_error)
        for streams in self._streams.values():
            for stream in streams:
                stream.close(queue_error)

    # --- requests -----------------------------------------------------------------------

    def _next_ref(self) -> int:
        return next(self._refs)

    async def request(self, request: m.RequestBase, *, timeout: float | None = _DEFAULT) -> r.Reply:
        """Send any request Struct and return its reply; an `error` reply is raised as the
        `ServerError` subclass for its code. The request's `ref` is set by the client.

        `timeout` (seconds, None for none) defaults to the client's `timeout`. It covers
        waiting for a reconnection, writing, and the reply. On timeout or cancellation the
        request is forgotten: its late reply is discarded, never given to another caller.
        While the client is reconnecting, a new request waits for the connection; requests
        already written when the connection was lost fail with `ConnectionClosed`.
        """
        if timeout is _DEFAULT:
            timeout = self.timeout
        try:
            async with asyncio.timeout(timeout):
                reply = await self._roundtrip(request)
        except TimeoutError:
            op = type(request).__struct_config__.tag
            raise RequestTimeout(f"no reply to {op!r} within {timeout} s") from None
        if isinstance(reply, r.Error):
            raise ServerError.from_reply(reply)
        return reply

    async def _roundtrip(self, request: m.RequestBase) -> r.Reply:
        while True:
            conn = await self._ready_connection()
            try:
                return await self._send_on(conn, request)
            except _NotSent:
                if not self._reconnect:
                    raise ConnectionClosed("connection lost") from None
                await conn.wait_lost()  # then wait for the next connection

    async def _ready_connection(self) -> Connection:
        while True:
            if self._closed_error is not None:
                raise ConnectionClosed(str(self._closed_error))
            conn = self._conn
            if self._ready.is_set() and conn is not None and conn.is_open:
                return conn
            self._ready.clear()
            await self._ready.wait()

    async def _send_on(self, conn: Connection, request: m.RequestBase) -> r.Reply:
        ref = self._next_ref()
        try:
            future = conn.send(request, ref)
        except ConnectionClosed:
            raise _NotSent from None
        try:
            await conn.drain()
            return await future
        finally:
            conn.forget(ref)

    async def _call_on(self, conn: Connection, request: m.RequestBase) -> r.Reply:
        """A request on one given connection (the handshake's), errors raised."""
        try:
            reply = await self._send_on(conn, request)
        except _NotSent:
            raise ConnectionClosed("connection lost") from None
        if isinstance(reply, r.Error):
            raise ServerError.from_reply(reply)
        return reply

    # --- session state the client renews after a reconnect -------------------------------

    async def login(self, user: str, token: str, otp: str | None = None) -> r.Welcome:
        """Log in; on success the credentials are kept for logging in after a reconnect
        (a reconnect with two-factor login on needs the `otp` function of `connect`)."""
        welcome = await super().login(user, token, otp)
        self._credentials = (user, token)
        if otp is not None:
            self._last_otp = otp
        return welcome

    async def subscribe(self, channel: Channel, symbol: str) -> r.Subscribed:
        reply = await super().subscribe(channel, symbol)
        self._subscriptions.add((channel, symbol))
        return reply

    async def unsubscribe(self, channel: Channel, symbol: str) -> r.Unsubscribed:
        self._subscriptions.discard((channel, symbol))
        return await super().unsubscribe(channel, symbol)

    async def quit(self) -> r.Bye:
        """Say goodbye: the server answers `bye` and closes; so does this client."""
        self._closing = True  # the server's close is expected: no reconnect
        try:
            reply = await self._call(m.Quit(), r.Bye)
        finally:
            await self.close()
        return reply

    async def _open_connection(self) -> Connection:
        return await Connection.open(
            self.host,
            self.port,
            on_event=self._on_event,
            on_lost=self._on_lost,
            max_line=self._max_line,
            ssl=self._ssl,
            server_hostname=self._server_hostname,
        )

    async def _handshake(self, conn: Connection) -> None:
        """Log in and renew the subscriptions on a new connection."""
        if self._credentials is not None:
            user, token = self._credentials
            otp = await self._fresh_otp()
            await self._call_on(conn, m.Login(user=user, token=token, otp=otp))
        for channel, symbol in sorted(self._subscriptions):
            await self._call_on(conn, m.Subscribe(channel=channel, symbol=symbol))

    async def _fresh_otp(self) -> str | None:
        """The current one-time code, once it differs from the last one sent (the server
        accepts each code once)."""
        if self._otp is None:
            return None
        while True:
            code = self._otp()
            if code != self._last_otp:
                self._last_otp = code
                return code
            await asyncio.sleep(0.5)

    # --- reconnecting -------------------------------------------------------------------

    def _on_lost(self, conn: Connection, error: BaseException | None) -> None:
        if conn is not self._conn or self._closed_error is not None:
            return  # a handshake connection, or the client is already closed
        self._ready.clear()
        if self._closing:
            return
        if not self._reconnect:
            reason = "connection closed by the server" if error is None else f"{error}"
            self._shut(ConnectionClosed(f"connection lost: {reason}"), clean=False)
            return
        log.warning("connection to %s:%d lost (%s); reconnecting", self.host, self.port, error)
        self._reconnect_task = asyncio.create_task(self._reconnect_loop())

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before reconnection attempt `attempt` (0-based): exponential,
        capped at `reconnect_max_delay`, with "equal jitter" (between half and all of it) so
        that many clients cut off at once do not all come back at the same instant."""
        delay = min(self._reconnect_max_delay, self._reconnect_delay * 2.0**attempt)
        return delay / 2 + random.uniform(0, delay / 2)

    async def _reconnect_loop(self) -> None:
        for attempt in itertools.count():
            if self._reconnect_attempts is not None and attempt >= self._reconnect_attempts:
                break
            await asyncio.sleep(self.backoff(attempt))
            conn: Connection | None = None
            try:
                async with asyncio.timeout(self.timeout):
                    conn = await self._open_connection()
                    await self._handshake(conn)
            except ServerError as exc:
                # A refused login will not get better by retrying.
                log.error("reconnected, but the session could not be restored: %s", exc)
                await _close_quietly(conn)
                self._shut(ConnectionClosed(f"reconnect failed: {exc}"), clean=False)
                return
            except (ExchangeError, TimeoutError) as exc:
                log.info("reconnect attempt %d failed: %s", attempt + 1, exc)
                await _close_quietly(conn)
                continue
            except BaseException:  # close() cancelled us mid-handshake
                await _close_quietly(conn)
                raise
            if not conn.is_open:
                continue
            self._conn = conn
            self.reconnects += 1
            self._ready.set()
            log.warning("reconnected to %s:%d", self.host, self.port)
            return
        self._shut(ConnectionClosed("connection lost; gave up reconnecting"), clean=False)

    # --- events and streams -------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        self._events.put(event)
        key = stream_key(event)
        if key is not None:
            for stream in self._streams.get(key, ()):
                stream.put(event)

    def events(self) -> EventQueue[Event]:
        """Every message the server pushes (order events, alerts, and stream messages),
        in arrival order, as an async iterator: `async for event in client.events(): ...`.

        The queue exists from the moment the client is created, so nothing is missed
        between connecting and iterating. It holds at most `max_events`; when full the
        oldest event is dropped and counted in `dropped_events`. Each event is delivered
        once, to whichever task reads it first. Iteration ends after `close()`, and raises
        `ConnectionClosed` after a connection loss the client did not recover from.
        """
        return self._events

    @property
    def dropped_events(self) -> int:
        """Events dropped from the full events queue since the client was created."""
        return self._events.dropped

    def stream(self, channel: Channel, symbol: str) -> Stream:
        """One stream's messages only: `async with client.stream("trades", "AAPL") as s:`.

        Entering the block starts listening, then subscribes (so the `book` snapshot that
        follows `subscribed` is not missed); leaving it unsubscribes, unless another stream
        of the same channel and symbol is still open. Stream messages also reach `events()`.
        """
        return Stream(self, channel, symbol)

    def _add_stream(self, stream: Stream) -> None:
        self._streams.setdefault(stream.key, []).append(stream)

    def _remove_stream(self, stream: Stream) -> bool:
        """Forget a stream; True when it was the last one of its key."""
        streams = self._streams.get(stream.key, [])
        if stream in streams:
            streams.remove(stream)
        if streams:
            return False
        self._streams.pop(stream.key, None)
        return True


async def _close_quietly(conn: Connection | None) -> None:
    if conn is not None:
        await conn.close()


class _NotSent(Exception):
    """The connection was already closing: the request was never written."""


class _Connecting:
    """What `Client.connect` returns: await it, or use it as an async context manager."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def __await__(self) -> Generator[Any, None, Client]:
        return self._open().__await__()

    async def _open(self) -> Client:
        await self._client.open()
        return self._client

    async def __aenter__(self) -> Client:
        return await self._open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._client.close()
