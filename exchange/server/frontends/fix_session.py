"""The FIX 4.4 session layer over the shared session, sans-IO.

:class:`FixSession` is a :class:`~exchange.server.session.Session` (replies in request
order, backpressure, bounds, the login deadline) whose frames are FIX messages. It adds
what FIX's session level requires, none of which reaches the gateway:

- **Logon** first: SenderCompID is the user, Password(554) the token, TargetCompID the
  acceptor's CompID. It goes to the gateway as a ``Login``, so it is throttled and
  logged as a JSON-lines login is; a refusal is a Logout with the reason, then the close.
  One session per CompID at a time. ResetSeqNumFlag(141)=Y starts both sides at 1.
- **Sequence numbers**: a message numbered above the next expected one is dropped and a
  ResendRequest asks for everything from the expected one (the peer resends it); one
  numbered below it is a Logout unless it is a PossDupFlag resend (then it is ignored).
- **ResendRequest** is answered from the store: application messages again, with
  PossDupFlag=Y and OrigSendingTime, session messages as SequenceReset-GapFill.
- **SequenceReset** in both modes, **Heartbeat** and **TestRequest** on the negotiated
  HeartBtInt (a peer silent for HeartBtInt x 1.2 gets a TestRequest, and is logged out if
  it stays silent for another HeartBtInt), **Logout** both ways, session-level **Reject**
  (RefSeqNum, RefTagID, RefMsgType, SessionRejectReason, Text) for a malformed message.
- Garbled messages (bad BodyLength or CheckSum) are ignored, as FIX requires: their
  number is not taken, so the next message shows the gap.

Outgoing bodies get their header and number as they are written (:meth:`_write`), so the
wire's order is the numbers' order whatever order the replies were ready in.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from exchange.server.frontends import fix_codec as F
from exchange.server.frontends import fix_wire as W
from exchange.server.frontends.fix_store import FileStore, MemoryStore, store_folder
from exchange.server.port import GatewayPort, Slot
from exchange.server.session import Clock, Session, State
from protocol import messages as M
from protocol import replies as R
from protocol.fields import MAX_TOKEN_LEN, MAX_USER_LEN

log = logging.getLogger("exchange.fix")

LOGON_WAIT: Final = 8
"""A pause reason beside the session's own: nothing more is read while a Logon is being
checked, since what follows it is numbered in the session the Logon opens."""
TEST_REQUEST_GRACE: Final = 1.2
"""A peer silent for HeartBtInt times this gets a TestRequest (FIX's "reasonable
transmission time" of 20%)."""
MAX_HEART_BT_INT: Final = 3600
"""The longest HeartBtInt accepted, in seconds."""
_ADMIN_BYTES: Final = b"012345A"


class Acceptor:
    """What the sessions of one FIX listener share: the CompID, each client's store and
    ClOrdIDs, which sessions are logged on, and the encoder (so a fan-out is encoded
    once and ExecIDs are unique across sessions)."""

    def __init__(self, comp_id: str = "EXCHANGE", data_dir: Path | None = None) -> None:
        self.comp_id = comp_id
        self.data_dir = data_dir
        self.stores: dict[str, MemoryStore] = {}
        self.ids: dict[str, F.ClOrdIds] = {}
        self.active: dict[str, FixSession] = {}
        self.encoder = F.Encoder(self.ids_of)
        self.sessions: set[FixSession] = set()

    def ids_of(self, user: str) -> F.ClOrdIds:
        ids = self.ids.get(user)
        if ids is None:
            ids = self.ids[user] = F.ClOrdIds()
        return ids

    def store_for(self, client: str) -> MemoryStore:
        store = self.stores.get(client)
        if store is None:
            store = (MemoryStore() if self.data_dir is None
                     else FileStore(store_folder(self.data_dir, self.comp_id, client)))
            self.stores[client] = store
        return store

    def close(self) -> None:
        for store in self.stores.values():
            store.close()


class _Codec:
    """The session's ``Codec``: FIX frames in, bodies out (framed by the session)."""

    __slots__ = ("encode_event", "encode_reply")

    framer = W.Framer

    def __init__(self, encoder: F.Encoder) -> None:
        self.encode_reply = encoder.encode_reply
        self.encode_event = encoder.encode_event

    @staticmethod
    def decode(frame: Any) -> Any:  # pragma: no cover - FixSession.handle_line decodes
        return None


class FixSession(Session):
    """One FIX connection (see the module doc)."""

    frontend = "fix"

    def __init__(self, gateway: GatewayPort, session_id: int, acceptor: Acceptor,
                 clock: Clock, wall: W.WallClock | None = None) -> None:
        super().__init__(gateway, session_id, _Codec(acceptor.encoder), clock)
        self.acceptor = acceptor
        self.encoder = acceptor.encoder
        self.wall = wall or W.WallClock()
        self.store: MemoryStore = MemoryStore()
        """Until a Logon succeeds, a store of its own: an unauthenticated peer must not
        move a real session's numbers."""
        self.client: str | None = None
        self.logged_on = False
        self.logon_pending = False
        self.logout_sent = False
        self.heart_bt_int = 0
        self.last_sent = 0.0
        self.last_received = 0.0
        self.test_sent: float | None = None
        self.test_ids = itertools.count(1)
        self.resend_asked = 0
        """The highest number seen when a ResendRequest went out (0: none outstanding):
        further gaps below it are already asked for."""
        self.timer: Any = None
        self._header = b"49=%s\x0156=UNKNOWN\x01" % acceptor.comp_id.encode()
        self._encode_reply = self._encode_for_wire
        self._encode_app = _encode_logon(acceptor.encoder.encode_reply)
        acceptor.sessions.add(self)

    # -- output: header, number, store -------------------------------------------------------
    def _encode_for_wire(self, reply: Any, ref: Any) -> bytes:
        data = self._encode_app(reply, ref)
        if self.state is State.REFUSED:
            # Over a connection limit: written straight to the transport, so framed here.
            return self._frame_all(data)
        return data

    def _frame_all(self, data: bytes) -> bytes:
        store = self.store
        stamp = self.wall.stamp()
        header = self._header
        if data[-1:] == W.SOH and data.find(b"\x0135=") < 0:
            seq = store.next_out
            store.next_out = seq + 1
            if not (data[4] == 1 and data[3] in _ADMIN_BYTES):
                store.add(seq, stamp, data)
            return W.frame(data, header, seq, stamp)
        out = []
        for piece in W.split_bodies(data):
            seq = store.next_out
            store.next_out = seq + 1
            if not (piece[4] == 1 and piece[3] in _ADMIN_BYTES):
                store.add(seq, stamp, piece)
            out.append(W.frame(piece, header, seq, stamp))
        return b"".join(out)

    def _write(self, data: bytes) -> None:
        if not data or self.closed or self.logout_sent:
            return  # nothing follows our Logout
        if data.startswith(b"35=5\x01"):
            self.logout_sent = True
        data = self._frame_all(data)
        self.last_sent = self.clock.time()
        super()._write(data)

    def send(self, data: bytes) -> None:
        """A session-level message of our own, now (its number is taken as it is written)."""
        self._write(data)

    def flush(self) -> None:
        self.store.flush()
        super().flush()

    # -- input --------------------------------------------------------------------------------
    def handle_line(self, line: Any) -> None:
        if type(line) is W.Garbled:
            log.warning("fix session %d (%s): garbled message ignored: %s", self.id,
                        self.peer, line.why)
            return
        msg: W.Message = line
        now = self.clock.time()
        self.last_received = now
        self.test_sent = None
        fields = msg.fields
        seq_text = fields.get(W.MSG_SEQ_NUM)
        if (fields.get(8) != "FIX.4.4" or seq_text is None or not seq_text.isdigit()
                or not msg.msg_type):
            self._logout_and_close("MsgSeqNum(34) missing or not a number"
                                   if seq_text is None or not seq_text.isdigit()
                                   else "BeginString or MsgType wrong")
            return
        seq = int(seq_text)
        msg_type = msg.msg_type
        if not self.logged_on:
            if msg_type != W.LOGON or self.logon_pending:
                self._logout_and_close("the first message must be a Logon")
                return
            self._logon(msg, seq)
            return
        if (fields.get(W.SENDER_COMP_ID) != self.client
                or fields.get(W.TARGET_COMP_ID) != self.acceptor.comp_id):
            self._reject(seq, msg_type, W.SENDER_COMP_ID, W.COMP_ID_PROBLEM, "CompID problem")
            self._logout_and_close("SenderCompID or TargetCompID wrong")
            return
        store = self.store
        if msg_type == W.SEQUENCE_RESET and fields.get(W.GAP_FILL_FLAG) != "Y":
            self._sequence_reset(msg, seq)
            return
        expected = store.next_in
        if seq > expected:
            if msg_type == W.LOGOUT:
                self._peer_logout(fields)
                return
            if msg_type == W.RESEND_REQUEST:
                self._resend_request(msg, seq)
            self._ask_resend(expected, seq)
            return
        poss_dup = fields.get(W.POSS_DUP_FLAG) == "Y"
        if seq < expected:
            if poss_dup:
                return  # a resend of what was handled already
            self._logout_and_close(f"MsgSeqNum too low, expecting {expected} but "
                                   f"received {seq}")
            return
        store.next_in = seq + 1
        if self.resend_asked and seq >= self.resend_asked:
            self.resend_asked = 0
        if msg.problem is not None:
            tag, reason, text = msg.problem
            self._reject(seq, msg_type, tag, reason, text)
            return
        if poss_dup and W.ORIG_SENDING_TIME not in fields:
            self._reject(seq, msg_type, W.ORIG_SENDING_TIME, W.REQUIRED_TAG_MISSING,
                         "Required tag missing: OrigSendingTime(122)")
            return
        if msg_type in F.SUPPORTED:
            self._application(msg, seq)
        elif msg_type == W.HEARTBEAT:
            pass
        elif msg_type == W.TEST_REQUEST:
            test_id = fields.get(W.TEST_REQ_ID)
            if test_id is None:
                self._reject(seq, msg_type, W.TEST_REQ_ID, W.REQUIRED_TAG_MISSING,
                             "Required tag missing: TestReqID(112)")
            else:
                self.send(W.body(W.HEARTBEAT, (W.TEST_REQ_ID, test_id)))
        elif msg_type == W.RESEND_REQUEST:
            self._resend_request(msg, seq)
        elif msg_type == W.SEQUENCE_RESET:
            self._gap_fill(msg, seq)
        elif msg_type == W.LOGOUT:
            self._peer_logout(fields)
        elif msg_type == W.REJECT:
            log.info("fix session %d (%s): the peer rejected our %s: %s", self.id,
                     self.client, fields.get(W.REF_SEQ_NUM), fields.get(W.TEXT))
        elif msg_type == W.LOGON:
            self._reject(seq, msg_type, W.MSG_TYPE, W.VALUE_INCORRECT,
                         "already logged on")
        elif msg_type in F.FIX44_TYPES:
            self.send(W.body(W.BUSINESS_MESSAGE_REJECT, (W.REF_SEQ_NUM, seq),
                             (W.REF_MSG_TYPE, msg_type), (W.BUSINESS_REJECT_REASON, 3),
                             (W.TEXT, f"unsupported message type {msg_type}")))
        else:
            self._reject(seq, msg_type, W.MSG_TYPE, W.INVALID_MSG_TYPE,
                         f"Invalid MsgType {msg_type!r}")

    def _application(self, msg: W.Message, seq: int) -> None:
        assert self.client is not None
        fields = msg.fields
        ids = self.acceptor.ids_of(self.client)
        ref = F.Ref(msg.msg_type, seq, fields, ids)
        self.activity += 1
        if self.rate and not self._take_token():
            self.send(self.encoder.encode_error(
                "rate_limited", f"rate: more than {self.rate:g} requests per second", ref))
            return
        request = F.decode(msg.msg_type, fields, ids)
        if type(request) is F.Refusal:
            if request.tag is not None:
                assert request.reason is not None
                self._reject(seq, msg.msg_type, request.tag, request.reason, request.text)
            else:
                self.metrics.error(None, request.code)
                self.send(self.encoder.encode_error(request.code, request.text, ref))
            return
        if type(request) is M.CancelAll:
            ref.then = self._mass_follow_ups
        elif type(request) is M.Cancel or type(request) is M.Modify:
            ref.kind = "claimed"  # its new ClOrdID is taken back if it fails
        self.ref = ref
        self.op = type(request)
        self.gateway.dispatch(self, request)

    def fulfil(self, slot: Slot, reply: Any) -> None:
        ref = slot.ref
        if type(ref) is F.Ref and ref.msg_type == W.LOGON:
            self._logon_answered(slot, ref, reply)
            return
        super().fulfil(slot, reply)
        if type(ref) is F.Ref and ref.then is not None and type(reply) is R.CanceledAll:
            ref.then(reply.order_ids)

    def _mass_follow_ups(self, order_ids: list[int]) -> None:
        """After a mass cancel, one ExecutionReport Canceled per order, as FIX expects:
        the reply names only the ids, so each order's state is asked for."""
        if self.closed or self.client is None:
            return
        ids = self.acceptor.ids_of(self.client)
        saved = self.ref
        for order_id in order_ids:
            ref = F.Ref(W.ORDER_STATUS_REQUEST, 0, {}, ids)
            ref.kind = "mass_follow"
            self.ref = ref
            self.gateway.dispatch(self, M.Status(order_id=order_id))
        self.ref = saved

    # -- logon --------------------------------------------------------------------------------
    def _logon(self, msg: W.Message, seq: int) -> None:
        fields = msg.fields
        client = fields.get(W.SENDER_COMP_ID, "")
        if client:
            self._header = b"49=%s\x0156=%s\x01" % (self.acceptor.comp_id.encode(),
                                                   client.encode())
        if msg.problem is not None:
            self._logout_and_close(msg.problem[2])
            return
        if fields.get(W.TARGET_COMP_ID) != self.acceptor.comp_id:
            self._logout_and_close(f"TargetCompID(56) must be {self.acceptor.comp_id}")
            return
        if fields.get(W.ENCRYPT_METHOD) != "0":
            self._logout_and_close("EncryptMethod(98) must be 0 (none)")
            return
        hb = fields.get(W.HEART_BT_INT)
        if hb is None or not hb.isdigit() or int(hb) > MAX_HEART_BT_INT:
            self._logout_and_close(f"HeartBtInt(108) must be 0 to {MAX_HEART_BT_INT}")
            return
        password = fields.get(W.PASSWORD, "")
        if not client or len(client) > MAX_USER_LEN or len(password) > MAX_TOKEN_LEN:
            self._logout_and_close("SenderCompID(49) or Password(554) missing or too long")
            return
        active = self.acceptor.active.get(client)
        if active is not None and not active.closed:
            self._logout_and_close(f"a session for {client} is logged on already")
            return
        self.acceptor.active[client] = self
        self.client = client
        self.heart_bt_int = int(hb)
        self.logon_pending = True
        self._pause(LOGON_WAIT)
        ref = F.Ref(W.LOGON, seq, fields, None)
        self.ref = ref
        self.gateway.dispatch(self, M.Login(user=client, token=password))

    def _logon_answered(self, slot: Slot, ref: F.Ref, reply: Any) -> None:
        self.logon_pending = False
        client = self.client
        assert client is not None
        if type(reply) is not R.Welcome:
            self._release()
            text = (f"{reply.code}: {reply.message}" if type(reply) is R.Error
                    else "logon refused")
            Session.fulfil(self, slot, _Logout(text=text))
            self.end_input()
            self.close_after_flush()
            return
        store = self.acceptor.store_for(client)
        reset = ref.fields.get(W.RESET_SEQ_NUM_FLAG) == "Y"
        if reset:
            store.reset()
        seq = ref.seq
        expected = store.next_in
        if seq < expected:
            self.store = store
            Session.fulfil(self, slot, _Logout(
                text=f"MsgSeqNum too low, expecting {expected} but received {seq}"))
            self._release()
            self.end_input()
            self.close_after_flush()
            return
        self.store = store
        self.logged_on = True
        if seq == expected:
            store.next_in = seq + 1
        log.info("fix session %d (%s) logged on as %r, HeartBtInt %d%s", self.id, self.peer,
                 client, self.heart_bt_int, ", sequence numbers reset" if reset else "")
        Session.fulfil(self, slot, _LogonAck(self.heart_bt_int, reset))
        if seq > expected:
            self._ask_resend(expected, seq)
        self._unpause(LOGON_WAIT)
        self._arm()

    def _release(self) -> None:
        if self.client is not None and self.acceptor.active.get(self.client) is self:
            del self.acceptor.active[self.client]

    # -- session messages ---------------------------------------------------------------------
    def _reject(self, seq: int, msg_type: str, tag: int, reason: int, text: str) -> None:
        self.send(W.body(W.REJECT, (W.REF_SEQ_NUM, seq),
                         (W.REF_TAG_ID, tag if tag > 0 else None),
                         (W.REF_MSG_TYPE, msg_type or None),
                         (W.SESSION_REJECT_REASON, reason), (W.TEXT, text)))

    def _logout_and_close(self, text: str) -> None:
        log.warning("fix session %d (%s): logout: %s", self.id, self.client or self.peer, text)
        self.send(W.body(W.LOGOUT, (W.TEXT, text)))
        self._release()
        self.end_input()
        self.close_after_flush()

    def _peer_logout(self, fields: dict[int, str]) -> None:
        if not self.logout_sent:
            self.send(W.body(W.LOGOUT))
        self._release()
        self.end_input()
        self.close_after_flush()

    def _ask_resend(self, expected: int, seen: int) -> None:
        if self.resend_asked and expected <= self.resend_asked:
            return  # asked already; the peer's resend is on its way
        self.resend_asked = seen
        self.send(W.body(W.RESEND_REQUEST, (W.BEGIN_SEQ_NO, expected), (W.END_SEQ_NO, 0)))

    def _sequence_reset(self, msg: W.Message, seq: int) -> None:
        """SequenceReset-Reset: the number is taken as given, whatever MsgSeqNum says."""
        new = msg.fields.get(W.NEW_SEQ_NO)
        if new is None or not new.isdigit():
            self._reject(seq, W.SEQUENCE_RESET, W.NEW_SEQ_NO, W.REQUIRED_TAG_MISSING,
                         "Required tag missing: NewSeqNo(36)")
            return
        if int(new) < self.store.next_in:
            self._reject(seq, W.SEQUENCE_RESET, W.NEW_SEQ_NO, W.VALUE_INCORRECT,
                         f"NewSeqNo(36) {new} is below the next expected "
                         f"{self.store.next_in}")
            return
        self.store.next_in = int(new)
        self.resend_asked = 0

    def _gap_fill(self, msg: W.Message, seq: int) -> None:
        new = msg.fields.get(W.NEW_SEQ_NO)
        if new is None or not new.isdigit() or int(new) <= seq:
            self._reject(seq, W.SEQUENCE_RESET, W.NEW_SEQ_NO, W.VALUE_INCORRECT,
                         "NewSeqNo(36) must be above MsgSeqNum(34) in a gap fill")
            return
        self.store.next_in = int(new)
        if self.resend_asked and int(new) > self.resend_asked:
            self.resend_asked = 0

    def _resend_request(self, msg: W.Message, seq: int) -> None:
        fields = msg.fields
        begin_text, end_text = fields.get(W.BEGIN_SEQ_NO), fields.get(W.END_SEQ_NO)
        if begin_text is None or end_text is None:
            tag = W.BEGIN_SEQ_NO if begin_text is None else W.END_SEQ_NO
            self._reject(seq, W.RESEND_REQUEST, tag, W.REQUIRED_TAG_MISSING,
                         f"Required tag missing: {tag}")
            return
        if not begin_text.isdigit() or not end_text.isdigit():
            self._reject(seq, W.RESEND_REQUEST, W.BEGIN_SEQ_NO, W.INCORRECT_DATA_FORMAT,
                         "BeginSeqNo(7) and EndSeqNo(16) must be numbers")
            return
        store = self.store
        last = store.next_out - 1
        begin = max(int(begin_text), 1)
        end = int(end_text)
        if end == 0 or end > last:
            end = last
        if begin > end:
            return
        stamp = self.wall.stamp()
        header = self._header
        pieces = []
        gap = begin
        for number, sent_at, data in store.sent(begin, end):
            if number > gap:
                pieces.append(self._gap_fill_message(gap, number, stamp))
            pieces.append(W.frame(data, header, number, stamp, poss_dup=sent_at))
            gap = number + 1
        if gap <= end:
            pieces.append(self._gap_fill_message(gap, end + 1, stamp))
        log.info("fix session %d (%s): resending %d..%d", self.id, self.client, begin, end)
        self.last_sent = self.clock.time()
        Session._write(self, b"".join(pieces))

    def _gap_fill_message(self, seq: int, new: int, stamp: bytes) -> bytes:
        return W.frame(W.body(W.SEQUENCE_RESET, (W.GAP_FILL_FLAG, "Y"), (W.NEW_SEQ_NO, new)),
                       self._header, seq, stamp, poss_dup=stamp)

    # -- heartbeats ---------------------------------------------------------------------------
    def _arm(self) -> None:
        hb = self.heart_bt_int
        if hb <= 0 or self.closed:
            return
        now = self.clock.time()
        due = self.last_sent + hb
        if self.test_sent is not None:
            due = min(due, self.test_sent + hb)
        else:
            due = min(due, self.last_received + hb * TEST_REQUEST_GRACE)
        self.timer = self.clock.call_later(max(due - now, 0.01), self._beat)

    def _beat(self) -> None:
        self.timer = None
        if self.closed or not self.logged_on or self.quit:
            return
        hb = self.heart_bt_int
        now = self.clock.time()
        if self.test_sent is not None and now - self.test_sent >= hb:
            self._logout_and_close(f"no message within {hb} s of a TestRequest "
                                   "(heartbeat timeout)")
            return
        if self.test_sent is None and now - self.last_received >= hb * TEST_REQUEST_GRACE:
            self.send(W.body(W.TEST_REQUEST, (W.TEST_REQ_ID, f"T{next(self.test_ids)}")))
            self.test_sent = now
        elif now - self.last_sent >= hb:
            self.send(W.body(W.HEARTBEAT))
        self._arm()

    # -- the connection -----------------------------------------------------------------------
    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self._release()
        self.acceptor.sessions.discard(self)
        self.store.flush()
        super().connection_lost(exc)

    def close(self) -> None:
        """Shutdown: a Logout first, so the peer knows the session ended on purpose."""
        if self.logged_on and not self.logout_sent and not self.closed:
            self.send(W.body(W.LOGOUT, (W.TEXT, "the exchange is shutting down")))
            self.store.flush()
            self.hand_over()
        super().close()


class _LogonAck(R.ReplyBase, tag="fix_logon"):
    """The Logon reply as the session hands it to its codec (not a protocol message)."""

    heart_bt_int: int
    reset: bool


class _Logout(R.ReplyBase, tag="fix_logout"):
    """A Logon's refusal as the session hands it to its codec: a Logout with ``text``."""

    text: str


def _encode_logon(encode: Callable[[Any, Any], bytes]) -> Callable[[Any, Any], bytes]:
    """The encoder's ``encode_reply`` with the Logon reply and logon errors added."""
    def encode_reply(reply: Any, ref: Any) -> bytes:
        if type(reply) is _LogonAck:
            return W.body(W.LOGON, (W.ENCRYPT_METHOD, 0), (W.HEART_BT_INT, reply.heart_bt_int),
                          (W.RESET_SEQ_NUM_FLAG, "Y" if reply.reset else None))
        if type(reply) is _Logout:
            return W.body(W.LOGOUT, (W.TEXT, reply.text))
        if type(reply) is R.Error and (ref is None or ref.msg_type == W.LOGON):
            return W.body(W.LOGOUT, (W.TEXT, f"{reply.code}: {reply.message}"))
        return encode(reply, ref)
    return encode_reply
