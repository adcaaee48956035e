"""What the fault tests share: their flows, playing the kubelet for a Job's pod, and a
watch that times when each FlowRun of a victim namespace appears."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime
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


def project_blocks(cluster: Cluster, job: dict[str, Any], root: Path) -> dict[str, str]:
    """Play the kubelet for the Job's projected block volume: each listed Secret's items
    written under ``root`` (a missing optional Secret leaves its files absent); the
    environment that points the runtime at ``root`` instead of the mount path."""
    namespace = job["metadata"]["namespace"]
    for volume in job["spec"]["template"]["spec"].get("volumes", []):
        for source in (volume.get("projected") or {}).get("sources", []):
            ref = source["secret"]
            found = cluster.kubectl("get", "secret", ref["name"], "-n", namespace, "-o", "json",
                                    check=False)  # fmt: skip
            if found.returncode != 0:
                assert ref.get("optional"), ref
                continue
            data = json.loads(found.stdout)["data"]
            for item in ref["items"]:
                path = root / item["path"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(base64.b64decode(data[item["key"]]))
    return {"BATON_BLOCKS_DIR": str(root)}


def start_pod_command(
    cluster: Cluster,
    job: dict[str, Any],
    log: Path,
    *,
    cwd: Path = FLOWS,
    extra_env: dict[str, str] | None = None,
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
        **(extra_env or {}),
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "baton.cli", "execute"],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


class RunWatch:
    """When each FlowRun of a namespace was first seen, by a ``kubectl get -w``."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.seen: dict[str, tuple[float, str]] = {}
        self._proc = subprocess.Popen(
            [
                str(cluster.kubectl_bin),
                f"--kubeconfig={cluster.kubeconfig}",
                "get",
                "flowruns",
                "-n",
                namespace,
                "-w",
                "-o",
                'jsonpath={.metadata.name} {.spec.scheduledTime}{"\\n"}',
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            parts = line.split()
            if len(parts) == 2 and parts[0] not in self.seen:
                self.seen[parts[0]] = (time.time(), parts[1])

    def skews(self) -> dict[str, float]:
        return {
            name: seen - datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
            for name, (seen, stamp) in self.seen.items()
        }

    def stop(self) -> None:
        self._proc.terminate()
        self._proc.wait(timeout=10)
        self._thread.join(timeout=10)
        assert self._proc.stdout is not None
        self._proc.stdout.close()
