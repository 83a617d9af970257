"""Exposure limits and risk alerts: the records the risk part (:mod:`exchange.core.risk`)
checks orders against and raises.

Plain records, kept out of the compiled modules: ``ExposureLimits`` is a msgspec Struct
(it travels in the ``set_limits`` command record and in snapshots), which mypyc cannot
compile as a class of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import msgspec

MAX_ORDER_NOTIONAL: Final = "max_order_notional"
MAX_POSITION: Final = "max_position"
MAX_OPEN_EXPOSURE: Final = "max_open_exposure"
ALERT_SHARE = (4, 5)
"""A risk alert is raised when an accepted order takes a limit's use past 4/5 of it."""


class ExposureLimits(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """One user's exposure limits (``None``: no limit).

    * ``max_order_notional``: cash units one order may be worth, at its limit price (a
      stop order at its stop price; a market order at the best opposite price);
    * ``max_position``: lots of a symbol the user may come to hold, counting what live
      buys may still buy (``symbol -> lots``);
    * ``max_open_exposure``: cash units the user's live buys may hold together. Sells
      are not counted: without short selling they can only reduce what is held.
    """

    max_order_notional: int | None = None
    max_position: dict[str, int] = msgspec.field(default_factory=dict)
    max_open_exposure: int | None = None

    @property
    def empty(self) -> bool:
        return (self.max_order_notional is None and not self.max_position
                and self.max_open_exposure is None)


NO_LIMITS: Final = ExposureLimits()


@dataclass(frozen=True, slots=True)
class RiskAlert:
    """An accepted order took the use of a limit past :data:`ALERT_SHARE` of it."""

    user: str
    limit: str
    """``max_order_notional``, ``max_position`` or ``max_open_exposure``."""
    symbol: str
    used: int
    """Cash units (notional, exposure) or lots (position) after the order."""
    maximum: int
