"""Shared fixtures: a real control plane for the integration and e2e tiers.

The session fixture ``cluster`` builds (cached) and starts its own etcd +
kube-apiserver + kube-controller-manager on 127.0.0.1, unless ``KUBECONFIG`` is set
explicitly, in which case it uses that cluster. If the control plane cannot start,
every test that needs it errors: a missing control plane is a failure, never a skip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "cluster"))

import controlplane  # noqa: E402


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


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    kubectl_bin = ROOT / ".cluster" / "bin" / "kubectl"
    if not kubectl_bin.exists():
        subprocess.run(["bash", str(ROOT / "tests" / "cluster" / "tools.sh")], check=True)
    explicit = os.environ.get("KUBECONFIG")
    if explicit:
        yield Cluster(Path(explicit), kubectl_bin)
        return
    plane = controlplane.ControlPlane(workdir=tmp_path_factory.mktemp("controlplane"))
    plane.start(controlplane.build())
    try:
        yield Cluster(plane.kubeconfig, kubectl_bin)
    finally:
        plane.stop()


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    """A fresh namespace per test, deleted (without waiting) afterwards."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="session")
def crds(cluster: Cluster) -> Cluster:
    """The CRDs from crds/ applied (as users do) and Established."""
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    cluster.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s", "-f", str(ROOT / "crds")
    )
    return cluster


class OperatorProcess:
    """``baton operator`` as a real subprocess against the test cluster."""

    def __init__(self, cluster: Cluster, namespace: str, log_dir: Path) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[bytes]] = []
        #: Short grace periods so lifecycle tests finish quickly (production: 15/30/120 s).
        self.env: dict[str, str] = {
            "BATON_REPORT_GRACE_SECONDS": "3",
            "BATON_CANCEL_GRACE_SECONDS": "6",
            "BATON_IMAGE_PULL_TIMEOUT_SECONDS": "4",
        }

    def start(self) -> subprocess.Popen[bytes]:
        port = controlplane.free_port()
        env = {**os.environ, "KUBECONFIG": str(self.cluster.kubeconfig), **self.env}
        argv = [
            sys.executable,
            "-m",
            "baton.cli",
            "operator",
            "-n",
            self.namespace,
            f"--liveness=http://127.0.0.1:{port}/healthz",
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
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    def logs(self) -> str:
        return "\n".join(
            p.read_text(errors="replace") for p in sorted(self.log_dir.glob("operator-*.log"))
        )


@pytest.fixture
def operator(crds: Cluster, namespace: str, tmp_path: Path) -> Iterator[OperatorProcess]:
    """A started operator watching the test's namespace; stopped (and checked) afterwards."""
    process = OperatorProcess(crds, namespace, tmp_path)
    process.start()
    yield process
    process.stop()
    assert "Traceback" not in process.logs(), process.logs()[-5000:]
