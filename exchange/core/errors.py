"""The core's named errors for broken rules: a bug, never a refusal of a request.

:class:`~exchange.core.results.CommandError` is a request refused (the protocol's error
codes); these are the engine finding its own state wrong. They are real exceptions rather
than ``assert`` so that they still fire under ``python -O``, and the server treats them as
the faults they are (it stops rather than go on from a state it cannot trust).
"""

from __future__ import annotations


class InvariantError(Exception):
    """A rule of the engine's state does not hold; the message names the rule and whose."""


class IllegalTransition(InvariantError):
    """An order was asked to move between two statuses the transition table does not link."""

    def __init__(self, order_id: int, old: str, new: str) -> None:
        super().__init__(f"order {order_id}: status may not move from {old} to {new}")
        self.order_id = order_id
        self.old = old
        self.new = new
