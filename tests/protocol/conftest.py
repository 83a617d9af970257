"""Make the repository importable when pytest runs without the package installed.

pytest's default import mode puts only this folder on `sys.path`. The cleaner fix is
`pythonpath = ["."]` under `[tool.pytest.ini_options]`; until then this keeps
`pytest tests/protocol` working from a plain checkout.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
