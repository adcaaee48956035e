"""The fault tests reuse the integration tier's helpers (workers, the chart): put that
folder on the import path, so ``pytest tests/faults`` runs on its own too."""

from __future__ import annotations

import sys

from clusterkit import ROOT

sys.path.insert(0, str(ROOT / "tests" / "integration"))
