"""The operator's CRD upgrade decisions (baton.controller.crds), without a cluster.

tests/integration/test_chart_upgrade.py runs the upgrade on the real API server.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from baton import __version__
from baton.controller.crds import VERSION_ANNOTATION, desired, should_apply

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent.parent


def stamped(version: str | None) -> dict[str, object]:
    annotations = {VERSION_ANNOTATION: version} if version is not None else {}
    return {"metadata": {"name": "flowruns.baton.dev", "annotations": annotations}}


def test_applies_over_older_unstamped_or_equal_never_over_newer() -> None:
    assert should_apply(stamped(None), "0.2.0")  # installed by Helm's crds/
    assert should_apply({"metadata": {}}, "0.2.0")
    assert should_apply(stamped("0.1.0"), "0.2.0")
    assert should_apply(stamped("0.2.0"), "0.2.0")  # a restart: re-apply is a no-op
    assert should_apply(stamped("0.1.9"), "0.2.0rc1")
    assert not should_apply(stamped("0.3.0"), "0.2.0")  # rolled back, or a newer replica
    assert not should_apply(stamped("1.0.0"), "0.10.0")
    assert should_apply(stamped("0.10.0"), "0.10.0")
    assert not should_apply(stamped("0.10.0"), "0.9.5")  # numbers, not strings
    assert should_apply(stamped("garbage"), "0.2.0")  # unreadable: ours is the known one


def test_desired_is_the_generated_crd_stamped_with_the_version() -> None:
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        generated = yaml.safe_load(path.read_text())
        ours = desired(generated["metadata"]["name"])
        assert ours["spec"] == generated["spec"]
        assert ours["metadata"]["labels"] == generated["metadata"]["labels"]
        assert ours["metadata"]["annotations"] == {VERSION_ANNOTATION: __version__}
