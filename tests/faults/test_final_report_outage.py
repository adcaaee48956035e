"""A run that finishes while kube-apiserver is down still ends Completed, with everything.

A private control plane (this test kills part of it) runs the real operator, a real
process worker and, playing the kubelet, the pod command of a Job (``baton execute``).
Two runs of the same flow — one through a Job, one through the worker — run their first
tasks, then the API server is SIGKILLed; while it is down both flows run more tasks,
publish an artifact too large for the status (it goes to a ConfigMap) and return. Their
runtimes must hold the final report, and deliver it when the API server is back on the
same port and data: each run Completed, with its result, all six task runs and the
artifact, and nothing reported twice or lost.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from fault_support import FLOWS, start_pod_command
from worker_helpers import WorkerProcess

from clusterkit import ROOT, Cluster, OperatorProcess, controlplane
from kube_helpers import (
    apply,
    flow,
    flow_run,
    jobs,
    pod_of,
    pool,
    run_status,
    set_pod_status,
    terminated,
    wait_for,
    wait_state,
)

pytestmark = pytest.mark.integration

NAMESPACE = "outage"
#: How long the API server stays down after both flows were told to finish.
DOWN_SECONDS = 8.0
EXPECTED_TOTAL = sum(i * i for i in range(6))


def _run(name: str, pool_name: str, handshake: Path) -> dict[str, Any]:
    handshake.mkdir()
    run = flow_run(name, parameters={"handshake": str(handshake)})
    run["spec"] = {
        "flowRef": {"name": "outage"},
        "workPoolRef": {"name": pool_name},
        "parameters": {"handshake": str(handshake)},
    }
    return run


def test_final_report_written_while_the_api_server_is_down(
    plane: controlplane.ControlPlane, tmp_path: Path
) -> None:
    cluster = Cluster(plane.kubeconfig, ROOT / ".cluster" / "bin" / "kubectl")
    cluster.kubectl("apply", "--server-side", "-f", str(ROOT / "crds"))
    cluster.kubectl("wait", "--for=condition=Established", "-f", str(ROOT / "crds"))
    cluster.kubectl("create", "namespace", NAMESPACE)
    wait_for(
        lambda: (
            cluster.kubectl("get", "sa", "default", "-n", NAMESPACE, check=False).returncode == 0
        ),
        60,
        "the namespace's default ServiceAccount",
    )
    operator = OperatorProcess(cluster, NAMESPACE, tmp_path)
    operator_proc = operator.start()
    job_door, worker_door = tmp_path / "job", tmp_path / "worker"
    apply(
        cluster,
        NAMESPACE,
        flow("outage", entrypoint="fault_flows.py:through_outage"),
        pool("jobs"),
        pool("procs", type="process"),
    )
    worker = WorkerProcess(cluster, NAMESPACE, "procs", tmp_path, work_dir=FLOWS)
    pod: subprocess.Popen[bytes] | None = None
    try:
        apply(
            cluster,
            NAMESPACE,
            _run("via-job", "jobs", job_door),
            _run("via-worker", "procs", worker_door),
        )
        job = wait_for(lambda: next(iter(jobs(cluster, NAMESPACE)), None), 30, "the Job")
        pod = start_pod_command(cluster, job, tmp_path / "pod.log")
        for door in (job_door, worker_door):
            wait_for(lambda d=door: (d / "ready").exists(), 60, f"{door.name}: first tasks")
        for name in ("via-job", "via-worker"):  # what came before the outage was reported
            wait_for(
                lambda n=name: (
                    (run_status(cluster, NAMESPACE, n).get("taskRuns") or {}).get("total") == 3
                ),
                30,
                f"{name}: three task runs reported",
            )

        plane.kill("kube-apiserver")
        down_at = time.monotonic()
        for door in (job_door, worker_door):
            (door / "go").write_text("")
        for door in (job_door, worker_door):
            wait_for(lambda d=door: (d / "done").exists(), 30, f"{door.name}: the flow to return")
        time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - down_at)))
        # The flows have returned, but their final reports cannot have been written:
        # each runtime must still be alive, holding them.
        assert pod.poll() is None, (tmp_path / "pod.log").read_text()[-3000:]
        assert len(worker.child_pids()) == 1 and "process exited" not in worker.output()
        plane.restart("kube-apiserver")
        outage = time.monotonic() - down_at

        assert pod.wait(timeout=60) == 0, (tmp_path / "pod.log").read_text()[-3000:]
        # kubelet: the container exited 0 once its report was written.
        job_pod = wait_for(lambda: pod_of(cluster, NAMESPACE, job["metadata"]["name"]), 30)
        set_pod_status(cluster, NAMESPACE, job_pod["metadata"]["name"], terminated(0))
        for name in ("via-job", "via-worker"):
            try:
                status = wait_state(cluster, NAMESPACE, name, "Completed", timeout=60)
            except AssertionError as error:
                raise AssertionError(
                    f"{error}\n{json.dumps(run_status(cluster, NAMESPACE, name), indent=1)}\n"
                    + json.dumps(cluster.get_json("jobs,pods", "-n", NAMESPACE), indent=1)[-6000:]
                ) from None
            assert status["result"] == {
                "type": "int",
                "preview": str(EXPECTED_TOTAL),
                "truncated": False,
            }, status
            task_runs = status["taskRuns"]
            assert task_runs["total"] == 6 and task_runs["counts"] == {"Completed": 6}, task_runs
            items = task_runs["items"]
            assert len({t["id"] for t in items}) == 6, items
            assert all(t["name"].startswith("square-") for t in items), items
            states = [h["state"] for h in status.get("history", [])]
            assert "Crashed" not in states and "Failed" not in states, states
            assert states.count("Completed") == 1, states
            (artifact,) = [a for a in status["artifacts"] if a["key"] == "big"]
            assert artifact["truncated"] is True and artifact["configMap"], artifact
            stored = cluster.get_json("configmap", artifact["configMap"], "-n", NAMESPACE)
            assert len(stored["data"]["content"]) > 10_000
        assert operator_proc.poll() is None, "the operator died instead of reconnecting"
        assert worker.proc.poll() is None, "the worker died instead of reconnecting"
        print(f"API server down {outage:.1f}s; both runs Completed after it returned")
    finally:
        if pod is not None and pod.poll() is None:
            pod.kill()
            pod.wait()
        worker.stop()
        operator.stop()
    assert "Traceback" not in operator.logs(), operator.logs()[-5000:]
