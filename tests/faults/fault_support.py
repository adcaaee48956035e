"""What the fault tests share: their flows, and playing the kubelet for a Job's pod."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from clusterkit import Cluster

FLOWS = Path(__file__).resolve().parent / "flows"


def job_environment(cluster: Cluster, job: dict[str, Any]) -> dict[str, str]:
    """The flow container's environment as the kubelet resolves it, Secrets included."""
    env: dict[str, str] = {}
    namespace = job["metadata"]["namespace"]
    for var in job["spec"]["template"]["spec"]["containers"][0].get("env", []):
        if "valueFrom" not in var:  # an empty value is omitted from the stored Job
            env[var["name"]] = var.get("value", "")
            continue
        ref = var["valueFrom"]["secretKeyRef"]
        secret = cluster.get_json("secret", ref["name"], "-n", namespace)
        env[var["name"]] = base64.b64decode(secret["data"][ref["key"]]).decode()
    return env


def start_pod_command(
    cluster: Cluster, job: dict[str, Any], log: Path, *, cwd: Path = FLOWS
) -> subprocess.Popen[bytes]:
    """Play the kubelet: the Job's command (``baton execute``) as a local process with
    the container's environment, its output in ``log``."""
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["baton", "execute"], container["command"]
    env = {
        **os.environ,
        **job_environment(cluster, job),
        "KUBECONFIG": str(cluster.kubeconfig),
        "BATON_CACHE_DIR": "/nonexistent",  # the cache must be the cluster's
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "baton.cli", "execute"],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
