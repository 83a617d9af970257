"""Binance's request signing, sans-IO: HMAC-SHA256 of the query string followed by the
body, exactly as sent, under the user's API secret.

A signed request carries its API key in the ``X-MBX-APIKEY`` header and ``timestamp``
(milliseconds), optionally ``recvWindow`` (default 5000, at most 60000), and ``signature``
(hex) among its parameters, in the query string or the form body. The signed text is the
raw query string and the raw body joined with nothing between them, with the
``signature`` parameter taken out of whichever carries it: the bytes the client signed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import parse_qsl

from exchange.server.config import ApiKey
from exchange.server.frontends.http.binance import BAD_KEY, BinanceError, mandatory

DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60_000
AHEAD_MS = 1000
"""How far ahead of the server's clock a timestamp may be (Binance's allowance)."""
MAX_SIGNED = 64 * 1024
"""Bytes of query string and body a signed request may have."""


def _pairs(raw: str) -> list[tuple[str, str]]:
    """``a=1&b=2`` as pairs; decoded by ``parse_qsl`` only where something is escaped (a
    signed request's parameters rarely are, and the split is a fifth of its cost)."""
    if "%" in raw or "+" in raw:
        return parse_qsl(raw, keep_blank_values=True)
    pairs = []
    for part in raw.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((name, value))
    return pairs


def parse_params(query: str, body: str) -> dict[str, str]:
    """The parameters of a request; one in both the query and the body is the query's."""
    params = dict(_pairs(body)) if body else {}
    if query:
        params.update(_pairs(query))
    return params


def _without_signature(raw: str) -> str:
    if "signature=" not in raw:
        return raw
    return "&".join(part for part in raw.split("&") if not part.startswith("signature="))


def sign(secret: str, payload: str) -> str:
    """The signature of ``payload`` (a client's side of it; the tests use it too)."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def api_key(keys: Mapping[str, ApiKey], header: str | None) -> ApiKey:
    """The credentials of the key in ``X-MBX-APIKEY``; -2014/-2015 if none or unknown."""
    if not header:
        raise BinanceError(-2014, "API-key format invalid.", status=401)
    found = keys.get(header)
    if found is None:
        raise BinanceError(*BAD_KEY, status=401)
    return found


def check(key: ApiKey, query: str, body: str, params: Mapping[str, str], now_ms: int) -> None:
    """Refuse a request whose signature is missing or wrong (-1022) or whose timestamp is
    outside its window (-1021)."""
    if len(query) + len(body) > MAX_SIGNED:
        raise BinanceError(-1101, "Too many parameters sent for this endpoint.")
    given = params.get("signature")
    if not given:
        raise mandatory("signature")
    text = params.get("timestamp")
    if not text or not text.isascii() or not text.isdigit():
        raise mandatory("timestamp")
    window_text = params.get("recvWindow") or str(DEFAULT_RECV_WINDOW)
    if not window_text.isascii() or not window_text.isdigit():
        raise mandatory("recvWindow")
    window = int(window_text)
    if window > MAX_RECV_WINDOW:
        raise BinanceError(-1131, f"recvWindow must be less than {MAX_RECV_WINDOW}.")
    payload = _without_signature(query) + _without_signature(body)
    expected = sign(key.secret, payload)
    if not hmac.compare_digest(expected, given.lower()):
        raise BinanceError(-1022, "Signature for this request is not valid.")
    stamp = int(text)
    if stamp > now_ms + AHEAD_MS:
        raise BinanceError(-1021, f"Timestamp for this request was {AHEAD_MS}ms ahead of "
                                  "the server's time.")
    if now_ms - stamp > window:
        raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")
