"""Finding and following symbols: ``search``, and the user's ``watchlist``.

A watchlist is the user's own state, durable: each ``watch``/``unwatch`` is a ``watch``
command record, journaled before it is applied (a refusal takes its record back, as a
refused deposit does), and the lists are in the snapshot. Every reply to the three
watchlist ops is the whole list with each symbol's quote, so a screen is filled by one
request.

``search`` needs no login, like the rest of the market data: a symbol matches when it
starts with the query (``BT`` finds ``BTC-USD``), or when every word of the query starts
a word of the symbol's name or of the symbol itself (``micro`` finds Microsoft
Corporation, ``bitcoin us`` finds Bitcoin / US Dollar, ``usd`` the ``-USD`` pairs).
Case does not matter; words are runs of letters and digits.
"""

from __future__ import annotations

import re

from exchange.core import commands as C
from exchange.core.results import CommandError
from exchange.server.gateway_base import GatewayCore
from exchange.server.port import SessionPort
from exchange.server.views import now_us
from protocol import messages as M
from protocol import replies as R

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """The words of a name or a query, case-folded (``Tesla, Inc.`` -> tesla, inc)."""
    return _WORD.findall(text.casefold())


def match_rank(query: str, symbol: str, name: str) -> int | None:
    """How well ``symbol`` matches ``query``: 0 the symbol itself, 1 a prefix of the
    symbol, 2 by words of the name or the symbol; None for no match."""
    wanted = query.strip().casefold()
    folded = symbol.casefold()
    if folded == wanted:
        return 0
    if folded.startswith(wanted):
        return 1
    query_words = words(wanted)
    have = words(name) + words(symbol)
    if query_words and all(any(w.startswith(q) for w in have) for q in query_words):
        return 2
    return None


class WatchlistOps(GatewayCore):
    """The handlers of ``search``, ``watchlist``, ``watch`` and ``unwatch``."""

    def on_search(self, session: SessionPort, msg: M.Search) -> None:
        def work() -> R.ReplyBase:
            specs = self.views.specs
            ranked = sorted(
                (rank, symbol) for symbol, spec in specs.items()
                if (rank := match_rank(msg.query, symbol, spec.display_name)) is not None)
            return R.SearchReply(symbols=[self.views.symbol_info(symbol)
                                          for _, symbol in ranked[:msg.limit]])
        self._local(session, msg, work)

    def on_watchlist(self, session: SessionPort, msg: M.Watchlist) -> None:
        def work() -> R.ReplyBase:
            return self._watchlist(session.user or "")
        self._local(session, msg, work, login=True)

    def on_watch(self, session: SessionPort, msg: M.Watch | M.Unwatch) -> None:
        on = isinstance(msg, M.Watch)

        def work() -> R.ReplyBase:
            user = session.user or ""
            self._actor(msg.symbol)  # unknown_symbol, before anything is recorded
            listed = msg.symbol in self.exchange.watchlist(user)
            if on and listed:
                return self._watchlist(user)  # there already: nothing to record
            cmd = C.Watch(now_us(), user, msg.symbol, on)
            self.record(cmd)
            journal = self.journal
            try:
                self.exchange.apply(cmd)
            except CommandError:  # refused (a full list, a symbol not on it): changed nothing
                if journal is not None:
                    journal.retract(journal.seq)
                raise
            return self._watchlist(user)
        self._local(session, msg, work, login=True, mutates=True)

    def _watchlist(self, user: str) -> R.WatchlistReply:
        return R.WatchlistReply(symbols=[self.views.watch_entry(symbol)
                                         for symbol in self.exchange.watchlist(user)])
