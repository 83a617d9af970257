"""The journal seam: where the server records every state change, in applied order.

Without ``--data-dir`` there is no journal and the exchange lives in memory only.
"""

from __future__ import annotations

from typing import Any, Protocol


class Journal(Protocol):
    """Receives each applied command; ``commit`` makes everything appended durable."""

    def append(self, entry: tuple[Any, ...]) -> None: ...
    def commit(self) -> None: ...
