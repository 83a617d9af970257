"""A raw FIX 4.4 client for the tests: asyncio streams and simplefix, nothing of the server.

Messages are built with simplefix (an independent encoder: BodyLength and CheckSum are its
own), and every message read is parsed by simplefix and checked against QuickFIX's FIX 4.4
data dictionary (:mod:`tests.fix.dictionary`) before a test sees it, so that any
test that reads a message also checks that the gateway sent a valid one.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import simplefix

from tests.fix.dictionary import DICTIONARY

TIMEOUT = 5.0
SOH = b"\x01"


def timestamp(offset: float = 0.0) -> str:
    t = time.time() + offset
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}"


class Msg:
    """A message read: its fields by tag (str values), in order too."""

    def __init__(self, raw: bytes, fix: simplefix.FixMessage) -> None:
        self.raw = raw
        self.pairs = [(int(tag), value.decode()) for tag, value in fix.pairs]
        self.fields: dict[int, str] = {}
        for tag, value in self.pairs:
            self.fields.setdefault(tag, value)

    @property
    def type(self) -> str:
        return self.fields[35]

    @property
    def seq(self) -> int:
        return int(self.fields[34])

    def __getitem__(self, tag: int) -> str:
        return self.fields[tag]

    def get(self, tag: int, default: Any = None) -> Any:
        return self.fields.get(tag, default)

    def all(self, tag: int) -> list[str]:
        return [value for t, value in self.pairs if t == tag]

    def __repr__(self) -> str:
        return "Msg(" + "|".join(f"{t}={v}" for t, v in self.pairs) + ")"


class FixClient:
    """One FIX connection: ``send`` builds and numbers messages, ``recv`` reads them."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 sender: str, target: str = "EXCHANGE") -> None:
        self.reader = reader
        self.writer = writer
        self.sender = sender
        self.target = target
        self.next_seq = 1
        self.parser = simplefix.FixParser()
        self.received: list[Msg] = []
        self.validate = True

    @classmethod
    async def open(cls, addr: tuple[str, int], sender: str, target: str = "EXCHANGE"
                   ) -> FixClient:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(*addr), TIMEOUT)
        return cls(reader, writer, sender, target)

    def build(self, msg_type: str, fields: list[tuple[int, Any]], seq: int | None = None,
              poss_dup: bool = False, header: list[tuple[int, Any]] | None = None) -> bytes:
        msg = simplefix.FixMessage()
        msg.append_pair(8, "FIX.4.4", header=True)
        msg.append_pair(35, msg_type, header=True)
        msg.append_pair(49, self.sender, header=True)
        msg.append_pair(56, self.target, header=True)
        if seq is None:
            seq = self.next_seq
            self.next_seq += 1
        msg.append_pair(34, seq, header=True)
        msg.append_pair(52, timestamp(), header=True)
        if poss_dup:
            msg.append_pair(43, "Y", header=True)
            msg.append_pair(122, timestamp(-1), header=True)
        for tag, value in header or []:
            msg.append_pair(tag, value, header=True)
        for tag, value in fields:
            msg.append_pair(tag, value)
        data: bytes = msg.encode()
        return data

    async def send(self, msg_type: str, fields: list[tuple[int, Any]] | None = None,
                   **kw: Any) -> bytes:
        data = self.build(msg_type, fields or [], **kw)
        await self.send_raw(data)
        return data

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await asyncio.wait_for(self.writer.drain(), TIMEOUT)

    async def recv(self, timeout: float = TIMEOUT) -> Msg:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            fix = self.parser.get_message()
            if fix is not None:
                raw = fix.encode(raw=True)
                msg = Msg(raw, fix)
                if self.validate:
                    DICTIONARY.check(msg.pairs)
                self.received.append(msg)
                return msg
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise TimeoutError("no FIX message within the timeout")
            chunk = await asyncio.wait_for(self.reader.read(65536), left)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.parser.append_buffer(chunk)

    async def expect(self, msg_type: str, timeout: float = TIMEOUT) -> Msg:
        """The next message, which must be of ``msg_type``."""
        msg = await self.recv(timeout)
        assert msg.type == msg_type, msg
        return msg

    async def closed(self, timeout: float = TIMEOUT) -> list[Msg]:
        """Read until the server closes the connection; the messages read before."""
        got: list[Msg] = []
        while True:
            try:
                got.append(await self.recv(timeout))
            except ConnectionError:
                return got

    async def logon(self, token: str | None = None, hb: int = 30, reset: bool = False,
                    extra: list[tuple[int, Any]] | None = None) -> Msg:
        fields: list[tuple[int, Any]] = [(98, 0), (108, hb)]
        if reset:
            fields.append((141, "Y"))
        fields.append((554, token if token is not None else f"{self.sender}-token"))
        await self.send("A", fields + (extra or []))
        return await self.recv()

    async def logout(self) -> Msg:
        """A Logout, the server's Logout back, and the close: a session ended properly."""
        await self.send("5")
        msg = await self.expect("5")
        assert await self.closed() == []
        await self.close()
        return msg

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


def order_fields(cl_ord_id: str, symbol: str, side: str, qty: Any, price: Any = None,
                 ord_type: str = "2", tif: str | None = None,
                 extra: list[tuple[int, Any]] | None = None) -> list[tuple[int, Any]]:
    """A NewOrderSingle's fields (side ``1`` buy, ``2`` sell)."""
    fields: list[tuple[int, Any]] = [(11, cl_ord_id), (55, symbol), (54, side),
                                     (60, timestamp()), (38, qty), (40, ord_type)]
    if price is not None:
        fields.append((44, price))
    if tif is not None:
        fields.append((59, tif))
    return fields + (extra or [])
