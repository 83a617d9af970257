"""The matching core: symbols, books, orders, accounts, market data.

Synchronous, with no clock and no I/O: time is passed in, results are returned.

Import rule (checked by ``tests/test_imports.py``): nothing here imports
``exchange.server``, ``client``, ``asyncio`` or ``socket``, and no module of the project
is part of an import circle at run time; ``if TYPE_CHECKING:`` imports are for
annotations only. Broken rules of the core's own state raise
:class:`~exchange.core.errors.InvariantError` (an illegal status move is its subclass
:class:`~exchange.core.errors.IllegalTransition`), never a bare ``assert``.
"""

import os

from exchange.core.loader import select

BUILD, BUILD_NOTE = select(os.environ.get("EXCHANGE_ENGINE"))
"""Which build this process runs (``python`` or ``compiled``) and why
(:mod:`exchange.core.loader`): chosen here, before any other core module loads."""
