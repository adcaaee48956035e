"""Shared test support: a handle on the test cluster and the operator under test.

A module of its own (not conftest.py) so tests can import it unambiguously.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "cluster"))

import controlplane  # noqa: E402
import node  # noqa: E402, F401  (re-exported for tests/e2e)


@dataclass(frozen=True)
class Cluster:
    """A reachable cluster and the means to talk to it as admin or as the non-admin user."""

    kubeconfig: Path
    kubectl_bin: Path

    def kubectl(
        self,
        *args: str,
        user: str = controlplane.ADMIN_USER,
        stdin: str | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        argv = [str(self.kubectl_bin), f"--kubeconfig={self.kubeconfig}", *args]
        if user != controlplane.ADMIN_USER:
            argv.insert(2, f"--context={user}")
        result = subprocess.run(
            argv, input=stdin, check=False, capture_output=True, text=True, timeout=120
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{result.stderr}")
        return result

    def get_json(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", "-o", "json", *args).stdout)


@dataclass
class NodeCluster:
    """A cluster with a real node (tests/e2e), and the runner namespaces no test has taken."""

    cluster: Cluster
    free_namespaces: list[str]


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each live process, SIGKILL what has not exited 10 s later."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class OperatorProcess:
    """``baton operator`` as a real subprocess against the test cluster."""

    def __init__(
        self, cluster: Cluster, namespace: str, log_dir: Path, *, also: tuple[str, ...] = ()
    ) -> None:
        self.cluster = cluster
        self.namespace = namespace
        #: Every namespace it watches: ``namespace`` and ``also`` (tenants next to the test's).
        self.namespaces = [namespace, *also]
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[bytes]] = []
        #: Short grace periods so lifecycle tests finish quickly (production: 15/30/120 s).
        self.env: dict[str, str] = {
            "BATON_REPORT_GRACE_SECONDS": "3",
            "BATON_CANCEL_GRACE_SECONDS": "6",
            "BATON_STARTUP_TIMEOUT_SECONDS": "4",
            # Leader election (production: 15/10/2 s): replicas hand over in seconds.
            "BATON_LEASE_DURATION_SECONDS": "4",
            "BATON_LEASE_RENEW_DEADLINE_SECONDS": "3",
            "BATON_LEASE_RETRY_PERIOD_SECONDS": "0.5",
        }
        #: Set before ``start()`` to serve /metrics on this port (127.0.0.1 works).
        self.metrics_port: int | None = None

    def start(self, pod: str | None = None) -> subprocess.Popen[bytes]:
        """Start a replica; ``pod`` plays the pod it runs in (its leader identity), so a
        process started again with the same ``pod`` is a container restarted in place."""
        port = controlplane.free_port()
        env = {**os.environ, "KUBECONFIG": str(self.cluster.kubeconfig), **self.env}
        env.pop("POD_NAME", None)
        if pod is not None:
            env["POD_NAME"] = pod
        argv = [
            sys.executable,
            "-m",
            "baton.cli",
            "operator",
            *(arg for ns in self.namespaces for arg in ("-n", ns)),
            f"--liveness=http://127.0.0.1:{port}/healthz",
            *([f"--metrics-port={self.metrics_port}"] if self.metrics_port else []),
        ]
        with open(self.log_dir / f"operator-{len(self.procs)}.log", "wb") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.procs.append(proc)
        return proc

    def kill9(self, proc: subprocess.Popen[bytes] | None = None) -> None:
        proc = proc or self.procs[-1]
        proc.kill()
        proc.wait(timeout=10)

    def stop(self) -> None:
        stop_all(self.procs)

    def logs(self) -> str:
        return "\n".join(
            p.read_text(errors="replace") for p in sorted(self.log_dir.glob("operator-*.log"))
        )
