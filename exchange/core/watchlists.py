"""Watchlists: the symbols each user follows, in the order they were added.

Changed only by ``watch`` command records (journaled, replayed) and kept in the snapshot.
Bounded per user: the table grows with what clients ask, and a client must not be able to
grow it without limit (symbols may be added at run time, so the number of symbols alone
is no bound).

Kept out of the compiled modules: nothing on the order path reads it.
"""

from __future__ import annotations

from typing import Final

from exchange.core.results import CommandError

MAX_WATCHLIST: Final = 200
"""Symbols one user's watchlist may hold (PROTOCOL.md, "Watchlist and search")."""


class Watchlists:
    """Each user's watchlist: symbols in the order they were added."""

    __slots__ = ("by_user",)

    def __init__(self) -> None:
        self.by_user: dict[str, list[str]] = {}

    def of(self, user: str) -> list[str]:
        """The user's watchlist (a copy; empty for a user who never added one)."""
        return list(self.by_user.get(user, ()))

    def add(self, user: str, symbol: str) -> bool:
        """Add ``symbol`` at the end; False when it is there already (nothing changes).

        Raises ``bad_request`` when the list is full."""
        symbols = self.by_user.get(user)
        if symbols is not None and symbol in symbols:
            return False
        if symbols is not None and len(symbols) >= MAX_WATCHLIST:
            raise CommandError("bad_request", f"symbol: a watchlist holds at most "
                               f"{MAX_WATCHLIST} symbols; remove one first")
        self.by_user.setdefault(user, []).append(symbol)
        return True

    def remove(self, user: str, symbol: str) -> None:
        """Take ``symbol`` off; ``bad_request`` when it is not on the user's watchlist."""
        symbols = self.by_user.get(user)
        if symbols is None or symbol not in symbols:
            raise CommandError("bad_request", f"symbol: {symbol!r} is not on the watchlist")
        symbols.remove(symbol)
        if not symbols:
            del self.by_user[user]
