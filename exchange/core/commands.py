"""The command records: one typed record for every command that may change state.

A command exists in exactly this shape wherever it goes: the server builds the record
once from a request, the journal writes it, replay reads it back, and
:meth:`~exchange.core.engine.Exchange.apply` runs it. Adding a field is then one edit
here, checked by the type checker at every place that builds or reads it.

Each record carries its time (``time``, microseconds since the epoch; the engine reads no
clock) and the user who gave it where there is one (the administrator for ``Halt`` and
``MarketOpen``). Integers are engine units, exactly what the engine's methods take:
lots, ticks and cash units; ``None`` means "not given" (see :mod:`exchange.core.engine`).

The records are compact msgspec Structs forming one tagged union, :data:`Command`:
``array_like`` (encoded as ``[tag, field, ...]`` in field order, no field names),
``frozen`` (a record is a fact; nothing changes it on its way), and ``gc=False`` (they
hold only strings, integers, booleans and None, so they can be in no reference cycle and
the garbage collector need not track them; ``SetLimits`` and ``SetFees`` hold dicts of
their own, never of anything that refers back to them). The tag is the op's name. The journal's
record layout (see :mod:`exchange.server.journal`) is this encoding.
"""

from __future__ import annotations

from typing import TypeAlias

from msgspec import Struct

from exchange.core.fees import FeeSchedule
from exchange.core.limits import ExposureLimits


class CommandRecord(Struct, array_like=True, frozen=True, gc=False,
                    forbid_unknown_fields=True):
    """The base of every command record: the time it ran at.

    (Each record repeats ``frozen=True``: msgspec inherits it, the type checker needs it.)

    ``forbid_unknown_fields``: a record with more fields than its type has (written by a
    later version) is refused on decoding rather than read without them."""

    time: int


class Place(CommandRecord, tag="place", frozen=True):
    user: str
    symbol: str
    side: str
    qty: int
    kind: str
    tif: str
    price: int | None
    stop_price: int | None
    expires_at: int | None
    post_only: bool
    stp: str
    client_order_id: str | None


class Modify(CommandRecord, tag="modify", frozen=True):
    user: str
    order_id: int
    qty: int | None
    price: int | None


class Cancel(CommandRecord, tag="cancel", frozen=True):
    user: str
    order_id: int


class Pause(CommandRecord, tag="pause", frozen=True):
    user: str
    order_id: int


class Resume(CommandRecord, tag="resume", frozen=True):
    user: str
    order_id: int


class CancelAll(CommandRecord, tag="cancel_all", frozen=True):
    user: str
    symbol: str


class Expire(CommandRecord, tag="expire", frozen=True):
    """The timer of one book: expire what is due on it."""

    symbol: str


class ExpireSession(CommandRecord, tag="expire_session", frozen=True):
    """Market close on one book: its ``day`` orders expire, or every live one."""

    symbol: str
    everything: bool


class Halt(CommandRecord, tag="halt", frozen=True):
    """Halt one symbol (``halted``) or resume trading in it; ``user`` is the administrator."""

    user: str
    symbol: str
    halted: bool


class MarketOpen(CommandRecord, tag="market_open", frozen=True):
    """Open or close the whole market; ``user`` is the administrator."""

    user: str
    is_open: bool


class Deposit(CommandRecord, tag="deposit", frozen=True):
    user: str
    amount: int


class Withdraw(CommandRecord, tag="withdraw", frozen=True):
    user: str
    amount: int


class SetLimits(CommandRecord, tag="set_limits", frozen=True):
    """Set the exposure limits: ``default`` for every user, ``per_user`` instead of it for
    the users named. The server records one at start-up when the config's limits differ
    from those in force, so that replay runs every order under the limits it first met."""

    user: str
    default: ExposureLimits
    per_user: dict[str, ExposureLimits]


# -- account administration and profiles ----------------------------------------------------
# ``user`` is who gave the command (the administrator, or the user updating their own
# profile); the account the command is about is ``target`` (``new_user`` for a creation).


class CreateUser(CommandRecord, tag="create_user", frozen=True):
    """Register a user with cash units and ``{symbol: lots}`` of holdings. Only the
    token's hash is recorded (``token_hash``, the format of ``exchange.server.auth``):
    the clear token is shown once, to the administrator."""

    user: str
    new_user: str
    name: str
    phone: str
    email: str
    token_hash: str
    admin: bool
    cash: int
    holdings: dict[str, int]


class UpdateProfile(CommandRecord, tag="update_profile", frozen=True):
    """Change a user's name, phone or email (``None``: left as it is)."""

    user: str
    target: str
    name: str | None
    phone: str | None
    email: str | None


class SetDisabled(CommandRecord, tag="set_disabled", frozen=True):
    """Disable (``disabled``) or re-enable a user. The live orders of a disabled user are
    canceled by ``CancelAll`` records of their own, one per book, recorded after it."""

    user: str
    target: str
    disabled: bool


class AddSymbol(CommandRecord, tag="add_symbol", frozen=True):
    """List a symbol at run time, with the fields of the config's ``[[symbols]]`` table
    (decimals as text, as written there; ``None``: not given)."""

    user: str
    symbol: str
    tick_size: str
    lot_size: str
    reference_price: str | None
    price_band: str | None
    max_price: str | None
    max_qty: str | None
# -- two-factor login and watchlists -------------------------------------------------------

class TwoFactor(CommandRecord, tag="two_factor", frozen=True):
    """The user's two-factor login from now on (:mod:`exchange.core.two_factor`): set up
    (a new ``secret``, not ``enabled``), enabled, a code used (``last_step``: the step of
    the code accepted, never accepted again), or turned off (``secret`` empty). The server
    checks the codes before it records one; the record is the outcome."""

    user: str
    secret: str
    enabled: bool
    last_step: int


class Watch(CommandRecord, tag="watch", frozen=True):
    """Add ``symbol`` to the user's watchlist (``on``) or take it off."""

    user: str
    symbol: str
    on: bool
# -- fees ------------------------------------------------------------------------------
class SetFees(CommandRecord, tag="set_fees", frozen=True):
    """Put a fee schedule in force (see :mod:`exchange.core.fees`). The server records
    one at start-up when the config's schedule differs from the one in force, so that
    replay charges every fill exactly what it was charged live. Live buys are re-held
    at the new rates; one whose owner cannot cover the change is canceled (``fees``)."""

    user: str
    schedule: FeeSchedule


Command: TypeAlias = (Place | Modify | Cancel | Pause | Resume | CancelAll | Expire
                      | ExpireSession | Halt | MarketOpen | Deposit | Withdraw | SetLimits
                      # account administration and profiles
                      | CreateUser | UpdateProfile | SetDisabled | AddSymbol
                      # two-factor login and watchlists
                      | TwoFactor | Watch
                      # fees
                      | SetFees)
"""Every state-changing command: what the journal holds and ``Exchange.apply`` runs."""

COMMANDS: tuple[type[Command], ...] = (
    Place, Modify, Cancel, Pause, Resume, CancelAll, Expire, ExpireSession, Halt,
    MarketOpen, Deposit, Withdraw, SetLimits,
    # account administration and profiles
    CreateUser, UpdateProfile, SetDisabled, AddSymbol,
    # two-factor login and watchlists
    TwoFactor, Watch,
    # fees
    SetFees)
"""Every command record type, in the union's order."""

BY_TAG: dict[str, type[Command]] = {
    str(t.__struct_config__.tag): t for t in COMMANDS}
"""Each command record type by its tag (the op's name)."""
