"""Sans-IO tests of a session's bounds: a fake transport and a fake gateway, no socket.

What is checked: the output bound is applied on every stream write, before anything is
copied; backpressure pauses and resumes reading through the transport's callbacks; at
most MAX_LINES_PER_TURN lines are handled per callback and the rest on later turns, in
order; connection refusals never become sessions.

The session is given a codec that writes bytes as they are (``BytesCodec``), so that
what is pushed and counted here is exactly the bytes given.
"""

from __future__ import annotations

import asyncio
from typing import Any

from exchange.server.config import Limits
from exchange.server.metrics import RequestMetrics
from exchange.server.session import MAX_LINES_PER_TURN, Session, State
from protocol.codec import decode_request
from protocol.framing import LineBuffer


class FakeTransport:
    """Just what a Session calls; ``buffered`` plays the socket's unsent bytes."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.buffered = 0
        self.reading = True
        self.pauses = 0
        self.aborted = False
        self.closed = False
        self.limits: tuple[int, int] | None = None

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 5555) if name == "peername" else None

    def set_write_buffer_limits(self, high: int, low: int) -> None:
        self.limits = (high, low)

    def write(self, data: bytes) -> None:
        self.written += data

    def writelines(self, data: list[bytes]) -> None:
        self.written += b"".join(data)

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def pause_reading(self) -> None:
        assert self.reading, "paused twice"
        self.reading = False
        self.pauses += 1

    def resume_reading(self) -> None:
        assert not self.reading, "resumed while reading"
        self.reading = True

    def abort(self) -> None:
        self.aborted = True

    def close(self) -> None:
        self.closed = True


class BytesCodec:
    """JSON lines in (the real framing and decoder), bytes out as given."""

    framer = LineBuffer
    decode = staticmethod(decode_request)

    @staticmethod
    def encode_reply(reply: bytes, ref: Any) -> bytes:
        return reply

    @staticmethod
    def encode_event(event: bytes) -> bytes:
        return event


class FakeGateway:
    """Records what the session hands it; answers every request with one line."""

    def __init__(self, limits: Limits, refuse: bytes | None = None) -> None:
        self.limits = limits
        self.metrics = RequestMetrics()
        self.refuse = refuse
        self.dispatched: list[Any] = []
        self.dirty: list[Session] = []
        self.opened: list[Session] = []
        self.closed: list[Session] = []
        self.reply = b'{"type":"pong"}\n'

    def admit(self, session: Session) -> bytes | None:
        return self.refuse

    def session_opened(self, session: Session) -> None:
        self.opened.append(session)

    def session_closed(self, session: Session, exc: Exception | None) -> None:
        self.closed.append(session)

    def mark_dirty(self, session: Session) -> None:
        self.dirty.append(session)

    def flush_early(self, session: Session) -> None:
        session.hand_over()

    def dispatch(self, session: Session, message: Any) -> None:
        self.dispatched.append(message)
        session.reply_now(self.reply)

    def flush(self) -> None:
        dirty, self.dirty = self.dirty, []
        for session in dirty:
            session.flush()


def make(limits: Limits | None = None,
         refuse: bytes | None = None) -> tuple[Session, FakeTransport, FakeGateway]:
    gateway = FakeGateway(limits or Limits(outbound_buffer=10_000, login_timeout=0), refuse)
    session = Session(gateway, 1, BytesCodec(),  # type: ignore[arg-type]
                      asyncio.get_running_loop())
    transport = FakeTransport()
    session.connection_made(transport)  # type: ignore[arg-type]
    return session, transport, gateway


async def test_stream_write_past_the_bound_drops_before_copying() -> None:
    session, transport, gateway = make()
    transport.buffered = 9_990  # what the socket has not taken
    session.push_stream(b"x" * 9 + b"\n")  # exactly at the bound: kept
    assert not transport.aborted and session.out_size == 10
    session.push_stream(b"y\n")  # one more byte than the bound
    assert transport.aborted and session.closed
    assert gateway.closed == [session]
    assert not session.out  # nothing was copied for the refused write


async def test_bytes_held_behind_an_owed_reply_count_against_the_bound() -> None:
    session, transport, _ = make()
    slot = session.open_slot()  # a reply owed by an actor: pushes queue behind it
    session.push_stream(b"a" * 6_000)
    assert session.held == 6_000 and not transport.aborted
    session.push_stream(b"b" * 5_000)  # 11,000 held in all: over 10,000
    assert transport.aborted
    assert slot.data is None  # the session is gone; nothing more is queued


async def test_one_message_bigger_than_the_bound_goes_when_nothing_is_held() -> None:
    session, transport, _ = make()
    session.push_stream(b"z" * 50_000)
    assert not transport.aborted
    # So big a turn's output goes to the socket at once, not at the end of the turn.
    assert len(transport.written) == 50_000 and not session.out


async def test_replies_are_never_dropped_but_pause_reading() -> None:
    """A client's own replies are bounded by backpressure: past the high-water mark it
    stops being read, and it is read again once the transport has drained."""
    session, transport, gateway = make()
    high = session.high_water
    assert transport.limits == (high, high // 2)
    transport.buffered = 3 * 10_000  # far over outbound_buffer: the client reads slowly
    session.data_received(b"ping\n")
    assert not transport.aborted and not transport.reading
    # The transport tells the session when its buffer passed and left the high-water mark.
    session.pause_writing()
    transport.buffered = high // 2
    gateway.flush()  # hands `out` over; still paused: the transport has not resumed
    assert not transport.reading
    session.resume_writing()
    assert transport.reading
    assert transport.written.count(b"pong") == 1


async def test_lines_per_turn_are_bounded_and_the_rest_follow_in_order() -> None:
    session, transport, gateway = make(Limits(outbound_buffer=1 << 30, login_timeout=0))
    n = 3 * MAX_LINES_PER_TURN + 7
    data = b"".join(b'{"op":"ping","ref":%d}\n' % i for i in range(n))
    session.data_received(data)
    assert len(gateway.dispatched) == MAX_LINES_PER_TURN
    assert not transport.reading  # the rest waits: nothing more is read meanwhile
    for turn in range(2, 5):
        await asyncio.sleep(0)  # one event-loop turn
        assert len(gateway.dispatched) == min(n, turn * MAX_LINES_PER_TURN)
    assert [m.ref for m in gateway.dispatched] == list(range(n))
    assert transport.reading and transport.pauses == 1


async def test_eof_after_parked_lines_answers_them_all_then_closes() -> None:
    session, transport, gateway = make(Limits(outbound_buffer=1 << 30, login_timeout=0))
    n = MAX_LINES_PER_TURN + 3
    session.data_received(b"ping\n" * n)
    session.eof_received()
    assert session.state is not State.CLOSING  # lines read before the EOF are still owed
    await asyncio.sleep(0)
    assert len(gateway.dispatched) == n
    gateway.flush()
    assert transport.closed and transport.written.count(b"pong") == n


async def test_a_refused_connection_gets_its_line_and_never_becomes_a_session() -> None:
    session, transport, gateway = make(refuse=b'{"type":"error","code":"server_busy"}\n')
    assert transport.written == b'{"type":"error","code":"server_busy"}\n'
    assert transport.closed and session.closed
    assert gateway.opened == []
    session.connection_lost(None)
    assert gateway.closed == []


async def test_a_local_request_waits_for_the_output_to_drain_then_runs() -> None:
    """Requests the server answers itself run only while the output is under the
    high-water mark; what is held behind one does not keep it from running."""
    session, transport, gateway = make()
    owed = session.open_slot()  # an actor's reply still owed
    ran: list[int] = []

    def work() -> bytes:
        ran.append(1)
        return b"LOCAL\n"

    session.local(work)
    session.push(b"e" * 3_000 + b"\n")  # an own-order event, held behind both
    transport.buffered = 5_000  # the client is slow: over the high-water mark (2,500)
    session.fulfil(owed, b"ACTOR\n")
    assert ran == [] and session.slots  # the local request waits
    transport.buffered = 0
    session.resume_writing()  # the transport drained
    assert ran == [1] and not session.slots and session.held == 0
    gateway.flush()
    assert transport.written.startswith(b"ACTOR\nLOCAL\neee")
    assert not transport.aborted
