"""Conditions that `kubectl wait` understands: FlowRun Succeeded, WorkPool Ready.

`Succeeded` is Unknown while a run is under way, True once Completed, False once it ended
otherwise (its reason is the state). Checked with kubectl itself, as scripts use it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from worker_helpers import WorkerProcess, adhoc_run, apply, flow, process_pool

from clusterkit import Cluster, OperatorProcess

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


def pool_ready(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    status = cluster.get_json("workpool", name, "-n", namespace).get("status") or {}
    return next((c for c in status.get("conditions") or [] if c["type"] == "Ready"), {})


def test_kubectl_wait_for_a_ready_work_pool(
    operator: OperatorProcess, namespace: str, tmp_path: Path
) -> None:
    """Ready on a WorkPool: Jobs pools at once; process pools while a worker heartbeats."""
    cluster = operator.cluster
    ns = ("-n", namespace)
    apply(
        cluster,
        namespace,
        {"kind": "WorkPool", "metadata": {"name": "k"}, "spec": {}},
        process_pool("p", heartbeatTimeoutSeconds=5),
    )
    wait = ("wait", "--timeout=30s", *ns)
    assert "condition met" in cluster.kubectl(*wait, "--for=condition=Ready", "workpool/k").stdout
    cluster.kubectl(*wait, "--for=condition=Ready=False", "workpool/p")
    idle = pool_ready(cluster, namespace, "p")
    assert idle["reason"] == "NoWorkers" and "baton worker start -p p" in idle["message"]
    assert idle["observedGeneration"] == 1 and idle["lastTransitionTime"]

    worker = WorkerProcess(cluster, namespace, "p", tmp_path)
    try:
        cluster.kubectl(*wait, "--for=condition=Ready", "workpool/p")
        live = pool_ready(cluster, namespace, "p")
        assert (live["reason"], live["message"]) == (
            "WorkersHeartbeating",
            "1 worker(s) heartbeating",
        )
        # Killed: no goodbye removes its entry. Its heartbeat expires after 5 s, and the
        # operator looks again exactly then, with no event to prompt it.
        worker.proc.kill()
        worker.proc.wait(timeout=10)
        cluster.kubectl(*wait, "--for=condition=Ready=False", "workpool/p")
    finally:
        worker.stop()
    lost = pool_ready(cluster, namespace, "p")
    assert lost["reason"] == "NoWorkers"
    assert lost["lastTransitionTime"] >= live["lastTransitionTime"]
