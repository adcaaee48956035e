"""`baton runs` against the real API server through the kubeconfigs users have: a user
whose credential comes from an exec plugin (as on EKS, GKE, AKS and OIDC clusters), and a
``KUBECONFIG`` list of two files merged as kubectl merges them."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from clusterkit import ROOT, Cluster

pytestmark = pytest.mark.integration

#: An exec credential plugin: checks what kubectl's exec protocol hands it, counts its
#: calls, and prints an ExecCredential with the token it was configured with.
PLUGIN = """
import json, os, sys
info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
assert info["kind"] == "ExecCredential" and info["spec"]["interactive"] is False, info
with open(os.environ["PLUGIN_CALLS"], "a") as calls:
    calls.write(info["apiVersion"] + "\\n")
print(json.dumps({
    "apiVersion": info["apiVersion"],
    "kind": "ExecCredential",
    "status": {"token": os.environ["PLUGIN_TOKEN"]},
}))
"""


def admin(cluster: Cluster) -> tuple[dict[str, Any], str]:
    """The test cluster's cluster entry and the admin's token."""
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    context = next(c for c in config["contexts"] if c["name"] == config["current-context"])
    user = next(u for u in config["users"] if u["name"] == context["context"]["user"])
    entry = next(c for c in config["clusters"] if c["name"] == context["context"]["cluster"])
    return entry["cluster"], user["user"]["token"]


def runs(kubeconfig: str, namespace: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "baton.cli", "runs", "-n", namespace],
        check=False,
        cwd=ROOT,
        env={**os.environ, "KUBECONFIG": kubeconfig},
        capture_output=True,
        text=True,
        timeout=120,
    )


def a_run(crds: Cluster, namespace: str) -> str:
    crds.kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=json.dumps(
            {
                "apiVersion": "baton.dev/v1alpha1",
                "kind": "FlowRun",
                "metadata": {"name": "seen-through-kubeconfig"},
                "spec": {"flowRef": {"name": "f"}},
            }
        ),
    )
    return "seen-through-kubeconfig"


def test_runs_with_an_exec_plugin_user(crds: Cluster, namespace: str, tmp_path: Path) -> None:
    cluster, token = admin(crds)
    name = a_run(crds, namespace)
    (tmp_path / "plugin.py").write_text(PLUGIN)
    calls = tmp_path / "calls"
    kubeconfig = tmp_path / "exec.yaml"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": cluster}],
                "users": [
                    {
                        "name": "plugin",
                        "user": {
                            "exec": {
                                "apiVersion": "client.authentication.k8s.io/v1",
                                "command": sys.executable,
                                "args": [str(tmp_path / "plugin.py")],
                                "env": [
                                    {"name": "PLUGIN_TOKEN", "value": token},
                                    {"name": "PLUGIN_CALLS", "value": str(calls)},
                                ],
                                "interactiveMode": "Never",
                            }
                        },
                    }
                ],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "plugin"}}],
                "current-context": "x",
            }
        )
    )
    done = runs(str(kubeconfig), namespace)
    assert done.returncode == 0, done.stderr
    assert name in done.stdout
    # One run of the plugin for the whole command: its credential is kept, not re-asked.
    assert calls.read_text().splitlines() == ["client.authentication.k8s.io/v1"]


def test_runs_with_a_merged_two_file_kubeconfig(
    crds: Cluster, namespace: str, tmp_path: Path
) -> None:
    cluster, token = admin(crds)
    name = a_run(crds, namespace)
    first, second = tmp_path / "a" / "contexts.yaml", tmp_path / "b" / "credentials.yaml"
    first.parent.mkdir()
    second.parent.mkdir()
    # The first file names the context and its user, whose token file is relative to the
    # first file; the second has the cluster (its CA inline) and a user of the same name
    # that loses to the first file's.
    (first.parent / "token").write_text(token + "\n")
    first.write_text(
        yaml.safe_dump(
            {
                "contexts": [{"name": "merged", "context": {"cluster": "c", "user": "me"}}],
                "users": [{"name": "me", "user": {"tokenFile": "token"}}],
                "current-context": "merged",
            }
        )
    )
    ca = base64.b64encode(Path(cluster["certificate-authority"]).read_bytes()).decode()
    second.write_text(
        yaml.safe_dump(
            {
                "clusters": [
                    {
                        "name": "c",
                        "cluster": {"server": cluster["server"], "certificate-authority-data": ca},
                    }
                ],
                "users": [{"name": "me", "user": {"token": "not-the-token"}}],
                "current-context": "merged",
            }
        )
    )
    listed = os.pathsep.join([str(tmp_path / "absent.yaml"), str(first), str(second)])
    done = runs(listed, namespace)
    assert done.returncode == 0, done.stderr
    assert name in done.stdout
    swapped = runs(os.pathsep.join([str(second), str(first)]), namespace)
    assert swapped.returncode == 1 and name not in swapped.stdout, swapped.stderr
