"""FlowRun conditions that `kubectl wait` understands, on runs a real worker executes.

`Succeeded` is Unknown while a run is under way, True once Completed, False once it ended
otherwise (its reason is the state). Checked with kubectl itself, as scripts use it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from worker_helpers import WorkerProcess, adhoc_run, apply, flow, process_pool

from clusterkit import OperatorProcess

pytestmark = pytest.mark.integration


def test_kubectl_wait_for_succeeded(
    operator: OperatorProcess, namespace: str, tmp_path: Path
) -> None:
    cluster = operator.cluster
    ns = ("-n", namespace)
    apply(
        cluster,
        namespace,
        process_pool("p"),
        flow("record", "worker_flows.py:record"),
        flow("fails", "fails.py:fails"),
        adhoc_run("good", "record", "p", path=str(tmp_path / "out.txt"), seconds=0.1),
        adhoc_run("bad", "fails", "p", b=0),
    )
    worker = WorkerProcess(cluster, namespace, "p", tmp_path)
    try:
        waited = cluster.kubectl(
            "wait", "--for=condition=Succeeded", "--timeout=60s", "flowrun/good", *ns
        )
        assert "condition met" in waited.stdout
        failed = cluster.kubectl(
            "wait", "--for=condition=Succeeded=False", "--timeout=60s", "flowrun/bad", *ns
        )
        assert "condition met" in failed.stdout
    finally:
        worker.stop()
    good = cluster.get_json("flowrun", "good", *ns)["status"]
    (succeeded,) = [c for c in good["conditions"] if c["type"] == "Succeeded"]
    assert (succeeded["status"], succeeded["reason"]) == ("True", "Completed")
    assert succeeded["lastTransitionTime"] and succeeded["observedGeneration"] >= 1
    bad = cluster.get_json("flowrun", "bad", *ns)["status"]
    (ended,) = [c for c in bad["conditions"] if c["type"] == "Succeeded"]
    assert (ended["status"], ended["reason"]) == ("False", "Failed")
    # A success is never also reported as its opposite, and vice versa.
    refused = cluster.kubectl(
        "wait", "--for=condition=Succeeded=False", "--timeout=2s", "flowrun/good", *ns, check=False
    )
    assert refused.returncode != 0
