"""Fault injection for tests: make a named point in the engine raise, on purpose.

``EXCHANGE_FAILPOINTS="place.after_reserve@3"`` (read at import) makes the third pass
through ``place.after_reserve`` raise :class:`Failpoint`; without ``@N`` the first
pass does. Several points are separated by commas. This tests that a bug met half-way
through a command (after the engine has changed something) can never leave money
half-moved or a journal that cannot be replayed.

Call sites check the module-level ``ACTIVE`` first (``if failpoints.ACTIVE:``), so an
unarmed server pays one global lookup per site and nothing more.
"""

from __future__ import annotations

import os

ENV = "EXCHANGE_FAILPOINTS"


class Failpoint(RuntimeError):
    """An injected fault (never raised unless a failpoint is armed)."""


_armed: dict[str, int] = {}
_hits: dict[str, int] = {}
ACTIVE = False


def arm(spec: str) -> None:
    """Arm the points named in ``spec`` (``NAME[@N],...``); an empty spec disarms all."""
    global ACTIVE
    _armed.clear()
    _hits.clear()
    for part in spec.split(","):
        name, _, nth = part.strip().partition("@")
        if name:
            _armed[name] = int(nth) if nth else 1
    ACTIVE = bool(_armed)


def hit(name: str) -> None:
    """Count a pass through ``name``; raise :class:`Failpoint` on the armed pass."""
    nth = _armed.get(name)
    if nth is None:
        return
    count = _hits.get(name, 0) + 1
    _hits[name] = count
    if count == nth:
        raise Failpoint(f"failpoint {name} (pass {count})")


arm(os.environ.get(ENV, ""))
