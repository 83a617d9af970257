"""The session without sockets or an event loop: a fake transport, a fake clock and a fake
gateway drive :class:`exchange.server.session.Session` with the JSON-lines codec.

What is checked: replies leave in request order however the slots are fulfilled; the codec,
not the gateway, gives a reply its request's ``ref``; an event pushed to many sessions is
encoded once per codec; the output bound drops a client that does not read and a stream
subscriber that falls behind, while backpressure only pauses a client's own replies; the
rate limit; the login deadline; the per-turn budget; quit; and the state table refusing
moves it does not hold. The subprocess end-to-end tests are the outer tier of the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from exchange.server.config import Limits
from exchange.server.frontends.lines import LinesCodec
from exchange.server.metrics import RequestMetrics
from exchange.server.port import Slot
from exchange.server.session import (
    MAX_LINES_PER_TURN,
    TRANSITIONS,
    IllegalSessionMove,
    Session,
    State,
)
from protocol import messages as M
from protocol import replies as R


class FakeTransport:
    """What a session calls on its connection; ``buffered`` plays the socket's unsent bytes."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.buffered = 0
        self.reading = True
        self.aborted = False
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("10.0.0.1", 4242) if name == "peername" else default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def write(self, data: bytes) -> None:
        self.written += data

    def writelines(self, list_of_data: list[bytes]) -> None:
        self.written += b"".join(list_of_data)

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def pause_reading(self) -> None:
        assert self.reading, "paused twice"
        self.reading = False

    def resume_reading(self) -> None:
        assert not self.reading, "resumed while reading"
        self.reading = True

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in bytes(self.written).splitlines()]


class FakeTimer:
    def __init__(self, at: float, callback: Callable[[], object]) -> None:
        self.at = at
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """Time that moves only when told; callbacks run only when told."""

    def __init__(self) -> None:
        self.now = 0.0
        self.soon: list[Callable[[], object]] = []
        self.timers: list[FakeTimer] = []

    def time(self) -> float:
        return self.now

    def call_soon(self, callback: Callable[[], object]) -> None:
        self.soon.append(callback)

    def call_later(self, delay: float, callback: Callable[[], object]) -> FakeTimer:
        timer = FakeTimer(self.now + delay, callback)
        self.timers.append(timer)
        return timer

    def next_turn(self) -> None:
        soon, self.soon = self.soon, []
        for callback in soon:
            callback()

    def advance(self, seconds: float) -> None:
        self.now += seconds
        due = [t for t in self.timers if t.at <= self.now and not t.cancelled]
        self.timers = [t for t in self.timers if t not in due]
        for timer in due:
            timer.callback()


class FakeGateway:
    """Answers ``ping`` itself (a local request); ``place`` opens a slot the test fulfils."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.metrics = RequestMetrics()
        self.dispatched: list[Any] = []
        self.slots: list[Slot] = []
        self.dirty: list[Session] = []
        self.closed: list[Session] = []

    def next_session_id(self) -> int:
        return 1

    def admit(self, session: Any) -> R.Error | None:
        return None

    def session_opened(self, session: Any) -> None:
        pass

    def session_closed(self, session: Any, exc: Exception | None) -> None:
        self.closed.append(session)

    def dispatch(self, session: Any, message: Any) -> None:
        self.dispatched.append(message)
        if isinstance(message, M.Place):
            self.slots.append(session.open_slot())
        elif isinstance(message, M.Quit):
            def bye() -> R.ReplyBase:
                session.close_after_flush()
                return R.Bye()
            session.local(bye)
        else:
            session.local(lambda: R.Pong(ts="t"))

    def mark_dirty(self, session: Any) -> None:
        self.dirty.append(session)

    def flush_early(self, session: Any) -> None:
        session.hand_over()

    def flush(self) -> None:
        dirty, self.dirty = self.dirty, []
        for session in dirty:
            session.flush()


Env = tuple[Session, FakeTransport, FakeGateway, FakeClock]


def make(limits: Limits | None = None, codec: LinesCodec | None = None) -> Env:
    gateway = FakeGateway(limits or Limits(outbound_buffer=10_000, login_timeout=0))
    clock = FakeClock()
    session = Session(gateway, 7, codec or LinesCodec(), clock)
    transport = FakeTransport()
    session.connection_made(transport)
    return session, transport, gateway, clock


def place(ref: int) -> bytes:
    return (b'{"op":"place","symbol":"AAPL","side":"buy","qty":"1","price":"1","ref":%d}\n'
            % ref)


def order(order_id: int) -> R.Order:
    return R.Order(order_id, None, "alice", "AAPL", "buy", "limit", "gtc", "1", None, "1",
                   "0", "1", None, "accepted", None, "2024-01-01T00:00:00Z", None)


def accepted(order_id: int) -> R.Accepted:
    return R.Accepted(order=order(order_id), fills=[])


# -- order and refs ---------------------------------------------------------------------------

def test_replies_leave_in_request_order_when_fulfilled_out_of_order() -> None:
    session, transport, gateway, _ = make()
    session.data_received(place(1) + place(2) + place(3))
    first, second, third = gateway.slots
    session.fulfil(third, accepted(3))
    session.fulfil(second, accepted(2))
    gateway.flush()
    assert transport.written == b""  # the first reply is still owed: nothing may pass it
    session.fulfil(first, accepted(1))
    gateway.flush()
    lines = transport.lines()
    assert [line["ref"] for line in lines] == [1, 2, 3]
    assert [line["order"]["order_id"] for line in lines] == [1, 2, 3]
    assert not session.slots and session.held == 0


def test_an_event_waits_behind_the_reply_still_owed() -> None:
    session, transport, gateway, _ = make()
    session.data_received(place(1))
    session.push(R.FillEvent(order=order(1), fill=R.Fill(
        1, "AAPL", "1", "1", 1, 2, "buy", "2024-01-01T00:00:00Z", 1, "buy", "maker", "0")))
    gateway.flush()
    assert transport.written == b""
    session.fulfil(gateway.slots[0], accepted(1))
    gateway.flush()
    assert [line["type"] for line in transport.lines()] == ["accepted", "fill"]
    assert "ref" not in transport.lines()[1]


def test_the_codec_stamps_the_requests_ref_on_the_reply() -> None:
    """The gateway builds replies without a ref; the slot carries it to the codec."""
    session, transport, gateway, _ = make()
    session.data_received(b'{"op":"ping","ref":"abc"}\n{"op":"ping"}\nping\n'
                          b'{"op":"ping","ref":17}\n')
    gateway.flush()
    lines = transport.lines()
    assert [line.get("ref", "none") for line in lines] == ["abc", "none", "none", 17]
    assert all(line["type"] == "pong" for line in lines)


def test_a_protocol_error_keeps_the_ref_it_could_recover() -> None:
    session, transport, gateway, _ = make()
    session.data_received(b'{"op":"nope","ref":5}\n')
    gateway.flush()
    [line] = transport.lines()
    assert line["type"] == "error" and line["code"] == "unknown_op" and line["ref"] == 5
    assert gateway.dispatched == []


class CountingCodec(LinesCodec):
    __slots__ = ("events",)

    def __init__(self) -> None:
        super().__init__()
        self.events = 0

    def encode_event(self, event: R.Message) -> bytes:
        if event is not self._last_event:
            self.events += 1
        return super().encode_event(event)


def test_an_event_pushed_to_many_sessions_is_encoded_once_per_codec() -> None:
    lines_a, lines_b = CountingCodec(), CountingCodec()
    envs = [make(codec=lines_a) for _ in range(3)] + [make(codec=lines_b) for _ in range(2)]
    trade = R.TradeEvent(trade=R.Trade(1, "AAPL", "1", "1", 1, 2, "buy",
                                       "2024-01-01T00:00:00Z"))
    for session, _, _, _ in envs:
        session.push_stream(trade)
    assert (lines_a.events, lines_b.events) == (1, 1)
    for _, transport, gateway, _ in envs:
        gateway.flush()
        assert transport.lines() == [{"type": "trade", "trade": {
            "trade_id": 1, "symbol": "AAPL", "price": "1", "qty": "1", "buy_order_id": 1,
            "sell_order_id": 2, "taker_side": "buy", "ts": "2024-01-01T00:00:00Z"}}]


# -- bounds -----------------------------------------------------------------------------------

def quote(n: int) -> R.QuoteReply:
    return R.QuoteReply(symbol="AAPL", bid=str(n), bid_qty="1", ask=None, ask_qty=None,
                        last=None, open=None, high=None, low=None, volume="0")


def test_a_stream_subscriber_that_does_not_read_is_dropped_others_keep_theirs() -> None:
    codec = LinesCodec()
    slow, slow_transport, slow_gateway, _ = make(codec=codec)
    fast, fast_transport, fast_gateway, _ = make(codec=codec)
    slow_transport.buffered = 9_950  # the slow client's socket holds what it did not read
    for n in range(10):
        for session in (slow, fast):
            session.push_stream(quote(n))
        fast_gateway.flush()
    assert slow.closed and slow.state is State.CLOSED and slow_transport.aborted
    assert slow_gateway.closed == [slow]
    assert not fast.closed and len(fast_transport.lines()) == 10


def test_a_client_that_does_not_read_is_paused_not_fed() -> None:
    """Its own replies are bounded by backpressure: past the high-water mark nothing more
    it sent is handled, so the output it holds stops growing."""
    session, transport, gateway, clock = make(Limits(outbound_buffer=40_000, login_timeout=0))
    transport.buffered = 20_000  # over the high-water mark (10,000)
    session.data_received(b"ping\n" * 2)
    assert not transport.reading
    session.data_received(b"ping\n" * 100)  # a read already under way still arrives
    clock.next_turn()
    gateway.flush()
    assert len(gateway.dispatched) == 2 and session.parked is not None
    assert not transport.aborted
    transport.buffered = 0
    session.resume_writing()
    clock.next_turn()
    assert len(gateway.dispatched) == 102 and transport.reading


def test_lines_past_the_turn_budget_wait_for_the_next_turn_in_order() -> None:
    session, transport, gateway, clock = make(Limits(outbound_buffer=1 << 30, login_timeout=0))
    n = 2 * MAX_LINES_PER_TURN + 10
    session.data_received(b"".join(b'{"op":"ping","ref":%d}\n' % i for i in range(n)))
    assert len(gateway.dispatched) == MAX_LINES_PER_TURN and not transport.reading
    clock.next_turn()
    assert len(gateway.dispatched) == 2 * MAX_LINES_PER_TURN
    clock.next_turn()
    assert [m.ref for m in gateway.dispatched] == list(range(n))
    assert transport.reading and not clock.soon


def test_the_rate_limit_refuses_past_the_bucket_and_refills_with_time() -> None:
    session, transport, gateway, clock = make(Limits(rate=2, login_timeout=0))
    session.data_received(b'{"op":"ping","ref":1}\n{"op":"ping","ref":2}\n'
                          b'{"op":"ping","ref":3}\n')
    clock.advance(0.5)  # one token back
    session.data_received(b'{"op":"ping","ref":4}\n{"op":"ping","ref":5}\n')
    gateway.flush()
    lines = transport.lines()
    assert [(line["type"], line["ref"]) for line in lines] == [
        ("pong", 1), ("pong", 2), ("error", 3), ("pong", 4), ("error", 5)]
    assert lines[2]["code"] == "rate_limited"
    assert [m.ref for m in gateway.dispatched] == [1, 2, 4]


def test_the_login_deadline_closes_an_idle_connection() -> None:
    session, transport, gateway, clock = make(Limits(login_timeout=5))
    clock.advance(4.9)
    assert not transport.written
    clock.advance(0.2)
    assert session.state is State.CLOSING
    gateway.flush()
    [line] = transport.lines()
    assert line["code"] == "auth_required" and "ref" not in line
    assert transport.closed


def test_the_login_deadline_spares_a_connection_in_use() -> None:
    session, _, _, clock = make(Limits(login_timeout=5))
    clock.advance(3)
    session.data_received(b"ping\n")
    clock.advance(3)  # the deadline passed, but the connection was used: checked again
    assert session.state is State.OPEN
    clock.advance(5)
    assert session.state is State.CLOSING


def test_quit_drops_what_follows_it_and_closes_after_bye() -> None:
    session, transport, gateway, _ = make()
    session.data_received(b"ping\nquit\nping\n")
    assert session.state is State.CLOSING
    gateway.flush()
    assert [line["type"] for line in transport.lines()] == ["pong", "bye"]
    assert len(gateway.dispatched) == 2 and transport.closed


def test_eof_answers_what_was_read_then_closes() -> None:
    session, transport, gateway, _ = make()
    session.data_received(place(1))
    session.eof_received()
    assert session.state is State.DRAINING
    gateway.flush()
    assert not transport.closed  # the reply is still owed
    session.fulfil(gateway.slots[0], accepted(1))
    gateway.flush()
    assert transport.lines()[0]["ref"] == 1 and transport.closed


# -- state ------------------------------------------------------------------------------------

@pytest.mark.parametrize("old", list(State))
@pytest.mark.parametrize("new", list(State))
def test_a_state_move_is_allowed_only_if_the_table_holds_it(old: State, new: State) -> None:
    session, _, _, _ = make()
    session.state = old
    if new in TRANSITIONS[old]:
        session.set_state(new)
        assert session.state is new
        assert session.closed == (new in (State.CLOSED, State.REFUSED))
    else:
        with pytest.raises(IllegalSessionMove, match=f"from {old.value} to {new.value}"):
            session.set_state(new)
        assert session.state is old


def test_a_closed_session_does_not_reopen_or_write() -> None:
    session, transport, gateway, _ = make()
    session.data_received(place(1))
    session.connection_lost(None)
    assert session.state is State.CLOSED and gateway.closed == [session]
    session.fulfil(gateway.slots[0], accepted(1))
    session.push(quote(1))
    gateway.flush()
    assert transport.written == b""
    with pytest.raises(IllegalSessionMove):
        session.set_state(State.OPEN)
