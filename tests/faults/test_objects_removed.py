"""Objects removed underneath the operator: a namespace, the CRDs, a FlowRun and its name.

Each fault runs next to a healthy namespace whose Deployment keeps firing (every 2 s):
after the fault, that namespace must keep getting runs and Jobs, and the operator process
must still be the one that started (no crash, so no crash loop) with no traceback logged.
No kubelet runs in this tier: Jobs get pods that stay Pending, which is all these faults
need.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from clusterkit import ROOT, Cluster, OperatorProcess, controlplane
from kube_helpers import (
    apply,
    deployment,
    flow,
    flow_run,
    jobs,
    pool,
    report,
    run_status,
    wait_for,
    wait_state,
)

pytestmark = pytest.mark.integration

HOLD = "test.baton.dev/hold"


def make_namespace(cluster: Cluster) -> str:
    """A fresh namespace whose default ServiceAccount exists (pods are refused before)."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    cluster.kubectl("create", "namespace", name)
    wait_for(
        lambda: (
            cluster.kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode
            == 0
        ),
        timeout=60,
        what=f"the default ServiceAccount of {name}",
    )
    return name


def healthy(cluster: Cluster, namespace: str) -> None:
    apply(
        cluster,
        namespace,
        flow(),
        pool(),
        deployment("tick", schedules=[{"interval": 2}]),
    )


def keeps_getting_runs(cluster: Cluster, namespace: str, more: int = 2) -> float:
    """Wait until ``more`` new Jobs exist in ``namespace``; the seconds it took."""
    start = time.monotonic()
    before = len(jobs(cluster, namespace))
    wait_for(
        lambda: len(jobs(cluster, namespace)) >= before + more,
        timeout=30,
        what=f"{more} more Jobs in the healthy namespace {namespace}",
    )
    return time.monotonic() - start


def gone(cluster: Cluster, *args: str) -> bool:
    result = cluster.kubectl("get", *args, check=False)
    return result.returncode != 0 and "NotFound" in result.stderr


@pytest.fixture
def other_namespaces(crds: Cluster) -> Iterator[list[str]]:
    names = [make_namespace(crds) for _ in range(2)]
    yield names
    for name in names:
        crds.kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_a_namespace_deleted_mid_run_and_during_catch_up_stalls_no_other(
    crds: Cluster, namespace: str, other_namespaces: list[str], tmp_path: Path
) -> None:
    """``namespace`` is deleted with a Running run and a firing Deployment in it; then,
    with the operator stopped, a Deployment in ``late`` misses fire times, and ``late``
    is deleted as soon as the restarted operator has begun catching them up."""
    ok, late = other_namespaces
    operator = OperatorProcess(crds, namespace, tmp_path, also=(ok, late))
    first = operator.start()
    try:
        healthy(crds, ok)
        healthy(crds, namespace)
        apply(crds, namespace, flow_run("mid", "tick"))
        wait_state(crds, namespace, "mid", "Pending", reason="JobCreated")
        report(crds, namespace, "mid", "Running")  # runtime: the flow started
        wait_state(crds, namespace, "mid", "Running")
        keeps_getting_runs(crds, ok)

        # Mid-run: the namespace and everything in it go.
        crds.kubectl("delete", "namespace", namespace, "--wait=false")
        wait_for(lambda: gone(crds, "namespace", namespace), timeout=90, what="namespace gone")
        after_delete = keeps_getting_runs(crds, ok)
        assert first.poll() is None, operator.logs()[-3000:]

        # Catch-up: fire times missed while the operator was down, in a namespace that
        # goes while they are being created (and the operator restarts watching one
        # namespace that no longer exists at all).
        operator.stop()
        apply(
            crds,
            late,
            flow(),
            pool(),
            deployment(
                "tick",
                schedules=[{"interval": 1}],
                catchup={"policy": "All", "maxRuns": 100},
            ),
        )
        missed_from = datetime.now(UTC)
        wait_for(
            lambda: datetime.now(UTC) > missed_from + timedelta(seconds=8),
            what="fire times to be missed",
        )
        second = operator.start()
        wait_for(lambda: crds.get_json("flowruns", "-n", late)["items"], what="catch-up to begin")
        crds.kubectl("delete", "namespace", late, "--wait=false")
        wait_for(lambda: gone(crds, "namespace", late), timeout=90, what="namespace gone")
        after_catch_up = keeps_getting_runs(crds, ok)
        assert second.poll() is None, operator.logs()[-3000:]
    finally:
        operator.stop()
    logs = operator.logs()
    assert "Traceback" not in logs, logs[-5000:]
    print(
        f"figures: 2 new Jobs in the healthy namespace {after_delete:.1f}s after the "
        f"mid-run deletion, {after_catch_up:.1f}s after the catch-up deletion"
    )


def test_a_flowrun_recreated_under_its_name_never_adopts_the_old_job(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    """The old run's Job is held by a finalizer of the test's, so it provably lives while
    the new run, same name and another UID, is admitted."""
    healthy(crds, namespace)
    apply(crds, namespace, flow_run("same", "tick"))
    old_run = crds.get_json("flowrun", "same", "-n", namespace)
    wait_state(crds, namespace, "same", "Pending", reason="JobCreated")
    old_job = next(j for j in jobs(crds, namespace) if j["metadata"]["name"] == "same-1")
    crds.kubectl(
        "patch",
        "job",
        "same-1",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps({"metadata": {"finalizers": [HOLD]}}),
    )
    crds.kubectl("delete", "flowrun", "same", "-n", namespace, "--wait=true")
    # The garbage collector marks the orphaned Job deleted; the finalizer keeps it.
    wait_for(
        lambda: crds.get_json("job", "same-1", "-n", namespace)["metadata"].get(
            "deletionTimestamp"
        ),
        what="the old Job marked deleted",
    )
    apply(crds, namespace, flow_run("same", "tick"))
    new_uid = crds.get_json("flowrun", "same", "-n", namespace)["metadata"]["uid"]
    assert new_uid != old_run["metadata"]["uid"]
    held = wait_state(crds, namespace, "same", "Scheduled", "Late", reason="JobNameHeld")
    assert "jobName" not in held and held.get("attempts", 0) == 0, held
    live = crds.get_json("job", "same-1", "-n", namespace)
    assert live["metadata"]["uid"] == old_job["metadata"]["uid"]
    # The old Job goes: the new run gets a Job of its own, owned by its UID.
    crds.kubectl(
        "patch",
        "job",
        "same-1",
        "-n",
        namespace,
        "--type=json",
        "-p",
        json.dumps([{"op": "remove", "path": "/metadata/finalizers"}]),
    )
    status = wait_state(crds, namespace, "same", "Pending", reason="JobCreated")
    new_job = crds.get_json("job", "same-1", "-n", namespace)
    assert new_job["metadata"]["uid"] != old_job["metadata"]["uid"]
    owner = new_job["metadata"]["ownerReferences"][0]
    assert (owner["uid"], status["attempts"]) == (new_uid, 1)
    # Still healthy: the Deployment's own runs go on.
    keeps_getting_runs(crds, namespace)


def test_the_crds_deleted_and_recreated_while_the_operator_runs(
    plane: controlplane.ControlPlane, tmp_path: Path
) -> None:
    """A private control plane: deleting the CRDs deletes every Baton object in it."""
    cluster = Cluster(plane.kubeconfig, ROOT / ".cluster" / "bin" / "kubectl")
    crd_files = str(ROOT / "crds")

    def install() -> None:
        cluster.kubectl("apply", "--server-side", "-f", crd_files)
        cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", crd_files)

    install()
    ns = make_namespace(cluster)
    operator = OperatorProcess(cluster, ns, tmp_path)
    proc = operator.start()
    try:
        healthy(cluster, ns)
        keeps_getting_runs(cluster, ns)
        old_jobs = {job["metadata"]["uid"] for job in jobs(cluster, ns)}
        removed_at = time.monotonic()
        cluster.kubectl("delete", "--wait=true", "--timeout=90s", "-f", crd_files)
        # Every Baton object went with its CRD. The runs' Jobs stay for now: the garbage
        # collector leaves dependents alone while their owners' kind cannot be resolved.
        assert proc.poll() is None, operator.logs()[-3000:]
        install()
        healthy(cluster, ns)
        back_at = time.monotonic()

        def new_jobs() -> list[dict[str, Any]]:
            """Jobs of runs that exist now. Until the new Deployment's ADDED arrives the
            scheduler may still fire the deleted one, whose runs are owned by its old UID
            and removed by the garbage collector (docs/reliability.md)."""
            runs = {r["metadata"]["uid"] for r in cluster.get_json("flowruns", "-n", ns)["items"]}
            return [
                job
                for job in jobs(cluster, ns)
                if job["metadata"]["uid"] not in old_jobs
                and any(o["uid"] in runs for o in job["metadata"]["ownerReferences"])
            ]

        wait_for(lambda: len(new_jobs()) >= 2, timeout=30, what="2 Jobs of the new runs")
        back = time.monotonic() - back_at
        assert proc.poll() is None, operator.logs()[-3000:]
        run = cluster.get_json("flowruns", "-n", ns)["items"][0]["metadata"]["name"]
        assert run_status(cluster, ns, run).get("state") in ("Pending", "Scheduled", "Late")
    finally:
        operator.stop()
    logs = operator.logs()
    assert "Traceback" not in logs, logs[-5000:]
    print(
        f"figures: runs and Jobs again {back:.1f}s after the CRDs were re-applied "
        f"({time.monotonic() - removed_at:.0f}s after they were deleted)"
    )
