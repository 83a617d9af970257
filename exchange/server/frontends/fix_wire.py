"""FIX 4.4 on the wire, sans-IO: framing, parsing, checksums, timestamps, building messages.

Nothing here knows about sessions or orders. The framer splits a byte stream into
messages the way a FIX engine must: a message starts with ``8=FIX.4.4<SOH>9=<len><SOH>``,
``BodyLength`` bytes later comes ``10=<ddd><SOH>``, and the checksum is the sum of every
byte before the ``10=`` field, modulo 256. A message whose BodyLength does not land on the
checksum field, or whose checksum is wrong, is *garbled*: FIX says to ignore it as if it
had never arrived (its sequence number is not taken, so the next good message shows the
gap and the session layer asks for a resend).

The framer is bounded: a message is at most :data:`MAX_MESSAGE` bytes, and junk in front
of a message is skipped, so that nothing a peer sends makes the buffer grow without end.

Outgoing messages are built in two steps, so that sequence numbers follow the order in
which messages reach the wire, not the order in which they were encoded: an *encoder*
makes a **body** (``35=<type><SOH>`` and the application fields, each ending in SOH), and
the session *frames* it when it writes it (:func:`frame`: the header with CompIDs, the
sequence number and SendingTime, BodyLength and CheckSum). The bodies of several messages
may travel concatenated as one ``bytes``; :func:`split_bodies` takes them apart.

simplefix (PyPI) was considered for this and serves the tests as an independent encoder,
but its parser walks the buffer byte by byte in Python, does not check BodyLength or the
checksum, and would be the slowest part of the order path.
"""

from __future__ import annotations

import re
import time
import zlib
from datetime import UTC, datetime
from typing import Final

SOH: Final = b"\x01"
BEGIN_STRING: Final = b"FIX.4.4"
_PREFIX: Final = b"8=FIX.4.4\x019="
MAX_MESSAGE: Final = 64 * 1024
"""Bytes one message may have, header and trailer included: far above any message the
gateway accepts (a NewOrderSingle is ~200 bytes), and the framer's memory bound."""

# -- tags -------------------------------------------------------------------------------
ACCOUNT: Final = 1
AVG_PX: Final = 6
BEGIN_SEQ_NO: Final = 7
BODY_LENGTH: Final = 9
CHECKSUM: Final = 10
CL_ORD_ID: Final = 11
CUM_QTY: Final = 14
END_SEQ_NO: Final = 16
EXEC_ID: Final = 17
EXEC_INST: Final = 18
LAST_PX: Final = 31
LAST_QTY: Final = 32
MSG_SEQ_NUM: Final = 34
MSG_TYPE: Final = 35
NEW_SEQ_NO: Final = 36
ORDER_ID: Final = 37
ORDER_QTY: Final = 38
ORD_STATUS: Final = 39
ORD_TYPE: Final = 40
ORIG_CL_ORD_ID: Final = 41
POSS_DUP_FLAG: Final = 43
PRICE: Final = 44
REF_SEQ_NUM: Final = 45
SENDER_COMP_ID: Final = 49
SENDING_TIME: Final = 52
SIDE: Final = 54
SYMBOL: Final = 55
TARGET_COMP_ID: Final = 56
TEXT: Final = 58
TIME_IN_FORCE: Final = 59
TRANSACT_TIME: Final = 60
POSS_RESEND: Final = 97
ENCRYPT_METHOD: Final = 98
STOP_PX: Final = 99
CXL_REJ_REASON: Final = 102
ORD_REJ_REASON: Final = 103
HEART_BT_INT: Final = 108
TEST_REQ_ID: Final = 112
ORIG_SENDING_TIME: Final = 122
GAP_FILL_FLAG: Final = 123
EXPIRE_TIME: Final = 126
RESET_SEQ_NUM_FLAG: Final = 141
EXEC_TYPE: Final = 150
LEAVES_QTY: Final = 151
REF_TAG_ID: Final = 371
REF_MSG_TYPE: Final = 372
SESSION_REJECT_REASON: Final = 373
EXEC_RESTATEMENT_REASON: Final = 378
BUSINESS_REJECT_REF_ID: Final = 379
BUSINESS_REJECT_REASON: Final = 380
CXL_REJ_RESPONSE_TO: Final = 434
MASS_CANCEL_REQUEST_TYPE: Final = 530
MASS_CANCEL_RESPONSE: Final = 531
MASS_CANCEL_REJECT_REASON: Final = 532
TOTAL_AFFECTED_ORDERS: Final = 533
NO_AFFECTED_ORDERS: Final = 534
AFFECTED_ORDER_ID: Final = 535
USERNAME: Final = 553
PASSWORD: Final = 554
ORD_STATUS_REQ_ID: Final = 790
LAST_LIQUIDITY_IND: Final = 851

HEADER_TAGS: Final = frozenset({8, 9, 35, 49, 56, 115, 128, 90, 91, 34, 50, 142, 57, 143,
                                116, 144, 129, 145, 43, 97, 52, 122, 212, 213, 347, 369,
                                627, 628, 629, 630})
"""The standard header's tags (FIX44.xml), which are not the message body's."""

# -- message types ------------------------------------------------------------------------
HEARTBEAT: Final = "0"
TEST_REQUEST: Final = "1"
RESEND_REQUEST: Final = "2"
REJECT: Final = "3"
SEQUENCE_RESET: Final = "4"
LOGOUT: Final = "5"
LOGON: Final = "A"
EXECUTION_REPORT: Final = "8"
ORDER_CANCEL_REJECT: Final = "9"
NEW_ORDER_SINGLE: Final = "D"
ORDER_CANCEL_REQUEST: Final = "F"
ORDER_CANCEL_REPLACE_REQUEST: Final = "G"
ORDER_STATUS_REQUEST: Final = "H"
BUSINESS_MESSAGE_REJECT: Final = "j"
ORDER_MASS_CANCEL_REQUEST: Final = "q"
ORDER_MASS_CANCEL_REPORT: Final = "r"

ADMIN_TYPES: Final = frozenset({HEARTBEAT, TEST_REQUEST, RESEND_REQUEST, REJECT,
                                SEQUENCE_RESET, LOGOUT, LOGON})
"""Session-level messages: never resent, a resend replaces them with a gap fill."""

# -- session reject reasons (373) -----------------------------------------------------------
INVALID_TAG_NUMBER: Final = 0
REQUIRED_TAG_MISSING: Final = 1
TAG_NOT_DEFINED: Final = 2
TAG_WITHOUT_VALUE: Final = 4
VALUE_INCORRECT: Final = 5
INCORRECT_DATA_FORMAT: Final = 6
COMP_ID_PROBLEM: Final = 9
INVALID_MSG_TYPE: Final = 11
TAG_APPEARS_TWICE: Final = 13


class Garbled:
    """A frame that is not a valid message (bad BodyLength, bad checksum, junk): it is
    ignored, as FIX requires; ``why`` is for the log."""

    __slots__ = ("why",)

    def __init__(self, why: str) -> None:
        self.why = why

    def __repr__(self) -> str:
        return f"Garbled({self.why!r})"


_FIELD: Final = re.compile(r"([1-9][0-9]*)=([^\x01]+)\x01")


class Message:
    """A parsed message: its fields as ``tag -> value`` (the first of each tag), the
    type, and whatever made it malformed (a tag that is not a number, a tag given twice,
    a tag without a value), which the session answers with a session-level Reject."""

    __slots__ = ("fields", "msg_type", "problem", "raw")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.problem: tuple[int, int, str] | None = None
        text = raw.decode("latin-1")
        pairs = _FIELD.findall(text)
        if len(pairs) == text.count("\x01") and raw.isascii():
            # Well formed (every piece a tag=value): one C pass; a tag given twice
            # shows as fewer keys than pairs.
            fields = {int(tag): value for tag, value in pairs}
            if len(fields) == len(pairs):
                self.fields = fields
                self.msg_type = fields.get(MSG_TYPE, "")
                return
        self._parse_slowly(raw)

    def _parse_slowly(self, raw: bytes) -> None:
        """Field by field, to name what is wrong."""
        if not raw.isascii():
            self.problem = (0, INCORRECT_DATA_FORMAT, "a value is not ASCII")
        fields: dict[int, str] = {}
        items = raw.decode("latin-1").split("\x01")
        items.pop()  # raw ends with "10=ddd<SOH>": the last piece is empty
        for item in items:
            tag_text, _, value = item.partition("=")
            if not tag_text.isdigit() or not tag_text.isascii() or tag_text[0] == "0":
                if self.problem is None:
                    self.problem = (0, INVALID_TAG_NUMBER, f"invalid tag number {tag_text!r}")
                continue
            tag = int(tag_text)
            if not value:
                if self.problem is None:
                    self.problem = (tag, TAG_WITHOUT_VALUE, f"tag {tag} specified without a value")
                continue
            if tag in fields:
                if self.problem is None:
                    self.problem = (tag, TAG_APPEARS_TWICE, f"tag {tag} appears more than once")
                continue
            fields[tag] = value
        self.fields = fields
        self.msg_type = fields.get(MSG_TYPE, "")

    def get(self, tag: int) -> str | None:
        return self.fields.get(tag)

    def __repr__(self) -> str:
        return f"Message({self.raw.replace(SOH, b'|')!r})"


def checksum(data: bytes | memoryview) -> int:
    """The FIX checksum: the sum of the bytes modulo 256.

    Computed with zlib's Adler-32, whose low half is the byte sum modulo 65521: over at
    most 256 bytes that sum (at most 65,280) does not wrap, so each 256-byte piece costs
    one C call instead of a Python loop over its bytes."""
    view = memoryview(data)
    total = 0
    for start in range(0, len(view), 256):
        total += zlib.adler32(view[start:start + 256], 0) & 0xFFFF
    return total & 0xFF


class Framer:
    """Splits the bytes read into :class:`Message` or :class:`Garbled` frames (the
    session's ``Framer`` protocol: ``feed`` and ``next_line``)."""

    __slots__ = ("buf",)

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> None:
        self.buf += data

    def next_line(self) -> Message | Garbled | None:
        buf = self.buf
        if not buf:
            return None
        start = buf.find(_PREFIX)
        if start < 0:
            # Keep a tail that may be the start of the next message's prefix.
            keep = len(_PREFIX) - 1
            if len(buf) > keep:
                junk = len(buf) - keep
                del buf[:junk]
                return Garbled(f"{junk} bytes that are not a FIX.4.4 message")
            return None
        if start > 0:
            del buf[:start]
            return Garbled(f"{start} bytes before a message's BeginString")
        head_end = buf.find(SOH, len(_PREFIX))
        if head_end < 0:
            if len(buf) > len(_PREFIX) + 8:
                del buf[:len(_PREFIX)]
                return Garbled("BodyLength is not a number")
            return None
        length_text = bytes(buf[len(_PREFIX):head_end])
        if not length_text.isdigit() or len(length_text) > 6:
            del buf[:len(_PREFIX)]
            return Garbled(f"BodyLength {length_text!r} is not a number")
        body_start = head_end + 1
        end = body_start + int(length_text)
        total = end + 7  # "10=ddd<SOH>"
        if total > MAX_MESSAGE:
            return self._resync(f"BodyLength {int(length_text)} is over {MAX_MESSAGE}")
        if len(buf) < total:
            # Wait for the rest, unless the checksum field is already visible earlier
            # (a BodyLength too large would otherwise stall the stream until it filled).
            early = buf.find(b"\x0110=", body_start)
            if early >= 0 and early + 1 < end and len(buf) >= early + 8:
                return self._resync(f"BodyLength {int(length_text)} is wrong")
            return None
        trailer = buf[end:total]
        if trailer[:3] != b"10=" or trailer[6:7] != SOH or not trailer[3:6].isdigit():
            return self._resync(f"BodyLength {int(length_text)} does not end at CheckSum")
        raw = bytes(buf[:total])
        del buf[:total]
        expected = checksum(memoryview(raw)[:end])
        if int(trailer[3:6]) != expected:
            return Garbled(f"CheckSum {trailer[3:6].decode()} is wrong (expected {expected:03d})")
        return Message(raw)

    def _resync(self, why: str) -> Garbled:
        """Drop the broken message: up to the next checksum field, or the next message."""
        buf = self.buf
        nxt = buf.find(_PREFIX, 1)
        cut = buf.find(b"\x0110=", len(_PREFIX))
        if cut >= 0 and cut + 8 <= len(buf) and (nxt < 0 or cut < nxt):
            del buf[:cut + 8]
        elif nxt >= 0:
            del buf[:nxt]
        else:
            del buf[:]
        return Garbled(why)


# -- building ---------------------------------------------------------------------------

def field(tag: int, value: str | int) -> bytes:
    return b"%d=%s\x01" % (tag, str(value).encode())


def body(msg_type: str, *fields: tuple[int, str | int | None]) -> bytes:
    """A message body: ``35=<type>`` and the fields given, those set to None left out."""
    text = "".join([f"{tag}={value}\x01" for tag, value in fields if value is not None])
    return f"35={msg_type}\x01{text}".encode()


def split_bodies(data: bytes) -> list[bytes]:
    """The bodies of a concatenation of bodies (each starts with ``35=``; no other tag of
    a body is 35, and no value holds SOH, so ``<SOH>35=`` marks each boundary)."""
    found = data.find(b"\x0135=")
    if found < 0 or found == len(data) - 1:
        return [data]
    bodies = []
    start = 0
    while found >= 0:
        bodies.append(data[start:found + 1])
        start = found + 1
        found = data.find(b"\x0135=", start)
    bodies.append(data[start:])
    return bodies


def body_type(data: bytes) -> str:
    """The MsgType of a body."""
    return data[3:data.index(SOH)].decode()


def frame(data: bytes, header: bytes, seq: int, sending_time: bytes,
          poss_dup: bytes | None = None) -> bytes:
    """A complete message from a body: ``header`` is ``49=..<SOH>56=..<SOH>`` (the
    CompIDs), ``poss_dup`` the OrigSendingTime of a resent message (PossDupFlag=Y)."""
    cut = data.index(SOH) + 1
    if poss_dup is None:
        msg = b"%s%s34=%d\x0152=%s\x01%s" % (data[:cut], header, seq, sending_time, data[cut:])
    else:
        msg = b"%s%s34=%d\x0143=Y\x0152=%s\x01122=%s\x01%s" % (
            data[:cut], header, seq, sending_time, poss_dup, data[cut:])
    out = b"8=FIX.4.4\x019=%d\x01%s" % (len(msg), msg)
    return b"%s10=%03d\x01" % (out, checksum(out))


# -- timestamps -------------------------------------------------------------------------

class WallClock:
    """SendingTime strings (UTCTimestamp with milliseconds), formatted once a millisecond."""

    __slots__ = ("_ms", "_text", "now")

    def __init__(self, now: object = time.time) -> None:
        self.now = now
        self._ms = -1
        self._text = b""

    def stamp(self) -> bytes:
        t = self.now()  # type: ignore[operator]
        ms = int(t * 1000)
        if ms != self._ms:
            self._ms = ms
            self._text = utc_timestamp_ms(ms).encode()
        return self._text


def utc_timestamp_ms(ms: int) -> str:
    """``YYYYMMDD-HH:MM:SS.sss`` for milliseconds since the epoch."""
    secs, frac = divmod(ms, 1000)
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(secs)) + f".{frac:03d}"


def from_rfc3339(text: str) -> str:
    """The protocol's ``2026-11-22T09:30:00.000123Z`` as a FIX 4.4 UTCTimestamp
    ``20261122-09:30:00.000`` (FIX 4.4 has milliseconds at most)."""
    return f"{text[0:4]}{text[5:7]}{text[8:10]}-{text[11:23]}"


_UTC_TIMESTAMP: Final = re.compile(
    r"(\d{4})(\d{2})(\d{2})-(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?")


def is_utc_timestamp(text: str) -> bool:
    """Whether ``text`` has the form of a UTCTimestamp (TransactTime is only checked)."""
    return _UTC_TIMESTAMP.fullmatch(text) is not None


def parse_utc_timestamp(text: str) -> datetime | None:
    """A UTCTimestamp (whole seconds, or up to nanoseconds) as an aware datetime; None if
    it is not one."""
    match = _UTC_TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    y, mo, d, h, mi, s, frac = match.groups()
    try:
        return datetime(int(y), int(mo), int(d), int(h), int(mi), int(s),
                        int((frac or "0").ljust(6, "0")[:6]), tzinfo=UTC)
    except ValueError:
        return None
