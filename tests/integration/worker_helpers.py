"""Helpers for the worker, CLI and demo tests: the `baton` CLI and workers as real processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import kube_helpers
from clusterkit import ROOT, Cluster
from kube_helpers import run_status, wait_for

__all__ = ["run_status", "wait_for"]  # re-exported: the worker tests' one import line

FLOWS = Path(__file__).parent / "flows"
EXAMPLES = ROOT / "examples"


def env_for(cluster: Cluster, **extra: str) -> dict[str, str]:
    return {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "PYTHONUNBUFFERED": "1", **extra}


def baton(
    cluster: Cluster,
    *args: str,
    cwd: Path = ROOT,
    check: bool = True,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run the `baton` CLI as a user would; fail with its stderr if it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "baton.cli", *args],
        cwd=cwd,
        env=env_for(cluster),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"baton {' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
        )
    return done


def apply(cluster: Cluster, namespace: str, *objects: dict[str, Any]) -> None:
    """Apply Baton objects given without their apiVersion."""
    kube_helpers.apply(
        cluster, namespace, *({"apiVersion": "baton.dev/v1alpha1", **o} for o in objects)
    )


def process_pool(name: str, **spec: Any) -> dict[str, Any]:
    return {"kind": "WorkPool", "metadata": {"name": name}, "spec": {"type": "process", **spec}}


def flow(name: str, entrypoint: str) -> dict[str, Any]:
    return {
        "kind": "Flow",
        "metadata": {"name": name},
        "spec": {"image": "local", "entrypoint": entrypoint},
    }


def adhoc_run(name: str, flow_name: str, pool: str, **parameters: Any) -> dict[str, Any]:
    return {
        "kind": "FlowRun",
        "metadata": {"name": name},
        "spec": {
            "flowRef": {"name": flow_name},
            "workPoolRef": {"name": pool},
            "parameters": parameters,
        },
    }


def runs(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    return list(cluster.get_json("flowruns", "-n", namespace)["items"])


class WorkerProcess:
    """`baton worker start` as a real subprocess with its console in a log file."""

    def __init__(
        self,
        cluster: Cluster,
        namespace: str,
        pool: str,
        log_dir: Path,
        *,
        work_dir: Path = FLOWS,
        extra: tuple[str, ...] = (),
        tag: str = "worker",
    ) -> None:
        self.console = log_dir / f"{tag}-console.log"
        self.run_logs = log_dir / "runs"
        argv = [
            sys.executable,
            "-m",
            "baton.cli",
            "worker",
            "start",
            "-p",
            pool,
            "-n",
            namespace,
            "--work-dir",
            str(work_dir),
            "--log-dir",
            str(self.run_logs),
            "--heartbeat-seconds",
            "1",
            *extra,
        ]
        with open(self.console, "wb") as out:
            self.proc = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, env=env_for(cluster)
            )
        self.name = wait_for(self._name, 30, "the worker to start")

    def _name(self) -> str | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"worker exited {self.proc.returncode}:\n{self.output()}")
        match = re.search(r"worker (\S+): serving work pool", self.output())
        return match[1] if match else None

    def output(self) -> str:
        return self.console.read_text(errors="replace") if self.console.exists() else ""

    def child_pids(self) -> list[int]:
        return [int(p) for p in re.findall(r"started as pid (\d+)", self.output())]

    def signal(self, signum: signal.Signals) -> None:
        self.proc.send_signal(signum)

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as dead.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False
