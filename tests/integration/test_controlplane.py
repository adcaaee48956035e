"""Smoke tests proving the control plane is the real thing, not a stand-in."""

from __future__ import annotations

import json

import pytest

from clusterkit import Cluster
from kube_helpers import wait_for

pytestmark = pytest.mark.integration


def test_server_is_kubernetes_1_37(cluster: Cluster) -> None:
    version = json.loads(cluster.kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"].startswith("v1.37.")
    assert version["serverVersion"]["minor"] == "37"
    assert cluster.kubectl("get", "--raw", "/readyz").stdout == "ok"


def test_job_controller_creates_a_pod(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl(
        "create", "job", "hello", "--image=busybox", "-n", namespace, "--", "echo", "hi"
    )
    pods = wait_for(
        lambda: cluster.get_json("pods", "-n", namespace, "-l", "job-name=hello")["items"],
        timeout=60,
        what="the Job controller to create a pod",
    )
    assert pods[0]["metadata"]["ownerReferences"][0]["kind"] == "Job"
    # No kubelet runs here, so the pod is accepted but never scheduled.
    assert pods[0]["status"]["phase"] == "Pending"


def test_garbage_collector_deletes_dependents(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("create", "configmap", "owner", "-n", namespace)
    owner_uid = cluster.get_json("configmap", "owner", "-n", namespace)["metadata"]["uid"]
    dependent = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "dependent",
            "namespace": namespace,
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner_uid}
            ],
        },
    }
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(dependent))
    cluster.kubectl("delete", "configmap", "owner", "-n", namespace)
    wait_for(
        lambda: (
            cluster.kubectl(
                "get", "configmap", "dependent", "-n", namespace, check=False
            ).returncode
            != 0
        )
    )


def test_rbac_forbids_the_non_admin_user(cluster: Cluster, namespace: str) -> None:
    denied = cluster.kubectl("get", "pods", "-n", namespace, user="alice", check=False)
    assert denied.returncode != 0
    assert "forbidden" in denied.stderr.lower()
    assert (
        cluster.kubectl(
            "auth", "can-i", "create", "jobs", "-n", namespace, user="alice", check=False
        ).stdout.strip()
        == "no"
    )
    cluster.kubectl(
        "create", "rolebinding", "alice-view", "--clusterrole=view", "--user=alice", "-n", namespace
    )
    wait_for(
        lambda: (
            cluster.kubectl("get", "pods", "-n", namespace, user="alice", check=False).returncode
            == 0
        )
    )
    # view still does not allow writes, nor reads in another namespace.
    assert (
        cluster.kubectl(
            "auth", "can-i", "create", "jobs", "-n", namespace, user="alice", check=False
        ).stdout.strip()
        == "no"
    )
    assert (
        cluster.kubectl("get", "pods", "-n", "default", user="alice", check=False).returncode != 0
    )


def test_cronjob_controller_creates_jobs(cluster: Cluster, namespace: str) -> None:
    """The CronJob controller is on (Baton's scheduler is benchmarked against it)."""
    cluster.kubectl(
        "create",
        "cronjob",
        "tick",
        "--image=busybox",
        "--schedule=* * * * *",
        "-n",
        namespace,
        "--",
        "true",
    )
    jobs = wait_for(lambda: cluster.get_json("jobs", "-n", namespace)["items"], timeout=90)
    assert jobs[0]["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
