"""`baton runs` and `baton describe` output for scripts: -o json|yaml|wide|name, -l, -w.

Against the real API server: json/yaml are the API objects themselves (compared with what
kubectl returns for the same objects), `-l` is a server-side label selector, and `runs -w`
prints a run again when it changes. No operator runs here: the runs are plain objects
whose status the test writes, as the operator would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from worker_helpers import baton, env_for

from clusterkit import ROOT, Cluster
from kube_helpers import apply

pytestmark = pytest.mark.integration


def run_object(name: str, flow: str) -> dict[str, Any]:
    return {
        "apiVersion": "baton.dev/v1alpha1",
        "kind": "FlowRun",
        "metadata": {"name": name, "labels": {"baton.dev/flow": flow}},
        "spec": {"flowRef": {"name": flow}, "parameters": {"n": 1}},
    }


def set_state(cluster: Cluster, namespace: str, name: str, state: str) -> None:
    patch = {"status": {"state": state, "workPool": "pool-a", "attempts": 1}}
    cluster.kubectl(
        "patch", "flowrun", name, "-n", namespace, "--subresource=status", "--type=merge",
        "-p", json.dumps(patch),
    )  # fmt: skip


def test_json_and_yaml_are_the_api_objects(crds: Cluster, namespace: str) -> None:
    ns = ("-n", namespace)
    apply(crds, namespace, run_object("etl-1", "etl"), run_object("etl-2", "etl"))
    apply(crds, namespace, run_object("report-1", "report"))
    set_state(crds, namespace, "etl-1", "Completed")
    expected = {r["metadata"]["uid"]: r for r in crds.get_json("flowruns", *ns)["items"]}

    listed = json.loads(baton(crds, "runs", "-o", "json", *ns).stdout)
    assert listed["kind"] == "List" and listed["apiVersion"] == "v1"
    assert {r["metadata"]["uid"]: r for r in listed["items"]} == expected
    as_yaml = yaml.safe_load(baton(crds, "runs", "-o", "yaml", *ns).stdout)
    assert as_yaml["items"] == listed["items"]

    one = json.loads(baton(crds, "describe", "etl-1", "-o", "json", *ns).stdout)
    assert one == crds.get_json("flowrun", "etl-1", *ns)
    assert one["status"]["state"] == "Completed"
    assert yaml.safe_load(baton(crds, "describe", "etl-1", "-o", "yaml", *ns).stdout) == one

    # -l is the API server's label selector; --state still filters on top.
    selected = json.loads(baton(crds, "runs", "-l", "baton.dev/flow=etl", "-o", "json", *ns).stdout)
    assert sorted(r["metadata"]["name"] for r in selected["items"]) == ["etl-1", "etl-2"]
    names = baton(
        crds, "runs", "-l", "baton.dev/flow=etl", "--state", "Completed", "-o", "name", *ns
    )
    assert names.stdout.split() == ["etl-1"]
    empty = json.loads(baton(crds, "runs", "-l", "baton.dev/flow=none", "-o", "json", *ns).stdout)
    assert empty["items"] == []

    wide = baton(crds, "runs", "-o", "wide", *ns).stdout.splitlines()
    assert wide[0].split()[-4:] == ["POOL", "ATTEMPTS", "JOB", "REASON"]
    etl1 = next(line.split() for line in wide if line.startswith("etl-1 "))
    assert "Completed" in etl1 and "pool-a" in etl1


def test_runs_watch_prints_changes(crds: Cluster, namespace: str) -> None:
    ns = ("-n", namespace)
    apply(crds, namespace, run_object("w-1", "etl"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "baton.cli", "runs", "-w", "-o", "json", *ns],
        cwd=ROOT,
        env=env_for(crds),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    documents: list[dict[str, Any]] = []

    def read() -> None:
        assert proc.stdout is not None
        buffer = ""
        for line in proc.stdout:  # one pretty-printed JSON document per object
            buffer += line
            if line.rstrip() == "}":
                documents.append(json.loads(buffer))
                buffer = ""

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 20
        while not documents and time.monotonic() < deadline:
            time.sleep(0.1)
        # The listing first, one document per object (as kubectl get -w -o json prints).
        assert documents and documents[0]["metadata"]["name"] == "w-1", documents
        set_state(crds, namespace, "w-1", "Running")
        apply(crds, namespace, run_object("w-2", "etl"))
        while time.monotonic() < deadline + 20:
            states = [
                (d["metadata"]["name"], (d.get("status") or {}).get("state")) for d in documents[1:]
            ]
            if ("w-1", "Running") in states and any(n == "w-2" for n, _ in states):
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"watch printed {documents}")
        assert proc.poll() is None, "runs -w exited"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        reader.join(timeout=10)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def test_kubectl_plugin_names_itself(crds: Cluster) -> None:
    """`kubectl baton --help` shows kubectl's spelling, not `usage: baton`."""
    bindir = Path(sys.executable).parent  # the venv's console scripts: kubectl-baton
    assert (bindir / "kubectl-baton").exists()
    kubectl = ROOT / ".cluster" / "bin" / "kubectl"
    env = {**env_for(crds), "PATH": f"{bindir}:{os.environ['PATH']}"}
    done = subprocess.run(
        [str(kubectl), "baton", "--help"], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith("usage: kubectl baton"), done.stdout[:200]


def test_every_listing_has_the_same_output_formats(crds: Cluster, namespace: str) -> None:
    """`deployment ls` and `work-pool ls` print through the listing `runs` uses."""
    ns = ("-n", namespace)
    apply(
        crds,
        namespace,
        {"apiVersion": "baton.dev/v1alpha1", "kind": "WorkPool", "metadata": {"name": "b-pool"},
         "spec": {"type": "process"}},
        {"apiVersion": "baton.dev/v1alpha1", "kind": "WorkPool", "metadata": {"name": "a-pool"}},
        {"apiVersion": "baton.dev/v1alpha1", "kind": "Deployment", "metadata": {"name": "etl"},
         "spec": {"flowRef": {"name": "etl"}, "workPoolRef": {"name": "a-pool"}}},
    )  # fmt: skip
    ready = {
        "type": "Ready", "status": "False", "reason": "NoWorkers", "message": "none",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }  # fmt: skip
    crds.kubectl(
        "patch", "workpool", "b-pool", *ns, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": {"conditions": [ready], "workers": []}}),
    )  # fmt: skip
    for words, resource, names in (
        (("work-pool", "ls"), "workpools", ["a-pool", "b-pool"]),
        (("deployment", "ls"), "deployments.baton.dev", ["etl"]),
    ):
        expected = crds.get_json(resource, *ns)["items"]
        listed = json.loads(baton(crds, *words, "-o", "json", *ns).stdout)
        assert (listed["apiVersion"], listed["kind"]) == ("v1", "List")
        assert listed["items"] == expected
        assert yaml.safe_load(baton(crds, *words, "-o", "yaml", *ns).stdout) == listed
        assert baton(crds, *words, "-o", "name", *ns).stdout.split() == names
    wide = baton(crds, "work-pool", "ls", "-o", "wide", *ns).stdout.splitlines()
    assert wide[0].split()[-3:] == ["WORKERS", "READY", "REASON"]
    assert wide[2].split()[0] == "b-pool" and wide[2].split()[-2:] == ["False", "NoWorkers"]
    table = baton(crds, "deployment", "ls", *ns).stdout.splitlines()
    assert table[0].split() == ["FLOW/DEPLOYMENT", "POOL", "SCHEDULES", "PAUSED", "NEXT"]
    assert "ACTIVE" in baton(crds, "deployment", "ls", "-o", "wide", *ns).stdout.splitlines()[0]
    empty = baton(crds, "deployment", "ls", "-o", "json", "-n", f"{namespace}-none")
    assert json.loads(empty.stdout)["items"] == []
