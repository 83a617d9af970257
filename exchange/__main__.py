"""``python -m exchange serve ...`` is the same as ``exchange serve ...``."""

import sys

from exchange.server.cli import main

sys.exit(main())
