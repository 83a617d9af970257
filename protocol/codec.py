"""Lines to messages and messages to lines: the one place that knows both spellings.

`decode_request` turns a line from a client into a `Request`, a `ProtocolError` (the line is
answered with an `error` and changes nothing), or None (a blank line, ignored). It never
raises for anything a peer can send. `encode`/`encode_into` write any message as one compact
JSON line, and `decode_reply` is the client's side of the same contract.

Decoders and the encoder are built once, at import: building one costs far more than using it.

The error path is allowed to be slower than the happy path. When a JSON request fails
validation, the line is decoded a second time by a lenient probe that only looks at `op` and
`ref`, so the error can say "unknown op" rather than "bad request", and carry the request's
`ref` -- unless the ref itself is invalid, in which case the protocol answers without one.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
from msgspec import UNSET, Struct

from protocol.errors import ProtocolError
from protocol.fields import MAX_REF_LEN, Ref, decimal_hook, encode_hook, float_hook
from protocol.framing import MAX_LINE, LineTooLong
from protocol.messages import OPS, Request
from protocol.replies import Error, Reply, ReplyBase
from protocol.text import parse_command

__all__ = [
    "INVALID_UTF8_ERROR",
    "LINE_TOO_LONG_ERROR",
    "decode_reply",
    "decode_request",
    "encode",
    "encode_into",
    "encode_reply",
    "error_reply",
]

LINE_TOO_LONG_ERROR: Final = ProtocolError(
    "line_too_long", f"Line longer than {MAX_LINE} bytes; it was discarded"
)
INVALID_UTF8_ERROR: Final = ProtocolError("bad_request", "Line is not valid UTF-8")
TOO_DEEP_ERROR: Final = ProtocolError("bad_request", "JSON nested too deeply")
_BAD_REF_MESSAGE: Final = (
    f"Invalid `ref`: expected a string of at most {MAX_REF_LEN} characters or an integer"
    " - at `$.ref`"
)


class _Probe(Struct):
    """What an invalid request still tells: its `op` and `ref`, if it has them."""

    op: Any = UNSET
    ref: Any = UNSET


_request_decoder: Final = msgspec.json.Decoder(Request, dec_hook=decimal_hook,
                                                float_hook=float_hook)
_reply_decoder: Final = msgspec.json.Decoder(Reply)
_probe_decoder: Final = msgspec.json.Decoder(_Probe)
_encoder: Final = msgspec.json.Encoder(enc_hook=encode_hook)


def decode_request(line: bytes | LineTooLong) -> Request | ProtocolError | None:
    """Decode one line (terminator already stripped) from a client.

    A line whose first non-blank character is `{` is JSON; any other non-blank line is a text
    command; a blank line is None. `LineTooLong` (from `LineBuffer.next_line()`) is accepted
    too, so a server can pass on whatever the framing returns.
    """
    if isinstance(line, LineTooLong):
        return LINE_TOO_LONG_ERROR
    if line[:1] != b"{":  # the common case (a client sending JSON) skips the strip
        stripped = line.lstrip()
        if not stripped:
            return None
        if stripped[:1] != b"{":
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                return INVALID_UTF8_ERROR
            return parse_command(text)
    try:
        request: Request = _request_decoder.decode(line)
    except msgspec.ValidationError as exc:
        return _invalid(line, str(exc))
    except msgspec.DecodeError as exc:
        if not _is_utf8(line):
            return INVALID_UTF8_ERROR
        return ProtocolError("bad_json", f"Invalid JSON: {exc}")
    except UnicodeDecodeError:  # msgspec checks UTF-8 inside strings itself
        return INVALID_UTF8_ERROR
    except RecursionError:  # JSON nested thousands deep: a bad line like any other
        return TOO_DEEP_ERROR
    return request


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _invalid(line: bytes, message: str) -> ProtocolError:
    """Classify a JSON object that failed validation, recovering its `ref`."""
    if not _is_utf8(line):  # validation may stop before reaching the bad bytes
        return INVALID_UTF8_ERROR
    try:
        probe = _probe_decoder.decode(line)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return ProtocolError("bad_request", message)
    except RecursionError:  # nested thousands deep: its ref cannot be recovered either
        return TOO_DEEP_ERROR
    ref = None
    if probe.ref is not UNSET:
        try:
            ref = msgspec.convert(probe.ref, Ref)
        except msgspec.ValidationError:
            return ProtocolError("bad_request", _BAD_REF_MESSAGE)
    op = probe.op
    if isinstance(op, str) and op not in OPS:
        shown = op if len(op) <= 40 else op[:40] + "..."
        return ProtocolError("unknown_op", f"Unknown op {shown!r} - at `$.op`", ref)
    return ProtocolError("bad_request", message, ref)


def error_reply(error: ProtocolError) -> Error:
    """The `error` reply for a `ProtocolError`."""
    return Error(code=error.code, message=error.message, ref=error.ref)


def encode(message: Struct) -> bytes:
    """One message (a reply, an event, or a request) as a compact JSON line ending in `\\n`."""
    return _encoder.encode(message) + b"\n"


def encode_reply(reply: ReplyBase, ref: str | int | None) -> bytes:
    """A reply as a JSON line, answering the request whose `ref` was `ref`.

    The ref is the JSON-lines protocol's correlation id, so it is set here, as the reply is
    written, rather than by whoever built the reply: a server keeps each request's ref beside
    its place in the output and hands it over with the reply. The reply is changed (its `ref`
    set) and encoded once.
    """
    reply.ref = ref
    return _encoder.encode(reply) + b"\n"


def encode_into(message: Struct, buffer: bytearray) -> None:
    """Append one message as a JSON line to `buffer`.

    The fast path for a writer that batches: encode every message of a tick into one reused
    bytearray, then write it once, without a `bytes` object per message.
    """
    _encoder.encode_into(message, buffer, -1)
    buffer.append(0x0A)


def decode_reply(line: bytes) -> Reply:
    """Decode one line from the server (the terminator may be left on).

    Raises `msgspec.DecodeError` (or its subclass `msgspec.ValidationError`) for a line that
    is not a valid server message: on the client side that is the server breaking the
    contract, not an everyday outcome.
    """
    reply: Reply = _reply_decoder.decode(line)
    return reply
