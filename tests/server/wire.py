"""A raw line client for the end-to-end tests: asyncio streams, JSON lines, nothing else.

The tests talk to the server exactly as an outside program would: they write lines
(JSON objects, text commands, or raw bytes) and read JSON lines back. Nothing from the
project's client library is used, so what is checked is the wire itself.

Every read has a timeout, so a server that fails to answer fails the test quickly
instead of hanging the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Callable
from typing import Any

TIMEOUT = 5.0
"""Seconds any single read may take before the test fails."""

PUSHED_ONLY = frozenset({"fill", "expired", "triggered", "trade", "book_update", "alert"})
"""Message types that are only ever pushed, never a direct reply."""

Msg = dict[str, Any]


class Conn:
    """One TCP connection speaking the line protocol.

    JSON requests are paired with their replies by ``ref``; anything read that is not
    the awaited reply is kept: pushed messages (no ``ref``) in ``events``, replies to
    other refs in ``replies``, so pipelined requests can be answered in any order.
    """

    _refs = itertools.count(1)

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.events: list[Msg] = []
        self.replies: dict[Any, Msg] = {}

    @classmethod
    async def open(cls, addr: tuple[str, int], limit: int = 2**22) -> Conn:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(addr[0], addr[1], limit=limit), TIMEOUT)
        return cls(reader, writer)

    # -- writing ------------------------------------------------------------------------
    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await asyncio.wait_for(self.writer.drain(), TIMEOUT)

    async def send(self, line: str | Msg) -> None:
        """A JSON object (dict) or a text line; the newline is added."""
        text = json.dumps(line) if isinstance(line, dict) else line
        await self.send_raw(text.encode() + b"\n")

    def next_ref(self) -> str:
        return f"r{next(self._refs)}"

    # -- reading ------------------------------------------------------------------------
    async def recv_line(self, timeout: float = TIMEOUT) -> bytes:
        line = await asyncio.wait_for(self.reader.readline(), timeout)
        if not line:
            raise ConnectionError("server closed the connection")
        assert line.endswith(b"\n"), line
        return line

    async def recv(self, timeout: float = TIMEOUT) -> Msg:
        """The next message, whatever it is (each line must be one JSON object)."""
        line = await self.recv_line(timeout)
        msg = json.loads(line)
        assert isinstance(msg, dict) and "type" in msg, line
        return msg

    async def reply(self, ref: Any, timeout: float = TIMEOUT) -> Msg:
        """The reply carrying ``ref``, keeping whatever arrives before it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while ref not in self.replies:
            msg = await self.recv(max(0.001, deadline - loop.time()))
            self._keep(msg)
        return self.replies.pop(ref)

    def _keep(self, msg: Msg) -> None:
        if "ref" in msg:
            assert msg["ref"] not in self.replies, f"two replies with ref {msg['ref']!r}"
            self.replies[msg["ref"]] = msg
        else:
            self.events.append(msg)

    async def request(self, op: str, ref: Any = None, **fields: Any) -> Msg:
        """Send a JSON request with a fresh (or the given) ref and return its reply."""
        if ref is None:
            ref = self.next_ref()
        await self.send({"op": op, "ref": ref, **fields})
        reply = await self.reply(ref)
        assert reply["ref"] == ref
        return reply

    async def text(self, command: str, timeout: float = TIMEOUT) -> Msg:
        """Send a text command and return its reply: the next message that is not an
        event (text replies carry no ref). Events read on the way are kept."""
        await self.send(command)
        return await self.unref_reply(timeout)

    async def unref_reply(self, timeout: float = TIMEOUT) -> Msg:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            msg = await self.recv(max(0.001, deadline - loop.time()))
            if msg["type"] in PUSHED_ONLY or "ref" in msg:
                self._keep(msg)
                continue
            return msg

    async def event(self, type_: str, pred: Callable[[Msg], bool] | None = None,
                    timeout: float = TIMEOUT) -> Msg:
        """The first pushed message of ``type_`` (matching ``pred``), kept or still to come."""
        for i, msg in enumerate(self.events):
            if msg["type"] == type_ and (pred is None or pred(msg)):
                return self.events.pop(i)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            msg = await self.recv(max(0.001, deadline - loop.time()))
            if "ref" not in msg and msg["type"] == type_ and (pred is None or pred(msg)):
                return msg
            self._keep(msg)

    async def no_more(self, ignore: tuple[str, ...] = ()) -> None:
        """Assert nothing more arrives: ping and check that the pong comes next.

        Anything pushed before the ping is read before its pong (events queue behind
        owed replies). Messages of the types in ``ignore`` are dropped on the way.
        """
        ref = self.next_ref()
        await self.send({"op": "ping", "ref": ref})
        self.events = [e for e in self.events if e["type"] not in ignore]
        assert not self.events, f"unexpected events {self.events}"
        while True:
            msg = await self.recv()
            if msg["type"] in ignore and "ref" not in msg:
                continue
            assert msg["type"] == "pong" and msg.get("ref") == ref, f"unexpected message {msg}"
            return

    async def expect_closed(self, timeout: float = TIMEOUT) -> bytes:
        """Read until the server closes; returns whatever came before the close."""
        data = await asyncio.wait_for(self.reader.read(), timeout)
        return data

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await asyncio.wait_for(self.writer.wait_closed(), TIMEOUT)

    # -- conveniences -----------------------------------------------------------------------
    async def login(self, user: str, token: str | None = None) -> Msg:
        reply = await self.request("login", user=user, token=token or f"{user}-token")
        assert reply["type"] == "welcome", reply
        return reply

    async def place(self, symbol: str, side: str, qty: str, price: str | None = None,
                    **fields: Any) -> Msg:
        if price is not None:
            fields["price"] = price
        return await self.request("place", symbol=symbol, side=side, qty=qty, **fields)

    async def order_id(self, symbol: str, side: str, qty: str, price: str | None = None,
                       **fields: Any) -> int:
        """Place an order that must be accepted; its id."""
        reply = await self.place(symbol, side, qty, price, **fields)
        assert reply["type"] == "accepted", reply
        return int(reply["order"]["order_id"])


async def connect(addr: tuple[str, int], user: str | None = None) -> Conn:
    conn = await Conn.open(addr)
    if user is not None:
        await conn.login(user)
    return conn
