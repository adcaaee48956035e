"""The operator rides out kube-apiserver and etcd restarts with no run lost or doubled.

These tests start a private control plane (they kill parts of it), run the real operator
against it, kill -9 kube-apiserver and then etcd in the middle of a 2-second schedule,
bring each back on the same port and data, and check that the operator reconnected by
itself (same process, no restart) and that every fire time has exactly one FlowRun.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clusterkit import ROOT, Cluster, OperatorProcess, controlplane

pytestmark = pytest.mark.integration


def fire_times(every: int, after: datetime, until: datetime) -> list[datetime]:
    first = (int(after.timestamp()) // every + 1) * every
    return [datetime.fromtimestamp(t, UTC) for t in range(first, int(until.timestamp()) + 1, every)]


def test_apiserver_and_etcd_restarts_lose_and_double_nothing(
    plane: controlplane.ControlPlane, tmp_path: Path
) -> None:
    cluster = Cluster(plane.kubeconfig, ROOT / ".cluster" / "bin" / "kubectl")
    cluster.kubectl("apply", "--server-side", "-f", str(ROOT / "crds"))
    cluster.kubectl("wait", "--for=condition=Established", "-f", str(ROOT / "crds"))
    cluster.kubectl("create", "namespace", "faults")
    operator = OperatorProcess(cluster, "faults", tmp_path)
    proc = operator.start()
    cluster.kubectl(
        "apply",
        "-n",
        "faults",
        "-f",
        "-",
        stdin=json.dumps(
            {
                "apiVersion": "baton.dev/v1alpha1",
                "kind": "Deployment",
                "metadata": {"name": "tick"},
                "spec": {
                    "flowRef": {"name": "f"},
                    "schedules": [{"interval": 2}],
                    "catchup": {"policy": "All", "maxRuns": 100},
                },
            }
        ),
    )
    created = datetime.fromisoformat(
        cluster.get_json("deployments.baton.dev", "tick", "-n", "faults")["metadata"][
            "creationTimestamp"
        ].replace("Z", "+00:00")
    )
    time.sleep(6)
    plane.kill("kube-apiserver")
    time.sleep(5)  # the operator's watches and writes fail meanwhile
    plane.restart("kube-apiserver")
    time.sleep(6)
    plane.kill("etcd")
    time.sleep(4)
    plane.restart("etcd")
    time.sleep(12)
    until = datetime.now(UTC) - timedelta(seconds=4)
    runs = cluster.get_json("flowruns", "-n", "faults")["items"]
    times = sorted(
        datetime.fromisoformat(r["spec"]["scheduledTime"].replace("Z", "+00:00")) for r in runs
    )
    assert len(times) == len(set(times)), "a fire time has two runs"
    assert [t for t in times if t <= until] == fire_times(2, created, until), (
        "a fire time inside the catch-up policy has no run"
    )
    assert proc.poll() is None, "the operator died instead of reconnecting"
    operator.stop()
