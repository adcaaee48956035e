"""Flows run on a real node: schedule → FlowRun → Job → pod → flow code → status.

The operator runs in its pod (from the chart), the kubelet runs the flow image with
containerd, and the flow runtime in the pod reports to the API server through the
kubernetes Service. These tests only create resources and read what the system did.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from baton.resources.flow import source_digest
from clusterkit import ROOT, Cluster, NodeCluster, node
from kube_helpers import apply, deployment, flow, flow_run, wait_for

pytestmark = pytest.mark.e2e

#: Test flows, shipped in a ConfigMap next to the runtime image (Flow spec.source).
FLOWS = """
import time

from baton import flow, task
from baton.artifacts import create_markdown_artifact


@task
def double(x: int) -> int:
    return 2 * x


@flow(log_prints=True)
def pipeline(n: int = 3) -> int:
    print("pipeline starting on the node")
    total = sum(double(i) for i in range(n))
    create_markdown_artifact(key="report", markdown=f"# total {total}")
    return total


@flow
def broken() -> None:
    raise ValueError("the flow broke on purpose")


@flow
def hungry() -> None:
    chunks = []
    while True:
        chunks.append(b"x" * (32 << 20))  # bytes that are written, so really resident


@flow(log_prints=True)
def sleeper(seconds: int = 600) -> None:
    print("going to sleep")
    time.sleep(seconds)
"""

RUNTIME_IMAGE = f"baton-runtime:{node.VERSION}"


def setup_flows(cluster: Cluster, namespace: str, *objects: dict[str, Any]) -> None:
    """The flows' ConfigMap, one Flow per function, then ``objects``."""
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "flows"},
        "data": {"work.py": FLOWS},
    }
    flows = [
        flow(
            name,
            image=RUNTIME_IMAGE,
            entrypoint=f"work.py:{name}",
            source={
                "configMap": {"name": "flows", "sha256": source_digest({"work.py": FLOWS.encode()})}
            },
        )
        for name in ("pipeline", "broken", "hungry", "sleeper")
    ]
    apply(cluster, namespace, configmap, *flows, *objects)


def run_of(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    result = cluster.kubectl("get", "flowrun", name, "-n", namespace, "-o", "json", check=False)
    return dict(json.loads(result.stdout)) if result.returncode == 0 else {}


def wait_state(
    cluster: Cluster, namespace: str, name: str, state: str, timeout: float = 120
) -> dict[str, Any]:
    def reached() -> dict[str, Any]:
        run = run_of(cluster, namespace, name)
        current = run.get("status", {}).get("state")
        terminal = {"Completed", "Failed", "Crashed", "Cancelled"}
        if current in terminal and current != state:
            raise AssertionError(f"{name} ended {current}, not {state}: {run['status']}")
        return run if current == state else {}

    return wait_for(reached, timeout=timeout, what=f"{namespace}/{name} {state}", interval=0.5)


def pods_of(cluster: Cluster, namespace: str, run: dict[str, Any]) -> list[dict[str, Any]]:
    job = run["status"]["jobName"]
    pods = cluster.get_json("pods", "-n", namespace, "-l", f"job-name={job}")["items"]
    return list(pods)


def wait_terminated(cluster: Cluster, namespace: str, run: dict[str, Any]) -> dict[str, Any]:
    """The run's flow container once it has exited: the runtime reports the final state
    just before its process ends, so the pod may still be running for a moment."""

    def terminated() -> dict[str, Any]:
        (pod,) = pods_of(cluster, namespace, run)
        statuses = pod["status"].get("containerStatuses") or [{}]
        return dict(statuses[0].get("state", {}).get("terminated") or {})

    return wait_for(terminated, timeout=60, what="the flow container terminated")


def _time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def start_latency(run: dict[str, Any], pod: dict[str, Any]) -> float:
    """Seconds from the run's scheduled time to its flow container starting (server side)."""
    state = pod["status"]["containerStatuses"][0]["state"]
    started = (state.get("running") or state.get("terminated"))["startedAt"]
    return (_time(started) - _time(run["spec"]["scheduledTime"])).total_seconds()


def record(figure: str, value: object) -> None:
    """Append a measured figure to $BATON_E2E_FIGURES (JSON lines), when set."""
    target = os.environ.get("BATON_E2E_FIGURES")
    if target:
        with open(target, "a") as out:
            out.write(json.dumps({"figure": figure, "value": value}) + "\n")


def baton(cluster: Cluster, namespace: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    return subprocess.run(
        [sys.executable, "-m", "baton.cli", *args, "-n", namespace],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_node_runs_pods_with_containerd(node_cluster: NodeCluster) -> None:
    """The node is a real kubelet: Ready, cgroup v1 driver cgroupfs, containerd runtime."""
    (item,) = node_cluster.cluster.get_json("nodes")["items"]
    info = item["status"]["nodeInfo"]
    assert info["kubeletVersion"] == "v1.37.1"
    assert info["containerRuntimeVersion"].startswith("containerd://1.")
    ready = {c["type"]: c["status"] for c in item["status"]["conditions"]}["Ready"]
    assert ready == "True"
    operator = node_cluster.cluster.get_json("pods", "-n", "baton-system")["items"]
    assert [p["status"]["phase"] for p in operator] == ["Running"]
    assert operator[0]["spec"]["nodeName"] == node.NODE_NAME


def test_a_deployment_on_an_interval_runs_to_completed(
    node_cluster: NodeCluster, runner_namespace: str
) -> None:
    cluster, ns = node_cluster.cluster, runner_namespace
    setup_flows(
        cluster,
        ns,
        deployment("every10s", "pipeline", parameters={"n": 4}, schedules=[{"interval": 10}]),
    )

    def completed_runs() -> list[dict[str, Any]]:
        runs = cluster.get_json("flowruns", "-n", ns)["items"]
        done = [r for r in runs if r.get("status", {}).get("state") == "Completed"]
        return done if len(done) >= 3 else []

    runs = wait_for(completed_runs, timeout=180, what="3 Completed scheduled runs", interval=1)
    latencies = []
    for run in runs:
        status = run["status"]
        assert status["taskRuns"]["total"] == 4
        assert status["taskRuns"]["counts"] == {"Completed": 4}
        assert [a["key"] for a in status["artifacts"]] == ["report"]
        assert status["artifacts"][0]["data"] == "# total 12"
        assert status["result"]["preview"] == "12"
        (pod,) = pods_of(cluster, ns, run)
        assert pod["spec"]["nodeName"] == node.NODE_NAME
        terminated = wait_terminated(cluster, ns, run)
        assert terminated["exitCode"] == 0
        assert pod["status"]["podIP"].startswith("10.244.0.")
        latencies.append(start_latency(run, pod))
    # Stop the schedule (its runs and their pods stay, owned by the Deployment).
    cluster.kubectl(
        "patch",
        "deployment.baton.dev",
        "every10s",
        "-n",
        ns,
        "--type=merge",
        "-p",
        '{"spec": {"paused": true}}',
    )
    record("scheduled_to_running_seconds", sorted(latencies))
    assert max(latencies) < 60, latencies


def test_a_failing_flow_ends_failed_with_its_traceback(
    node_cluster: NodeCluster, runner_namespace: str
) -> None:
    cluster, ns = node_cluster.cluster, runner_namespace
    setup_flows(cluster, ns, deployment("broken", "broken"), flow_run("broken-1", "broken"))
    run = wait_state(cluster, ns, "broken-1", "Failed")
    error = run["status"]["error"]
    assert error["type"] == "ValueError"
    assert error["message"] == "the flow broke on purpose"
    assert 'raise ValueError("the flow broke on purpose")' in error["traceback"]
    terminated = wait_terminated(cluster, ns, run)
    assert terminated["exitCode"] != 0


def test_a_flow_over_its_memory_limit_is_crashed_oomkilled(
    node_cluster: NodeCluster, runner_namespace: str
) -> None:
    cluster, ns = node_cluster.cluster, runner_namespace
    limits = {"resources": {"requests": {"memory": "64Mi"}, "limits": {"memory": "192Mi"}}}
    setup_flows(
        cluster,
        ns,
        deployment("hungry", "hungry", jobVariables=limits),
        flow_run("hungry-1", "hungry"),
    )
    run = wait_state(cluster, ns, "hungry-1", "Crashed")
    assert run["status"]["reason"] == "OOMKilled", run["status"]
    (pod,) = pods_of(cluster, ns, run)
    container = pod["spec"]["containers"][0]
    assert container["resources"]["limits"]["memory"] == "192Mi"
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == "OOMKilled"


def test_a_cancel_request_ends_cancelled_and_the_pod_is_gone(
    node_cluster: NodeCluster, runner_namespace: str
) -> None:
    cluster, ns = node_cluster.cluster, runner_namespace
    setup_flows(cluster, ns, deployment("sleeper", "sleeper"), flow_run("sleeper-1", "sleeper"))
    run = wait_state(cluster, ns, "sleeper-1", "Running")
    wait_for(
        lambda: any(p["status"]["phase"] == "Running" for p in pods_of(cluster, ns, run)),
        timeout=60,
        what="the sleeper's pod Running",
    )
    result = baton(cluster, ns, "cancel", "sleeper-1")
    assert result.returncode == 0, result.stderr
    wait_state(cluster, ns, "sleeper-1", "Cancelled", timeout=90)
    wait_for(lambda: not pods_of(cluster, ns, run), timeout=90, what="the sleeper's pod gone")


def test_baton_logs_shows_the_pods_output(node_cluster: NodeCluster, runner_namespace: str) -> None:
    cluster, ns = node_cluster.cluster, runner_namespace
    setup_flows(cluster, ns, deployment("pipeline", "pipeline"), flow_run("pipeline-1", "pipeline"))
    wait_state(cluster, ns, "pipeline-1", "Completed")
    result = baton(cluster, ns, "logs", "pipeline-1")
    assert result.returncode == 0, result.stderr
    assert "pipeline starting on the node" in result.stdout, result.stdout


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


#: For each example: what to create first, as its comments tell users, and the run that
#: must complete (a scheduled one of a Deployment, or a named FlowRun).
EXAMPLES: dict[str, dict[str, Any]] = {
    "minimal.yaml": {"deployment": "hello", "result": "'Hello, world!'"},
    "full.yaml": {"flowrun": "etl-custom-1", "secret": ("warehouse", "password")},
}


def test_every_example_is_exercised() -> None:
    assert {p.name for p in (ROOT / "examples").glob("*.yaml")} == set(EXAMPLES)


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_examples_apply_and_run(
    node_cluster: NodeCluster, runner_namespace: str, example: str
) -> None:
    cluster, ns = node_cluster.cluster, runner_namespace
    expected = EXAMPLES[example]
    if "secret" in expected:
        name, key = expected["secret"]
        cluster.kubectl(
            "create", "secret", "generic", name, f"--from-literal={key}=s3cret", "-n", ns
        )
    cluster.kubectl("apply", "-n", ns, "-f", str(ROOT / "examples" / example))
    if "flowrun" in expected:
        run = wait_state(cluster, ns, expected["flowrun"], "Completed", timeout=180)
    else:

        def completed() -> dict[str, Any]:
            runs = cluster.get_json("flowruns", "-n", ns)["items"]
            done = [r for r in runs if r.get("status", {}).get("state") == "Completed"]
            return done[0] if done else {}

        run = wait_for(completed, timeout=180, what=f"a Completed run of {example}", interval=1)
    if "result" in expected:
        assert run["status"]["result"]["preview"] == expected["result"]
    (pod,) = pods_of(cluster, ns, run)
    assert pod["spec"]["nodeName"] == node.NODE_NAME
    for doc in documents(ROOT / "examples" / example):  # stop the schedules
        if doc["kind"] == "Deployment":
            cluster.kubectl("delete", "deployment.baton.dev", doc["metadata"]["name"], "-n", ns)
