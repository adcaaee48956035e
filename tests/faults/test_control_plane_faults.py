"""The operator rides out kube-apiserver and etcd restarts with no run lost or doubled.

A private control plane (these tests kill parts of it) runs the real operator; a
Deployment fires every 2 seconds with a concurrency limit of 2, and each of its Jobs is
executed by the real runtime (``baton execute``, the kubelet played by
``invariants.Kubelet``) running a flow that leaves a marker per execution. In the middle
kube-apiserver and then etcd are killed with SIGKILL and brought back on the same port
and data. ``invariants.Invariants`` watches Jobs, pods and FlowRuns throughout and
checks every event: one Job per attempt, at most 2 live runs, no terminal run coming
back; afterwards every fire time has exactly one run (by UID) and it Completed, its
flow body executed exactly once. The operator must have reconnected by itself (same
process, no restart).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fault_support import FLOWS

from clusterkit import ROOT, Cluster, OperatorProcess, controlplane
from invariants import Invariants, Kubelet
from kube_helpers import apply, deployment, flow, pool, wait_for

pytestmark = pytest.mark.integration

EVERY = 2
LIMIT = 2
API_DOWN_SECONDS = 5.0
ETCD_DOWN_SECONDS = 4.0


def fire_times(every: int, after: datetime, until: datetime) -> list[datetime]:
    first = (int(after.timestamp()) // every + 1) * every
    return [datetime.fromtimestamp(t, UTC) for t in range(first, int(until.timestamp()) + 1, every)]


# Two outages, each followed by up to 120 s for two runs to complete, then up to 120 s
# for every run to end: more than the suite's 300 s default on a loaded 2-core machine.
@pytest.mark.timeout(600)
def test_apiserver_and_etcd_restarts_lose_and_double_nothing(
    plane: controlplane.ControlPlane, tmp_path: Path
) -> None:
    cluster = Cluster(plane.kubeconfig, ROOT / ".cluster" / "bin" / "kubectl")
    cluster.kubectl("apply", "--server-side", "-f", str(ROOT / "crds"))
    cluster.kubectl("wait", "--for=condition=Established", "-f", str(ROOT / "crds"))
    cluster.kubectl("create", "namespace", "faults")
    wait_for(
        lambda: (
            cluster.kubectl("get", "sa", "default", "-n", "faults", check=False).returncode == 0
        ),
        60,
        "the namespace's default ServiceAccount",
    )
    markers = tmp_path / "markers"
    markers.mkdir()
    operator = OperatorProcess(cluster, "faults", tmp_path)
    proc = operator.start()
    recorder = Invariants(plane.kubeconfig, "faults", deployment_limits={"tick": LIMIT})
    kubelet = Kubelet(
        cluster, "faults", tmp_path, extra_env={"BATON_TEST_MARKERS": str(markers)}, cwd=FLOWS
    )
    try:
        with recorder, kubelet:
            apply(
                cluster,
                "faults",
                flow(entrypoint="fault_flows.py:marked"),
                pool(),
                deployment(
                    "tick",
                    schedules=[{"interval": EVERY}],
                    catchup={"policy": "All", "maxRuns": 100},
                    concurrency={"limit": LIMIT},
                    successfulRunsHistoryLimit=1000,
                ),
            )
            created = datetime.fromisoformat(
                cluster.get_json("deployments.baton.dev", "tick", "-n", "faults")["metadata"][
                    "creationTimestamp"
                ].replace("Z", "+00:00")
            )

            def completed_after(moment: datetime, count: int) -> bool:
                done = [
                    r
                    for r in recorder.snapshot_runs()
                    if (r.get("status") or {}).get("state") == "Completed"
                    and r["spec"]["scheduledTime"] > moment.strftime("%Y-%m-%dT%H:%M:%SZ")
                ]
                return len(done) >= count

            # A healthy workload first: three runs executed end to end.
            wait_for(lambda: completed_after(created, 3), 90, "three runs Completed")
            plane.kill("kube-apiserver")
            time.sleep(API_DOWN_SECONDS)  # the fault itself: the API server is away
            plane.restart("kube-apiserver")
            back = datetime.now(UTC)
            # The same operator process has scheduled, admitted and finished runs again.
            wait_for(lambda: completed_after(back, 2), 120, "runs Completed after the API server")
            plane.kill("etcd")
            time.sleep(ETCD_DOWN_SECONDS)  # the fault itself: etcd is away
            plane.restart("etcd")
            back = datetime.now(UTC)
            wait_for(lambda: completed_after(back, 2), 120, "runs Completed after etcd")
            until = datetime.now(UTC)
            inactive = {"spec": {"schedules": [{"interval": EVERY, "active": False}]}}
            cluster.kubectl(
                "patch", "deployments.baton.dev", "tick", "-n", "faults",
                "--type=merge", "-p", json.dumps(inactive),
            )  # fmt: skip
            # Runs may have been created up to the patch's arrival: only those before
            # ``until`` minus a second are required, all must end.
            wait_for(recorder.all_terminal, 120, "every run terminal")
            counts = recorder.check_fire_times(
                {"tick": fire_times(EVERY, created, until - timedelta(seconds=1))}
            )
            executions = recorder.check_executions(markers)
            summary = {
                **recorder.counters(),
                "fire times": counts,
                "executions": dict(executions),
                "exit codes": dict(kubelet.exit_codes),
            }
            print(f"control-plane faults: {json.dumps(summary)}")
            recorder.assert_clean()
            assert executions.get("Completed", 0) >= 7, summary
        assert proc.poll() is None, "the operator died instead of reconnecting"
    finally:
        operator.stop()
    assert "Traceback" not in operator.logs(), operator.logs()[-5000:]
