"""Trading fees: the schedule of maker and taker rates, and the account fees are paid to.

Plain records, kept out of the compiled modules (as :mod:`exchange.core.limits` is):
``FeeSchedule`` is a msgspec Struct that travels in the ``set_fees`` command record and
in snapshots, which mypyc cannot compile as a class of its own. The arithmetic is in
:mod:`exchange.core.risk`, which charges the fees when it settles a fill.

Rates are whole basis points (1 bp = 0.01%) of a fill's notional, from 0 to
:data:`MAX_BPS` (100%, so that a seller's fee never exceeds what the sale brings in). A
fee is rounded up to a whole cash unit: ``ceil(notional x bps / 10000)``, never negative,
zero when the rate is zero (see PROTOCOL.md, "Fees").
"""

from __future__ import annotations

from typing import Final

import msgspec

FEE_ACCOUNT: Final = "@fees"
"""The exchange's own account, which every fee is paid into. It is an account like a
user's (so the cash of the whole exchange, fees included, is conserved exactly), but no
one can log in as it, and nothing is deposited to or withdrawn from it by the protocol."""

MAX_BPS: Final = 10_000
"""The highest rate: 100% of the notional."""

BPS: Final = 10_000
"""Basis points in a whole."""


class FeeRates(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """A maker and a taker rate, in whole basis points of a fill's notional."""

    maker_bps: int = 0
    taker_bps: int = 0

    @property
    def zero(self) -> bool:
        return self.maker_bps == 0 and self.taker_bps == 0


NO_FEES: Final = FeeRates()


class FeeSchedule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Who pays what: rates per symbol, and per-user rates that replace them.

    * ``by_symbol``: the rates of a symbol (a symbol not named charges nothing);
    * ``per_user``: a user's own rates, on every symbol, instead of the symbol's.
    """

    by_symbol: dict[str, FeeRates] = msgspec.field(default_factory=dict)
    per_user: dict[str, FeeRates] = msgspec.field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """Whether nobody pays anything (the hot path then charges nothing)."""
        return (all(r.zero for r in self.by_symbol.values())
                and all(r.zero for r in self.per_user.values()))

    def rates(self, user: str, symbol: str) -> FeeRates:
        """The rates ``user`` pays on ``symbol``."""
        rates = self.per_user.get(user)
        if rates is None:
            rates = self.by_symbol.get(symbol, NO_FEES)
        return rates

    def normalized(self) -> FeeSchedule:
        """The same schedule without zero-rate symbols (which charge what an absent one
        does), so that two schedules that charge alike compare equal."""
        return FeeSchedule({s: r for s, r in self.by_symbol.items() if not r.zero},
                           dict(self.per_user))


NO_SCHEDULE: Final = FeeSchedule()
