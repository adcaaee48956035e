"""The run controller with the operator running for real against the real control plane.

No kubelet runs here. Where a test needs a pod to run, end, or die, it plays the
kubelet's part explicitly by writing the pod's status through the API (the real Job
controller then reacts to it); where it needs the flow's own report it plays the in-pod
runtime by writing ``status.runtime`` (the runtime is tested for real in
test_runtime.py). Every such step is marked "kubelet:" or "runtime:" below.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from typing import Any

import pytest

from clusterkit import ROOT, Cluster, OperatorProcess
from invariants import Invariants
from kube_helpers import (
    apply,
    deployment,
    flow,
    flow_run,
    jobs,
    pod_of,
    pool,
    report,
    run_status,
    set_pod_status,
    terminated,
    wait_for,
    wait_state,
)

pytestmark = pytest.mark.integration


def stamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def setup(
    cluster: Cluster,
    ns: str,
    *,
    pool_spec: dict[str, Any] | None = None,
    deployment_spec: dict[str, Any] | None = None,
    flow_spec: dict[str, Any] | None = None,
) -> None:
    apply(
        cluster,
        ns,
        flow(**(flow_spec or {})),
        pool(**(pool_spec or {})),
        deployment(**(deployment_spec or {})),
    )


def job_for(cluster: Cluster, ns: str, run: str) -> dict[str, Any]:
    return wait_for(
        lambda: next(
            (j for j in jobs(cluster, ns) if j["metadata"]["ownerReferences"][0]["name"] == run),
            None,
        ),
        what=f"a Job for {run}",
    )


def test_a_run_goes_pending_running_completed_with_the_real_runtime(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    setup(crds, namespace)
    apply(crds, namespace, flow_run("r1", parameters={"day": "2026-03-01", "budget": 50}))
    job = job_for(crds, namespace, "r1")
    status = wait_state(crds, namespace, "r1", "Pending")
    assert status["jobName"] == job["metadata"]["name"] and status["attempts"] == 1
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "baton-examples:0.1.0"
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    # kubelet: run the pod's command as a local process with the pod's environment.
    env = {e["name"]: e.get("value", "") for e in container["env"]}
    done = subprocess.run(
        container["command"][1:] and [sys.executable, "-m", "baton.cli", *container["command"][1:]],
        env={
            **os.environ,
            **env,
            "KUBECONFIG": str(crds.kubeconfig),
            "BATON_CACHE_DIR": "/nonexistent",
        },
        cwd=ROOT / "examples",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    status = wait_state(crds, namespace, "r1", "Completed")
    states = [h["state"] for h in status["history"]]
    # A leading Scheduled appears when the run's event beat its Deployment's to the operator.
    assert states[-1] == "Completed" and states[-3:-1] in (
        ["Pending", "Running"],
        ["Scheduled", "Pending"],
    ), states
    assert status["result"]["type"] == "int"
    assert status["duration"].endswith("s")
    row = crds.kubectl("get", "flowruns", "r1", "-n", namespace).stdout.splitlines()[1]
    assert "Completed" in row and "d" in row.split()
    events = crds.get_json("events", "-n", namespace, "--field-selector", "involvedObject.name=r1")[
        "items"
    ]
    assert any("-> Completed" in e["message"] for e in events)


def test_invalid_parameters_fail_without_a_job(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    schema = {
        "type": "object",
        "properties": {"budget": {"type": "integer"}},
        "required": ["budget"],
    }
    setup(crds, namespace, flow_spec={"parameterSchema": schema})
    apply(crds, namespace, flow_run("bad", parameters={"budget": "lots"}))
    status = wait_state(crds, namespace, "bad", "Failed")
    assert status["reason"] == "InvalidParameters"
    assert "budget: 'lots' is not of type 'integer'" in status["message"]
    # Proof the operator went past it: a run created after it gets its Job; "bad" none.
    apply(crds, namespace, flow_run("good", parameters={"budget": 3}))
    job_for(crds, namespace, "good")
    owners = [j["metadata"]["ownerReferences"][0]["name"] for j in jobs(crds, namespace)]
    assert owners == ["good"], owners


def finish_job(cluster: Cluster, ns: str, run: str, state: str = "Completed") -> None:
    """runtime: report the end; kubelet: the pod exits."""
    job = job_for(cluster, ns, run)
    report(cluster, ns, run, state)
    pod = wait_for(lambda: pod_of(cluster, ns, job["metadata"]["name"]), what="pod")
    set_pod_status(
        cluster, ns, pod["metadata"]["name"], terminated(0 if state == "Completed" else 1)
    )


def test_limit_one_enqueue_never_has_two_jobs(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    setup(crds, namespace, deployment_spec={"concurrency": {"limit": 1}})
    # Checked on every Job and FlowRun event, not sampled.
    with Invariants(crds.kubeconfig, namespace, deployment_limits={"d": 1}) as recorder:
        apply(
            crds,
            namespace,
            *(flow_run(f"q{i}", scheduledTime=f"2026-01-01T00:00:0{i}Z") for i in range(3)),
        )
        wait_state(crds, namespace, "q0", "Pending")
        wait_state(crds, namespace, "q1", "Scheduled", "Late", reason="AwaitingConcurrencySlot")
        for i in range(3):
            wait_state(crds, namespace, f"q{i}", "Pending")
            finish_job(crds, namespace, f"q{i}")
            wait_state(crds, namespace, f"q{i}", "Completed")
    recorder.assert_clean()
    counters = recorder.counters()
    assert counters["max live Jobs"] == {"d": 1} and counters["jobs"] == 3, counters
    assert counters["max live runs"] == {"deployment/d": 1}, counters
    table = crds.kubectl("get", "flowruns", "-n", namespace).stdout
    assert table.count("Completed") == 3


def test_cancel_new_and_cancel_old(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    apply(
        crds,
        namespace,
        flow(),
        pool(),
        deployment("new", concurrency={"limit": 1, "collisionStrategy": "CancelNew"}),
        deployment("old", concurrency={"limit": 1, "collisionStrategy": "CancelOld"}),
    )
    apply(crds, namespace, flow_run("n1", "new"), flow_run("o1", "old"))
    wait_state(crds, namespace, "n1", "Pending")
    wait_state(crds, namespace, "o1", "Pending")
    apply(crds, namespace, flow_run("n2", "new"), flow_run("o2", "old"))
    cancelled = wait_state(crds, namespace, "n2", "Cancelled")
    assert cancelled["reason"] == "ConcurrencyLimitReached"
    old = wait_state(crds, namespace, "o1", "Cancelled", "Cancelling", timeout=20)
    assert old["reason"] in ("ReplacedByNewerRun", "CancelRequested")
    wait_state(crds, namespace, "o2", "Pending", timeout=30)


def test_oom_killed_pod_is_crashed_after_the_grace_period(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    setup(crds, namespace)
    apply(crds, namespace, flow_run("oom"))
    job = job_for(crds, namespace, "oom")
    pod = wait_for(lambda: pod_of(crds, namespace, job["metadata"]["name"]))
    set_pod_status(crds, namespace, pod["metadata"]["name"], terminated(137, "OOMKilled"))
    status = wait_state(crds, namespace, "oom", "Crashed")
    assert status["reason"] == "OOMKilled"
    assert "memory limit" in status["message"]


def test_evicted_pod_gets_a_new_attempt_with_crash_retries(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    setup(crds, namespace, deployment_spec={"crashRetries": 1})
    apply(crds, namespace, flow_run("ev"))
    job = job_for(crds, namespace, "ev")
    pod = wait_for(lambda: pod_of(crds, namespace, job["metadata"]["name"]))
    set_pod_status(
        crds,
        namespace,
        pod["metadata"]["name"],
        {
            "phase": "Failed",
            "reason": "Evicted",
            "message": "The node was low on resource: memory.",
        },
    )
    second = wait_for(
        lambda: (s := run_status(crds, namespace, "ev")).get("attempts") == 2 and s,
        what="a second attempt",
    )
    assert second["jobName"].endswith("-2")
    assert any(
        h["state"] == "AwaitingRetry" and "Evicted" in h["message"] for h in second["history"]
    )
    # runtime: a late report from attempt 1 must not end attempt 2 ...
    report(crds, namespace, "ev", "Completed", attempt=1)
    # ... which the operator has read once it acts on the next one, attempt 2 running
    # (a report it had taken would have ended the run: Completed never turns Running).
    report(crds, namespace, "ev", "Running", attempt=2)
    running = wait_state(crds, namespace, "ev", "Running", "Completed")
    assert running["state"] == "Running", running
    # ... while attempt 2's own report does end it.
    report(crds, namespace, "ev", "Completed", attempt=2)
    final = wait_state(crds, namespace, "ev", "Completed")
    assert final["attempts"] == 2
    assert [h["state"] for h in final["history"]].count("Completed") == 1, final["history"]


def test_late_final_report_is_not_a_false_crash(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    setup(crds, namespace)
    apply(crds, namespace, flow_run("late"))
    job = job_for(crds, namespace, "late")
    pod = wait_for(lambda: pod_of(crds, namespace, job["metadata"]["name"]))
    # kubelet: the pod exits 0 before the runtime's final report has landed.
    set_pod_status(crds, namespace, pod["metadata"]["name"], terminated(0, "Completed"))
    time.sleep(1.5)  # the fault: the report arrives 1.5 s late (the test grace is 3 s)
    report(crds, namespace, "late", "Completed")
    status = wait_state(crds, namespace, "late", "Completed", "Crashed")
    assert status["state"] == "Completed", status
    assert "Crashed" not in [h["state"] for h in status["history"]], status["history"]


def test_pod_that_exits_without_a_report_is_crashed_after_the_grace(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    """kubelet: the container exits 0 and the runtime never reports: Crashed
    (``NoFinalReport``), and not before the report grace (3 s in the tests) ran out."""
    setup(crds, namespace)
    apply(crds, namespace, flow_run("silent"))
    job = job_for(crds, namespace, "silent")
    pod = wait_for(lambda: pod_of(crds, namespace, job["metadata"]["name"]))
    exited = terminated(0, "Completed")
    set_pod_status(crds, namespace, pod["metadata"]["name"], exited)
    status = wait_state(crds, namespace, "silent", "Crashed", timeout=30)
    assert status["reason"] == "NoFinalReport", status
    assert "without reporting a final state" in status["message"]
    finished = exited["containerStatuses"][0]["state"]["terminated"]["finishedAt"]
    waited = (stamp(status["stateTime"]) - stamp(finished)).total_seconds()
    assert waited >= 3 - 1, f"Crashed {waited:.0f}s after the exit, inside the grace"  # 1 s stamps


def test_deleted_job_crashes_its_run(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    """Someone deletes the run's Job before any report: Crashed (``JobDeleted``), and no
    second Job is created for the attempt."""
    setup(crds, namespace)
    with Invariants(crds.kubeconfig, namespace) as recorder:
        apply(crds, namespace, flow_run("orphan"))
        job = job_for(crds, namespace, "orphan")
        crds.kubectl("delete", "job", job["metadata"]["name"], "-n", namespace, "--wait=false")
        status = wait_state(crds, namespace, "orphan", "Crashed", timeout=40)
        assert status["reason"] == "JobDeleted", status
        assert "Job was deleted" in status["message"]
    recorder.assert_clean()
    assert recorder.counters()["jobs"] == 1, recorder.counters()


def test_cancel_of_a_pod_that_ignores_sigterm(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    setup(crds, namespace)
    apply(crds, namespace, flow_run("stubborn"))
    job = job_for(crds, namespace, "stubborn")
    pod = wait_for(lambda: pod_of(crds, namespace, job["metadata"]["name"]))
    # kubelet: bind the pod to a node that never answers, so its deletion hangs forever.
    crds.kubectl(
        "create",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Binding",
                "metadata": {"name": pod["metadata"]["name"]},
                "target": {"apiVersion": "v1", "kind": "Node", "name": "ghost"},
            }
        ),
    )
    crds.kubectl(
        "patch",
        "flowrun",
        "stubborn",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec": {"cancelRequested": true}}',
    )
    wait_state(crds, namespace, "stubborn", "Cancelling")
    status = wait_state(crds, namespace, "stubborn", "Cancelled", timeout=30)
    assert "grace period" in status["message"]
    stuck = pod_of(crds, namespace, job["metadata"]["name"])
    assert stuck is not None and stuck["metadata"].get("deletionTimestamp")


def test_deleted_flow_run_takes_its_job(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    setup(crds, namespace)
    apply(crds, namespace, flow_run("gone"))
    job_for(crds, namespace, "gone")
    crds.kubectl("delete", "flowrun", "gone", "-n", namespace)
    wait_for(lambda: jobs(crds, namespace) == [], timeout=40, what="Job garbage-collected")


def test_deadline_exceeded_is_failed_with_the_reason(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    setup(crds, namespace, pool_spec={"jobTemplate": {"activeDeadlineSeconds": 1}})
    apply(crds, namespace, flow_run("slow"))
    status = wait_state(crds, namespace, "slow", "Failed", timeout=40)
    assert status["reason"] == "DeadlineExceeded"


def test_image_that_never_pulls_is_crashed(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    setup(crds, namespace)
    apply(crds, namespace, flow_run("nopull"))
    job = job_for(crds, namespace, "nopull")
    pod = wait_for(lambda: pod_of(crds, namespace, job["metadata"]["name"]))
    set_pod_status(
        crds,
        namespace,
        pod["metadata"]["name"],
        {
            "phase": "Pending",
            "containerStatuses": [
                {
                    "name": "flow",
                    "image": "x",
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "state": {
                        "waiting": {"reason": "ImagePullBackOff", "message": "pull access denied"}
                    },
                }
            ],
        },
    )
    status = wait_state(crds, namespace, "nopull", "Crashed", timeout=30)
    assert status["reason"] == "ImagePullBackOff"
    assert "pull access denied" in status["message"]


def test_pool_limit_and_pause_hold_runs(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    setup(crds, namespace, pool_spec={"concurrencyLimit": 1, "paused": True})
    apply(crds, namespace, flow_run("p1"), flow_run("p2"))
    status = wait_state(crds, namespace, "p1", "Scheduled", "Late", reason="WorkPoolPaused")
    assert "paused" in status["message"]
    crds.kubectl(
        "patch",
        "workpool",
        "default",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec": {"paused": false}}',
    )
    wait_for(lambda: len(jobs(crds, namespace)) == 1)
    queued = wait_for(
        lambda: next(
            (
                s
                for n in ("p1", "p2")
                if (s := run_status(crds, namespace, n)).get("reason") == "AwaitingPoolSlot"
            ),
            None,
        )
    )
    assert "limit (1)" in queued["message"]
    # The pool's counts are a summary written shortly after the admission pass.

    def pool_counts() -> tuple[Any, Any]:
        status = crds.get_json("workpool", "default", "-n", namespace).get("status") or {}
        return status.get("running"), status.get("queued")

    wait_for(lambda: pool_counts() == (1, 1), what="WorkPool status running=1 queued=1")
