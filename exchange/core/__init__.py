"""The matching core: symbols, books, orders, accounts, market data.

Synchronous, with no clock and no I/O: time is passed in, results are returned.

Import rule (checked by ``tests/test_imports.py``): nothing here imports
``exchange.server``, ``client``, ``asyncio`` or ``socket``, and no module of the project
is part of an import circle at run time; ``if TYPE_CHECKING:`` imports are for
annotations only. Broken rules of the core's own state raise
:class:`~exchange.core.errors.InvariantError` (an illegal status move is its subclass
:class:`~exchange.core.errors.IllegalTransition`), never a bare ``assert``.
"""
