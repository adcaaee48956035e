"""The fault tests reuse the integration tier's helpers (workers, the chart): put that
folder on the import path, so ``pytest tests/faults`` runs on its own too.

Tests that kill control-plane components take ``plane``: a private control plane of
their own, so the session's shared one is never disturbed."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from clusterkit import ROOT, controlplane

sys.path.insert(0, str(ROOT / "tests" / "integration"))


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[controlplane.ControlPlane]:
    cp = controlplane.ControlPlane(workdir=tmp_path / "plane")
    cp.start(controlplane.build())
    try:
        yield cp
    finally:
        cp.stop()
