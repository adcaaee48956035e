"""SIGTERM ends the operator within its stated bound, whatever it is doing.

A private control plane (one case stops its API server) runs the real ``baton
operator``. SIGTERM is sent while it is idle, in the middle of a burst (400 FlowRuns
applied at once, sent once it has created the burst's first Jobs), and while the API
server is down (its watches and reflectors retrying). The process must be gone within
``STOP_BOUND_SECONDS`` plus a second of slack for the interpreter to exit; the figure
is printed. Clean stops exit 0; only the deadline's forced exit may exit
``STOP_TIMEOUT_EXIT``. The kubelet waits ``terminationGracePeriodSeconds`` (the chart:
30 s) before it sends SIGKILL, so the bound is well inside it.

After the burst case a second operator starts and finishes the burst: every run gets
exactly one Job, so what the stopped one had in flight was left for its successor.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from baton.controller.stopping import STOP_BOUND_SECONDS, STOP_TIMEOUT_EXIT
from clusterkit import ROOT, Cluster, OperatorProcess, controlplane
from kube_helpers import apply, deployment, flow, flow_run, jobs, pool, wait_for

pytestmark = pytest.mark.integration

BURST = 400
SLACK_SECONDS = 1.5


def _cluster(plane: controlplane.ControlPlane) -> Cluster:
    cluster = Cluster(plane.kubeconfig, ROOT / ".cluster" / "bin" / "kubectl")
    cluster.kubectl("apply", "--server-side", "-f", str(ROOT / "crds"))
    cluster.kubectl("wait", "--for=condition=Established", "-f", str(ROOT / "crds"))
    cluster.kubectl("create", "namespace", "stop")
    apply(cluster, "stop", flow(), pool(), deployment("d"))
    return cluster


def _started(operator: OperatorProcess) -> subprocess.Popen[bytes]:
    proc = operator.start()
    wait_for(
        lambda: "baton operator configured" in operator.logs() or proc.poll() is not None,
        60,
        "the operator's start-up",
    )
    assert proc.poll() is None, operator.logs()
    return proc


def _stop_seconds(proc: subprocess.Popen[bytes], operator: OperatorProcess) -> float:
    """SIGTERM, then the seconds until the process is gone (SIGKILL after 60 s: a failure)."""
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired as expired:
        proc.kill()
        proc.wait()
        tail = operator.logs()[-4000:]
        raise AssertionError(f"still running 60 s after SIGTERM\n{tail}") from expired
    return time.monotonic() - t0


def _burst(cluster: Cluster) -> None:
    items = [flow_run(f"burst-{i:03d}") for i in range(BURST)]
    for item in items:
        item["metadata"]["namespace"] = "stop"
    manifest = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items})
    cluster.kubectl("apply", "--server-side", "-f", "-", stdin=manifest)


@pytest.mark.parametrize("moment", ["idle", "mid-burst", "api-server-down", "etcd-down"])
def test_sigterm_ends_the_operator_within_its_bound(
    plane: controlplane.ControlPlane, tmp_path: Path, moment: str
) -> None:
    cluster = _cluster(plane)
    operator = OperatorProcess(cluster, "stop", tmp_path)
    # No kubelet here: the burst's pods never start, and must not be Crashed meanwhile.
    operator.env["BATON_STARTUP_TIMEOUT_SECONDS"] = "600"
    if moment.endswith("-down"):
        # The Lease at its production timings (15/10/2 s): renewals and the release then
        # run into the outage as they would in a cluster.
        for name in [n for n in operator.env if n.startswith("BATON_LEASE_")]:
            del operator.env[name]
    proc = _started(operator)
    try:
        if moment == "mid-burst":
            _burst(cluster)
            wait_for(lambda: len(jobs(cluster, "stop")) >= 10, 120, "the burst's first Jobs")
        elif moment == "api-server-down":
            plane.kill("kube-apiserver")
            # Long enough for every watch and reflector to have failed and be retrying.
            time.sleep(3)
        elif moment == "etcd-down":
            # The API server still accepts connections; its requests hang instead.
            plane.kill("etcd")
            time.sleep(3)
        seconds = _stop_seconds(proc, operator)
        print(json.dumps({"moment": moment, "sigterm_to_exit_s": round(seconds, 2),
                          "exit": proc.returncode}))  # fmt: skip
        assert seconds <= STOP_BOUND_SECONDS + SLACK_SECONDS, operator.logs()[-4000:]
        assert proc.returncode in (0, STOP_TIMEOUT_EXIT), operator.logs()[-4000:]
        if not moment.endswith("-down"):
            assert proc.returncode == 0, operator.logs()[-4000:]
        if moment == "mid-burst":
            successor = operator.start()
            wait_for(lambda: len(jobs(cluster, "stop")) >= BURST, 300, "a Job for every run")
            owners = [
                ref["name"]
                for job in jobs(cluster, "stop")
                for ref in job["metadata"]["ownerReferences"]
                if ref["kind"] == "FlowRun"
            ]
            assert len(owners) == len(set(owners)) == BURST
            assert successor.poll() is None
    finally:
        for part in ("etcd", "kube-apiserver"):
            if not plane.alive(part):
                plane.restart(part)
        operator.stop()
