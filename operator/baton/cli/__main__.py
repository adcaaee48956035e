"""``python -m baton.cli``."""

from __future__ import annotations

import sys

from baton.cli import main

sys.exit(main())
