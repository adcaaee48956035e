"""The in-pod runtime (`baton execute`) reporting into a real FlowRun.

No kubelet runs here, so each test plays the kubelet's part explicitly: it starts the
pod's command (`baton execute`) as a local process with the environment the Job would
give it, against the same API server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from clusterkit import ROOT, Cluster

pytestmark = pytest.mark.integration
FLOWS = Path(__file__).parent / "flows"


def make_run(cluster: Cluster, namespace: str, name: str, parameters: dict[str, Any]) -> str:
    cluster.kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=json.dumps(
            {
                "apiVersion": "baton.dev/v1alpha1",
                "kind": "FlowRun",
                "metadata": {"name": name},
                "spec": {"flowRef": {"name": "f"}, "parameters": parameters},
            }
        ),
    )
    return str(cluster.get_json("flowrun", name, "-n", namespace)["metadata"]["uid"])


def execute(
    cluster: Cluster,
    namespace: str,
    name: str,
    uid: str,
    entrypoint: str,
    cwd: Path,
    tmp_path: Path,
    **extra: str,
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig),
        "BATON_FLOW_RUN_NAME": name,
        "BATON_FLOW_RUN_NAMESPACE": namespace,
        "BATON_FLOW_RUN_UID": uid,
        "BATON_ENTRYPOINT": entrypoint,
        "BATON_ATTEMPT": "1",
        "BATON_CACHE_DIR": str(tmp_path / "unused-local-cache"),
        **extra,
    }
    return subprocess.run(
        [sys.executable, "-m", "baton.cli", "execute"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_etl_flow_reports_everything(crds: Cluster, namespace: str, tmp_path: Path) -> None:
    uid = make_run(crds, namespace, "etl-1", {"day": "2026-02-01", "budget": 60})
    done = execute(crds, namespace, "etl-1", uid, "flows/etl.py:etl", ROOT / "examples", tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Beginning flow run 'etl-1' for flow 'etl'" in done.stderr
    status = crds.get_json("flowrun", "etl-1", "-n", namespace)["status"]
    runtime = status["runtime"]
    assert runtime["state"] == "Completed" and runtime["attempt"] == 1
    assert runtime["startTime"] <= runtime["endTime"]
    tasks = status["taskRuns"]
    assert tasks["total"] == 4  # extract twice (one cached), transform, load (retried)
    assert tasks["counts"] == {"Cached": 1, "Completed": 3}
    assert {t["name"].rsplit("-", 1)[0] for t in tasks["items"]} == {"extract", "transform", "load"}
    kinds = {a["type"]: a for a in status["artifacts"]}
    assert set(kinds) == {"progress", "table", "markdown", "link"}
    assert kinds["markdown"]["key"] == "etl-report" and "Loaded **" in kinds["markdown"]["data"]
    assert json.loads(kinds["progress"]["data"]) == 100.0
    assert "example.com/dashboards/etl" in kinds["link"]["data"]
    rows = json.loads(kinds["table"]["data"])
    assert all(row["amount"] <= 60 for row in rows)
    assert status["result"] == {"type": "int", "preview": str(len(rows)), "truncated": False}
    assert "error" not in status
    # The cache lives in the cluster: a ConfigMap in the run's namespace.
    caches = crds.get_json("configmaps", "-n", namespace, "-l", "baton.dev/cache=true")
    assert len(caches["items"]) == 1
    # A second run of the same day is a cache hit for both extract calls.
    uid2 = make_run(crds, namespace, "etl-2", {"day": "2026-02-01", "budget": 60})
    assert (
        execute(
            crds, namespace, "etl-2", uid2, "flows/etl.py:etl", ROOT / "examples", tmp_path
        ).returncode
        == 0
    )
    counts = crds.get_json("flowrun", "etl-2", "-n", namespace)["status"]["taskRuns"]["counts"]
    assert counts == {"Cached": 2, "Completed": 2}


def test_failure_reports_the_traceback_tail(crds: Cluster, namespace: str, tmp_path: Path) -> None:
    uid = make_run(crds, namespace, "fails-1", {"b": 0})
    done = execute(crds, namespace, "fails-1", uid, "fails.py:fails", FLOWS, tmp_path)
    assert done.returncode == 1
    status = crds.get_json("flowrun", "fails-1", "-n", namespace)["status"]
    assert status["runtime"]["state"] == "Failed"
    assert status["error"]["type"] == "ZeroDivisionError"
    assert "division by zero" in status["error"]["message"]
    assert "return a / b" in status["error"]["traceback"]
    assert status["taskRuns"]["counts"] == {"Failed": 1}


def test_invalid_parameters_fail_before_any_task(
    crds: Cluster, namespace: str, tmp_path: Path
) -> None:
    uid = make_run(crds, namespace, "bad-params", {})
    done = execute(
        crds,
        namespace,
        "bad-params",
        uid,
        "fails.py:fails",
        FLOWS,
        tmp_path,
        BATON_PARAMETERS=json.dumps({"b": "zero"}),
    )
    assert done.returncode == 1
    status = crds.get_json("flowrun", "bad-params", "-n", namespace)["status"]
    assert status["runtime"]["state"] == "Failed"
    assert "b" in status["runtime"]["message"]
    assert "taskRuns" not in status


def test_unloadable_entrypoint_fails_with_a_message(
    crds: Cluster, namespace: str, tmp_path: Path
) -> None:
    uid = make_run(crds, namespace, "missing", {})
    done = execute(crds, namespace, "missing", uid, "nope.py:flow", FLOWS, tmp_path)
    assert done.returncode == 1
    runtime = crds.get_json("flowrun", "missing", "-n", namespace)["status"]["runtime"]
    assert runtime["state"] == "Failed"
    assert "does not exist" in runtime["message"]


def test_ten_thousand_task_runs_stay_small(crds: Cluster, namespace: str, tmp_path: Path) -> None:
    uid = make_run(crds, namespace, "many", {})
    done = execute(crds, namespace, "many", uid, "many_tasks.py:many", FLOWS, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    run = crds.get_json("flowrun", "many", "-n", namespace)
    tasks = run["status"]["taskRuns"]
    assert tasks["total"] == 10_000
    assert tasks["counts"] == {"Completed": 9_999, "Failed": 1}
    assert len(tasks["items"]) == 50 and tasks["omitted"] == 9_950
    assert tasks["items"][0]["state"] == "Failed"  # failed first
    size = len(json.dumps(run))
    assert size < 64 * 1024, f"FlowRun is {size} bytes"


def test_parameters_too_large_for_the_environment_are_read_from_the_api(
    crds: Cluster, namespace: str, tmp_path: Path
) -> None:
    crds.kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=json.dumps(
            {
                "apiVersion": "baton.dev/v1alpha1",
                "kind": "Deployment",
                "metadata": {"name": "d"},
                "spec": {"flowRef": {"name": "f"}, "parameters": {"b": 0}},
            }
        ),
    )
    crds.kubectl(
        "create",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=json.dumps(
            {
                "apiVersion": "baton.dev/v1alpha1",
                "kind": "FlowRun",
                "metadata": {"name": "big"},
                "spec": {"deploymentRef": {"name": "d"}, "parameters": {"b": 4}},
            }
        ),
    )
    uid = crds.get_json("flowrun", "big", "-n", namespace)["metadata"]["uid"]
    done = execute(crds, namespace, "big", uid, "fails.py:fails", FLOWS, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    result = crds.get_json("flowrun", "big", "-n", namespace)["status"]["result"]
    assert result["preview"] == "0.25"  # b=4 from the run, over the Deployment's b=0


def test_artifact_get_reads_the_latest_keyed_version_from_an_earlier_run(
    crds: Cluster, namespace: str, tmp_path: Path
) -> None:
    """Each run is its own process (its own pod): only the cluster carries the artifact."""

    def run(name: str, entrypoint: str, parameters: dict[str, Any]) -> dict[str, Any]:
        uid = make_run(crds, namespace, name, parameters)
        local = str(tmp_path / name / "artifacts")  # a pod's files die with it
        done = execute(
            crds, namespace, name, uid, entrypoint, FLOWS, tmp_path, BATON_ARTIFACT_DIR=local
        )
        assert done.returncode == 0, done.stderr
        return dict(crds.get_json("flowrun", name, "-n", namespace)["status"])

    assert run("read-0", "keyed_artifacts.py:read_back", {})["result"]["preview"] == "'<none>'"
    run("publish-1", "keyed_artifacts.py:publish", {"version": 1})
    run("publish-2", "keyed_artifacts.py:publish", {"version": 2})
    status = run("read-1", "keyed_artifacts.py:read_back", {})
    assert status["result"]["preview"] == "'report v2 (nightly)'"
    # One ConfigMap per key, owned by no run: it outlives the run that wrote it.
    stored = crds.get_json("configmaps", "-n", namespace, "-l", "baton.dev/artifact-key=true")
    assert len(stored["items"]) == 1
    assert not stored["items"][0]["metadata"].get("ownerReferences")


def test_an_emitted_event_is_a_kubernetes_event_on_the_flowrun(
    crds: Cluster, namespace: str, tmp_path: Path
) -> None:
    uid = make_run(crds, namespace, "ship-1", {"order": 42})
    done = execute(crds, namespace, "ship-1", uid, "emits.py:ship", FLOWS, tmp_path)
    assert done.returncode == 0, done.stderr
    events = crds.get_json(
        "events", "-n", namespace, "--field-selector", "involvedObject.name=ship-1"
    )["items"]
    emitted = [e for e in events if e["reason"] == "Emitted"]
    assert len(emitted) == 1, events
    event = emitted[0]
    assert event["involvedObject"]["kind"] == "FlowRun" and event["involvedObject"]["uid"] == uid
    assert event["message"] == 'order.shipped on order.42: {"items": 3}'
    assert event["source"]["component"] == "baton-runtime"
    recorded = json.loads(event["metadata"]["annotations"]["baton.dev/event"])
    assert recorded["event"] == "order.shipped" and recorded["payload"] == {"items": 3}
    assert recorded["resource"] == {"baton.resource.id": "order.42"}
