"""Facts the operator acts on: owner UIDs and specs, never what a flow's pod can write.

A flow's pod may patch ``flowruns/status`` in its namespace. These tests write, as such
a pod could (here as admin, i.e. without the chart's admission policy, which
tests/faults/test_least_privilege.py covers), the status fields the operator once read
back, and check it does not act on them. A Job someone else created under the name a run
needs is never adopted. The operator runs for real; no kubelet runs (Jobs stay without
pods), and the runtime's reports are written by the test where a run must finish.

Each attack runs with a healthy victim next door: the same operator serves a second
namespace where a Deployment fires every 5 s; every victim fire time during the attack
must get its FlowRun within 1 s (seen by a watch), none missing, and the operator log
must have no traceback.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fault_support import RunWatch

from baton.controller.jobs import job_name
from clusterkit import Cluster, OperatorProcess
from kube_helpers import (
    apply,
    deployment,
    flow,
    flow_run,
    jobs,
    patch_run_status,
    pool,
    report,
    wait_for,
    wait_state,
)

pytestmark = pytest.mark.integration


EVERY = 5
SKEW_BOUND = 1.0


def _fired(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


@pytest.fixture
def operator(crds: Cluster, namespace: str, tmp_path: Path) -> Iterator[OperatorProcess]:
    """The operator, serving the attacked namespace and a victim's next door."""
    victim = f"{namespace}-victim"
    crds.kubectl("create", "namespace", victim)
    process = OperatorProcess(crds, namespace, tmp_path, also=(victim,))
    process.start()
    apply(crds, victim, flow(), pool(), deployment("victim", schedules=[{"interval": EVERY}]))
    watch = RunWatch(crds, victim)
    # Measured from the first victim run on: the operator is up and scheduling.
    wait_for(lambda: watch.seen, timeout=60, what="the victim's first run")
    started = time.time()
    try:
        yield process
        # At least two victim fire times while the attack's objects are in place.
        wait_for(
            lambda: sum(_fired(s) > started for _, s in list(watch.seen.values())) >= 2,
            timeout=3 * EVERY + 10,
            what="two victim runs during the attack",
        )
        ended = time.time()
        time.sleep(SKEW_BOUND + 0.5)  # the last fire time's run may still be on its way
    finally:
        watch.stop()
        process.stop()
        crds.kubectl("delete", "namespace", victim, "--wait=false", check=False)
    fired = {name: _fired(stamp) for name, (_, stamp) in watch.seen.items()}
    during = sorted(t for t in fired.values() if started < t <= ended)
    skews = {name: skew for name, skew in watch.skews().items() if fired[name] in during}
    assert during, "no victim fire time during the attack"
    assert all(b - a == EVERY for a, b in itertools.pairwise(during)), during  # none lost
    assert max(skews.values()) <= SKEW_BOUND, skews
    print(f"victim: {len(during)} fire times, worst skew {max(skews.values()):.3f} s")
    assert "Traceback" not in process.logs(), process.logs()[-5000:]


def job(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    return dict(cluster.get_json("job", name, "-n", namespace))


def test_a_foreign_job_under_the_runs_job_name_is_never_adopted(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    """Someone who may create Jobs plants one named and labelled as the run's would be."""
    name = job_name("planted", 1)
    foreign = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/managed-by": "baton", "baton.dev/flow-run": "planted"},
        },
        "spec": {
            "suspend": True,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "mine:1", "command": ["true"]}],
                }
            },
        },
    }
    apply(crds, namespace, flow(), pool(), deployment(), foreign)
    before = job(crds, namespace, name)
    apply(crds, namespace, flow_run("planted"))
    status = wait_state(crds, namespace, "planted", "Failed", reason="JobNameTaken")
    assert f"a Job named '{name}' exists that this run does not own" in status["message"]
    after = job(crds, namespace, name)
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert "deletionTimestamp" not in after["metadata"]
    assert "ownerReferences" not in after["metadata"]
    assert after["spec"]["template"]["spec"]["containers"][0]["image"] == "mine:1"
    assert [j["metadata"]["name"] for j in jobs(crds, namespace)] == [name]


def test_a_forged_job_name_does_not_make_a_cancel_delete_another_runs_job(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    apply(crds, namespace, flow(), pool(), deployment(), flow_run("a"), flow_run("b"))
    for name in ("a", "b"):
        wait_state(crds, namespace, name, "Pending", reason="JobCreated")
    victim = job(crds, namespace, job_name("b", 1))
    # Run a's pod points a's status at b's Job, then a is cancelled.
    patch_run_status(crds, namespace, "a", {"jobName": victim["metadata"]["name"]})
    crds.kubectl(
        "patch", "flowrun", "a", "-n", namespace, "--type=merge",
        "-p", json.dumps({"spec": {"cancelRequested": True}}),
    )  # fmt: skip

    def deleted(name: str) -> bool:
        found = [j for j in jobs(crds, namespace) if j["metadata"]["name"] == name]
        return not found or "deletionTimestamp" in found[0]["metadata"]

    wait_for(lambda: deleted(job_name("a", 1)), what="a's own Job deleted")
    survivor = job(crds, namespace, victim["metadata"]["name"])
    assert survivor["metadata"]["uid"] == victim["metadata"]["uid"]
    assert "deletionTimestamp" not in survivor["metadata"], "b's Job was deleted"
    assert crds.get_json("flowrun", "b", "-n", namespace)["status"]["state"] == "Pending"


def test_a_forged_work_pool_does_not_free_a_concurrency_slot(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    """Pool ``p`` runs one at a time; the running run's pod claims to be in another pool."""
    apply(
        crds,
        namespace,
        flow(),
        pool("p", concurrencyLimit=1),
        pool("elsewhere"),
        deployment(workPoolRef={"name": "p"}),
        flow_run("first"),
    )
    wait_state(crds, namespace, "first", "Pending", reason="JobCreated")
    apply(crds, namespace, flow_run("second"))
    wait_for(
        lambda: (
            (crds.get_json("flowrun", "second", "-n", namespace).get("status") or {}).get("reason")
            == "AwaitingPoolSlot"
            or None
        ),
        what="the second run held by the limit",
    )
    patch_run_status(crds, namespace, "first", {"workPool": "elsewhere"})
    # Were the forged pool believed, the operator would admit "second" within its
    # admission delay (well under a second): watch for 5 s...
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        assert len(jobs(crds, namespace)) == 1, "the forged pool freed p's only slot"
        time.sleep(0.2)
    # ...and prove the operator was watching p all along: when "first" really ends,
    # "second" gets the slot at once.
    # (A finished run keeps its slot until its Job ends; no kubelet runs here, so the
    # Job goes as its TTL would remove it.)
    report(crds, namespace, "first", "Completed")
    wait_state(crds, namespace, "first", "Completed")
    crds.kubectl("delete", "job", job_name("first", 1), "-n", namespace)
    wait_state(crds, namespace, "second", "Pending", reason="JobCreated")
    assert [j["metadata"]["name"] for j in jobs(crds, namespace)] == [job_name("second", 1)]
