"""Infrastructure that never starts: each run names its reason within seconds, then Crashes.

One namespace, one operator, one WorkPool per fault, all at once, plus a healthy control
run whose pod simply has no status yet (it must stay "Job created", never Crashed).

Decided by the real control plane (the API server's admission plugins and the
kube-controller-manager's Job controller, which then records ``FailedCreate`` Events):

* a missing ServiceAccount (the ServiceAccount admission plugin),
* an exhausted ResourceQuota (scoped to a PriorityClass so the other pools' pods pass),
* Pod Security ``restricted`` refusing a template that allows privilege escalation.

Played, because this tier has no kubelet and no scheduler (tests/cluster/controlplane.py
starts neither): the test writes the pod's status through the real API server as the
kubelet or the scheduler would —

* kubelet: ``CreateContainerConfigError: secret "warehouse" not found`` (what
  ``examples/full.yaml``'s ``etl-custom-1`` shows on a real node),
* kubelet: ``ErrImagePull``,
* scheduler: ``PodScheduled=False, reason Unschedulable``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from clusterkit import Cluster, OperatorProcess
from kube_helpers import (
    apply,
    deployment,
    flow,
    flow_run,
    jobs,
    pod_of,
    pool,
    set_pod_status,
    wait_for,
)

pytestmark = pytest.mark.integration

#: The pools' start-up timeout (the smallest the WorkPool accepts is 5).
STARTUP_TIMEOUT = 10
#: "Within seconds": the longest a run may say only "Job created" once its problem exists.
NAMED_WITHIN = 8.0


def _time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _waiting(reason: str, message: str) -> dict[str, Any]:
    return {
        "phase": "Pending",
        "containerStatuses": [
            {
                "name": "flow",
                "image": "baton-examples:0.1.0",
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "state": {"waiting": {"reason": reason, "message": message}},
            }
        ],
    }


UNSCHEDULABLE_STATUS = {
    "phase": "Pending",
    "conditions": [
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "0/3 nodes are available: 3 Insufficient memory.",
            "lastTransitionTime": "2026-01-01T00:00:00Z",
        }
    ],
}

#: run -> (the pool's jobTemplate, the pod status to play or None, reason, words).
CASES: dict[str, tuple[dict[str, Any], dict[str, Any] | None, str, str]] = {
    "nosa": (
        {"serviceAccountName": "missing"},
        None,
        "FailedCreate",
        'serviceaccount "missing" not found',
    ),
    "quota": ({"priorityClassName": "PRIORITY"}, None, "FailedCreate", "exceeded quota"),
    "lax": (
        {"securityContext": {"allowPrivilegeEscalation": True}},
        None,
        "FailedCreate",
        'violates PodSecurity "restricted:latest"',
    ),
    "config": (
        {},
        _waiting("CreateContainerConfigError", 'secret "warehouse" not found'),
        "CreateContainerConfigError",
        'secret "warehouse" not found',
    ),
    "pull": (
        {},
        _waiting("ErrImagePull", 'pull access denied for "nowhere/none"'),
        "ImagePullBackOff",
        "ErrImagePull: pull access denied",
    ),
    "unsched": ({}, UNSCHEDULABLE_STATUS, "Unschedulable", "3 Insufficient memory"),
}


@pytest.fixture
def priority_class(crds: Cluster) -> Iterator[str]:
    name = f"low-{uuid.uuid4().hex[:8]}"
    apply(
        crds,
        "default",
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": name},
            "value": 10,
        },
    )
    yield name
    crds.kubectl("delete", "priorityclass", name, "--wait=false", check=False)


def test_each_start_up_fault_is_named_within_seconds_then_crashed(
    operator: OperatorProcess, crds: Cluster, namespace: str, priority_class: str
) -> None:
    crds.kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    apply(
        crds,
        namespace,
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "no-low-pods"},
            "spec": {
                "hard": {"pods": "0"},
                "scopeSelector": {
                    "matchExpressions": [
                        {"scopeName": "PriorityClass", "operator": "In", "values": [priority_class]}
                    ]
                },
            },
        },
    )
    # The quota controller must have counted it, or admission refuses for another reason.
    wait_for(
        lambda: (
            crds.get_json("resourcequota", "no-low-pods", "-n", namespace).get("status") or {}
        ).get("hard"),
        what="the ResourceQuota's status",
    )
    objects: list[dict[str, Any]] = [flow(), pool(startupTimeoutSeconds=STARTUP_TIMEOUT)]
    objects.append(deployment("d"))
    for name, (template, _, _, _) in CASES.items():
        own = json.loads(json.dumps(template).replace("PRIORITY", priority_class))
        objects.append(pool(name, startupTimeoutSeconds=STARTUP_TIMEOUT, jobTemplate=own))
        objects.append(deployment(name, workPoolRef={"name": name}))
    apply(crds, namespace, *objects)
    applied = time.monotonic()
    apply(crds, namespace, flow_run("healthy"), *(flow_run(n, n) for n in CASES))

    def job_of(run: str) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            return next(
                (
                    j
                    for j in jobs(crds, namespace)
                    if j["metadata"]["ownerReferences"][0]["name"] == run
                ),
                None,
            )

        return wait_for(find, what=f"{run}'s Job")

    created = {
        run: _time(job_of(run)["metadata"]["creationTimestamp"]) for run in ["healthy", *CASES]
    }
    # kubelet / scheduler: the played problems, each timed from its own status write;
    # the refusals from the runs' creation.
    began: dict[str, float] = {}
    for run, (_, status, _, _) in CASES.items():
        if status is None:
            began[run] = applied
            continue
        name = job_of(run)["metadata"]["name"]
        pod = wait_for(lambda n=name: pod_of(crds, namespace, n), what=f"{run}'s pod")
        set_pod_status(crds, namespace, pod["metadata"]["name"], status)
        began[run] = time.monotonic()

    named_after: dict[str, float] = {}
    crashed: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + STARTUP_TIMEOUT + 40
    while len(crashed) < len(CASES):
        assert time.monotonic() < deadline, (
            f"named: {sorted(named_after)}, crashed: {sorted(crashed)}\n" + operator.logs()[-3000:]
        )
        items = crds.get_json("flowruns", "-n", namespace)["items"]
        statuses = {i["metadata"]["name"]: i.get("status") or {} for i in items}
        for run, (_, _, reason, words) in CASES.items():
            status = statuses.get(run, {})
            if run not in named_after and status.get("reason") == reason:
                assert status["state"] in ("Pending", "Crashed"), status
                assert words in status["message"], status
                named_after[run] = time.monotonic() - began[run]
            if status.get("state") == "Crashed" and run not in crashed:
                crashed[run] = status
        time.sleep(0.2)

    for run, (_, _, reason, words) in CASES.items():
        status = crashed[run]
        assert (status["reason"], status["attempts"]) == (reason, 1), status
        assert words in status["message"] and f"within {STARTUP_TIMEOUT}s" in status["message"]
        history = [(h["state"], h["reason"]) for h in status["history"]]
        assert ("Pending", "JobCreated") in history, history
        # Never before the pool's timeout, counted from the Job's creation.
        waited = (_time(status["endTime"]) - created[run]).total_seconds()
        assert STARTUP_TIMEOUT - 1 <= waited <= STARTUP_TIMEOUT + 10, (run, waited)
        assert named_after[run] <= NAMED_WITHIN, (run, named_after)
    # The crashed runs' Jobs are deleted (a refused pod would be retried for ever).
    wait_for(
        lambda: (
            {
                j["metadata"]["ownerReferences"][0]["name"]
                for j in jobs(crds, namespace)
                if not j["metadata"].get("deletionTimestamp")
            }
            == {"healthy"}
        ),
        what="the crashed runs' Jobs deleted",
    )
    # The control: a pod with no status yet is no problem, however long it takes.
    healthy = crds.get_json("flowrun", "healthy", "-n", namespace)["status"]
    assert (healthy["state"], healthy["reason"]) == ("Pending", "JobCreated"), healthy
    print(
        "figures: seconds until named",
        {k: round(v, 1) for k, v in sorted(named_after.items())},
        "; Crashed after (s, from Job creation)",
        {
            k: round((_time(v["endTime"]) - created[k]).total_seconds(), 1)
            for k, v in sorted(crashed.items())
        },
    )
