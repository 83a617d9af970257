"""The wire protocol, sans-IO: messages, line framing and the text-command grammar.

Shared by the server and the client library; nothing here does I/O. A server's read path is

    buffer.feed(data)
    while (line := buffer.next_line()) is not None:
        match decode_request(line):
            case None: pass                                   # a blank line
            case ProtocolError() as err: send(error_reply(err))
            case request: handle(request)

and every outgoing message goes through `encode` or `encode_into`.

Modules: `messages` (requests), `replies` (server messages and records), `fields` (shared
field types and bounds), `errors` (codes and `ProtocolError`), `framing` (`LineBuffer`),
`text` (the text commands), `codec` (bytes to messages and back).
"""

from protocol.codec import (
    INVALID_UTF8_ERROR,
    LINE_TOO_LONG_ERROR,
    decode_reply,
    decode_request,
    encode,
    encode_into,
    error_reply,
)
from protocol.errors import ErrorCode, ProtocolError
from protocol.framing import LINE_TOO_LONG, MAX_LINE, LineBuffer, LineTooLong
from protocol.messages import Request
from protocol.replies import Reply

__all__ = [
    "INVALID_UTF8_ERROR",
    "LINE_TOO_LONG",
    "LINE_TOO_LONG_ERROR",
    "MAX_LINE",
    "ErrorCode",
    "LineBuffer",
    "LineTooLong",
    "ProtocolError",
    "Reply",
    "Request",
    "decode_reply",
    "decode_request",
    "encode",
    "encode_into",
    "error_reply",
]
