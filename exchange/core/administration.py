"""The checks of the administration commands: user ids, profile fields, run-time symbols.

Pure functions, shared by the engine (which refuses a malformed record before it changes
anything) and by the server (which checks a ``create_user`` before it spends tens of
milliseconds hashing the new token). Each refusal is a ``bad_request``
:class:`~exchange.core.results.CommandError` whose message starts with the field at fault.

Why these rules: a user id is a key in the journal, the logs, FIX CompIDs and HTTP paths,
so it is short and plain ASCII; profile fields are shown to people, so they hold no
control characters (which could forge a log line or a terminal's output) and are bounded.
A run-time symbol follows the rules of the config's ``[[symbols]]`` table, plus one the
config need not state: its ``tick_size x lot_size`` must be a whole number of the cash
units the exchange already counts in, because the cash scale is fixed at start-up (every
balance is an integer of it).
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

from exchange.core.results import CommandError
from exchange.core.symbols import SymbolSpec, decimals_of

USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""A new user's id: 1 to 64 ASCII letters, digits, ``_``, ``.`` or ``-``, starting with a
letter or digit."""
SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9_.-]{0,31}")
"""A run-time symbol: 1 to 32 upper-case ASCII letters, digits, ``_``, ``.`` or ``-``
(the text grammar upper-cases symbols, so a lower-case one could not be typed)."""
PHONE = re.compile(r"\+?[0-9][0-9 ().-]{2,31}")
"""A phone number as people write one: digits with blanks, ``(``, ``)``, ``.`` or ``-``,
an optional leading ``+``; 3 to 33 characters."""
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.][^@\s]*\.[^@\s]*[^@\s.]")
"""One ``@`` between a local part and a dotted domain, no blanks; the address is not
looked up (that is the mail system's business)."""
MAX_NAME = 100
MAX_EMAIL = 254
"""The longest address SMTP carries."""


def _show(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "...")


def _refuse(message: str) -> CommandError:
    return CommandError("bad_request", message)


def check_user_id(user: str) -> None:
    if USER_ID.fullmatch(user) is None:
        raise _refuse(f"user: must be 1 to 64 letters, digits, '_', '.' or '-', starting "
                      f"with a letter or digit; got {_show(user)}")


def _printable(value: str, field: str) -> None:
    if any(unicodedata.category(c)[0] == "C" for c in value):
        raise _refuse(f"{field}: must not contain control characters")


def check_profile(name: str | None, phone: str | None, email: str | None) -> None:
    """Refuse a malformed profile field (``None``: not given; ``""`` clears a field)."""
    if name is not None:
        if len(name) > MAX_NAME:
            raise _refuse(f"name: at most {MAX_NAME} characters")
        _printable(name, "name")
        if name != name.strip():
            raise _refuse("name: must not start or end with a blank")
    if phone and PHONE.fullmatch(phone) is None:
        raise _refuse(f"phone: expected digits with blanks, '(', ')', '.' or '-' and an "
                      f"optional leading '+', 3 to 33 characters; got {_show(phone)}")
    if email:
        if len(email) > MAX_EMAIL:
            raise _refuse(f"email: at most {MAX_EMAIL} characters")
        _printable(email, "email")
        if EMAIL.fullmatch(email) is None:
            raise _refuse(f"email: expected an address such as name@example.com; "
                          f"got {_show(email)}")


def _decimal(text: str | None, field: str) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _refuse(f"{field}: {_show(text)} is not a decimal number") from None
    if not value.is_finite() or value <= 0:
        raise _refuse(f"{field}: must be a positive decimal")
    return value


def _multiple(value: Decimal | None, step: Decimal, field: str, of: str) -> None:
    if value is not None and value % step != 0:
        raise _refuse(f"{field}: must be a multiple of {of} {step}")


def symbol_spec(symbol: str, tick_size: str, lot_size: str, reference_price: str | None,
                price_band: str | None, max_price: str | None, max_qty: str | None,
                cash_decimals: int) -> SymbolSpec:
    """The spec of a symbol listed at run time, on the exchange's cash scale, or a
    ``bad_request`` naming the field that makes it impossible."""
    if SYMBOL.fullmatch(symbol) is None:
        raise _refuse(f"symbol: must be 1 to 32 upper-case letters, digits, '_', '.' or '-', "
                      f"starting with a letter or digit; got {_show(symbol)}")
    tick = _decimal(tick_size, "tick_size")
    lot = _decimal(lot_size, "lot_size")
    assert tick is not None and lot is not None
    ref = _decimal(reference_price, "reference_price")
    band = _decimal(price_band, "price_band")
    top = _decimal(max_price, "max_price")
    most = _decimal(max_qty, "max_qty")
    _multiple(ref, tick, "reference_price", "the tick_size")
    _multiple(top, tick, "max_price", "the tick_size")
    _multiple(most, lot, "max_qty", "the lot_size")
    needed = decimals_of(tick * lot)
    if needed > cash_decimals:
        raise _refuse(f"tick_size: tick_size x lot_size is {tick * lot}, finer than the cash "
                      f"unit 10^-{cash_decimals} the exchange counts in (fixed at start-up "
                      "by the config's symbols); choose a coarser tick or lot")
    try:
        spec = SymbolSpec.create(symbol, tick, lot, ref, band, top, most)
        spec.set_cash_decimals(cash_decimals)
    except ValueError as exc:  # the bounds: past 64 bits, or the reference above max_price
        text = str(exc).removeprefix(f"{symbol}: ")
        field = "reference_price" if text.startswith("reference_price") else "max_qty"
        raise _refuse(f"{field}: {text}") from None
    return spec
