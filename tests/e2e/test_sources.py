"""Code from git and blocks on the real node, nothing simulated.

A real git server (``git http-backend`` behind HTTP basic auth, tests/git_server.py)
listens on the node's address 10.244.0.1, the host side of the pods' bridge, so the
pods' init containers clone from it as they would from a forge. A Flow sourced from it
runs commit A, then commit B after a push, each recorded in its run's status; a
seed-style flow loads a custom connector block mounted into its pod, and not a block of
the same namespace its Flow does not declare; a wrong git
credential ends the run Failed before the flow's container starts; neither secret
appears in any FlowRun, Event, Job, pod or log. The added start-up time of a git-sourced
run over a ConfigMap-sourced one is measured (``record``) for docs/resources.md.
"""

from __future__ import annotations

import hashlib
import statistics
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from test_node import RUNTIME_IMAGE, baton, pods_of, record, run_of, wait_state

from baton._kube.client import KubeClient
from baton._kube.config import from_kubeconfig
from baton._store import Cluster as Place
from baton.blocks import Block
from baton.blocks.system import Secret
from baton.resources.flow import source_digest
from clusterkit import NodeCluster, node
from git_server import WorkingCopy, git_server, make_repo
from kube_helpers import apply, deployment, flow, flow_run, wait_for

pytestmark = pytest.mark.e2e

GIT_USER = "ci"
#: Runs of each kind timed for the start-up figure (alternating, medians compared).
SAMPLES = 5

FLOWS_A = """
import hashlib

from pydantic import SecretStr

from baton import flow
from baton.blocks import Block
from baton.blocks.system import Secret

VERSION = "A"


class WarehouseConnector(Block):
    account: str
    password: SecretStr


@flow(log_prints=True)
def versioned() -> str:
    print(f"running version {VERSION}")
    return VERSION


@flow(log_prints=True)
def connect() -> list[str]:
    connector = WarehouseConnector.load("warehouse")
    print(f"connecting to {connector.account}")
    try:
        Secret.load("undeclared")
        undeclared = "read"
    except LookupError as error:
        undeclared = type(error).__name__
    return [hashlib.sha256(connector.password.get_secret_value().encode()).hexdigest(), undeclared]
"""


class WarehouseConnector(Block):
    """The flow's block type, as the user who saves it has it."""

    account: str
    password: SecretStr


@pytest.fixture
def served(tmp_path: Path, node_cluster: NodeCluster) -> Iterator[tuple[str, str, WorkingCopy]]:
    """A repository served on the node's address with basic auth: (url, password, copy)."""
    password = f"git-{uuid.uuid4().hex}"
    (tmp_path / "srv").mkdir()
    (tmp_path / "scratch").mkdir()
    copy = make_repo(tmp_path / "srv", "flows", tmp_path / "scratch")
    with git_server(tmp_path / "srv", node.GATEWAY, username=GIT_USER, password=password) as url:
        yield f"{url}/flows.git", password, copy


def git_flow(name: str, url: str, secret: str, **spec: Any) -> dict[str, Any]:
    return flow(
        name,
        image=RUNTIME_IMAGE,
        entrypoint=f"flows.py:{spec.pop('function', name)}",
        source={"git": {"url": url, "ref": "main", "credentials": {"secretName": secret}}},
        **spec,
    )


def run_to_completion(cluster: Any, ns: str, run: str, deployment_name: str) -> tuple[Any, float]:
    started = time.monotonic()
    apply(cluster, ns, flow_run(run, deployment_name))
    done = wait_state(cluster, ns, run, "Completed", timeout=180)
    return done, time.monotonic() - started


def test_git_sources_blocks_and_their_secrets_on_the_node(
    node_cluster: NodeCluster, runner_namespace: str, served: tuple[str, str, WorkingCopy]
) -> None:
    cluster, ns = node_cluster.cluster, runner_namespace
    url, git_password, copy = served
    block_password = f"block-{uuid.uuid4().hex}"
    commit_a = copy.commit({"flows.py": FLOWS_A}, "A")
    for name, password in (("git-creds", git_password), ("git-wrong", "not-the-password")):
        cluster.kubectl(
            "create", "secret", "generic", name, f"--from-literal=username={GIT_USER}",
            f"--from-literal=password={password}", "-n", ns,
        )  # fmt: skip
    undeclared_value = f"undeclared-{uuid.uuid4().hex}"
    with KubeClient(from_kubeconfig(cluster.kubeconfig)) as client:
        WarehouseConnector(account="acme", password=SecretStr(block_password)).save_at(
            Place(client, ns), "warehouse"
        )
        Secret(value=undeclared_value).save_at(Place(client, ns), "undeclared")
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "flows-cm"},
        "data": {"flows.py": FLOWS_A},
    }
    digest = source_digest({"flows.py": FLOWS_A.encode()})
    apply(
        cluster,
        ns,
        configmap,
        git_flow("versioned", url, "git-creds"),
        git_flow("connect", url, "git-creds", blocks=["warehouseconnector/warehouse"]),
        git_flow("wrong", url, "git-wrong", function="versioned"),
        flow(
            "from-configmap",
            image=RUNTIME_IMAGE,
            entrypoint="flows.py:versioned",
            source={"configMap": {"name": "flows-cm", "sha256": digest}},
        ),
        deployment("versioned", "versioned"),
        deployment("connect", "connect"),
        deployment("wrong", "wrong"),
        deployment("from-configmap", "from-configmap"),
    )

    # Commit A runs and is recorded; after a push, commit B.
    run_a, _ = run_to_completion(cluster, ns, "run-a", "versioned")
    assert run_a["status"]["result"]["preview"] == "'A'"
    assert run_a["status"]["sourceCommit"] == commit_a
    commit_b = copy.commit({"flows.py": FLOWS_A.replace('VERSION = "A"', 'VERSION = "B"')}, "B")
    run_b, _ = run_to_completion(cluster, ns, "run-b", "versioned")
    assert run_b["status"]["result"]["preview"] == "'B'"
    assert run_b["status"]["sourceCommit"] == commit_b != commit_a
    (pod,) = pods_of(cluster, ns, run_b)
    assert pod["spec"]["nodeName"] == node.NODE_NAME
    (init,) = pod["status"]["initContainerStatuses"]
    assert init["name"] == "git-clone" and init["state"]["terminated"]["exitCode"] == 0

    # A seed-style flow loads its custom connector block inside the pod; a block saved in
    # the namespace but not declared by the Flow does not load there.
    connected, _ = run_to_completion(cluster, ns, "connect-1", "connect")
    expected = hashlib.sha256(block_password.encode()).hexdigest()
    assert connected["status"]["result"]["preview"] == repr([expected, "BlockNotDeclared"])

    # A wrong credential: Failed with git's error; the flow's container never started.
    apply(cluster, ns, flow_run("wrong-1", "wrong"))
    failed = wait_state(cluster, ns, "wrong-1", "Failed", timeout=120)
    assert "git: authentication failed" in failed["status"]["message"], failed["status"]
    assert failed["status"]["error"]["type"] == "GitFetchError"
    assert "sourceCommit" not in failed["status"]
    (wrong_pod,) = pods_of(cluster, ns, failed)
    wait_for(
        lambda: (
            wrong_pod["status"].get("phase") == "Failed"
            or pods_of(cluster, ns, failed)[0]["status"].get("phase") == "Failed"
        ),
        timeout=60,
        what="the failed clone's pod to end",
    )
    (wrong_pod,) = pods_of(cluster, ns, failed)
    (clone,) = wrong_pod["status"]["initContainerStatuses"]
    assert clone["state"]["terminated"]["exitCode"] == 1
    (flow_container,) = wrong_pod["status"]["containerStatuses"]
    assert "running" not in flow_container["state"]
    assert "startedAt" not in (flow_container["state"].get("terminated") or {})

    # Start-up cost of a clone: git-sourced vs ConfigMap-sourced runs of the same flow.
    git_times, configmap_times = [], []
    for index in range(SAMPLES):
        git_times.append(run_to_completion(cluster, ns, f"time-git-{index}", "versioned")[1])
        configmap_times.append(
            run_to_completion(cluster, ns, f"time-cm-{index}", "from-configmap")[1]
        )
    clone_seconds = []
    for index in range(SAMPLES):
        (timed,) = pods_of(cluster, ns, run_of(cluster, ns, f"time-git-{index}"))
        done = timed["status"]["initContainerStatuses"][0]["state"]["terminated"]
        clone_seconds.append((done["startedAt"], done["finishedAt"]))
    record(
        "git_source_startup",
        {
            "git_create_to_completed_s": sorted(round(t, 2) for t in git_times),
            "configmap_create_to_completed_s": sorted(round(t, 2) for t in configmap_times),
            "added_median_s": round(
                statistics.median(git_times) - statistics.median(configmap_times), 2
            ),
            "init_container_started_finished": clone_seconds,
        },
    )

    # Neither secret appears in any object or log.
    logs = ""
    for pod_name in cluster.kubectl("get", "pods", "-n", ns, "-o", "name").stdout.split():
        for container in ("git-clone", "flow"):
            logs += cluster.kubectl("logs", pod_name, "-c", container, "-n", ns, check=False).stdout
    operator_logs = cluster.kubectl(
        "logs", "-n", "baton-system", "-l", "app.kubernetes.io/component=operator", "--tail=-1",
        check=False,
    ).stdout  # fmt: skip
    places = {
        "Baton objects": cluster.kubectl(
            "get", "flows,deployments.baton.dev,flowruns", "-n", ns, "-o", "json"
        ).stdout,
        "Events": cluster.kubectl("get", "events", "-n", ns, "-o", "json").stdout,
        "Jobs and pods": cluster.kubectl("get", "jobs,pods", "-n", ns, "-o", "json").stdout,
        "ConfigMaps": cluster.kubectl("get", "configmaps", "-n", ns, "-o", "json").stdout,
        "pod logs": logs,
        "operator log": operator_logs,
        "baton describe": baton(cluster, ns, "describe", "connect-1").stdout,
    }
    assert "connecting to acme" in logs and "running version B" in logs
    assert f"git: {url} at {commit_b}" in logs
    secrets = (block_password, git_password, undeclared_value)
    leaks = [where for where, text in places.items() if any(s in text for s in secrets)]
    assert leaks == [], f"a secret appears in: {leaks}"
