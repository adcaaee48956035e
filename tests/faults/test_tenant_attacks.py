"""Tenant attacks: what a Deployment author, a flow's pod or an entrypoint cannot make Baton do.

Each test is an attack against the real API server, with the real operator running
where the defence is the operator's. Nothing is mocked; where a test needs a pod's
command to run it plays the kubelet's part explicitly (the runtime as a local process
with the pod's environment) and says so. docs/security.md names these tests.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from clusterkit import Cluster, OperatorProcess
from kube_helpers import apply, deployment, flow, flow_run, jobs, pool, wait_for, wait_state

pytestmark = pytest.mark.integration


def refusal(cluster: Cluster, namespace: str, body: dict[str, Any]) -> str:
    """Apply ``body`` expecting the API server to refuse it; return its message."""
    done = cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(body), check=False)
    assert done.returncode != 0, f"the API server accepted {body['metadata']['name']}"
    return done.stderr


def ready(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    status = cluster.get_json("deployments.baton.dev", name, "-n", namespace).get("status") or {}
    return next((c for c in status.get("conditions", []) if c["type"] == "Ready"), {})


# --- confused deputy: jobVariables ----------------------------------------------------

POOL_OWNER_ASKS = {
    "serviceAccountName": ({"serviceAccountName": "cluster-admin-sa"}, "ServiceAccount"),
    "privileged": ({"securityContext": {"privileged": True}}, "privileges"),
    "runAsRoot": ({"podSecurityContext": {"runAsUser": 0}}, "privileges"),
    "hostPath": (
        {
            "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
            "volumeMounts": [{"name": "root", "mountPath": "/host"}],
        },
        "hostPath",
    ),
    "identity env": (
        {"env": [{"name": "BATON_ENTRYPOINT", "value": "/etc/evil.py:main"}]},
        "BATON_",
    ),
}


@pytest.mark.parametrize("ask", sorted(POOL_OWNER_ASKS))
def test_a_deployment_asking_for_pool_owner_fields_is_refused_at_admission(
    crds: Cluster, namespace: str, ask: str
) -> None:
    """The CRD's CEL rules refuse what no WorkPool may delegate, before it is stored."""
    variables, words = POOL_OWNER_ASKS[ask]
    apply(crds, namespace, flow(), pool(allowedJobVariables=["env", "volumes", "volumeMounts"]))
    message = refusal(crds, namespace, deployment("grab", jobVariables=variables))
    assert words in message, message
    assert "WorkPool owner" in message or "Baton sets" in message, message
    gone = crds.kubectl("get", "deployments.baton.dev", "grab", "-n", namespace, check=False)
    assert gone.returncode != 0
    assert jobs(crds, namespace) == []


def test_fields_the_pool_does_not_allow_make_the_deployment_not_ready_and_no_job(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    """The pool's allowedJobVariables (default: resources, deadlines, pull policy) is the
    operator's to check, since CEL on a Deployment cannot see its pool: Ready=False with
    an Event, no scheduled runs, and a run created by hand fails with no Job."""
    variables = {
        "nodeSelector": {"kubernetes.io/hostname": "control-plane"},
        "env": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "admin", "key": "t"}}}],
    }
    apply(
        crds,
        namespace,
        flow(),
        pool(),
        deployment("grab", jobVariables=variables, schedules=[{"interval": 2}]),
    )
    condition = wait_for(
        lambda: (c := ready(crds, namespace, "grab")).get("reason") == "JobVariablesRefused" and c,
        what="Ready=False JobVariablesRefused",
    )
    assert condition["status"] == "False"
    assert "nodeSelector is not among the WorkPool's allowedJobVariables" in condition["message"]
    assert "env is not among" in condition["message"]
    events = crds.get_json("events", "-n", namespace)["items"]
    assert any(
        e["reason"] == "JobVariablesRefused" and e["involvedObject"]["name"] == "grab"
        for e in events
    )
    # A run scheduled before the operator's scheduler saw the pool (both watches start
    # together) is possible; once Ready=False, the 2 s interval creates none.
    before = runs(crds, namespace)
    time.sleep(5)
    assert runs(crds, namespace) == before
    apply(crds, namespace, flow_run("by-hand", "grab"))
    for name in [*before, "by-hand"]:
        status = wait_state(crds, namespace, name, "Failed", reason="JobVariablesRefused")
        assert "no Job created" in status["message"] and "nodeSelector" in status["message"]
    assert jobs(crds, namespace) == []


def runs(cluster: Cluster, namespace: str) -> list[str]:
    return sorted(
        r["metadata"]["name"] for r in cluster.get_json("flowruns", "-n", namespace)["items"]
    )


def test_a_field_the_pool_allows_still_reaches_the_job(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    """Allowing env (and keeping resources) lets the Deployment set them; the Job has both."""
    variables = {
        "env": [{"name": "REGION", "value": "eu-west"}],
        "resources": {"limits": {"memory": "256Mi"}},
    }
    apply(
        crds,
        namespace,
        flow(),
        pool(allowedJobVariables=["env", "resources"]),
        deployment("ok", jobVariables=variables),
    )
    wait_for(lambda: ready(crds, namespace, "ok").get("status") == "True", what="Ready=True")
    apply(crds, namespace, flow_run("r1", "ok"))
    wait_state(crds, namespace, "r1", "Pending", reason="JobCreated")
    [job] = jobs(crds, namespace)
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "REGION", "value": "eu-west"} in container["env"]
    assert container["resources"] == {"limits": {"memory": "256Mi"}}
    assert "serviceAccountName" not in job["spec"]["template"]["spec"]
