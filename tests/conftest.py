"""Shared fixtures: a real control plane for the integration and e2e tiers.

The session fixture ``cluster`` builds (cached) and starts its own etcd +
kube-apiserver + kube-controller-manager on 127.0.0.1, unless ``KUBECONFIG`` is set
explicitly, in which case it uses that cluster. If the control plane cannot start,
every test that needs it errors: a missing control plane is a failure, never a skip.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clusterkit import ROOT, Cluster, OperatorProcess, controlplane


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    kubectl_bin = ROOT / ".cluster" / "bin" / "kubectl"
    if not kubectl_bin.exists():
        subprocess.run(["bash", str(ROOT / "tests" / "cluster" / "tools.sh")], check=True)
    with controlplane.cluster_kubeconfig(tmp_path_factory.mktemp("controlplane")) as kubeconfig:
        yield Cluster(kubeconfig, kubectl_bin)


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    """A fresh namespace per test, deleted (without waiting) afterwards."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    cluster.kubectl("create", "namespace", name)
    # Pods are refused until the ServiceAccount controller has made "default"; a Job
    # whose first pod was refused backs off for long, so wait for it up front.
    deadline = time.monotonic() + 60
    while (
        cluster.kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode != 0
    ):
        if time.monotonic() > deadline:
            raise AssertionError(f"no default ServiceAccount in {name} after 60 s")
        time.sleep(0.2)
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


@pytest.fixture
def operator(crds: Cluster, namespace: str, tmp_path: Path) -> Iterator[OperatorProcess]:
    """A started operator watching the test's namespace; stopped (and checked) afterwards."""
    process = OperatorProcess(crds, namespace, tmp_path)
    process.start(pod="operator-0")  # further replicas a test starts are other "pods"
    yield process
    process.stop()
    assert "Traceback" not in process.logs(), process.logs()[-5000:]


# --- wall time per tier -----------------------------------------------------------------
_TIER_SECONDS: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Adds each phase (setup, call, teardown) of a test to its tier's total."""
    tier = report.nodeid.split("/")[1] if report.nodeid.startswith("tests/") else "other"
    _TIER_SECONDS[tier] = _TIER_SECONDS.get(tier, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line of seconds per tier (fixtures included), so a log shows where time went."""
    if _TIER_SECONDS:
        parts = ", ".join(f"{tier} {seconds:.0f}s" for tier, seconds in _TIER_SECONDS.items())
        terminalreporter.write_line(f"wall time by tier: {parts}")
