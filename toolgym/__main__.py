"""``python -m toolgym``."""

from __future__ import annotations

import sys

from toolgym.cli import main

sys.exit(main())
